"""Language on sentence-length and non-Latin text (tasks/language.py): `und` only without a
language signal, and word frequencies where langdetect alone is weak. bench/language.py measures
the same on thousands of dev sentences."""

import pytest

from tasks.language import (
    UNDETERMINED, count_letters, detect_language, has_letters, language_probabilities,
    word_vote,
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


@pytest.mark.parametrize(
    ("text", "language", "langdetect_says"),
    [
        ("Disputed Nirvana box set on sale", "en", "af"),  # a BBC headline
        ("We saw very good viewer response, he added.", "en", "af"),
        ("Deve il nome al matematico inglese John Conway.", "it", "en"),  # KIND-style sentence
    ],
)
def test_word_frequencies_overrule_langdetect_on_short_text(
    text: str, language: str, langdetect_says: str
) -> None:
    probabilities = language_probabilities(text)
    assert max(probabilities, key=probabilities.__getitem__) == langdetect_says
    found, probability = detect_language(text, MIN_LETTERS, MIN_PROB)
    assert found == language
    assert 0.5 < probability <= 1  # the vote's share, not langdetect's (near 0 for `language`)


def test_the_vote_shares_sum_to_one_and_name_the_winner() -> None:
    words = "ministers defend the new hunting law".split()
    probabilities = language_probabilities("Ministers defend the new hunting law")
    language, share = word_vote(words, probabilities)
    assert language == "en" and share > 0.99
    leaning_english = {code: 0.0 for code in probabilities} | {"en": 0.6, "nl": 0.4}
    dutch = "de minister verdedigt de nieuwe wet".split()
    assert word_vote(dutch, leaning_english)[0] == "nl"  # the words outweigh langdetect
    assert word_vote(["zzqx", "qqzv"], leaning_english)[0] == "en"  # no known word: langdetect


def test_a_long_text_in_a_language_without_a_word_list_keeps_langdetects_answer() -> None:
    # Afrikaans: wordfreq has no list, and 30 confident words never go to the vote.
    text = ("Die regering het vandag aangekondig dat die nuwe begroting volgende maand in die "
            "parlement bespreek sal word, en die minister van finansies sal die planne aan die "
            "publiek verduidelik.")
    assert detect_language(text, MIN_LETTERS, MIN_PROB) == ("af", 1.0)


def test_the_result_is_deterministic() -> None:
    texts = ["Bat spit drug firm goes to market", "Nuovo CD per Mariah Carey al numero uno"]
    runs = {tuple(detect_language(t, MIN_LETTERS, MIN_PROB) for t in texts) for _ in range(5)}
    assert len(runs) == 1


@pytest.mark.parametrize("text", ["", "ab 12", "हिन्दी", "한국", "Cafe\u0301 au lait", "x" * 40])
def test_has_letters_agrees_with_count_letters(text: str) -> None:
    for count in range(0, 45):
        assert has_letters(text, count) == (count_letters(text) >= count), count
