"""Language identification: langdetect, made repeatable by a fixed seed, with word frequencies
as a second, independent signal on short text.

`und` is kept for text with no language signal: fewer letters than `min_letters` (letters and
combining marks both count, so Hindi, Thai or Korean are measured fairly) or no character n-gram
langdetect knows. Any other text gets a language and a probability for it.

langdetect judges character trigrams; on a headline or a short sentence they are few, and it
often gives all its weight to a wrong language ("Disputed Nirvana box set on sale": Afrikaans,
1.0). So a text of at most `_VOTE_WORDS` words, or one where langdetect's best probability is
under `min_prob`, goes to a vote: each language scores log(its langdetect probability, at least
0.001) plus the log frequency of each of the text's words in that language (wordfreq's lists of
about 30,000 words for 42 languages; a word a list lacks counts as 1e-7, a tenth of the rarest
listed word), and the best score wins. Its probability is then the vote's (the scores' softmax).
A language wordfreq has no list for (Afrikaans, Welsh, Estonian, Albanian, Swahili, Somali, Thai
and some Indic languages) counts every word as unknown: it keeps a short text only when no listed
language knows its words better. Measured on dev sentences by bench/language.py.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import unicodedata

import numpy as np
from langdetect import DetectorFactory
from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.language import Language
from langdetect.utils.ngram import NGram
from prefect import task
from prefect.cache_policies import NO_CACHE

from warehouse.records import CleanArticle, Document
from warehouse.settings import LanguageSettings

# langdetect samples at random: a fixed seed makes one text always get one answer.
DetectorFactory.seed = 0

UNDETERMINED = "und"
_SAMPLE_CHARS = 600  # about 100 words: news is unambiguous by then (on BBC and the seeds, the
# same languages and probabilities as from 1,200 characters, in 0.82 of the time)
_WORD = re.compile(r"[^\W\d_]+")
# A language langdetect all but excludes still scores log(0.001) ≈ -6.9 in the vote: a few
# words that are far more frequent in it than in langdetect's choice overturn that.
_PROB_FLOOR = 1e-3
# Texts of at most this many words always go to the word vote: on the dev sentences langdetect
# alone is wrong on 1.2 % of English and 0.6 % of Italian ones, nearly all of them this short.
_VOTE_WORDS = 20
# wordfreq's bands are centibels below frequency 1 (band 600 = 1e-6, its lists' last); a word a
# list lacks gets band 700 (1e-7).
_UNKNOWN_BAND = 700
_NATS_PER_BAND = math.log(10) / 100
# langdetect codes whose wordfreq list has another name (`sh`: the Serbo-Croatian list).
_WORDFREQ_CODES = {"no": "nb", "tl": "fil", "hr": "sh", "zh-cn": "zh", "zh-tw": "zh"}


if NGram.N_GRAM != 3:  # _Detector._extract_ngrams below is written for trigrams
    raise ImportError(f"langdetect with {NGram.N_GRAM}-grams: tasks/language.py needs 3")


class _ProfileTable(DetectorFactory):
    """langdetect's profiles in a compact table: `word_lang_prob_map` maps each n-gram to its
    row, and the rows, 96 % zeros, are kept sparse (184,000 values in about 2 MB) and made dense
    when used (a bounded cache holds the frequent ones). langdetect keeps a list of 55 Python
    floats per n-gram instead: 63 MB in the flow's process. Each value is langdetect's, from the
    same division, so detection is unchanged (tests/test_clean_dedup.py)."""

    def __init__(self) -> None:
        super().__init__()
        self._columns: list[tuple[list[int], list[float]]] = []  # (rows, values) per language
        self.starts = self.languages = np.zeros(0, dtype=np.int64)
        self.values = np.zeros(0)

    def add_profile(self, profile: object, index: int, langsize: int) -> None:
        # As DetectorFactory.add_profile, into one sparse column per language.
        if profile.name in self.langlist:
            raise LangDetectException(ErrorCode.DuplicateLangError, "Duplicate language profile.")
        self.langlist.append(profile.name)
        rows, values = [], []
        for word in profile.freq:
            row = self.word_lang_prob_map.setdefault(word, len(self.word_lang_prob_map))
            if 1 <= len(word) <= 3:
                rows.append(row)
                values.append(1.0 * profile.freq.get(word) / profile.n_words[len(word) - 1])
        self._columns.append((rows, values))

    def load_profile(self, profile_directory: str) -> None:
        super().load_profile(profile_directory)
        self.size = len(os.listdir(profile_directory))  # langdetect's langsize
        rows = np.concatenate([np.array(r, dtype=np.int64) for r, _ in self._columns])
        languages = np.concatenate([np.full(len(r), index, dtype=np.int64)
                                    for index, (r, _) in enumerate(self._columns)])
        values = np.concatenate([np.array(v, dtype=np.float64) for _, v in self._columns])
        order = np.lexsort((languages, rows))  # by row, then language: one run per row
        self.languages, self.values = languages[order].astype(np.int8), values[order]
        self.starts = np.searchsorted(rows[order], np.arange(len(self.word_lang_prob_map) + 1))
        self._columns = []

    def row(self, index: int) -> np.ndarray:
        """The dense row of probabilities, one per language, of the n-gram at `index`."""
        dense = np.zeros(self.size)
        start, end = self.starts[index], self.starts[index + 1]
        dense[self.languages[start:end]] = self.values[start:end]
        return dense


# Loaded here, once: threads never meet a half-loaded table.
_PROFILES = _ProfileTable()
_PROFILES.load_profile(PROFILES_DIRECTORY)


class _Detector(Detector):
    """langdetect's detector with its loops made cheaper; the same algorithm, the same random
    draws and the same floating-point operations in the same order, so the same languages and
    probabilities to the last bit (tests/test_clean_dedup.py compares it with langdetect's own).

    - `append` and `cleaning_text` do with regular expressions what langdetect does a character
      at a time (its test for "not Latin" compares a block number with a block name, so it
      counts every character from U+0300 on: kept as it is).
    - The n-grams of a text are those of its words, each word's found once (`_word_ngrams`,
      cached); they are returned as their rows in the profile table, which is what each trial
      draws from (`random.choice` looks only at the list's length, so the draws are the same).
    - Each trial's loop runs with its names bound locally.

    On a BBC article it takes about a fifth of langdetect's time."""

    def append(self, text: str) -> None:
        text = self.URL_RE.sub(" ", text)
        text = self.MAIL_RE.sub(" ", text)
        text = NGram.normalize_vi(text)
        self.text += _SPACE_RUNS.sub(" ", text[: self.max_text_length])

    def cleaning_text(self) -> None:
        if len(_LATIN.findall(self.text)) * 2 < len(_FROM_U0300.findall(self.text)):
            self.text = _LATIN.sub("", self.text)

    def _extract_ngrams(self) -> list[int]:
        """The profile rows of the text's n-grams, in langdetect's order: NGram.add_char's
        n-grams restart after each space, so they are the words' own, in turn."""
        found: list[int] = []
        words = _normalised_text(self.text).split(" ")
        last = len(words) - 1
        for position, word in enumerate(words):
            if word:
                inside, before_space = _word_ngrams(word)
                found += inside
                if position < last:
                    found += before_space
        return found

    def _detect_block(self) -> None:
        # langdetect's _detect_block, with `_update_lang_prob` and `_normalize_prob` inlined.
        self.cleaning_text()
        rows = self._extract_ngrams()
        if not rows:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        self.langprob = np.zeros(len(self.langlist))
        gauss, getrandbits = self.random.gauss, self.random.getrandbits
        count, bits = len(rows), len(rows).bit_length()
        self.random.seed(self.seed)
        for _ in range(self.n_trial):
            prob = np.array(self._init_probability(), dtype=np.float64)
            weight = (self.alpha + gauss(0.0, 1.0) * self.ALPHA_WIDTH) / self.BASE_FREQ
            i = 0
            while True:
                drawn = getrandbits(bits)  # random.choice(rows), as Random._randbelow draws
                while drawn >= count:
                    drawn = getrandbits(bits)
                prob *= weight + _profile_row(rows[drawn])
                if i % 5 == 0:
                    prob /= sum(prob.tolist())  # Python's left-to-right sum, as langdetect's
                    if prob.max() > self.CONV_THRESHOLD or i >= self.ITERATION_LIMIT:
                        break
                i += 1
            self.langprob += prob / self.n_trial


_SPACE_RUNS = re.compile(" {2,}")
_LATIN = re.compile("[A-z]")  # langdetect's 'A' <= ch <= 'z'
_FROM_U0300 = re.compile("[\u0300-\U0010ffff]")
_NORMALISED: dict[int, str] = {}  # code point → NGram.normalize of it, for str.translate


def _normalised_text(text: str) -> str:
    """NGram.normalize of every character."""
    for char in set(text):
        if ord(char) not in _NORMALISED:
            _NORMALISED[ord(char)] = NGram.normalize(char)
    return text.translate(_NORMALISED)


@functools.lru_cache(maxsize=32_768)  # about 8 MB; BBC has 30,000 distinct words
def _word_ngrams(word: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The profile rows of the n-grams NGram.add_char gives for one word (normalised, no
    spaces) after a space, and of those it gives on the space that follows the word. A letter
    in capitals after another gives none (NGram's `capitalword`)."""
    table = _PROFILES.word_lang_prob_map
    inside: list[int] = []
    grams = " "
    for char in word:
        capital = char.isupper() and grams[-1].isupper()
        grams = (grams + char)[-3:]  # the last NGram.N_GRAM characters
        if not capital:
            inside += [table[gram] for gram in {1: (grams[-1:],), 2: (grams[-1:], grams),
                                                3: (grams[-1:], grams[-2:], grams)}[len(grams)]
                       if gram in table]
    grams = (grams + " ")[-3:]  # three characters; the 1-gram " " is never looked up
    return tuple(inside), tuple(table[gram] for gram in (grams[-2:], grams) if gram in table)


@functools.lru_cache(maxsize=4_096)  # 2.3 MB; BBC uses 5,700 n-grams, 8 languages 9,200
def _profile_row(index: int) -> np.ndarray:
    return _PROFILES.row(index)


def detect_langs(text: str) -> list[Language]:
    """langdetect.detect_langs, on the cheaper detector."""
    detector = _Detector(_PROFILES)
    detector.append(text)
    return detector.get_probabilities()


def detect_language(text: str, min_letters: int, min_prob: float) -> tuple[str, float]:
    """ISO code and its probability; 'und' when the text has fewer than `min_letters` letters
    or no n-gram langdetect knows. A short text, or one langdetect is unsure of (its best
    probability under `min_prob`), is decided by the word vote (the module docstring says how)."""
    sample = text[:_SAMPLE_CHARS]
    if not has_letters(sample, min_letters):
        return UNDETERMINED, 0.0
    probabilities = language_probabilities(sample)
    if not probabilities:
        return UNDETERMINED, 0.0
    best = max(probabilities, key=probabilities.__getitem__)
    # A word past the first _VOTE_WORDS makes the text long: an article stops looking there.
    short = next(itertools.islice(_WORD.finditer(sample), _VOTE_WORDS, None), None) is None
    if short or probabilities[best] < min_prob:
        return word_vote([word.casefold() for word in _WORD.findall(sample)], probabilities)
    return best, round(probabilities[best], 4)


def language_probabilities(text: str) -> dict[str, float]:
    """langdetect's probability for every language it knows, or {} for text without n-grams.
    The same run as detect_langs, before it drops the languages under 0.1."""
    detector = _Detector(_PROFILES)
    detector.append(text)
    try:
        detector.get_probabilities()
    except LangDetectException:
        return {}
    return dict(zip(detector.langlist, map(float, detector.langprob), strict=True))


def word_vote(words: list[str], probabilities: dict[str, float]) -> tuple[str, float]:
    """The language whose langdetect probability and word frequencies agree best with `words`,
    and its share of the vote (softmax of the scores, rounded as stored)."""
    lists = _word_lists()
    hashes = np.array([hash(word) for word in words], dtype=np.int64)
    unknown = len(words) * _UNKNOWN_BAND
    # Sorted by probability, langdetect's order wins ties (max() keeps the first).
    languages = sorted(probabilities, key=probabilities.__getitem__, reverse=True)
    scores = np.array([
        math.log(max(probabilities[language], _PROB_FLOOR))
        - _NATS_PER_BAND * (_bands(lists[language], hashes) if language in lists else unknown)
        for language in languages
    ])
    best = int(scores.argmax())
    share = 1.0 / float(np.exp(scores - scores[best]).sum())
    return languages[best], round(share, 4)


def _bands(table: tuple[np.ndarray, np.ndarray], hashes: np.ndarray) -> int:
    """The sum of the words' bands in one language's list (unknown words: `_UNKNOWN_BAND`)."""
    keys, bands = table
    at = np.minimum(np.searchsorted(keys, hashes), len(keys) - 1)
    return int(np.where(keys[at] == hashes, bands[at], _UNKNOWN_BAND).sum())


@functools.cache  # built once per process, on the first text that needs a vote
def _word_lists() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each langdetect language wordfreq has a list for: its words' hashes, sorted, and the
    band of each. About 10 MB for 42 languages (Python dicts of the same words: over 150 MB),
    built in about a second. str's hash() is salted per process, so the table is never stored:
    every process builds its own."""
    import wordfreq  # 0.2 s of imports, paid only when a vote is needed

    available = wordfreq.available_languages("small")
    lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for language in _PROFILES.langlist:
        path = available.get(_WORDFREQ_CODES.get(language, language))
        if path is None:
            continue
        by_band = wordfreq.read_cBpack(path)  # list i: the words of band i
        hashes = np.fromiter((hash(word) for words in by_band for word in words), dtype=np.int64)
        bands = np.repeat(np.arange(len(by_band), dtype=np.int16), [len(w) for w in by_band])
        order = np.argsort(hashes, kind="stable")
        lists[language] = (hashes[order], bands[order])
    return lists


def count_letters(text: str) -> int:
    """Letters and combining marks (Unicode L* and M*) of the text's canonical decomposition
    (NFD). A Hindi or Thai word is written with vowel signs that are marks, and a Hangul syllable
    is two or three letters (jamo) in one character: each counts as the letters it holds, and a
    text counts the same whether it was stored composed or decomposed."""
    return sum(1 for char in unicodedata.normalize("NFD", text) if _is_letter_or_mark(char))


def has_letters(text: str, count: int) -> bool:
    """Whether `text` has at least `count` letters as count_letters counts them; it stops
    looking when it has found them, which in news text is within the first words."""
    letters = filter(_is_letter_or_mark, unicodedata.normalize("NFD", text))
    return count <= 0 or next(itertools.islice(letters, count - 1, None), None) is not None


@functools.cache  # one entry per distinct character
def _is_letter_or_mark(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def to_document(article: CleanArticle, language: str, probability: float) -> Document:
    """The documents row for a cleaned article."""
    fields = {name: getattr(article, name) for name in Document.model_fields if hasattr(article, name)}
    return Document(**{**fields, "doc_id": article.text_hash, "language": language,
                       "language_prob": probability})


def detect_languages(
    articles: list[CleanArticle], min_letters: int, min_prob: float
) -> list[Document]:
    """Documents with their language, for a batch of new texts."""
    return [to_document(a, *detect_language(a.text, min_letters, min_prob)) for a in articles]


@task(name="language", cache_policy=NO_CACHE)
def language_stage(articles: list[CleanArticle], settings: LanguageSettings) -> list[Document]:
    """Tag the language of a batch of new texts."""
    return detect_languages(articles, settings.min_letters, settings.min_prob)
