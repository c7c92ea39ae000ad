"""One input a stage fails on never fails its batch or a later run: the batch is split until the
input is alone, the input becomes a reject with its stage and error, the rest loads.

The failure is real: DuckDB runs out of memory storing a document larger than the memory limit
it was given (CORPUSFLOW_DUCKDB_MEMORY_LIMIT), as on a machine with little memory; nothing of
corpusflow's is replaced. The large document is one long number, cheap for every other stage.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from tests.conftest import SEEDS

pytestmark = pytest.mark.usefixtures("prefect_server")
BIG = 40_000_000  # characters: more than the 32 MB DuckDB may use for one insert


@pytest.fixture
def small_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUSFLOW_DUCKDB_MEMORY_LIMIT", "32MB")
    monkeypatch.setenv("CORPUSFLOW_MAX_TEXT_CHARS", str(2 * BIG))


def write_big(path: Path, seed: int) -> None:
    path.write_text(str(seed) + "0123456789" * (BIG // 10), encoding="utf-8")


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.usefixtures("small_duckdb")
def test_an_input_a_stage_fails_on_is_rejected_and_the_rest_loads(
        db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One batch of all eight files (the large one would otherwise be a batch alone), so that
    # the batch is split: its halves are analysed again, and their entity stages find every text
    # claimed by the first analysis; the writer tags the new ones then.
    monkeypatch.setenv("CORPUSFLOW_MAX_BATCH_BYTES", str(4 * BIG))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    english = (SEEDS / "000.txt").read_text(encoding="utf-8")
    for n in range(7):
        (inbox / f"story-{n}.txt").write_text(f"Story {n}. {english}\nClosing note {n}.",
                                              encoding="utf-8")
    write_big(inbox / "table.txt", 1)

    report = ingest_files(IngestFilesParams(inbox=[str(inbox)], batch_size=8))

    assert report.documents_new == 7 and report.rejects_new == 1
    rejects = query(db_path, "select locator, stage, reason, detail from rejects")
    assert [(Path(r[0]).name, r[1], r[2]) for r in rejects] == [("table.txt", "load", "stage_error")]
    assert "OutOfMemoryException" in rejects[0][3]
    assert query(db_path, "select status from sources where locator like '%table.txt'") == [
        ("rejected",)]
    assert query(db_path, "select status from runs") == [("completed",)]
    # Imported here, not at the top: spaCy loaded into pytest's process while the whole suite is
    # collected changes the timing of the tests before this one (four concurrent runs then met
    # Prefect's SQLite server answering 503 to a burst of flow-run creations).
    from tasks.ner import tag_entities

    stored = query(db_path, "select doc_id, text, language from documents order by doc_id")
    expected = {(m.doc_id, m.start_char, m.end_char, m.label, m.key)
                for m in tag_entities(stored)}
    assert expected and {row for row in query(
        db_path, "select doc_id, start_char, end_char, label, key from mentions")} == expected

    again = ingest_files(IngestFilesParams(inbox=[str(inbox)], batch_size=8))
    assert (again.documents_new, again.rejects_new, again.files_unchanged) == (0, 0, 8)
    assert query(db_path, "select count(*) from rejects") == [(1,)]
