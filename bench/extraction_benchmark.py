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

    .venv/bin/python bench/extraction_benchmark.py [--workers N] [--limit N] [--bootstrap N]

Expected: F1 >= 0.95 (trafilatura 2.0.0 is published at 0.958).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "extraction-benchmark"

from tasks.extract import (  # noqa: E402 - after the path set-up above
    EXTRACTOR_VERSION,
    ExtractionWorkers,
    extract_html,
)
from tasks.decode import decode  # noqa: E402
from tasks.records import UrlArticle  # noqa: E402
from warehouse.settings import ExtractSettings  # noqa: E402

TOKEN = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)
Counts = tuple[float, float, float]
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
    args = parser.parse_args()
    truth_path = DATA / "ground-truth.json"
    if not truth_path.exists():
        print(f"extraction benchmark not found at {DATA} (expected ground-truth.json and html/);"
              " it lives in ../shared/data, outside the repository", file=sys.stderr)
        return 2
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    items = sorted(truth.items())[: args.limit or None]

    config = ExtractSettings(processes=args.workers)
    rows: list[Counts] = []
    rejected: Counter[str] = Counter()
    with ExtractionWorkers(config) as workers:
        for _ in range(args.workers):  # first use loads trafilatura's lazy data; time steady state
            workers.read(WARM_UP_PAGE, None)
        started = time.perf_counter()
        for item_id, expected in items:
            result = extract_page(DATA / "html" / f"{item_id}.html", expected.get("url"),
                                  config, workers)
            if not isinstance(result, UrlArticle):
                rejected[result.reason] += 1
            text = result.text if isinstance(result, UrlArticle) else ""
            rows.append(tp_fp_fn(expected.get("articleBody", ""), text))
        elapsed = time.perf_counter() - started

    scores, ci = metrics(rows), bootstrap_ci(rows, args.bootstrap)
    print(f"extractor   trafilatura {EXTRACTOR_VERSION} via tasks/extract.py "
          f"({args.workers} worker{'s' * (args.workers > 1)})")
    print(f"pages       {len(rows)}   rejected {sum(rejected.values())} {dict(rejected)}")
    for key in ("precision", "recall", "f1"):
        spread = f" ± {ci[key]:.3f}" if key in ci else ""
        print(f"{key:<11} {scores[key]:.3f}{spread}")
    print(f"pages/s     {len(rows) / elapsed:.1f}")
    return 0


def extract_page(path: Path, url: str | None, config: ExtractSettings,
                 workers: ExtractionWorkers):
    """The pipeline's path for one saved page: decode the bytes ourselves, then extract."""
    body = path.read_bytes()
    text, encoding = decode(body, markup=True)
    return extract_html(text, locator=url or path.name, url=url, content_hash=path.stem,
                        size=len(body), encoding=encoding, config=config, workers=workers)


if __name__ == "__main__":
    sys.exit(main())
