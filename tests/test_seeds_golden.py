"""Golden check: what parsing, cleaning and language tagging make of seeds/."""

import json

from tests.golden.regenerate import GOLDEN, describe_seeds


def test_seeds_match_golden_file() -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    actual = describe_seeds()
    for name in sorted(set(expected) | set(actual)):
        assert actual.get(name) == expected.get(name), (
            f"seeds/{name} no longer matches tests/golden/seeds.json; if the change is intended, "
            "run `.venv/bin/python tests/golden/regenerate.py` and review the diff"
        )


def test_golden_file_holds_the_facts_the_issue_states() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert {name: g["language"] for name, g in golden.items()} == {
        "000.txt": "en", "001.txt": "en", "002.txt": "it", "003.txt": "it", "004.txt": "it"}
    assert golden["003.txt"]["published"] is None and golden["003.txt"]["url"] is None
    assert golden["002.txt"]["url"].startswith("https://www.lantidiplomatico.it/")
    assert "glued_boundaries:1" in golden["000.txt"]["cleaning"]
