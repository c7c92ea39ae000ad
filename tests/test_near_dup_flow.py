"""End to end: near duplicates found across runs and recomputed from stored texts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flows.dedup import RecomputeParams, recompute_near_duplicates
from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from tests.test_near_dup import variants

pytestmark = pytest.mark.usefixtures("prefect_server")


def near_pairs(db_path: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute(
            "select s.locator, c.locator from duplicates d"
            " join sources s on s.source_id = d.source_id"
            " join documents doc on doc.doc_id = d.canonical_doc_id"
            " join sources c on c.source_id = doc.source_id where d.method = 'near'"
        ).fetchall()
    return {(Path(a).name, Path(b).name) for a, b in rows}


def test_variants_in_a_later_run_match_the_earlier_document(db_path: Path, inbox: Path) -> None:
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    assert near_pairs(db_path) == set()  # 000 and 001 report one attack but are not copies
    # copies from elsewhere: the seeds' text without their source-URL line
    kinds = {"000.txt": ("paragraph_removed", "sentence_reworded", "footer_added"),
             "001.txt": ("quotes_swapped",)}
    for seed, names in kinds.items():
        text = (inbox / seed).read_text(encoding="utf-8").strip().rsplit("\n", 1)[0]
        for name in names:
            changed = variants(text)[name]
            assert changed != text
            (inbox / f"{seed[:3]}-{name}.txt").write_text(changed, encoding="utf-8")
    report = ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    assert report.documents_new == 4 and report.duplicates_new == 4
    assert near_pairs(db_path) == {
        ("000-paragraph_removed.txt", "000.txt"), ("000-sentence_reworded.txt", "000.txt"),
        ("000-footer_added.txt", "000.txt"), ("001-quotes_swapped.txt", "001.txt")}
    with duckdb.connect(str(db_path), read_only=True) as con:
        clusters = con.execute("select canonical_source, copies from duplicate_clusters"
                               " order by canonical_source").fetchall()
        unique = con.execute("select count(*) from unique_documents").fetchone()[0]
    assert [(Path(s).name, n) for s, n in clusters] == [("000.txt", 3), ("001.txt", 1)]
    assert unique == 5


def test_recompute_with_new_threshold_without_reingesting(
    db_path: Path, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    text = (inbox / "003.txt").read_text(encoding="utf-8")
    paragraphs = text.split("\n\n")
    (inbox / "003-half.txt").write_text("\n\n".join(paragraphs[:2]), encoding="utf-8")
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    assert near_pairs(db_path) == set()  # half the text is below the 0.6 threshold
    with duckdb.connect(str(db_path), read_only=True) as con:
        documents_before = con.execute("select count(*) from documents").fetchone()[0]
    monkeypatch.setenv("CORPUSFLOW_NEAR_DUPLICATES",
                       '{"shingle_size": 5, "num_perm": 128, "bands": 32, "threshold": 0.3}')
    found = recompute_near_duplicates(RecomputeParams(batch_size=100))
    assert found == 1 and near_pairs(db_path) == {("003-half.txt", "003.txt")}
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("select count(*) from documents").fetchone()[0] == documents_before
        bands = con.execute("select count(*), count(distinct doc_id) from lsh_bands").fetchone()
    assert bands == (32 * documents_before, documents_before)


def test_new_text_under_a_known_url_is_kept_and_linked(db_path: Path, inbox: Path) -> None:
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    url = (inbox / "002.txt").read_text(encoding="utf-8").strip().splitlines()[-1]
    (inbox / "002-update.txt").write_text(
        "Aggiornamento: il Cremlino ha ricevuto la risposta scritta della NATO e la sta "
        "esaminando, ha detto il portavoce. Una nuova telefonata tra i ministri degli Esteri è "
        f"prevista per la prossima settimana.\n{url}?utm_source=telegram#commenti\n",
        encoding="utf-8")
    report = ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    assert (report.documents_new, report.duplicates_new) == (1, 1)
    with duckdb.connect(str(db_path), read_only=True) as con:
        row = con.execute(
            "select d.method, s.locator, s.status, c.url from duplicates d"
            " join sources s using (source_id) join documents c on c.doc_id = d.canonical_doc_id"
        ).fetchone()
    assert (row[0], Path(row[1]).name, row[2]) == ("url", "002-update.txt", "new")
    assert row[3] == url
