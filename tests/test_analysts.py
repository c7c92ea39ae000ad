"""Analysts query while a scheduled run writes: the run waits for the live file where it must,
the snapshot keeps answering, and no query ever sees part of a batch."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow

RUN = (
    "import sys\n"
    "from flows.ingest_files import ingest_files\n"
    "from flows.params import IngestFilesParams\n"
    "ingest_files(IngestFilesParams(inbox=[sys.argv[1]], batch_size=int(sys.argv[2])))\n"
)


def write_inbox(folder: Path, files: int) -> None:
    """Seeds plus generated articles made of seed sentences in random order."""
    folder.mkdir()
    sentences = [s.strip() + "." for p in sorted(SEEDS.glob("*.txt"))
                 for s in p.read_text(encoding="utf-8").split(". ") if len(s) > 40]
    rng = random.Random(5)
    for n in range(files):
        body = " ".join(rng.sample(sentences, 12))
        (folder / f"gen-{n:04d}.txt").write_text(body, encoding="utf-8")


def start_run(inbox: Path, db: Path, batch_size: int) -> subprocess.Popen:
    env = {**os.environ, "CORPUSFLOW_DB_PATH": str(db), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "CORPUSFLOW_LOCK_TIMEOUT_S": "60"}
    env.pop("PREFECT_API_URL", None)  # a scheduled run in its own process, not the test harness
    return subprocess.Popen([sys.executable, "-c", RUN, str(inbox), str(batch_size)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def consistent(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(documents, documents the committed batches account for): equal unless a batch is partial."""
    return con.execute(
        "select (select count(*) from documents),"
        " (select coalesce(sum(documents), 0) from load_batches)").fetchone()


def test_analysts_never_block_or_see_half_a_batch(tmp_path: Path) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "corpus.duckdb"
    write_inbox(inbox, 300)
    first = start_run(SEEDS, db, 5)
    assert first.wait(timeout=180) == 0, first.stdout.read()
    snapshot = db.with_name("corpus.snapshot.duckdb")
    assert snapshot.exists()

    run = start_run(inbox, db, 20)
    lines: list[str] = []
    loaded = threading.Event()

    def read_output() -> None:
        # The run's log, line by line: the analyst opens the live file once a batch has been
        # loaded, so that more loads come while the analyst holds it, however fast the run.
        for line in run.stdout:
            lines.append(line)
            if "Task run 'load-" in line and "Completed" in line:
                loaded.set()
        loaded.set()

    def hold_live_file() -> None:
        # An analyst who opens the live file read-write in the middle of the run, three times
        # for 2 s, letting go briefly in between.
        loaded.wait()
        holds = 0
        while holds < 3 and run.poll() is None:
            try:
                with duckdb.connect(str(db)) as con:
                    live_views.append(consistent(con))
                    time.sleep(2)
                holds += 1
                time.sleep(0.3)
            except duckdb.IOException:
                time.sleep(0.05)  # the writer holds it right now: try again

    seen: list[tuple[int, int]] = []
    live_views: list[tuple[int, int]] = []
    reader = threading.Thread(target=read_output)
    holder = threading.Thread(target=hold_live_file)
    reader.start()
    holder.start()
    with duckdb.connect(str(snapshot), read_only=True) as analyst:
        while run.poll() is None:
            seen.append(consistent(analyst))
            time.sleep(0.05)
    holder.join()
    reader.join()
    output = "".join(lines)
    assert run.returncode == 0, output
    assert "is locked by another process; retrying" in output  # the writer waited, with a log line
    assert live_views and all(docs == batches for docs, batches in live_views)
    assert seen and all(docs == batches for docs, batches in seen)
    assert {docs for docs, _ in seen} == {5}  # the open connection keeps the snapshot it opened
    with duckdb.connect(str(snapshot), read_only=True) as fresh:
        documents, accounted = consistent(fresh)
    assert documents == accounted > 5  # a new connection sees the run's published snapshot
