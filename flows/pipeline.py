"""The part of every ingest run that does not depend on where documents come from.

A run opens the warehouse session (run lock, one connection), records itself and syncs the
alias file; each batch of read outcomes then goes clean → language → entities (pure stages, on
the task runner) → exact dedup → near dedup → stories → load (the session, in this process, one
batch at a time, in order); a batch that fails is split until the failing input is alone and
rejected;
the run ends with its report and the analysts' snapshot. Files and URLs differ
only in the stages before this: ingest_files.py and ingest_urls.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.utilities.annotations import opaque
from pydantic import BaseModel

from flows.prefect_records import TaskRuns, mark_crashed, publish_report_artifact, task_run_times
from flows.runners import (
    batches_in_flight, forget_loaded_results, tagging_workers, unwalked,
)
from tasks.clean import clean_stage
from tasks.dedup import dedup_stage
from tasks.entities import TextClaims, entities_stage, sync_aliases_stage
from tasks.language import language_stage
from tasks.load import load_stage, reject_input_stage
from tasks.near_dup import near_dup_stage
from tasks.records import Tagged
from tasks.report import (
    RunReport, begin_run_stage, finish_maintenance_stage, publish_snapshot_stage, report_stage,
)
from tasks.stories import story_stage
from tasks.urls import redact_parameters
from warehouse.session import Warehouse, is_disk_full, is_fatal, open_warehouse
from warehouse.settings import Settings


@dataclass
class Run:
    """One writing run: its warehouse session, its id and its settings."""

    session: Warehouse
    run_id: str
    settings: Settings
    # The task runs the report waits for the server to have recorded (flows/prefect_records.py):
    # the pure stages' task run ids, and how many of each warehouse stage this process ran.
    awaited: TaskRuns = field(default_factory=TaskRuns)
    # The texts its batches have tagged (threads runner only: other runners' tasks do not share
    # this process's memory).
    claims: TextClaims | None = None


@contextmanager
def warehouse_run(flow_name: str, params: BaseModel, settings: Settings) -> Iterator[Run]:
    """Hold the warehouse for the whole run (another run waits), record the run as started
    (marking runs that died without ending `crashed`) and load the alias file."""
    run_id = str(flow_run.id)
    with open_warehouse(settings.warehouse, run_id) as session:
        mark_crashed(begin_run_stage(session, run_id, flow_name,
                                     redact_parameters(params.model_dump())))
        sync_aliases_stage(session, settings.entities)
        yield Run(session, run_id, settings, claims=TextClaims()
                  if settings.runners.task_runner == "threads" else None)


Read = Callable[[list[Any]], PrefectFuture]  # a batch of inputs → its (Candidate, Outcome) pairs


def ingest(run: Run, batches: Iterable[list[Any]], read: Read, read_stage: str) -> None:
    """Every batch through the pure stages (on the task runner, up to `batches_in_flight`
    batches ahead) and then, in order, through the warehouse stages. A batch that fails in a
    stage is split until the failing input is alone; that input becomes a reject with the stage
    and the error (`read_stage` names the flow's own first stage), and the others load."""
    in_flight: deque[tuple[list[Any], tuple[Any, ...]]] = deque()
    for batch in batches:
        in_flight.append((batch, analyse(read(batch), run)))
        if len(in_flight) >= batches_in_flight(run.settings.runners):
            _write_or_isolate(run, read, read_stage, *in_flight.popleft())
    while in_flight:
        _write_or_isolate(run, read, read_stage, *in_flight.popleft())


def _write_or_isolate(run: Run, read: Read, read_stage: str, batch: list[Any],
                      futures: tuple[Any, ...]) -> None:
    try:
        write(run, read_stage, *futures)
    except StageFailed as failed:
        isolate(run, batch, read, read_stage, failed)
    forget_loaded_results()


def analyse(outcomes: Any, run: Run) -> tuple[Any, ...]:
    """The pure stages of one batch of read outcomes, submitted to the task runner: the read
    outcomes, the cleaned texts, the documents with their language, and their mentions (each
    stage's input `unwalked`, flows/runners.py)."""
    settings = run.settings
    cleaned = clean_stage.submit(unwalked(outcomes, settings.runners))
    documents = language_stage.submit(unwalked(cleaned, settings.runners), settings.language)
    mentions = entities_stage.submit(unwalked(documents, settings.runners), settings.entities,
                                     tagging_workers(settings.runners), run.claims)
    return outcomes, cleaned, documents, mentions


def write(run: Run, read_stage: str, outcomes: Any, cleaned: Any, documents: Any,
          mentions: Any) -> None:
    """The stages that read or write the warehouse, for one batch, after the pure stages'
    results are resolved one by one (so that a failure names its stage). Their inputs are
    `opaque`: not walked through object by object looking for futures (about 0.1 s per input of
    1,000 documents, on the single writer's critical path)."""
    run.awaited.submitted(outcomes, cleaned, documents, mentions)
    outcomes = _resolved(read_stage, outcomes)
    for stage, future in (("clean", cleaned), ("language", documents)):
        _resolved(stage, future)
    tagged = _resolved("entities", mentions)
    split = _in_stage(run, "dedup", dedup_stage, run.session, opaque(documents))
    mentions = _with_skipped_new(run, split.unique, tagged)
    near = _in_stage(run, "near_dup", near_dup_stage, run.session, opaque(split.unique),
                     run.settings.dedup)
    stories = _in_stage(run, "stories", story_stage, run.session, opaque(split.unique),
                        opaque(near), opaque(mentions), run.settings.stories)
    _in_stage(run, "load", load_stage, run.session, run.run_id, opaque(outcomes), opaque(split),
              opaque(near), opaque(mentions), opaque(stories))


def isolate(run: Run, batch: list[Any], read: Read, read_stage: str, failed: StageFailed
            ) -> None:
    """Halve a failed batch until the failing inputs are alone, load the rest, and reject those
    with their stage and error. When every input of the batch fails on its own the cause is not
    an input (a broken model, say): the run stops with the error rather than reject them all."""
    failures = [(batch[0], failed)] if len(batch) == 1 else _failing_halves(
        run, batch, read, read_stage)
    if len(failures) == len(batch) > 1:
        raise failed.error
    for item, failure in failures:
        reject_input_stage(run.session, run.run_id, item, failure.stage, failure.detail)


def _failing_inputs(run: Run, batch: list[Any], read: Read, read_stage: str
                    ) -> list[tuple[Any, StageFailed]]:
    """The inputs of `batch` that fail alone; the others are loaded on the way."""
    try:
        write(run, read_stage, *analyse(read(batch), run))
        return []
    except StageFailed as failed:
        if len(batch) == 1:
            return [(batch[0], failed)]
    return _failing_halves(run, batch, read, read_stage)


def _failing_halves(run: Run, batch: list[Any], read: Read, read_stage: str
                    ) -> list[tuple[Any, StageFailed]]:
    middle = len(batch) // 2
    return [*_failing_inputs(run, batch[:middle], read, read_stage),
            *_failing_inputs(run, batch[middle:], read, read_stage)]


class StageFailed(Exception):
    """A stage raised for a batch: which stage, and the error."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {type(error).__name__}: {error}")
        self.stage, self.error = stage, error
        self.detail = f"{type(error).__name__}: {error}"[:1000]


def _with_skipped_new(run: Run, unique: list[Any], tagged: Tagged) -> Tagged:
    """The batch's mentions, with those of the new documents its entity stage left to an
    earlier batch that did not store them (that batch failed and was split, say): tagged now."""
    skipped = set(tagged.skipped)
    untagged = [d for d in unique if d.doc_id in skipped]
    if not untagged:
        return tagged
    more = _in_stage(run, "entities", entities_stage, opaque(untagged), run.settings.entities,
                     tagging_workers(run.settings.runners))
    return Tagged(mentions=[*tagged.mentions, *more.mentions])


def _resolved(stage: str, value: Any) -> Any:
    try:
        return value.result() if isinstance(value, PrefectFuture) else value
    except Exception as error:
        raise _failure(stage, error) from error


def _in_stage(run: Run, stage: str, task: Any, *args: Any) -> Any:
    try:
        return task(*args)
    except Exception as error:
        raise _failure(stage, error) from error
    finally:
        run.awaited.called(task.name)


def _failure(stage: str, error: Exception) -> Exception:
    """The error as a StageFailed, unless it is the run's, not an input's (a full disk, a lost
    Prefect server, DuckDB invalidated): those stop the run."""
    if is_disk_full(error) or isinstance(error, httpx.TransportError) or is_fatal(error):
        return error
    return StageFailed(stage, error)


def finish(run: Run, seen: int, skipped: int, read_nothing: bool = False) -> RunReport:
    """The run's report (stored in `runs` and published as an artifact) and the snapshot.
    `read_nothing`: no input was new or changed, so the run stored nothing but its `runs` row,
    and a snapshot that holds every committed batch stays (copying the whole file took 0.4 s of
    a 3 s no-change run of 100,000 files, and about 920 MB of disk writes every time)."""
    times = task_run_times(run.run_id, run.awaited)
    report = report_stage(run.session, run.run_id, seen, skipped, times)
    publish_report_artifact(report)
    publish_snapshot_stage(run.session, unless_current=read_nothing)
    return report


def finish_maintenance(run: Run, figures: dict[str, int]) -> None:
    """The end of a run that re-processes stored documents instead of ingesting."""
    finish_maintenance_stage(run.session, run.run_id, figures)
    publish_snapshot_stage(run.session)
