"""End to end: the ingest-files flow on the real Prefect engine into a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import duckdb
import pytest

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from tasks.language import detect_language
from warehouse.queries import Reads
from warehouse.session import read_session
from warehouse.settings import LanguageSettings

pytestmark = pytest.mark.usefixtures("prefect_server")


def run(inbox: Path):
    return ingest_files(IngestFilesParams(inbox=[str(inbox)]))


def query(db_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def counts(db_path: Path) -> dict[str, int]:
    tables = ("sources", "documents", "duplicates", "mentions", "rejects")
    return {t: query(db_path, f"select count(*) from {t}")[0][0] for t in tables}


def by_seed(db_path: Path) -> dict[str, tuple]:
    rows = query(db_path, "select s.locator, d.language, d.published, d.published_precision,"
                 " d.url, d.text from documents d join sources s using (source_id)")
    return {Path(row[0]).stem: row[1:] for row in rows}


def test_seeds_load_with_languages_dates_and_urls(db_path: Path, inbox: Path) -> None:
    report = run(inbox)
    assert (report.files_seen, report.documents_new, report.rejects_new) == (5, 5, 0)
    assert {"parse", "language", "entities", "load"} <= set(report.stage_seconds)
    stored = query(db_path, "select report->>'$.stage_seconds' from runs")[0][0]
    assert "entities" in stored  # the run's figures land in the runs table too
    docs = by_seed(db_path)
    assert sorted(docs) == ["000", "001", "002", "003", "004"]
    assert {seed: docs[seed][0] for seed in docs} == {
        "000": "en", "001": "en", "002": "it", "003": "it", "004": "it"}
    dates = {seed: (docs[seed][1], docs[seed][2]) for seed in docs}
    assert dates == {
        "000": (dt.date(2024, 3, 22), "day"), "001": (dt.date(2024, 4, 6), "day"),
        "002": (dt.date(2022, 1, 1), "month"), "003": (None, None),
        "004": (dt.date(2024, 11, 1), "month")}
    assert docs["002"][3].startswith("https://www.lantidiplomatico.it/")
    for _, _, _, url, text in docs.values():
        assert not text.startswith("date")
        assert not re.search(r"https?://\S+\s*$", text)
    assert "attack. It said" in docs["000"][4]
    original = query(db_path, "select original_text from documents where text like '%attack. It%'")
    assert "attack.It said" in original[0][0]  # the parser's text is kept beside the clean one


def test_entities_and_views_are_queryable(db_path: Path, inbox: Path) -> None:
    run(inbox)
    keys = {row[0] for row in query(db_path, "select key from top_entities")}
    assert {"vladimir_putin", "dmitry_peskov", "nato", "moscow"} <= keys
    both = query(db_path, "select count(distinct doc_id) from document_entities"
                 " where key in ('moscow') group by key")
    assert both[0][0] >= 3  # Moscow in English and Mosca in Italian share one key
    days = query(db_path, "select sum(documents) from documents_per_day")
    assert days[0][0] == 5


def test_the_reports_top_entities_counted_in_pieces_match_the_view(
        db_path: Path, inbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run(inbox)
    view = query(db_path, "select key, label, name, documents from top_entities"
                 " order by documents desc, mentions desc, key limit 10")
    assert report.top_entities == view  # the first run added every document
    # A large run is counted in pieces by doc_id range; one document a piece gives the same.
    monkeypatch.setattr(Reads, "TOP_ENTITIES_PIECE", 1)
    with read_session(db_path) as session:
        assert session.top_entities(report.run_id) == view
        assert session.top_entities(report.run_id, limit=3) == view[:3]
        assert session.top_entities("no such run") == []


def test_second_run_adds_nothing(db_path: Path, inbox: Path) -> None:
    first = run(inbox)
    before = counts(db_path)
    snapshot = db_path.with_name("corpus.snapshot.duckdb")
    published = snapshot.stat()
    report = run(inbox)
    assert counts(db_path) == before
    # Nothing read, so the snapshot is left as it was: not copied again (a whole-file copy).
    assert (snapshot.stat().st_ino, snapshot.stat().st_mtime_ns) == (
        published.st_ino, published.st_mtime_ns)
    assert (report.files_seen, report.files_unchanged, report.documents_new) == (5, 5, 0)
    # The report's top entities are those of the documents its run added (none the second time).
    assert {"moscow", "ukraine"} <= {key for key, *_ in first.top_entities}
    assert report.top_entities == []
    runs = query(db_path, "select status, files_unchanged from runs order by started_at")
    assert runs == [("completed", 0), ("completed", 5)]


def test_touched_and_edited_files(db_path: Path, inbox: Path) -> None:
    run(inbox)
    before = counts(db_path)
    seed = inbox / "003.txt"
    os.utime(seed, ns=(seed.stat().st_atime_ns, seed.stat().st_mtime_ns + 10**9))  # touch only
    seed4 = inbox / "004.txt"
    seed4.write_text(seed4.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")  # same text
    report = run(inbox)
    assert counts(db_path) == before and report.files_unchanged == 5
    seed.write_text(seed.read_text(encoding="utf-8") + "\nUna frase aggiunta.", encoding="utf-8")
    published = db_path.with_name("corpus.snapshot.duckdb").stat().st_ino
    report = run(inbox)
    assert (report.documents_new, report.duplicates_new) == (1, 1)
    # A run that read something publishes a new snapshot (a new file renamed into place).
    assert db_path.with_name("corpus.snapshot.duckdb").stat().st_ino != published
    assert counts(db_path)["documents"] == 6  # the earlier version is kept, never lost
    methods = query(db_path, "select method, doc_id is not null from duplicates")
    assert methods == [("near", True)]  # the new version points to the earlier one


def test_duplicates_and_bad_files_in_one_batch(db_path: Path, inbox: Path, tmp_path: Path) -> None:
    run(inbox)
    original = (inbox / "001.txt").read_text(encoding="utf-8")
    variant = original.replace("“", '"').replace("”", '"').replace("’", "'").replace(" ", "  ")
    variant = variant.replace("\n\n", "\n \n\n")
    (inbox / "copy-of-001.txt").write_text(variant, encoding="utf-8")
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "photo.txt").write_bytes(bytes(range(256)) * 16)
    (inbox / "old-italian.txt").write_bytes(
        "Perché il caffè costa 2 € in più? Lo spiega l’Istat nel rapporto annuale sui prezzi "
        "al consumo, pubblicato giovedì a Roma.".encode("cp1252"))
    (inbox / "feed.jsonl").write_text(
        '{"title": "Good", "text": "Vladimir Putin spoke in Moscow about the talks on Friday '
        'evening, the Kremlin said."}\n{oops\n', encoding="utf-8")
    report = run(inbox)
    assert report.duplicates_new == 1
    dup = query(db_path, "select s.locator, c.locator, d.method, d.similarity from duplicates d"
                " join sources s on s.source_id = d.source_id"
                " join documents doc on doc.doc_id = d.canonical_doc_id"
                " join sources c on c.source_id = doc.source_id")
    assert [(Path(a).name, Path(b).name, m, sim) for a, b, m, sim in dup] == [
        ("copy-of-001.txt", "001.txt", "exact", 1.0)]
    rejects = {(Path(loc).name, reason) for loc, reason in query(
        db_path, "select locator, reason from rejects")}
    assert rejects == {("empty.txt", "empty_file"), ("photo.txt", "binary_content"),
                       ("feed.jsonl#2", "invalid_json")}
    encodings = query(db_path, "select d.encoding, d.language, d.cleaning from documents d"
                      " join sources s using (source_id) where s.locator like '%old-italian%'")
    assert encodings[0][0] == "cp1252" and encodings[0][1] == "it"
    assert "decoded_as:cp1252" in encodings[0][2]
    assert report.documents_new == 2  # the cp1252 file and the good JSON Lines record
    statuses = dict(query(db_path, "select status, count(*) from sources group by status"))
    assert statuses == {"new": 8, "duplicate": 1, "rejected": 3}


def test_a_broken_warehouse_setting_fails_clearly(tmp_path: Path, monkeypatch, inbox) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("CORPUSFLOW_DB_PATH", str(blocker / "corpus.duckdb"))
    with pytest.raises(Exception, match="not-a-dir"):
        run(inbox)



def readme_query(title: str) -> str:
    """The SQL of the README's cookbook entry whose comment line starts with `title`."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = text.split(f"-- {title}", 1)[1].split("\n", 1)[1]  # the lines after the comment
    return block.split("\n\n", 1)[0].split("```", 1)[0]


def test_readme_peskov_and_nato_query_finds_the_right_seeds(db_path: Path, inbox: Path) -> None:
    run(inbox)
    rows = query(db_path, readme_query("documents mentioning both Peskov and NATO"))
    assert rows == [("2024-03", 1), ("2024-11", 1)]  # seeds 000 and 004


def test_the_report_artifact_belongs_to_the_flow_run(db_path: Path, inbox: Path) -> None:
    """It shows on the flow run's Artifacts tab, not under one of its task runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    report = run(inbox)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[report.run_id])))
    [artifact] = [a for a in artifacts if a.key == "corpusflow-run-report"]
    assert artifact.task_run_id is None and "# corpusflow run" in artifact.data


def test_short_texts_get_their_language_from_the_word_vote(db_path: Path, tmp_path: Path) -> None:
    # langdetect alone, at full confidence, calls the first Afrikaans and the second English;
    # what is stored is the word vote's answer and share, as tasks.language gives them.
    inbox = tmp_path / "headlines"
    inbox.mkdir()
    records = [{"text": "Disputed Nirvana box set on sale"},
               {"text": "Deve il nome al matematico inglese John Conway."}]
    (inbox / "headlines.jsonl").write_text(
        "".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    report = run(inbox)
    assert (report.documents_new, report.rejects_new) == (2, 0)
    stored = {text: (language, probability) for text, language, probability in query(
        db_path, "select text, language, language_prob from documents")}
    settings = LanguageSettings()
    assert {text: language for text, (language, _) in stored.items()} == {
        records[0]["text"]: "en", records[1]["text"]: "it"}
    for text, found in stored.items():
        assert found == detect_language(text, settings.min_letters, settings.min_prob)
        assert found[1] > 0.5
