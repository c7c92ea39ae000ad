"""Benchmark: finding story candidates for 1,000 new documents among 1,000,000 stored ones.

Builds a migrated warehouse whose `story_terms` hold N synthetic stored documents: terms drawn
log-uniformly (Zipf's law, exponent 1) from 2,000,000 words, 300,000 entity keys and 100,000
numbers, as many of each kind per document as tasks/stories.py keeps, days spread over a year
in arrival order, as a warehouse fills. Then times what the story stage does to find a batch's
candidates (tasks/stories.py `group_batch`: the window's days, the probes' hits per day, then
warehouse.queries.Reads.story_candidates: the stored or earlier new documents that keep a probe
term inside the window, the 20 sharing most, with their summed weights per kind) for 1,000 new
documents of the last day, a few times. Prints the seconds and the candidates found.

    .venv/bin/python bench/story_candidates.py [--stored 1000000] [--new 1000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from tasks.stories import (  # noqa: E402
    CANDIDATES_PER_DOCUMENT, KEPT, PROBES, Profile, probe_limit, probe_rows, profile_columns,
    usable_probes,
)
from warehouse.migrate import migrate  # noqa: E402
from warehouse.queries import Reads  # noqa: E402

VOCABULARY = {0: 2_000_000, 1: 300_000, 2: 100_000}  # distinct terms per kind
DAYS = 365


def fill(con: duckdb.DuckDBPyConnection, stored: int) -> None:
    """N stored documents' terms, generated in SQL: term = floor(vocabulary ^ u) follows Zipf's
    law (exponent 1), so common terms are shared by many documents: harsher than the terms the
    story stage keeps, which tf-idf picks away from the commonest words."""
    for kind, per_document in KEPT.items():
        con.execute(
            "insert into story_terms select 'stored-' || d, ?, ? * 10000000 +"
            " cast(floor(pow(?, random())) as bigint),"
            " 1 / sqrt(?), date '2024-01-01' + cast(d * ? // ? as integer)"
            " from range(?) as r(d), range(?) as t(n)",
            [kind, kind, VOCABULARY[kind], per_document, DAYS, stored, stored, per_document])
    con.execute("insert into story_term_counts select term, count(distinct doc_id)"
                " from story_terms group by term")
    con.execute("insert into story_members select doc_id, doc_id, 1, 'bench', now()"
                " from (select distinct doc_id from story_terms)")


def new_documents(con: duckdb.DuckDBPyConnection, new: int) -> list[Profile]:
    """Profiles of `new` documents of the last day, with terms drawn like the stored ones and
    probe terms picked as tasks/stories.py picks them: of each kind, the strongest held by few
    documents (the weights here are equal, so the rarest)."""
    rows = con.execute(
        "select 'new-' || d, k.kind, k.kind * 10000000 + cast(floor(pow(k.vocabulary,"
        " random())) as bigint), 1 / sqrt(k.kept)"
        " from range(?) as r(d), (select unnest(?::integer[]) as kind,"
        " unnest(?::integer[]) as vocabulary, unnest(?::integer[]) as kept) as k,"
        " lateral (select * from range(k.kept)) as t(n)",
        [new, list(KEPT), [VOCABULARY[k] for k in KEPT], list(KEPT.values())],
    ).fetchall()
    documents, total = Reads(con).story_term_counts(sorted({row[2] for row in rows}))
    day = dt.date(2024, 1, 1) + dt.timedelta(days=DAYS - 1)
    profiles: dict[str, Profile] = {}
    for doc_id, kind, term, weight in rows:
        profiles.setdefault(doc_id, Profile(doc_id, day, "en")).weights[(kind, term)] = weight
    for profile in profiles.values():
        for kind, limit in PROBES.items():
            held = sorted((documents.get(term, 0), term) for k, term in profile.weights
                          if k == kind)[:limit]
            profile.probes.update((kind, term) for count, term in held
                                  if count <= probe_limit(total))
    return list(profiles.values())


def find_candidates(reads: Reads, profiles: list[Profile], window: int) -> list[tuple]:
    """What the story stage does to find a batch's candidates (tasks/stories.py group_batch):
    the days of the window that documents have, the probes' hits per day, the usable probes,
    then the candidate query with its scores."""
    span = dt.timedelta(days=window)
    days = {p.day for p in profiles} | set(reads.story_days_between(
        min(p.day for p in profiles) - span, max(p.day for p in profiles) + span))
    rows = probe_rows(profiles, window, days)
    hits = reads.story_term_hits({"kind": [r[2] for r in rows], "term": [r[3] for r in rows],
                                  "day": [r[4] for r in rows]})
    return reads.story_candidates(profile_columns(profiles), usable_probes(profiles, rows, hits),
                                  CANDIDATES_PER_DOCUMENT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--window", type=int, default=3, help="story window in days")
    parser.add_argument("--keep", type=Path, help="warehouse file to build or reuse")
    args = parser.parse_args()
    path = args.keep or Path(tempfile.mkdtemp()) / "stories.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    if not con.execute("select count(*) from story_terms").fetchone()[0]:
        started = time.perf_counter()
        fill(con, args.stored)
        con.execute("checkpoint")
        print(f"built {args.stored:,} stored documents' terms in"
              f" {time.perf_counter() - started:.0f} s")
    rows = con.execute("select count(*), count(distinct doc_id) from story_terms").fetchone()
    print(f"story_terms: {rows[0]:,} rows, {rows[1]:,} documents; {sum(KEPT.values())} terms kept"
          f" per document at most ({KEPT})")
    profiles = new_documents(con, args.new)
    reads = Reads(con)
    for attempt in range(3):
        started = time.perf_counter()
        found = find_candidates(reads, profiles, args.window)
        seconds = time.perf_counter() - started
        pairs = len({(a, b) for a, b, *_ in found})
        print(f"candidates for {args.new:,} new documents: {seconds:.3f} s"
              f" ({pairs:,} candidate pairs; attempt {attempt + 1})")


if __name__ == "__main__":
    main()
