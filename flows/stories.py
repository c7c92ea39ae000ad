"""The regroup-stories flow: group every stored document into stories again, with the current
story settings (after a change of threshold or window), without re-ingesting anything."""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel

from flows.pipeline import finish_maintenance, warehouse_run
from tasks.stories import regroup_stage
from warehouse.settings import Settings, get_settings, without_workers


class RegroupParams(BaseModel):
    """Regrouping takes no parameters of its own: the story settings say how to group."""


@flow(name="regroup-stories")
def regroup_stories(params: RegroupParams = RegroupParams(), settings: Settings | None = None
                    ) -> int:
    """Drop every story and group the stored documents again, in one transaction."""
    settings = without_workers(settings or get_settings())
    with warehouse_run("regroup-stories", params, settings) as run:
        stories = regroup_stage(run.session, run.run_id, settings.stories)
        finish_maintenance(run, {"stories": stories})
        return stories
