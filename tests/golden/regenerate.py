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
from warehouse.settings import FilesSettings, LanguageSettings

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("seeds.json")


def default(section: type, name: str):
    """A setting's declared default: what the pipeline uses when the environment sets nothing
    (the golden file must not depend on the environment it was regenerated in)."""
    return section.model_fields[name].get_default(call_default_factory=True)


def describe_seeds() -> dict[str, dict]:
    """What the pipeline makes of each seed, before it reaches the warehouse."""
    max_bytes = default(FilesSettings, "max_file_bytes")
    min_letters = default(LanguageSettings, "min_letters")
    min_prob = default(LanguageSettings, "min_prob")
    described = {}
    for candidate in stat_files(sorted(str(p) for p in (ROOT / "seeds").glob("*.txt"))):
        (article,) = parse_file(candidate, None, max_bytes).articles
        clean = clean_article(article)
        language, _ = detect_language(clean.text, min_letters, min_prob)
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
