"""The ingest-files flow: inbox files → parse → clean → language → entities → dedup (exact,
URL, near) → DuckDB. The pure stages run on the task runner the settings choose (threads,
processes or Dask), several batches at a time; the warehouse stages run here, one batch at a
time, in order."""

from __future__ import annotations

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.utilities.annotations import opaque

from flows.params import IngestFilesParams
from flows.runners import (
    batches_in_flight, forget_loaded_results, share_server_with_workers, task_runner,
)
from tasks.clean import clean_stage
from tasks.dedup import dedup_stage
from tasks.discover import discover_stage, in_waves
from tasks.entities import entities_stage, sync_aliases_stage
from tasks.language import language_stage
from tasks.load import load_stage
from tasks.near_dup import near_dup_stage
from tasks.parse import parse_stage
from tasks.report import (
    RunReport, begin_run_stage, publish_report_artifact, publish_snapshot_stage, report_stage,
)
from warehouse.lock import hold_warehouse
from warehouse.records import Candidate


@flow(name="ingest-files", log_prints=True, task_runner=task_runner())
def ingest_files(params: IngestFilesParams = IngestFilesParams()) -> RunReport:
    """Ingest new and changed article files from the inbox into the warehouse."""
    with hold_warehouse(str(flow_run.id)):
        share_server_with_workers()
        run_id = begin_run_stage("ingest-files", params.model_dump())
        sync_aliases_stage()
        found = discover_stage(params.inbox, run_id)
        for wave in in_waves(found.candidates, params.batch_size, batches_in_flight()):
            analysed = [analyse(batch, found.known_hashes_of(batch)) for batch in wave]
            for outcomes, documents, mentions in analysed:
                write(run_id, outcomes, documents, mentions)
            forget_loaded_results()
        report = report_stage(run_id, found.seen, found.unchanged)
        publish_report_artifact(report)
        publish_snapshot_stage()
        return report


def analyse(batch: list[Candidate], known_hashes: dict[str, str]) -> tuple[PrefectFuture, ...]:
    """The pure stages of one batch, submitted to the task runner."""
    outcomes = parse_stage.submit(batch, known_hashes)
    cleaned = clean_stage.submit(outcomes)
    documents = language_stage.submit(cleaned)
    mentions = entities_stage.submit(documents)
    return outcomes, documents, mentions


def write(run_id: str, outcomes: PrefectFuture, documents: PrefectFuture,
          mentions: PrefectFuture) -> None:
    """The stages that read or write the warehouse: in this process, one batch at a time.
    Their inputs are `opaque`: resolved, but not walked through object by object looking for
    futures (about 0.1 s per input of 1,000 documents, on the single writer's critical path)."""
    split = dedup_stage(opaque(documents))
    near = near_dup_stage(opaque(split.unique))
    load_stage(run_id, opaque(outcomes), opaque(split), opaque(near), opaque(mentions))
