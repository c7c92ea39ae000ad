"""Property: whatever files land in the inbox (sizes up to a few MB, odd contents), a run
completes and every file ends as a document, a duplicate or a reject; a second run adds nothing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from warehouse.settings import get_settings

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

MB = 1_000_000
units = st.text(min_size=1, max_size=40) | st.sampled_from(
    ["Kyiv said on Monday. ", "\x00", "🙂", "\ufeff", "date 2024-13-45\n", "\r\n", "é", " "])


@st.composite
def file_contents(draw: st.DrawFn) -> tuple[str, bytes]:
    """(suffix, bytes): text repeated up to a few MB, raw bytes, or JSON Lines records."""
    kind = draw(st.sampled_from(["txt", "txt", "html", "jsonl", "bytes"]))
    if kind == "bytes":
        return ".txt", draw(st.binary(max_size=5000))
    unit = draw(units)
    size = draw(st.integers(0, 3 * MB) if kind == "txt" else st.integers(0, 200_000))
    text = (unit * (size // len(unit) + 1))[:size]
    if kind == "html":
        return ".html", f"<html><body><article><p>{text}</p></article></body></html>".encode()
    if kind == "jsonl":
        records = draw(st.lists(st.one_of(st.just(text[:5000]), st.text(max_size=200)),
                                max_size=5))
        lines = [json.dumps({"text": r}) for r in records] + draw(st.lists(st.text(max_size=50),
                                                                           max_size=2))
        return ".jsonl", "\n".join(lines).encode("utf-8", "surrogatepass")
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "cp1252"]))
    return ".txt", text.encode(encoding, errors="replace")


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(file_contents(), min_size=1, max_size=5))
def test_every_input_ends_as_a_document_a_duplicate_or_a_reject(
        files: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        inbox, db = Path(folder) / "inbox", Path(folder) / "corpus.duckdb"
        inbox.mkdir()
        for number, (suffix, data) in enumerate(files):
            (inbox / f"input-{number}{suffix}").write_bytes(data)
        run_settings = get_settings()
        run_settings.warehouse.db_path = db
        report = ingest_files(IngestFilesParams(inbox=[str(inbox)], batch_size=2),
                              settings=run_settings)
        assert report.files_seen == len(files)
        with duckdb.connect(str(db), read_only=True) as con:
            ended = dict(con.execute(
                "select locator, status from sources where kind = 'file'").fetchall())
            statuses = {status for (status,) in con.execute("select status from sources").fetchall()}
        assert sorted(Path(locator).name for locator in ended) == sorted(
            f"input-{n}{suffix}" for n, (suffix, _) in enumerate(files))
        assert statuses <= {"new", "duplicate", "rejected"}
        again = ingest_files(IngestFilesParams(inbox=[str(inbox)], batch_size=2),
                             settings=run_settings)
        assert (again.documents_new, again.rejects_new) == (0, 0)
