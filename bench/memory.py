"""Benchmark: peak memory of `corpus run` on hostile inputs, with the default memory budget and
with a small one.

Generates, in a temporary inbox, one input per case: a 40 MB one-line .txt, a 100 MB .txt, a
.jsonl holding one 10 MB string, a .jsonl of 1,000,000 small records and a 200 MB HTML page.
Each case is ingested by its own `corpus run` (a fresh warehouse, the input limit raised to
300 MB so that the large files reach the stages), while the resident memory of the run's process
tree is sampled every 50 ms. The temporary Prefect server a terminal run starts is sampled
apart: it is Prefect's, the same size whatever the input, and absent when runs report to a
standing server (`corpus serve`, deployments).

    .venv/bin/python bench/memory.py [--budgets 1536,512] [--cases txt40,jsonl1m] [--workdir DIR]

Prints, per budget and case: exit status, seconds, peak RSS of the run, of the Prefect server,
and what the run made of the input (documents, rejects with reasons).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
SENTENCE = ("Ukrainian officials said on Tuesday that grain shipments from Odesa resumed after "
            "talks in Istanbul, while Russian forces shelled positions near Kharkiv. ")


def _repeat(size: int) -> str:
    return (SENTENCE * (size // len(SENTENCE) + 1))[:size]


def write_txt(path: Path, size: int) -> None:
    """One line of `size` characters: no paragraph breaks for a splitter to use."""
    path.write_text(_repeat(size), encoding="utf-8")


def write_jsonl_big_string(path: Path) -> None:
    path.write_text(json.dumps({"title": "big", "text": _repeat(10 * MB)}) + "\n", encoding="utf-8")


def write_jsonl_many(path: Path, records: int = 1_000_000) -> None:
    """Small records: a line of a wire feed each (about 60 bytes)."""
    with path.open("w", encoding="utf-8") as out:
        for n in range(records):
            out.write(json.dumps({"title": f"r{n}", "text": f"Item {n}: grain left Odesa."}) + "\n")


def write_html(path: Path, size: int) -> None:
    """A page of `size` bytes: an article body made of many paragraphs."""
    paragraph = f"<p>{SENTENCE}</p>\n"
    body = paragraph * (size // len(paragraph))
    path.write_text(f"<html><head><title>big</title></head><body><article>{body}</article>"
                    "</body></html>", encoding="utf-8")


CASES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "txt40": ("one-line 40 MB .txt", lambda p: write_txt(p / "one-line.txt", 40 * MB)),
    "txt100": ("100 MB .txt", lambda p: write_txt(p / "hundred.txt", 100 * MB)),
    "jsonl10": (".jsonl with a 10 MB string", lambda p: write_jsonl_big_string(p / "big.jsonl")),
    "jsonl1m": (".jsonl of 1,000,000 records", lambda p: write_jsonl_many(p / "many.jsonl")),
    "html200": ("200 MB HTML page", lambda p: write_html(p / "page.html", 200 * MB)),
}


class TreePeak(threading.Thread):
    """Peak RSS of a process and its descendants, the Prefect server among them kept apart."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.stop = threading.Event()
        self.run_peak = self.server_peak = 0
        self.process_peaks: dict[int, int] = {}  # each process's own peak, by pid
        self.process_cpu: dict[int, float] = {}  # each process's CPU seconds, last seen
        self.first_cpu: dict[int, float] = {}  # and when first seen

    def run(self) -> None:
        # The sampler shares the measured process (bench/ingest_bbc.py runs the flow in it), so
        # it keeps its own cost small: the process list, which psutil builds by reading every
        # process's stat file, is renewed once a second, and each process is classified once.
        processes: list[psutil.Process] = []
        servers: dict[int, bool] = {}
        samples = 0
        while not self.stop.is_set():
            if samples % 10 == 0:
                try:
                    processes = [self.root, *self.root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    return
            samples += 1
            run_rss = server_rss = 0
            for process in processes:
                try:
                    rss = process.memory_info().rss
                    times = process.cpu_times()
                    if process.pid not in servers:
                        servers[process.pid] = _is_server(process)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                self.process_peaks[process.pid] = max(self.process_peaks.get(process.pid, 0), rss)
                self.process_cpu[process.pid] = times.user + times.system
                self.first_cpu.setdefault(process.pid, times.user + times.system)
                if servers[process.pid]:
                    server_rss += rss
                else:
                    run_rss += rss
            self.run_peak = max(self.run_peak, run_rss)
            self.server_peak = max(self.server_peak, server_rss)
            time.sleep(0.1)

    def cpu_used(self) -> dict[int, float]:
        """CPU seconds each process used while sampled (from its first sample)."""
        return {pid: cpu - self.first_cpu[pid] for pid, cpu in self.process_cpu.items()}


def _is_server(process: psutil.Process) -> bool:
    command = " ".join(process.cmdline())
    return "uvicorn" in command or ("prefect" in command and "server" in command)


def run_case(inbox: Path, work: Path, budget_mb: int) -> dict:
    """`corpus run` on one inbox with the budget; exit status, time, peaks and the outcome."""
    db = work / "corpus.duckdb"
    env = {**os.environ, "CORPUSFLOW_DB_PATH": str(db), "CORPUSFLOW_MEMORY_BUDGET_MB": str(budget_mb),
           "CORPUSFLOW_MAX_FILE_BYTES": str(300 * MB), "PREFECT_HOME": str(work / "prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_LOGGING_LEVEL": "WARNING", "CORPUSFLOW_SETTLE_S": "0"}
    env.pop("PREFECT_API_URL", None)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "cli", "run", "--inbox", str(inbox)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    sampler = TreePeak(process.pid)
    sampler.start()
    output = process.communicate()[0]
    sampler.stop.set()
    sampler.join()
    result = {"exit": process.returncode, "seconds": time.perf_counter() - started,
              "run_mb": sampler.run_peak / 2**20, "server_mb": sampler.server_peak / 2**20,
              "tail": output[-600:]}
    if db.exists():
        with duckdb.connect(str(db), read_only=True) as con:
            result["documents"] = con.execute("select count(*) from documents").fetchone()[0]
            result["rejects"] = con.execute(
                "select reason, count(*) from rejects group by 1 order by 2 desc").fetchall()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="1536,512", help="memory budgets in MB")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="corpusflow-memory-"))
    failures = 0
    print(f"{'budget':>6}  {'case':<30} {'exit':>4} {'s':>6} {'run MB':>7} {'server MB':>9}  outcome")
    for budget in (int(b) for b in args.budgets.split(",")):
        for name in args.cases.split(","):
            label, write = CASES[name]
            inbox = root / "inputs" / name
            if not inbox.exists():
                inbox.mkdir(parents=True)
                write(inbox)
            work = root / f"run-{budget}-{name}"
            work.mkdir(parents=True, exist_ok=True)
            for stale in work.glob("corpus*"):
                stale.unlink()
            result = run_case(inbox, work, budget)
            limit = 1536 if budget >= 1536 else 600
            ok = result["exit"] == 0 and result["run_mb"] < limit
            failures += not ok
            outcome = f"{result.get('documents', '?')} documents, rejects {result.get('rejects')}"
            print(f"{budget:>6}  {label:<30} {result['exit']:>4} {result['seconds']:>6.1f} "
                  f"{result['run_mb']:>7.0f} {result['server_mb']:>9.0f}  {outcome}"
                  f"{'' if ok else '  <-- FAILS the target'}", flush=True)
            if result["exit"] != 0:
                print(result["tail"])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
