"""What a run tells the Prefect server besides its task states: the report as an artifact, the
stage timings read back for the report, and earlier runs the warehouse found dead marked Crashed.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.futures import PrefectFuture
from prefect.states import Crashed

from tasks.report import RunReport, render_markdown


class TaskRuns:
    """The task runs of a flow run that its process knows it started: the ids of submitted
    ones (their futures carry them) and how many of each task it called in-process (a direct
    call returns no id)."""

    def __init__(self) -> None:
        self.ids: set[UUID] = set()
        self.calls: Counter[str] = Counter()

    def submitted(self, *futures: Any) -> None:
        self.ids.update(f.task_run_id for f in futures if isinstance(f, PrefectFuture))

    def called(self, task_name: str) -> None:
        self.calls[task_name] += 1

    def recorded(self, finished: list) -> bool:
        """Whether the server's finished task runs include every one of these."""
        names = Counter(run.name.rsplit("-", 1)[0] for run in finished)
        return (self.ids <= {run.id for run in finished}
                and all(names[name] >= count for name, count in self.calls.items()))


def task_run_times(flow_run_id: str, awaited: TaskRuns | None = None, wait_s: float = 30.0
                   ) -> list[tuple[str, float]]:
    """(name, run time) of this flow run's task runs so far, as the Prefect API records them.
    The server records a task run from events it receives asynchronously, so the last ones
    (the last batch's load, typically) can be missing or unfinished for a moment after they
    ended: wait up to `wait_s` for every task run in `awaited` to be recorded finished, then
    take what is there (the figures are informational). Counting Prefect's dynamic keys instead
    missed the in-process stages (their keys are not counted), and under a 2-core load the
    seeds' report lost its last load record."""
    deadline = time.monotonic() + wait_s
    pause = 0.05  # the server is usually a few tenths of a second behind: look again soon
    while True:
        runs = _task_runs(flow_run_id)
        # A task whose input failed stays Pending, named NotReady, for good.
        finished = [run for run in runs if run.state_name == "NotReady" or (
            run.state_type and run.state_type.value in (
                "COMPLETED", "FAILED", "CRASHED", "CANCELLED"))]
        if awaited is None or awaited.recorded(finished) or time.monotonic() > deadline:
            return [(run.name, run.total_run_time.total_seconds()) for run in runs]
        time.sleep(pause)
        pause = min(pause * 2, 0.5)  # then gently: several runs may share a busy server


def _task_runs(flow_run_id: str) -> list:
    found, offset = [], 0
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                limit=200, offset=offset)
            found += runs
            if len(runs) < 200:
                return found
            offset += 200


def mark_crashed(flow_run_ids: list[str]) -> None:
    """Set runs the warehouse found stale to Crashed on the Prefect server too, where it still
    shows them running (a run killed with SIGKILL never reports its end)."""
    for flow_run_id in flow_run_ids:
        try:
            with get_client(sync_client=True) as client:
                if client.read_flow_run(flow_run_id).state_type.value in ("RUNNING", "PENDING"):
                    client.set_flow_run_state(
                        flow_run_id,
                        Crashed(message="killed: found stale by a later corpusflow run"),
                        force=True)
        except Exception as error:  # another server's run, or none: the warehouse row counts
            get_run_logger().info("could not mark flow run %s crashed in Prefect: %s",
                                  flow_run_id, error)


def publish_report_artifact(report: RunReport) -> None:
    """The report as a Markdown artifact. Called from the flow itself (not inside a task), so
    that the artifact belongs to the flow run and shows on its Artifacts tab."""
    create_markdown_artifact(render_markdown(report), key="corpusflow-run-report",
                             description="corpusflow run report")
