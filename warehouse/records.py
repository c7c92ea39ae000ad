"""Records: one pydantic model per table row (field names equal column names), plus the
in-flight records that stages pass each other. No duckdb, no prefect: every layer imports this."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field, SkipValidation

Label = Literal["PER", "ORG", "LOC", "MISC"]
Precision = Literal["day", "month", "year"]
DuplicateMethod = Literal["exact", "url", "near"]
SourceStatus = Literal["new", "duplicate", "rejected"]


def sha256_hex(data: bytes | str) -> str:
    """Hex SHA-256 of bytes, or of a string's UTF-8 encoding."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def utc_naive(moment: dt.datetime) -> dt.datetime:
    """A naive UTC timestamp, as the warehouse stores them."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def utc_now() -> dt.datetime:
    """Now, as the warehouse stores every time: naive UTC, taken here rather than from DuckDB,
    whose current_timestamp is in the machine's time zone (ICU), which put `runs` hours away
    from the rest on a machine not on UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def source_id_for(locator: str) -> str:
    """Stable key of a source (a file path or a URL): a hash of its locator."""
    return sha256_hex(locator)[:32]


class Candidate(BaseModel):
    """An input to read this run: a file that is new or changed since the last run, or a URL."""

    source_id: str
    locator: str
    kind: str = "file"  # file, url
    size: int | None = None
    mtime_ns: int | None = None


class KnownSource(NamedTuple):
    """What the warehouse remembers of a source, enough to skip it cheaply. A tuple: a run reads
    one per file it has seen (100,000 pydantic objects took 0.7 s of a no-change run)."""

    source_id: str
    size: int | None
    mtime_ns: int | None
    content_hash: str | None


class FetchRetry(NamedTuple):
    """Which stored URLs a later run fetches again (Reads.known_urls): those whose last fetch
    failed for a reason matching one of `reasons` (SQL LIKE patterns: tasks/http.py's
    RETRY_REASONS) and that have failed fewer than `max_attempts` fetches in all."""

    reasons: tuple[str, ...]
    max_attempts: int


class ParsedArticle(BaseModel):
    """One article as a parser read it, before cleaning."""

    source_id: str
    locator: str
    kind: str = "file"
    format: str
    content_hash: str
    size: int
    mtime_ns: int | None = None
    encoding: str
    title: str | None = None
    text: str
    url: str | None = None
    published: dt.date | None = None
    published_precision: Precision | None = None
    author: str | None = None
    site_name: str | None = None
    record_no: int = 0  # position inside a multi-record file (JSON Lines)
    final_url: str | None = None  # where a fetched page ended up after redirects
    published_source: str | None = None  # where a web page's date came from
    extractor: str | None = None  # name and version of the HTML extractor
    # What reading had to repair or drop (e.g. an impossible date header); cleaning puts these
    # first in the document's `cleaning` notes.
    repairs: list[str] = Field(default_factory=list)
    encoding_rule: str | None = None  # which rule of tasks/decode.py chose `encoding`
    updated: dt.date | None = None  # the last update the page states, apart from `published`
    updated_precision: Precision | None = None
    updated_source: str | None = None
    truncated: bool = False  # a paywall teaser kept because it is the article's real lead


class Reject(BaseModel):
    """A row of `rejects`: an input that did not become a document, and why."""

    source_id: str
    locator: str
    content_hash: str | None
    stage: str
    reason: str
    detail: str = ""


class CleanArticle(ParsedArticle):
    """A parsed article after cleaning; `original_text` keeps the parser's text untouched."""

    original_text: str
    text_hash: str
    canonical_url: str | None = None
    cleaning: list[str] = Field(default_factory=list)


class Document(BaseModel):
    """A row of `documents`: one per distinct normalised text."""

    doc_id: str
    source_id: str
    title: str | None
    text: str
    original_text: str
    url: str | None
    canonical_url: str | None
    published: dt.date | None
    published_precision: Precision | None
    author: str | None
    site_name: str | None
    encoding: str
    format: str
    cleaning: list[str]
    final_url: str | None = None
    published_source: str | None = None
    extractor: str | None = None
    language: str = "und"
    language_prob: float = 0.0
    encoding_rule: str | None = None
    updated: dt.date | None = None
    updated_precision: Precision | None = None
    updated_source: str | None = None
    truncated: bool = False


class Duplicate(BaseModel):
    """A row of `duplicates`: a source whose text is already held by a canonical document."""

    source_id: str
    doc_id: str | None  # the duplicate's own document, when it has one (near duplicates)
    canonical_doc_id: str
    method: DuplicateMethod
    similarity: float


class Mention(NamedTuple):
    """A row of `mentions`: one entity mention, with offsets into `documents.text`. A tuple, not
    a model: the tagging workers send back about 30 per document, and a pydantic object costs
    ten times a tuple to unpickle and to turn into a row (about 0.7 s of the flow's CPU per
    BBC run). Only tasks/ner.py makes them."""

    doc_id: str
    tagger: str
    start_char: int
    end_char: int
    label: Label
    text: str
    key: str


class Source(BaseModel):
    """A row of `sources`: every input seen, with its hash and what became of it."""

    source_id: str
    locator: str
    kind: str
    size: int | None
    mtime_ns: int | None
    content_hash: str | None
    encoding: str | None
    status: SourceStatus
    doc_id: str | None


class HttpFetch(BaseModel):
    """A row of `http_fetches`: one HTTP fetch (article, feed or sitemap) and its raw archive."""

    url: str
    kind: str  # article, feed, sitemap
    outcome: Literal["fetched", "not_modified", "failed"]
    reason: str | None = None
    status: int | None = None
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    sha256: str | None = None  # of the archived body
    archive_path: str | None = None  # relative to the archive folder
    size: int | None = None
    extractor: str | None = None
    extractor_version: str | None = None
    fetched_at: dt.datetime


class BandKeys(BaseModel):
    """Rows of `lsh_bands` by document: `keys[i]` holds one LSH band hash per band (band = its
    position) of document `doc_ids[i]`. Kept by column: a batch of small records has tens of
    thousands of documents and 32 keys each, and a model object per key took hundreds of MB."""

    doc_ids: list[str] = Field(default_factory=list)
    keys: list[list[int]] = Field(default_factory=list)

    def add(self, doc_id: str, keys: list[int]) -> None:
        self.doc_ids.append(doc_id)
        self.keys.append(keys)

    def __len__(self) -> int:
        return len(self.doc_ids)

    def columns(self) -> dict[str, list]:
        """doc_id, band and key as flat columns, one entry per row of `lsh_bands`."""
        doc_ids, bands, keys = [], [], []
        for doc_id, row in zip(self.doc_ids, self.keys, strict=True):
            doc_ids += [doc_id] * len(row)
            bands += range(len(row))
            keys += row
        return {"doc_id": doc_ids, "band": bands, "key": keys}

    def without(self, doc_ids: set[str]) -> BandKeys:
        """The keys of the other documents, each document once."""
        seen = set(doc_ids)
        kept = [n for n, doc_id in enumerate(self.doc_ids)
                if doc_id not in seen and not seen.add(doc_id)]
        return BandKeys(doc_ids=[self.doc_ids[n] for n in kept], keys=[self.keys[n] for n in kept])


class StorySplit(BaseModel):
    """What story grouping found in a batch, as columns of its tables (tasks/stories.py):
    `story_terms` rows, document counts to add to `story_term_counts`, `story_members` and
    `story_links` rows (run_id and times are the loader's)."""

    terms: dict[str, list] = Field(default_factory=dict)
    counts: dict[str, list] = Field(default_factory=dict)
    members: dict[str, list] = Field(default_factory=dict)
    links: dict[str, list] = Field(default_factory=dict)


class Batch(BaseModel):
    """Everything one batch writes, loaded in one transaction."""

    batch_id: str
    run_id: str
    files: int = 0  # files this batch read
    files_unchanged: int = 0  # of those, files whose text was already stored from them
    touched: list[Candidate] = Field(default_factory=list)  # new stat, same bytes
    sources: list[Source] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)
    duplicates: list[Duplicate] = Field(default_factory=list)
    mentions: SkipValidation[list[Mention]] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)
    bands: BandKeys = Field(default_factory=BandKeys)
    fetches: list[HttpFetch] = Field(default_factory=list)
    stories: StorySplit = Field(default_factory=StorySplit)
