"""The recompute-near-duplicates flow: re-cluster stored documents with the current settings."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from tasks.near_dup import recompute_stage
from tasks.report import begin_run_stage, finish_maintenance_stage, publish_snapshot_stage
from warehouse.lock import hold_warehouse


class RecomputeParams(BaseModel):
    """How the recomputation pages through the stored documents."""

    batch_size: int = Field(2000, ge=100, le=100_000,
                            description="Documents hashed and matched per step.")


@flow(name="recompute-near-duplicates")
def recompute_near_duplicates(params: RecomputeParams = RecomputeParams()) -> int:
    """Drop and recompute every near-duplicate finding without re-ingesting anything."""
    with hold_warehouse(str(flow_run.id)):
        run_id = begin_run_stage("recompute-near-duplicates", params.model_dump())
        found = recompute_stage(run_id, params.batch_size)
        finish_maintenance_stage(run_id, {"duplicates_new": found})
        publish_snapshot_stage()
        return found
