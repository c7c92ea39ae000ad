"""The records that pass between stages, in the order a document meets them.

Table rows (what the warehouse stores) live in warehouse/records.py; these are the stages'
hand-overs: discovery → files and URLs to read → fetched pages → read outcomes → the batch's
dedup and tagging results, which tasks/load.py turns into table rows. Plain pydantic models (or
frozen dataclasses), so they cross process boundaries to the task runner's workers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from warehouse.records import (
    BandKeys, Candidate, Document, Duplicate, HttpFetch, Mention, ParsedArticle, Precision, Reject,
)

Via = Literal["list", "rss", "atom", "rdf", "sitemap", "news_sitemap"]
FetchKind = Literal["article", "feed", "sitemap", "robots"]
DateSource = Literal["json_ld", "meta", "time_element", "url", "htmldate", "feed", "sitemap"]


# ---------------------------------------------------------------- discovery


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
    status: int | None = None  # the HTTP status of the answer, None when there was none
    etag: str | None = None
    last_modified: str | None = None
    reason: str | None = None
    urls: int = 0


class Validators(BaseModel):
    """ETag / Last-Modified stored from a previous fetch of a URL."""

    etag: str | None = None
    last_modified: str | None = None


class Discovery(BaseModel):
    """What one discovery pass found: files to read (`candidates`, with the content hashes of
    those already known) or article URLs to fetch (`urls`, with the feed and sitemap fetches
    made on the way), and how many inputs it saw and skipped as unchanged or already stored, or
    left for the next run as still being written."""

    candidates: list[Candidate] = Field(default_factory=list)
    known_hashes: dict[str, str] = Field(default_factory=dict)  # source_id → content hash
    urls: list[DiscoveredUrl] = Field(default_factory=list)
    sources: list[SourceFetch] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)
    seen: int = 0  # inputs found (but files still settling)
    unchanged: int = 0  # of them: files unchanged since the last run, URLs already stored
    settling: int = 0  # files modified too recently to read (FilesSettings.settle_s): next run
    capped: int = 0  # URLs left for a later run by the caps

    def known_hashes_of(self, batch: list[Candidate]) -> dict[str, str]:
        """The known hashes of one batch's candidates: what its parse task needs to be sent."""
        return {c.source_id: self.known_hashes[c.source_id]
                for c in batch if c.source_id in self.known_hashes}


class InboxFile(Candidate):
    """A file listed in an inbox. `root` is the inbox folder with its symlinks resolved: the
    file must not leave it once its own are (parse checks that when it opens the file). `path`
    is the name to open when the locator had to spell an undecodable name differently."""

    root: str
    path: str | None = None
    # A JSON Lines file too large for one batch is read in parts (byte ranges at line breaks);
    # `file_hash` is then the whole file's hash, computed while discovery found the parts.
    part: int = 0
    parts: int = 1
    start: int = 0
    end: int | None = None
    first_record: int = 1
    file_hash: str | None = None



def part_of(candidate: Candidate) -> InboxFile | None:
    """The candidate when it is one part of a file read in parts, else None."""
    return candidate if isinstance(candidate, InboxFile) and candidate.parts > 1 else None


def ends_its_file(candidate: Candidate) -> bool:
    """A file read whole, or the last part of one read in parts: only then is the file's own row
    written (with its size and mtime, which tell the next run it was read), so that a run
    stopped between two parts reads the file again instead of skipping the rest of it."""
    part = part_of(candidate)
    return part is None or part.part == part.parts - 1


# ---------------------------------------------------------------- fetching


class FetchRequest(BaseModel):
    """One URL to fetch, with the validators of its previous fetch for a conditional GET."""

    url: str
    kind: FetchKind = "article"
    etag: str | None = None
    last_modified: str | None = None


class RedirectHop(BaseModel):
    """One redirect taken: the URL that answered, its status and where it sent us."""

    url: str
    status: int
    location: str


class Fetched(BaseModel):
    """A successful fetch: 2xx with an accepted content type and a body within the size cap.

    `elapsed_s` is wall time from the call, politeness waits and retries included."""

    ok: Literal[True] = True
    url: str
    final_url: str
    status: int
    content_type: str | None  # media type only, lower-case
    charset: str | None  # from the Content-Type header, if any
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: bytes
    redirects: list[RedirectHop] = Field(default_factory=list)
    elapsed_s: float
    fetched_at: dt.datetime
    attempts: int = 1


class FetchFailed(BaseModel):
    """A fetch that produced no body; `reason` is one of FAIL_REASONS or http_<status>.

    `not_modified` is not an error: the server confirmed our stored copy (conditional GET).
    """

    ok: Literal[False] = False
    url: str
    reason: str
    detail: str = ""
    status: int | None = None
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    redirects: list[RedirectHop] = Field(default_factory=list)
    elapsed_s: float = 0.0
    fetched_at: dt.datetime
    attempts: int = 0


FetchResult = Fetched | FetchFailed


class ArchiveRecord(BaseModel):
    """What the warehouse stores about one archived fetch (one row per fetch)."""

    sha256: str
    path: str  # relative to the archive root
    size: int  # bytes before compression
    url: str
    final_url: str
    status: int
    content_type: str | None
    charset: str | None
    etag: str | None
    last_modified: str | None
    fetched_at: dt.datetime
    extractor: str
    extractor_version: str


class FetchedPage(BaseModel):
    """One article URL, what fetching it gave, where its body was archived, and its row."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    url: DiscoveredUrl
    result: Fetched | FetchFailed
    archive: ArchiveRecord | None = None
    row: HttpFetch  # the fetch as http_fetches stores it
    reject: Reject | None = None  # a failed fetch (not a 304) as rejects stores it


# ---------------------------------------------------------------- reading: files and pages


@dataclass(frozen=True)
class DateHint:
    """A date the feed or sitemap gave for the URL, used when the page has none."""

    date: dt.date
    source: DateSource = "feed"


class Page(BaseModel):
    """What the worker read from one HTML page (plain data: it crosses a process boundary)."""

    text: str = ""
    title: str | None = None
    author: str | None = None
    site_name: str | None = None
    date: str | None = None
    date_source: DateSource | None = None
    date_precision: Precision | None = None
    updated: str | None = None  # the last update the page states (YYYY-MM-DD), apart from `date`
    updated_source: DateSource | None = None
    updated_precision: Precision | None = None
    canonical_url: str | None = None
    page_type: str | None = None
    # tasks.pages.classify_page: why the page is no article (consent_wall, bot_wall,
    # paywall_teaser, error_page), or None; and whether a kept lead is all the page gave.
    non_article: str | None = None
    non_article_detail: str = ""
    truncated: bool = False
    link_text_ratio: float = 0.0
    link_texts_found: int = 0


class UrlArticle(ParsedArticle):
    """A ParsedArticle from the web, with what the URL side knows beyond the file fields."""

    kind: str = "url"
    format: str = "html"
    final_url: str | None = None
    canonical_url: str | None = None
    published_source: DateSource | None = None
    extractor: str  # "trafilatura <version>"


class Outcome(BaseModel):
    """What reading one file produced."""

    content_hash: str | None = None
    encoding: str | None = None
    articles: list[ParsedArticle] = []
    rejects: list[Reject] = []
    unchanged: bool = False  # same bytes as last time, only the file's stat changed
    fetch: HttpFetch | None = None  # for a URL: the fetch that produced the bytes


# ---------------------------------------------------------------- dedup and tagging of a batch


class ExactSplit(BaseModel):
    """A batch split into new texts, duplicates of other documents, and re-reads of a source's
    own document (its file changed on disk but its text did not). A new text under a canonical
    URL that an earlier document already has is new (kept) and also a `url` duplicate."""

    unique: list[Document]
    duplicates: list[Duplicate]
    same_source: list[Document]


class NearMatch(BaseModel):
    """A confirmed near duplicate: `doc_id` repeats `canonical_doc_id` with this similarity."""

    doc_id: str
    canonical_doc_id: str
    similarity: float


class NearSplit(BaseModel):
    """What near-duplicate detection found in a batch: duplicates rows and band keys to store."""

    duplicates: list[Duplicate]
    bands: BandKeys


class Tagged(BaseModel):
    """A batch's mentions in one object: Prefect links each element of a returned list to its
    task run for the rest of the flow run, and a batch has ~10 mentions per document."""

    mentions: SkipValidation[list[Mention]]
    # doc_ids of the batch left untagged because an earlier batch of the run tagged the same
    # text (tasks.entities.TextClaims); the writer tags any of them that turns out to be new.
    skipped: list[str] = []

