"""Progress of the running load for readers that must not open the live file.

DuckDB lets one process hold the warehouse, and a second connection from the flow's own process
can collide with the writer's ("Unique file handle conflict"). So the writer publishes the
progress of its run, after each committed batch, to a small JSON file beside the warehouse
(`<db>.progress.json`, replaced atomically), and the progress bar reads that file only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import duckdb


def progress_path(db_path: Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".progress.json")


def publish_progress(con: duckdb.DuckDBPyConnection, db_path: Path, run_id: str) -> None:
    """Write (files loaded, files to load) of `run_id`, read on the writer's own connection."""
    row = con.execute(
        "select r.started_at, r.files_seen - r.files_unchanged,"
        " (select coalesce(sum(files), 0) from load_batches b where b.run_id = r.run_id)"
        " from runs r where r.run_id = ? and r.files_seen is not null",
        [run_id],
    ).fetchone()
    if row is None:
        return
    started, total, done = row
    path = progress_path(db_path)
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({"run_id": run_id, "started_at": started.isoformat(),
                                   "done": int(done), "total": int(total)}))
    os.replace(partial, path)


def read_progress(db_path: Path, since: dt.datetime) -> tuple[int, int] | None:
    """(files loaded, files to load) of the newest run started after `since` (naive UTC), or
    None while there is nothing to show."""
    try:
        state = json.loads(progress_path(db_path).read_text())
        started = dt.datetime.fromisoformat(state["started_at"])
        done, total = int(state["done"]), int(state["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (done, total) if started >= since else None
