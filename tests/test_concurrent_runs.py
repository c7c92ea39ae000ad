"""End to end: runs that overlap on one warehouse take turns, so nothing is lost or doubled.

Each stage opens its own short connection to the DuckDB file; without the run lock
(warehouse/lock.py) the stages of two runs interleaved and copies of one text were all recorded
as new. Here four flow runs start at once over inboxes that share files and texts.
"""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from flows.runners import task_runner
from warehouse.lock import WarehouseBusy, holder, run_lock
from warehouse.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_server")
SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def query(db_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def overlapping_inboxes(root: Path) -> list[Path]:
    """Two folders: both hold the same 8 copies of seeds/000.txt; A adds 001, B adds 002-004."""
    inboxes = [root / "a", root / "b"]
    for inbox in inboxes:
        inbox.mkdir()
    for n in range(8):
        shutil.copy(SEEDS / "000.txt", root / "a" / f"copy{n}.txt")
        shutil.copy(SEEDS / "000.txt", root / "b" / f"copy{n}.txt")
    shutil.copy(SEEDS / "001.txt", root / "a")
    for name in ("002.txt", "003.txt", "004.txt"):
        shutil.copy(SEEDS / name, root / "b")
    return inboxes


@pytest.mark.parametrize("runner", ["threads", "dask"])
def test_four_runs_at_once_record_every_file_exactly_once(
    runner: str, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = overlapping_inboxes(tmp_path)
    inboxes = [[str(a)], [str(b)], [str(a), str(b)], [str(b)]]
    monkeypatch.setenv("CORPUSFLOW_TASK_RUNNER", runner)
    monkeypatch.setenv("CORPUSFLOW_WORKERS", "1")  # one Dask worker per run's local cluster
    flow = ingest_files.with_options(task_runner=task_runner(Settings().runners))
    assert type(flow.task_runner).__name__ == {"threads": "ThreadPoolTaskRunner",
                                               "dask": "DaskTaskRunner"}[runner]
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda inbox: flow(IngestFilesParams(inbox=inbox)), inboxes))

    files = 2 * 8 + 1 + 3
    assert query(db_path, "select count(*), count(distinct locator) from sources") == [
        (files, files)]
    statuses = dict(query(db_path, "select status, count(*) from sources group by all"))
    assert statuses == {"new": 5, "duplicate": files - 5}  # one text per seed, the rest copies
    assert query(db_path, "select count(*) from documents") == [(5,)]
    assert query(db_path, "select count(*) from duplicates") == [(files - 5,)]
    assert query(db_path, "select count(*) from sources s where status = 'duplicate' and not"
                 " exists (select 1 from duplicates d where d.source_id = s.source_id)") == [(0,)]
    assert sum(r.documents_new for r in reports) == 5
    assert query(db_path, "select status, count(*) from runs group by all") == [("completed", 4)]


def test_a_second_holder_waits_then_gives_up_with_the_holders_name(tmp_path: Path) -> None:
    db = tmp_path / "corpus.duckdb"
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with run_lock(db, "first-run", timeout_s=5):
            held.set()
            release.wait(10)

    first = threading.Thread(target=hold)
    first.start()
    held.wait(5)
    started = time.monotonic()
    with pytest.raises(WarehouseBusy, match="held by run first-run"):
        with run_lock(db, "second-run", timeout_s=0.5):
            pass
    assert time.monotonic() - started >= 0.5
    release.set()
    first.join()
    with run_lock(db, "third-run", timeout_s=1):  # released on exit: free again at once
        assert holder(db)["run"] == "third-run"


def test_a_missing_inbox_fails_the_run_with_its_name(db_path: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(FileNotFoundError, match="no-such-folder.*does not exist"):
        ingest_files(IngestFilesParams(inbox=[str(missing)]))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ingest_files(IngestFilesParams(inbox=[str(missing / "*.txt")]))
    assert query(db_path, "select status, count(*) from runs group by all") == [("failed", 2)]
