"""The analysts' snapshot: a consistent copy of the warehouse, swapped in atomically after a run.

DuckDB lets one process hold a file for writing and nobody else meanwhile (read-only readers
included), so analysts query a copy. The copy is taken right after a CHECKPOINT by the writer
itself (no batch can be half-written in it), written under a temporary name and renamed over
the previous snapshot: a reader that has the old file open keeps reading it; a new connection
sees the new one."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import duckdb


def snapshot_path_for(live: Path) -> Path:
    """Where the snapshot of `live` is published: `corpus.duckdb` → `corpus.snapshot.duckdb`."""
    return live.with_name(f"{live.stem}.snapshot{live.suffix}")


def publish_snapshot(con: duckdb.DuckDBPyConnection, live: Path, target: Path) -> Path:
    """Checkpoint the writer's connection, copy the file and rename the copy over `target`."""
    con.execute("checkpoint")
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    try:
        shutil.copyfile(live, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def remove_partial_copies(target: Path) -> list[Path]:
    """Delete the temporary copies a run killed mid-copy left beside `target`."""
    leftovers = list(target.parent.glob(f".{target.name}.*.partial"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def readable_path(live: Path) -> Path:
    """The file an analyst should open: the snapshot when there is one, else the live file."""
    snapshot = snapshot_path_for(live)
    return snapshot if snapshot.exists() else live
