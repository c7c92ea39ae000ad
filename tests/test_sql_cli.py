"""`corpus sql` and `corpus shell`: several statements, output formats, and a session that can
read the warehouse and write nothing anywhere."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import duckdb
import pytest

from cli import main
from cli.analyst import render_result

WRITE_ATTEMPTS = {
    "copy to": "copy documents to '{out}/copy.csv'",
    "copy query to": "copy (select 1 as a) to '{out}/copy.parquet' (format parquet)",
    "export": "export database '{out}/export'",
    "attach read-write": "attach '{out}/other.duckdb' as other",
    "install": "install httpfs",
    "load a file": "load '{out}/evil.duckdb_extension'",
    "overwrite the live file": "copy documents to '{db}'",
    "read any file": "select * from read_text('/etc/hostname')",
    "unlock the sandbox": "set enable_external_access = true",
}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table documents (doc_id varchar, title varchar, words integer)")
        con.execute("insert into documents values ('a', 'Mosca, \"attacco\"', 3),"
                    " ('b', NULL, 5), ('c', 'x,y|z', NULL)")
    return path


def sql(warehouse: Path, query: str, *options: str) -> int:
    return main(["sql", "--db", str(warehouse), "--live", *options, query])


def checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("attempt", sorted(WRITE_ATTEMPTS))
def test_every_write_path_is_refused_and_no_file_changes(
    attempt: str, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = checksums(tmp_path)
    statement = WRITE_ATTEMPTS[attempt].format(out=out, db=warehouse)
    assert sql(warehouse, statement) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "Traceback" not in err
    assert any(word in err for word in ("disabled by configuration", "disabled through configuration",
                                        "Cannot change"))
    assert checksums(tmp_path) == before


def test_an_insert_says_where_writes_go(warehouse: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert sql(warehouse, "insert into documents values ('d', 'x', 1)") == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "read-only" in err
    assert "run the insert on the live file" in " ".join(err.split())


def test_several_statements_each_print_their_result(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sql(warehouse, "select count(*) as n from documents; select 'second' as s;",
               "--format", "json") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line) for line in lines] == [[{"n": 3}], [{"s": "second"}]]


def test_csv_round_trips_values_and_nulls(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sql(warehouse, "select * from documents order by doc_id", "--format", "csv") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["doc_id", "title", "words"], ["a", 'Mosca, "attacco"', "3"],
                    ["b", "", "5"], ["c", "x,y|z", ""]]


def test_table_and_markdown_show_null_and_never_truncate() -> None:
    columns, rows = ["title", "text"], [(None, "w" * 300)]
    table = render_result(columns, rows, "table")
    assert "NULL" in table and "w" * 300 in table and "None" not in table
    assert render_result(columns, [("a|b", None)], "markdown").splitlines() == [
        "| title | text |", "| --- | --- |", "| a\\|b | NULL |"]


def test_a_table_with_no_rows_says_so_and_csv_stays_a_bare_header() -> None:
    table = render_result(["day", "documents"], [], "table").splitlines()
    assert table[-1] == "(no rows)" and "documents" in table[0]
    assert render_result(["day", "documents"], [], "csv") == "day,documents"


def test_a_sql_error_prints_duckdbs_message_and_exits_1(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sql(warehouse, "select nope from documents") == 1
    err = capsys.readouterr().err
    assert "Binder Error" in err and "nope" in err and "Traceback" not in err


def test_shell_dot_commands_and_multi_line_statements(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = iter([".tables", ".schema documents", ".mode csv", "select doc_id",
                  "from documents where words = 5;", ".quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert main(["shell", "--db", str(warehouse), "--live"]) == 0
    out = capsys.readouterr().out
    assert "documents" in out and "words" in out and "INTEGER" in out
    assert "doc_id\nb" in out
