"""Stories: the pure grouping rules on texts written here, and end to end through the flows
(two days of news joining one story across a rewrite and a language; regrouping after a
settings change equals a fresh ingest; the seeds' three Italian articles stay apart)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import duckdb
import pytest

from cli import main
from tests.conftest import SEEDS
from flows.ingest_files import ingest_files
from flows.params import IngestFilesParams
from flows.stories import RegroupParams, regroup_stories
from tasks.stories import (
    SAME, Profile, Signals, assign, cosine_signals, term_counts, weighed,
)
from warehouse.settings import StorySettings

ATTACK = (
    "Gunmen open fire at Crocus City Hall concert venue near Moscow",
    "Armed men in combat clothing burst into the Crocus City Hall concert venue in Krasnogorsk, "
    "on the western edge of Moscow, on Friday evening, shooting at people waiting for a rock "
    "concert and then setting fire to the building. Russian investigators said 60 people were "
    "killed and 145 were wounded. The Islamic State group said it carried out the attack. "
    "Vladimir Putin spoke of a barbaric terrorist act and declared a day of mourning. Fire "
    "crews fought the blaze through the night as part of the roof of the hall collapsed.",
)
REWRITE = (
    "Dozens killed in Crocus City Hall attack outside Moscow",
    "At least 60 people died and 145 were hurt when attackers in camouflage opened fire inside "
    "Crocus City Hall in Krasnogorsk, just outside Moscow, before a rock concert on Friday, "
    "Russian investigators said. The attackers set the concert venue on fire and part of the "
    "roof collapsed during the night. Islamic State claimed the attack. Vladimir Putin called "
    "it a barbaric terrorist act and declared Sunday a day of mourning.",
)
ITALIAN = (
    "Strage al Crocus City Hall di Mosca, almeno 60 morti",
    "Uomini armati hanno aperto il fuoco venerdì sera nella sala concerti Crocus City Hall di "
    "Krasnogorsk, alle porte di Mosca, prima di un concerto rock, e poi hanno appiccato un "
    "incendio. Secondo gli investigatori russi i morti sono 60 e i feriti 145. Lo Stato "
    "Islamico ha rivendicato l'attacco. Vladimir Putin ha parlato di un barbaro atto "
    "terroristico e ha proclamato una giornata di lutto nazionale.",
)
UNRELATED = (
    "Central bank leaves interest rates unchanged as inflation slows",
    "The European Central Bank kept its main interest rate at 4 percent on Thursday, saying "
    "inflation in the euro area had slowed to 2.6 percent in February but wage growth remained "
    "strong. Christine Lagarde told reporters in Frankfurt that the governing council would "
    "need more data before cutting rates, most likely by June. Bond markets had expected a "
    "first cut in April.",
)


DAY = dt.date(2024, 3, 22)


def _profiles(*articles: tuple[str, str]) -> list[Profile]:
    """The articles' profiles, weighed as a first batch of an empty warehouse."""
    return weighed([(str(n), DAY, "en", term_counts(title, text, ()))
                    for n, (title, text) in enumerate(articles)], {}, 0)


def test_a_rewrite_scores_above_the_threshold_and_another_story_far_below() -> None:
    attack, rewrite, unrelated = _profiles(ATTACK, REWRITE, UNRELATED)
    settings = StorySettings()
    assert cosine_signals(rewrite, attack).score >= settings.threshold
    assert cosine_signals(unrelated, attack).score < settings.threshold / 2
    signals = cosine_signals(rewrite, attack)
    assert signals.cosines[0] > 0.3 and signals.cosines[2] > 0  # content words; 60 and 145


def test_each_kind_of_term_has_unit_length() -> None:
    counts = term_counts(*ATTACK, ("crocus_city_hall", "moscow", "moscow"))
    [attack] = weighed([("a", DAY, "en", counts)], {}, 0)
    for kind in range(3):
        weights = [w for (k, _), w in attack.weights.items() if k == kind]
        assert weights and abs(sum(w * w for w in weights) - 1) < 1e-6  # float32 weights


def test_weights_do_not_depend_on_where_batches_begin() -> None:
    """A document is weighed with the counts of the documents before it: the same profile in
    one batch of three as in a batch of one followed by one of two."""
    items = [(str(n), DAY, "en", term_counts(title, text, ("moscow",)))
             for n, (title, text) in enumerate((ATTACK, REWRITE, UNRELATED))]
    together = weighed(items, {}, 0)
    first = weighed(items[:1], {}, 0)
    stored = {term: 1 for _, term in items[0][3]}
    apart = first + weighed(items[1:], stored, 1)
    assert [(p.weights, p.probes) for p in together] == [(p.weights, p.probes) for p in apart]
    assert all(p.probes and len(p.weights) > 20 for p in together)


def test_italian_elisions_and_function_words_are_not_story_terms() -> None:
    """'dell'Ucraina' gives the word 'ucraina' and no 'dell', which Italian news writes in nearly
    every sentence; 'mentre' and 'contro' say nothing about which story an article tells."""
    counts = term_counts(None, "Mentre l'esercito dell'Ucraina avanza contro le linee russe", ())
    assert counts == term_counts(None, "esercito Ucraina avanza linee russe", ())


def _signals(score: float) -> Signals:
    """Signals of a given score, from content words alone."""
    return Signals(cosines=[score / SAME[0], 0.0, 0.0])


def test_a_near_duplicate_joins_its_canonical_documents_story_whatever_its_score() -> None:
    new = [Profile("copy", dt.date(2024, 3, 22))]
    grouping = assign(new, {}, {}, {"copy": "original"}, {"original": "story-1"},
                      StorySettings())
    assert grouping.members["copy"] == ("story-1", 1.0)
    assert [(a, b, s.near_duplicate) for a, b, s in grouping.links] == [
        ("copy", "original", True)]


def test_a_chain_of_links_does_not_drag_a_document_into_a_story_it_is_unlike() -> None:
    """c links to b (0.6) and b to a, but c shares no term with a, the story's first document."""
    day = dt.date(2024, 3, 22)
    a, b, c = (Profile(name, day, "en", {(0, term): 1.0}) for name, term in
               (("a", 1), ("b", 1), ("c", 2)))
    candidates = {"b": {"a": _signals(0.7)}, "c": {"b": _signals(0.6)}}
    settings = StorySettings(threshold=0.5, root_floor=0.25)
    grouping = assign([b, c], candidates, {"a": a}, {}, {"a": "a"}, settings)
    assert grouping.members["b"][0] == "a"
    assert grouping.members["c"] == ("c", 1.0)  # starts its own story
    assert ("c", "b") in {(x, y) for x, y, _ in grouping.links}  # the link is still recorded
    loose = assign([b, c], candidates, {"a": a}, {}, {"a": "a"},
                   StorySettings(threshold=0.5, root_floor=0.0))
    assert loose.members["c"][0] == "a"
    # the first document stored, or new in the same batch: the same decision
    assert assign([a, b, c], {"b": {"a": _signals(0.7)}, "c": {"b": _signals(0.6)}}, {}, {}, {},
                  settings).members["c"] == ("c", 1.0)


# ---------------------------------------------------------------- end to end

def _jsonl(path: Path, *records: tuple[str, str, str, str]) -> None:
    path.write_text("\n".join(json.dumps({"url": url, "title": title, "text": text,
                                          "published": published})
                              for url, (title, text), published in
                              ((r[0], r[1:3], r[3]) for r in records)) + "\n",
                    encoding="utf-8")


def members(db_path: Path) -> dict[str, str]:
    """url (or file name) → the url (or file name) of its story's first document."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute(
            "select coalesce(d.url, s.locator), coalesce(r.url, rs.locator)"
            " from story_members m join documents d on d.doc_id = m.doc_id"
            " join sources s on s.source_id = d.source_id"
            " join documents r on r.doc_id = m.story_id"
            " join sources rs on rs.source_id = r.source_id").fetchall()
    return {Path(a).name: Path(b).name for a, b in rows}


@pytest.mark.usefixtures("prefect_server")
def test_a_rewrite_and_an_italian_report_a_day_later_join_the_first_story(
        db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inbox = tmp_path / "news"
    inbox.mkdir()
    _jsonl(inbox / "day1.jsonl", ("https://a.example/attack", *ATTACK, "2024-03-22"))
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    _jsonl(inbox / "day2.jsonl",
           ("https://b.example/rewrite", *REWRITE, "2024-03-23"),
           ("https://c.example/strage", *ITALIAN, "2024-03-23"),
           ("https://d.example/rates", *UNRELATED, "2024-03-23"))
    report = ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    assert members(db_path) == {"attack": "attack", "rewrite": "attack", "strage": "attack",
                                "rates": "rates"}
    assert [(docs, new) for _, _, docs, new in report.stories] == [(3, 2)]
    with duckdb.connect(str(db_path), read_only=True) as con:
        story = con.execute("select documents, languages, first_day, last_day from stories"
                            " where documents > 1").fetchall()
        timeline = con.execute("select day, language, documents from story_timeline"
                               " where documents > 0 order by day, language").fetchall()
        links = con.execute("select count(*), bool_and(score >= 0.2) from story_links"
                            ).fetchone()
    assert story == [(3, ["en", "it"], dt.date(2024, 3, 22), dt.date(2024, 3, 23))]
    assert (dt.date(2024, 3, 23), "it", 1) in timeline and (dt.date(2024, 3, 23), "en", 1) \
        in timeline
    assert links[0] >= 2 and links[1]
    # `corpus stories` shows it within a window that reaches its last day, and says why it
    # shows nothing within one that does not.
    capsys.readouterr()
    assert main(["stories", "--db", str(db_path), "--live", "--days", "100000",
                 "--format", "csv"]) == 0
    shown = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert shown[0][:4] == ["documents", "languages", "first_day", "last_day"]
    assert [row[0] for row in shown[1:]] == ["3"]
    assert main(["stories", "--db", str(db_path), "--live", "--days", "7"]) == 0
    assert "1 of the 2 stories has more, the latest ending 2024-03-23" in " ".join(
        capsys.readouterr().err.split())


@pytest.mark.usefixtures("prefect_server")
def test_regrouping_after_a_threshold_change_equals_a_fresh_ingest(
        tmp_path: Path, inbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeds and the test's articles; the second threshold joins what the first kept apart."""
    _jsonl(inbox / "news.jsonl",
           ("https://a.example/attack", *ATTACK, "2024-03-22"),
           ("https://b.example/rewrite", *REWRITE, "2024-03-23"),
           ("https://c.example/strage", *ITALIAN, "2024-03-23"))
    first, fresh = tmp_path / "first.duckdb", tmp_path / "fresh.duckdb"
    monkeypatch.setenv("CORPUSFLOW_DB_PATH", str(first))
    monkeypatch.setenv("CORPUSFLOW_STORIES", '{"threshold": 0.95}')
    ingest_files(IngestFilesParams(inbox=[str(inbox)], batch_size=3))
    apart = members(first)
    monkeypatch.setenv("CORPUSFLOW_STORIES", '{"threshold": 0.3}')
    regroup_stories(RegroupParams())
    monkeypatch.setenv("CORPUSFLOW_DB_PATH", str(fresh))
    ingest_files(IngestFilesParams(inbox=[str(inbox)], batch_size=3))
    assert members(first) == members(fresh) != apart
    assert members(fresh)["rewrite"] == members(fresh)["attack"]  # with seed 000, same event
    with duckdb.connect(str(first), read_only=True) as a, \
            duckdb.connect(str(fresh), read_only=True) as b:
        for table in ("story_terms", "story_term_counts"):
            assert a.execute(f"select count(*) from {table}").fetchone() == \
                b.execute(f"select count(*) from {table}").fetchone()


@pytest.mark.usefixtures("prefect_server")
def test_the_seeds_three_italian_articles_on_different_events_stay_apart(
        db_path: Path, inbox: Path) -> None:
    """002, 003 and 004 all name Mosca, Putin and Russia, on events of 2022, 2023 and 2024: with
    the default window their dates keep them apart. (On their texts alone, in a warehouse of
    these five documents only, they would link: nothing yet tells the weights that words of the
    war are common; README, Stories.)"""
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    with duckdb.connect(str(db_path), read_only=True) as con:
        stories = {Path(locator).name: story for locator, story in con.execute(
            "select s.locator, m.story_id from story_members m"
            " join documents d on d.doc_id = m.doc_id"
            " join sources s on s.source_id = d.source_id").fetchall()}
    assert len({stories["002.txt"], stories["003.txt"], stories["004.txt"]}) == 3
    assert len(set(stories.values())) == 5


@pytest.mark.usefixtures("prefect_server")
def test_documents_stored_before_the_story_stage_are_named_and_regroup_groups_them(
        db_path: Path, inbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A warehouse of an older corpusflow gains the story tables from its migration but no
    member: `corpus stories` said "0 stories, one document each". It says how many documents
    are in no story and what groups them; after `corpus regroup` every one is in a story."""
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    with duckdb.connect(str(db_path)) as con:  # as the migration that adds stories leaves it
        for table in ("story_links", "story_members", "story_terms", "story_term_counts"):
            con.execute(f"delete from {table}")
    capsys.readouterr()
    assert main(["stories", "--db", str(db_path), "--live"]) == 0
    note = " ".join(capsys.readouterr().err.split())
    assert "5 documents are in no story" in note and "`corpus regroup` groups them" in note
    regroup_stories(RegroupParams())
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("select count(*) from story_members").fetchone() == (5,)
    assert main(["stories", "--db", str(db_path), "--live"]) == 0
    assert "in no story" not in capsys.readouterr().err


@pytest.mark.usefixtures("prefect_server")
def test_a_revised_article_is_one_document_of_its_story_and_the_current_one_is_unique(
        db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file edited between runs ("Update: ..." added) keeps its first version, superseded;
    the new one is a near copy of it. unique_documents showed the old text and not the current
    one, and the story counted two documents, as if another outlet had covered the event."""
    inbox = tmp_path / "news"
    inbox.mkdir()
    article = inbox / "crocus.txt"
    first = (SEEDS / "000.txt").read_text(encoding="utf-8")
    article.write_text(first, encoding="utf-8")
    ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    article.write_text(first.rstrip() + "\n\nUpdate: the death toll rose to 145 on Sunday, the "
                       "emergencies ministry said.\n", encoding="utf-8")
    report = ingest_files(IngestFilesParams(inbox=[str(inbox)]))
    with duckdb.connect(str(db_path), read_only=True) as con:
        versions = con.execute("select doc_id, superseded_by from documents order by created_at"
                               ).fetchall()
        assert len(versions) == 2 and versions[0][1] == versions[1][0]  # old → current
        assert con.execute("select count(*) from duplicates where method = 'near'"
                           ).fetchone() == (1,)
        unique = con.execute("select doc_id from unique_documents").fetchall()
        stories = con.execute("select documents from stories").fetchall()
        timeline = con.execute("select sum(documents) from story_timeline").fetchone()
    assert unique == [(versions[1][0],)]
    assert stories == [(1,)] and timeline == (1,)
    assert report.stories == []  # nothing grew
    capsys.readouterr()
    assert main(["stories", "--db", str(db_path), "--live", "--days", "100000"]) == 0
    assert "No story of more than one document yet" in " ".join(capsys.readouterr().err.split())
