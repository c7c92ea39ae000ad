"""One bad document never blocks a batch or a later run: stray NUL bytes, an impossible date
header, names that are not UTF-8, files still being written, and files that change.

Pure tables first (decode, parse, clean, discover), then the ingest-files flow end to end on the
session's Prefect server into a real DuckDB file."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import duckdb
import pytest

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from tasks.clean import clean_article
from tasks.decode import BinaryContent, decode
from tasks.discover import discover_files
from tasks.parse import parse_file
from tasks.records import InboxFile
from warehouse.records import CleanArticle

STORY = (
    "Grain ships left Odesa on Monday under a new corridor deal, port officials said. The "
    "convoy of twelve vessels carried wheat and maize bound for Egypt and Turkey, and insurers "
    "said premiums had fallen for the first time since the spring.\n\n"
)
OTHER = (
    "Rome's city council approved the new tram line to the eastern suburbs on Thursday night, "
    "after a debate of nine hours. Work starts in March and the first trams run in 2027, the "
    "mayor told reporters outside the Campidoglio.\n\n"
)


def read_one(path: Path, inbox: Path) -> CleanArticle:
    """The file at `path`, discovered in `inbox`, read and cleaned as the flow would."""
    (candidate,) = [c for c in discover_files([str(inbox)], {}).candidates
                    if (c.path or c.locator) == str(path)]
    outcome = parse_file(candidate, None, 1_000_000)
    assert not outcome.rejects, outcome.rejects
    (article,) = outcome.articles
    return clean_article(article)


# --- 1. a few NUL bytes are no binary file --------------------------------------------------


def test_stray_nul_bytes_in_the_first_4_kib_decode_as_text() -> None:
    data = b"\x00" + STORY.encode() + b"\x00\x00" + OTHER.encode()
    text, encoding = decode(data)
    assert encoding == "utf-8" and text.count("\x00") == 3 and "Grain ships" in text


@pytest.mark.parametrize("data", [
    random.Random(7).randbytes(4096),  # noise: about 10% control bytes
    bytes(range(256)) * 16,
    b"\x00\x01\x02" * 100 + STORY.encode(),  # a binary header before some text
])
def test_data_mostly_control_bytes_stays_binary(data: bytes) -> None:  # as it always was
    with pytest.raises(BinaryContent):
        decode(data)


def test_utf16_without_a_bom_is_still_found_by_its_zero_bytes() -> None:
    assert decode(STORY.encode("utf-16-le")) == (STORY, "utf-16-le")
    assert decode(STORY.encode("utf-16-be")) == (STORY, "utf-16-be")


def test_a_document_keeps_its_text_without_the_nul_bytes_and_notes_it(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_bytes(STORY.encode().replace(b" ", b" \x00", 3))
    clean = read_one(path, tmp_path)
    assert "\x00" not in clean.text and "\x00" not in clean.original_text
    assert "Grain ships left Odesa on Monday under a new corridor deal" in clean.text
    assert "removed_nul:3" in clean.cleaning


# --- 2. an impossible date header -----------------------------------------------------------


@pytest.mark.parametrize("header", ["date 2024-13-45", " date 2024-02-30", "DATE 2023-00"])
def test_an_impossible_date_header_leaves_the_text_and_stores_no_date(
        tmp_path: Path, header: str) -> None:
    path = tmp_path / "story.txt"
    path.write_text(f"{header}\n{STORY}https://news.example/odesa\n", encoding="utf-8")
    clean = read_one(path, tmp_path)
    assert clean.text.startswith("Grain ships") and "date" not in clean.text.lower()
    assert (clean.published, clean.published_precision) == (None, None)
    assert clean.url == "https://news.example/odesa"
    written = header.split()[1]
    assert clean.cleaning[0] == f"invalid_date_header:{written}"


# --- 3. file names that are not UTF-8 -------------------------------------------------------


def write_named(inbox: Path, name: bytes, text: str) -> None:
    with open(os.fsencode(inbox) + b"/" + name, "wb") as file:
        file.write(text.encode("utf-8"))


def test_a_byte_0xff_and_the_characters_backslash_xff_are_two_sources(tmp_path: Path) -> None:
    write_named(tmp_path, b"caf\xff.txt", STORY)
    write_named(tmp_path, b"caf\\xff.txt", OTHER)
    write_named(tmp_path, "città 100%.txt".encode(), STORY + OTHER)
    found = {c.locator: c for c in discover_files([str(tmp_path)], {}).candidates}
    assert len({c.source_id for c in found.values()}) == 3
    # Valid UTF-8 names keep their locator (a source id in users' warehouses) ...
    assert {str(tmp_path / "caf\\xff.txt"), str(tmp_path / "città 100%.txt")} <= set(found)
    # ... and one that is not becomes its file URI, which percent-decodes to its exact bytes.
    uri = f"{tmp_path.as_uri()}/caf%FF.txt"
    assert isinstance(found[uri], InboxFile) and found[uri].path == os.fsdecode(
        os.fsencode(tmp_path) + b"/caf\xff.txt")
    texts = {locator: parse_file(c, None, 1_000_000).articles[0].text
             for locator, c in found.items()}
    assert texts[uri].startswith("Grain ships")
    assert texts[str(tmp_path / "caf\\xff.txt")].startswith("Rome's city council")


# --- 4a. files still being written ----------------------------------------------------------


def test_a_file_modified_within_the_settle_time_is_left_for_the_next_run(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text(STORY, encoding="utf-8")
    (tmp_path / "new.txt").write_text(OTHER, encoding="utf-8")
    now = time.time_ns()
    os.utime(tmp_path / "old.txt", ns=(now - 60 * 10**9, now - 60 * 10**9))
    os.utime(tmp_path / "new.txt", ns=(now - 10**9, now - 10**9))
    found = discover_files([str(tmp_path)], {}, settle_s=5, now_ns=now)
    assert [Path(c.locator).name for c in found.candidates] == ["old.txt"]
    assert (found.seen, found.settling) == (1, 1)
    later = discover_files([str(tmp_path)], {}, settle_s=5, now_ns=now + 5 * 10**9)
    assert [Path(c.locator).name for c in later.candidates] == ["new.txt", "old.txt"]
    # A stamp far in the future is a wrong clock, not a writer: the file is read.
    os.utime(tmp_path / "new.txt", ns=(now + 3600 * 10**9, now + 3600 * 10**9))
    ahead = discover_files([str(tmp_path)], {}, settle_s=5, now_ns=now)
    assert ahead.settling == 0 and len(ahead.candidates) == 2


# --- the flow, end to end -------------------------------------------------------------------


def run(inbox: Path):
    return ingest_files(IngestFilesParams(inbox=[str(inbox)]))


def query(db_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.usefixtures("prefect_server")
def test_a_file_still_being_written_waits_for_the_next_run(
        db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUSFLOW_SETTLE_S", "60")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "story.txt").write_text(STORY[:90], encoding="utf-8")  # half-way through a copy
    report = run(inbox)
    assert (report.files_seen, report.documents_new, report.rejects_new) == (0, 0, 0)
    (inbox / "story.txt").write_text(STORY, encoding="utf-8")
    past = time.time_ns() - 120 * 10**9
    os.utime(inbox / "story.txt", ns=(past, past))  # the copy is done, and settled
    report = run(inbox)
    assert (report.files_seen, report.documents_new) == (1, 1)
    assert query(db_path, "select text from documents") == [(STORY.strip(),)]


@pytest.mark.usefixtures("prefect_server")
def test_a_changed_file_supersedes_its_earlier_document(db_path: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    story = inbox / "story.txt"
    story.write_text(STORY, encoding="utf-8")
    (inbox / "steady.txt").write_text(OTHER, encoding="utf-8")
    run(inbox)
    story.write_text(STORY + "Officials expect a second convoy on Friday.", encoding="utf-8")
    report = run(inbox)
    assert report.documents_new == 1
    rows = query(db_path, "select d.doc_id, d.superseded_by, s.doc_id = d.doc_id from documents d"
                 " join sources s using (source_id) where s.locator like '%story.txt'"
                 " order by d.created_at")
    assert len(rows) == 2
    (old, old_next, old_current), (new, new_next, new_current) = rows
    assert (old_next, new_next) == (new, None)  # the earlier version points to the current one
    assert (old_current, new_current) == (False, True)
    steady = query(db_path, "select superseded_by from documents where text like 'Rome%'")
    assert steady == [(None,)]  # an unchanged file: no link
    before = query(db_path, "select doc_id, superseded_by from documents order by doc_id")
    report = run(inbox)  # nothing changed: nothing new, no link moves
    assert (report.documents_new, report.files_unchanged) == (0, 2)
    assert query(db_path, "select doc_id, superseded_by from documents order by doc_id") == before
    story.write_text(STORY, encoding="utf-8")  # back to the first text: current again
    run(inbox)
    links = dict(query(db_path, "select doc_id, superseded_by from documents"))
    assert (links[old], links[new]) == (None, old)
    assert query(db_path, "select count(*) from documents")[0][0] == 3


@pytest.mark.usefixtures("prefect_server")
def test_names_once_spelled_alike_load_as_two_sources(db_path: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_named(inbox, b"caf\xff.txt", STORY)
    write_named(inbox, b"caf\\xff.txt", OTHER)
    report = run(inbox)
    assert (report.files_seen, report.documents_new) == (2, 2)
    rows = query(db_path, "select locator, status from sources")
    assert set(rows) == {(f"{inbox.as_uri()}/caf%FF.txt", "new"),
                         (str(inbox / "caf\\xff.txt"), "new")}


@pytest.mark.usefixtures("prefect_server")
def test_a_file_read_again_counts_only_the_duplicates_and_rejects_it_adds(
        db_path: Path, tmp_path: Path) -> None:
    """A JSON Lines file with a repeated record and a bad one, read again after a record is
    appended: the second run reports the new document and none of the duplicate and reject
    the first run recorded (it counted them again, though no row was added)."""
    import json

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    records = [{"title": "Grain ships", "text": STORY}, {"title": "Grain ships", "text": STORY},
               {"title": "no text"}]
    feed = inbox / "wire.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    first = run(inbox)
    assert (first.documents_new, first.duplicates_new, first.rejects_new) == (1, 1, 1)
    with feed.open("a", encoding="utf-8") as more:
        more.write(json.dumps({"title": "Tram line", "text": OTHER}) + "\n")
    second = run(inbox)
    assert (second.documents_new, second.duplicates_new, second.rejects_new) == (1, 0, 0)
    assert query(db_path, "select count(*) from duplicates") == [(1,)]
    assert query(db_path, "select count(*) from rejects") == [(1,)]
