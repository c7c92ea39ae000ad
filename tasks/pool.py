"""Every core for the heavy pure stages: a pool of worker processes that lives as long as the
process running flows, shared by its runs.

A batch's documents are cut into contiguous chunks of about equal text length, each chunk goes
to a worker, and the results come back in document order, so a run gives the same rows with any
number of workers (tests/test_parallel.py). Workers are started with `spawn` (the flow's process
has Prefect's threads running, which `fork` would copy half-way); each loads what it runs on its
first chunk and keeps it (about 270 MB for the two entity models). One worker means no pool: the
work runs in the caller's process, as it always did.
"""

from __future__ import annotations

import importlib
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")



@dataclass(frozen=True)
class ByName:
    """A module-level function named by its module and name, imported where it is called. A
    pickled function makes its caller import its module; this makes only the process that runs
    it import it (the flow's process hands texts to workers that tag them, and need not load
    spaCy itself)."""

    module: str
    name: str

    def __call__(self, *args: Any) -> Any:
        return getattr(importlib.import_module(self.module), self.name)(*args)


_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_size = 0


def chunks(items: Sequence[Item], parts: int, weight: Callable[[Item], int]
           ) -> list[list[Item]]:
    """`items` cut, in order, into at most `parts` runs of about equal total weight."""
    total = sum(weight(item) for item in items) or 1
    found: list[list[Item]] = [[]]
    done = 0
    for item in items:
        if found[-1] and done >= total * len(found) / parts and len(found) < parts:
            found.append([])
        found[-1].append(item)
        done += weight(item)
    return [chunk for chunk in found if chunk]


def _executor(workers: int) -> ProcessPoolExecutor:
    global _pool, _size
    with _lock:
        if _pool is None or _size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(max_workers=workers,
                                        mp_context=multiprocessing.get_context("spawn"))
            _size = workers
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


# Less work than this (total weight: characters of text) runs in the caller's process: starting
# the workers takes seconds (the seeds, ten articles, tag in well under one).
MIN_POOLED_WEIGHT = 100_000


def map_chunks(work: Callable[..., list[Result]] | ByName, items: Sequence[Item], workers: int,
               weight: Callable[[Item], int], *args: Any) -> list[Result]:
    """`work(chunk, *args)` over chunks of `items` on `workers` processes, the results joined in
    item order; `work` must return one list per chunk and be importable by the workers (a
    module-level function, or its ByName). A worker that dies (killed for memory, say) fails this call and the
    pool is replaced for the next one."""
    if (workers <= 1 or len(items) < 2
            or (_pool is None and sum(map(weight, items)) < MIN_POOLED_WEIGHT)):
        return work(list(items), *args)
    pool = _executor(workers)
    try:
        futures = [pool.submit(work, chunk, *args)
                   for chunk in chunks(items, workers * 2, weight)]
        return [result for future in futures for result in future.result()]
    except BrokenProcessPool as error:
        _discard(pool)
        raise BrokenProcessPool(
            f"{error} A tagging worker died: killed for memory (lower CORPUSFLOW_WORKERS or"
            " raise CORPUSFLOW_MEMORY_BUDGET_MB), or, in a script of your own that runs a flow,"
            " the call is not under `if __name__ == \"__main__\":` (each worker imports the"
            " script again; its error is above)") from error


def worker_pids() -> list[int]:
    """The process ids of the pool's workers (none before the first pooled call)."""
    with _lock:
        processes = getattr(_pool, "_processes", None) or {}
        return sorted(processes)


def shutdown() -> None:
    """Stop the workers (tests; the pool otherwise ends with the process)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
