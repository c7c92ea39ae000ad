"""Past one machine: the heavy stages on a local Dask cluster of two workers, or in a local
process pool of two, give the same warehouse as the default runner (the warehouse is still
written by the flow's own process)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from flows.runners import task_runner
from warehouse.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

CONTENT = {
    "documents": "select doc_id, source_id, title, text, url, published, language, cleaning"
                 " from documents",
    "sources": "select source_id, kind, content_hash, status, doc_id from sources",
    "duplicates": "select source_id, doc_id, canonical_doc_id, method, similarity from duplicates",
    "mentions": "select * from mentions",
    "rejects": "select source_id, content_hash, stage, reason, detail from rejects",
    "lsh_bands": "select * from lsh_bands",
}


def warehouse_content(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {table: sorted(con.execute(sql).fetchall(), key=repr)
                for table, sql in CONTENT.items()}


@pytest.mark.parametrize("setting, runner_class", [
    ("dask", "DaskTaskRunner"),
    ("processes", "ProcessPoolTaskRunner"),
])
def test_runner_gives_the_same_warehouse(
    setting: str, runner_class: str, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (inbox / "000.txt").read_text(encoding="utf-8")
    (inbox / "000-copy.txt").write_text(text.replace("  ", " "), encoding="utf-8")
    (inbox / "000-footer.txt").write_text(text.rsplit("\n", 2)[0] + "\n\nFollow our coverage.",
                                          encoding="utf-8")
    (inbox / "empty.txt").write_bytes(b"")
    for n in range(12):  # more batches than workers, so several are analysed at once
        shutil.copy(inbox / f"00{n % 5}.txt", inbox / f"extra-{n:02}.txt")
    params = IngestFilesParams(inbox=[str(inbox)], batch_size=3)

    default_db = tmp_path / "default.duckdb"
    monkeypatch.setenv("CORPUSFLOW_DB_PATH", str(default_db))
    ingest_files(params)

    other_db = tmp_path / f"{setting}.duckdb"
    monkeypatch.setenv("CORPUSFLOW_DB_PATH", str(other_db))
    monkeypatch.setenv("CORPUSFLOW_TASK_RUNNER", setting)
    monkeypatch.setenv("CORPUSFLOW_WORKERS", "2")
    runner = task_runner(Settings().runners)
    assert type(runner).__name__ == runner_class
    report = ingest_files.with_options(task_runner=runner)(params)

    assert report.documents_new == 6 and report.rejects_new == 1  # 5 seeds + the footer variant
    assert warehouse_content(other_db) == warehouse_content(default_db)
