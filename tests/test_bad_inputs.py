"""The bad-input corpus (tests/badinputs.py): every kind of bad file and URL ends as a document or
as a reject with its specific reason, the good inputs beside them all load, nothing crashes.

Three tiers: each file kind through discovery and parsing (fast, one test per kind); files that
turn bad between listing and reading; and the real flows over the whole corpus, files and URLs,
on the session's Prefect server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest

import tasks.discover
from flows.ingest_files import ingest_files
from flows.ingest_urls import ingest_urls
from flows.params import IngestFilesParams, IngestUrlsParams
from tasks.discover import discover_files
from tasks.parse import parse_file, parse_files
from tasks.records import InboxFile, Outcome
from tasks.urls import redact_url
from tests import httpserver
from tests.badinputs import (
    BAD_FILES,
    DOCUMENT,
    DUPLICATE,
    EXTRA_ROUTES,
    GROWING,
    IGNORED,
    MAX_FILE_BYTES,
    VANISHING,
    BadFile,
    article,
    bad_urls,
    document_texts,
    write_inbox,
)
from tests.conftest import SEEDS
from tests.httpserver import ARTICLE_PATH, NewsServer


def _relative(inbox: Path, locator: str) -> str:
    """The locator after the inbox's path, or after its file URI (a name that is not UTF-8)."""
    prefix = inbox.as_uri() if locator.startswith("file://") else str(inbox)
    return locator[len(prefix) + 1 :]


# --- each kind, through discovery and parsing ---------------------------------------------------


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome | str]:
    """The corpus written, discovered and parsed once: relative locator → "document" or the
    reject reason; what discovery did not list is absent."""
    inbox, outside = tmp_path_factory.mktemp("inbox"), tmp_path_factory.mktemp("outside")
    write_inbox(inbox, outside)
    found = discover_files([str(inbox)], {})
    outcomes: dict[str, str] = {}
    for _, outcome in parse_files(found.candidates, {}, MAX_FILE_BYTES):
        outcomes.update({_relative(inbox, a.locator): DOCUMENT for a in outcome.articles})
        outcomes.update({_relative(inbox, r.locator): r.reason for r in outcome.rejects})
    return outcomes


def test_the_corpus_has_thirty_kinds_at_least() -> None:
    assert len({bad.kind for bad in BAD_FILES}) == len(BAD_FILES) >= 30


@pytest.mark.parametrize("bad", BAD_FILES, ids=[bad.kind for bad in BAD_FILES])
def test_each_bad_file_is_parsed_to_its_outcome(parsed: dict[str, str], bad: BadFile) -> None:
    for locator, expected in bad.expect.items():
        assert parsed.get(locator, IGNORED) == expected, locator


def test_a_symlinked_folder_loop_lists_each_file_once(parsed: dict[str, str]) -> None:
    assert not any("/back/" in locator for locator in parsed)


# --- files that turn bad between listing and reading --------------------------------------------


@pytest.fixture
def listed(tmp_path: Path) -> tuple[Path, InboxFile]:
    """A good file, listed by discovery; the tests then change it before it is read."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "story.txt").write_text(article("listed, then changed"), encoding="utf-8")
    (candidate,) = discover_files([str(inbox)], {}).candidates
    return inbox, candidate


def _reasons(outcome: Outcome) -> list[str]:
    return [reject.reason for reject in outcome.rejects]


def test_a_file_deleted_after_listing_is_a_vanished_reject(listed) -> None:
    inbox, candidate = listed
    (inbox / "story.txt").unlink()
    assert _reasons(parse_file(candidate, None, MAX_FILE_BYTES)) == ["vanished"]


def test_a_file_grown_past_the_limit_after_listing_is_too_large(listed) -> None:
    inbox, candidate = listed
    with (inbox / "story.txt").open("r+b") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # the listed size is small: only the read can tell
    assert _reasons(parse_file(candidate, None, MAX_FILE_BYTES)) == ["too_large"]


def test_a_file_swapped_for_a_fifo_does_not_block(listed) -> None:
    inbox, candidate = listed
    (inbox / "story.txt").unlink()
    os.mkfifo(inbox / "story.txt")  # reading it would wait for a writer forever
    assert _reasons(parse_file(candidate, None, MAX_FILE_BYTES)) == ["not_a_file"]


def test_a_file_swapped_for_a_link_out_of_the_inbox_is_refused(listed, tmp_path: Path) -> None:
    inbox, candidate = listed
    (tmp_path / "secret.txt").write_text(article("private"), encoding="utf-8")
    (inbox / "story.txt").unlink()
    (inbox / "story.txt").symlink_to(tmp_path / "secret.txt")
    assert _reasons(parse_file(candidate, None, MAX_FILE_BYTES)) == ["outside_inbox"]


def test_an_inbox_inside_a_dot_folder_is_read(tmp_path: Path) -> None:
    inbox = tmp_path / ".local" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "story.txt").write_text("text")
    (inbox / ".draft.txt").write_text("an editor's temporary file")
    assert [Path(c.locator).name for c in discover_files([str(inbox)], {}).candidates] == ["story.txt"]


# --- the files flow over the whole corpus -------------------------------------------------------


def rows(db_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def outcomes_in(db_path: Path, inbox: Path) -> dict[str, str]:
    """Relative locator → what the warehouse says became of it: document, duplicate, or the
    reject reason (a reject wins over the source row that records it). A JSON Lines file's own
    row is left out: what became of it is what became of its records (`name.jsonl#n`)."""
    status = {"new": DOCUMENT, "duplicate": DUPLICATE, "rejected": "rejected without reason"}
    sql = ("select locator, status from sources where kind <> 'file'"
           " or not regexp_matches(lower(locator), '\\.jsonl?$')")
    found = {_relative(inbox, locator): status[value] for locator, value in rows(db_path, sql)}
    found.update(
        {
            _relative(inbox, locator): reason
            for locator, reason in rows(db_path, "select locator, reason from rejects")
        }
    )
    return found


def table_counts(db_path: Path) -> dict[str, int]:
    tables = ("sources", "documents", "duplicates", "mentions", "rejects", "lsh_bands")
    return {table: rows(db_path, f"select count(*) from {table}")[0][0] for table in tables}


@pytest.fixture
def bad_inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, dict]]:
    """The seeds, the bad corpus, and two files the run spoils right after discovery: one
    deleted, one grown past the size limit."""
    monkeypatch.setenv("CORPUSFLOW_MAX_FILE_BYTES", str(MAX_FILE_BYTES))
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    shutil.copytree(SEEDS, inbox)
    outside.mkdir()
    expected = {path.name: DOCUMENT for path in SEEDS.iterdir()}
    expected.update(write_inbox(inbox, outside))
    for name in (VANISHING, GROWING):
        (inbox / name).write_text(article(name), encoding="utf-8")
    expected.update({VANISHING: "vanished", GROWING: "too_large"})
    real_discover, spoiled = tasks.discover.discover_files, []

    def discover_then_spoil(*args: object, **kwargs: object) -> object:
        found = real_discover(*args, **kwargs)
        if not spoiled:  # the first run only
            spoiled.append(True)
            (inbox / VANISHING).unlink()
            with (inbox / GROWING).open("r+b") as file:
                file.truncate(MAX_FILE_BYTES + 1)
        return found

    monkeypatch.setattr(tasks.discover, "discover_files", discover_then_spoil)
    yield inbox, expected


@pytest.mark.usefixtures("prefect_server")
def test_every_bad_file_ends_as_a_document_or_a_reason_and_the_good_ones_load(
    db_path: Path, bad_inbox: tuple[Path, dict]
) -> None:
    inbox, expected = bad_inbox
    report = ingest_files(IngestFilesParams(inbox=[str(inbox)], batch_size=16))
    found = outcomes_in(db_path, inbox)
    assert {k: v for k, v in found.items() if expected.get(k, v) != v} == {}
    assert {k: v for k, v in expected.items() if v != IGNORED and k not in found} == {}
    assert {k for k, v in expected.items() if v == IGNORED} & set(found) == set()
    assert set(found) <= set(expected)  # nothing unexpected was listed
    texts = dict(
        rows(db_path, "select s.locator, d.text from documents d join sources s using (source_id)")
    )
    for locator, sentence in document_texts().items():
        assert sentence in texts[str(inbox / locator)], locator
    assert report.documents_new == sum(v == DOCUMENT for v in expected.values())
    before = table_counts(db_path)
    again = ingest_files(IngestFilesParams(inbox=[str(inbox)], batch_size=16))
    assert table_counts(db_path) == before and again.documents_new == 0


# --- the URL flow over the bad URLs -------------------------------------------------------------


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_path: Path) -> Iterator[NewsServer]:
    """The test news server with the corpus's extra pages, and settings for a quick run."""
    for path, route in EXTRA_ROUTES.items():
        monkeypatch.setitem(httpserver.ROUTES, path, route)
    monkeypatch.setenv("CORPUSFLOW_ALLOWED_NETWORKS", '["127.0.0.1"]')
    monkeypatch.setenv("CORPUSFLOW_PER_HOST_INTERVAL_S", "0.02")
    monkeypatch.setenv("CORPUSFLOW_FETCH_TIMEOUT_S", "3")
    monkeypatch.setenv("CORPUSFLOW_MAX_FETCH_BYTES", "200000")
    monkeypatch.setenv("CORPUSFLOW_MAX_RETRIES", "0")
    monkeypatch.setenv("CORPUSFLOW_ARCHIVE_DIR", str(tmp_path / "archive"))
    with NewsServer() as server:
        yield server


@pytest.mark.usefixtures("prefect_server")
def test_every_bad_url_ends_as_a_document_or_a_reason(web: NewsServer, db_path: Path) -> None:
    bad = bad_urls(web.base_url)
    assert len(bad) >= 30
    params: dict[str, list[str]] = {"urls": [web.url(ARTICLE_PATH)], "feeds": [], "sitemaps": []}
    for url in bad:
        params[url.param].append(url.url)
    report = ingest_urls(IngestUrlsParams(**params))
    found = {loc: status for loc, status in rows(db_path, "select locator, status from sources")}
    found = {loc: DOCUMENT if status == "new" else status for loc, status in found.items()}
    found.update(dict(rows(db_path, "select locator, reason from rejects")))
    expected = {web.url(ARTICLE_PATH): DOCUMENT}
    for url in bad:
        expected.update({redact_url(locator): what for locator, what in url.expect.items()})
    assert {k: found.get(k) for k, v in expected.items() if found.get(k) != v} == {}
    assert report.documents_new == sum(v == DOCUMENT for v in expected.values())
    # The unresolved entity of the XXE feed never read a local file into a request.
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    assert not hostname or not any(hostname in r.path for r in web.requests)
    assert all(urlsplit(r.path).path != "/admin" for r in web.requests)
