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
from warehouse.records import BandKeys, Batch, Document, Duplicate, Mention, Reject, Source
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


def test_a_session_lets_go_of_its_connection_when_its_block_ends(tmp_path: Path) -> None:
    with session_on(tmp_path / "w.duckdb") as session:
        assert session.table_counts()["documents"] == 0
    with pytest.raises(RuntimeError, match="session is closed"):
        session.table_counts()
    # The file is free: another process-wide connection opens it read-write at once.
    duckdb.connect(str(tmp_path / "w.duckdb")).close()


def test_a_current_snapshot_is_kept_and_one_missing_a_committed_batch_is_not(
        tmp_path: Path) -> None:
    """A run that reads nothing keeps the snapshot, unless a batch was committed after it (a
    run killed between its last commit and its publishing)."""
    with session_on(tmp_path / "w.duckdb") as session:
        first = session.publish_snapshot().stat().st_ino
        assert session.publish_snapshot(unless_current=True).stat().st_ino == first
        later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=5)
        session.con.execute("insert into load_batches values ('b', 'r0', 1, 0, 1, 0, 0, 0, ?)",
                            [later])
        republished = session.publish_snapshot(unless_current=True)
        assert republished.stat().st_ino != first
        with duckdb.connect(str(republished), read_only=True) as analyst:
            assert analyst.execute("select count(*) from load_batches").fetchone() == (1,)


def test_aliases_added_by_hand_between_runs_reach_the_snapshot_at_the_next_run(
        tmp_path: Path) -> None:
    """An analyst adds an alias on the live file between runs (README, Entities): no batch
    records it, yet the next run that reads nothing publishes it, and the one after keeps
    the snapshot, while an analyst holds it open."""
    db = tmp_path / "w.duckdb"
    with session_on(db, "ingest-1") as session:
        first = session.publish_snapshot().stat().st_ino
    with duckdb.connect(str(db)) as by_hand:
        by_hand.execute("insert into entity_aliases (alias, key) values ('Zelenskij', 'zelensky')")
    with duckdb.connect(str(snapshot_path_for(db)), read_only=True) as analyst:
        with session_on(db, "ingest-2") as session:
            second = session.publish_snapshot(unless_current=True).stat().st_ino
        with session_on(db, "ingest-3") as session:
            assert session.publish_snapshot(unless_current=True).stat().st_ino == second
        assert analyst.execute("select count(*) from entity_aliases").fetchone() == (0,)
    assert second != first
    with duckdb.connect(str(snapshot_path_for(db)), read_only=True) as analyst:
        assert analyst.execute("select alias, key from entity_aliases").fetchall() == [
            ("Zelenskij", "zelensky")]


def test_a_snapshot_older_than_a_killed_maintenance_run_is_published_again(
        tmp_path: Path) -> None:
    """A re-tag (or re-group, or dedup) killed midway has committed changes but written no
    batch: the next run that reads nothing still publishes, and the one after keeps that."""
    db = tmp_path / "w.duckdb"
    with session_on(db, "ingest-1") as session:
        first = session.publish_snapshot().stat().st_ino
    with session_on(db, "retag") as session:
        session.begin_run("retag", "retag", {})
        session.con.execute("create table retagged as select 1 as n")  # its committed work
    figures = dict.fromkeys(("files_seen", "files_unchanged", "documents_new",
                             "duplicates_new", "rejects_new"), 0)
    for owner in ("ingest-2", "ingest-3"):
        with session_on(db, owner) as session:
            assert session.begin_run(owner, "ingest-files", {}) == (
                ["retag"] if owner == "ingest-2" else [])
            session.finish_run(owner, figures, {})
            published = session.publish_snapshot(unless_current=True).stat().st_ino
        if owner == "ingest-2":
            assert published != first
            with duckdb.connect(str(snapshot_path_for(db)), read_only=True) as analyst:
                assert analyst.execute("select count(*) from retagged").fetchone() == (1,)
            second = published
        else:
            assert published == second


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


def _document_batch(batch_id: str, text: str, mentions: int) -> Batch:
    doc = Document(doc_id="d1", source_id="s1", title=None, text=text, original_text=text,
                   url=None, canonical_url=None, published=None, published_precision=None,
                   author=None, site_name=None, encoding="utf-8", format="txt", cleaning=[],
                   language="en", language_prob=0.99)
    found = [Mention(doc_id="d1", tagger="t", start_char=0, end_char=4, label="LOC", text="Kyiv",
                     key="kyiv")] * mentions  # a repeated row too
    bands = BandKeys()
    bands.add("d1", list(range(32)))
    return Batch(batch_id=batch_id, run_id="r1", documents=[doc], mentions=found, bands=bands)


def test_mentions_and_band_keys_never_double_without_a_key_index(tmp_path: Path) -> None:
    """mentions and lsh_bands have no primary key (DuckDB holds such an index wholly in memory,
    migration 0008): the writer alone keeps their rows unique, also when a document that is
    already stored arrives again in another batch."""
    with session_on(tmp_path / "w.duckdb") as session:
        session.begin_run("r1", "ingest-files", {})
        assert session.load_batch(_document_batch("b1", "Kyiv news.", mentions=2))
        assert session.load_batch(_document_batch("b2", "Kyiv news.", mentions=1))
        counts = session.table_counts()
        assert (counts["documents"], counts["mentions"]) == (1, 1)
        assert session.con.execute("select count(*) from lsh_bands").fetchone() == (32,)
        session.replace_mentions(["d1"], _document_batch("b3", "Kyiv news.", 2).mentions[:1])
        assert session.table_counts()["mentions"] == 1
        indexed = session.con.execute(
            "select table_name from duckdb_constraints() where constraint_type = 'PRIMARY KEY'"
            " and table_name in ('mentions', 'lsh_bands')").fetchall()
        assert indexed == []


def test_sources_documents_duplicates_rejects_stay_unique_without_key_indexes(
        tmp_path: Path) -> None:
    """Migration 0009 took the key indexes off sources, documents, duplicates, rejects and
    http_fetches: a key repeated inside a batch or across batches is still stored once, and a
    source seen again takes its newest figures."""
    def batch(batch_id: str, size: int) -> Batch:
        base = _document_batch(batch_id, "Kyiv news.", mentions=1)
        source = Source(source_id="s1", locator="/in/a.txt", kind="file", size=size, mtime_ns=size,
                        content_hash="h", encoding="utf-8", status="new", doc_id="d1")
        copy = Source(source_id="s2", locator="/in/b.txt", kind="file", size=1, mtime_ns=1,
                      content_hash="h", encoding="utf-8", status="duplicate", doc_id="d1")
        duplicate = Duplicate(source_id="s2", doc_id=None, canonical_doc_id="d1", method="exact",
                              similarity=1.0)
        reject = Reject(source_id="s3", locator="/in/c.txt", content_hash="c", stage="parse",
                        reason="empty_file")
        return base.model_copy(update={"sources": [source, copy, source], "duplicates": [duplicate] * 2,
                                       "rejects": [reject, reject]})

    with session_on(tmp_path / "w.duckdb") as session:
        session.begin_run("r1", "ingest-files", {})
        assert session.load_batch(batch("b1", 10))
        assert session.load_batch(batch("b2", 20))
        counts = session.table_counts()
        assert [counts[t] for t in ("sources", "documents", "duplicates", "rejects")] == [2, 1, 1, 1]
        assert session.con.execute(
            "select size, first_run_id from sources where source_id = 's1'").fetchone() == (20, "r1")
        indexed = session.con.execute(
            "select table_name from duckdb_constraints() where constraint_type = 'PRIMARY KEY'"
            " and table_name in ('sources', 'documents', 'duplicates', 'rejects', 'http_fetches')"
        ).fetchall()
        assert indexed == []


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
