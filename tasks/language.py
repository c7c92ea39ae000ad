"""Language identification with langdetect, made repeatable by a fixed seed."""

from __future__ import annotations

import re

from langdetect import DetectorFactory, detect_langs
from langdetect.detector_factory import init_factory
from langdetect.lang_detect_exception import LangDetectException
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
