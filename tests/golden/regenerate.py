"""Regenerate tests/golden/seeds.json from seeds/ after an intended change to parsing or cleaning.

    .venv/bin/python tests/golden/regenerate.py

Review the diff before committing it: every changed line is a changed document."""

from __future__ import annotations

import json
from pathlib import Path

from tasks.clean import clean_article
from tasks.discover import stat_files
from tasks.language import detect_language
from tasks.parse import parse_file

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("seeds.json")


def describe_seeds() -> dict[str, dict]:
    """What the pipeline makes of each seed, before it reaches the warehouse."""
    described = {}
    for candidate in stat_files(sorted(str(p) for p in (ROOT / "seeds").glob("*.txt"))):
        (article,) = parse_file(candidate, None, 10_000_000).articles
        clean = clean_article(article)
        language, _ = detect_language(clean.text, 30, 0.8)
        described[Path(candidate.locator).name] = {
            "published": str(clean.published) if clean.published else None,
            "published_precision": clean.published_precision,
            "url": clean.url,
            "language": language,
            "cleaning": clean.cleaning,
            "text_hash": clean.text_hash,
            "starts": clean.text[:60],
            "ends": clean.text[-60:],
        }
    return described


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(describe_seeds(), indent=2, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    print(f"wrote {GOLDEN}")
