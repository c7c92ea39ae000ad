"""End to end: the ingest-urls flow against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest

from flows.ingest_files import ingest_files
from flows.ingest_urls import ingest_urls
from flows.params import IngestFilesParams, IngestUrlsParams
from tasks.urls import canonicalize_url
from tests.httpserver import (
    ARTICLE_FIRST_SENTENCE, ARTICLE_PATH, BACK_SOON_SENTENCE, BOILERPLATE_SENTENCES, NewsServer,
)
from warehouse.records import source_id_for

pytestmark = pytest.mark.usefixtures("prefect_server")
INTERVAL_S = 0.3


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_path: Path):
    monkeypatch.setenv("CORPUSFLOW_ALLOWED_NETWORKS", '["127.0.0.1"]')
    monkeypatch.setenv("CORPUSFLOW_PER_HOST_INTERVAL_S", str(INTERVAL_S))
    monkeypatch.setenv("CORPUSFLOW_FETCH_TIMEOUT_S", "3")
    monkeypatch.setenv("CORPUSFLOW_MAX_FETCH_BYTES", "200000")
    monkeypatch.setenv("CORPUSFLOW_ARCHIVE_DIR", str(tmp_path / "archive"))
    with NewsServer() as server:
        yield server


def rows(db_path: Path, sql: str, parameters: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql, parameters).fetchall()


def outcomes(db_path: Path, web: NewsServer) -> dict[str, str]:
    """URL (its path on the test server) → what became of it: its source status (new,
    duplicate) or its reject reason."""
    def key(locator: str) -> str:
        return urlsplit(locator).path if locator.startswith(web.base_url) else locator

    found = {key(loc): status for loc, status in rows(db_path, "select locator, status from sources")}
    found.update({key(loc): reason for loc, reason in rows(db_path, "select locator, reason from rejects")})
    return found


def counts(db_path: Path) -> dict[str, int]:
    tables = ("sources", "documents", "duplicates", "mentions", "rejects")
    return {t: rows(db_path, f"select count(*) from {t}")[0][0] for t in tables}


def params(web: NewsServer) -> IngestUrlsParams:
    return IngestUrlsParams(
        urls=[web.url(p) for p in ("/flaky-429.html", "/slow.html", "/loop/a", "/big.html")],
        feeds=[web.url("/feed.rss"), web.url("/feed.atom")],
        sitemaps=[web.url("/sitemap.xml")],
    )


def test_every_url_ends_as_a_document_or_a_reason(web: NewsServer, db_path: Path,
                                                   tmp_path: Path) -> None:
    report = ingest_urls(params(web))
    found = outcomes(db_path, web)
    # The article, a 429 retried after Retry-After and a 500 then 200 all serve one text: the
    # first in locator order is the document, the others exact duplicates of it.
    same = [found.pop(path) for path in (ARTICLE_PATH, "/flaky-429.html", "/flaky-500.html")]
    assert sorted(same) == ["duplicate", "duplicate", "new"]
    assert found == {
        "/news/": "index_page",
        "/private/memo.html": "robots_disallowed",
        "/news/2024/03/budget.html": "http_404",
        "/news/2024/02/ferry-timetable.html": "http_404",
        "/slow.html": "timeout",
        "/loop/a": "redirect_loop",
        "/big.html": "too_large",
        "/report.pdf": "not_html",
        "ftp://files.example.org/report.pdf": "bad_scheme",
    }
    assert report.documents_new == 1 and report.duplicates_new == 2
    (text, url, title, published, source), = rows(
        db_path, "select text, canonical_url, title, published, published_source from documents")
    assert ARTICLE_FIRST_SENTENCE in text
    assert not any(sentence in text for sentence in BOILERPLATE_SENTENCES)
    assert url == web.url(ARTICLE_PATH) and title == "Harbour tunnel opens three years late"
    assert str(published) == "2024-03-05" and source
    archived = rows(db_path, "select count(*), count(distinct sha256) from http_fetches"
                    " where kind = 'article' and outcome = 'fetched'")
    assert archived == [(4, 2)]  # three copies of the article share one archived body, + the index
    assert len(list((tmp_path / "archive").rglob("*.gz"))) == 2
    started = sorted(r.at for r in web.requests if r.path != "/robots.txt")
    gaps = [later - earlier for earlier, later in zip(started, started[1:])]
    assert min(gaps) >= INTERVAL_S - 0.02  # measured on the server side


def test_second_run_uses_conditional_get_and_adds_nothing(web: NewsServer, db_path: Path) -> None:
    feeds = IngestUrlsParams(feeds=[web.url("/feed.rss")], sitemaps=[web.url("/sitemap.xml")])
    ingest_urls(feeds)
    before = counts(db_path)
    report = ingest_urls(feeds)
    assert counts(db_path) == before and report.documents_new == 0
    second = web.requests_for("/feed.rss")[-1].headers
    assert second.get("if-none-match") or second.get("if-modified-since")
    assert rows(db_path, "select outcome, status from http_fetches where url like '%/feed.rss'"
                " order by fetched_at") == [("fetched", 200), ("not_modified", 304)]


def test_same_article_from_a_file_and_a_url_is_one_document(
    web: NewsServer, db_path: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "saved"
    inbox.mkdir()
    with urllib.request.urlopen(web.url(ARTICLE_PATH)) as page:  # "save page as"
        (inbox / "tunnel.html").write_bytes(page.read())
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    ingest_urls(IngestUrlsParams(urls=[web.url(ARTICLE_PATH)]))
    assert rows(db_path, "select count(*) from documents") == [(1,)]
    assert rows(db_path, "select d.method, s.kind from duplicates d join sources s"
                " using (source_id)") == [("exact", "url")]


# Credentials that must never be stored: distinctive, so that no page text matches by chance.
SECRET = "S3cretT0kenXyzzy"
PASSWORD = "Hunter2PasswdQuux"


def columns_holding(db_path: Path, needle: str) -> list[str]:
    """table.column of every column of every table, cast to text, that contains `needle`."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        columns = con.execute(
            "select c.table_name, c.column_name from information_schema.columns c"
            " join information_schema.tables t using (table_schema, table_name)"
            " where t.table_type = 'BASE TABLE'").fetchall()
        return [f"{table}.{column}" for table, column in columns if con.execute(
            f'select count(*) from "{table}" where cast("{column}" as varchar) like ?',
            [f"%{needle}%"]).fetchone()[0]]


def test_credentials_in_urls_are_stored_nowhere(web: NewsServer, db_path: Path) -> None:
    netloc = urlsplit(web.base_url).netloc
    with_password = f"http://reader:{PASSWORD}@{netloc}/news/2024/03/elsewhere.html"
    with_token = web.url(f"{ARTICLE_PATH}?token={SECRET}")
    no_canonical_link = web.url(f"/latin1.html?sig={SECRET}")  # its URL is its identity
    missing = web.url(f"/gone.html?api_key={SECRET}")
    feed = web.url(f"/feed.rss?access_token={SECRET}")
    ingest_urls(IngestUrlsParams(urls=[with_password, with_token, no_canonical_link, missing],
                                 feeds=[feed]))

    assert columns_holding(db_path, SECRET) == []
    assert columns_holding(db_path, PASSWORD) == []
    # ...and not because nothing was stored: every URL left its row, redacted, under the
    # source id of the URL as given (identity does not depend on redaction).
    hidden = web.url(f"{ARTICLE_PATH}?token=***")
    assert rows(db_path, "select locator, reason from rejects where locator like '%***%'"
                " order by reason") == [
        (f"http://***@{netloc}/news/2024/03/elsewhere.html", "credentials_in_url"),
        (web.url("/gone.html?api_key=***"), "http_404")]
    assert rows(db_path, "select locator, status from sources where source_id = ?",
                [source_id_for(canonicalize_url(with_token))]) == [(hidden, "new")]
    latin1 = web.url("/latin1.html?sig=***")
    assert rows(db_path, "select url, canonical_url, final_url from documents order by url") == [
        (latin1, latin1, latin1), (web.url(ARTICLE_PATH), web.url(ARTICLE_PATH), hidden)]
    assert rows(db_path, "select outcome from http_fetches where url = ?",
                [web.url("/feed.rss?access_token=***")]) == [("fetched",)]
    assert "***" in rows(db_path, "select parameters::varchar from runs")[0][0]


def test_a_failed_fetch_that_may_pass_is_tried_again_at_later_runs_until_its_attempts_end(
        web: NewsServer, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A site down for maintenance (503 through this run's retries), a page whose reject is
    about the page itself (a PDF) and a site down for good. The next run fetches the first
    again and stores it; the PDF is never requested again; the third is fetched at
    max_url_attempts runs in all, then left a reject. Nothing is doubled."""
    monkeypatch.setenv("CORPUSFLOW_MAX_URL_ATTEMPTS", "2")
    monkeypatch.setenv("CORPUSFLOW_MAX_RETRIES", "0")
    paths = ("/back-soon.html", "/report.pdf", "/always-503.html")
    run = IngestUrlsParams(urls=[web.url(path) for path in paths])
    web.down.add("/back-soon.html")

    def status(path: str) -> str:
        [(found,)] = rows(db_path, "select status from sources where locator = ?",
                          [canonicalize_url(web.url(path))])
        return found

    ingest_urls(run)
    assert [status(path) for path in paths] == ["rejected"] * 3
    web.down.clear()
    second = ingest_urls(run)
    assert second.documents_new == 1 and status("/back-soon.html") == "new"
    [(text,)] = rows(db_path, "select text from documents")
    assert BACK_SOON_SENTENCE in text
    third = ingest_urls(run)
    assert third.documents_new == 0
    assert {path: len(web.hits(path)) for path in paths} == {
        "/back-soon.html": 2, "/report.pdf": 1, "/always-503.html": 2}
    assert counts(db_path)["sources"] == 3 and counts(db_path)["documents"] == 1
    assert rows(db_path, "select count(*) from http_fetches where kind = 'article'") == [(5,)]


def test_urls_over_the_cap_are_fetched_at_the_next_run(web: NewsServer, db_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A feed of more URLs than a run may fetch: the next run reads the feed in full again
    (not a 304 that lists nothing) and fetches the ones left over."""
    monkeypatch.setenv("CORPUSFLOW_MAX_URLS_PER_RUN", "1")
    feed = IngestUrlsParams(feeds=[web.url("/feed.rss")])
    ingest_urls(feed)
    first = {loc for (loc,) in rows(db_path, "select locator from sources where kind = 'url'")}
    ingest_urls(feed)
    second = {loc for (loc,) in rows(db_path, "select locator from sources where kind = 'url'")}
    assert len(first) == 1 and len(second) == 2 and first < second
    assert all(not r.headers.get("if-none-match") and not r.headers.get("if-modified-since")
               for r in web.requests_for("/feed.rss"))


def test_one_fetcher_per_run_reads_robots_once_and_keeps_the_pace_across_batches(
        web: NewsServer) -> None:
    """Batches of one URL each, all on one host: robots.txt is asked for once in the run (the
    feed too goes through the run's fetcher), and request starts stay the host interval apart
    from one batch to the next, not only within a batch."""
    paths = ("/latin1.html", "/meta-cp1252.html", "/short.html", "/no-content-type.html")
    ingest_urls(IngestUrlsParams(urls=[web.url(path) for path in paths],
                                 feeds=[web.url("/feed.atom")], batch_size=1))
    assert len(web.hits("/robots.txt")) == 1
    started = sorted(r.at for r in web.requests if r.path != "/robots.txt")
    assert len(started) >= len(paths) + 1
    gaps = [later - earlier for earlier, later in zip(started, started[1:])]
    assert min(gaps) >= INTERVAL_S - 0.02
