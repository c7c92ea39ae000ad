"""Analysts query while a scheduled run writes: a run waits for an analyst who holds the live
file, an analyst is refused the live file while a run holds it, the snapshot keeps answering,
and no query ever sees part of a batch."""

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

    # An analyst holds the live file read-write (the DuckDB CLI's default) as the run starts:
    # the run waits, saying so, and goes on once the analyst lets go.
    analyst_on_live = duckdb.connect(str(db))
    live_view = consistent(analyst_on_live)
    run = start_run(inbox, db, 20)
    lines: list[str] = []
    waiting = threading.Event()

    def read_output() -> None:
        for line in run.stdout:
            lines.append(line)
            if "is locked by another process; retrying" in line:
                waiting.set()

    reader = threading.Thread(target=read_output)
    reader.start()
    assert waiting.wait(timeout=120), "".join(lines)
    analyst_on_live.close()

    # While the run holds the live file, an analyst who tries it is refused at once (the run
    # is never stalled by one), and the snapshot keeps answering with whole batches only.
    refused = 0
    seen: list[tuple[int, int]] = []
    with duckdb.connect(str(snapshot), read_only=True) as analyst:
        while run.poll() is None:
            seen.append(consistent(analyst))
            try:
                with duckdb.connect(str(db), read_only=True) as live:
                    seen.append(consistent(live))  # between the run's release and its exit
            except duckdb.IOException:
                refused += 1
            time.sleep(0.05)
    reader.join()
    output = "".join(lines)
    assert run.returncode == 0, output
    assert live_view[0] == live_view[1] == 5
    assert refused > 0
    assert seen and all(docs == batches for docs, batches in seen)
    with duckdb.connect(str(snapshot), read_only=True) as fresh:
        documents, accounted = consistent(fresh)
    assert documents == accounted > 5  # a new connection sees the run's published snapshot
