"""The memory budget: the limits it sets, and inputs over them rejected with both sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.parse import Limits, parse_file
from warehouse.records import Candidate, source_id_for
from warehouse.settings import RunnerSettings, Settings


def candidate(path: Path) -> Candidate:
    return Candidate(source_id=source_id_for(str(path)), locator=str(path),
                     size=path.stat().st_size, mtime_ns=path.stat().st_mtime_ns)


def test_a_smaller_budget_sets_smaller_limits_and_explicit_settings_win(
        monkeypatch: pytest.MonkeyPatch) -> None:
    big, small = Settings(memory_budget_mb=1536), Settings(memory_budget_mb=512)
    assert small.files.max_text_chars < big.files.max_text_chars
    assert small.files.max_batch_bytes < big.files.max_batch_bytes
    assert small.extract.max_page_bytes < big.extract.max_page_bytes
    one, pooled = (Settings(memory_budget_mb=1536, runners=RunnerSettings(workers=workers))
                   for workers in (1, 2))
    # A pool's tagging workers take their share of the budget out of DuckDB's.
    assert (small.warehouse.duckdb_memory_limit, one.warehouse.duckdb_memory_limit,
            pooled.warehouse.duckdb_memory_limit) == ("62MB", "384MB", "64MB")
    monkeypatch.setenv("CORPUSFLOW_MAX_TEXT_CHARS", "123456")
    monkeypatch.setenv("CORPUSFLOW_DUCKDB_MEMORY_LIMIT", "1GB")
    chosen = Settings(memory_budget_mb=512)
    assert (chosen.files.max_text_chars, chosen.warehouse.duckdb_memory_limit) == (123456, "1GB")


def test_a_text_over_the_cap_is_too_large_with_both_sizes(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("Kyiv. " * 2000, encoding="utf-8")  # 12,000 characters
    outcome = parse_file(candidate(path), None, 10**6, Limits(10**6, text_chars=5000))
    (reject,) = outcome.rejects
    assert (reject.reason, reject.detail) == (
        "too_large", "12000 characters > limit of 5000 (memory budget)")
    assert not outcome.articles


def test_a_file_too_large_for_its_text_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(b"x" * 30_000)
    limits = Limits(10**6, text_chars=5000)  # 30,000 bytes > 4 bytes x 5,000 characters
    (reject,) = parse_file(candidate(path), None, 10**6, limits).rejects
    assert reject.reason == "too_large" and "over 5000 characters" in reject.detail
    assert reject.content_hash is None  # decided from the size: the file was not read


def test_a_page_over_the_page_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<html><body>" + "<p>Odesa port reopened.</p>" * 2000 + "</body></html>")
    (reject,) = parse_file(candidate(path), None, 10**6, Limits(10**6, page_bytes=10_000)).rejects
    assert reject.reason == "too_large" and "page limit of 10000" in reject.detail


def test_a_record_over_the_cap_is_rejected_and_its_neighbours_kept(tmp_path: Path) -> None:
    path = tmp_path / "wire.jsonl"
    records = [{"text": "Grain ships left Odesa on Monday, the port said."},
               {"text": "Shelling near Kharkiv. " * 500},
               {"text": "Talks resumed in Istanbul, officials said on Tuesday."}]
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    outcome = parse_file(candidate(path), None, 10**6, Limits(10**6, text_chars=5000))
    assert [a.record_no for a in outcome.articles] == [1, 3]
    assert [(r.locator.rsplit("#", 1)[1], r.reason) for r in outcome.rejects] == [
        ("2", "too_large")]
