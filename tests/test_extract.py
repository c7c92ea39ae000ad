"""tasks/extract.py (and the raw archive it re-reads): real pages over HTTP, decisive sentences
in and boilerplate out, not-an-article verdicts, date provenance, the extraction deadline."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.archive import (
    ArchiveCorrupt,
    archive_fetched,
    archive_path,
    read_body,
    refetched,
)
from tasks.extract import (
    ExtractionWorkers,
    date_hint,
    extract_fetched,
    extract_html,
    extract_many,
    identity_url,
    read_page,
)
from tasks.http import HttpFetcher
from tasks.records import DateHint, Fetched, UrlArticle
from tests.httpserver import (
    ARTICLE_FIRST_SENTENCE,
    ARTICLE_LAST_SENTENCE,
    ARTICLE_PATH,
    BOILERPLATE_SENTENCES,
    LATIN1_SENTENCE,
    NewsServer,
)
from warehouse.records import Reject
from warehouse.settings import ExtractSettings, FetchSettings

FAST = FetchSettings(per_host_interval_s=0.01, allowed_networks=("127.0.0.1",))
PAGES = [ARTICLE_PATH, "/news/", "/short.html", "/empty.html", "/latin1.html",
         "/meta-cp1252.html"]


@pytest.fixture(scope="module")
def server() -> Iterator[NewsServer]:
    with NewsServer() as news:
        yield news


@pytest.fixture(scope="module")
def fetched(server: NewsServer) -> dict[str, Fetched]:
    with HttpFetcher(FAST) as fetcher:
        results = fetcher.fetch_many([server.url(path) for path in PAGES])
    assert all(isinstance(r, Fetched) for r in results), results
    return dict(zip(PAGES, results, strict=True))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def extracted(fetched: dict[str, Fetched]) -> dict[str, UrlArticle | Reject]:
    results = extract_many(list(fetched.values()), ExtractSettings(processes=2))
    return dict(zip(fetched, results, strict=True))


def article(result: object) -> UrlArticle:
    assert isinstance(result, UrlArticle), f"expected an article, got {result!r:.300}"
    return result


def test_article_text_keeps_the_story_and_drops_the_boilerplate(
        extracted: dict[str, UrlArticle | Reject]) -> None:
    text = article(extracted[ARTICLE_PATH]).text
    assert ARTICLE_FIRST_SENTENCE in text and ARTICLE_LAST_SENTENCE in text
    assert "Tolls and traffic" in text  # a subheading inside the article
    for boilerplate in BOILERPLATE_SENTENCES:
        assert boilerplate not in text


def test_article_metadata(server: NewsServer, extracted: dict[str, UrlArticle | Reject]) -> None:
    found = article(extracted[ARTICLE_PATH])
    assert (found.kind, found.format, found.encoding) == ("url", "html", "utf-8")
    assert found.title == "Harbour tunnel opens three years late"
    assert found.author == "Marta Jensen" and found.site_name == "The Harbour Gazette"
    assert found.published == dt.date(2024, 3, 5) and found.published_precision == "day"
    assert found.published_source == "json_ld"
    # the page's rel=canonical carries a tracking parameter; the canonical form drops it
    assert found.canonical_url == found.url == server.url(ARTICLE_PATH)
    assert found.locator == server.url(ARTICLE_PATH) and found.extractor.startswith("trafilatura")
    assert len(found.content_hash) == 64 and found.size > 4000


@pytest.mark.parametrize(("path", "reason"), [
    ("/news/", "index_page"), ("/short.html", "too_short"), ("/empty.html", "empty_extraction"),
])
def test_pages_that_are_not_articles_are_rejected(
        extracted: dict[str, UrlArticle | Reject], path: str, reason: str) -> None:
    reject = extracted[path]
    assert isinstance(reject, Reject) and reject.reason == reason and reject.stage == "extract"
    assert reject.content_hash and reject.detail


@pytest.mark.parametrize("path", ["/latin1.html", "/meta-cp1252.html"])
def test_legacy_charsets_are_decoded_by_us(extracted: dict[str, UrlArticle | Reject],
                                           path: str) -> None:
    found = article(extracted[path])
    assert found.encoding == "cp1252"
    assert "café du port" in found.text and "pêcheurs" in found.text
    assert "Ã" not in found.text  # no UTF-8/Latin-1 mojibake


BODY = ("<article><h1>Council meets</h1>" + "".join(
    f"<p>The council met on a quiet morning to discuss item {n} on the harbour and its plans "
    "for the coming decade.</p>" for n in range(5)) + "{extra}</article>")


def _page(head: str = "", extra: str = "") -> str:
    body = BODY.format(extra=extra)
    return f"<html><head><title>T</title>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(("html", "url", "source"), [
    (_page('<script type="application/ld+json">{"@type": "NewsArticle", '
           '"datePublished": "2024-03-05T10:00:00Z"}</script>'), "https://n.test/a", "json_ld"),
    (_page('<meta property="article:published_time" content="2024-03-05T10:00:00Z">'),
     "https://n.test/a", "meta"),
    (_page(extra='<p>Posted <time datetime="2024-03-05">5 March</time></p>'),
     "https://n.test/a", "time_element"),
    (_page(), "https://n.test/2024/03/05/council.html", "url"),
    (_page(extra='<p class="date">Published on 5 March 2024</p>'), "https://n.test/a",
     "htmldate"),
])
def test_where_the_published_date_came_from(html: str, url: str, source: str) -> None:
    page = read_page(html, url)
    assert (page.date, page.date_source) == ("2024-03-05", source)


def test_feed_date_fills_in_when_the_page_has_none() -> None:
    html = _page()
    found = article(extract_html(html, locator="https://n.test/a", url="https://n.test/a",
                                 content_hash="x", size=len(html), encoding="utf-8",
                                 hint=DateHint(dt.date(2024, 3, 1), "sitemap")))
    assert (found.published, found.published_source) == (dt.date(2024, 3, 1), "sitemap")


def test_in_process_and_worker_extraction_agree(fetched: dict[str, Fetched],
                                                extracted: dict[str, UrlArticle | Reject]) -> None:
    assert extract_fetched(fetched[ARTICLE_PATH]) == extracted[ARTICLE_PATH]


def test_extraction_deadline_kills_and_replaces_the_worker() -> None:
    huge = "<html><body>" + "".join(
        f"<div><p>Paragraph {i} with some words and <a href='/x{i}'>a link number {i}</a>.</p>"
        "</div>" for i in range(12_000)) + "</body></html>"
    with ExtractionWorkers(ExtractSettings(timeout_s=0.3)) as workers:
        slow = extract_html(huge, locator="https://n.test/huge", url=None, content_hash="h",
                            size=len(huge), encoding="utf-8", workers=workers)
        assert isinstance(slow, Reject) and slow.reason == "extraction_timeout"
        page = workers.read(_page(), "https://n.test/2024/03/05/a.html", timeout_s=30)
    assert "council met" in page.text  # the replacement worker answers


# ---------------------------------------------------------------- raw archive


def test_archive_stores_once_and_re_extracts(tmp_path: Path, fetched: dict[str, Fetched],
                                             extracted: dict[str, UrlArticle | Reject]) -> None:
    page = fetched["/latin1.html"]
    record = archive_fetched(tmp_path, page)
    again = archive_fetched(tmp_path, page)
    stored = tmp_path / record.path
    assert record.sha256 == again.sha256 and stored == archive_path(tmp_path, record.sha256)
    assert stored.relative_to(tmp_path).parts[:2] == (record.sha256[:2], record.sha256[2:4])
    assert stored.name.endswith(".html.gz") and len(list(tmp_path.rglob("*.gz"))) == 1
    assert gzip.decompress(stored.read_bytes()) == page.body
    assert (record.status, record.content_type, record.charset) == (200, "text/html", "ISO-8859-1")
    assert record.extractor == "trafilatura" and record.extractor_version

    body = read_body(tmp_path, record.sha256)
    replayed = extract_fetched(refetched(record, body))
    assert article(replayed).text == article(extracted["/latin1.html"]).text
    assert LATIN1_SENTENCE in article(replayed).text


def test_archive_detects_a_damaged_body(tmp_path: Path, fetched: dict[str, Fetched]) -> None:
    record = archive_fetched(tmp_path, fetched[ARTICLE_PATH])
    (tmp_path / record.path).write_bytes(gzip.compress(b"something else"))
    with pytest.raises(ArchiveCorrupt):
        read_body(tmp_path, record.sha256)
    with pytest.raises(FileNotFoundError):
        read_body(tmp_path, "0" * 64)


@pytest.mark.parametrize(("canonical", "final", "expected"), [
    ("https://n.test/a", "https://n.test/a?utm_source=x", "https://n.test/a"),
    ("https://n.test/story", "https://n.test/amp/story", "https://n.test/story"),
    ("https://n.test/", "https://n.test/story", "https://n.test/story"),  # template bug
    ("https://other.test/story", "https://n.test/story", "https://n.test/story"),
    (None, "https://N.test/story#top", "https://n.test/story"),
    ("https://n.test/story", None, "https://n.test/story"),
])
def test_identity_url(canonical: str | None, final: str | None, expected: str) -> None:
    assert identity_url(canonical, final) == expected


def test_date_hint_from_discovery() -> None:
    when = dt.datetime(2024, 3, 5, 23, 0, tzinfo=dt.UTC)
    assert date_hint(when, "news_sitemap") == DateHint(dt.date(2024, 3, 5), "sitemap")
    assert date_hint(when, "rss") == DateHint(dt.date(2024, 3, 5), "feed")
    assert date_hint(None, "rss") is None
