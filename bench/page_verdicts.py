"""Benchmark: false positives of tasks/pages.py (non-article pages) on real articles.

Every page of the two development sets is a real article, so every page that classify_page
rejects is a false positive and every `truncated` flag deserves a look. Each page is decoded by
tasks.decode and read by tasks.extract.read_page, the extract stage's reading (trafilatura's
precise pass first, the title chosen by tasks.metadata); its text and title are classified as
read_page classifies them. The script prints the counts by verdict and the detail of every page
flagged.

    .venv/bin/python bench/page_verdicts.py [--limit N] [--cache FILE]

`--cache FILE` keeps read_page's text and title per page in a JSON file, so that a second run
only re-classifies (trafilatura is the slow part). Delete the file when tasks/extract.py or
tasks/metadata.py change.
Expected: 0 rejected on both sets.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
SETS = {
    "extraction-benchmark": DATA / "extraction-benchmark" / "html",
    "trafilatura-eval": DATA / "trafilatura-eval" / "html",
}

from tasks.decode import decode  # after the path set-up above
from tasks.extract import read_page
from tasks.pages import PageVerdict, classify_page


def read_html(path: Path) -> str:
    """The decoded page; the benchmark's files may be gzip-compressed."""
    body = path.read_bytes()
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return decode(body, markup=True)[0]


def extracted(html: str) -> tuple[str, str | None]:
    """The main text and title that the extract stage reads (read_page classifies these; a page
    with nothing extracted is classified with an empty text and no title, as read_page does)."""
    try:
        page = read_page(html, None)
    except Exception:  # noqa: BLE001 - a page trafilatura cannot read is classified on its markup alone
        return "", None
    return page.text, page.title


def pages(folder: Path, limit: int) -> Iterator[Path]:
    yield from sorted(folder.glob("*.htm*"))[: limit or None]


def verdicts(name: str, folder: Path, limit: int, cache: dict[str, list]
             ) -> list[tuple[str, PageVerdict]]:
    """(file name, verdict) of every page of one set."""
    results = []
    for path in pages(folder, limit):
        html = read_html(path)
        key = f"{name}/{path.name}"
        if key not in cache:
            cache[key] = list(extracted(html))
        text, title = cache[key]
        results.append((path.name, classify_page(html, text, title)))
    return results


def report(name: str, results: list[tuple[str, PageVerdict]]) -> None:
    counts = Counter(v.reason or ("truncated" if v.truncated else "article") for _, v in results)
    print(f"== {name}: {len(results)} pages   {dict(sorted(counts.items()))}")
    for file_name, verdict in results:
        if verdict.reason or verdict.truncated:
            label = verdict.reason or "truncated"
            print(f"  {label:<15} {file_name[:40]:<40} {verdict.detail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages of each set")
    parser.add_argument("--cache", type=Path, help="JSON file of trafilatura's text and title")
    args = parser.parse_args()
    found = {name: folder for name, folder in SETS.items() if folder.is_dir()}
    if not found:
        print(f"no data under {DATA}; it lives in ../shared/data, outside the repository",
              file=sys.stderr)
        return 2
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    cache = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else {}
    for name, folder in found.items():
        report(name, verdicts(name, folder, args.limit, cache))
    if args.cache:
        args.cache.write_text(json.dumps(cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
