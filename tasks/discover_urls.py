"""Discovery: the article URLs a run should fetch, from URL lists, RSS/Atom feeds and sitemaps.

Feeds and sitemaps are fetched through a `Fetcher` (conditional GET with the validators of the
last run, so an unchanged feed costs one 304) and parsed here with lxml, entities unresolved and
network access off: a hostile feed cannot read local files or make us fetch anything. We parse
ourselves rather than with trafilatura's feed helpers because those are regex-based (a broken
feed is indistinguishable from an empty one), drop the item dates, and filter out links to
non-public hosts, which the test server is.

Every URL is canonicalised (tasks.urls) and deduplicated; per-source and per-run caps keep the
newest. Broken XML is a Reject (bad_feed / bad_sitemap), never an exception.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import io
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin

from lxml import etree
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict, Field

from tasks.fetch import Fetched, FetchFailed, Fetcher, FetchKind, FetchRequest, FetchResult
from tasks.urls import UrlError, canonicalize_url
from warehouse.records import Reject, source_id_for

Via = Literal["list", "rss", "atom", "rdf", "sitemap", "news_sitemap"]
STAGE = "discover"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


class DiscoveryConfig(BaseModel):
    """Caps that keep one run bounded, whatever the sources hold."""

    model_config = ConfigDict(frozen=True)

    max_urls_per_run: int = Field(1000, ge=0, description="URLs handed to fetching per run.")
    max_urls_per_source: int = Field(500, ge=0, description="URLs kept from one feed, sitemap "
                                                            "or list (the newest first).")
    max_sitemaps_per_run: int = Field(50, ge=0, description="Sitemap files fetched per run, "
                                                            "index children included.")
    max_sitemap_depth: int = Field(2, ge=0, description="Levels of sitemap indexes followed.")
    max_xml_bytes: int = Field(50_000_000, ge=1, description="Largest decompressed sitemap "
                                                             "(the sitemaps.org limit).")


class DiscoveredUrl(BaseModel):
    """One article URL to fetch, with what its source said about it."""

    url: str  # canonical
    source: str  # the feed, sitemap or list it came from
    via: Via
    title: str | None = None
    published: dt.datetime | None = None  # feed pubDate / published, news:publication_date
    lastmod: dt.datetime | None = None  # sitemap lastmod, Atom updated


class SourceFetch(BaseModel):
    """What a feed or sitemap fetch left to remember for the next run's conditional GET."""

    url: str
    kind: FetchKind
    outcome: Literal["fetched", "not_modified", "failed"]
    etag: str | None = None
    last_modified: str | None = None
    reason: str | None = None
    urls: int = 0


class Validators(BaseModel):
    """ETag / Last-Modified stored from a previous fetch of a URL."""

    etag: str | None = None
    last_modified: str | None = None


class Discovery(BaseModel):
    """Everything one discovery pass found."""

    urls: list[DiscoveredUrl] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)
    sources: list[SourceFetch] = Field(default_factory=list)
    known: int = 0  # URLs skipped because the warehouse already has them
    capped: int = 0  # URLs left for a later run by the caps


class DiscoveryError(Exception):
    """A feed or sitemap that cannot be read; `reason` is bad_feed or bad_sitemap."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass
class Item:
    """A link as a feed or sitemap wrote it, before canonicalisation."""

    link: str
    base: str
    via: Via
    title: str | None = None
    published: dt.datetime | None = None
    lastmod: dt.datetime | None = None


@dataclass
class SitemapContent:
    """A parsed sitemap: page items, or (for an index) the child sitemaps to read."""

    items: list[Item] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- lists


def read_url_list(text: str) -> list[str]:
    """URLs of a list file: one per line; blank lines and '#' comments skipped."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def list_items(urls: Iterable[str]) -> list[Item]:
    """Items for URLs given directly (a flow parameter or a list file)."""
    return [Item(link=url, base="", via="list") for url in urls]


# ---------------------------------------------------------------- XML


def parse_xml(data: bytes, reason: str) -> etree._Element:
    """The root of an XML document, parsed without entities, DTDs or network access."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             remove_comments=True, remove_pis=True, huge_tree=False)
    try:
        root = etree.fromstring(data.lstrip(), parser)
    except (etree.XMLSyntaxError, ValueError) as error:
        raise DiscoveryError(reason, f"broken XML: {error}") from None
    if root is None:
        raise DiscoveryError(reason, "empty document")
    return root


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if _local(child) == name]


def _child_text(element: etree._Element, *names: str) -> str | None:
    for name in names:
        for child in _children(element, name):
            text = "".join(child.itertext()).strip()
            if text:
                return text
    return None


def _xml_base(element: etree._Element, document_url: str) -> str:
    """The base URL in effect at an element: the document URL, then each xml:base on the way."""
    base = document_url
    for node in [*reversed(list(element.iterancestors())), element]:
        if value := node.get(XML_BASE):
            base = urljoin(base, value)
    return base


def parse_date(value: str | None) -> dt.datetime | None:
    """A timezone-aware datetime from ISO 8601 (sitemaps, Atom) or RFC 822 (RSS); naive → UTC."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------- feeds


def parse_feed(data: bytes, feed_url: str) -> list[Item]:
    """Items of an RSS 2.0, RSS 1.0 (RDF) or Atom feed; raises DiscoveryError(bad_feed)."""
    root = parse_xml(data, "bad_feed")
    kind = _local(root)
    if kind == "rss":
        channels = _children(root, "channel")
        items = [item for channel in channels for item in _children(channel, "item")]
        return [_rss_item(item, feed_url, "rss") for item in items if _rss_link(item)]
    if kind == "rdf":
        return [_rss_item(item, feed_url, "rdf") for item in _children(root, "item")
                if _rss_link(item)]
    if kind == "feed":
        entries = _children(root, "entry")
        return [item for entry in entries if (item := _atom_item(entry, feed_url))]
    raise DiscoveryError("bad_feed", f"not an RSS or Atom feed (root element <{kind}>)")


def _rss_link(item: etree._Element) -> str | None:
    link = _child_text(item, "link")
    if link:
        return link
    for guid in _children(item, "guid"):  # a guid is a permalink unless it says otherwise
        if guid.get("isPermaLink", "true").lower() != "false" and guid.text:
            return guid.text.strip()
    return None


def _rss_item(item: etree._Element, feed_url: str, via: Via) -> Item:
    published = parse_date(_child_text(item, "pubdate", "date", "published"))
    return Item(link=_rss_link(item) or "", base=_xml_base(item, feed_url), via=via,
                title=_child_text(item, "title"), published=published,
                lastmod=parse_date(_child_text(item, "updated")))


def _atom_item(entry: etree._Element, feed_url: str) -> Item | None:
    links = [link for link in _children(entry, "link")
             if link.get("href") and link.get("rel", "alternate") == "alternate"]
    if not links:
        return None
    html_links = [link for link in links if "html" in link.get("type", "text/html")]
    link = (html_links or links)[0]
    return Item(link=link.get("href", "").strip(), base=_xml_base(link, feed_url), via="atom",
                title=_child_text(entry, "title"),
                published=parse_date(_child_text(entry, "published", "issued")),
                lastmod=parse_date(_child_text(entry, "updated", "modified")))


# ---------------------------------------------------------------- sitemaps


def parse_sitemap(data: bytes, sitemap_url: str, max_bytes: int = 50_000_000) -> SitemapContent:
    """Pages or child sitemaps of a sitemap (XML, gzip or plain text); raises
    DiscoveryError(bad_sitemap)."""
    data = _gunzip(data, max_bytes) if data[:2] == b"\x1f\x8b" else data
    if not data.lstrip()[:1] == b"<":
        return _text_sitemap(data, sitemap_url)
    root = parse_xml(data, "bad_sitemap")
    kind = _local(root)
    if kind == "sitemapindex":
        return SitemapContent(sitemaps=[urljoin(sitemap_url, loc) for entry in
                                        _children(root, "sitemap")
                                        if (loc := _child_text(entry, "loc"))])
    if kind == "urlset":
        return SitemapContent(items=[item for entry in _children(root, "url")
                                     if (item := _sitemap_item(entry, sitemap_url))])
    raise DiscoveryError("bad_sitemap", f"not a sitemap (root element <{kind}>)")


def _sitemap_item(entry: etree._Element, sitemap_url: str) -> Item | None:
    loc = _child_text(entry, "loc")
    if not loc:
        return None
    news = next(iter(_children(entry, "news")), None)  # Google News sitemap extension
    item = Item(link=loc, base=sitemap_url, via="sitemap",
                lastmod=parse_date(_child_text(entry, "lastmod")))
    if news is not None:
        item.via = "news_sitemap"
        item.title = _child_text(news, "title")
        item.published = parse_date(_child_text(news, "publication_date"))
    return item


def _text_sitemap(data: bytes, sitemap_url: str) -> SitemapContent:
    # sitemaps.org allows a plain text file of URLs, one per line.
    lines = read_url_list(data.decode("utf-8", errors="replace"))
    if not lines or not all(line.startswith(("http://", "https://")) for line in lines):
        raise DiscoveryError("bad_sitemap", "neither XML nor a text list of URLs")
    return SitemapContent(items=[Item(link=line, base=sitemap_url, via="sitemap")
                                 for line in lines])


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise DiscoveryError("bad_sitemap", f"broken gzip: {error}") from None
    if len(out) > max_bytes:  # a decompression bomb, or simply too big to be a sitemap
        raise DiscoveryError("bad_sitemap", f"more than {max_bytes} bytes once decompressed")
    return out


# ---------------------------------------------------------------- items → URLs


def canonical_urls(items: Iterable[Item], source: str) -> tuple[list[DiscoveredUrl], list[Reject]]:
    """Canonical DiscoveredUrls of items; links we will not fetch become Rejects."""
    found: list[DiscoveredUrl] = []
    rejects: list[Reject] = []
    for item in items:
        try:
            url = canonicalize_url(item.link, base=item.base or None)
        except UrlError as error:
            rejects.append(_reject(item.link or "(empty link)", error.reason,
                                   f"{error.detail} (from {source})"))
            continue
        found.append(DiscoveredUrl(url=url, source=source, via=item.via, title=item.title,
                                   published=item.published, lastmod=item.lastmod))
    return found, rejects


def newest_first(urls: list[DiscoveredUrl], cap: int) -> tuple[list[DiscoveredUrl], int]:
    """At most `cap` URLs, the most recently dated first (undated keep their order, last)."""
    if len(urls) <= cap:
        return urls, 0
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    ranked = sorted(urls, key=lambda u: u.published or u.lastmod or floor, reverse=True)
    return ranked[:cap], len(urls) - cap


def merge_urls(groups: Iterable[list[DiscoveredUrl]], known: frozenset[str], cap: int
               ) -> tuple[list[DiscoveredUrl], int, int]:
    """One entry per URL across sources (first seen wins, gaps filled from later sightings),
    without URLs already known; returns (urls, known_skipped, capped)."""
    merged: dict[str, DiscoveredUrl] = {}
    skipped: set[str] = set()
    for group in groups:
        for found in group:
            if found.url in known:
                skipped.add(found.url)
            elif found.url in merged:
                first = merged[found.url]
                first.title = first.title or found.title
                first.published = first.published or found.published
                first.lastmod = first.lastmod or found.lastmod
            else:
                merged[found.url] = found.model_copy()
    urls = list(merged.values())
    return urls[:cap], len(skipped), max(0, len(urls) - cap)


def _reject(locator: str, reason: str, detail: str = "") -> Reject:
    return Reject(source_id=source_id_for(locator), locator=locator, content_hash=None,
                  stage=STAGE, reason=reason, detail=detail)


# ---------------------------------------------------------------- the discovery pass


def discover(
    fetcher: Fetcher,
    urls: Sequence[str] = (),
    feeds: Sequence[str] = (),
    sitemaps: Sequence[str] = (),
    validators: Mapping[str, Validators] | None = None,
    known_urls: Iterable[str] = (),
    config: DiscoveryConfig | None = None,
) -> Discovery:
    """The URLs to fetch this run from lists, feeds and sitemaps; never raises for bad input.

    `validators` maps a feed or sitemap URL to its last ETag/Last-Modified (conditional GET);
    `known_urls` are canonical URLs the warehouse already holds, skipped here.
    """
    config = config or DiscoveryConfig()
    validators = validators or {}
    result = Discovery()
    groups: list[list[DiscoveredUrl]] = []

    listed, rejects = canonical_urls(list_items(urls), "list")
    result.rejects += rejects
    groups.append(_capped(listed, config, result))

    for feed_url, fetched in _fetch_sources(fetcher, feeds, "feed", validators, result):
        groups.append(_read_feed(feed_url, fetched, config, result))

    groups += _read_sitemaps(fetcher, sitemaps, validators, config, result)

    result.urls, result.known, capped = merge_urls(groups, frozenset(known_urls),
                                                   config.max_urls_per_run)
    result.capped += capped
    return result


def _capped(urls: list[DiscoveredUrl], config: DiscoveryConfig, result: Discovery
            ) -> list[DiscoveredUrl]:
    kept, dropped = newest_first(urls, config.max_urls_per_source)
    result.capped += dropped
    return kept


def _fetch_sources(fetcher: Fetcher, urls: Sequence[str], kind: FetchKind,
                   validators: Mapping[str, Validators], result: Discovery
                   ) -> list[tuple[str, Fetched]]:
    """Fetch feeds or sitemaps; failures and 304s are recorded, bodies returned."""
    requests: list[FetchRequest] = []
    for url in dict.fromkeys(urls):
        known = validators.get(url, Validators())
        requests.append(FetchRequest(url=url, kind=kind, etag=known.etag,
                                     last_modified=known.last_modified))
    bodies: list[tuple[str, Fetched]] = []
    for request, fetched in zip(requests, fetcher.fetch_many(requests), strict=True):
        result.sources.append(_source_record(request, fetched))
        if isinstance(fetched, Fetched):
            bodies.append((request.url, fetched))
        elif fetched.reason != "not_modified":
            result.rejects.append(_reject(request.url, fetched.reason, fetched.detail))
    return bodies


def _source_record(request: FetchRequest, fetched: FetchResult) -> SourceFetch:
    if isinstance(fetched, FetchFailed):
        outcome = "not_modified" if fetched.reason == "not_modified" else "failed"
        return SourceFetch(url=request.url, kind=request.kind, outcome=outcome,
                           etag=fetched.etag, last_modified=fetched.last_modified,
                           reason=None if outcome == "not_modified" else fetched.reason)
    return SourceFetch(url=request.url, kind=request.kind, outcome="fetched",
                       etag=fetched.etag, last_modified=fetched.last_modified)


def _read_feed(feed_url: str, fetched: Fetched, config: DiscoveryConfig, result: Discovery
               ) -> list[DiscoveredUrl]:
    try:
        items = parse_feed(fetched.body, fetched.final_url)
    except DiscoveryError as error:
        _unreadable(result, feed_url, error)
        return []
    found, rejects = canonical_urls(items, feed_url)
    result.rejects += rejects
    _count_urls(result, feed_url, len(found))
    return _capped(found, config, result)


def _read_sitemaps(fetcher: Fetcher, roots: Sequence[str], validators: Mapping[str, Validators],
                   config: DiscoveryConfig, result: Discovery) -> list[list[DiscoveredUrl]]:
    """Read sitemaps level by level, following indexes down to `max_sitemap_depth`."""
    groups: list[list[DiscoveredUrl]] = []
    level, seen, budget = list(dict.fromkeys(roots)), set(roots), config.max_sitemaps_per_run
    for depth in range(config.max_sitemap_depth + 1):
        batch, level = level[:budget], []
        budget -= len(batch)
        for url, fetched in _fetch_sources(fetcher, batch, "sitemap", validators, result):
            try:
                content = parse_sitemap(fetched.body, fetched.final_url, config.max_xml_bytes)
            except DiscoveryError as error:
                _unreadable(result, url, error)
                continue
            if content.sitemaps:
                # An index's own validators say nothing about its children, which change
                # without it: indexes are always fetched in full (they are small).
                _source_of(result, url).etag = _source_of(result, url).last_modified = None
            found, rejects = canonical_urls(content.items, url)
            result.rejects += rejects
            _count_urls(result, url, len(found))
            groups.append(_capped(found, config, result))
            children = [c for c in content.sitemaps if c not in seen]
            if children and depth == config.max_sitemap_depth:
                result.rejects.append(_reject(url, "sitemap_too_deep", f"{len(children)} child "
                                      f"sitemaps below depth {config.max_sitemap_depth}"))
                continue
            seen.update(children)
            level += children
        if not level or budget <= 0:
            break
    return groups


def _source_of(result: Discovery, source_url: str) -> SourceFetch:
    return next(s for s in reversed(result.sources) if s.url == source_url)


def _count_urls(result: Discovery, source_url: str, count: int) -> None:
    _source_of(result, source_url).urls = count


def _unreadable(result: Discovery, source_url: str, error: DiscoveryError) -> None:
    """A fetched source that does not parse: a Reject, and no validators, so that the next
    run reads it again instead of trusting a 304 for a broken file."""
    result.rejects.append(_reject(source_url, error.reason, error.detail))
    source = _source_of(result, source_url)
    source.outcome, source.reason = "failed", error.reason
    source.etag = source.last_modified = None


@task(name="discover-urls", cache_policy=NO_CACHE)
def discover_urls_stage(
    urls: list[str], url_file: str | None, feeds: list[str], sitemaps: list[str]
) -> Discovery:
    """Article URLs to fetch this run, from lists, a list file, feeds and sitemaps; feeds and
    sitemaps are fetched with the validators of their last fetch (conditional GET)."""
    from pathlib import Path

    from tasks.fetch import HttpFetcher
    from tasks.pages import fetch_config
    from warehouse import queries
    from warehouse.connection import writer
    from warehouse.settings import get_settings

    settings = get_settings()
    if url_file and not Path(url_file).is_file():
        raise FileNotFoundError(f"URL list {url_file!r} does not exist")
    listed = [*urls, *(read_url_list(Path(url_file).read_text(encoding="utf-8")) if url_file else [])]
    with writer(settings.db_path, settings.lock_timeout_s) as con:
        known = queries.known_urls(con)
        stored = queries.url_validators(con, [*feeds, *sitemaps])
    validators = {url: Validators(etag=e, last_modified=m) for url, (e, m) in stored.items()}
    config = DiscoveryConfig(max_urls_per_run=settings.max_urls_per_run)
    with HttpFetcher(fetch_config(settings)) as fetcher:
        return discover(fetcher, listed, feeds, sitemaps, validators, known, config)
