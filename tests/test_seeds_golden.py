"""Golden check: what parsing, cleaning and language tagging make of seeds/."""

import json

import pytest

from tests.conftest import SEEDS
from tests.golden.regenerate import GOLDEN, describe_seeds


@pytest.fixture(scope="module")
def described() -> dict[str, dict]:
    """What the pipeline's parse, clean and language steps make of seeds/ now."""
    return describe_seeds()


def test_seeds_match_golden_file(described: dict[str, dict]) -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for name in sorted(set(expected) | set(described)):
        assert described.get(name) == expected.get(name), (
            f"seeds/{name} no longer matches tests/golden/seeds.json; if the change is intended, "
            "run `.venv/bin/python tests/golden/regenerate.py` and review the diff"
        )


def test_the_pipeline_finds_the_facts_the_issue_states(described: dict[str, dict]) -> None:
    """Checked on what the code makes of seeds/, not on the golden file: regenerating the golden
    file from broken code makes the comparison above pass, never this."""
    languages = {name: d["language"] for name, d in described.items()}
    assert languages == {
        "000.txt": "en", "001.txt": "en", "002.txt": "it", "003.txt": "it", "004.txt": "it"
    }, f"language tags of seeds/: {languages}"
    # 003.txt has neither a date header nor a URL line: none is made up.
    no_header = described["003.txt"]
    assert no_header["published"] is None and no_header["url"] is None, no_header
    # 002.txt ends with its URL line: it becomes the url, and leaves the text.
    url_line = (SEEDS / "002.txt").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert url_line.startswith("https://www.lantidiplomatico.it/"), url_line
    assert described["002.txt"]["url"] == url_line, described["002.txt"]
    ends = described["002.txt"]["ends"]
    assert not url_line.endswith(ends), f"the URL line stayed in the text: …{ends}"
    # 000.txt has one sentence glued to the next ("attack.It"): the cleaner repairs it.
    assert "glued_boundaries:1" in described["000.txt"]["cleaning"], described["000.txt"]
