"""Settings describe the environment (paths, models, thresholds); flow parameters describe a run."""

from __future__ import annotations

from pathlib import Path

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
    language_min_letters: int = Field(
        30, description="Texts with fewer letters than this get language 'und'."
    )
    language_min_prob: float = Field(
        0.80, description="Top langdetect probability below which the language is 'und'."
    )
    ner_models: dict[str, str] = Field(
        default_factory=dict,
        description="spaCy package or path per language code, e.g. {\"en\": \"en_core_web_sm\"}; "
        "a missing one falls back to the bundled gazetteer tagger.",
    )
    near_duplicates: dict[str, float] = Field(
        default_factory=lambda: {"shingle_size": 5, "num_perm": 128, "bands": 32, "threshold": 0.6},
        description="Near-duplicate detection: word shingle size, MinHash permutations, LSH "
        "bands (num_perm must divide by it) and the Jaccard threshold a candidate must reach. "
        "After changing them, `corpus dedup` recomputes the clusters.",
    )
    max_file_bytes: int = Field(
        50_000_000, description="Files larger than this are rejected as too_large."
    )


def get_settings() -> Settings:
    """Fresh settings from the environment (no caching: tests change the environment)."""
    return Settings()
