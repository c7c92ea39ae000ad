"""Reading URL lists, RSS/Atom feeds and sitemaps: bytes in, the links they hold out.

Parsed here with lxml, entities unresolved and network access off: a hostile feed cannot read
local files or make us fetch anything. We parse ourselves rather than with trafilatura's feed
helpers because those are regex-based (a broken feed is indistinguishable from an empty one),
drop the item dates, and filter out links to non-public hosts, which the test server is. Broken
XML raises DiscoveryError with a reason (bad_feed / bad_sitemap), which discovery records as a
Reject.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml import etree

from tasks.dates import parse_date
from tasks.records import Via

XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


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


def _moment(value: str | None) -> dt.datetime | None:
    return parse_date(value)[0]


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
    published = _moment(_child_text(item, "pubdate", "date", "published"))
    return Item(link=_rss_link(item) or "", base=_xml_base(item, feed_url), via=via,
                title=_child_text(item, "title"), published=published,
                lastmod=_moment(_child_text(item, "updated")))


def _atom_item(entry: etree._Element, feed_url: str) -> Item | None:
    links = [link for link in _children(entry, "link")
             if link.get("href") and link.get("rel", "alternate") == "alternate"]
    if not links:
        return None
    html_links = [link for link in links if "html" in link.get("type", "text/html")]
    link = (html_links or links)[0]
    return Item(link=link.get("href", "").strip(), base=_xml_base(link, feed_url), via="atom",
                title=_child_text(entry, "title"),
                published=_moment(_child_text(entry, "published", "issued")),
                lastmod=_moment(_child_text(entry, "updated", "modified")))


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
                lastmod=_moment(_child_text(entry, "lastmod")))
    if news is not None:
        item.via = "news_sitemap"
        item.title = _child_text(news, "title")
        item.published = _moment(_child_text(news, "publication_date"))
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
