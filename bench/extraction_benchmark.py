"""Benchmark: score tasks/extract.py on the article extraction benchmark (scrapinghub, 181 pages).

Runs the pipeline's own path for every page: bytes decoded by tasks.decode.decode, then
tasks.extract.extract_html in worker processes with the production deadline. A page the
pipeline rejects (too_short, index_page, timeout, ...) scores as an empty prediction, exactly as
the benchmark scores a missing articleBody.

The metric is the benchmark's own (its evaluate.py): tokens are `\\w+` matches, each text is a
multiset of word 4-grams (a text shorter than 4 tokens is one shingle), TP/FP/FN per document are
normalised by their sum; precision is averaged over documents with a non-empty prediction or
truth (tp + fp > 0), recall over documents with tp + fn > 0, and F1 is the harmonic mean of the
two averages. Confidence intervals are 1.96 × the bootstrap standard deviation, as published.

On trafilatura's own evaluation set (../shared/data/trafilatura-eval) it prints the snippet F1
as trafilatura's eval gate computes it (a `with` snippet found in the whitespace-normalised
output is a true positive, missing a false negative; a `without` snippet found a false
positive; micro-averaged), for the pipeline and for plain trafilatura with the gate's options
(`--no-reference` skips the latter); title accuracy (exact after whitespace normalisation) on
the pages with a title (the title as the clean stage stores it; also ignoring letter case, since
many expected titles are the page's CSS-upper-cased rendering) and date accuracy on the pages
with a date. A rejected page counts as no output, no title and no date. EXTRACTION_BENCH_MISSES=<path> writes the title and date misses.

    .venv/bin/python bench/extraction_benchmark.py [--workers N] [--limit N] [--bootstrap N]
        [--only benchmark|trafilatura] [--no-reference]

Expected (issue 18): body F1 >= 0.965; snippet F1 >= 0.935 (plain trafilatura 2.3.1: 0.926).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "extraction-benchmark"
EVAL = ROOT.parent / "shared" / "data" / "trafilatura-eval"
MISSES = os.environ.get("EXTRACTION_BENCH_MISSES")  # a path: write the title and date misses

from tasks.clean import clean_title
from tasks.decode import decode
from tasks.extract import (
    EXTRACTOR_VERSION,
    ExtractionWorkers,
    extract_html,
)
from tasks.records import UrlArticle
from warehouse.settings import ExtractSettings

TOKEN = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)
Counts = tuple[float, float, float]
Snippets = tuple[int, int, int]  # true positives, false positives, false negatives
WARM_UP_PAGE = ("<html><head><title>t</title><meta property='article:published_time' "
                "content='2024-01-01'></head><body><article>" + "<p>Warm-up sentence.</p>" * 20
                + "</article></body></html>")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of word n-grams; a text with fewer than n tokens is a single shingle."""
    tokens = TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1))
                   if tokens[i:i + n])


def tp_fp_fn(truth: str, prediction: str) -> Counts:
    """Per-document TP, FP, FN over shingles, normalised so every document weighs the same."""
    true, pred = shingles(truth), shingles(prediction)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def recall_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def metrics(rows: list[Counts]) -> dict[str, float]:
    """The benchmark's aggregation: mean precision, mean recall, F1 of the two means."""
    precision = statistics.mean(precision_score(*r) for r in rows if r[0] + r[1] > 0)
    recall = statistics.mean(recall_score(*r) for r in rows if r[0] + r[2] > 0)
    return {"precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall)}


def bootstrap_ci(rows: list[Counts], rounds: int, seed: int = 0) -> dict[str, float]:
    """1.96 × the standard deviation of each metric over bootstrap resamples."""
    if rounds < 2:
        return {}
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        resample = [rows[rng.randrange(len(rows))] for _ in rows]
        for key, value in metrics(resample).items():
            samples.setdefault(key, []).append(value)
    return {key: 1.96 * statistics.stdev(values) for key, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="extraction processes")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N pages")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the CIs")
    parser.add_argument("--only", choices=("benchmark", "trafilatura"), default=None,
                        help="run one of the two sets")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip plain trafilatura on the trafilatura set")
    args = parser.parse_args()
    if not (DATA / "ground-truth.json").exists() and not (EVAL / "evaldata.json").exists():
        print(f"no data at {DATA} or {EVAL}; it lives in ../shared/data, outside the repository",
              file=sys.stderr)
        return 2
    config = ExtractSettings(processes=args.workers)
    with ExtractionWorkers(config) as workers:
        for _ in range(args.workers):  # first use loads trafilatura's lazy data; time steady state
            workers.read(WARM_UP_PAGE, None)
        print(f"extractor   trafilatura {EXTRACTOR_VERSION} via tasks/extract.py "
              f"({args.workers} worker{'s' * (args.workers > 1)})")
        if args.only != "trafilatura" and (DATA / "ground-truth.json").exists():
            score_benchmark(config, workers, args.limit, args.bootstrap)
        if args.only != "benchmark" and (EVAL / "evaldata.json").exists():
            score_trafilatura_set(config, workers, args.limit, not args.no_reference)
    return 0


def score_benchmark(config: ExtractSettings, workers: ExtractionWorkers, limit: int,
                    bootstrap: int) -> None:
    """Body F1 on the 181 pages of the article extraction benchmark."""
    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    items = sorted(truth.items())[: limit or None]
    rows: list[Counts] = []
    rejected: Counter[str] = Counter()
    started = time.perf_counter()
    for item_id, expected in items:
        result = extract_page(DATA / "html" / f"{item_id}.html", expected.get("url"),
                              config, workers)
        if not isinstance(result, UrlArticle):
            rejected[result.reason] += 1
        text = result.text if isinstance(result, UrlArticle) else ""
        rows.append(tp_fp_fn(expected.get("articleBody", ""), text))
    elapsed = time.perf_counter() - started
    scores, ci = metrics(rows), bootstrap_ci(rows, bootstrap)
    print("== article extraction benchmark (body F1 over word 4-grams)")
    print(f"pages       {len(rows)}   rejected {sum(rejected.values())} {dict(rejected)}")
    for key in ("precision", "recall", "f1"):
        spread = f" ± {ci[key]:.3f}" if key in ci else ""
        print(f"{key:<11} {scores[key]:.3f}{spread}")
    print(f"pages/s     {len(rows) / elapsed:.1f}   ({1000 * elapsed / len(rows):.0f} ms a page)")


# ---------------------------------------------------------------- trafilatura's evaluation set


def snippet_counts(item: dict, text: str | None) -> Snippets:
    """trafilatura's own scoring of one page (tests/eval_common.py): a `with` snippet found in
    the whitespace-normalised output is a true positive, one missing a false negative; a
    `without` snippet found is a false positive. No output: every `with` snippet is missed."""
    found = normalise(text) if text else ""
    tp = sum(1 for snippet in item["with"] if normalise(snippet) in found) if text else 0
    fp = sum(1 for snippet in item["without"] if normalise(snippet) in found) if text else 0
    return tp, fp, len(item["with"]) - tp


def snippet_f1(rows: list[Snippets]) -> tuple[float, float, float]:
    """Micro precision, recall and F1 over all snippets, as trafilatura's eval gate sums them."""
    tp, fp, fn = (sum(column) for column in zip(*rows, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, (2 * tp / (2 * tp + fp + fn) if tp else 0.0)


def normalise(text: str | None) -> str:
    return " ".join((text or "").split())


def plain_trafilatura(body: bytes) -> str | None:
    """The reference: trafilatura's defaults with the options of its own eval gate."""
    try:
        return trafilatura.extract(body, fast=False, include_comments=False,
                                   include_tables=True, include_formatting=False)
    except Exception:  # the gate scores a crash as a full miss
        return None


def score_trafilatura_set(config: ExtractSettings, workers: ExtractionWorkers, limit: int,
                          reference: bool) -> None:
    """Snippet F1 (the pipeline's path and, for comparison, plain trafilatura), title and date
    accuracy on trafilatura's evaluation set."""
    evaldata = json.loads((EVAL / "evaldata.json").read_text(encoding="utf-8"))
    items = list(evaldata.items())[: limit or None]
    ours: list[Snippets] = []
    plain: list[Snippets] = []
    titles: list[bool] = []
    caseless: list[bool] = []  # titles right but for letter case (CSS upper-cases many)
    dates: list[bool] = []
    rejected: Counter[str] = Counter()
    misses: list[str] = []
    elapsed = 0.0
    for url, item in items:
        path = EVAL / "html" / item["file"]
        started = time.perf_counter()
        result = extract_page(path, url, config, workers)
        elapsed += time.perf_counter() - started
        article = result if isinstance(result, UrlArticle) else None
        if article is None:
            rejected[result.reason] += 1
        ours.append(snippet_counts(item, article.text if article else None))
        if reference:
            plain.append(snippet_counts(item, plain_trafilatura(path.read_bytes())))
        if normalise(item.get("title")):
            got = normalise(clean_title(article.title) if article and article.title else None)
            titles.append(got == normalise(item["title"]))
            caseless.append(got.casefold() == normalise(item["title"]).casefold())
            if not titles[-1]:
                misses.append(f"title {item['file']}: {got!r} != {normalise(item['title'])!r}")
        if (item.get("date") or "").strip():
            got_date = article.published.isoformat() if article and article.published else None
            dates.append(got_date == item["date"].strip()[:10])
            if not dates[-1]:
                misses.append(f"date  {item['file']}: {got_date} != {item['date']}")
    print("== trafilatura evaluation set (snippet F1 as its eval gate computes it)")
    print(f"pages       {len(ours)}   rejected {sum(rejected.values())} {dict(rejected)}")
    print("pipeline    precision {:.3f}  recall {:.3f}  f1 {:.4f}".format(*snippet_f1(ours)))
    if plain:
        print("plain traf. precision {:.3f}  recall {:.3f}  f1 {:.4f}".format(*snippet_f1(plain)))
    print(f"title       {sum(titles) / len(titles):.3f} exact on {len(titles)} pages with a title"
          f" ({sum(caseless) / len(caseless):.3f} ignoring letter case)")
    print(f"date        {sum(dates) / len(dates):.3f} exact on {len(dates)} pages with a date")
    print(f"pages/s     {len(ours) / elapsed:.1f}   ({1000 * elapsed / len(ours):.0f} ms a page)")
    if MISSES:
        Path(MISSES).write_text("\n".join(misses) + "\n", encoding="utf-8")


def extract_page(path: Path, url: str | None, config: ExtractSettings,
                 workers: ExtractionWorkers):
    """The pipeline's path for one saved page: decode the bytes ourselves, then extract."""
    body = path.read_bytes()
    text, encoding = decode(body, markup=True)
    return extract_html(text, locator=url or path.name, url=url, content_hash=path.stem,
                        size=len(body), encoding=encoding, config=config, workers=workers)


if __name__ == "__main__":
    sys.exit(main())
