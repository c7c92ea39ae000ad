"""End to end: re-tagging stored documents with another model replaces their mentions only."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import spacy

from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from flows.retag import RetagParams, retag_entities
from tasks.ner import GAZETTEER_VERSION, tagger_name

pytestmark = pytest.mark.usefixtures("prefect_server")


def rows(db_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def tiny_english_model(folder: Path) -> Path:
    """A user's own spaCy pipeline: it knows one entity, so its mentions are recognisable."""
    nlp = spacy.blank("en")
    nlp.meta["name"] = "tiny_test_ner"
    nlp.meta["version"] = "0.0.1"
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "ORG", "pattern": "Crocus City Hall"}])
    nlp.to_disk(folder)
    return folder


def test_retag_replaces_mentions_and_leaves_documents(
    db_path: Path, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    documents = rows(db_path, "select * exclude (created_at) from documents order by doc_id")
    italian = rows(db_path, "select m.* from mentions m join documents using (doc_id)"
                   " where language = 'it' order by all")
    # The default taggers: the bundled models (tasks/models/) with the gazetteer, or the
    # gazetteer alone where no model is bundled.
    assert {t for (t,) in rows(db_path, "select distinct tagger from mentions")} == {
        tagger_name("en"), tagger_name("it")}

    model = tiny_english_model(tmp_path / "tiny-model")
    monkeypatch.setenv("CORPUSFLOW_NER_MODELS", json.dumps({"en": str(model)}))
    written = retag_entities(RetagParams(batch_size=2))

    english = rows(db_path, "select m.tagger, m.text, m.label from mentions m"
                   " join documents using (doc_id) where language = 'en' order by all")
    assert english == [("en_tiny_test_ner@0.0.1", "Crocus City Hall", "ORG")] * 2
    assert written == len(english) + len(italian)
    assert rows(db_path, "select m.* from mentions m join documents using (doc_id)"
                " where language = 'it' order by all") == italian
    assert rows(db_path, "select * exclude (created_at) from documents order by doc_id") == documents


def test_upgrade_retags_every_document_with_the_bundled_models(
    db_path: Path, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a user does after pulling new bundled models: `corpus retag` with no options. A
    warehouse tagged by an older corpusflow model ends with only the new taggers' mentions."""
    old = spacy.blank("en")
    old.meta.update(name="corpusflow_ner_en", version="0.9.0")
    old.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "Moscow"}])
    old.to_disk(tmp_path / "old-en")
    monkeypatch.setenv("CORPUSFLOW_NER_MODELS", json.dumps({"en": str(tmp_path / "old-en")}))
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    assert (f"en_corpusflow_ner_en@0.9.0+corpusflow-gazetteer-en@{GAZETTEER_VERSION}",) in rows(
        db_path, "select distinct tagger from mentions")

    monkeypatch.delenv("CORPUSFLOW_NER_MODELS")
    retag_entities(RetagParams())
    taggers = {t for (t,) in rows(db_path, "select distinct tagger from mentions")}
    assert taggers == {tagger_name("en"), tagger_name("it")}
    assert rows(db_path, "select count(*) from mentions m join documents using (doc_id)"
                " where language = 'en' and m.label = 'PER'")[0][0] > 0
