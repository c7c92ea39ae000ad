"""The part of every ingest run that does not depend on where documents come from.

A run opens the warehouse session (run lock, one connection), records itself and syncs the
alias file; each batch of read outcomes then goes clean → language → entities (pure stages, on
the task runner) → exact dedup → near dedup → load (the session, in this process, one batch at
a time, in order); the run ends with its report and the analysts' snapshot. Files and URLs differ
only in the stages before this: ingest_files.py and ingest_urls.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.utilities.annotations import opaque
from pydantic import BaseModel

from flows.prefect_records import mark_crashed, publish_report_artifact, task_run_times
from flows.runners import forget_loaded_results
from tasks.clean import clean_stage
from tasks.dedup import dedup_stage
from tasks.entities import entities_stage, sync_aliases_stage
from tasks.language import language_stage
from tasks.load import load_stage
from tasks.near_dup import near_dup_stage
from tasks.report import (
    RunReport, begin_run_stage, finish_maintenance_stage, publish_snapshot_stage, report_stage,
)
from warehouse.session import Warehouse, open_warehouse
from warehouse.settings import Settings


@dataclass
class Run:
    """One writing run: its warehouse session, its id and its settings."""

    session: Warehouse
    run_id: str
    settings: Settings


@contextmanager
def warehouse_run(flow_name: str, params: BaseModel, settings: Settings) -> Iterator[Run]:
    """Hold the warehouse for the whole run (another run waits), record the run as started
    (marking runs that died without ending `crashed`) and load the alias file."""
    with open_warehouse(settings.warehouse, str(flow_run.id)) as session:
        run_id = str(flow_run.id)
        mark_crashed(begin_run_stage(session, run_id, flow_name, params.model_dump()))
        sync_aliases_stage(session, settings.entities)
        yield Run(session, run_id, settings)


def analyse(outcomes: Any, settings: Settings) -> tuple[PrefectFuture, PrefectFuture]:
    """The pure stages of one batch of read outcomes, submitted to the task runner:
    the documents with their language, and their entity mentions."""
    cleaned = clean_stage.submit(outcomes)
    documents = language_stage.submit(cleaned, settings.language)
    mentions = entities_stage.submit(documents, settings.entities)
    return documents, mentions


def write(run: Run, outcomes: Any, documents: PrefectFuture, mentions: PrefectFuture) -> None:
    """The stages that read or write the warehouse, for one batch. Their inputs are `opaque`:
    resolved, but not walked through object by object looking for futures (about 0.1 s per input
    of 1,000 documents, on the single writer's critical path)."""
    split = dedup_stage(run.session, opaque(documents))
    near = near_dup_stage(run.session, opaque(split.unique), run.settings.dedup)
    load_stage(run.session, run.run_id, opaque(outcomes), opaque(split), opaque(near),
               opaque(mentions))
    forget_loaded_results()


def finish(run: Run, seen: int, skipped: int) -> RunReport:
    """The run's report (stored in `runs` and published as an artifact) and the snapshot."""
    report = report_stage(run.session, run.run_id, seen, skipped, task_run_times(run.run_id))
    publish_report_artifact(report)
    publish_snapshot_stage(run.session)
    return report


def finish_maintenance(run: Run, figures: dict[str, int]) -> None:
    """The end of a run that re-processes stored documents instead of ingesting."""
    finish_maintenance_stage(run.session, run.run_id, figures)
    publish_snapshot_stage(run.session)
