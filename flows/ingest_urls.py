"""The ingest-urls flow: lists, feeds, sitemaps → discover → fetch → extract, then the shared
tail (flows/pipeline.py) that files go through too."""

from __future__ import annotations

from prefect import flow

from flows.params import IngestUrlsParams
from flows.pipeline import finish, ingest, warehouse_run
from flows.runners import unwalked
from tasks.discover import discover_urls_stage, in_batches
from tasks.extract import extract_stage
from tasks.fetch import fetch_stage
from tasks.http import HttpFetcher
from tasks.load import load_discovery_stage
from tasks.report import RunReport
from warehouse.settings import Settings, get_settings


@flow(name="ingest-urls", log_prints=True)
def ingest_urls(
    params: IngestUrlsParams = IngestUrlsParams(), settings: Settings | None = None
) -> RunReport:
    """Fetch new article URLs from lists, feeds and sitemaps into the warehouse.

    Args:
        params: What to read this run: article URLs, a URL list file, feeds, sitemaps, and
            the batch size.
        settings: Leave empty to use the settings of the machine that runs the flow (its
            CORPUSFLOW_* environment and .env); fill in to override them for this run only.
    """
    settings = settings or get_settings()
    # One fetcher for the run: robots.txt once per origin, each host's pace kept across batches.
    with warehouse_run("ingest-urls", params, settings) as run, \
            HttpFetcher(settings.fetch) as fetcher:
        found = discover_urls_stage(run.session, params.urls, params.url_file, params.feeds,
                                    params.sitemaps, settings, fetcher)
        load_discovery_stage(run.session, run.run_id, found)
        for batch in in_batches(found.urls, params.batch_size):
            # fetched once, even if a page fails later
            pages = fetch_stage(batch, fetcher, settings.fetch.archive_dir)
            ingest(run, [pages], lambda pages: extract_stage.submit(
                unwalked(pages, settings.runners), settings.extract), "extract")
        return finish(run, found.seen, found.unchanged)
