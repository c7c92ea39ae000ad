"""Benchmark: corpusflow at corpus scale. Generates an inbox of N articles from the BBC corpus
(../shared/data/bbc-news; each article mixes paragraphs of several real ones, so they are
distinct texts), ingests it with NER on, then runs again with nothing changed.

Prints end-to-end documents per second, the time each stage took (from Prefect's task runs),
the peak memory of the whole process tree (flow process and workers) and the no-change re-run.

    .venv/bin/python bench/scale.py [--documents 100000] [--batch-size 1000]
                                    [--runner threads|processes|dask] [--workdir DIR] [--rerun-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("CORPUSFLOW_SETTLE_S", "0")  # the generated inbox is read at once

import psutil  # noqa: E402  (installed with prefect-dask's distributed)

BBC = Path(__file__).resolve().parents[2] / "shared" / "data" / "bbc-news"


def generate_inbox(folder: Path, documents: int, seed: int = 11) -> None:
    """Write `documents` articles, each a headline and paragraphs drawn from several articles."""
    paragraphs = []
    for path in sorted(BBC.glob("*/*.txt")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        paragraphs += [p.strip() for p in text.split("\n\n")[1:] if len(p.strip()) > 80]
    rng = random.Random(seed)
    for number in range(documents):
        chosen = rng.sample(paragraphs, rng.randint(5, 9))
        sub = folder / f"{number // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{number:06d}.txt").write_text(
            f"Report {number}\n\n" + "\n\n".join(chosen) + "\n", encoding="utf-8")


class PeakMemory(threading.Thread):
    """Samples the resident memory of this process, of its workers, and of the temporary
    Prefect server it started (not corpusflow's: a deployment talks to a standing server)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peaks = {"flow process": 0, "workers": 0, "pipeline (flow + workers)": 0,
                      "prefect server": 0, "whole tree (pipeline + server)": 0}
        self.timeline: list[tuple[float, int]] = []  # (seconds since start, pipeline RSS)

    def run(self) -> None:
        me = psutil.Process()
        started = time.perf_counter()
        while not self.stop.is_set():
            own, workers, server = me.memory_info().rss, 0, 0
            for child in me.children(recursive=True):
                try:
                    rss, command = child.memory_info().rss, " ".join(child.cmdline())
                except psutil.Error:
                    continue
                if "prefect" in command and ("server" in command or "uvicorn" in command):
                    server += rss
                else:
                    workers += rss
            for name, value in (("flow process", own), ("workers", workers),
                                ("pipeline (flow + workers)", own + workers),
                                ("prefect server", server),
                                ("whole tree (pipeline + server)", own + workers + server)):
                self.peaks[name] = max(self.peaks[name], value)
            self.timeline.append((time.perf_counter() - started, own + workers))
            time.sleep(0.25)

    def growth(self, until: float, parts: int = 10) -> list[int]:
        """Peak pipeline memory (MB) in each tenth of the first `until` seconds: flat when
        memory does not grow with the corpus (the first run loads at a steady rate)."""
        peaks = [0] * parts
        for at, rss in self.timeline:
            if at < until:
                slot = min(parts - 1, int(at / until * parts))
                peaks[slot] = max(peaks[slot], rss // 2**20)
        return peaks


async def stage_seconds(flow_run_id: str) -> dict[str, float]:
    """Total run time per task name of one flow run, as Prefect recorded it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    totals: dict[str, float] = defaultdict(float)
    async with get_client() as client:
        offset = 0
        while True:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                limit=200, offset=offset)
            for run in runs:
                totals[run.name.rsplit("-", 1)[0]] += run.total_run_time.total_seconds()
            if len(runs) < 200:
                return dict(totals)
            offset += 200


def time_reruns(flow: Any, params: Any) -> int:
    """Seconds of no-change runs over a warehouse that holds the inbox already: the first
    starts Prefect's temporary server (as the full benchmark's first run does), the others
    are timed as its no-change re-run is."""
    flow(params)
    for _ in range(3):
        started = time.perf_counter()
        again = flow(params)
        print(f"no-change re-run      {time.perf_counter() - started:.1f} s"
              f" ({again.files_unchanged} unchanged, {again.documents_new} new)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--runner", default=os.environ.get("CORPUSFLOW_TASK_RUNNER", "threads"),
                        choices=["threads", "processes", "dask"],
                        help="default: CORPUSFLOW_TASK_RUNNER, else threads (the project's default)")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--rerun-only", action="store_true",
                        help="time no-change runs of the warehouse already in --workdir (three,"
                        " after a first that starts Prefect's server) instead of a whole run")
    args = parser.parse_args()
    if not BBC.exists():
        print(f"bbc-news corpus not found at {BBC}; nothing to measure")
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="corpusflow-scale-"))
    inbox = workdir / "inbox"
    if not inbox.exists():
        started = time.perf_counter()
        generate_inbox(inbox, args.documents)
        print(f"generated {args.documents} files in {time.perf_counter() - started:.0f} s")
    os.environ["CORPUSFLOW_DB_PATH"] = str(workdir / "corpus.duckdb")
    os.environ["CORPUSFLOW_TASK_RUNNER"] = args.runner

    from flows.ingest_files import ingest_files
    from flows.params import IngestFilesParams
    from flows.runners import task_runner
    from flows.server import terminal_run
    from warehouse.settings import get_settings

    flow = ingest_files.with_options(task_runner=task_runner(get_settings().runners))
    with terminal_run():  # as `corpus run` runs it
        return measure(flow, IngestFilesParams(inbox=[str(inbox)], batch_size=args.batch_size),
                       args)


def measure(flow: Any, params: Any, args: argparse.Namespace) -> int:
    """The timed runs and the figures."""
    if args.rerun_only:
        return time_reruns(flow, params)
    memory = PeakMemory()
    memory.start()
    started = time.perf_counter()
    report = flow(params)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = flow(params)
    second = time.perf_counter() - started
    memory.stop.set()

    print(f"runner                {args.runner} ({os.cpu_count()} cores)")
    print(f"documents             {report.documents_new} new of {report.files_seen} files,"
          f" {report.duplicates_new} duplicates, {report.rejects_new} rejects,"
          f" {report.mentions_new} mentions")
    print(f"first run             {first:.0f} s = {report.documents_new / first:.0f} documents/s"
          " end to end (Prefect start-up included)")
    for stage, seconds in sorted(asyncio.run(stage_seconds(report.run_id)).items(),
                                 key=lambda item: -item[1]):
        rate = report.files_seen / seconds if seconds else float("inf")
        print(f"  {stage:<18} {seconds:8.1f} s busy  {rate:8.0f} files/s")
    print(f"no-change re-run      {second:.1f} s ({again.files_unchanged} unchanged)")
    for name, peak in memory.peaks.items():
        print(f"peak memory           {peak / 2**20:6.0f} MB  {name}")
    print("pipeline MB by tenth  " + " ".join(str(mb) for mb in memory.growth(first))
          + "  (peak in each tenth of the first run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
