"""The rows tasks/load.py builds for the warehouse store no credentials from URLs, and keep the
ids computed from the URLs as given (so identity and dedup do not change)."""

from __future__ import annotations

import datetime as dt

from tasks.load import build_batch, discovery_batch, failed_input_batch
from tasks.records import Discovery, ExactSplit, NearSplit, Outcome, SourceFetch
from warehouse.records import BandKeys, Candidate, Document, HttpFetch, Reject, source_id_for

SECRET = "S3cretT0ken"
TOKENED = f"https://news.example/a?id=7&token={SECRET}"
HIDDEN = "https://news.example/a?id=7&token=***"
WITH_PASSWORD = f"http://reader:{SECRET}@news.example/b"


def test_discovery_rows_are_redacted_under_the_real_ids() -> None:
    reject = Reject(source_id=source_id_for(WITH_PASSWORD), locator=WITH_PASSWORD,
                    content_hash=None, stage="discover", reason="credentials_in_url",
                    detail=f"user name or password in the URL (from {TOKENED})")
    feed = SourceFetch(url=f"https://news.example/feed?access_token={SECRET}", kind="feed",
                       outcome="fetched", etag='"e1"')
    batch = discovery_batch("run-1", Discovery(rejects=[reject], sources=[feed]))

    (stored,) = batch.rejects
    assert stored.locator == "http://***@news.example/b"
    assert stored.detail == f"user name or password in the URL (from {HIDDEN})"
    assert stored.source_id == source_id_for(WITH_PASSWORD)
    (fetch,) = batch.fetches
    assert fetch.url == "https://news.example/feed?access_token=***" and fetch.etag == '"e1"'
    assert SECRET not in batch.model_dump_json()


def test_a_failed_input_is_stored_redacted_under_its_real_id() -> None:
    candidate = Candidate(source_id=source_id_for(TOKENED), locator=TOKENED, kind="url")
    batch = failed_input_batch("run-1", candidate, "extract", f"ValueError: bad page {TOKENED}")

    assert [(s.source_id, s.locator) for s in batch.sources] == [(candidate.source_id, HIDDEN)]
    assert [(r.source_id, r.locator, r.detail) for r in batch.rejects] == [
        (candidate.source_id, HIDDEN, f"ValueError: bad page {HIDDEN}")]
    assert SECRET not in batch.model_dump_json()


def _document(url: str, source_id: str) -> Document:
    return Document(doc_id="d1", source_id=source_id, title="t", text="x", original_text="x",
                    url=url, canonical_url=url, final_url=url, published=None,
                    published_precision=None, author=None, site_name=None, encoding="utf-8",
                    format="html", cleaning=[])


def test_batch_rows_are_redacted_and_their_inputs_left_alone() -> None:
    page = Candidate(source_id=source_id_for(TOKENED), locator=TOKENED, kind="url")
    document = _document(TOKENED, page.source_id)
    fetch = HttpFetch(url=TOKENED, kind="article", outcome="fetched", status=200,
                      final_url=TOKENED, fetched_at=dt.datetime(2024, 3, 5))
    file = Candidate(source_id=source_id_for("/inbox/a.html"), locator="/inbox/a.html")
    outcomes = [(page, Outcome(content_hash="h1", fetch=fetch, articles=[])),
                (file, Outcome(content_hash="h2"))]
    split = ExactSplit(unique=[document], duplicates=[], same_source=[])
    batch = build_batch("run-1", outcomes, split, NearSplit(duplicates=[], bands=BandKeys()), [])

    (stored,) = batch.documents
    assert (stored.url, stored.canonical_url, stored.final_url) == (HIDDEN, HIDDEN, HIDDEN)
    assert (stored.doc_id, stored.source_id) == ("d1", page.source_id)
    assert [(s.source_id, s.locator) for s in batch.sources] == [
        (page.source_id, HIDDEN), (file.source_id, "/inbox/a.html")]
    assert [(f.url, f.final_url) for f in batch.fetches] == [(HIDDEN, HIDDEN)]
    assert SECRET not in batch.model_dump_json()
    # The stages' own records keep the real URL: only the rows for the warehouse are redacted.
    assert document.url == page.locator == fetch.url == TOKENED
