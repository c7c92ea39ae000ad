"""The URL side's read stage: fetch article pages politely, archive every body, extract them.

The web counterpart of parse.py: it turns a batch of article URLs into (Candidate, Outcome)
pairs, so cleaning, dedup, language, entities and loading are shared with files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from tasks.archive import ArchiveRecord, archive_fetched
from tasks.discover_urls import DiscoveredUrl, SourceFetch
from tasks.extract import ExtractConfig, date_hint, extract_many
from tasks.fetch import FetchConfig, Fetched, FetchFailed, Fetcher, FetchRequest, reject_for
from tasks.parse import Outcome
from warehouse.records import Candidate, HttpFetch, ParsedArticle, Reject, source_id_for


class FetchedPage(BaseModel):
    """One article URL, what fetching it gave, and where its body was archived."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    url: DiscoveredUrl
    result: Fetched | FetchFailed
    archive: ArchiveRecord | None = None


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


def fetch_pages(urls: Sequence[DiscoveredUrl], fetcher: Fetcher, archive_root: Path
                ) -> list[FetchedPage]:
    """Fetch a batch of article URLs (in parallel, politely) and archive every body."""
    results = fetcher.fetch_many([FetchRequest(url=u.url, kind="article") for u in urls])
    return [
        FetchedPage(url=u, result=r,
                    archive=archive_fetched(archive_root, r) if isinstance(r, Fetched) else None)
        for u, r in zip(urls, results, strict=True)
    ]


def page_outcomes(pages: Sequence[FetchedPage], config: ExtractConfig
                  ) -> list[tuple[Candidate, Outcome]]:
    """Extract the fetched pages; every URL ends as an article, a reject or unchanged (304)."""
    fetched = [p for p in pages if isinstance(p.result, Fetched)]
    hints = [date_hint(p.url.published or p.url.lastmod, p.url.via) for p in fetched]
    extracted = dict(zip((id(p) for p in fetched), extract_many(
        [p.result for p in fetched], config, hints), strict=True))
    outcomes = []
    for page in pages:
        locator = page.url.url
        candidate = Candidate(source_id=source_id_for(locator), locator=locator, kind="url",
                              size=len(page.result.body) if page.archive else None)
        row = fetch_row(locator, "article", page.result, page.archive)
        outcomes.append((candidate, _outcome(page, extracted.get(id(page)), row)))
    return outcomes


def _outcome(page: FetchedPage, extracted: ParsedArticle | Reject | None, row: HttpFetch
             ) -> Outcome:
    if isinstance(page.result, FetchFailed):
        reject = reject_for(page.result, page.url.url)
        return Outcome(unchanged=reject is None, rejects=[reject] if reject else [], fetch=row)
    if isinstance(extracted, Reject):
        return Outcome(content_hash=row.sha256, rejects=[extracted], fetch=row)
    return Outcome(content_hash=row.sha256, encoding=extracted.encoding, articles=[extracted],
                   fetch=row)


def _utc(moment: dt.datetime) -> dt.datetime:
    """A naive UTC timestamp, as the warehouse stores them."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def fetch_config(settings: object) -> FetchConfig:
    """The fetcher's configuration from corpusflow's settings."""
    return FetchConfig(
        contact=settings.contact, per_host_interval_s=settings.per_host_interval_s,
        per_host_concurrency=settings.per_host_concurrency,
        connect_timeout_s=settings.connect_timeout_s, read_timeout_s=settings.read_timeout_s,
        total_timeout_s=settings.fetch_timeout_s, max_bytes=settings.max_fetch_bytes,
        max_redirects=settings.max_redirects, max_retries=settings.max_retries,
        allowed_networks=tuple(settings.allowed_networks),
    )


@task(name="fetch", cache_policy=NO_CACHE)
def fetch_stage(urls: list[DiscoveredUrl]) -> list[FetchedPage]:
    """Fetch and archive a batch of article pages."""
    from tasks.fetch import HttpFetcher
    from warehouse.settings import get_settings

    settings = get_settings()
    with HttpFetcher(fetch_config(settings)) as fetcher:
        return fetch_pages(urls, fetcher, settings.archive_dir)


@task(name="extract", cache_policy=NO_CACHE)
def extract_stage(pages: list[FetchedPage]) -> list[tuple[Candidate, Outcome]]:
    """Extract article text and metadata from a batch of fetched pages."""
    from warehouse.settings import get_settings

    config = ExtractConfig(timeout_s=get_settings().extraction_timeout_s)
    return page_outcomes(pages, config)
