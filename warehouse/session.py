"""Sessions on the warehouse: the only way the rest of corpusflow reaches DuckDB.

`open_warehouse` is a run's session: it takes the run lock (warehouse/lock.py), opens one
read-write connection for the whole run, migrates it, and offers the reads and writes the stages
need as methods (`Reads` in warehouse/queries.py, `Writes` in warehouse/load.py). Transactions
and paging live here too, so a stage never starts one itself. `analyst_session` is the sandboxed
read-only session of `corpus sql` and `corpus shell`.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from warehouse.connection import SANDBOX, open_database
from warehouse.errors import DiskFull
from warehouse.load import Writes
from warehouse.lock import run_lock
from warehouse.migrate import migrate
from warehouse.progress import publish_progress
from warehouse.queries import Reads
from warehouse.records import utc_naive
from warehouse.settings import WarehouseSettings
from warehouse.snapshot import publish_snapshot, remove_partial_copies, snapshot_path_for

log = logging.getLogger("corpusflow.warehouse")
Row = TypeVar("Row")

# What a failing analyst statement raises: DuckDB's own error, under a name that does not make
# the caller import duckdb.
QueryError = duckdb.Error


class Warehouse(Writes):
    """A writing run's session: its connection, held under the run lock from start to end."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: WarehouseSettings,
                 owner: str = "") -> None:
        super().__init__(con)
        self.path = Path(settings.db_path)
        self.owner = owner  # the run holding the session

    def pages(self, read: Callable[[int, int], list[Row]], size: int) -> Iterator[list[Row]]:
        """Every stored document through `read(offset, limit)`, `size` at a time."""
        for offset in range(0, self.table_counts()["documents"], size):
            yield read(offset, size)

    def publish_progress(self, run_id: str) -> None:
        """Tell the progress bar (which never opens the file) how far this run has got."""
        publish_progress(self.con, self.path, run_id)

    def publish_snapshot(self, unless_current: bool = False) -> Path:
        """Publish the analysts' read-only copy of the warehouse as it stands now. With
        `unless_current`, keep the one there is when it already holds every committed change:
        no batch was committed after it was copied, and every other run since then ended
        `completed` (a run killed or failed before publishing, an ingest or a re-tag, re-group or
        dedup that commits as it goes, may have left changes newer than it), and it holds the
        live file's `entity_aliases` (which analysts edit by hand between runs, and the alias
        file reloads), so only rows in `runs` may be missing from it."""
        target = snapshot_path_for(self.path)
        if unless_current and target.exists():
            copied = utc_naive(dt.datetime.fromtimestamp(target.stat().st_mtime, dt.UTC))
            if not self.changed_since(copied, self.owner) and self._holds_aliases(target):
                return target
        return publish_snapshot(self.con, self.path, target)

    def _holds_aliases(self, snapshot: Path) -> bool:
        """Whether `snapshot` has the live file's `entity_aliases`. Attached read-only, which
        analysts' read-only sessions on it allow; any failure (an older or damaged copy) means
        no, and the snapshot is copied again."""
        quoted = str(snapshot).replace("'", "''")
        try:
            self.con.execute(f"attach '{quoted}' as published (read_only)")
        except duckdb.Error:
            return False
        try:
            return self.aliases_digest() == self.aliases_digest("published")
        except duckdb.Error:
            return False
        finally:
            self.con.execute("detach published")

    def remove_partial_snapshots(self) -> list[Path]:
        """Half-written snapshot copies a killed run left behind."""
        return remove_partial_copies(snapshot_path_for(self.path))


@contextmanager
def open_warehouse(settings: WarehouseSettings, owner: str) -> Iterator[Warehouse]:
    """A writing run's session: wait for the run lock (up to the lock timeout, then
    `WarehouseBusy`), open and migrate the file, and hold both until the block ends. A run that
    raises inside is marked `failed` before the lock is released."""
    with run_lock(settings.db_path, owner, settings.lock_timeout_s):
        con = open_database(settings.db_path, timeout_s=settings.lock_timeout_s,
                            memory_limit=settings.duckdb_memory_limit,
                            config={"temp_directory": f"{settings.db_path}.tmp"})
        session = Warehouse(con, settings, owner)
        try:
            migrate(con)
            try:
                yield session
            except BaseException as error:
                _mark_failed(session, owner)
                if is_disk_full(error):
                    raise DiskFull(_disk_full_message(settings.db_path)) from error
                raise
        finally:
            session.close()


def is_disk_full(error: BaseException) -> bool:
    """True for DuckDB's ways of saying the disk is full: a failed commit, a failed checkpoint,
    or the database invalidated after either (which then hides the cause as "cannot rollback")."""
    return "no space left on device" in str(error).lower() or getattr(error, "errno", None) == 28


def is_fatal(error: BaseException) -> bool:
    """True when DuckDB invalidated the database: nothing more can be written in this run."""
    return isinstance(error, duckdb.FatalException) or "has been invalidated" in str(error)


def _disk_full_message(db_path: Path) -> str:
    free = shutil.disk_usage(Path(db_path).parent).free
    return (f"disk full: the warehouse {db_path} could not be written ({free / 2**20:.0f} MB free"
            " there). Committed batches are intact; free some space and run again.")


def _mark_failed(session: Warehouse, run_id: str) -> None:
    try:
        session.mark_failed(run_id)
    except Exception as error:  # the run's own error matters more; the next run marks it crashed
        log.warning("could not mark run %s failed: %s", run_id, error)


class AnalystSession(Reads):
    """A read-only, sandboxed session: the analysts' queries and the shell's dot-commands."""


@contextmanager
def analyst_session(path: Path, timeout_s: float = 30.0, memory_limit: str | None = None
                    ) -> Iterator[AnalystSession]:
    """A read-only, sandboxed session (SANDBOX) for `corpus sql` and `corpus shell`."""
    con = open_database(path, read_only=True, timeout_s=timeout_s, config=SANDBOX,
                        memory_limit=memory_limit)
    session = AnalystSession(con)
    try:
        yield session
    finally:
        session.close()


@contextmanager
def read_session(path: Path, timeout_s: float = 30.0) -> Iterator[Reads]:
    """A read-only session without the sandbox, for benchmarks and checks."""
    con = open_database(path, read_only=True, timeout_s=timeout_s)
    session = Reads(con)
    try:
        yield session
    finally:
        session.close()


def migrate_file(settings: WarehouseSettings) -> list[str]:
    """Bring the warehouse file to the newest schema; the migrations applied."""
    con = open_database(settings.db_path, timeout_s=settings.lock_timeout_s,
                        memory_limit=settings.duckdb_memory_limit)
    try:
        return migrate(con)
    finally:
        con.close()
