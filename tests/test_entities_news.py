"""The news rules of the entity stage (tasks/ner.py), on sentences written for these tests.

Two tiers: each rule as a spaCy component on a blank pipeline whose "model" entities the test sets
by hand (so the rule alone is under test), then the default pipeline (bundled model + rules) on
news-style text, which is what a user's documents get.
"""

from __future__ import annotations

import pytest
import spacy
from spacy.tokens import Doc, Span

from tasks import ner as entities
from tasks.ner import (
    CONSISTENCY_PIPE,
    DATELINES_PIPE,
    GOVERNMENTS_PIPE,
    dateline_place,
    load_tagger,
    tag_entities,
)
from warehouse.records import Mention


def with_model_ents(language: str, text: str, ents: list[tuple[str, str]]) -> Doc:
    """A blank doc whose entities are set as a model would: each (surface, label) in turn, at
    the next occurrence of the surface after the previous entity."""
    doc = spacy.blank(language)(text)
    spans, offset = [], 0
    for surface, label in ents:
        start = text.index(surface, offset)
        span = doc.char_span(start, start + len(surface), label=label)
        assert span is not None, surface
        spans.append(span)
        offset = start + len(surface)
    doc.ents = spans
    return doc


def run(component: str, doc: Doc) -> list[tuple[str, str]]:
    nlp = spacy.blank(doc.lang_)
    nlp.add_pipe(component)
    return [(e.text, e.label_) for e in nlp.get_pipe(component)(doc).ents]


# --- datelines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("LONDON 1996-08-30\nShares fell on Friday.", ["LONDON"]),
        ("NEW YORK 1996-08-30\nThe dollar rose.", ["NEW YORK"]),
        ("MILWAUKEE, Wisconsin 1996-08-22\nThe Brewers won.", ["MILWAUKEE", "Wisconsin"]),
        ("KYIV (Reuters) - Ukraine said on Monday that drones hit the city.", ["KYIV"]),
        ("ROMA - Il governo ha approvato il decreto.", ["ROMA"]),
        ("MOSCA, 12 marzo - Il Cremlino ha smentito.", ["MOSCA"]),
        ("WASHINGTON, March 5 (Reuters) - The Senate voted.", ["WASHINGTON"]),
        ("NATO (North Atlantic Treaty Organization) is a military alliance.", []),
        ("SOCCER - JAPAN GET LUCKY WIN\nJapan won 2-1.", []),  # a headline, not a dateline
        ("NATO leaders met on Friday.", []),
    ],
)
def test_dateline_place_opening_agency_copy(text: str, places: list[str]) -> None:
    doc = spacy.blank("en")(text)
    found = [span.text for start in (0,) for span in dateline_place(doc, start)]
    assert found == places


def test_dateline_rule_overrides_the_model_on_any_line() -> None:
    doc = with_model_ents("en", "CRICKET - ENGLAND WIN\nLONDON 1996-08-30\nEngland won.",
                          [("LONDON", "ORG")])
    assert run(DATELINES_PIPE, doc) == [("LONDON", "LOC")]


# --- document consistency ----------------------------------------------------------------------


def test_surname_after_a_full_name_is_a_person() -> None:
    text = "Marc Rosset beat Washington in Paris. Washington said Rosset played well."
    doc = with_model_ents("en", text, [("Marc Rosset", "PER"), ("Washington", "LOC"),
                                       ("Paris", "LOC"), ("Washington", "LOC")])
    assert run(CONSISTENCY_PIPE, doc) == [
        ("Marc Rosset", "PER"), ("Washington", "LOC"), ("Paris", "LOC"),
        ("Washington", "LOC"), ("Rosset", "PER")]  # the missed bare surname is added
    doc = with_model_ents("en", "Pete Sampras beat MaliVai Washington. Washington left.",
                          [("Pete Sampras", "PER"), ("MaliVai Washington", "PER"),
                           ("Washington", "LOC")])
    assert run(CONSISTENCY_PIPE, doc)[-1] == ("Washington", "PER")


def test_a_name_keeps_its_majority_type_and_missed_occurrences_are_added() -> None:
    text = ("Surrey beat Kent at The Oval. Surrey 232 and 110, Kent 198.\n"
            "SURREY WIN AGAIN\nSurrey's captain praised Surrey.")
    doc = with_model_ents("en", text, [("Surrey", "ORG"), ("Kent", "ORG"), ("Surrey", "LOC"),
                                       ("Surrey", "ORG")])
    found = run(CONSISTENCY_PIPE, doc)
    assert [label for surface, label in found if surface.lower() == "surrey"] == ["ORG"] * 5
    assert found.count(("Kent", "ORG")) == 2


def test_hyphenated_names_stay_whole() -> None:
    text = "Mark Lewis-Francis and Jean-Michel Monin ran. After the Putin-Xi summit, Mercedes-Benz grew."
    doc = with_model_ents("en", text, [("Mark Lewis", "PER"), ("Francis", "PER"),
                                       ("Michel Monin", "PER"), ("Putin", "PER"), ("Xi", "PER"),
                                       ("Mercedes", "ORG")])
    assert run(CONSISTENCY_PIPE, doc) == [
        ("Mark Lewis-Francis", "PER"), ("Jean-Michel Monin", "PER"), ("Putin", "PER"),
        ("Xi", "PER"), ("Mercedes-Benz", "ORG")]


def test_titles_are_not_part_of_a_persons_name() -> None:
    doc = with_model_ents("it", "Il papa Benedetto XVI e il presidente Mattarella.",
                          [("papa Benedetto XVI", "PER"), ("presidente Mattarella", "PER")])
    assert run(CONSISTENCY_PIPE, doc) == [("Benedetto XVI", "PER"), ("Mattarella", "PER")]


def test_consistency_leaves_common_words_and_misc_alone() -> None:
    doc = with_model_ents("en", "The German team met. The talks ended. German fans cheered.",
                          [("German", "MISC"), ("The", "ORG")])
    assert run(CONSISTENCY_PIPE, doc) == [("German", "MISC"), ("The", "ORG")]


# --- the gazetteer against longer model names ----------------------------------------------------


def test_gazetteer_never_shortens_a_longer_model_name() -> None:
    nlp = spacy.blank("en")
    entities._add_gazetteer(nlp)
    # Clubs and companies named after places that the gazetteer does not list (Real Madrid and
    # Air France are listed since version 4, with keys of their own).
    doc = nlp.make_doc("Dynamo Kyiv beat Lazio in Madrid; Air Moldova flew to Moscow.")
    doc.ents = [Span(doc, 0, 2, label="ORG"), Span(doc, 7, 9, label="ORG"),
                Span(doc, 11, 12, label="ORG")]  # the "model": Moscow mistyped as ORG
    for _, component in nlp.pipeline:
        doc = component(doc)
    assert [(e.text, e.label_, e.ent_id_) for e in doc.ents] == [
        ("Dynamo Kyiv", "ORG", ""), ("Madrid", "LOC", "madrid"),
        ("Air Moldova", "ORG", ""), ("Moscow", "LOC", "moscow")]
    doc = nlp.make_doc("Real Madrid beat Lazio in Madrid; Air France flew to Moscow.")
    doc.ents = [Span(doc, 0, 2, label="ORG"), Span(doc, 7, 9, label="ORG")]
    for _, component in nlp.pipeline:
        doc = component(doc)
    assert [(e.text, e.label_, e.ent_id_) for e in doc.ents] == [
        ("Real Madrid", "ORG", "real_madrid"), ("Madrid", "LOC", "madrid"),
        ("Air France", "ORG", "air_france"), ("Moscow", "LOC", "moscow")]


# --- the default pipeline on news -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def default_taggers():
    load_tagger.cache_clear()
    yield
    load_tagger.cache_clear()


def tagged(text: str, language: str) -> list[tuple[str, str, str]]:
    return [(m.text, m.label, m.key) for m in tag_entities([("doc", text, language)])]


def mention_of(mentions: list[tuple[str, str, str]], text: str) -> tuple[str, str] | None:
    return next(((label, key) for surface, label, key in mentions if surface == text), None)


def test_news_article_with_capitals_headline_and_dateline() -> None:
    text = ("PUTIN AND MACRON MEET IN PARIS\n"
            "PARIS 2024-03-05\n"
            "Russian President Vladimir Putin met French President Emmanuel Macron in Paris on "
            "Tuesday. Putin told reporters that the talks had been useful, Macron said.")
    mentions = tagged(text, "en")
    heads = [m for m in mentions if text.find(m[0]) < text.index("\n")]
    assert ("PUTIN", "PER", "vladimir_putin") in heads
    assert ("MACRON", "PER", "emmanuel_macron") in heads
    assert mentions.count(("PARIS", "LOC", "paris")) == 2  # headline and dateline
    assert mentions.count(("Putin", "PER", "vladimir_putin")) == 1
    assert ("Emmanuel Macron", "PER", "emmanuel_macron") in mentions


def test_bare_surname_takes_the_type_and_key_of_the_full_name() -> None:
    text = ("Tennis player MaliVai Washington reached the quarter-finals in New York. "
            "Washington beat the seventh seed in three sets.")
    mentions = tagged(text, "en")
    assert mention_of(mentions, "MaliVai Washington") == ("PER", "malivai_washington")
    assert mention_of(mentions, "Washington") == ("PER", "malivai_washington")


def test_real_madrid_stays_one_organisation() -> None:
    mentions = tagged("Real Madrid beat Barcelona 2-1 at the Bernabeu in Madrid on Sunday.", "en")
    assert mention_of(mentions, "Real Madrid") == ("ORG", "real_madrid")
    assert mention_of(mentions, "Madrid") == ("LOC", "madrid")
    assert [m for m in mentions if m[0] == "Madrid"] == [("Madrid", "LOC", "madrid")]


def test_italian_parties_and_institutions() -> None:
    text = ("Il PD e il M5S hanno votato contro, mentre FdI e Lega hanno sostenuto il Governo. "
            "Il testo passa ora al Senato e poi alla Camera.")
    mentions = tagged(text, "it")
    assert mention_of(mentions, "PD") == ("ORG", "partito_democratico")
    assert mention_of(mentions, "M5S") == ("ORG", "movimento_5_stelle")
    assert mention_of(mentions, "FdI") == ("ORG", "fratelli_d_italia")
    assert mention_of(mentions, "Lega") == ("ORG", "lega")
    assert mention_of(mentions, "Governo") == ("ORG", "italian_government")
    assert mention_of(mentions, "Senato") == ("ORG", "italian_senate")
    assert mention_of(mentions, "Camera") == ("ORG", "italian_chamber_of_deputies")


@pytest.mark.parametrize(
    ("text", "model", "governments"),
    [
        ("Il governo ha approvato il decreto.", [], [("governo", "ORG")]),
        ("Le sanzioni del governo cinese sono state criticate dal governo.", [],
         [("governo cinese", "ORG"), ("governo", "ORG")]),
        ("Un governo di unità nazionale è la scelta di governo più probabile.", [], []),
        ("Il governo guidato da Mario Draghi si è dimesso.", [("Mario Draghi", "PER")],
         [("governo", "ORG")]),
        ("Il governo Meloni ha giurato al Quirinale.",  # "Meloni" stays the model's
         [("Meloni", "PER"), ("Quirinale", "ORG")], [("governo", "ORG")]),
        ("The government said the government would act.", [], []),  # Italian only
    ],
)
def test_a_government_after_a_definite_article_is_an_organisation(
        text: str, model: list[tuple[str, str]], governments: list[tuple[str, str]]) -> None:
    language = "en" if text.startswith("The") else "it"
    found = run(GOVERNMENTS_PIPE, with_model_ents(language, text, model))
    assert [entity for entity in found if entity not in model] == governments
    assert [entity for entity in found if entity in model] == model


def test_italian_news_governments_end_to_end() -> None:
    mentions = tagged("ROMA - Il governo italiano e il governo tedesco hanno firmato l'accordo.",
                      "it")
    assert mention_of(mentions, "governo italiano") == ("ORG", "italian_government")
    assert mention_of(mentions, "governo tedesco") == ("ORG", "governo_tedesco")
    # Which government "il governo" is, the words do not say: not the gazetteer's Italian one.
    kyiv = tagged("A Kiev il governo chiede più armi ai partner occidentali.", "it")
    assert mention_of(kyiv, "governo") == ("ORG", "governo")


def test_results_table_scores_stay_out_of_names() -> None:
    text = ("Derbyshire beat Surrey by six wickets at Derby.\n"
            "Derbyshire 232 and 110-4\nSurrey 198 and 143")
    mentions = tagged(text, "en")
    assert all(not any(ch.isdigit() for ch in surface) for surface, _, _ in mentions)
    assert {label for surface, label, _ in mentions if surface in ("Derbyshire", "Surrey")} \
        == {"ORG"}


def test_mentions_index_the_text(default_taggers: None) -> None:
    items = [("a", "LONDON 1996-08-30\nMarc Rosset beat Washington. Rosset won.", "en"),
             ("b", "ROMA - Il PD ha chiesto al Governo di riferire in Senato.", "it")]
    mentions: list[Mention] = tag_entities(items)
    texts = dict((doc_id, text) for doc_id, text, _ in items)
    assert mentions and all(texts[m.doc_id][m.start_char:m.end_char] == m.text for m in mentions)


def test_common_words_opening_a_sentence_are_not_names() -> None:
    text = ("Witnesses said the fire spread fast. Rescue teams and police arrived later. "
            "Officials declined to comment.")
    found = {surface for surface, _, _ in tagged(text, "en")}
    assert not found & {"Witnesses", "Rescue", "Officials"}
    golf = "American golfer Tiger Woods won on Sunday. Woods said the course was hard."
    assert mention_of(tagged(golf, "en"), "Woods") == ("PER", "tiger_woods")


def test_a_region_of_a_known_place_takes_the_places_key() -> None:
    text = ("I droni hanno colpito la regione di Donetsk. L'Alleanza atlantica ha condannato "
            "l'attacco e l'Alleanza si riunirà a Bruxelles.")
    mentions = tagged(text, "it")
    donetsk = [(label, key) for surface, label, key in mentions if "Donetsk" in surface]
    assert donetsk == [("LOC", "donetsk")]
    assert mention_of(mentions, "Alleanza") == ("ORG", "nato")
