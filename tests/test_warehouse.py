"""The warehouse layer on a real DuckDB file: migrations, batch ledger, progress, snapshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from warehouse.connection import writer
from warehouse.load import begin_run, load_batch, record_discovery
from warehouse.migrate import migration_files
from warehouse.progress import progress_path, publish_progress, read_progress
from warehouse.queries import table_counts
from warehouse.records import Batch, Reject
from warehouse.snapshot import publish_snapshot, snapshot_path_for


def test_migrations_apply_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with writer(path):
        pass
    with writer(path) as con:  # a second open applies nothing again
        applied = con.execute("select version from schema_migrations order by version").fetchall()
    assert [v for (v,) in applied] == [version for version, _, _ in migration_files()]


def test_a_batch_loads_once_and_progress_follows_it(tmp_path: Path) -> None:
    """The writer publishes progress beside the file; the reader never opens the warehouse."""
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    reject = Reject(source_id="s", locator="/x", content_hash="h", stage="parse", reason="empty_file")
    batch = Batch(batch_id="b1", run_id="r1", files=3, rejects=[reject])
    db = tmp_path / "w.duckdb"
    with writer(db) as con:
        begin_run(con, "r1", "ingest-files", {})
        publish_progress(con, db, "r1")
        assert read_progress(db, since) is None  # discovery not recorded yet
        record_discovery(con, "r1", files_seen=10, files_unchanged=2)
        publish_progress(con, db, "r1")
        assert read_progress(db, since) == (0, 8)
        assert load_batch(con, batch) and not load_batch(con, batch)
        publish_progress(con, db, "r1")
        assert read_progress(db, since) == (3, 8)
        assert table_counts(con)["rejects"] == 1
    assert read_progress(db, since + dt.timedelta(hours=1)) is None  # an older run's progress
    progress_path(db).write_text("{not json")
    assert read_progress(db, since) is None


def test_snapshot_is_a_consistent_copy_swapped_in(tmp_path: Path) -> None:
    live = tmp_path / "corpus.duckdb"
    with writer(live) as con:
        begin_run(con, "r1", "ingest-files", {})
        target = publish_snapshot(con, live, snapshot_path_for(live))
    assert target.name == "corpus.snapshot.duckdb"
    reader = duckdb.connect(str(target), read_only=True)  # an analyst keeps this open
    with writer(live) as con:
        begin_run(con, "r2", "ingest-files", {})
        publish_snapshot(con, live, target)
    assert reader.execute("select count(*) from runs").fetchone() == (1,)
    reader.close()
    with duckdb.connect(str(target), read_only=True) as fresh:
        assert fresh.execute("select count(*) from runs").fetchone() == (2,)
    assert not list(tmp_path.glob(".*.partial"))
