"""The ingest-urls flow: lists, feeds, sitemaps → fetch → extract → clean → language → entities
→ dedup → DuckDB. From the extracted text on, the stages are the ones files go through."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from flows.params import IngestUrlsParams
from flows.runners import forget_loaded_results
from tasks.clean import clean_stage
from tasks.dedup import dedup_stage
from tasks.discover import in_batches
from tasks.discover_urls import discover_urls_stage
from tasks.entities import entities_stage, sync_aliases_stage
from tasks.language import language_stage
from tasks.load import load_discovery_stage, load_stage
from tasks.near_dup import near_dup_stage
from tasks.pages import extract_stage, fetch_stage
from tasks.report import (
    RunReport, begin_run_stage, publish_report_artifact, publish_snapshot_stage, report_stage,
)
from warehouse.lock import hold_warehouse


@flow(name="ingest-urls", log_prints=True)
def ingest_urls(params: IngestUrlsParams = IngestUrlsParams()) -> RunReport:
    """Fetch new article URLs from lists, feeds and sitemaps into the warehouse."""
    with hold_warehouse(str(flow_run.id)):
        run_id = begin_run_stage("ingest-urls", params.model_dump())
        sync_aliases_stage()
        found = discover_urls_stage(params.urls, params.url_file, params.feeds, params.sitemaps)
        load_discovery_stage(run_id, found)
        for batch in in_batches(found.urls, params.batch_size):
            pages = fetch_stage(batch)
            outcomes = extract_stage(pages)
            cleaned = clean_stage(outcomes)
            documents = language_stage(cleaned)
            mentions = entities_stage(documents)
            split = dedup_stage(documents)
            near = near_dup_stage(split.unique)
            load_stage(run_id, outcomes, split, near, mentions)
            forget_loaded_results()
        report = report_stage(run_id, len(found.urls) + found.known, found.known)
        publish_report_artifact(report)
        publish_snapshot_stage()
        return report
