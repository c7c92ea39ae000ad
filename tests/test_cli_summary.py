"""The end-of-run summary `corpus run` and `corpus fetch` print in the terminal."""

from __future__ import annotations

import pytest

from cli.runs import MAX_DUPLICATE_ROWS, print_summary, shown_locators
from tasks.report import RunReport


def report() -> RunReport:
    return RunReport(
        run_id="7275d748aa", db_path="data/corpus.duckdb", files_seen=2, files_unchanged=0,
        documents_new=1, duplicates_new=0, rejects_new=1, mentions_new=3,
        reject_reasons=[("http_404", 1)], duplicates=[], languages=[("en", 1)],
        top_entities=[("apple", "ORG", "Apple", 1)], documents_total=1)


@pytest.mark.parametrize("inputs", ["files", "pages"])
def test_each_table_title_is_one_whole_line_and_names_what_was_read(
        inputs: str, capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(report(), inputs)
    lines = capsys.readouterr().out.splitlines()
    # rich wrapped a title to its table's width ("rejected, by" / "reason") before
    for title in ("corpusflow run 7275d748 → data/corpus.duckdb", "rejected, by reason",
                  "documents per language (1 in the warehouse)",
                  "top entities of this run's new documents"):
        assert title in [line.strip() for line in lines], lines
    header = next(line for line in lines if "new documents" in line)
    assert f"{inputs} seen" in header
    assert any(line.split()[:1] == ["reason"] and inputs in line for line in lines)


def test_a_run_with_no_new_entities_prints_no_empty_entity_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    quiet = report()
    quiet.top_entities = []
    print_summary(quiet)
    assert "top entities" not in capsys.readouterr().out


def test_duplicates_are_named_by_their_path_in_the_inbox_and_the_list_is_capped(
        capsys: pytest.CaptureFixture[str]) -> None:
    """BBC's sport/240.txt and business/240.txt were both printed as 240.txt, and a run of 300
    copies printed 300 rows."""
    many = report()
    many.duplicates = [(f"file:///data/bbc/sport/{n}.txt", f"file:///data/bbc/business/{n}.txt",
                        "exact") for n in range(MAX_DUPLICATE_ROWS + 5)]
    many.duplicates_new = len(many.duplicates)
    print_summary(many)
    out = capsys.readouterr().out
    assert "sport/0.txt" in out and "business/0.txt" in out
    assert f"sport/{MAX_DUPLICATE_ROWS - 1}.txt" in out
    assert f"sport/{MAX_DUPLICATE_ROWS}.txt" not in out
    assert ("… and 5 more: select * from duplicates where run_id = '7275d748aa'"
            in " ".join(out.split()))


@pytest.mark.parametrize(("locators", "shown"), [
    (["file:///in/a/240.txt", "file:///in/b/240.txt"], ["a/240.txt", "b/240.txt"]),
    (["file:///in/wire.jsonl#2", "file:///in/wire.jsonl#1"], ["wire.jsonl#2", "wire.jsonl#1"]),
    (["file:///in/caf%C3%A9.txt", "file:///in/x.txt"], ["café.txt", "x.txt"]),
    (["https://a.example/x", "https://b.example/y"], ["https://a.example/x", "https://b.example/y"]),
])
def test_shown_locators(locators: list[str], shown: list[str]) -> None:
    assert shown_locators(locators) == shown
