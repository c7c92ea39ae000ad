"""Benchmark: a new user's first `make run`, again and again, on a busy machine.

Clones this repository (its committed HEAD) into a temporary folder, then runs `make run` there
N times (default 10), each from an empty `data/` and a fresh HOME (so Prefect's own database is
new each time too), while CPU-bound processes keep the machine busy (default 6, on 2 cores a load
of about 7). The first run also builds `.venv` from the lock file; the others reuse it. After each
run it checks that no process of the run is left behind (a temporary Prefect server, a worker).

    .venv/bin/python bench/first_run.py [--runs 10] [--burners 6] [--keep DIR]

Prints one line per run and `first runs: N/10 succeeded`, the slowest run, and the processes left
behind (there must be none).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def burn() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        pass


def group_members(pgid: int) -> list[str]:
    """Processes still in a process group, as 'pid command' lines (from /proc)."""
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
                left.append(f"{entry.name} {cmd}")
        except (OSError, ValueError):
            continue
    return left


def one_run(clone: Path, home: Path, log: Path) -> tuple[int, float, list[str]]:
    shutil.rmtree(clone / "data", ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CORPUSFLOW_", "PREFECT_", "VIRTUAL_ENV"))}
    env["HOME"] = str(home)
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        code = proc.wait()
    seconds = time.monotonic() - started
    time.sleep(2)  # a server shutting down gets a moment
    left = group_members(proc.pid)
    for line in left:
        try:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        except OSError:
            pass
    return code, seconds, left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--burners", type=int, default=6, help="CPU-bound processes meanwhile")
    parser.add_argument("--keep", type=Path, help="clone here and keep it (default: temp)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="corpusflow-first-run-"))
    clone = work / "corpusflow"
    if not clone.exists():
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.burners)]
    for burner in burners:
        burner.start()
    results = []
    try:
        for n in range(1, args.runs + 1):
            log = work / f"run-{n}.log"
            code, seconds, left = one_run(clone, work / f"home-{n}", log)
            results.append((code, seconds, left))
            tail = "" if code == 0 else f"  (log: {log})"
            print(f"run {n}: exit {code} in {seconds:.0f} s, {len(left)} processes left{tail}",
                  flush=True)
    finally:
        for burner in burners:
            burner.terminate()
    ok = sum(1 for code, _, left in results if code == 0 and not left)
    print(f"first runs: {ok}/{len(results)} succeeded; slowest {max(s for _, s, _ in results):.0f} s"
          f" (the first one builds .venv); processes left behind:"
          f" {sum(len(left) for _, _, left in results)}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
