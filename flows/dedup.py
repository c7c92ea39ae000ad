"""The recompute-near-duplicates flow: re-cluster stored documents with the current settings."""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel, Field

from flows.pipeline import finish_maintenance, warehouse_run
from tasks.near_dup import recompute_stage
from warehouse.settings import Settings, get_settings


class RecomputeParams(BaseModel):
    """How the recomputation pages through the stored documents."""

    batch_size: int = Field(2000, ge=100, le=100_000,
                            description="Documents hashed and matched per step.")


@flow(name="recompute-near-duplicates")
def recompute_near_duplicates(
    params: RecomputeParams = RecomputeParams(), settings: Settings | None = None
) -> int:
    """Drop and recompute every near-duplicate finding without re-ingesting anything."""
    settings = settings or get_settings()
    with warehouse_run("recompute-near-duplicates", params, settings) as run:
        found = recompute_stage(run.session, run.run_id, params.batch_size, settings.dedup)
        finish_maintenance(run, {"duplicates_new": found})
        return found
