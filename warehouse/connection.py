"""Opening the warehouse file: retried with backoff while another process holds it."""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import duckdb


log = logging.getLogger("corpusflow.warehouse")

# DuckDB reports a file held by another process as an IOException with this phrase.
_LOCK_PHRASES = ("could not set lock", "conflicting lock")
DEFAULT_MEMORY_LIMIT = "500MB"  # when no settings tree sized it from the memory budget


def is_lock_error(error: BaseException) -> bool:
    """True when `error` means another process holds the database file."""
    return any(phrase in str(error).lower() for phrase in _LOCK_PHRASES)


def open_database(
    path: Path, read_only: bool = False, timeout_s: float = 120.0, config: dict | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect to `path`, waiting with exponential backoff (and a log line) while it is locked.
    `config` adds DuckDB settings to the memory limit (the analysts' SANDBOX). Work that does
    not fit the memory limit spills to `<db>.tmp` (DuckDB's default, set where a writer opens
    the file; a sandboxed session may not set it)."""
    path = Path(path)
    config = {"memory_limit": memory_limit or DEFAULT_MEMORY_LIMIT, **(config or {})}
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as error:
            if not is_lock_error(error) or time.monotonic() + delay > deadline:
                raise
            log.warning("warehouse %s is locked by another process; retrying in %.2fs", path, delay)
            time.sleep(delay * (1 + random.random() / 4))
            delay = min(delay * 2, 5.0)


# An analyst's session may read the warehouse and nothing else: no file system access at all
# (COPY ... TO, EXPORT DATABASE, ATTACH, read_csv of any file, INSTALL), no extension
# autoloading, and the configuration locked so SQL cannot undo it.
SANDBOX = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "lock_configuration": True,
}

