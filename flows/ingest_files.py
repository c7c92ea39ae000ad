"""The ingest-files flow: inbox files → clean → dedup (exact, near) → language → entities → DuckDB."""

from __future__ import annotations

from prefect import flow

from flows.params import IngestFilesParams
from tasks.clean import clean_stage
from tasks.dedup import dedup_stage
from tasks.discover import discover_stage, in_batches
from tasks.entities import entities_stage
from tasks.language import language_stage
from tasks.load import load_stage
from tasks.near_dup import near_dup_stage
from tasks.parse import parse_stage
from tasks.report import RunReport, begin_run_stage, publish_snapshot_stage, report_stage


@flow(name="ingest-files", log_prints=True)
def ingest_files(params: IngestFilesParams = IngestFilesParams()) -> RunReport:
    """Ingest new and changed article files from the inbox into the warehouse."""
    run_id = begin_run_stage("ingest-files", params.model_dump())
    found = discover_stage(params.inbox)
    for batch in in_batches(found.candidates, params.batch_size):
        outcomes = parse_stage(batch, found.known_hashes)
        cleaned = clean_stage(outcomes)
        split = dedup_stage(cleaned)
        documents = language_stage(split.unique)
        near = near_dup_stage(documents)
        mentions = entities_stage(documents)
        load_stage(run_id, outcomes, split, documents, near, mentions)
    report = report_stage(run_id, found.seen, found.unchanged)
    publish_snapshot_stage()
    return report
