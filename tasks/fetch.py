"""The fetch stage: a batch of article URLs fetched politely (tasks/http.py), every body
archived (tasks/archive.py), and each fetch described as its `http_fetches` row."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.archive import archive_fetched
from tasks.http import Fetcher, reject_for
from tasks.records import (
    ArchiveRecord, DiscoveredUrl, Fetched, FetchedPage, FetchFailed, FetchRequest,
)
from warehouse.records import HttpFetch, utc_naive


def fetch_pages(urls: Sequence[DiscoveredUrl], fetcher: Fetcher, archive_root: Path
                ) -> list[FetchedPage]:
    """Fetch a batch of article URLs (in parallel, politely) and archive every body."""
    results = fetcher.fetch_many([FetchRequest(url=u.url, kind="article") for u in urls])
    pages = []
    for url, result in zip(urls, results, strict=True):
        archive = archive_fetched(archive_root, result) if isinstance(result, Fetched) else None
        reject = reject_for(result, url.url) if isinstance(result, FetchFailed) else None
        pages.append(FetchedPage(url=url, result=result, archive=archive,
                                 row=fetch_row(url.url, "article", result, archive),
                                 reject=reject))
    return pages


def fetch_row(url: str, kind: str, result: Fetched | FetchFailed,
              archive: ArchiveRecord | None = None) -> HttpFetch:
    """The http_fetches row for one fetch."""
    common = {"url": url, "kind": kind, "status": result.status, "final_url": result.final_url,
              "etag": result.etag, "last_modified": result.last_modified,
              "fetched_at": utc_naive(result.fetched_at)}
    if isinstance(result, FetchFailed):
        outcome = "not_modified" if result.reason == "not_modified" else "failed"
        return HttpFetch(**common, outcome=outcome,
                         reason=None if outcome == "not_modified" else result.reason)
    return HttpFetch(
        **common, outcome="fetched", content_type=result.content_type,
        sha256=archive.sha256 if archive else None, archive_path=archive.path if archive else None,
        size=len(result.body), extractor=archive.extractor if archive else None,
        extractor_version=archive.extractor_version if archive else None,
    )


@task(name="fetch", cache_policy=NO_CACHE)
def fetch_stage(urls: list[DiscoveredUrl], fetcher: Fetcher, archive_dir: Path
                ) -> list[FetchedPage]:
    """Fetch and archive a batch of article pages with the run's fetcher: one per run, so
    robots.txt is read once per origin and each host's interval and Crawl-delay hold from one
    batch to the next."""
    return fetch_pages(urls, fetcher, archive_dir)
