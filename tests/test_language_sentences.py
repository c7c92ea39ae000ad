"""Language on sentence-length and non-Latin text (tasks/language.py): `und` only without a
language signal. bench/language.py measures the same on thousands of dev sentences."""

import pytest

from tasks.language import (
    UNDETERMINED, count_letters, detect_language, has_letters, language_probabilities,
)

# Thresholds the pipeline runs with (warehouse/settings.py LanguageSettings).
MIN_LETTERS, MIN_PROB = 20, 0.9


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Police said the fire started late on Sunday.", "en"),
        ("Ministers defend the new hunting law", "en"),
        ("Il sindaco ha firmato ieri l'ordinanza.", "it"),
        ("La giunta approva il bilancio del comune", "it"),
        ("प्रधानमंत्री ने आज नई योजना की घोषणा की", "hi"),
        ("정부는 월요일에 새로운 경제 정책을 발표했다", "ko"),
        ("รัฐบาลประกาศนโยบายเศรษฐกิจใหม่ในวันจันทร์", "th"),
    ],
)
def test_a_sentence_gets_its_language(text: str, language: str) -> None:
    assert count_letters(text) >= MIN_LETTERS
    found, probability = detect_language(text, MIN_LETTERS, MIN_PROB)
    assert found == language and 0 < probability <= 1


@pytest.mark.parametrize("text", ["12 34 56 !!", "2024-03-22 10:00", "Short", "—  ·  …", ""])
def test_text_without_a_language_signal_is_und(text: str) -> None:
    assert detect_language(text, MIN_LETTERS, MIN_PROB) == (UNDETERMINED, 0.0)


def test_marks_count_as_letters_and_forms_count_alike() -> None:
    assert count_letters("हिन्दी") == 6  # three consonants, two vowel signs and a virama
    assert count_letters("한국") == 6  # two syllables of three jamo each
    assert count_letters("Cafe\u0301") == count_letters("Café") == 5


def test_an_unsure_langdetect_keeps_its_probability_for_the_answer() -> None:
    text = "We saw very good viewer response, he added."
    language, probability = detect_language(text, MIN_LETTERS, MIN_PROB)
    assert language == "en"
    assert probability == round(language_probabilities(text)["en"], 4)


def test_the_result_is_deterministic() -> None:
    texts = ["Bat spit drug firm goes to market", "Nuovo CD per Mariah Carey al numero uno"]
    runs = {tuple(detect_language(t, MIN_LETTERS, MIN_PROB) for t in texts) for _ in range(5)}
    assert len(runs) == 1


@pytest.mark.parametrize("text", ["", "ab 12", "हिन्दी", "한국", "Cafe\u0301 au lait", "x" * 40])
def test_has_letters_agrees_with_count_letters(text: str) -> None:
    for count in range(0, 45):
        assert has_letters(text, count) == (count_letters(text) >= count), count
