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
