"""The warehouse layer on a real DuckDB file: the run's session, migrations, batch ledger,
transactions, progress, snapshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from warehouse.lock import holder
from warehouse.migrate import migration_files
from warehouse.progress import progress_path, read_progress
from warehouse.records import Batch, Reject
from warehouse.session import Warehouse, open_warehouse, read_session
from warehouse.settings import WarehouseSettings
from warehouse.snapshot import snapshot_path_for


def session_on(path: Path, owner: str = "r1"):
    return open_warehouse(WarehouseSettings(db_path=path, lock_timeout_s=5), owner)


def test_migrations_apply_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with session_on(path):
        pass
    with session_on(path) as session:  # a second open applies nothing again
        applied = session.con.execute(
            "select version from schema_migrations order by version").fetchall()
    assert [v for (v,) in applied] == [version for version, _, _ in migration_files()]


def test_a_batch_loads_once_and_progress_follows_it(tmp_path: Path) -> None:
    """The writer publishes progress beside the file; the reader never opens the warehouse."""
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    reject = Reject(source_id="s", locator="/x", content_hash="h", stage="parse", reason="empty_file")
    batch = Batch(batch_id="b1", run_id="r1", files=3, rejects=[reject])
    db = tmp_path / "w.duckdb"
    with session_on(db) as session:
        session.begin_run("r1", "ingest-files", {})
        session.publish_progress("r1")
        assert read_progress(db, since) is None  # discovery not recorded yet
        session.record_discovery("r1", files_seen=10, files_unchanged=2)
        session.publish_progress("r1")
        assert read_progress(db, since) == (0, 8)
        assert session.load_batch(batch) and not session.load_batch(batch)
        session.publish_progress("r1")
        assert read_progress(db, since) == (3, 8)
        assert session.table_counts()["rejects"] == 1
    assert read_progress(db, since + dt.timedelta(hours=1)) is None  # an older run's progress
    progress_path(db).write_text("{not json")
    assert read_progress(db, since) is None


def test_snapshot_is_a_consistent_copy_swapped_in(tmp_path: Path) -> None:
    live = tmp_path / "corpus.duckdb"
    with session_on(live) as session:
        session.begin_run("r1", "ingest-files", {})
        target = session.publish_snapshot()
    assert target == snapshot_path_for(live) and target.name == "corpus.snapshot.duckdb"
    reader = duckdb.connect(str(target), read_only=True)  # an analyst keeps this open
    with session_on(live, "r2") as session:
        session.begin_run("r2", "ingest-files", {})
        session.publish_snapshot()
    assert reader.execute("select count(*) from runs").fetchone() == (1,)
    reader.close()
    with duckdb.connect(str(target), read_only=True) as fresh:
        assert fresh.execute("select count(*) from runs").fetchone() == (2,)
    assert not list(tmp_path.glob(".*.partial"))


def test_a_transaction_that_raises_leaves_nothing(tmp_path: Path) -> None:
    reject = Reject(source_id="s", locator="/x", content_hash="h", stage="parse", reason="empty_file")
    with session_on(tmp_path / "w.duckdb") as session:
        # The ledger row and the batch's rows go together or not at all.
        with pytest.raises(RuntimeError), session.transaction():
            session._write_batch(Batch(batch_id="b1", run_id="r1", rejects=[reject]),
                                 dt.datetime(2024, 1, 1))
            raise RuntimeError("the batch failed half way")
        assert session.table_counts()["rejects"] == 0
        assert not session.batch_is_loaded("b1")


def test_a_run_that_raises_is_marked_failed_and_lets_the_next_one_in(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with pytest.raises(ValueError), session_on(db, "r1") as session:
        session.begin_run("r1", "ingest-files", {})
        assert holder(db)["run"] == "r1"  # the run lock names its holder while it runs
        raise ValueError("a stage failed")
    with session_on(db, "r2") as session:  # the lock and the file are free again
        assert isinstance(session, Warehouse)
        session.begin_run("r2", "ingest-files", {})
    with read_session(db) as reads:
        statuses = reads.con.execute("select run_id, status from runs order by run_id").fetchall()
    assert statuses == [("r1", "failed"), ("r2", "running")]
