"""Talking to Prefect from the terminal: the flows-side half of `corpus run` and `corpus serve`.

Everything here that needs Prefect's client, settings or schemas imports it inside the function,
so importing this module stays cheap (`corpus --help` never loads Prefect) and the `corpus`
command can set Prefect's environment defaults before Prefect reads them. The CLI (cli/) never
imports Prefect itself: it calls these functions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any


def ui_url(api_url: str) -> str:
    """The UI lives at the API address without its `/api` suffix."""
    return api_url.rstrip("/").removesuffix("/api")


def describe_schedule(schedule: Any) -> str:
    """'every 15 min', 'cron 0 * * * *', … for one Prefect schedule object."""
    interval = getattr(schedule, "interval", None)
    if isinstance(interval, timedelta):
        seconds = int(interval.total_seconds())
        if seconds % 3600 == 0:
            return f"every {seconds // 3600} h"
        return f"every {seconds // 60} min" if seconds % 60 == 0 else f"every {seconds} s"
    for kind in ("cron", "rrule"):
        if getattr(schedule, kind, None):
            return f"{kind} {getattr(schedule, kind)}"
    return "scheduled"


@dataclass(frozen=True)
class DeploymentLine:
    """One deployment as the status lines show it."""

    name: str  # flow/deployment
    schedules: tuple[str, ...]
    url: str

    def render(self) -> str:
        when = ", ".join(self.schedules) or "no schedule (run it from the UI)"
        return f"  {self.name:<40} {when:<24} {self.url}"


def use_local_prefect() -> None:
    """Before a flow runs from the terminal with no server named in PREFECT_API_URL: start
    Prefect's temporary server now, one process at a time per PREFECT_HOME, so that two first
    runs never migrate Prefect's own database at once. (The CLI first points PREFECT_API_URL at
    a `corpus serve` server when one answers, so its runs show in that UI.)"""
    import fcntl

    if os.environ.get("PREFECT_API_URL"):
        return
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_HOME

    home = Path(PREFECT_HOME.value()).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".corpusflow-server-start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        with get_client(sync_client=True) as client:  # starts (and migrates) the server
            client.api_healthcheck()


@contextmanager
def terminal_run() -> Iterator[None]:
    """Around a flow run started in this thread from the terminal (or a script): when it reports
    to Prefect's temporary server (no PREFECT_API_URL), without flow-run heartbeats. They are
    for a standing server's automations to notice a run that died; the temporary server ends
    with the process, and the heartbeat thread, which sleeps a second at a time and is joined
    when the run ends, held up the end of every run by half a second on average."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@contextmanager
def prefect_client(api_url: str) -> Iterator[Any]:
    """A synchronous Prefect client pointed at `api_url`, whatever this process's settings say."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        yield client


def import_client() -> None:
    """Import what talking to the server needs (prefect's client, ≈ 3 s on 2 cores)."""
    import prefect.client.orchestration
    import prefect.workers.process  # noqa: F401


def ensure_work_pool(api_url: str, pool: str) -> bool:
    """Create the process work pool unless it exists; True when it was created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with prefect_client(api_url) as client:
        try:
            client.read_work_pool(pool)
            return False
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(
                # One run at a time on the pool: every deployment writes the same warehouse.
                WorkPoolCreate(name=pool, type="process", base_job_template=template,
                               concurrency_limit=1)
            )
            return True


def deployment_lines(api_url: str, pool: str) -> list[DeploymentLine]:
    """The deployments that run on `pool`, for the status lines."""
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    with prefect_client(api_url) as client:
        deployments = client.read_deployments(
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool]))
        )
        flows = {d.flow_id: client.read_flow(d.flow_id).name for d in deployments}
    lines = [
        DeploymentLine(
            name=f"{flows[d.flow_id]}/{d.name}",
            schedules=tuple(describe_schedule(s.schedule) for s in d.schedules if s.active),
            url=f"{ui_url(api_url)}/deployments/deployment/{d.id}",
        )
        for d in deployments
    ]
    return sorted(lines, key=lambda line: line.name)
