"""One writing run per warehouse: an exclusive lock beside the file, held for the whole run.

DuckDB's own file lock fails a second process at once and says nothing of who holds the file.
A run's session (warehouse/session.py) therefore takes `<db>.lock` first: an exclusive `flock` the kernel drops when the holder exits, however it exits,
so a killed run never leaves a stale lock. The file also says who holds it (run id, PID, host,
since when) for the message a waiting run prints. A second run waits, with a log line now and
then, up to the lock timeout, then raises `WarehouseBusy`.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("corpusflow.warehouse")

WAIT_LOG_EVERY_S = 10.0


class WarehouseBusy(RuntimeError):
    """Another run held the warehouse for longer than the lock timeout."""


def lock_path(db_path: Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".lock")


def holder(db_path: Path) -> dict:
    """Who holds (or last held) the warehouse, as written in the lock file; {} if unknown."""
    try:
        return json.loads(lock_path(db_path).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(info: dict) -> str:
    if not info:
        return "another process"
    return (f"run {info.get('run', '?')} (pid {info.get('pid', '?')} on {info.get('host', '?')},"
            f" since {info.get('since', '?')})")


@contextmanager
def run_lock(db_path: Path, owner: str, timeout_s: float) -> Iterator[None]:
    """Hold the warehouse's run lock for the duration of the block. Not re-entrant: two threads
    of one process exclude each other too (each takes its own open file description)."""
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, db_path, timeout_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({
            "run": owner, "pid": os.getpid(), "host": socket.gethostname(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }).encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, db_path: Path, timeout_s: float) -> None:
    start = time.monotonic()
    next_log = start
    delay = 0.05
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            waited = time.monotonic() - start
            if waited >= timeout_s:
                raise WarehouseBusy(
                    f"warehouse {db_path} is held by {_describe(holder(db_path))}; gave up after"
                    f" {waited:.0f} s (CORPUSFLOW_LOCK_TIMEOUT_S={timeout_s:g})") from None
            if time.monotonic() >= next_log:
                log.warning("warehouse %s is held by %s; waiting (up to %g s)",
                            db_path, _describe(holder(db_path)), timeout_s)
                next_log = time.monotonic() + WAIT_LOG_EVERY_S
            time.sleep(min(delay, max(0.0, timeout_s - waited)))
            delay = min(delay * 2, 1.0)
