"""tasks/http.py (and the decoding of HTTP bodies) against a real HTTP server on 127.0.0.1 (tests/httpserver.py).

Every case ends as the result a user of the fetcher expects; politeness is measured from the
server's own request timestamps, not from the client's clock.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.decode import decode
from tasks.http import HostGates, HttpFetcher, parse_retry_after, parse_robots, reject_for
from tasks.records import Fetched, FetchFailed, FetchRequest
from warehouse.settings import FetchSettings
from tasks.urls import StaticResolver
from tests.httpserver import (
    ARTICLE_FIRST_SENTENCE,
    ARTICLE_PATH,
    LAST_MODIFIED,
    NewsServer,
    self_signed_tls,
)

# Fast settings: tiny interval, short deadline, small size cap; only 127.0.0.1 is allowed.
FAST = FetchSettings(
    per_host_interval_s=0.02, allowed_networks=("127.0.0.1",), connect_timeout_s=1.0,
    read_timeout_s=0.8, total_timeout_s=1.0, max_bytes=200_000, backoff_base_s=0.1,
    contact="mailto:desk@corpus.test",
)


@pytest.fixture(scope="module")
def server() -> Iterator[NewsServer]:
    with NewsServer() as news:
        yield news


@pytest.fixture
def fetcher() -> Iterator[HttpFetcher]:
    with HttpFetcher(FAST) as live:
        yield live


def failed(result: object) -> FetchFailed:
    assert isinstance(result, FetchFailed), f"expected a failure, got {result!r:.300}"
    return result


def fetched(result: object) -> Fetched:
    assert isinstance(result, Fetched), f"expected a page, got {result!r:.300}"
    return result


def test_article_is_fetched_with_what_matters(server: NewsServer, fetcher: HttpFetcher) -> None:
    page = fetched(fetcher.fetch(server.url(ARTICLE_PATH)))
    assert page.status == 200 and page.final_url == server.url(ARTICLE_PATH)
    assert page.content_type == "text/html" and page.charset == "utf-8"
    assert page.etag and page.last_modified == LAST_MODIFIED
    assert ARTICLE_FIRST_SENTENCE.encode() in page.body
    assert page.redirects == [] and page.attempts == 1
    seen = server.requests_for(ARTICLE_PATH)[-1].headers
    assert seen["user-agent"] == "corpusflow/0.1 (+mailto:desk@corpus.test)"
    assert seen["accept"].startswith("text/html")


def test_second_fetch_with_stored_validators_is_not_modified(
        server: NewsServer, fetcher: HttpFetcher) -> None:
    first = fetched(fetcher.fetch(server.url(ARTICLE_PATH)))
    by_etag = failed(fetcher.fetch(FetchRequest(url=first.url, etag=first.etag)))
    by_date = failed(fetcher.fetch(FetchRequest(url=first.url, last_modified=first.last_modified)))
    assert by_etag.reason == by_date.reason == "not_modified"
    assert by_etag.status == 304 and by_etag.etag == first.etag
    assert server.requests_for(ARTICLE_PATH)[-2].headers["if-none-match"] == first.etag
    assert server.requests_for(ARTICLE_PATH)[-1].headers["if-modified-since"] == LAST_MODIFIED


def test_robots_disallow_is_obeyed_and_robots_read_once(server: NewsServer) -> None:
    before = len(server.hits("/robots.txt"))
    with HttpFetcher(FAST) as fresh:
        results = fresh.fetch_many([server.url("/private/memo.html"), server.url(ARTICLE_PATH),
                                    server.url("/private/other.html"), server.url("/news/")])
    assert [r.ok for r in results] == [False, True, False, True]
    assert failed(results[0]).reason == "robots_disallowed"
    assert server.hits("/private/memo.html") == []  # never requested
    assert len(server.hits("/robots.txt")) == before + 1


@pytest.mark.parametrize(("robots_status", "outcome"), [(404, "ok"), (503, "robots_disallowed")])
def test_missing_robots_allows_and_unreachable_robots_disallows(
        robots_status: int, outcome: str) -> None:
    # RFC 9309: a 4xx robots.txt means no rules, a 5xx one means "assume everything is off".
    with NewsServer(robots_status=robots_status) as news, HttpFetcher(FAST) as fresh:
        result = fresh.fetch(news.url(ARTICLE_PATH))
    assert getattr(result, "reason", "ok") == outcome


def test_429_waits_for_retry_after_then_succeeds(server: NewsServer, fetcher: HttpFetcher) -> None:
    page = fetched(fetcher.fetch(server.url("/flaky-429.html")))
    assert page.attempts == 2
    first, second = server.hits("/flaky-429.html")
    assert second - first >= 0.95  # Retry-After: 1, measured on the server


def test_500_then_200_is_retried(server: NewsServer, fetcher: HttpFetcher) -> None:
    page = fetched(fetcher.fetch(server.url("/flaky-500.html")))
    assert page.attempts == 2 and page.status == 200


def test_persistent_503_gives_up_after_the_retries(server: NewsServer,
                                                   fetcher: HttpFetcher) -> None:
    result = failed(fetcher.fetch(server.url("/always-503.html")))
    assert result.reason == "http_503" and result.attempts == FAST.max_retries + 1
    gaps = _gaps(server.hits("/always-503.html"))
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19  # exponential backoff 0.1 s, 0.2 s


@pytest.mark.parametrize("path", ["/slow.html", "/slow-headers.html"])
def test_slow_drip_is_cut_at_the_deadline(server: NewsServer, fetcher: HttpFetcher,
                                          path: str) -> None:
    fetcher.fetch(server.url("/robots.txt"))  # robots read before the clock starts
    started = time.monotonic()
    result = failed(fetcher.fetch(server.url(path)))
    took = time.monotonic() - started
    assert result.reason == "timeout"
    assert FAST.total_timeout_s * 0.9 <= took < FAST.total_timeout_s + 0.6


def test_redirects_are_followed_and_recorded(server: NewsServer, fetcher: HttpFetcher) -> None:
    page = fetched(fetcher.fetch(server.url("/chain/3")))
    assert page.final_url == server.url(ARTICLE_PATH)
    assert [(hop.status, hop.url) for hop in page.redirects] == [
        (302, server.url("/chain/3")), (302, server.url("/chain/2")),
        (302, server.url("/chain/1"))]
    moved = fetched(fetcher.fetch(server.url("/moved")))
    assert moved.redirects[0].status == 301
    assert moved.final_url == server.url(ARTICLE_PATH)  # fragment of the Location dropped


@pytest.mark.parametrize(("path", "reason"), [
    ("/loop/a", "redirect_loop"),
    ("/chain/9", "too_many_redirects"),
    ("/to-internal", "blocked_address"),
    ("/to-ftp", "bad_scheme"),
    ("/report.pdf", "not_html"),
    ("/big.html", "too_large"),
    ("/big-unannounced.html", "too_large"),
    ("/does-not-exist", "http_404"),
])
def test_failures_have_their_reason(server: NewsServer, fetcher: HttpFetcher, path: str,
                                    reason: str) -> None:
    assert failed(fetcher.fetch(server.url(path))).reason == reason


def test_redirect_loop_records_the_hops(server: NewsServer, fetcher: HttpFetcher) -> None:
    result = failed(fetcher.fetch(server.url("/loop/a")))
    assert [hop.location for hop in result.redirects] == [server.url("/loop/b"),
                                                         server.url("/loop/a")]


def test_missing_content_type_is_sniffed(server: NewsServer, fetcher: HttpFetcher) -> None:
    assert fetched(fetcher.fetch(server.url("/no-content-type.html"))).content_type is None


def test_feed_kind_accepts_xml_and_refuses_html(server: NewsServer, fetcher: HttpFetcher) -> None:
    assert fetcher.fetch(FetchRequest(url=server.url("/feed.rss"), kind="feed")).ok
    html = fetcher.fetch(FetchRequest(url=server.url("/feed-as-html.xml"), kind="feed"))
    assert failed(html).reason == "not_xml"


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://127.0.0.1/file", "bad_scheme"),
    ("http://user:pw@127.0.0.1/", "credentials_in_url"),
    ("http://missing.test/", "dns_error"),
    ("http://intranet.test/", "blocked_address"),
])
def test_refused_before_any_request(url: str, reason: str) -> None:
    resolver = StaticResolver({"intranet.test": ["10.0.0.8"]})
    with HttpFetcher(FAST, resolver=resolver) as fresh:
        assert failed(fresh.fetch(url)).reason == reason


def test_loopback_is_blocked_unless_allowed(server: NewsServer) -> None:
    with HttpFetcher(FetchSettings(per_host_interval_s=0)) as strict:
        result = failed(strict.fetch(server.url(ARTICLE_PATH)))
    assert result.reason == "blocked_address"


def test_names_are_resolved_and_checked_by_our_resolver(server: NewsServer) -> None:
    port = server.base_url.rsplit(":", 1)[1]
    resolver = StaticResolver({"gazette.test": ["127.0.0.1"]})
    with HttpFetcher(FAST, resolver=resolver) as fresh:
        page = fetched(fresh.fetch(f"http://gazette.test:{port}{ARTICLE_PATH}"))
    assert page.final_url.startswith("http://gazette.test:")


def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with HttpFetcher(FAST) as fresh:
        assert failed(fresh.fetch(f"http://127.0.0.1:{port}/")).reason == "connect_error"


def test_per_host_interval_is_observed_by_the_server(server: NewsServer) -> None:
    config = FAST.model_copy(update={"per_host_interval_s": 0.3})
    paths = [ARTICLE_PATH, "/news/", "/short.html", "/empty.html"]
    started = time.monotonic()
    with HttpFetcher(config) as polite:
        results = polite.fetch_many([server.url(p) for p in paths])
    assert all(r.ok for r in results)
    arrivals = sorted(t for p in ["/robots.txt", *paths] for t in server.hits(p) if t >= started)
    assert len(arrivals) == 5
    assert min(_gaps(arrivals)) >= 0.28


def test_crawl_delay_from_robots_is_observed() -> None:
    with NewsServer(crawl_delay=1) as news, HttpFetcher(FAST) as polite:
        results = polite.fetch_many([news.url(ARTICLE_PATH), news.url("/news/")])
        assert all(r.ok for r in results)
        arrivals = sorted(news.hits(ARTICLE_PATH) + news.hits("/news/"))
    assert _gaps(arrivals)[0] >= 0.95


def test_fetch_many_keeps_input_order_and_never_raises(server: NewsServer,
                                                       fetcher: HttpFetcher) -> None:
    urls = [server.url("/report.pdf"), "not a url", server.url(ARTICLE_PATH),
            "http://user:pw@x.test/", server.url("/does-not-exist")]
    results = fetcher.fetch_many(urls)
    assert [r.url for r in results] == urls
    assert [getattr(r, "reason", "ok") for r in results] == [
        "not_html", "bad_scheme", "ok", "credentials_in_url", "http_404"]


def test_host_gates_cap_concurrency() -> None:
    gates, lock = HostGates(concurrency=2), threading.Lock()
    active, peak = [0], [0]

    def work() -> None:
        with gates.slot("news.test", 0.0):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.05)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2


DECODING = [
    # (body, Content-Type, text that must come out, codec)
    ("café".encode("latin-1"), "text/html; charset=ISO-8859-1", "café", "cp1252"),
    ("“quoted”".encode("cp1252"), "text/html", "“quoted”", "cp1252"),
    (b"<meta charset='windows-1252'>" + "l’été".encode("cp1252"), None, "l’été", "cp1252"),
    (b'<meta http-equiv="Content-Type" content="text/html; charset=utf-8">' + "é".encode(),
     None, "é", "utf-8"),
    ("naïve".encode("utf-8"), "text/html; charset=iso-8859-1", "naïve", "utf-8"),
    ("Zürich ".encode() * 50 + b"\xff" + "Genève".encode(), "text/html; charset=utf-8",
     "Genève", "utf-8"),
    ("Zürich ".encode() * 50 + b"\xff" + "Genève".encode(), None, "Genève", "utf-8"),
    (b"\xef\xbb\xbf" + "bom".encode(), "text/html; charset=iso-8859-1", "bom", "utf-8-sig"),
    ("Привет".encode("koi8-r"), "text/html; charset=koi8-r", "Привет", "koi8-r"),
    (b"plain ascii", "text/html; charset=nonsense", "plain ascii", "utf-8"),
]


@pytest.mark.parametrize(("body", "content_type", "expected", "codec"), DECODING)
def test_decode_http_body(body: bytes, content_type: str | None, expected: str, codec: str
                          ) -> None:
    text, used = decode(body, content_type, markup=True)
    assert expected in text and used == codec


@pytest.mark.parametrize(("value", "seconds"), [
    ("1", 1.0), (" 120 ", 120.0), (None, None), ("soon", None),
    ("Wed, 06 Mar 2024 08:00:30 GMT", 30.0), ("Wed, 06 Mar 2024 07:00:00 GMT", 0.0),
])
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    import datetime as dt

    now = dt.datetime(2024, 3, 6, 8, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after(value, now=lambda: now) == seconds


def test_parse_robots_groups_and_crawl_delay() -> None:
    rules = parse_robots("User-agent: corpusflow\nCrawl-delay: 3\nDisallow: /drafts/\n\n"
                         "User-agent: *\nDisallow: /\n", "corpusflow")
    assert rules.crawl_delay == 3.0
    assert rules.allows("corpusflow", "https://news.test/2024/a.html")
    assert not rules.allows("corpusflow", "https://news.test/drafts/a.html")


def _gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in zip(times, times[1:])]


def test_failed_fetches_become_reject_rows(server: NewsServer, fetcher: HttpFetcher) -> None:
    missing = failed(fetcher.fetch(server.url("/does-not-exist")))
    row = reject_for(missing)
    assert row is not None and (row.reason, row.stage, row.detail) == ("http_404", "fetch",
                                                                       "HTTP 404")
    page = fetched(fetcher.fetch(server.url(ARTICLE_PATH)))
    unchanged = failed(fetcher.fetch(FetchRequest(url=page.url, etag=page.etag)))
    assert reject_for(unchanged) is None


def test_https_verifies_certificates_and_never_falls_back(tmp_path: Path) -> None:
    server_tls, trusting = self_signed_tls(tmp_path)
    with NewsServer(tls=server_tls) as secure:
        with HttpFetcher(FAST) as default_trust:  # certifi does not know our certificate
            refused = failed(default_trust.fetch(secure.url(ARTICLE_PATH)))
        with HttpFetcher(FAST, ssl_context=trusting) as private_ca:
            page = fetched(private_ca.fetch(secure.url(ARTICLE_PATH)))
    assert refused.reason == "connect_error" and "CERTIFICATE_VERIFY_FAILED" in refused.detail
    assert len(secure.hits(ARTICLE_PATH)) == 1  # only the verified fetch: no insecure retry
    assert page.final_url.startswith("https://127.0.0.1:")
    assert ARTICLE_FIRST_SENTENCE.encode() in page.body
