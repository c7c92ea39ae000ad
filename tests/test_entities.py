"""Entity tagging: a table of sentences in both languages, the pipeline choices, and seeds/."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import spacy

from tasks import ner as entities
from tasks.ner import (
    GAZETTEER_DIR,
    GAZETTEER_VERSION,
    load_gazetteer,
    load_tagger,
    slugify,
    tag_entities,
    text_batches,
    tagger_name,
    trim_span,
    without_function_words,
)
from warehouse.records import Mention

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
DEFAULT_MODELS = entities.BUNDLED_MODELS
# Stored mentions carry GAZETTEER_VERSION in their tagger name: a gazetteer edit must bump it.
PINNED_GAZETTEER = (4, "4d5e61ac0602f74a58fdba744706e09855042ac63524186f0070e950c94e8d4c")

Expected = list[tuple[str, str, str]]  # (text, label, key) in text order

CASES: list[tuple[str, str, Expected]] = [
    ("en", "President Vladimir Putin met Xi Jinping in Beijing.", [
        ("Vladimir Putin", "PER", "vladimir_putin"), ("Xi Jinping", "PER", "xi_jinping"),
        ("Beijing", "LOC", "beijing")]),
    ("en", "Nato and the EU met in Brussels; the UN stayed away.", [
        ("Nato", "ORG", "nato"), ("EU", "ORG", "european_union"),
        ("Brussels", "LOC", "brussels"), ("UN", "ORG", "united_nations")]),
    ("en", "Zelenskyy, or Zelenskiy, spoke in Kyiv, which some still spell Kiev.", [
        ("Zelenskyy", "PER", "volodymyr_zelensky"), ("Zelenskiy", "PER", "volodymyr_zelensky"),
        ("Kyiv", "LOC", "kyiv"), ("Kiev", "LOC", "kyiv")]),
    ("en", "Daesh, ISIL and the Islamic State are all names of ISIS.", [
        ("Daesh", "ORG", "isis"), ("ISIL", "ORG", "isis"), ("Islamic State", "ORG", "isis"),
        ("ISIS", "ORG", "isis")]),
    ("en", "Kremlin spokesman Ivan Petrov said Moscow would respond.", [
        ("Kremlin", "ORG", "kremlin"), ("Ivan Petrov", "PER", "ivan_petrov"),
        ("Moscow", "LOC", "moscow")]),
    ("en", "The General Staff met the Foreign Minister at the White House.", [
        ("White House", "ORG", "white_house")]),
    ("en", "Russian drones circled the Zaporizhzhia nuclear power plant.", [
        ("Zaporizhzhia nuclear power plant", "LOC", "zaporizhzhia_nuclear_power_plant")]),
    ("en", "Crosetto flew from Rome to The Hague.", [
        ("Crosetto", "PER", "guido_crosetto"), ("Rome", "LOC", "rome"),
        ("The Hague", "LOC", "the_hague")]),
    ("it", "Il portavoce del Cremlino Dmitrij Peskov ha parlato da Mosca.", [
        ("Cremlino", "ORG", "kremlin"), ("Dmitrij Peskov", "PER", "dmitry_peskov"),
        ("Mosca", "LOC", "moscow")]),
    ("it", "Nato a Roma nel 1950, il generale ha servito la Nato e l'Alleanza Atlantica.", [
        ("Roma", "LOC", "rome"), ("Nato", "ORG", "nato"), ("Alleanza Atlantica", "ORG", "nato")]),
    ("it", "Usa il telefono. Gli Usa e l'Unione europea sostengono l'Ucraina.", [
        ("Usa", "LOC", "united_states"), ("Unione europea", "ORG", "european_union"),
        ("Ucraina", "LOC", "ukraine")]),
    ("it", "Lo Stato Islamico ha rivendicato l'attacco al Crocus City Hall.", [
        ("Stato Islamico", "ORG", "isis"), ("Crocus City Hall", "LOC", "crocus_city_hall")]),
    ("it", "Il presidente francese Jean Dupont ha incontrato la premier Giorgia Meloni.", [
        ("Jean Dupont", "PER", "jean_dupont"), ("Giorgia Meloni", "PER", "giorgia_meloni")]),
    ("it", "I soldati nordcoreani combattono a Kursk per la Corea del Nord.", [
        ("Kursk", "LOC", "kursk"), ("Corea del Nord", "LOC", "north_korea")]),
    ("it", "Da Charkiv a Zaporižžja, Zelenskij chiede aiuto a Pechino.", [
        ("Charkiv", "LOC", "kharkiv"), ("Zaporižžja", "LOC", "zaporizhzhia"),
        ("Zelenskij", "PER", "volodymyr_zelensky"), ("Pechino", "LOC", "beijing")]),
    # Companies, media and clubs of everyday news (gazetteer version 4).
    ("it", "Dopo Alitalia, anche Air France e Lufthansa tagliano i voli; Pfizer sponsorizza la "
           "Juventus.", [
        ("Alitalia", "ORG", "alitalia"), ("Air France", "ORG", "air_france"),
        ("Lufthansa", "ORG", "lufthansa"), ("Pfizer", "ORG", "pfizer"),
        ("Juventus", "ORG", "juventus")]),
    ("en", "Goldman Sachs expects the Fed to cut; Apple and Google shares rose.", [
        ("Goldman Sachs", "ORG", "goldman_sachs"), ("Fed", "ORG", "federal_reserve"),
        ("Apple", "ORG", "apple_inc"), ("Google", "ORG", "google")]),
    # "La Stampa" opening a sentence is "the press"; inside one, the Turin daily.
    ("it", "La Stampa estera ne parla, e lo scrive anche La Stampa.", [
        ("La Stampa", "ORG", "la_stampa")]),
    ("und", "Putin e Zelensky a Mosca.", [
        ("Putin", "PER", "vladimir_putin"), ("Zelensky", "PER", "volodymyr_zelensky"),
        ("Mosca", "LOC", "moscow")]),
    ("de", "Wladimir Putin traf Olaf Scholz in Berlin.", [
        ("Wladimir Putin", "PER", "vladimir_putin"), ("Olaf Scholz", "PER", "olaf_scholz"),
        ("Berlin", "LOC", "berlin")]),
]


@pytest.fixture(scope="module", autouse=True)
def rule_pipelines_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hide tasks/models/: the tables here describe the gazetteer and the title rule, which a
    trained pipeline landing there must not change (the seed checks also run the default one)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(entities, "BUNDLED_MODELS", tmp_path_factory.mktemp("no_models"))
        load_tagger.cache_clear()
        yield
    load_tagger.cache_clear()


def found(mentions: list[Mention]) -> Expected:
    return [(m.text, m.label, m.key) for m in mentions]


@pytest.mark.parametrize(("language", "text", "expected"), CASES)
def test_sentence_table(language: str, text: str, expected: Expected) -> None:
    assert found(tag_entities([("doc", text, language)])) == expected


def test_offsets_index_the_text_in_a_mixed_batch() -> None:
    items = [(f"doc{n}", text, language) for n, (language, text, _) in enumerate(CASES)]
    mentions = tag_entities(items, batch_size=4)
    texts = {doc_id: text for doc_id, text, _ in items}
    assert mentions and all(texts[m.doc_id][m.start_char:m.end_char] == m.text for m in mentions)
    doc_ids = [m.doc_id for m in mentions]
    assert doc_ids == sorted(doc_ids, key=list(texts).index)  # in item order, not by language


def test_spacy_batches_are_bounded_by_texts_and_characters() -> None:
    texts = ["a" * 5000, "b" * 5000, "c" * 3000, "d" * 20000, "e" * 10, "f" * 10, "g" * 10]
    batches = list(text_batches(iter(texts), 2, 12000))
    assert [[t[0] for t in batch] for batch in batches] == [["a", "b"], ["c"], ["d"],
                                                            ["e", "f"], ["g"]]
    assert [t for batch in batches for t in batch] == texts  # every text once, in order


def test_mentions_do_not_depend_on_how_texts_are_batched() -> None:
    items = [(f"doc{n}", text, language) for n, (language, text, _) in enumerate(CASES)]
    items.append(("long", " ".join(text for language, text, _ in CASES if language == "en"),
                  "en"))
    one_by_one = tag_entities(items, batch_size=1)
    assert one_by_one and tag_entities(items, batch_size=64, batch_chars=10**9) == one_by_one
    assert tag_entities(items, batch_size=8, batch_chars=200) == one_by_one


def test_english_possessive_is_left_out_of_the_mention() -> None:
    text = "Putin's war and Zelensky\u2019s reply."
    mentions = tag_entities([("doc", text, "en")])
    assert [(m.start_char, m.end_char, m.text, m.key) for m in mentions] == [
        (0, 5, "Putin", "vladimir_putin"), (16, 24, "Zelensky", "volodymyr_zelensky")]
    assert trim_span("“Putin's”", 0, 9) == (1, 6)


@pytest.mark.parametrize(
    ("language", "text", "span", "expected"),
    [
        ("it", "Il portavoce del Cremlino ha parlato.", (0, 3), None),
        ("it", "Anche Mosca tace.", (0, 1), None),
        ("it", "Secondo il Cremlino, no.", (0, 3), "Cremlino"),
        ("it", "Ne parla Il Sole.", (2, 4), "Il Sole"),  # mid-sentence: the article is the name's
        ("en", "The Hague decided.", (0, 2), "Hague"),
        ("en", "He met Vladimir Putin and left.", (2, 5), "Vladimir Putin"),
        ("en", "Talks in Moscow.", (2, 3), "Moscow"),
    ],
)
def test_model_spans_lose_function_words_at_their_edges(
    language: str, text: str, span: tuple[int, int], expected: str | None
) -> None:
    doc = spacy.blank(language)(text)
    entity = doc[span[0]:span[1]]
    trimmed = without_function_words(entity, text)
    assert (trimmed.text if trimmed is not None else None) == expected


def test_surname_takes_the_key_of_the_full_name_in_the_same_document() -> None:
    items = [
        ("a", "Kremlin spokesman Ivan Petrov spoke first. Later, Mr Petrov added more.", "en"),
        ("b", "Mr Petrov disagreed.", "en"),
        ("c", "Senator Ivan Petrov and Senator Olga Petrov met. Mr Petrov left.", "en"),
    ]
    keys = [(m.doc_id, m.text, m.key) for m in tag_entities(items) if m.text == "Petrov"]
    assert keys == [("a", "Petrov", "ivan_petrov"), ("b", "Petrov", "petrov"),
                    ("c", "Petrov", "petrov")]


def test_named_but_missing_model_falls_back_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    models = {"en": "en_core_web_not_installed"}
    with caplog.at_level(logging.WARNING, logger="tasks.ner"):
        mentions = tag_entities([("doc", "Putin spoke.", "en")], models=models)
    warning = "ner model 'en_core_web_not_installed' for 'en' is not installed; using the bundled"
    assert f"{warning} tagger" in caplog.text
    assert found(mentions) == [("Putin", "PER", "vladimir_putin")]
    bundled = f"corpusflow-gazetteer-en@{GAZETTEER_VERSION}"
    assert tagger_name("en", models) == tagger_name("en") == bundled


def test_named_model_path_is_loaded_and_its_labels_mapped(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")  # not an entity writer: must be switched off
    nlp.add_pipe("entity_ruler").add_patterns([
        {"label": "PERSON", "pattern": "Putin"}, {"label": "GPE", "pattern": "Moscow"},
        {"label": "DATE", "pattern": "Friday"}, {"label": "NORP", "pattern": "Russians"}])
    nlp.meta.update(name="tiny_ner", version="0.0.1")
    nlp.to_disk(tmp_path / "tiny")
    models = {"en": str(tmp_path / "tiny")}
    text = "Putin's men told Russians in Moscow on Friday."
    mentions = tag_entities([("doc", text, "en")], models)
    assert found(mentions) == [("Putin", "PER", "vladimir_putin"), ("Russians", "MISC", "russians"),
                               ("Moscow", "LOC", "moscow")]
    assert {m.tagger for m in mentions} == {"en_tiny_ner@0.0.1"}
    assert load_tagger("en", models["en"]).nlp.pipe_names == ["entity_ruler"]


def test_bundled_trained_pipeline_gets_the_news_rules_after_its_ner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nlp = spacy.blank("nl")
    ner = nlp.add_pipe("ner")
    for label in ("PER", "ORG", "LOC", "MISC"):
        ner.add_label(label)
    nlp.initialize()
    nlp.meta.update(name="corpusflow_test", version="0.1.0")
    nlp.to_disk(tmp_path / "nl")
    monkeypatch.setattr(entities, "BUNDLED_MODELS", tmp_path)
    load_tagger.cache_clear()
    try:
        tagger = load_tagger("nl", None)
        mentions = tag_entities([("doc", "Vladimir Putin sprak in Parijs met Macron.", "nl")])
    finally:
        load_tagger.cache_clear()
    assert tagger.nlp.pipe_names == [
        "ner", "corpusflow_datelines", "corpusflow_gazetteer", "corpusflow_gazetteer_merge",
        "corpusflow_document_consistency", "corpusflow_governments"]
    assert tagger.name == f"nl_corpusflow_test@0.1.0+corpusflow-gazetteer-nl@{GAZETTEER_VERSION}"
    assert {("Vladimir Putin", "PER", "vladimir_putin"), ("Macron", "PER", "emmanuel_macron")} \
        <= set(found(mentions))


def test_keys_are_slugs() -> None:
    assert slugify("Zelenskij\u2019s Zaporižžja") == "zelenskij_s_zaporizzja"
    assert slugify("Путин") == "путин"
    assert [load_tagger("xx", None).name, tagger_name("und"), tagger_name("ja")] == \
        [f"corpusflow-gazetteer-xx@{GAZETTEER_VERSION}"] * 3


def test_gazetteer_is_consistent() -> None:
    entries = load_gazetteer()
    assert len({e.key for e in entries}) == len(entries)
    assert all(e.key == slugify(e.key) and e.label in {"PER", "ORG", "LOC", "MISC"}
               for e in entries)
    for language in ("en", "it", "xx"):
        owners: dict[str, str] = {}
        for entry in entries:
            for alias in entry.aliases(language):
                assert owners.setdefault(alias, entry.key) == entry.key, (language, alias)


def test_gazetteer_changes_bump_the_version() -> None:
    digest = hashlib.sha256()
    for name in ("entities.jsonl", "titles.jsonl"):
        digest.update((GAZETTEER_DIR / name).read_bytes())
    assert (GAZETTEER_VERSION, digest.hexdigest()) == PINNED_GAZETTEER, (
        "tasks/gazetteer/ changed: bump GAZETTEER_VERSION in tasks/ner.py and set "
        f"PINNED_GAZETTEER in this file to (<new version>, {digest.hexdigest()!r})"
    )


# --- seeds --------------------------------------------------------------------------------------


def seed_body(path: Path) -> str:
    """A seed's article text: without its ' date ...' first line and its URL last line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith(" date "):
        lines = lines[1:]
    if lines and lines[-1].strip().startswith("http") and " " not in lines[-1].strip():
        lines = lines[:-1]
    return "\n".join(lines)


def tag_seeds() -> list[Mention]:
    items = [(path.name, seed_body(path), "en" if path.stem in {"000", "001"} else "it")
             for path in sorted(SEEDS.glob("*.txt"))]
    return tag_entities(items)


@pytest.fixture(scope="module")
def seed_mentions() -> dict[str, list[Mention]]:
    """Mentions in seeds/ by pipeline: the bundled rules, and what a run uses now (a trained
    pipeline in tasks/models/ when there is one)."""
    rules = tag_seeds()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(entities, "BUNDLED_MODELS", DEFAULT_MODELS)
        load_tagger.cache_clear()
        try:
            default = tag_seeds()
        finally:
            load_tagger.cache_clear()
    return {"rules": rules, "default": default}


SEED_ENTITIES = [  # (a word of the mention, label, key)
    ("Putin", "PER", "vladimir_putin"), ("Peskov", "PER", "dmitry_peskov"),
    ("Medvedev", "PER", "dmitry_medvedev"), ("Macron", "PER", "emmanuel_macron"),
    ("Lavrov", "PER", "sergei_lavrov"), ("Zelensky", "PER", "volodymyr_zelensky"),
    ("Stoltenberg", "PER", "jens_stoltenberg"), ("Blinken", "PER", "antony_blinken"),
    ("Crosetto", "PER", "guido_crosetto"), ("NATO", "ORG", "nato"), ("ISIS", "ORG", "isis"),
    ("Crocus City Hall", "LOC", "crocus_city_hall"), ("Moscow", "LOC", "moscow"),
    ("Mosca", "LOC", "moscow"), ("Kiev", "LOC", "kyiv"), ("Donetsk", "LOC", "donetsk"),
    ("Kharkiv", "LOC", "kharkiv"), ("Kursk", "LOC", "kursk"), ("Pyongyang", "LOC", "pyongyang"),
]


@pytest.mark.parametrize("pipeline", ["rules", "default"])
@pytest.mark.parametrize(("word", "label", "key"), SEED_ENTITIES)
def test_seeds_mention(
    seed_mentions: dict[str, list[Mention]], pipeline: str, word: str, label: str, key: str
) -> None:
    assert any(
        word in m.text and m.label == label and m.key == key for m in seed_mentions[pipeline]
    ), f"{pipeline} pipeline: no {label} mention of {word!r} with key {key!r} in seeds/"


@pytest.mark.parametrize("pipeline", ["rules", "default"])
def test_seeds_offsets_and_moscow_key(
    seed_mentions: dict[str, list[Mention]], pipeline: str
) -> None:
    bodies = {path.name: seed_body(path) for path in SEEDS.glob("*.txt")}
    mentions = seed_mentions[pipeline]
    assert all(bodies[m.doc_id][m.start_char:m.end_char] == m.text for m in mentions)
    keys = {(m.doc_id, m.text): m.key for m in mentions}
    assert keys[("000.txt", "Moscow")] == keys[("002.txt", "Mosca")] == "moscow"


def test_seeds_rules_leave_common_words_alone(seed_mentions: dict[str, list[Mention]]) -> None:
    texts = {m.text for m in seed_mentions["rules"]}
    assert not texts & {"Gunmen", "Witnesses", "Russian", "Occidente", "Il", "Le"}


def test_seeds_default_pipeline_has_no_known_wrong_mentions(
    seed_mentions: dict[str, list[Mention]],
) -> None:
    """Mentions the Wikipedia-trained models used to invent in seeds/: capitalised common words
    at the start of a sentence, and the Italian "Alleanza" (the Atlantic Alliance) as a place."""
    found = {(m.text, m.label) for m in seed_mentions["default"]}
    wrong = {("Officials", "ORG"), ("Investigators", "MISC"), ("Alleanza resta", "ORG"),
             ("Alleanza", "LOC")}
    assert not found & wrong
    # "l'Alleanza" in the Italian seeds is the Atlantic Alliance
    assert {m.key for m in seed_mentions["default"] if m.text == "Alleanza"} == {"nato"}


def test_a_long_text_is_tagged_in_pieces_with_offsets_into_the_whole() -> None:
    from tasks.ner import PIECE_CHARS, pieces

    sentence = "Ukrainian President Volodymyr Zelensky met Joe Biden in Washington on Friday.\n"
    text = sentence * (3 * PIECE_CHARS // len(sentence))
    cut = pieces(text)
    assert len(cut) >= 3 and all(len(piece) <= PIECE_CHARS for _, piece in cut)
    assert "".join(piece for _, piece in cut) == text  # nothing lost or repeated at a cut
    mentions = tag_entities([("d", text, "en")])
    assert all(text[m.start_char:m.end_char] == m.text for m in mentions)
    people = [m for m in mentions if m.text == "Volodymyr Zelensky"]
    assert len(people) == text.count("Volodymyr Zelensky")  # every piece tagged, none twice
    assert people[-1].start_char > 2 * PIECE_CHARS


def test_runs_without_spaces_are_tagged_as_spaces_and_offsets_stay() -> None:
    """A run of 100+ non-space characters (a URL, a page of emoji: spaCy's tokenizer is
    quadratic in such a token) is no name: it is tagged as spaces, and names after it keep
    their offsets in the stored text."""
    from tasks.ner import without_long_runs

    text = ("Vladimir Putin spoke. " + "🙂" * 5000 + " Emmanuel Macron replied. "
            + "a" * 99 + " https://x.example/" + "b" * 90)
    masked = without_long_runs(text)
    assert len(masked) == len(text) and "🙂" not in masked and "b" not in masked
    assert masked.endswith("replied. " + "a" * 99 + " " * 109)  # 99 stays, 108 goes
    found = [(m.text, m.start_char) for m in tag_entities([("d", text, "en")])]
    assert found == [("Vladimir Putin", 0), ("Emmanuel Macron", text.index("Emmanuel"))]

