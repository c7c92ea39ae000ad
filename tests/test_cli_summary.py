"""The end-of-run summary `corpus run` and `corpus fetch` print in the terminal."""

from __future__ import annotations

import pytest

from cli.runs import print_summary
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
