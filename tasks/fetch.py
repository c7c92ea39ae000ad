"""The fetch stage: a batch of article URLs fetched politely (tasks/http.py), every body
archived (tasks/archive.py), and each fetch described as its `http_fetches` row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.archive import archive_fetched
from tasks.http import Fetcher, HttpFetcher
from tasks.records import (
    ArchiveRecord, DiscoveredUrl, Fetched, FetchedPage, FetchFailed, FetchRequest, SourceFetch,
)
from warehouse.records import HttpFetch
from warehouse.settings import FetchSettings


def fetch_pages(urls: Sequence[DiscoveredUrl], fetcher: Fetcher, archive_root: Path
                ) -> list[FetchedPage]:
    """Fetch a batch of article URLs (in parallel, politely) and archive every body."""
    results = fetcher.fetch_many([FetchRequest(url=u.url, kind="article") for u in urls])
    pages = []
    for url, result in zip(urls, results, strict=True):
        archive = archive_fetched(archive_root, result) if isinstance(result, Fetched) else None
        pages.append(FetchedPage(url=url, result=result, archive=archive,
                                 row=fetch_row(url.url, "article", result, archive)))
    return pages


def fetch_row(url: str, kind: str, result: Fetched | FetchFailed,
              archive: ArchiveRecord | None = None) -> HttpFetch:
    """The http_fetches row for one fetch."""
    common = {"url": url, "kind": kind, "status": result.status, "final_url": result.final_url,
              "etag": result.etag, "last_modified": result.last_modified,
              "fetched_at": _utc(result.fetched_at)}
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


def source_fetch_row(source: SourceFetch, fetched_at: dt.datetime) -> HttpFetch:
    """The http_fetches row of a feed or sitemap fetch made during discovery."""
    return HttpFetch(url=source.url, kind=source.kind, outcome=source.outcome,
                     reason=source.reason, etag=source.etag, last_modified=source.last_modified,
                     fetched_at=_utc(fetched_at))


def _utc(moment: dt.datetime) -> dt.datetime:
    """A naive UTC timestamp, as the warehouse stores them."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


@task(name="fetch", cache_policy=NO_CACHE)
def fetch_stage(urls: list[DiscoveredUrl], settings: FetchSettings) -> list[FetchedPage]:
    """Fetch and archive a batch of article pages."""
    with HttpFetcher(settings) as fetcher:
        return fetch_pages(urls, fetcher, settings.archive_dir)
