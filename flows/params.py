"""Flow parameters: pydantic models, so the Prefect UI renders a validated, described form."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IngestFilesParams(BaseModel):
    """What one `ingest-files` run reads and how it batches the work."""

    inbox: list[str] = Field(
        default_factory=lambda: ["seeds"],
        min_length=1,
        description="Directories or glob patterns of article files (.txt, .html, .jsonl). "
        "Relative paths are taken from the working directory of the run.",
    )
    batch_size: int = Field(
        500, ge=1, le=20_000,
        description="Files per batch: each batch is parsed, tagged and loaded in one transaction.",
    )


class IngestUrlsParams(BaseModel):
    """What one `ingest-urls` run fetches and how it batches the work."""

    urls: list[str] = Field(
        default_factory=list, description="Article URLs to fetch (http or https)."
    )
    url_file: str | None = Field(
        None, description="A text file of article URLs, one per line ('#' starts a comment)."
    )
    feeds: list[str] = Field(
        default_factory=list, description="RSS or Atom feed URLs whose items are fetched."
    )
    sitemaps: list[str] = Field(
        default_factory=list,
        description="Sitemap URLs (plain, index or Google News sitemaps) whose pages are fetched.",
    )
    batch_size: int = Field(
        100, ge=1, le=5_000,
        description="Pages per batch: each batch is fetched, extracted, tagged and loaded in one "
        "transaction.",
    )
