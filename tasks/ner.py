"""Entity tagging: people, organisations and places in documents, each with a canonical key.

The pure part of the entity stage (tasks/entities.py runs it on the task runner and the pool):
spaCy, but neither prefect nor duckdb, so that the pool's workers import no more than they run. Each language gets one pipeline, the first
that applies of:
1. the spaCy package or path that `ner_models` names for it (a missing one logs a warning);
2. a trained pipeline bundled at tasks/models/<lang>/ (or any pipeline whose meta names it a
   corpusflow NER model, such as a training run's output), followed by the news rules below;
3. a blank tokenizer with the gazetteer and a title rule ("spokesman Ivan Petrov").

The news rules, after the statistical model (each its own pipeline component):
- datelines: the all-caps place that opens agency copy ("LONDON 1996-08-30", "ROMA -") is LOC;
- the gazetteer is merged in where it does not shorten a longer model name (longest match wins:
  "Real Madrid" stays one ORG, never "Madrid" LOC), and takes over the label and key of a name it
  matches exactly;
- document consistency: the pipeline sees the whole document, so a name keeps one type in it (the
  type most of its mentions got), the bare surname of a PER is PER, and occurrences the model
  missed (results tables, all-caps headlines) get the type the name has elsewhere in the document;
- governments in Italian news: a lower-case "governo" after a definite article ("il governo",
  "del governo cinese") is an organisation, as Italian news annotation has it (KIND's Wikinews
  part tags "il governo" ORG in 137 of 144 cases; its essays and fiction, which the model also
  learnt from, almost never do), with a nationality adjective that follows it.

Keys: a curated alias takes its entity's key, so "Mosca", "Moscow" and "Moskva" all give
"moscow"; anything else takes a slug of its text. Inside one document a bare surname takes the key
of the full name it shortens ("Dmitry Peskov" ... "Peskov").
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans, is_package

from tasks import ner_features  # noqa: F401  (registers the bundled models' embedding layer)
from warehouse.records import Label, Mention

logger = logging.getLogger(__name__)

GAZETTEER_DIR = Path(__file__).parent / "gazetteer"
BUNDLED_MODELS = Path(__file__).parent / "models"
# Part of every bundled tagger's name, so stored mentions say which rules produced them:
# bump it whenever the gazetteer files or the rules in this module change.
GAZETTEER_VERSION = 4
UNDETERMINED = "und"
MULTILINGUAL = "xx"  # spaCy's language-neutral tokenizer, for codes it has no tokenizer for
GAZETTEER_PIPE = "corpusflow_gazetteer"  # a span_ruler: curated names into doc.spans
GAZETTEER_SPANS = "corpusflow_gazetteer"
MERGE_PIPE = "corpusflow_gazetteer_merge"
DATELINES_PIPE = "corpusflow_datelines"
CONSISTENCY_PIPE = "corpusflow_document_consistency"
TITLED_NAMES_PIPE = "corpusflow_titled_names"
GOVERNMENTS_PIPE = "corpusflow_governments"
# The id of the governments rule's spans: their key is their own text's, never a curated one
# ("il governo" in a report from Kyiv is not the gazetteer's italian_government).
GOVERNMENT_SPAN_ID = "corpusflow_government"
# meta.json "name" of the pipelines train_ner.py builds: those get the news rules too.
CORPUSFLOW_MODEL_PREFIX = "corpusflow_ner"

# Labels of common spaCy pipelines (OntoNotes, WikiNER) mapped to ours. Numeric types say nothing
# about who or where, so they are dropped; NORP (nationalities, religions) is MISC, as in CoNLL.
# Labels not listed become MISC.
LABELS: dict[str, Label | None] = {
    "PER": "PER", "PERSON": "PER",
    "ORG": "ORG",
    "LOC": "LOC", "GPE": "LOC", "FAC": "LOC",
    "MISC": "MISC", "NORP": "MISC", "EVENT": "MISC", "PRODUCT": "MISC", "WORK_OF_ART": "MISC",
    "LAW": "MISC", "LANGUAGE": "MISC",
    "DATE": None, "TIME": None, "PERCENT": None, "MONEY": None, "QUANTITY": None,
    "ORDINAL": None, "CARDINAL": None,
}
# Components that write doc.ents; everything else in a loaded pipeline is switched off.
_NER_FACTORIES = frozenset({"ner", "beam_ner", "entity_ruler", "future.entity_ruler"})

# Lower-case words inside names ("Ursula von der Leyen"): a title rule stopping at one would
# keep half a name.
_NAME_PARTICLES = frozenset({"al", "bin", "da", "de", "del", "della", "der", "di", "du", "el",
                             "ibn", "la", "le", "van", "von"})
_SENTENCE_OPENERS = frozenset('.!?:;"“«‘(')
_EDGE_CHARACTERS = " \t\r\n\"'“”‘’«»()[]{},;"
_POSSESSIVES = ("'s", "’s", "'S", "’S")
_ASCII_FOLDS = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d",
                              "Đ": "D", "ı": "i", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE"})


# --- keys ---------------------------------------------------------------------------------------


def slugify(text: str) -> str:
    """Lower-case ascii key of a name: accents stripped, other runs of symbols → '_'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLDS))
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    slug = re.sub(r"[^a-z0-9]+", "_", folded.lower()).strip("_")
    if slug:
        return slug
    # A name in another script ("Путин") has no ascii letters: keep it rather than lose the key.
    return re.sub(r"\W+", "_", text.casefold()).strip("_") or "_"


def language_code(language: str) -> str:
    """The bare, lower-case code of an ISO tag ('zh-cn' → 'zh'); unusable tags → 'und'."""
    code = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else UNDETERMINED


# --- gazetteer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One real-world entity of the gazetteer and the names it goes by."""

    key: str
    label: Label
    names: tuple[str, ...]  # used in every language
    by_language: dict[str, tuple[str, ...]]  # only there: "Roma" is a people in English
    mid_sentence: dict[str, tuple[str, ...]]  # only there, and not opening a sentence ("Nato a")

    def aliases(self, language: str) -> tuple[str, ...]:
        """Names to match in a pipeline of `language`; the multilingual one takes them all."""
        if language == MULTILINGUAL:
            extras = [*self.by_language.values(), *self.mid_sentence.values()]
        else:
            extras = [self.by_language.get(language, ()), self.mid_sentence.get(language, ())]
        return self.names + tuple(name for names in extras for name in names)


def _entry(row: dict[str, Any]) -> Entry:
    return Entry(
        key=row["key"],
        label=row["label"],
        names=tuple(row["names"]),
        # Two-letter fields are languages: {"key": "rome", "names": ["Rome"], "it": ["Roma"]}
        by_language={lang: tuple(names) for lang, names in row.items() if len(lang) == 2},
        mid_sentence={lang: tuple(names) for lang, names in row.get("mid_sentence", {}).items()},
    )


@lru_cache(maxsize=1)
def load_gazetteer() -> tuple[Entry, ...]:
    """The curated entities of gazetteer/entities.jsonl, read once per process."""
    with (GAZETTEER_DIR / "entities.jsonl").open(encoding="utf-8") as lines:
        return tuple(_entry(json.loads(line)) for line in lines if line.strip())


def ruler_patterns(language: str) -> list[dict[str, str]]:
    """entity_ruler phrase patterns for a pipeline language, each with its entity's key as id."""
    return [
        {"label": entry.label, "pattern": alias, "id": entry.key}
        for entry in load_gazetteer()
        for alias in entry.aliases(language)
    ]


@lru_cache(maxsize=1)
def gazetteer_keys() -> frozenset[str]:
    """Every curated key."""
    return frozenset(entry.key for entry in load_gazetteer())


@lru_cache(maxsize=1)
def alias_keys() -> dict[str, str]:
    """Slug of every alias → its key, so a name a statistical model found gets the curated key."""
    return {
        slugify(alias): entry.key
        for entry in load_gazetteer()
        for alias in entry.aliases(MULTILINGUAL)
    }


@cache
def mid_sentence_aliases(language: str) -> frozenset[str]:
    """Aliases that are ordinary words when they open a sentence (Italian "Nato a Roma")."""
    return frozenset(
        name
        for entry in load_gazetteer()
        for lang, names in entry.mid_sentence.items()
        if language in (lang, MULTILINGUAL)
        for name in names
    )


# --- the title rule -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TitleRules:
    """Words of gazetteer/titles.jsonl for one language (lower case)."""

    titles: frozenset[str]  # "president", "portavoce": a name may follow
    between: frozenset[str]  # one may sit between title and name ("il presidente francese X")
    not_names: frozenset[str]  # capitalised words after a title that are no name ("General Staff")


@cache
def title_rules(language: str) -> TitleRules:
    """The title words of a language; the multilingual pipeline takes every language's."""
    with (GAZETTEER_DIR / "titles.jsonl").open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    chosen = [row for row in rows if language in (row["language"], MULTILINGUAL)]

    def words(field: str) -> frozenset[str]:
        return frozenset(word for row in chosen for word in row[field])

    return TitleRules(words("titles"), words("between"), words("not_names"))


def _is_name_word(token: Token, rules: TitleRules) -> bool:
    text = token.text
    return (
        token.ent_type == 0
        and len(text) > 1
        and token.is_alpha
        and text[0].isupper()
        and not text.isupper()  # "EU", "NATO": acronyms are organisations, not people
        and token.lower_ not in rules.titles
        and token.lower_ not in rules.not_names
    )


def titled_names(doc: Doc, rules: TitleRules) -> Iterator[Span]:
    """PER spans of one or two capitalised words right after a title ("spokesman Ivan Petrov").

    Precise rather than greedy: a longer run of capitals, or one followed by another capitalised
    token or a hyphen ("Pd Elly Schlein", "Linda Thomas-Greenfield"), is left alone."""
    position = 0
    while position < len(doc):
        if doc[position].lower_ not in rules.titles:
            position += 1
            continue
        start = position
        while start < len(doc) and doc[start].lower_ in rules.titles:
            start += 1
        if start < len(doc) and doc[start].is_lower and doc[start].lower_ in rules.between:
            start += 1
        end = start
        while end < len(doc) and end - start < 3 and _is_name_word(doc[end], rules):
            end += 1
        ambiguous = end < len(doc) and (
            doc[end].text[0].isupper() or doc[end].text == "-" or doc[end].lower_ in _NAME_PARTICLES
        )
        if 1 <= end - start <= 2 and not ambiguous:
            yield Span(doc, start, end, label="PER")
        position = max(end, position + 1)


@Language.component(TITLED_NAMES_PIPE)
def tag_titled_names(doc: Doc) -> Doc:
    """Pipeline component: add `titled_names` to the entities the gazetteer left."""
    found = list(titled_names(doc, title_rules(doc.lang_)))
    if found:  # they never overlap: names only take tokens outside entities
        doc.ents = (*doc.ents, *found)
    return doc


# --- news rules -------------------------------------------------------------------------------


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _keeps_longer_name(entity: Span, inside: list[Span]) -> bool:
    """Whether a model span outranks the curated names inside it: it holds exactly one, and that
    one is not a person inside some other kind of name ("Real Madrid" ⊃ "Madrid" is one club;
    "NATO Jens Stoltenberg" or "Difesa Guido Crosetto" are names glued together), and the model
    added more than function words and punctuation to it ("il Cremlino" is still "Cremlino")."""
    if len(inside) != 1 or (inside[0].label_ == "PER" and entity.label_ != "PER"):
        return False
    stop = function_words(entity.doc.lang_)
    extra = [t for t in entity if not inside[0].start <= t.i < inside[0].end]
    return not all(t.is_punct or t.lower_ in stop for t in extra)


@Language.component(MERGE_PIPE)
def merge_gazetteer(doc: Doc) -> Doc:
    """Merge the curated spans into doc.ents: a curated name replaces the model's spans it
    overlaps, unless a longer model name contains it (`_keeps_longer_name`)."""
    curated = filter_spans(doc.spans.get(GAZETTEER_SPANS, []))
    entities = list(doc.ents)
    outranked: set[tuple[int, int]] = set()
    for entity in entities:
        inside = [c for c in curated
                  if entity.start <= c.start and c.end <= entity.end and len(entity) > len(c)]
        if _keeps_longer_name(entity, inside):
            outranked.add((inside[0].start, inside[0].end))
    merged = [c for c in curated if (c.start, c.end) not in outranked]
    if merged:
        kept = [e for e in entities if not any(_overlaps(e, c) for c in merged)]
        doc.ents = sorted([*kept, *merged], key=lambda e: e.start)
    return doc


_DATELINE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\b|\d{1,2}/\d{1,2}(/\d{2,4})?\b")
_DASHES = frozenset({"-", "–", "—", "--"})


def _is_caps_word(token: Token) -> bool:
    text = token.text.rstrip(".")
    return len(text) > 1 and text.isupper() and text.replace("'", "").replace("’", "").isalpha()


def _line_starts(doc: Doc) -> Iterator[int]:
    at_start = True
    for token in doc:
        if token.is_space:
            at_start = at_start or "\n" in token.text
            continue
        if at_start:
            yield token.i
        at_start = "\n" in token.whitespace_


def dateline_place(doc: Doc, start: int) -> list[Span]:
    """LOC spans of the dateline opening the line at `start`: an all-caps place (with an optional
    ", Region") followed by a date, an agency in brackets, a comma and a day, or a dash and
    mixed-case text ("LONDON 1996-08-30", "MILWAUKEE , Wisconsin 1996-08-22", "ROMA - Il ...").
    A headline ("SOCCER - JAPAN GET LUCKY WIN") is followed by capitals and is left alone."""
    end = start
    while end < len(doc) and end - start < 4 and _is_caps_word(doc[end]):
        end += 1
    if end == start or end >= len(doc):
        return []
    places = [Span(doc, start, end, label="LOC")]
    after = end
    if _dateline_marker(doc, after):
        return places
    if doc[after].text == "," and after + 1 < len(doc) and doc[after + 1].is_title:
        region_end = after + 1
        while region_end < len(doc) and doc[region_end].is_title and region_end - after <= 3:
            region_end += 1
        places.append(Span(doc, after + 1, region_end, label="LOC"))
        after = region_end
    if after >= len(doc):
        return []
    return places if _dateline_marker(doc, after) else []


def _is_day(token: Token) -> bool:
    return token.text.isdigit() and len(token.text) <= 2


def _dateline_marker(doc: Doc, at: int) -> bool:
    """What follows the place of a dateline: a date ("1996-08-30"), a day with an optional
    month (", 12 marzo", ", March 5"), an agency in brackets and a dash ("(Reuters) -"), or a
    dash and mixed-case copy ("- Il governo")."""
    marker, rest = doc[at], doc[at + 1: at + 6]
    if _DATELINE_DATE.match(doc.text, marker.idx):
        return True
    if marker.text == "," and len(rest) >= 1:
        return _is_day(rest[0]) or (len(rest) >= 2 and rest[0].is_title and _is_day(rest[1]))
    if marker.text == "(":
        closing = next((t.i for t in rest if t.text == ")"), None)
        return closing is not None and closing + 1 < len(doc) and doc[closing + 1].text in _DASHES
    return marker.text in _DASHES and len(rest) >= 1 and any(c.islower() for c in rest[0].text)


@Language.component(DATELINES_PIPE)
def tag_datelines(doc: Doc) -> Doc:
    """Agency datelines: the place opening a line of copy is LOC, whatever the model said."""
    found = [span for start in _line_starts(doc) for span in dateline_place(doc, start)]
    if found:
        kept = [e for e in doc.ents if not any(_overlaps(e, span) for span in found)]
        doc.ents = sorted([*kept, *found], key=lambda e: e.start)
    return doc


def _surface(tokens: Span) -> tuple[str, ...]:
    return tuple(token.lower_ for token in tokens)


def _is_name(tokens: Span) -> bool:
    """Worth spreading through a document: has a capital, is not a lone function word."""
    stop = function_words(tokens.doc.lang_)
    return any(c.isupper() for c in tokens.text) and not (
        len(tokens) == 1 and (tokens[0].lower_ in stop or len(tokens.text) < 2))


def _votes(entities: list[Span]) -> dict[tuple[str, ...], str]:
    """The type each name has most often in a document (ties: the first mention's)."""
    counts: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    for entity in entities:
        counts[_surface(entity)][entity.label_] += 1
    return {name: votes.most_common(1)[0][0] for name, votes in counts.items()}


def _surnames(entities: list[Span]) -> set[str]:
    """Last words of multi-word PER names (lower case)."""
    return {e[-1].lower_ for e in entities
            if e.label_ == "PER" and len(e) > 1 and e[-1].is_alpha and len(e[-1]) > 1}


def _unmatched_occurrences(doc: Doc, names: dict[tuple[str, ...], str]) -> list[Span]:
    """Spans outside any entity that spell a known name (any case) with a capital."""
    taken = {token.i for entity in doc.ents for token in entity}
    by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for name in sorted(names, key=len, reverse=True):
        by_first[name[0]].append(name)
    found, position = [], 0
    while position < len(doc):
        token = doc[position]
        match = None
        if position not in taken and token.text[:1].isupper():
            for name in by_first.get(token.lower_, ()):
                end = position + len(name)
                if end <= len(doc) and _surface(doc[position:end]) == name and \
                        not taken & set(range(position, end)):
                    match = Span(doc, position, end, label=names[name])
                    break
        if match is not None:
            found.append(match)
            position = match.end
        else:
            position += 1
    return found


def _without_scores(entity: Span) -> Span | None:
    """The span without numbers or punctuation at its edges ("Hampshire 232" in a results table),
    or None when nothing is left."""
    start, end = entity.start, entity.end
    doc = entity.doc
    while start < end and (doc[start].like_num or doc[start].is_punct):
        start += 1
    while start < end and (doc[end - 1].like_num or doc[end - 1].is_punct):
        end -= 1
    if start == end:
        return None
    if (start, end) == (entity.start, entity.end):
        return entity
    return Span(doc, start, end, label=entity.label_, span_id=entity.ent_id)


def _attached(left: Token, right: Token) -> bool:
    return left.whitespace_ == "" and left.i + 1 == right.i


def _hyphenated_whole(entity: Span, taken: set[int]) -> Span:
    """A person's or organisation's name over the hyphens spaCy splits at ("Jean-" + "Michel
    Monin", "Tyler" + "-Sharman", "Mercedes" + "-Benz"); places are left alone, since
    "Russia-Ukraine" is two of them."""
    if entity.label_ not in ("PER", "ORG"):
        return entity
    doc, start, end = entity.doc, entity.start, entity.end
    while (start >= 2 and doc[start - 1].text == "-" and doc[start - 2].is_alpha
           and _attached(doc[start - 2], doc[start - 1]) and _attached(doc[start - 1], doc[start])
           and not {start - 2, start - 1} & taken):
        start -= 2
    while (end + 1 < len(doc) and doc[end].text == "-" and doc[end + 1].is_alpha
           and _attached(doc[end - 1], doc[end]) and _attached(doc[end], doc[end + 1])
           and not {end, end + 1} & taken):
        end += 2
    if (start, end) == (entity.start, entity.end):
        return entity
    return Span(doc, start, end, label=entity.label_, span_id=entity.ent_id)


def _without_titles(entity: Span) -> Span:
    """A person's name without the titles before it ("papa Benedetto XVI", "President Putin"):
    the title is not part of the name in news annotation, and the key is the person's."""
    if entity.label_ != "PER":
        return entity
    titles = title_rules(entity.doc.lang_).titles
    start = entity.start
    while start < entity.end - 1 and entity.doc[start].lower_ in titles:
        start += 1
    if start == entity.start:
        return entity
    return Span(entity.doc, start, entity.end, label="PER", span_id=entity.ent_id)


def _without_common_openers(entities: list[Span]) -> list[Span]:
    """Drop the common words opening a sentence (`is_common_word_opening`), unless the document
    uses the word as a name elsewhere: inside a longer name ("Tiger Woods" ... "Woods said") or
    in mid-sentence."""
    if not entities:
        return entities
    text = entities[0].doc.text
    named = {t.lower for e in entities
             if len(e) > 1 or not opens_sentence(text, e.start_char) for t in e}
    return [e for e in entities
            if e.ent_id_ or e[0].lower in named or not is_common_word_opening(e, text)]


def _join_double_barrelled(entities: list[Span]) -> list[Span]:
    """"Mark Lewis" + "-" + "Francis" is one person; "Putin-Xi" (two bare surnames) is two."""
    joined: list[Span] = []
    for entity in entities:
        previous = joined[-1] if joined else None
        if (previous is not None and previous.label_ == entity.label_ == "PER"
                and len(previous) >= 2 and len(entity) == 1 and entity.start == previous.end + 1
                and entity.doc[previous.end].text == "-"
                and _attached(previous[-1], entity.doc[previous.end])
                and _attached(entity.doc[previous.end], entity[0])):
            joined[-1] = Span(entity.doc, previous.start, entity.end, label="PER",
                              span_id=previous.ent_id)
            continue
        joined.append(entity)
    return joined


@Language.component(CONSISTENCY_PIPE)
def make_consistent(doc: Doc) -> Doc:
    """One type per name within the document; surnames of people are people; missed
    occurrences of a name found elsewhere in the document are added with its type."""
    entities = [_without_titles(trimmed) for e in doc.ents
                if (trimmed := _without_scores(e)) is not None]
    entities = _without_common_openers(entities)
    entities = _join_double_barrelled(entities)
    taken = {token for e in entities for token in range(e.start, e.end)}
    for index, entity in enumerate(entities):
        entities[index] = _hyphenated_whole(entity, taken)
        taken.update(range(entities[index].start, entities[index].end))
    if not entities:
        doc.ents = []
        return doc
    labels = _votes(entities)
    surnames = {(surname,) for surname in _surnames(entities)}
    labels.update(dict.fromkeys(surnames, "PER"))
    relabelled = [
        e if labels[_surface(e)] == e.label_
        else Span(doc, e.start, e.end, label=labels[_surface(e)], span_id=e.ent_id)
        for e in entities
    ]
    doc.ents = relabelled
    spreadable = surnames | _spreadable(relabelled)
    spread = {name: label for name, label in labels.items() if name in spreadable}
    added = _unmatched_occurrences(doc, spread)
    if added:
        doc.ents = sorted([*relabelled, *added], key=lambda e: e.start)
    return doc


def _spreadable(entities: list[Span]) -> set[tuple[str, ...]]:
    """Names found in the document that may be spread to their other occurrences: with a
    capital, not a lone function word, not MISC (whose members are often common adjectives)."""
    first: dict[tuple[str, ...], Span] = {}
    for entity in entities:
        first.setdefault(_surface(entity), entity)
    return {name for name, e in first.items() if _is_name(e) and e.label_ != "MISC"}


# Per language: definite articles (bare or joined to a preposition), lower-case nouns naming a
# government, and the endings of the nationality adjectives that may follow one.
_GOVERNMENTS = {
    "it": (frozenset({"il", "del", "dal", "al", "nel", "sul", "col"}), frozenset({"governo"}),
           re.compile(r"(?:ese|ano|ino|eno|ico|sco|cco|sso|ro|alo|ita)$")),
}


@Language.component(GOVERNMENTS_PIPE)
def tag_governments(doc: Doc) -> Doc:
    """ORG for "il governo" and "il governo cinese" where no other entity holds the words, keyed
    by their own text ("governo", "governo_cinese"): which government it is, the words do not say."""
    rules = _GOVERNMENTS.get(doc.lang_)
    if rules is None:
        return doc
    articles, nouns, nationality = rules
    found = []
    for token in doc[1:]:
        if token.text in nouns and token.ent_type == 0 and doc[token.i - 1].lower_ in articles:
            end = token.i + 1
            if (end < len(doc) and doc[end].is_lower and doc[end].ent_type == 0
                    and nationality.search(doc[end].text)):
                end += 1
            found.append(Span(doc, token.i, end, label="ORG", span_id=GOVERNMENT_SPAN_ID))
    if found:
        doc.ents = sorted([*doc.ents, *found], key=lambda e: e.start)
    return doc


# --- pipelines ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tagger:
    """A loaded pipeline and the name its mentions are stored under. `trims`: whether model
    spans lose the function words at their edges (`without_function_words`), a repair for
    models trained on Wikipedia sentences; corpusflow's news models learnt news spans, and the
    trim cost them on the Italian dev set (F1 0.759 with it, 0.762 without)."""

    name: str
    nlp: Language
    trims: bool = True
    # One text at a time through a pipeline: spaCy's are not thread-safe, and a memory zone
    # (tag_entities) frees what every caller added to the vocabulary while it was open.
    busy: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)


def _add_gazetteer(nlp: Language) -> None:
    """The curated names as candidate spans (doc.spans), and the component merging them in."""
    ruler = nlp.add_pipe(
        "span_ruler", name=GAZETTEER_PIPE,
        config={"spans_key": GAZETTEER_SPANS, "annotate_ents": False, "validate": False},
    )
    ruler.add_patterns(ruler_patterns(nlp.lang))
    nlp.add_pipe(MERGE_PIPE)


def _keep_ner_only(nlp: Language) -> None:
    """Switch off every component but the entity writers and the embedders they listen to."""
    wanted = {name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in _NER_FACTORIES}
    feeders = {
        name
        for name, pipe in nlp.pipeline
        if wanted & set(getattr(pipe, "listening_components", ()))
    }
    nlp.select_pipes(enable=sorted(wanted | feeders))


def _package_name(nlp: Language) -> str:
    return f"{nlp.meta['lang']}_{nlp.meta['name']}@{nlp.meta['version']}"


def _gazetteer_name(language: str) -> str:
    return f"corpusflow-gazetteer-{language}@{GAZETTEER_VERSION}"


@cache
def blank_language(language: str) -> str:
    """`language` when spaCy can build its tokenizer, else the multilingual one."""
    try:
        spacy.blank(language)
    except ImportError:  # no such language ('und'), or one needing an absent library (ja, ko, th)
        return MULTILINGUAL
    return language


@cache
def _rule_tagger(language: str) -> Tagger:
    nlp = spacy.blank(language)
    _add_gazetteer(nlp)
    nlp.add_pipe(TITLED_NAMES_PIPE)
    return Tagger(_gazetteer_name(language), nlp)


def _bundled_tagger(path: Path) -> Tagger:
    """A corpusflow model with the news rules after its ner (order: module docstring)."""
    nlp = spacy.load(path)
    _keep_ner_only(nlp)
    nlp.add_pipe(DATELINES_PIPE)
    _add_gazetteer(nlp)
    nlp.add_pipe(CONSISTENCY_PIPE)
    nlp.add_pipe(GOVERNMENTS_PIPE)  # last: consistency must not spread it to "un governo"
    return Tagger(f"{_package_name(nlp)}+{_gazetteer_name(nlp.lang)}", nlp, trims=False)


def is_corpusflow_model(path: Path) -> bool:
    """Whether a pipeline folder holds a model train_ner.py built (its meta.json says so)."""
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return str(meta.get("name", "")).startswith(CORPUSFLOW_MODEL_PREFIX)


def _named_tagger(model: str) -> Tagger:
    nlp = spacy.load(model)
    _keep_ner_only(nlp)
    return Tagger(_package_name(nlp), nlp)


@cache
def load_tagger(language: str, model: str | None) -> Tagger:
    """The pipeline for a language code, loaded once per process (order: module docstring)."""
    if model:
        if Path(model).is_dir() and is_corpusflow_model(Path(model)):
            return _bundled_tagger(Path(model))
        if is_package(model) or Path(model).exists():
            return _named_tagger(model)
        logger.warning(
            "ner model %r for %r is not installed; using the bundled tagger", model, language
        )
    bundled = BUNDLED_MODELS / language
    if (bundled / "config.cfg").is_file():  # a directory mid-training has no config yet
        return _bundled_tagger(bundled)
    return _rule_tagger(blank_language(language))


def tagger_name(language: str, models: dict[str, str] | None = None) -> str:
    """Name of the tagger `tag_entities` uses for a language, as stored in `mentions.tagger`."""
    code = language_code(language)
    return load_tagger(code, (models or {}).get(code)).name


# --- mentions -----------------------------------------------------------------------------------


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets without surrounding quotes or brackets, nor an English possessive ("Putin's")."""
    while start < end and text[start] in _EDGE_CHARACTERS:
        start += 1
    while start < end and text[end - 1] in _EDGE_CHARACTERS:
        end -= 1
    if text[start:end].endswith(_POSSESSIVES):
        return trim_span(text, start, end - 2)
    return start, end


def opens_sentence(text: str, start: int) -> bool:
    """Whether the word at `start` begins the text, a line or a sentence."""
    before = text[max(0, start - 80):start]  # a window: guarded aliases may recur in long texts
    kept = before.rstrip()
    return not kept or "\n" in before[len(kept):] or kept[-1] in _SENTENCE_OPENERS


@cache
def function_words(language: str) -> frozenset[str]:
    """spaCy's stop words of a language ("il", "anche", "the"); none for one it lacks."""
    try:
        return frozenset(spacy.util.get_lang_class(language).Defaults.stop_words)
    except ImportError:
        return frozenset()


def without_function_words(entity: Span, text: str) -> Span | None:
    """A statistical model's span without the function words at its edges, or None when nothing
    is left. A model trained on Wikipedia sentences takes a capital at the start of
    a news sentence for a name ("Il portavoce del", "Anche", "Secondo il"): a leading function
    word is trimmed where the span opens a sentence, a trailing one always (no name ends in
    "del"). An untrimmed lower-case span stays: news models tag "governo" or "polizia" as
    organisations; one that needed trimming and starts in lower case goes."""
    stop = function_words(entity.doc.lang_)
    start, end = entity.start, entity.end
    if opens_sentence(text, entity.start_char):
        while start < end and entity.doc[start].lower_ in stop:
            start += 1
    while start < end and entity.doc[end - 1].lower_ in stop:
        end -= 1
    if (start, end) == (entity.start, entity.end):
        return entity
    if start == end or not entity.doc[start].text[:1].isupper():
        return None  # a span cut down to common words was no name ("Il portavoce del")
    return Span(entity.doc, start, end, label=entity.label_)


def is_common_word_opening(entity: Span, text: str) -> bool:
    """A lone capitalised word opening a sentence that is far more common in lower case
    ("Witnesses", "Rescue teams", "Police said"): a common word, not a name. Judged by the word
    frequencies English models carry (tasks/ner_features.py; 1 = most common, 0 = unknown)."""
    if len(entity) != 1 or entity.doc.lang_ != "en" or not opens_sentence(text, entity.start_char):
        return False
    freqs = entity.doc.vocab.lookups.get_table(ner_features.FREQ_TABLE, {})
    token = entity[0]
    as_written, lower = freqs.get(token.orth, 0), freqs.get(token.lower, 0)
    return 0 < lower < (as_written or 99) and token.text != token.text.upper()


def _mention(
    doc_id: str, tagger: str, entity: Span, text: str, trims: bool = True
) -> Mention | None:
    label = LABELS.get(entity.label_, "MISC")
    # Only our gazetteer's ids are keys: a named model's own ruler may use ids of its own.
    curated = entity.ent_id_ if entity.ent_id_ in gazetteer_keys() else ""
    if not curated and trims and (entity := without_function_words(entity, text)) is None:
        return None
    start, end = trim_span(text, entity.start_char, entity.end_char)
    surface = text[start:end]
    if label is None or not any(character.isalpha() for character in surface):
        return None
    guarded = mid_sentence_aliases(entity.doc.lang_)
    if curated and surface in guarded and opens_sentence(text, start):
        return None
    own = entity.ent_id_ == GOVERNMENT_SPAN_ID
    key = (curated or (not own and alias_keys().get(slugify(surface)))
           or (label == "LOC" and _administrative_key(surface)) or slugify(surface))
    return Mention(doc_id=doc_id, tagger=tagger, start_char=start, end_char=end, label=label,
                   text=surface, key=key)


_ADMINISTRATIVE = re.compile(
    r"^[^\W\d_A-Z]+(?: [^\W\d_A-Z]+)*? (?:(?:di|del|della|dello|of) |dell['’] ?)(?P<name>\w.*)$")


def _administrative_key(surface: str) -> str | None:
    """The curated key of the place in "regione di Donetsk", "provincia di Kursk", "oblast of
    Kharkiv": news annotation keeps the lower-case words in the name, the key is the place's."""
    match = _ADMINISTRATIVE.match(surface)
    return alias_keys().get(slugify(match["name"])) if match else None


def resolve_surnames(mentions: list[Mention]) -> list[Mention]:
    """Give a one-word PER mention the key of the one full name in the document ending with it."""
    keys_by_surname: dict[str, set[str]] = defaultdict(set)
    for mention in mentions:
        words = mention.text.split()
        if mention.label == "PER" and len(words) > 1:
            keys_by_surname[words[-1]].add(mention.key)

    def resolved(mention: Mention) -> Mention:
        keys = keys_by_surname.get(mention.text, set())
        if mention.label != "PER" or len(keys) != 1:  # none, or two people share the surname
            return mention
        return mention._replace(key=next(iter(keys)))

    return [resolved(mention) for mention in mentions]


def doc_mentions(doc_id: str, doc: Doc, tagger: str, trims: bool = True) -> list[Mention]:
    """A tagged document's mentions: trimmed, labelled, keyed, surnames resolved."""
    text = doc.text  # rebuilt from the tokens at every call: once per document, not per entity
    mentions = [m for entity in doc.ents
                if (m := _mention(doc_id, tagger, entity, text, trims)) is not None]
    return resolve_surnames(mentions)


PIECE_CHARS = 100_000  # longer texts are tagged in pieces of at most this many characters
BATCH_CHARS = 12_000  # the most characters of one spaCy batch (tag_entities)


# A run of this many characters without white space is no name (a URL, a hash, a page of emoji),
# and spaCy's tokenizer takes time quadratic in the length of a token whose characters it may
# split off one by one (emoji, symbols): 1,000 emoji took 0.2 s, 16,000 took 33 s, and a fuzzed
# megabyte would have held a run for hours. Such runs are tagged as spaces of the same length,
# so every offset stays that of the stored text.
_LONG_RUN = re.compile(r"\S{100,}")


def without_long_runs(text: str) -> str:
    """`text` with each run of 100 or more non-space characters replaced by as many spaces."""
    return _LONG_RUN.sub(lambda run: " " * len(run.group()), text)


def pieces(text: str, size: int = PIECE_CHARS) -> list[tuple[int, str]]:
    """(offset, piece) of a text cut into pieces of at most `size` characters, each ending at a
    line break (else a sentence end, else a space) where there is one: spaCy's memory grows with
    the length of one text (a 10 MB text took gigabytes), not with the number of texts."""
    found, start = [], 0
    while len(text) - start > size:
        window = text[start: start + size]
        cut = max(window.rfind("\n"), window.rfind(". ") + 1, 0) or window.rfind(" ") + 1 or size
        found.append((start, window[:cut]))
        start += cut
    return [*found, (start, text[start:])]


def text_batches(texts: Iterable[str], most: int, chars: int) -> Iterator[list[str]]:
    """`texts` in order, in lists of at most `most` texts and `chars` characters (a longer text
    alone)."""
    batch: list[str] = []
    held = 0
    for text in texts:
        if batch and (len(batch) == most or held + len(text) > chars):
            yield batch
            batch, held = [], 0
        batch.append(text)
        held += len(text)
    if batch:
        yield batch


def tag_entities(
    items: list[tuple[str, str, str]],
    models: dict[str, str] | None = None,
    batch_size: int = 8,
    batch_chars: int = BATCH_CHARS,
) -> list[Mention]:
    """Mentions in a batch of (doc_id, text, language) items, in item order.

    The texts of each language go to its pipeline in spaCy batches, long ones in pieces.
    `models` maps language codes to spaCy packages or paths (settings.ner_models). A spaCy
    batch holds at most `batch_size` texts and, unless one text alone is longer,
    `batch_chars` characters (text_batches): its working memory grows with the characters it
    holds, about 4 KB each. Tagging 1,000 BBC articles in calls of 125 with batches of 8 texts
    peaked 160 MB above the loaded model (each worker of the pool holds that), with 16 texts
    218 MB, and with 64 texts 745 MB more than with 8; one batch of eight that held a
    19,000-character article made most of that peak, and bounding batches to 12,000
    characters kept it to 75 MB in the same time. A piece (up to PIECE_CHARS) longer than
    `batch_chars` is a batch of its own and still costs its 4 KB a character."""
    positions: dict[str, list[int]] = defaultdict(list)
    for position, (_, _, language) in enumerate(items):
        positions[language_code(language)].append(position)
    found: dict[int, list[Mention]] = defaultdict(list)
    long: set[int] = set()  # items tagged in more than one piece
    for language, chosen in positions.items():
        tagger = load_tagger(language, (models or {}).get(language))
        cut = [(p, offset, piece) for p in chosen for offset, piece in pieces(items[p][1])]
        long.update(position for position, offset, _ in cut if offset)
        # Every new word a text brings stays in spaCy's vocabulary (strings and lexemes, in C
        # memory) for the life of the process: 15 MB a minute on a stream of wire items. A
        # memory zone frees them when it closes; the mentions are plain strings by then.
        with tagger.busy, tagger.nlp.memory_zone():
            docs = itertools.chain.from_iterable(
                tagger.nlp.pipe(texts, batch_size=len(texts)) for texts in text_batches(
                    (without_long_runs(piece) for _, _, piece in cut), batch_size, batch_chars))
            for (position, offset, piece), doc in zip(cut, docs, strict=True):
                mentions = doc_mentions(items[position][0], doc, tagger.name, tagger.trims)
                if doc.text != piece:  # a name reaching into a blanked run is no name
                    mentions = [m for m in mentions
                                if piece[m.start_char:m.end_char] == m.text]
                found[position] += [_shifted(m, offset) for m in mentions] if offset else mentions
    # Surnames resolve within a piece; a text tagged in pieces resolves them once more, whole.
    return [mention for position in range(len(items))
            for mention in (resolve_surnames(found[position]) if position in long
                            else found[position])]


def _shifted(mention: Mention, offset: int) -> Mention:
    return mention._replace(start_char=mention.start_char + offset,
                            end_char=mention.end_char + offset)
