"""Benchmark: find near-duplicate candidates for 1,000 new documents against the band keys of
1,000,000 stored documents (generated), with the warehouse's own candidate query.

    .venv/bin/python bench/lsh_candidates.py [--stored 1000000] [--batch 1000] [--repeat 5]

Stored band keys are random 63-bit values (a real corpus's keys are hashes, so they are just
as uniform); 1% of the new batch copies a stored document's keys so the join has matches."""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from warehouse.records import BandKeys
from warehouse.session import open_warehouse
from warehouse.settings import DedupSettings, WarehouseSettings


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(con, stored: int, bands: int, rng: np.random.Generator) -> np.ndarray:
    """Insert `stored` documents' band keys in chunks through DuckDB's NumPy scan."""
    keys = rng.integers(0, 2**63 - 1, size=(stored, bands), dtype=np.int64)
    chunk = 100_000
    for start in range(0, stored, chunk):
        block = keys[start: start + chunk]
        frame = {
            "doc_id": np.repeat(np.array([f"d{n:09d}" for n in range(start, start + len(block))]), bands),
            "band": np.tile(np.arange(bands, dtype=np.int16), len(block)),
            "key": block.reshape(-1),
        }
        con.register("frame", frame)
        con.execute("insert into lsh_bands select doc_id, band, key from frame")
        con.unregister("frame")
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    params = DedupSettings()
    rng = np.random.default_rng(7)
    path = Path(tempfile.mkdtemp(prefix="corpusflow-lsh-")) / "lsh.duckdb"
    with open_warehouse(WarehouseSettings(db_path=path), "lsh-bench") as session:
        con = session.con
        started = time.perf_counter()
        stored = fill(con, args.stored, params.bands, rng)
        con.execute("checkpoint")
        print(f"stored band keys     {args.stored * params.bands:,} rows"
              f" ({time.perf_counter() - started:.1f} s to generate and load)")
        print(f"database file        {path.stat().st_size / 2**20:.0f} MiB")
        timings = []
        for trial in range(args.repeat):
            new = rng.integers(0, 2**63 - 1, size=(args.batch, params.bands), dtype=np.int64)
            copies = rng.choice(args.stored, size=args.batch // 100, replace=False)
            new[: len(copies)] = stored[copies]
            keys = BandKeys(doc_ids=[f"n{trial}-{n}" for n in range(args.batch)],
                            keys=new.tolist())
            started = time.perf_counter()
            pairs = session.band_candidates(keys)
            timings.append(time.perf_counter() - started)
            assert len(pairs) >= len(copies)
        print(f"candidate query      {args.batch} new docs: median {np.median(timings) * 1000:.0f} ms,"
              f" max {max(timings) * 1000:.0f} ms over {args.repeat} batches"
              f" ({len(pairs)} candidate pairs in the last)")
        print(f"peak memory          {peak_rss_mb():.0f} MB (process)")


if __name__ == "__main__":
    main()
