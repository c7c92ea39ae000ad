"""A JSON Lines file larger than a batch may read is read in parts, with the same records, the
same record numbers and one file row as when it is read whole."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from tasks.discover import discover_files, in_batches, input_bytes
from tasks.records import part_of
from warehouse.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_server")


def write_records(path: Path, records: int) -> None:
    lines = []
    for n in range(records):
        lines.append(json.dumps({"title": f"r{n}", "text": f"Dispatch {n}: grain ships left "
                                 f"Odesa for the {n % 7}th time this month, port staff said."}))
        if n % 97 == 0:
            lines.append("   ")  # blank lines do not count as records
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_parts_cover_the_file_at_line_breaks_with_record_numbers(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_records(inbox / "wire.jsonl", 1000)
    data = (inbox / "wire.jsonl").read_bytes()
    (part, *rest) = parts = discover_files([str(inbox)], {}, part_bytes=20_000).candidates
    assert len(parts) > 3 and {p.parts for p in parts} == {len(parts)}
    assert b"".join(data[p.start:p.end] for p in parts) == data
    assert sum(input_bytes(p) for p in parts) == len(data)
    assert all(data[p.start - 1:p.start] == b"\n" for p in rest)
    assert {p.file_hash for p in parts} == {hashlib.sha256(data).hexdigest()}
    lines = [line for line in data.split(b"\n") if line.strip()]
    for p in parts:  # each part starts at the record its number says
        first = [line for line in data[p.start:p.end].split(b"\n") if line.strip()][0]
        assert lines[p.first_record - 1] == first
    assert part.first_record == 1


def test_many_small_records_are_cut_by_count_too(tmp_path: Path) -> None:
    """A part's memory grows with its records more than with its bytes: a file of short records
    well under the byte limit is still cut into parts of at most `part_records` records."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_records(inbox / "wire.jsonl", 1000)
    data = (inbox / "wire.jsonl").read_bytes()
    parts = discover_files([str(inbox)], {}, part_bytes=len(data), part_records=64).candidates
    counts = [sum(1 for line in data[p.start:p.end].split(b"\n") if line.strip()) for p in parts]
    assert counts == [64] * 15 + [40]
    assert [p.first_record for p in parts] == [1 + 64 * n for n in range(16)]
    whole = discover_files([str(inbox)], {}, part_bytes=len(data), part_records=1000).candidates
    assert [part_of(p) for p in whole] == [None]  # one part: read whole
    (inbox / "note.txt").write_text("A short article about the port.", encoding="utf-8")
    found = discover_files([str(inbox)], {}, part_bytes=len(data), part_records=64).candidates
    batches = in_batches(found, size=500, max_bytes=10 * len(data))
    assert sorted(len(batch) for batch in batches) == [1] * 17  # parts are batches alone


def test_a_ramped_run_starts_and_ends_with_small_batches_and_keeps_every_input_once() -> None:
    items = list(range(2225))
    ramped = in_batches(items, size=500, ramp=True)
    assert [len(batch) for batch in ramped] == [31, 125, 500, 500, 500, 413, 125, 31]
    assert [len(b) for b in in_batches(items[:700], size=500, ramp=True)] == [31, 125, 388, 125, 31]
    # No full batch between the two ends: not cut smaller at the end.
    assert [len(b) for b in in_batches(items[:600], size=500, ramp=True)] == [31, 125, 444]
    assert [item for batch in ramped for item in batch] == items
    assert in_batches(items[:20], size=500, ramp=True) == [items[:20]]
    assert [len(batch) for batch in in_batches(items[:3], size=1, ramp=True)] == [1, 1, 1]


def run(inbox: Path, db: Path, batch_bytes: int | None):
    settings = get_settings()
    settings.warehouse.db_path = db
    if batch_bytes:
        settings.files.max_batch_bytes = batch_bytes
    return ingest_files(IngestFilesParams(inbox=[str(inbox)]), settings=settings)


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return sorted(con.execute(sql).fetchall())


def test_a_file_read_in_parts_loads_as_when_read_whole(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_records(inbox / "wire.jsonl", 1500)
    whole, parted = tmp_path / "whole.duckdb", tmp_path / "parted.duckdb"
    run(inbox, whole, None)
    report = run(inbox, parted, 30_000)
    assert (report.files_seen, report.documents_new, report.rejects_new) == (1, 1500, 0)
    for sql in ("select locator, kind, status, content_hash, size from sources",
                "select doc_id, source_id, text from documents"):
        assert rows(parted, sql) == rows(whole, sql)
    assert rows(parted, "select sum(files) from load_batches") == [(1,)]
    again = run(inbox, parted, 30_000)  # unchanged: recognised by its hash, nothing re-read
    assert (again.documents_new, again.files_unchanged) == (0, 1)


def test_a_file_whose_last_part_holds_only_bad_records_is_not_a_rejected_file(
        tmp_path: Path) -> None:
    """Good records, then a tail of records with no text: read in parts, the last part gives
    only rejects. The file row says what the file is (read, as when read whole), and each bad
    record has its own rejected row; it was marked rejected by its last part alone."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_records(inbox / "wire.jsonl", 600)
    with (inbox / "wire.jsonl").open("a", encoding="utf-8") as tail:
        tail.writelines(json.dumps({"title": f"empty {n}", "note": "x" * 200}) + "\n"
                        for n in range(300))
    whole, parted = tmp_path / "whole.duckdb", tmp_path / "parted.duckdb"
    run(inbox, whole, None)
    report = run(inbox, parted, 30_000)
    assert (report.documents_new, report.rejects_new) == (600, 300)
    file_row = "select status from sources where kind = 'file'"
    assert rows(parted, file_row) == rows(whole, file_row) == [("new",)]
    assert rows(parted, "select status, count(*) from sources where kind = 'record' group by 1"
                ) == [("new", 600), ("rejected", 300)]
