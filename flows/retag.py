"""The retag-entities flow: re-tag stored documents with the current models and alias table."""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel, Field

from flows.pipeline import finish_maintenance, warehouse_run
from flows.runners import tagging_workers
from tasks.entities import retag_stage
from warehouse.settings import Settings, get_settings


class RetagParams(BaseModel):
    """How the re-tagging pages through the stored documents."""

    batch_size: int = Field(1000, ge=1, le=100_000,
                            description="Documents tagged per step (one nlp.pipe call each).")


@flow(name="retag-entities")
def retag_entities(params: RetagParams = RetagParams(), settings: Settings | None = None) -> int:
    """Replace every document's mentions with those of the tagger the settings now name."""
    settings = settings or get_settings()
    with warehouse_run("retag-entities", params, settings) as run:
        written = retag_stage(run.session, params.batch_size, settings.entities,
                              tagging_workers(settings.runners))
        finish_maintenance(run, {"mentions_new": written})
        return written
