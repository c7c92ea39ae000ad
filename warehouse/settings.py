"""Settings describe the environment (paths, models, thresholds); flow parameters describe a run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """corpusflow's settings, read from `CORPUSFLOW_*` environment variables (or a `.env` file)."""

    model_config = SettingsConfigDict(env_prefix="CORPUSFLOW_", env_file=".env", extra="ignore")

    db_path: Path = Field(
        Path("data/corpus.duckdb"), description="The DuckDB warehouse file (created if missing)."
    )
    inbox: list[str] = Field(
        ["seeds"], description="Default inbox: directories or globs of article files."
    )
    lock_timeout_s: float = Field(
        120.0, description="How long a writer waits for a locked warehouse file before failing."
    )
    duckdb_memory_limit: str = Field(
        "500MB",
        description="DuckDB's memory limit per connection (its default is 80% of the machine's "
        "memory, which its page cache fills as the warehouse grows); larger sorts and joins "
        "spill to disk.",
    )
    language_min_letters: int = Field(
        30, description="Texts with fewer letters than this get language 'und'."
    )
    language_min_prob: float = Field(
        0.80, description="Top langdetect probability below which the language is 'und'."
    )
    ner_models: dict[str, str] = Field(
        default_factory=dict,
        description="spaCy package or path per language code, e.g. {\"en\": \"en_core_web_sm\"}; "
        "a missing one falls back to the bundled model (tasks/models/<lang>) and gazetteer.",
    )
    near_duplicates: dict[str, float] = Field(
        default_factory=lambda: {"shingle_size": 5, "num_perm": 128, "bands": 32, "threshold": 0.6},
        description="Near-duplicate detection: word shingle size, MinHash permutations, LSH "
        "bands (num_perm must divide by it) and the Jaccard threshold a candidate must reach. "
        "After changing them, `corpus dedup` recomputes the clusters.",
    )
    alias_file: Path | None = Field(
        None,
        description="A JSON Lines file of entity aliases, one {\"alias\", \"key\"[, \"label\", "
        "\"language\"]} per line, loaded into entity_aliases at every run (SQL rows win).",
    )
    max_file_bytes: int = Field(
        50_000_000, description="Files larger than this are rejected as too_large."
    )
    # --- where the heavy stages run -----------------------------------------------------------
    task_runner: Literal["threads", "processes", "dask"] = Field(
        "threads",
        description="Where parsing, cleaning, language and entity tagging run: 'threads' (one "
        "batch at a time, in the flow's process), 'processes' (a local pool of `workers`) or "
        "'dask' (a Dask cluster: `dask_address`, or a local one of `workers`). The warehouse is "
        "always written by the flow's own process, one batch at a time.",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1,
        description="Worker processes for 'processes' and for a local Dask cluster; also how "
        "many batches are analysed at once.",
    )
    dask_address: str | None = Field(
        None, description="Address of an existing Dask scheduler (e.g. tcp://10.0.0.5:8786)."
    )
    # --- the web ---------------------------------------------------------------------------
    contact: str = Field(
        "mailto:corpusflow@example.org",
        description="How site operators reach you; sent in the User-Agent. Set it to yours.",
    )
    per_host_interval_s: float = Field(
        1.0, ge=0, description="Minimum seconds between two requests to one host "
        "(a robots.txt Crawl-delay, when longer, wins)."
    )
    per_host_concurrency: int = Field(1, ge=1, description="Requests in flight to one host.")
    fetch_timeout_s: float = Field(
        30.0, gt=0, description="Deadline for one HTTP exchange (connect, headers and body)."
    )
    connect_timeout_s: float = Field(5.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(10.0, gt=0, description="Longest silence while reading.")
    max_fetch_bytes: int = Field(
        5_000_000, ge=1, description="Response bodies larger than this are rejected as too_large."
    )
    max_redirects: int = Field(5, ge=0, description="Redirects followed per URL.")
    max_retries: int = Field(2, ge=0, description="Retries of 408/429/5xx answers per URL.")
    allowed_networks: list[str] = Field(
        default_factory=list,
        description="Private or loopback hosts/networks that may be fetched anyway "
        "(e.g. [\"127.0.0.1\"]); all others are refused.",
    )
    max_urls_per_run: int = Field(1000, ge=0, description="Article URLs fetched per run.")
    extraction_timeout_s: float = Field(
        10.0, gt=0, description="Deadline for extracting one page (the worker is replaced)."
    )
    archive_dir: Path = Field(
        Path("data/archive"),
        description="Where fetched bodies are kept, compressed and content-addressed.",
    )


def get_settings() -> Settings:
    """Fresh settings from the environment (no caching: tests change the environment)."""
    return Settings()
