"""Tagging on a pool of worker processes (the default on a machine with two cores or more)
gives exactly the warehouse that one worker gives: same documents, mentions, duplicates, band
keys and rejects."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from tasks import pool
from tests.conftest import SEEDS, SHARED_DATA
from warehouse.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_server")

# Columns that name the run or the time differ between any two runs; everything else must not.
TABLES = {
    "documents": "* exclude (run_id, created_at)",
    "mentions": "*",
    "duplicates": "* exclude (run_id, recorded_at)",
    "lsh_bands": "*",
    "rejects": "source_id, content_hash, reason, detail",
}


PLACES = ("Kyiv", "Moscow", "Berlin", "Rome", "Warsaw", "Paris")
PEOPLE = ("Vladimir Putin", "Olaf Scholz", "Giorgia Meloni", "Emmanuel Macron", "Andrzej Duda")


def fill_inbox(inbox: Path) -> int:
    """The seeds, a copy of one (an exact duplicate), a file that is rejected, and 300 BBC
    articles when the development data is there, else 60 short reports written here: enough
    batches of 40 for both workers either way."""
    shutil.copytree(SEEDS, inbox)
    shutil.copy(next(iter(sorted(SEEDS.glob("*.txt")))), inbox / "copy-of-first.txt")
    (inbox / "empty.txt").write_text("   \n", encoding="utf-8")
    bbc = sorted((SHARED_DATA / "bbc-news").glob("*/*.txt"))[::7][:300]
    for n, path in enumerate(bbc):
        shutil.copy(path, inbox / f"bbc-{n:03d}.txt")
    if not bbc:
        for n in range(60):
            place, other = PLACES[n % 6], PLACES[(n + 1) % 6]
            person = PEOPLE[n % 5]
            (inbox / f"report-{n:02d}.txt").write_text(
                f"Talks in {place}, day {n}\n\n{person} arrived in {place} on day {n} of the "
                f"talks and met the delegation from {other}. Officials in {other} said {n + 3} "
                f"agreements were ready, and NATO and the European Union sent observers. "
                f"{person} is expected to travel on to {other} after {n % 4 + 2} more days.\n",
                encoding="utf-8")
    return len(bbc)


def ingest(inbox: Path, db: Path, workers: int) -> None:
    settings = get_settings()
    settings.warehouse.db_path = db
    settings.runners.workers = workers
    report = ingest_files(IngestFilesParams(inbox=[str(inbox)], batch_size=40), settings=settings)
    assert report.documents_new > 20


def table(db: Path, name: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return sorted(con.execute(f"select {TABLES[name]} from {name}").fetchall(), key=repr)


def test_a_pool_of_two_gives_the_warehouse_of_one_worker(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    fill_inbox(inbox)
    monkeypatch.setattr(pool, "MIN_POOLED_WEIGHT", 0)  # every batch to the pool, however small
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    pool.shutdown()
    ingest(inbox, one, workers=1)
    assert pool.worker_pids() == []  # one worker: tagged in this process
    ingest(inbox, two, workers=2)
    assert len(pool.worker_pids()) == 2  # the batches were tagged by two other processes
    pool.shutdown()
    for name in TABLES:
        assert table(two, name) == table(one, name), name
    assert len(table(one, "mentions")) > 100
    assert table(one, "duplicates") and table(one, "rejects")
