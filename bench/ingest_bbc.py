"""Benchmark: ingest the BBC news corpus (../shared/data/bbc-news) end to end with the real flow.

Prints documents per second, peak memory, and what the warehouse holds (expected: 2,127
documents and 98 exact duplicates, the corpus's own count of byte-identical files; the near
duplicates, edited versions of one story, come on top).

    .venv/bin/python bench/ingest_bbc.py [--keep PATH] [--batch-size N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]
BBC = ROOT.parent / "shared" / "data" / "bbc-news"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the warehouse here instead of a temp dir")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    if not BBC.exists():
        print(f"bbc-news corpus not found at {BBC}; nothing to measure")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="corpusflow-bench-"))
    db_path = args.keep or workdir / "bbc.duckdb"
    os.environ["CORPUSFLOW_DB_PATH"] = str(db_path)

    from flows.ingest_files import ingest_files
    from flows.params import IngestFilesParams
    from warehouse.session import read_session

    params = IngestFilesParams(inbox=[str(BBC / "*" / "*.txt")], batch_size=args.batch_size)
    started = time.perf_counter()
    report = ingest_files(params)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = ingest_files(params)
    second = time.perf_counter() - started
    with read_session(db_path) as reads:
        con = reads.con
        counts = reads.table_counts()
        encodings = con.execute("select encoding, count(*) from documents group by 1").fetchall()
        methods = dict(con.execute("select method, count(*) from duplicates group by 1").fetchall())

    print(f"files seen            {report.files_seen}")
    print(f"documents             {counts['documents']}  (expected 2127)")
    print(f"exact duplicates      {methods.get('exact', 0)}  (expected 98)")
    print(f"near duplicates       {methods.get('near', 0)}  (documents kept, linked to the earlier)")
    print(f"rejects               {counts['rejects']}")
    print(f"mentions              {counts['mentions']}")
    print(f"encodings             {dict(encodings)}")
    print(f"first run             {first:.1f} s  ({report.files_seen / first:.0f} files/s,"
          f" {counts['documents'] / first:.0f} documents/s, Prefect start-up included)")
    print(f"no-change re-run      {second:.1f} s  ({again.files_unchanged} unchanged)")
    print(f"peak memory (process) {peak_rss_mb():.0f} MB")
    ok = counts["documents"] == 2127 and methods.get("exact") == 98
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
