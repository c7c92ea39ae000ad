"""The task runner the settings choose for the heavy, pure stages."""

from __future__ import annotations

import os
from typing import Any

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.settings import get_current_settings
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import opaque

from warehouse.settings import RunnerSettings


def task_runner(settings: RunnerSettings) -> TaskRunner:
    """Threads (the default: one batch at a time), a process pool, or Dask."""
    if settings.task_runner == "processes":
        return ProcessPoolTaskRunner(max_workers=settings.workers)
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={
            "n_workers": settings.workers, "threads_per_worker": 1, "processes": True,
            "dashboard_address": None})
    # With a tagging pool, a second thread cleans and detects the language of the next batch
    # while the first waits on the pool for this batch's entities: the pool never waits for
    # them. Without one, one thread (the tagger takes one caller at a time anyway).
    return ThreadPoolTaskRunner(max_workers=2 if (settings.workers or 1) > 1 else 1)


def unwalked(value: Any, settings: RunnerSettings) -> Any:
    """A task input that Prefect resolves (a future becomes its result) without walking through
    it object by object looking for futures: `opaque`, which saves about 1 s of the flow's CPU
    per BBC run, taken from the taggers. Under Dask the input stays plain: Dask takes the
    annotation for a tuple of its own and hands the task a tuple."""
    return value if settings.task_runner == "dask" else opaque(value)


def batches_in_flight(settings: RunnerSettings) -> int:
    """How many batches are being analysed or written at once: under 'threads' with a tagging
    pool, the next batch is read, cleaned and tagged while the single writer loads the last."""
    workers = settings.workers or 1
    if settings.task_runner == "threads":
        return 2 if workers > 1 else 1
    return max(2, workers)


def tagging_workers(settings: RunnerSettings) -> int:
    """Processes tagging one batch's entities: the pool of tasks/pool.py under 'threads'; a
    process or Dask worker tags its batch alone (the runner spreads the batches)."""
    return (settings.workers or 1) if settings.task_runner == "threads" else 1


def share_server_with_workers(settings: RunnerSettings) -> None:
    """Give worker processes the address of the Prefect server this flow run reports to.

    Workers inherit the environment and Prefect's settings, but not the temporary server that a
    flow run outside a server starts (`corpus run`): without its address each worker started a
    server of its own (about 230 MB and 5 s each) and reported its task runs there. Called at
    the start of a flow, before the first task is submitted; the temporary server lives as long
    as this process."""
    if settings.task_runner == "threads" or get_current_settings().api.url:
        return
    os.environ["PREFECT_API_URL"] = str(get_client(sync_client=True).api_url)


def forget_loaded_results() -> None:
    """Drop the flow run's links from task results to their task runs once a batch is loaded.

    Prefect keeps, for the whole flow run, a copy of a task run's state for every element of
    every list a task returned (about 1 KB each), so that a result passed on by hand can be
    traced to its task. Three stages return a list per document: a 100,000-file run held
    300,000 of them, and the flow process grew with the corpus. A loaded batch's results are
    never passed on again, so the links can go."""
    context = FlowRunContext.get()
    if context is not None:
        context.run_results.clear()
