"""Language identification with langdetect, made repeatable by a fixed seed."""

from __future__ import annotations

import functools
import re

import numpy as np
from langdetect import DetectorFactory, detector_factory
from langdetect.detector import Detector
from langdetect.detector_factory import init_factory
from langdetect.lang_detect_exception import LangDetectException
from langdetect.language import Language
from langdetect.utils.ngram import NGram
from prefect import task
from prefect.cache_policies import NO_CACHE

from warehouse.records import CleanArticle, Document
from warehouse.settings import LanguageSettings

# langdetect samples at random: a fixed seed makes one text always get one answer. Loading the
# profiles here, once, avoids "Need to load profiles" when threads call it cold.
DetectorFactory.seed = 0
init_factory()

UNDETERMINED = "und"
_LETTER = re.compile(r"[^\W\d_]")
_SAMPLE_CHARS = 1200  # n-gram extraction is most of langdetect's time; news is unambiguous by then


if NGram.N_GRAM != 3:  # _Detector._extract_ngrams below is written for trigrams
    raise ImportError(f"langdetect with {NGram.N_GRAM}-grams: tasks/language.py needs 3")


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
        prob *= alpha / self.BASE_FREQ + _profile_row(word)
        return True

    def _normalize_prob(self, prob: np.ndarray) -> float:
        prob /= sum(prob.tolist())  # Python's left-to-right sum, as langdetect's
        return float(prob.max())


_normalised = functools.lru_cache(maxsize=None)(NGram.normalize)  # one entry per character


@functools.lru_cache(maxsize=4_096)  # 2.3 MB; BBC uses 5,700 n-grams, 8 languages 9,200
def _profile_row(gram: str) -> np.ndarray:
    return np.array(detector_factory._factory.word_lang_prob_map[gram])


def detect_langs(text: str) -> list[Language]:
    """langdetect.detect_langs, on the cheaper detector."""
    detector = _Detector(detector_factory._factory)
    detector.append(text)
    return detector.get_probabilities()


def detect_language(text: str, min_letters: int, min_prob: float) -> tuple[str, float]:
    """ISO code and probability; 'und' when the text is too short or no language is likely."""
    sample = text[:_SAMPLE_CHARS]
    if len(_LETTER.findall(sample)) < min_letters:
        return UNDETERMINED, 0.0
    try:
        best = detect_langs(sample)[0]
    except LangDetectException:
        return UNDETERMINED, 0.0
    probability = round(float(best.prob), 4)
    if probability < min_prob:
        return UNDETERMINED, probability
    return best.lang, probability


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
