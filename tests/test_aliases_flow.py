"""End to end: analysts give entities their own keys, by file or SQL, without re-tagging."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from tasks.entities import read_alias_file

pytestmark = pytest.mark.usefixtures("prefect_server")


def keys(db_path: Path) -> dict[str, int]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return dict(con.execute("select key, documents from top_entities").fetchall())


def test_alias_file_and_sql_aliases_rekey_the_views(
    db_path: Path, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aliases = tmp_path / "aliases.jsonl"
    aliases.write_text(json.dumps({"alias": "ISIS", "key": "islamic_state"}) + "\n"
                       + json.dumps({"alias": "Cremlino", "language": "it", "key": "kremlin_it"})
                       + "\n", encoding="utf-8")
    monkeypatch.setenv("CORPUSFLOW_ALIAS_FILE", str(aliases))
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    found = keys(db_path)
    assert found["islamic_state"] == 2 and "isis" not in found
    assert found["kremlin_it"] == 3  # the Italian seeds' "Cremlino"; English "Kremlin" stays
    with duckdb.connect(str(db_path)) as con:
        con.execute("insert into entity_aliases (alias, key) values ('Dmitry Peskov', 'peskov')")
        tagged = con.execute("select count(*) from mentions where key = 'dmitry_peskov'").fetchone()
    found = keys(db_path)
    assert found["peskov"] == 3 and "dmitry_peskov" not in found
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("select count(*) from mentions where key = 'dmitry_peskov'"
                           ).fetchone() == tagged  # the tagger's own keys are untouched


def test_a_bad_alias_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "aliases.jsonl"
    path.write_text('{"alias": "A", "key": "a"}\n{"alias": "B"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"aliases.jsonl:2"):
        read_alias_file(path)
