"""tasks/feeds.py and tasks/discover.py: feed and sitemap parsing tables, then URL discovery over
real HTTP."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator

import pytest

from tasks.discover import canonical_urls, discover_urls, merge_urls, newest_first
from tasks.feeds import DiscoveryError, parse_feed, parse_sitemap, read_url_list
from tasks.http import HttpFetcher
from tasks.records import DiscoveredUrl, Validators
from warehouse.settings import DiscoverSettings, FetchSettings
from tests.httpserver import ARTICLE_PATH, NewsServer

FAST = FetchSettings(per_host_interval_s=0.01, allowed_networks=("127.0.0.1",),
                   total_timeout_s=2.0, backoff_base_s=0.1)
UTC = dt.UTC

# ---------------------------------------------------------------- parsing tables (no network)

RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>t</title>
<item><title>One</title><link>https://news.test/a?utm_source=rss</link>
  <pubDate>Tue, 05 Mar 2024 06:30:00 GMT</pubDate></item>
<item><title>Two</title><guid>https://news.test/b</guid></item>
<item><title>Not a link</title><guid isPermaLink="false">id-3</guid></item>
<item><title><![CDATA[Four & more]]></title><link><![CDATA[/relative/c]]></link></item>
</channel></rss>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://news.test/"><title>t</title></channel>
<item rdf:about="https://news.test/d"><title>Dee</title><link>https://news.test/d</link>
  <dc:date>2024-03-01T10:00:00+01:00</dc:date></item>
</rdf:RDF>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.test/section/">
<title>t</title><link rel="self" href="https://news.test/feed.atom"/>
<entry><title>E1</title><link href="e1.html"/><published>2024-03-05T06:30:00Z</published></entry>
<entry xml:base="/other/"><title>E2</title><link rel="edit" href="https://news.test/admin/2"/>
  <link rel="alternate" type="text/html" href="e2.html"/><updated>2024-03-04</updated></entry>
<entry><title>No link</title><link rel="enclosure" href="https://news.test/a.mp3"/></entry>
</feed>"""


def links(items: list) -> list[str]:
    found, _ = canonical_urls(items, "test")
    return [u.url for u in found]


def test_rss_items_links_titles_and_dates() -> None:
    items = parse_feed(RSS, "https://news.test/feed.rss")
    assert links(items) == ["https://news.test/a", "https://news.test/b",
                            "https://news.test/relative/c"]
    assert [i.title for i in items] == ["One", "Two", "Four & more"]
    assert items[0].published == dt.datetime(2024, 3, 5, 6, 30, tzinfo=UTC)


def test_rdf_feed() -> None:
    items = parse_feed(RDF, "https://news.test/rdf")
    assert links(items) == ["https://news.test/d"] and items[0].via == "rdf"
    assert items[0].published == dt.datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def test_atom_entries_resolve_xml_base_and_skip_other_rels() -> None:
    items = parse_feed(ATOM, "https://news.test/feed.atom")
    assert links(items) == ["https://news.test/section/e1.html", "https://news.test/other/e2.html"]
    assert items[0].published == dt.datetime(2024, 3, 5, 6, 30, tzinfo=UTC)
    assert items[1].lastmod == dt.datetime(2024, 3, 4, tzinfo=UTC)


@pytest.mark.parametrize(("data", "detail"), [
    (b"<rss><channel><item><title>x<link>y</link></channel></rss>", "broken XML"),
    (b"<html><body>not a feed</body></html>", "not an RSS or Atom feed"),
    (b"", "broken XML"),
    (b"\x00\x01binary", "broken XML"),
])
def test_broken_feeds_raise_bad_feed(data: bytes, detail: str) -> None:
    with pytest.raises(DiscoveryError) as caught:
        parse_feed(data, "https://news.test/feed")
    assert caught.value.reason == "bad_feed" and detail in caught.value.detail


def test_external_entities_are_not_resolved() -> None:
    feed = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<rss><channel><item><title>&x;</title><link>https://news.test/a</link></item>"
            b"</channel></rss>")
    items = parse_feed(feed, "https://news.test/feed")
    assert "root:" not in (items[0].title or "")


URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://news.test/a</loc><lastmod>2024-03-05</lastmod></url>
<url><loc>https://news.test/b?gclid=1</loc><news:news><news:title>Bee</news:title>
  <news:publication_date>2024-03-04T08:00:00+01:00</news:publication_date></news:news></url>
<url><loc></loc></url>
</urlset>"""
INDEX = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://news.test/s1.xml</loc></sitemap><sitemap><loc>/s2.xml.gz</loc></sitemap>
</sitemapindex>"""


def test_sitemap_urls_and_news_extension() -> None:
    content = parse_sitemap(URLSET, "https://news.test/sitemap.xml")
    assert links(content.items) == ["https://news.test/a", "https://news.test/b"]
    assert [i.via for i in content.items] == ["sitemap", "news_sitemap"]
    assert content.items[0].lastmod == dt.datetime(2024, 3, 5, tzinfo=UTC)
    assert content.items[1].title == "Bee"
    assert content.items[1].published == dt.datetime(2024, 3, 4, 7, 0, tzinfo=UTC)


def test_sitemap_index_lists_children() -> None:
    content = parse_sitemap(INDEX, "https://news.test/sitemap_index.xml")
    assert content.sitemaps == ["https://news.test/s1.xml", "https://news.test/s2.xml.gz"]
    assert content.items == []


def test_gzip_and_text_sitemaps() -> None:
    assert len(parse_sitemap(gzip.compress(URLSET), "https://news.test/s.xml.gz").items) == 2
    text = parse_sitemap(b"https://news.test/x\n\nhttps://news.test/y\n", "https://news.test/s.txt")
    assert links(text.items) == ["https://news.test/x", "https://news.test/y"]


@pytest.mark.parametrize("data", [
    b"<urlset><url><loc>https://news.test/a</loc></url",
    b"<rss><channel/></rss>",
    b"not a sitemap at all",
    b"\x1f\x8b\x08\x00garbage",
])
def test_broken_sitemaps_raise_bad_sitemap(data: bytes) -> None:
    with pytest.raises(DiscoveryError) as caught:
        parse_sitemap(data, "https://news.test/sitemap.xml")
    assert caught.value.reason == "bad_sitemap"


def test_decompression_is_capped() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 2_000_000 + b"</urlset>")
    with pytest.raises(DiscoveryError, match="decompressed"):
        parse_sitemap(bomb, "https://news.test/s.xml.gz", max_bytes=100_000)


def test_url_list_file() -> None:
    assert read_url_list("# outlets\nhttps://a.test/x\n\n  https://b.test/y  \n") == [
        "https://a.test/x", "https://b.test/y"]


def _found(url: str, day: int | None = None, title: str | None = None) -> DiscoveredUrl:
    published = dt.datetime(2024, 3, day, tzinfo=UTC) if day else None
    return DiscoveredUrl(url=url, source="s", via="rss", published=published, title=title)


def test_merge_dedupes_fills_gaps_skips_known_and_caps() -> None:
    groups = [[_found("https://n.test/a"), _found("https://n.test/b")],
              [_found("https://n.test/a", 5, "A"), _found("https://n.test/c"),
               _found("https://n.test/d")]]
    urls, known, capped = merge_urls(groups, frozenset({"https://n.test/b"}), cap=2)
    assert [u.url for u in urls] == ["https://n.test/a", "https://n.test/c"]
    assert urls[0].title == "A" and urls[0].published is not None
    assert (known, capped) == (1, 1)


def test_per_source_cap_keeps_the_newest() -> None:
    urls = [_found("https://n.test/old", 1), _found("https://n.test/undated"),
            _found("https://n.test/new", 9), _found("https://n.test/mid", 5)]
    kept, dropped = newest_first(urls, 2)
    assert [u.url for u in kept] == ["https://n.test/new", "https://n.test/mid"] and dropped == 2


# ---------------------------------------------------------------- discovery over HTTP


@pytest.fixture(scope="module")
def server() -> Iterator[NewsServer]:
    with NewsServer() as news:
        yield news


def test_discover_from_lists_feeds_and_sitemaps(server: NewsServer) -> None:
    with HttpFetcher(FAST) as fetcher:
        found = discover_urls(
            fetcher,
            urls=[server.url("/news/?b=1&a=2#top"), "mailto:desk@news.test"],
            feeds=[server.url("/feed.rss"), server.url("/feed.atom"),
                   server.url("/broken-feed.xml"), server.url("/feed-as-html.xml")],
            sitemaps=[server.url("/sitemap-index.xml"), server.url("/sitemap.xml.gz"),
                      server.url("/broken-sitemap.xml")],
        )
    urls = [u.url for u in found.urls]
    article = server.url(ARTICLE_PATH)
    # the article arrives from RSS, Atom, two sitemaps and a news sitemap: one entry, no tracking
    assert urls.count(article) == 1 and len(urls) == len(set(urls))
    assert server.url("/news/?a=2&b=1") in urls
    assert all("utm_" not in u and "fbclid" not in u and "gclid" not in u for u in urls)
    entry = next(u for u in found.urls if u.url == article)
    assert entry.via == "rss" and entry.title and entry.published
    reasons = {(r.reason, r.locator.replace(server.base_url, "")) for r in found.rejects}
    assert reasons >= {
        ("bad_scheme", "mailto:desk@news.test"),
        ("bad_scheme", "ftp://files.example.org/report.pdf"),
        ("bad_feed", "/broken-feed.xml"),
        ("not_xml", "/feed-as-html.xml"),
        ("bad_sitemap", "/broken-sitemap.xml"),
        ("http_404", "/sitemap-missing.xml"),
    }
    assert all(r.stage == "discover" for r in found.rejects)


def test_second_run_uses_conditional_get_and_adds_nothing(server: NewsServer) -> None:
    feeds = [server.url("/feed.rss"), server.url("/feed.atom")]
    sitemaps = [server.url("/sitemap-index.xml")]
    with HttpFetcher(FAST) as fetcher:
        first = discover_urls(fetcher, feeds=feeds, sitemaps=sitemaps)
        stored = {s.url: Validators(etag=s.etag, last_modified=s.last_modified)
                  for s in first.sources}
        again = discover_urls(fetcher, feeds=feeds, sitemaps=sitemaps, validators=stored,
                         known_urls=[u.url for u in first.urls])
    assert first.urls and not again.urls
    # only the sitemap that is missing on the server is reported again
    assert [(r.reason, r.locator) for r in again.rejects] == [
        ("http_404", server.url("/sitemap-missing.xml"))]
    outcomes = {s.url.replace(server.base_url, ""): s.outcome for s in again.sources}
    assert outcomes["/feed.rss"] == outcomes["/feed.atom"] == "not_modified"
    assert outcomes["/sitemap.xml"] == outcomes["/news-sitemap.xml"] == "not_modified"
    assert outcomes["/sitemap-index.xml"] == "fetched"  # indexes are always read in full
    assert server.requests_for("/feed.rss")[-1].headers.get("if-none-match")


def test_caps_bound_a_run(server: NewsServer) -> None:
    config = DiscoverSettings(max_urls_per_run=3, max_urls_per_source=2)
    with HttpFetcher(FAST) as fetcher:
        found = discover_urls(fetcher, feeds=[server.url("/feed.rss")],
                         sitemaps=[server.url("/sitemap.xml")], config=config)
    assert len(found.urls) == 3 and found.capped >= 2
