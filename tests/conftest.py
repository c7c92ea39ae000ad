"""Shared fixtures: a real Prefect test server per session and a warehouse file per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Tests write files and ingest them at once: none may be left for a next run as still being
# written (FilesSettings.settle_s); tests of the wait set it themselves.
os.environ.setdefault("CORPUSFLOW_SETTLE_S", "0")
# The session's one Prefect server keeps its state in SQLite. Late in a full run (a large
# database, four flow runs created at once) its writes have stalled for up to SQLite's 60 s busy
# timeout, answering 503 meanwhile; Prefect's default five retries (2-32 s back-offs, about 62 s)
# then ran out once in CI (test_concurrent_runs [threads]). Seven retries wait up to about 250 s.
# The CLI's own default of 2 (fail fast when the server is gone) is tested in test_server_loss.py.
os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "7")

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A temporary Prefect server and database for the whole session (the real engine), with
    runs as `corpus run` makes them (flows/server.py: no heartbeats to a temporary server)."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.server import terminal_run

    with prefect_test_harness(server_startup_timeout=120), terminal_run():
        yield


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh warehouse file that the flows' settings point at."""
    path = tmp_path / "warehouse" / "corpus.duckdb"
    monkeypatch.setenv("CORPUSFLOW_DB_PATH", str(path))
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """An inbox folder holding a copy of seeds/."""
    folder = tmp_path / "inbox"
    shutil.copytree(SEEDS, folder)
    return folder


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when the development data is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"development data not present: {path}")
    return path
