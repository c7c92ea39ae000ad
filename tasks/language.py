"""Language identification: langdetect, made repeatable by a fixed seed, with function words as
a second opinion on short text.

`und` is kept for text with no language signal: fewer letters than `min_letters` (letters and
combining marks both count, so Hindi, Thai or Korean are measured fairly) or no character n-gram
langdetect knows. Any other text gets a language and langdetect's probability for it. When
langdetect is unsure (its best probability under `min_prob`), which happens on headlines and
short sentences, the words of the text that are function words of each language (spaCy's
stop-word lists, independent of langdetect's n-gram profiles) can overrule it: each language
scores log(its langdetect probability, at least 0.001) plus one per function word, and the best
score wins. Measured on dev sentences by bench/language.py.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import re
import unicodedata
from pathlib import Path

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
_SAMPLE_CHARS = 1200  # n-gram extraction is most of langdetect's time; news is unambiguous by then
_WORD = re.compile(r"[^\W\d_]+")
# A language langdetect all but excludes still has log(0.001) ≈ -6.9: seven function words more
# than its rival to win, so a stray "a" or "in" never outweighs clear n-gram evidence.
_PROB_FLOOR = 1e-3
_FUNCTION_WORD_WEIGHT = 1.0
# langdetect codes whose spaCy package has another name.
_SPACY_CODES = {"no": "nb"}


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
    """langdetect's detector with its two inner loops made cheaper; the same algorithm, the
    same random draws and the same floating-point operations in the same order, so the same
    languages and probabilities to the last bit (tests/test_clean_dedup.py compares it with
    langdetect's own on twelve texts). It takes about 60 % of the time (1.4 ms
    against 2.3 ms on a BBC article), which is about 2 s of each BBC run's CPU."""

    def _extract_ngrams(self) -> list[str]:
        """NGram.add_char and the n-gram loop inlined, each character normalised once."""
        found, table = [], self.word_lang_prob_map
        grams, capital = " ", False
        for char in self.text:
            char = _normalised(char)
            last = grams[-1]
            if last == " ":
                grams, capital = " ", False
                if char == " ":
                    continue
            elif len(grams) >= 3:  # NGram.N_GRAM
                grams = grams[1:]
            grams += char
            capital = char.isupper() and last.isupper()  # a capital after a capital
            if capital:
                continue
            for n in (1, 2, 3):
                if len(grams) < n:
                    break
                gram = grams[-n:]
                if gram != " " and gram in table:
                    found.append(gram)
        return found

    def _init_probability(self) -> np.ndarray:
        return np.array(super()._init_probability())

    def _update_lang_prob(self, prob: np.ndarray, word: str | None, alpha: float) -> bool:
        if word is None or word not in self.word_lang_prob_map:
            return False
        prob *= alpha / self.BASE_FREQ + _profile_row(self.word_lang_prob_map[word])
        return True

    def _normalize_prob(self, prob: np.ndarray) -> float:
        prob /= sum(prob.tolist())  # Python's left-to-right sum, as langdetect's
        return float(prob.max())


_normalised = functools.lru_cache(maxsize=None)(NGram.normalize)  # one entry per character


@functools.lru_cache(maxsize=4_096)  # 2.3 MB; BBC uses 5,700 n-grams, 8 languages 9,200
def _profile_row(index: int) -> np.ndarray:
    return _PROFILES.row(index)


def detect_langs(text: str) -> list[Language]:
    """langdetect.detect_langs, on the cheaper detector."""
    detector = _Detector(_PROFILES)
    detector.append(text)
    return detector.get_probabilities()


def detect_language(text: str, min_letters: int, min_prob: float) -> tuple[str, float]:
    """ISO code and langdetect's probability for it; 'und' when the text has fewer than
    `min_letters` letters or no n-gram langdetect knows. Under `min_prob`, function words may
    overrule langdetect's first choice (the module docstring says how)."""
    sample = text[:_SAMPLE_CHARS]
    if count_letters(sample) < min_letters:
        return UNDETERMINED, 0.0
    probabilities = language_probabilities(sample)
    if not probabilities:
        return UNDETERMINED, 0.0
    best = max(probabilities, key=probabilities.__getitem__)
    if probabilities[best] < min_prob:
        best = _second_opinion(sample, probabilities)
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


def _second_opinion(text: str, probabilities: dict[str, float]) -> str:
    """The language whose langdetect probability and function words in `text` agree best."""
    words = [word.lower() for word in _WORD.findall(text)]

    def score(language: str) -> float:
        stop_words = function_words(language)
        hits = sum(1 for word in words if word in stop_words)
        return math.log(max(probabilities[language], _PROB_FLOOR)) + _FUNCTION_WORD_WEIGHT * hits

    # max() keeps the first of equal scores: sorted by probability, langdetect's order wins ties.
    return max(sorted(probabilities, key=probabilities.__getitem__, reverse=True), key=score)


@functools.cache  # a read-only list per language, loaded on first need
def function_words(language: str) -> frozenset[str]:
    """spaCy's stop words for a langdetect language code, or none where spaCy has no list.

    Each list is a self-contained file, run here on its own: importing it as
    `spacy.lang.<code>.stop_words` would import all of spaCy (about 95 MB) into the flow's
    process, which otherwise leaves spaCy to the tagging workers (tasks/entities.py)."""
    spacy = importlib.util.find_spec("spacy")  # finds the package without importing it
    if spacy is None or not spacy.submodule_search_locations:
        return frozenset()
    path = Path(spacy.submodule_search_locations[0], "lang",
                _SPACY_CODES.get(language, language), "stop_words.py")
    if not path.is_file():
        return frozenset()
    namespace: dict[str, object] = {}
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102
    except Exception:  # noqa: BLE001  a list spaCy changed shape: no second opinion, no failure
        return frozenset()
    return frozenset(str(word).lower() for word in namespace.get("STOP_WORDS", ()))


def count_letters(text: str) -> int:
    """Letters and combining marks (Unicode L* and M*) of the text's canonical decomposition
    (NFD). A Hindi or Thai word is written with vowel signs that are marks, and a Hangul syllable
    is two or three letters (jamo) in one character: each counts as the letters it holds, and a
    text counts the same whether it was stored composed or decomposed."""
    return sum(1 for char in unicodedata.normalize("NFD", text) if _is_letter_or_mark(char))


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
