"""Assemble one batch's rows (sources, documents, duplicates, mentions, rejects) for the loader.

Every URL a row stores is redacted here, last (`redact_batch`): user names, passwords and
tokens in URLs never reach the warehouse. Source and document ids are computed before, from the
URLs as given, so identity and dedup do not depend on redaction.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from tasks.records import (
    Discovery, ExactSplit, FetchedPage, NearSplit, Outcome, SourceFetch, Tagged, ends_its_file,
)
from tasks.urls import redact_text, redact_url
from warehouse.records import (
    Batch, Candidate, HttpFetch, Mention, ParsedArticle, Reject, Source, StorySplit, sha256_hex,
    source_id_for, utc_naive,
)
from warehouse.session import Warehouse

Row = TypeVar("Row", bound=BaseModel)


def batch_id_for(run_id: str, outcomes: list[tuple[Candidate, Outcome]]) -> str:
    """A batch's ledger key: its run and the exact bytes it read, so a retried task is a no-op."""
    parts = sorted(f"{c.source_id}:{o.content_hash}:{getattr(c, 'part', 0)}" for c, o in outcomes)
    return sha256_hex("\n".join([run_id, *parts]))[:32]


def _source(article: ParsedArticle | Reject, kind: str, status: str, doc_id: str | None,
            candidate: Candidate | None = None, encoding: str | None = None) -> Source:
    return Source(
        source_id=article.source_id, locator=article.locator, kind=kind,
        size=candidate.size if candidate else None,
        mtime_ns=candidate.mtime_ns if candidate else None,
        content_hash=article.content_hash, encoding=encoding, status=status, doc_id=doc_id,
    )


def redact_batch(batch: Batch) -> Batch:
    """The batch with every stored URL redacted (tasks.urls.redact_url): documents' url,
    canonical_url and final_url, sources' and rejects' locators, rejects' details (an error
    message can quote a URL), and http_fetches' url and final_url. Keys are left as they are."""
    return batch.model_copy(update={
        "documents": [_redacted(d, "url", "canonical_url", "final_url") for d in batch.documents],
        "sources": [_redacted(s, "locator") for s in batch.sources],
        "rejects": [_redacted(r, "locator", text="detail") for r in batch.rejects],
        "fetches": [_redacted(f, "url", "final_url") for f in batch.fetches],
    })


def _redacted(row: Row, *urls: str, text: str = "") -> Row:
    """A copy of the row with its URL fields, and its free-text field, redacted."""
    changes = {name: redact_url(getattr(row, name)) for name in urls if getattr(row, name)}
    if text:
        changes[text] = redact_text(getattr(row, text))
    return row.model_copy(update=changes)


def source_statuses(split: ExactSplit) -> dict[str, tuple[str, str]]:
    """source_id → (status, doc_id) for every article that survived parsing."""
    statuses = {a.source_id: ("new", a.doc_id) for a in [*split.unique, *split.same_source]}
    statuses.update({d.source_id: ("duplicate", d.canonical_doc_id)
                     for d in split.duplicates if d.method == "exact"})
    return statuses


def file_sources(
    candidate: Candidate, outcome: Outcome, statuses: dict[str, tuple[str, str]]
) -> list[Source]:
    """The sources rows one read input produces: the file or URL (for a file read in parts,
    with its last part), plus one per record of a JSON Lines file."""
    own = statuses.get(candidate.source_id)
    holds_records = any(item.source_id != candidate.source_id
                        for item in [*outcome.articles, *outcome.rejects])
    if holds_records:
        # A JSON Lines file is rejected only for itself (unreadable, too large), never for its
        # records, which have rows of their own: a file read in parts whose last part held only
        # bad records was marked rejected, though its earlier parts gave documents.
        itself = any(r.source_id == candidate.source_id for r in outcome.rejects)
        status, doc_id = ("rejected" if itself else "new"), None
    else:
        status, doc_id = own or ("new" if outcome.articles else "rejected", None)
    file_row = Source(
        source_id=candidate.source_id, locator=candidate.locator, kind=candidate.kind,
        size=candidate.size, mtime_ns=candidate.mtime_ns, content_hash=outcome.content_hash,
        encoding=outcome.encoding, status=status, doc_id=doc_id,
    )
    records = [
        _source(a, "record", *statuses[a.source_id], encoding=a.encoding)
        for a in outcome.articles if a.kind == "record" and a.source_id in statuses
    ]
    records += [_source(r, "record", "rejected", None) for r in outcome.rejects
                if r.source_id != candidate.source_id]
    return [file_row, *records] if ends_its_file(candidate) else records


def new_mentions(mentions: list[Mention], new: set[str]) -> list[Mention]:
    """The mentions of the batch's new documents, each once: exact copies of a text in the batch
    were tagged too (tagging runs before dedup) and repeat the first copy's mentions, which would
    inflate the ledger's and the report's counts (DuckDB keeps one row per key regardless)."""
    unique: dict[tuple, Mention] = {}
    for m in mentions:
        if m.doc_id in new:
            unique.setdefault((m.doc_id, m.tagger, m.start_char, m.end_char, m.label), m)
    return list(unique.values())


def build_batch(
    run_id: str,
    outcomes: list[tuple[Candidate, Outcome]],
    split: ExactSplit,
    near: NearSplit,
    mentions: list[Mention],
    stories: StorySplit | None = None,
) -> Batch:
    """Everything one batch writes, ready for a single transaction: the new documents (and
    their mentions; copies of stored texts were tagged too, but their mentions are stored)."""
    statuses = source_statuses(split)
    same_source = {a.source_id for a in split.same_source}
    new = {d.doc_id for d in split.unique}
    files = sum(ends_its_file(candidate) for candidate, _ in outcomes)
    batch = Batch(batch_id=batch_id_for(run_id, outcomes), run_id=run_id, files=files,
                  documents=split.unique, duplicates=[*split.duplicates, *near.duplicates],
                  mentions=new_mentions(mentions, new), bands=near.bands,
                  stories=stories or StorySplit())
    for candidate, outcome in outcomes:
        if outcome.unchanged:
            if candidate.kind == "file":
                batch.touched.append(candidate)
            batch.files_unchanged += 1
            continue
        batch.sources += file_sources(candidate, outcome, statuses)
        batch.rejects += outcome.rejects
        if outcome.fetch:
            batch.fetches.append(outcome.fetch)
        if (outcome.articles and all(a.source_id in same_source for a in outcome.articles)
                and ends_its_file(candidate)):
            batch.files_unchanged += 1
    return redact_batch(batch)


def source_fetch_row(source: SourceFetch, fetched_at: dt.datetime) -> HttpFetch:
    """The http_fetches row of a feed or sitemap fetch made during discovery."""
    return HttpFetch(url=source.url, kind=source.kind, outcome=source.outcome,
                     status=source.status, reason=source.reason, etag=source.etag,
                     last_modified=source.last_modified, fetched_at=utc_naive(fetched_at))


def discovery_batch(run_id: str, discovery: Discovery) -> Batch:
    """The rows discovery leaves: feed and sitemap fetches (their validators), and rejects."""
    now = dt.datetime.now(dt.UTC)
    return redact_batch(Batch(
        batch_id=sha256_hex(f"{run_id}:discovery")[:32], run_id=run_id, rejects=discovery.rejects,
        fetches=[source_fetch_row(source, now) for source in discovery.sources]))


def failed_input_batch(run_id: str, item: Candidate | FetchedPage, stage: str, detail: str
                       ) -> Batch:
    """The rows of an input a stage failed on, alone: a reject with the stage and the error, and
    its source as `rejected` (with the file's size and mtime, so the next run skips it unless it
    changed)."""
    candidate = item if isinstance(item, Candidate) else Candidate(
        source_id=source_id_for(item.url.url), locator=item.url.url, kind="url")
    reject = Reject(source_id=candidate.source_id, locator=candidate.locator, content_hash=None,
                    stage=stage, reason="stage_error", detail=detail)
    source = Source(source_id=candidate.source_id, locator=candidate.locator, kind=candidate.kind,
                    size=candidate.size, mtime_ns=candidate.mtime_ns, content_hash=None,
                    encoding=None, status="rejected", doc_id=None)
    return redact_batch(Batch(batch_id=sha256_hex(f"{run_id}:failed:{candidate.source_id}")[:32],
                              run_id=run_id, files=1, sources=[source], rejects=[reject]))


@task(name="load", cache_policy=NO_CACHE)
def load_stage(
    session: Warehouse,
    run_id: str,
    outcomes: list[tuple[Candidate, Outcome]],
    split: ExactSplit,
    near: NearSplit,
    tagged: Tagged,
    stories: StorySplit | None = None,
) -> bool:
    """Write the batch in one transaction; False when the ledger shows it was written already."""
    loaded = session.load_batch(build_batch(run_id, outcomes, split, near, tagged.mentions,
                                            stories))
    session.publish_progress(run_id)
    return loaded


@task(name="load-discovery", cache_policy=NO_CACHE)
def load_discovery_stage(session: Warehouse, run_id: str, discovery: Discovery) -> bool:
    """Record what discovery fetched (feed and sitemap validators) and rejected."""
    return session.load_batch(discovery_batch(run_id, discovery))


@task(name="reject-input", cache_policy=NO_CACHE)
def reject_input_stage(session: Warehouse, run_id: str, item: Candidate | FetchedPage, stage: str,
                       detail: str) -> bool:
    """Record an input a stage failed on, alone, as a reject."""
    return session.load_batch(failed_input_batch(run_id, item, stage, detail))
