"""End to end: `corpus run` as a person starts it, twice at once, or while someone holds the file.

Each child is the real command in its own process group, reporting to the session's Prefect
server; afterwards no process of either group may be left.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SEEDS
from tests.test_crash import child_env

pytestmark = pytest.mark.usefixtures("prefect_server")


def start(db: Path, inbox: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--inbox", str(inbox), "--db", str(db)],
        env=env, cwd=db.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        encoding="utf-8", errors="replace", start_new_session=True)


def finish(child: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        out, _ = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, 9)
    return child.returncode, out


def group_is_gone(pgid: int) -> bool:
    """No process is left in the child's process group (servers, workers, anything)."""
    for _ in range(50):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return child_env(str(PREFECT_API_URL.value()), tmp_path / "prefect-home")


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    shutil.copytree(SEEDS, folder)
    for n in range(5):
        shutil.copy(SEEDS / "001.txt", folder / f"copy{n}.txt")
    return folder


def test_two_runs_at_once_one_loads_the_other_waits_and_finds_nothing_new(
    tmp_path: Path, inbox: Path, env: dict[str, str]
) -> None:
    db = tmp_path / "data" / "corpus.duckdb"
    db.parent.mkdir()
    first = start(db, inbox, env)
    time.sleep(0.5)
    second = start(db, inbox, env)
    results = [finish(first), finish(second)]
    for code, out in results:
        assert code == 0, out[-3000:]
        # A DuckDB object outliving the run made DuckDB's bindings print "nanobind: leaked …"
        # after the summary of every run.
        assert "nanobind" not in out, out[-3000:]
    assert query(db, "select count(*), count(distinct locator) from sources") == [(10, 10)]
    assert dict(query(db, "select status, count(*) from sources group by all")) == {
        "new": 5, "duplicate": 5}
    assert sorted(query(db, "select documents_new from runs")) == [(0,), (5,)]
    assert query(db, "select distinct status from runs") == [("completed",)]
    assert group_is_gone(first.pid) and group_is_gone(second.pid)


def test_stored_times_are_utc_on_a_machine_in_another_time_zone(
    tmp_path: Path, inbox: Path, env: dict[str, str]
) -> None:
    # DuckDB's current_timestamp is local time: `runs` was stored 5 hours behind the batches
    # in New York, and the progress file (compared with a UTC start) never showed.
    db = tmp_path / "data" / "corpus.duckdb"
    db.parent.mkdir()
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    code, out = finish(start(db, inbox, {**env, "TZ": "America/New_York"}))
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=1)
    assert code == 0, out[-3000:]
    stored = query(db, "select started_at, finished_at from runs"
                       " union all select committed_at, committed_at from load_batches"
                       " union all select applied_at, applied_at from schema_migrations")
    assert len(stored) >= 3
    for moments in stored:
        assert all(before <= moment <= after for moment in moments), (before, moments, after)


def test_a_run_waits_for_a_session_holding_the_live_file(
    tmp_path: Path, inbox: Path, env: dict[str, str]
) -> None:
    db = tmp_path / "data" / "corpus.duckdb"
    db.parent.mkdir()
    holder = duckdb.connect(str(db))  # an analyst's session left open on the live file
    released = threading.Timer(5.0, holder.close)
    released.start()
    started = time.monotonic()
    child = start(db, inbox, env)
    code, out = finish(child)
    released.join()
    assert code == 0, out[-3000:]
    assert time.monotonic() - started >= 5.0
    assert "locked by another process" in out
    assert query(db, "select count(*) from documents") == [(5,)]
    assert group_is_gone(child.pid)


def test_ctrl_c_stops_the_run_quietly_and_the_next_run_marks_it_crashed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    inbox = tmp_path / "big-inbox"
    inbox.mkdir()
    body = (SEEDS / "000.txt").read_text(encoding="utf-8")
    for n in range(400):  # distinct texts, so the run is still tagging when it is interrupted
        (inbox / f"{n:03}.txt").write_text(f"{body}\nItem {n} of a long day of reports.\n",
                                           encoding="utf-8")
    db = tmp_path / "data" / "corpus.duckdb"
    db.parent.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--inbox", str(inbox), "--db", str(db),
         "--batch-size", "20"],
        env=env, cwd=db.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        encoding="utf-8", errors="replace", start_new_session=True,
        # A terminal's foreground job: when the suite itself runs as a background job, SIGINT
        # is ignored and a child would inherit that, so it would never see the Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    progress = db.with_name(db.name + ".progress.json")
    deadline = time.monotonic() + 120
    while not progress.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.2)  # the first batch is in: interrupt mid-run
    child.send_signal(signal.SIGINT)  # as Ctrl-C in a terminal
    code, out = finish(child)
    assert code == 130, out[-3000:]
    assert "interrupted: stopped" in out and "Logging error" not in out
    assert group_is_gone(child.pid)

    code, out = finish(start(db, SEEDS, env))
    assert code == 0, out[-3000:]
    assert dict(query(db, "select status, count(*) from runs group by all")) == {
        "crashed": 1, "completed": 1}
    from prefect.client.orchestration import get_client

    [(crashed,)] = query(db, "select run_id from runs where status = 'crashed'")
    with get_client(sync_client=True) as client:  # the session's server, which the child used
        assert client.read_flow_run(crashed).state_type.value == "CRASHED"


def test_an_inbox_that_does_not_exist_is_one_line_and_no_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in --inbox: exit status 2 and one sentence saying which folder, before any
    warehouse or Prefect run exists (it printed a failed flow run's three tracebacks)."""
    from cli import EXIT_NO_INBOX, main

    db = tmp_path / "corpus.duckdb"
    status = main(["run", "--inbox", str(SEEDS), str(tmp_path / "no-such-folder"),
                   "--db", str(db)])
    out = " ".join(capsys.readouterr().out.split())
    assert status == EXIT_NO_INBOX == 2
    assert f"inbox '{tmp_path / 'no-such-folder'}' does not exist" in out
    assert "Traceback" not in out and "nothing was run" in out
    assert not db.exists()


WATCH_PREFECT_IMPORT = """
import importlib.abc, os, sys
os.environ.pop("PREFECT_API_URL", None)
seen = []

class FirstPrefectImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "prefect" and not seen:
            seen.append(os.environ.get("PREFECT_API_URL"))
        return None

sys.meta_path.insert(0, FirstPrefectImport())
import cli.runs
cli.runs.api_answers = lambda url, timeout_s: True  # as when `corpus serve` is up
from cli import main
status = main(sys.argv[1:])
print("status", status, "api url when Prefect loaded", seen)
"""


def test_corpus_run_names_the_serve_server_before_prefect_loads(tmp_path: Path) -> None:
    """Prefect reads PREFECT_API_URL once, when it is imported: `corpus run` must point it at
    the `corpus serve` server before anything imports Prefect, or the run starts a temporary
    server of its own and never shows in the UI (the inbox check imported it first)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run(
        [sys.executable, "-c", WATCH_PREFECT_IMPORT, "run", "--inbox",
         str(tmp_path / "no-such-folder"), "--db", str(tmp_path / "corpus.duckdb")],
        env=env, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
        timeout=120)
    assert "status 2 " in done.stdout, done.stdout + done.stderr
    assert "api url when Prefect loaded ['http://127.0.0.1:4200/api']" in done.stdout, (
        done.stdout + done.stderr)
