"""Benchmark: story grouping on human-rated news pairs, end to end through `corpus run`.

Writes the texts of ../shared/data/story-pairs/train_pairs.csv (SemEval-2022 Task 8: pairs rated
1 = same story ... 4 = unrelated; `overall` <= 2 counts as same story, >= 3 as different, the
middle is left out) as files, one per article, ingests them with `corpus run` into a fresh
warehouse, and prints from `story_members`: pair precision, recall and F1 (a pair is grouped
when both articles are in one story) overall, within a language, across languages and per
language pair; Spearman's correlation between a pair's link score (`story_links`, 0 without a
direct link) and `overall` on en-en pairs. Then ingests the BBC corpus (../shared/data/bbc-news)
into a second warehouse and prints the share of 2,000 random pairs of articles from different
categories that share a story, and the biggest BBC stories, to be read.

Targets (issue 17): F1 >= 0.80 overall, Spearman <= -0.60 on en-en, cross-language recall
>= 0.60, random BBC pairs in one story <= 1%.

    .venv/bin/python bench/stories.py [--skip-bbc] [--keep DIR] [--errors N]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PAIRS = DATA / "story-pairs" / "train_pairs.csv"
BBC = DATA / "bbc-news"


@dataclass
class Pair:
    """One rated pair: its articles, languages and rating."""

    pair_id: str
    first: str
    second: str
    languages: str
    overall: float
    texts: tuple[str, str]

    @property
    def same(self) -> bool:
        return self.overall <= 2

    @property
    def cross(self) -> bool:
        first, second = self.languages.split("-")
        return first != second


def read_pairs() -> list[Pair]:
    """The rated pairs that count: same story (overall <= 2) or different (>= 3)."""
    pairs = []
    with PAIRS.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            overall = float(row["overall"])
            if 2 < overall < 3:
                continue
            first, second = row["pair_id"].split("_")
            pairs.append(Pair(row["pair_id"], first, second, f"{row['lang1']}-{row['lang2']}",
                              overall, (row["text1"], row["text2"])))
    return pairs


def corpus_run(inbox: Path, db: Path) -> None:
    """`corpus run --inbox` as a user runs it, into `db`."""
    env = {**os.environ, "CORPUSFLOW_DB_PATH": str(db),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "corpus"), "run", "--inbox", str(inbox)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"corpus run failed ({done.returncode}):\n{done.stdout[-2000:]}\n"
                 f"{done.stderr[-2000:]}")


def stories_by_file(db: Path) -> tuple[dict[str, str], dict[str, str], dict]:
    """File stem → doc_id (an exact copy's source points at its original), doc_id → story_id,
    and (doc_id, doc_id) → the score of a direct link, both ways."""
    with duckdb.connect(str(db), read_only=True) as con:
        doc_of = {Path(locator).stem: doc for locator, doc in con.execute(
            "select locator, doc_id from sources where doc_id is not null").fetchall()}
        story = dict(con.execute("select doc_id, story_id from story_members").fetchall())
        links = {}
        for doc, other, score in con.execute(
                "select doc_id, linked_doc_id, score from story_links").fetchall():
            links[(doc, other)] = links[(other, doc)] = score
    return doc_of, story, links


def scores(grouped: list[tuple[Pair, bool]]) -> str:
    """Pair precision, recall and F1 of (pair, grouped) rows."""
    tp = sum(pair.same and together for pair, together in grouped)
    fp = sum(not pair.same and together for pair, together in grouped)
    fn = sum(pair.same and not together for pair, together in grouped)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return (f"P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}  "
            f"(pairs {len(grouped)}, tp {tp}, fp {fp}, fn {fn})")


def ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties sharing their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            result[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation: Pearson's over average ranks."""
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    var = (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    return cov / var if var else 0.0


def pair_benchmark(work: Path, errors: int) -> None:
    pairs = read_pairs()
    inbox = work / "pairs"
    inbox.mkdir(parents=True, exist_ok=True)
    for pair in pairs:
        for article, text in zip((pair.first, pair.second), pair.texts, strict=True):
            path = inbox / f"{article}.txt"
            if not path.exists():
                path.write_text(text, encoding="utf-8")
    db = work / "pairs.duckdb"
    corpus_run(inbox, db)
    doc_of, story, links = stories_by_file(db)
    rows = [(pair, doc_of[pair.first], doc_of[pair.second]) for pair in pairs
            if pair.first in doc_of and pair.second in doc_of]
    grouped = [(pair, story[a] == story[b]) for pair, a, b in rows]
    print(f"story pairs: {len(rows)} of {len(pairs)} rated pairs have both articles stored "
          f"({len(set(story.values()))} stories of {len(story)} documents, the largest "
          f"{max(list(story.values()).count(s) for s in set(story.values()))})")
    print(f"  overall          {scores(grouped)}")
    print(f"  same language    {scores([g for g in grouped if not g[0].cross])}")
    print(f"  across languages {scores([g for g in grouped if g[0].cross])}")
    for languages in sorted({pair.languages for pair, _ in grouped}):
        print(f"    {languages}  {scores([g for g in grouped if g[0].languages == languages])}")
    english = [(links.get((a, b), 0.0), pair.overall) for pair, a, b in rows
               if pair.languages == "en-en"]
    print(f"  Spearman(link score, overall) on en-en: "
          f"{spearman([s for s, _ in english], [o for _, o in english]):.3f}")
    for name, wanted in (("false links", False), ("missed", True)):
        wrong = [(pair, a, b) for pair, a, b in rows
                 if pair.same == wanted and (story[a] == story[b]) != wanted]
        for pair, a, b in random.Random(7).sample(wrong, min(errors, len(wrong))):
            print(f"  {name}: {pair.pair_id} {pair.languages} overall {pair.overall:.2f} "
                  f"link {links.get((a, b), 0.0):.3f}")
            for text in pair.texts:
                print("      " + " ".join(text.split())[:110])


def bbc_benchmark(work: Path) -> None:
    db = work / "bbc.duckdb"
    corpus_run(BBC, db)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select s.locator, m.doc_id, m.story_id from story_members m"
            " join documents d using (doc_id) join sources s on s.source_id = d.source_id"
        ).fetchall()
        biggest = con.execute(
            "select documents, title from top_stories limit 8").fetchall()
    category = {doc: Path(locator).parent.name for locator, doc, _ in rows}
    story = {doc: story_id for _, doc, story_id in rows}
    documents = sorted(story)
    rng = random.Random(20220401)
    pairs: list[tuple[str, str]] = []
    while len(pairs) < 2000:
        a, b = rng.sample(documents, 2)
        if category[a] != category[b]:
            pairs.append((a, b))
    together = sum(story[a] == story[b] for a, b in pairs)
    sizes = sorted((list(story.values()).count(s) for s in set(story.values())), reverse=True)
    print(f"BBC: {len(story)} documents in {len(set(story.values()))} stories; "
          f"{sum(size > 1 for size in sizes)} of more than one document")
    print(f"  random pairs from different categories in one story: {together} of "
          f"{len(pairs)} = {together / len(pairs):.2%}")
    for documents_in, title in biggest:
        print(f"  {documents_in:4d}  {title}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-bbc", action="store_true", help="only the rated pairs")
    parser.add_argument("--keep", type=Path, help="folder for the inboxes and warehouses")
    parser.add_argument("--errors", type=int, default=0,
                        help="print this many false links and missed pairs, to be read")
    args = parser.parse_args()
    if not PAIRS.exists():
        sys.exit(f"no story pairs at {PAIRS}: nothing to measure")
    work = args.keep or Path(tempfile.mkdtemp(prefix="stories-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    pair_benchmark(work, args.errors)
    if not args.skip_bbc:
        if BBC.exists():
            bbc_benchmark(work)
        else:
            print(f"no BBC corpus at {BBC}: random-pair false links not measured")


if __name__ == "__main__":
    main()
