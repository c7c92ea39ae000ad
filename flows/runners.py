"""The task runner the settings choose for the heavy, pure stages."""

from __future__ import annotations

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from warehouse.settings import Settings, get_settings


def task_runner(settings: Settings | None = None) -> TaskRunner:
    """Threads (the default: one batch at a time), a process pool, or Dask."""
    settings = settings or get_settings()
    if settings.task_runner == "processes":
        return ProcessPoolTaskRunner(max_workers=settings.workers)
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={
            "n_workers": settings.workers, "threads_per_worker": 1, "processes": True,
            "dashboard_address": None})
    # One thread: spaCy pipelines are not shared between threads safely.
    return ThreadPoolTaskRunner(max_workers=1)


def batches_in_flight(settings: Settings | None = None) -> int:
    """How many batches are analysed ahead of the single writer."""
    settings = settings or get_settings()
    return 1 if settings.task_runner == "threads" else max(2, settings.workers)
