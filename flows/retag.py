"""The retag-entities flow: re-tag stored documents with the current models and alias table."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from tasks.entities import retag_stage, sync_aliases_stage
from tasks.report import begin_run_stage, finish_maintenance_stage, publish_snapshot_stage
from warehouse.lock import hold_warehouse


class RetagParams(BaseModel):
    """How the re-tagging pages through the stored documents."""

    batch_size: int = Field(1000, ge=1, le=100_000,
                            description="Documents tagged per step (one nlp.pipe call each).")


@flow(name="retag-entities")
def retag_entities(params: RetagParams = RetagParams()) -> int:
    """Replace every document's mentions with those of the tagger the settings now name."""
    with hold_warehouse(str(flow_run.id)):
        run_id = begin_run_stage("retag-entities", params.model_dump())
        sync_aliases_stage()
        written = retag_stage(params.batch_size)
        finish_maintenance_stage(run_id, {"mentions_new": written})
        publish_snapshot_stage()
        return written
