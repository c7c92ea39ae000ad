"""Stories: every new document joins the story of an earlier document it links to, or starts one.

A document is summed up by its strongest terms of three kinds, weighted by tf-idf (document
counts kept in the warehouse, so weights do not depend on a run) and each kind normalised to
unit length: content words (lower-cased, function words of the common news languages left out),
entity keys (canonical, so Mosca and Moscow are one term, which links across languages) and
numbers. The cosine of each kind over shared terms is a signal; the link score combines them,
and a link counts only between documents at most `window_days` apart (by publication date, else
the day they were first seen). Candidates come from the stored terms (`story_terms`), so a new
document is compared only with documents that share a strong term with it inside the window.

A document joins the story of its best link at or above `threshold`, if its score with that
story's first document also reaches `root_floor`: without that second test, stories drift along
chains of links (A like B, B like C, ... Z about something else). A near duplicate always joins
its canonical document's story; an exact duplicate is not a document of its own, so it is in its
canonical document's story by construction.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.load import new_mentions
from tasks.records import NearSplit, Tagged
from warehouse.queries import Reads
from warehouse.records import Document, Mention, StorySplit
from warehouse.session import Warehouse
from warehouse.settings import StorySettings

WORD, ENTITY, NUMBER = 0, 1, 2
KINDS = ("content", "entities", "numbers")
# Terms kept per document, per kind: enough to describe an article, few enough that the
# candidate join stays small at a million stored documents.
KEPT = {WORD: 60, ENTITY: 15, NUMBER: 8}
# Of those, the strongest held by few documents so far look candidates up (probe terms), on
# each day of the window where at most PROBE_DAY_LIMIT earlier documents keep them; a document
# is compared with the earlier ones that share the most of them, at most
# CANDIDATES_PER_DOCUMENT.
PROBES = {WORD: 8, ENTITY: 4, NUMBER: 2}
CANDIDATES_PER_DOCUMENT = 20
PROBE_DAY_LIMIT = 40


def probe_limit(total: int) -> int:
    """The most documents a probe term may be held by: 200, or one in 200 of the documents; so
    a big story's later reports still find it by its own names, while a word of every report
    (a country, 'government') does not pair a document with all the others of its days."""
    return max(200, total // 200)


# Weights of the content, entity and number cosines in a link's score, within a language and
# across languages (where content words share only names and stems); read off the human-rated
# story pairs (bench/stories.py: overall pair F1 0.776, against 0.728 with entities at 0.35).
SAME = (1.0, 0.1, 0.1)
CROSS = (1.5, 0.1, 0.1)
# Content words are cut to their first five letters: a crude stem that serves every language
# (Ukraine, Ukrainian and Ukrainer, or concerto and concert, become one term). On the
# story pairs it lifted the best F1 of the content cosine from 0.79 to 0.81 within a language
# and from 0.67 to 0.68 across.
STEM = 5

_WORD = re.compile(r"[^\W\d_]{3,}")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

# The commonest function words of the languages the news corpora here hold (general knowledge,
# not taken from any data set): they carry no story, and a small corpus cannot yet learn that
# from document counts.
_STOP = frozenset("""
the and for that with this from have has had was were are been not but they their them his her
its our you your who whom which what when where while will would could should said says also
more most than then there here about after before over into out all any one two new can may
just only very other some such said year years time last first like being because these those
him she how per via yet did does done still even made make many much own same both each
che per con non una uno del della dei delle degli dal dalla dai nel nella nei nelle sul sulla
sono come anche più alla alle agli allo gli lei lui loro suo sua suoi sue questo questa questi
queste quello quella essere stato stata hanno aveva dopo prima fra tra ancora già dove quando
dell nell sull dall quell quest anch mentre contro verso però cioè quindi inoltre intanto ogni
tutti tutto tutta tutte molto molti poi ora qui sia era erano sarà
der die das und ein eine einer eines dem den des mit von für auf ist nicht sich auch als noch
wie bei aus nach wird werden wurde sind hat haben zum zur oder aber mehr einem einen sie ihr
los las del con por para una uno que como más pero sus les entre sobre este esta ese esa fue
ser han hay muy sin desde todo todos también cuando donde
les des une est pas pour par sur dans qui que avec plus ont sont été aux ces son ses mais
""".split())


@dataclass
class Profile:
    """One document's story terms: (kind, term) → weight, each kind of unit length."""

    doc_id: str
    day: dt.date
    language: str = "und"
    weights: dict[tuple[int, int], float] = field(default_factory=dict)
    probes: set[tuple[int, int]] = field(default_factory=set)


@functools.lru_cache(maxsize=1 << 16)
def term_hash(kind: int, term: str) -> int:
    """A signed 64-bit hash of a term of a kind (DuckDB's bigint); remembered, as the words of
    news repeat from one article to the next."""
    digest = hashlib.blake2b(f"{kind}:{term}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def term_counts(title: str | None, text: str, keys: Iterable[str]) -> Counter:
    """How often each (kind, term hash) occurs in a document: its words (cut to STEM letters;
    the title's counted twice, as the headline names the story), entity keys and numbers of two
    or more digits."""
    counts: Counter = Counter()
    lowered = f"{title or ''} {title or ''} {text}".lower()
    for word, n in Counter(_WORD.findall(lowered)).items():  # each distinct word once
        if word not in _STOP:
            counts[(WORD, term_hash(WORD, word[:STEM]))] += n
    for key, n in Counter(keys).items():
        counts[(ENTITY, term_hash(ENTITY, key))] += n
    for number, n in Counter(_NUMBER.findall(text)).items():
        number = number.replace(",", "").replace(".", "")
        if len(number) >= 2:
            counts[(NUMBER, term_hash(NUMBER, number))] += n
    return counts


def weighed(items: Sequence[tuple[str, dt.date, str, Counter]], stored: dict[int, int],
             total: int) -> list[Profile]:
    """The profiles of documents (doc_id, day, language, term_counts) taken one at a time, after
    `total` grouped documents of which `stored[term]` hold each term: each keeps its strongest
    terms of each kind by (1 + log tf) · idf, idf = log((1 + documents) / (1 + documents
    holding the term)) + 1, both counts including itself and the documents before it;
    normalised per kind and rounded to float (32 bits) as stored, so a document is weighed alike
    whether it is compared in its own batch or from the warehouse. Its probe terms are its
    strongest of each kind held by at most probe_limit documents (PROBES)."""
    sizes = [len(counts) for *_, counts in items]
    rows = sum(sizes)
    if not rows:
        return [Profile(doc_id, day, language) for doc_id, day, language, _ in items]
    doc = np.repeat(np.arange(len(items)), sizes)
    kind = np.fromiter((k for *_, c in items for k, _ in c), np.int64, rows)
    term = np.fromiter((t for *_, c in items for _, t in c), np.int64, rows)
    tf = np.fromiter((n for *_, c in items for n in c.values()), np.int64, rows)
    # Documents holding each term: the stored ones, and the batch's up to this one.
    unique, inverse = np.unique(term, return_inverse=True)
    held = _running_count(inverse, doc) + np.array(
        [stored.get(t, 0) for t in unique.tolist()], dtype=np.int64)[inverse]
    seen = total + doc + 1
    logs = _logs(max(int(seen.max()) + 2, int(tf.max()) + 1))
    weight = (1 + logs[tf]) * (logs[seen + 1] - logs[held + 1] + 1)
    # Each (document, kind) in ascending (weight, term); its last KEPT[kind] are kept.
    order = np.lexsort((term, weight, kind, doc))
    starts, sizes = _runs(doc[order] * 3 + kind[order])
    from_end = np.repeat(starts + sizes, sizes) - 1 - np.arange(len(order))
    kept = order[from_end < np.array([KEPT[k] for k in range(3)])[kind[order]]]
    starts, sizes = _runs(doc[kept] * 3 + kind[kept])
    norms = np.repeat(np.sqrt(np.add.reduceat(weight[kept] ** 2, starts)), sizes)
    values = (weight[kept] / norms).astype(np.float32).tolist()
    profiles = [Profile(doc_id, day, language) for doc_id, day, language, _ in items]
    rare = [probe_limit(total + n) for n in range(1, len(items) + 1)]
    probes: dict[tuple[int, int], int] = {}
    # Strongest first: the probe terms of each (document, kind) are the first few rare ones.
    for n, k, t, value, documents in zip(*(a[kept][::-1].tolist() for a in (doc, kind, term)),
                                         values[::-1], held[kept][::-1].tolist()):
        profiles[n].weights[(k, t)] = value
        if documents <= rare[n] and probes.get((n, k), 0) < PROBES[k]:
            profiles[n].probes.add((k, t))
            probes[(n, k)] = probes.get((n, k), 0) + 1
    for kept_profile in profiles:
        weights = kept_profile.weights
        if not kept_profile.probes and weights:  # common terms only: its strongest still look
            kept_profile.probes.update(sorted(weights, key=lambda key: (weights[key], key))[-2:])
    return profiles


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal values in `keys` (sorted, not empty) starts, and its length."""
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    return starts, np.diff(np.r_[starts, len(keys)])


def _running_count(values: np.ndarray, order_by: np.ndarray) -> np.ndarray:
    """For each position, how many positions hold its value at or before it in `order_by`."""
    order = np.lexsort((order_by, values))
    starts, sizes = _runs(values[order])
    counted = np.empty(len(order), dtype=np.int64)
    counted[order] = np.arange(len(order)) - np.repeat(starts, sizes) + 1
    return counted


_LOGS = [np.array([-math.inf])]  # one table, replaced by a longer one when it falls short


def _logs(size: int) -> np.ndarray:
    """math.log of 0, 1, ... size - 1, kept and grown as documents are counted."""
    known = _LOGS[0]
    if len(known) < size:
        grown = max(size, 2 * len(known))
        _LOGS[0] = np.concatenate([known, [math.log(n) for n in range(len(known), grown)]])
    return _LOGS[0]


@dataclass
class Signals:
    """The evidence between a document and an earlier one."""

    cosines: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    shared: list[int] = field(default_factory=lambda: [0, 0, 0])  # terms of each kind
    days_apart: int = 0
    near_duplicate: bool = False
    cross_language: bool = False

    @property
    def score(self) -> float:
        """The link score. Content words carry a story; numbers (casualties, sums, scores)
        confirm; entity keys weigh little: on the human-rated story pairs (bench/stories.py)
        shared famous names linked unrelated reports more often than they found a story."""
        if self.near_duplicate:
            return 1.0
        content, entities, numbers = self.cosines
        # One or two shared names (a president, a country) are weak evidence however alike the
        # two documents' few entity keys are: the entity cosine counts in full from 3 shared.
        entities *= min(1.0, self.shared[ENTITY] / 3)
        if self.cross_language:  # content words shared across languages are names and numbers
            return min(1.0, CROSS[0] * content + CROSS[1] * entities + CROSS[2] * numbers)
        return min(1.0, SAME[0] * content + SAME[1] * entities + SAME[2] * numbers)


@dataclass
class Grouping:
    """The stories of a batch: every known document's story (stored candidates', then the
    batch's as they are assigned), the batch's members as doc_id → (story_id, score), and the
    links at or above the threshold."""

    story_of: dict[str, str]
    members: dict[str, tuple[str, float]] = field(default_factory=dict)
    links: list[tuple[str, str, Signals]] = field(default_factory=list)


def assign(profiles: Sequence[Profile], candidates: dict[str, dict[str, Signals]],
           roots: dict[str, Profile], near: dict[str, str], story_of: dict[str, str],
           settings: StorySettings) -> Grouping:
    """Each new document, in batch order, joins a story or starts one.

    `candidates[doc]` holds the signals with earlier documents (stored, or earlier in the batch)
    that share a term inside the window; `roots` the profiles of the first documents of the
    stored stories those belong to; `near` maps near duplicates to their canonical document;
    `story_of` the stored candidates' stories."""
    grouping = Grouping(story_of=dict(story_of))
    own = {**roots, **{p.doc_id: p for p in profiles}}
    for doc in profiles:
        links = sorted(((signals.score, other, signals)
                        for other, signals in candidates.get(doc.doc_id, {}).items()
                        if other in grouping.story_of), reverse=True)
        joined = _near_story(doc.doc_id, near, grouping)
        for score, other, signals in links:
            if score < settings.threshold:
                break
            story = grouping.story_of[other]
            if joined is None and _root_score(doc, story, own) >= settings.root_floor:
                joined = (story, score)
            grouping.links.append((doc.doc_id, other, signals))
        story, score = joined or (doc.doc_id, 1.0)
        grouping.story_of[doc.doc_id] = story
        grouping.members[doc.doc_id] = (story, round(score, 4))
    return grouping


def _near_story(doc_id: str, near: dict[str, str], grouping: Grouping
                ) -> tuple[str, float] | None:
    canonical = near.get(doc_id)
    if canonical is None or canonical not in grouping.story_of:
        return None
    grouping.links.append((doc_id, canonical, Signals(near_duplicate=True)))
    return grouping.story_of[canonical], 1.0


def _root_score(doc: Profile, story: str, profiles: dict[str, Profile]) -> float:
    """The score with the story's first document, whatever their days."""
    if story == doc.doc_id:
        return 1.0
    return cosine_signals(doc, profiles[story]).score if story in profiles else 0.0


def cosine_signals(a: Profile, b: Profile) -> Signals:
    """The signals between two profiles held in memory."""
    cosines, shared = [0.0, 0.0, 0.0], [0, 0, 0]
    small, large = sorted((a.weights, b.weights), key=len)
    for (kind, term), weight in small.items():
        if (kind, term) in large:
            cosines[kind] += weight * large[(kind, term)]
            shared[kind] += 1
    return Signals(cosines, shared, abs((a.day - b.day).days),
                   cross_language=a.language != b.language)


def story_rows(columns: dict[str, list], counts: dict[int, int], grouping: Grouping
               ) -> StorySplit:
    """The rows a batch's grouping stores: terms (the profiles' `columns`), term counts,
    members and links."""
    links = [(doc, other, round(s.score, 4), *(round(c, 4) for c in s.cosines), s.days_apart,
              s.near_duplicate) for doc, other, s in grouping.links]
    return StorySplit(
        terms={name: columns[name] for name in ("doc_id", "kind", "term", "weight", "day")},
        counts={"term": list(counts), "documents": list(counts.values())},
        members=_columns([(doc, story, score) for doc, (story, score) in grouping.members.items()],
                         ("doc_id", "story_id", "score")),
        links=_columns(links, ("doc_id", "linked_doc_id", "score", *KINDS, "days_apart",
                               "near_duplicate")),
    )


def profile_columns(profiles: Sequence[Profile]) -> dict[str, list]:
    """The profiles' terms as columns, with each document's position in the batch."""
    columns: dict[str, list] = {name: [] for name in
                                ("doc_id", "kind", "term", "weight", "day", "pos")}
    for pos, p in enumerate(profiles):
        size = len(p.weights)
        for name, value in (("doc_id", p.doc_id), ("day", p.day), ("pos", pos)):
            columns[name] += [value] * size
        columns["kind"] += [kind for kind, _ in p.weights]
        columns["term"] += [term for _, term in p.weights]
        columns["weight"] += p.weights.values()
    return columns


def probe_rows(profiles: Sequence[Profile], window_days: int, days: set[dt.date]
               ) -> list[tuple]:
    """Every lookup of the batch: (doc_id, pos, kind, term, day, days apart), one per probe
    term and day of its document's window that any document has (`days`)."""
    rows = []
    for pos, p in enumerate(profiles):
        near = sorted(d for d in days if abs((d - p.day).days) <= window_days)
        rows += [(p.doc_id, pos, kind, term, day, abs((day - p.day).days))
                 for kind, term in sorted(p.probes) for day in near]
    return rows


def usable_probes(profiles: Sequence[Profile], rows: list[tuple],
                  stored_hits: dict[tuple[int, int, dt.date], int]) -> dict[str, list]:
    """The lookups that find at most PROBE_DAY_LIMIT earlier documents (stored, or earlier in
    the batch) keeping the term on that day: a term on every report of a busy day would pair
    each with all of them (and exhaust DuckDB's memory), and stronger terms find a story's
    reports anyway. Counted as if documents came one at a time, like the weights."""
    held: Counter = Counter()
    usable, at = [], 0
    for pos, p in enumerate(profiles):
        while at < len(rows) and rows[at][1] == pos:
            _, _, kind, term, day, _ = row = rows[at]
            if stored_hits.get((kind, term, day), 0) + held[(kind, term, day)] <= \
                    PROBE_DAY_LIMIT:
                usable.append(row)
            at += 1
        held.update((kind, term, p.day) for kind, term in p.weights)
    return _columns(usable, ("doc_id", "pos", "kind", "term", "day", "days"))


def _columns(rows: list[tuple], names: tuple[str, ...]) -> dict[str, list]:
    columns = list(zip(*rows)) if rows else [()] * len(names)
    return {name: list(values) for name, values in zip(names, columns, strict=True)}


@dataclass
class StoryInput:
    """What grouping reads of one new document."""

    doc_id: str
    title: str | None
    text: str
    day: dt.date
    keys: list[str]
    language: str = "und"


def group_batch(session: Reads, inputs: Sequence[StoryInput], near: dict[str, str],
                settings: StorySettings) -> StorySplit:
    """Profile a batch, find its candidates among stored documents and each other, group it."""
    if not inputs:
        return StorySplit()
    counts = {i.doc_id: term_counts(i.title, i.text, i.keys) for i in inputs}
    batch_counts: Counter = Counter(t for c in counts.values() for _, t in c)
    profiles = _weighed_profiles(session, inputs, counts, batch_counts)
    columns = profile_columns(profiles)
    found = _candidates_found(session, profiles, columns, settings.window_days)
    language = {p.doc_id: p.language for p in profiles}
    stored = sorted(({other for _, other, *_ in found} - set(language)) | set(near.values()))
    story_of = session.stories_of(stored)
    language.update(session.document_languages(sorted(set(stored) | set(story_of.values()))))
    candidates: dict[str, dict[str, Signals]] = {}
    for doc, other, kind, value, days, shared in found:
        signals = candidates.setdefault(doc, {}).setdefault(other, Signals(
            days_apart=days, cross_language=language[doc] != language.get(other, "und")))
        signals.cosines[kind] = value
        signals.shared[kind] = shared
    roots = _stored_roots(session, sorted(set(story_of.values())), language, list(batch_counts))
    grouping = assign(profiles, candidates, roots, near, story_of, settings)
    return story_rows(columns, batch_counts, grouping)


def _weighed_profiles(session: Reads, inputs: Sequence[StoryInput], counts: dict[str, Counter],
                      batch_counts: Counter) -> list[Profile]:
    """The batch's profiles. Each document is weighed with the counts of the documents before
    it and itself, as if the documents came one at a time: a document's weights do not depend
    on where batches begin (a re-run after a crash batches the rest differently)."""
    stored, total = session.story_term_counts(list(batch_counts))
    return weighed([(i.doc_id, i.day, i.language, counts[i.doc_id]) for i in inputs], stored,
                   total)


def _candidates_found(session: Reads, profiles: list[Profile], columns: dict[str, list],
                      window_days: int) -> list[tuple]:
    """(doc, earlier doc, kind, cosine, days apart, shared terms) of the batch's candidates:
    its probe terms looked up on the days of their windows that documents have, where few
    earlier documents keep them (usable_probes)."""
    window = dt.timedelta(days=window_days)
    days = {p.day for p in profiles} | set(session.story_days_between(
        min(p.day for p in profiles) - window, max(p.day for p in profiles) + window))
    rows = probe_rows(profiles, window_days, days)
    hits = session.story_term_hits(_columns([r[2:5] for r in rows], ("kind", "term", "day")))
    return session.story_candidates(columns, usable_probes(profiles, rows, hits),
                                    CANDIDATES_PER_DOCUMENT)


def _stored_roots(session: Reads, roots: list[str], language: dict[str, str],
                  terms: list[int]) -> dict[str, Profile]:
    """The profiles of stored stories' first documents, limited to the batch's `terms` (the
    only ones a cosine with it can use). A new document can join a stored story through a
    stored candidate, a near duplicate's original, or a new document that joined one of those;
    its first document is then compared in memory, like the batch's own."""
    profiles = {doc_id: Profile(doc_id, day, language.get(doc_id, "und"))
                for doc_id, day in session.story_days(roots)}
    days = sorted({p.day for p in profiles.values()})
    for doc_id, kind, term, weight in session.story_profiles(sorted(profiles), days, terms):
        profiles[doc_id].weights[(kind, term)] = weight
    return profiles


def story_inputs(documents: Sequence[Document], mentions: Iterable[Mention],
                 today: dt.date) -> list[StoryInput]:
    """The grouping inputs of a batch's new documents, their day being the publication date or,
    without one, `today` (the day they are first seen)."""
    keys: dict[str, list[str]] = {}
    # Each mention once, as the loader stores them (exact copies in the batch repeat them).
    for mention in new_mentions(list(mentions), {d.doc_id for d in documents}):
        keys.setdefault(mention.doc_id, []).append(mention.key)
    return [StoryInput(d.doc_id, d.title, d.text, d.published or today, keys.get(d.doc_id, []),
                       d.language) for d in documents]


@task(name="stories", cache_policy=NO_CACHE)
def story_stage(session: Warehouse, documents: list[Document], near: NearSplit, tagged: Tagged,
                settings: StorySettings) -> StorySplit:
    """Group a batch's new documents into stories, among stored documents and each other."""
    today = dt.datetime.now(dt.UTC).date()
    canonical = {d.doc_id: d.canonical_doc_id for d in near.duplicates if d.doc_id}
    return group_batch(session, story_inputs(documents, tagged.mentions, today), canonical,
                       settings)


def regroup(session: Warehouse, run_id: str, settings: StorySettings) -> int:
    """Group every stored document again with the current settings, batch by batch as they were
    loaded and in the order the ingest saw them, so the result equals a fresh ingest with these
    settings; in one transaction (analysts never see half a regrouping). Returns the stories."""
    with session.transaction():
        session.reset_stories()
        for created_at in session.story_batch_times():
            rows = session.story_documents(created_at)
            keys: dict[str, list[str]] = {}
            for doc_id, key in session.mention_keys([r[0] for r in rows]):
                keys.setdefault(doc_id, []).append(key)
            inputs = [StoryInput(doc_id, title, text, published or seen.date(),
                                 keys.get(doc_id, []), language)
                      for doc_id, title, text, published, seen, language in rows]
            near = session.near_canonicals([i.doc_id for i in inputs])
            split = group_batch(session, inputs, near, settings)
            session.insert_stories(split, set(), run_id, created_at)
        return session.story_count()


@task(name="regroup-stories", cache_policy=NO_CACHE)
def regroup_stage(session: Warehouse, run_id: str, settings: StorySettings) -> int:
    """Group every stored document into stories again (tasks.stories.regroup)."""
    return regroup(session, run_id, settings)
