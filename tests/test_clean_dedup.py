"""Pure-function tables for cleaning, text identity, exact dedup and language tagging."""

import pytest

from tasks.clean import canonical_or_none, clean_text, clean_title, text_hash, text_key
from tasks.dedup import split_exact
from tasks.language import detect_language, to_document
from warehouse.records import CleanArticle, Document


@pytest.mark.parametrize(
    ("raw", "clean", "notes"),
    [
        ("claimed the attack.It said", "claimed the attack. It said", ["glued_boundaries:1"]),
        ("countries”including some", "countries” including some", ["glued_boundaries:1"]),
        ("«Vado»disse lui", "«Vado» disse lui", ["glued_boundaries:1"]),
        # Quotes that open are not glued: German », Finnish ”, and no spaces in Chinese.
        ("Er rief »Haltet sauber!« und ging", "Er rief »Haltet sauber!« und ging", []),
        ("maataloustuista - ”Meidän näkemyksiämme”", "maataloustuista - ”Meidän näkemyksiämme”",
         []),
        ("益阳：“数字”是优长", "益阳：“数字”是优长", []),
        ("the U.S.A. and 3.5 per cent", "the U.S.A. and 3.5 per cent", []),
        ("don’t “quote” me", "don’t “quote” me", []),
        ("a  b\t c \n\n\n\nnext ", "a b c\n\nnext", ["whitespace"]),
        ("cafÃ© au lait", "café au lait", ["ftfy"]),
        ("Cafe\u0301", "Café", ["nfc"]),
        ("zero\u200bwidth", "zerowidth", ["whitespace"]),
        ("Mes\u00adsen\u00adger\u00addiens\u00adte", "Messengerdienste", ["whitespace"]),
    ],
)
def test_clean_text(raw: str, clean: str, notes: list[str]) -> None:
    assert clean_text(raw) == (clean, notes)


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        # Soft hyphens (bka.de) and a Bengali letter published in its precomposed form, which
        # NFC writes as letter + nukta, the form the body text is stored in.
        ("Mes\u00adsen\u00adger\u00addiens\u00adte sind kein Raum", "Messengerdienste sind kein Raum"),
        ("\u09ac\u09be\u09dc\u09bf", "\u09ac\u09be\u09a1\u09bc\u09bf"),
        ("  Two\n\nlines  ", "Two lines"),
        ("cafÃ© “au lait”", "café “au lait”"),
        ("東京　ニュース", "東京　ニュース"),  # the ideographic space is kept
        ("\u200b \u00ad", None),
    ],
)
def test_clean_title_cleans_as_the_text_is_cleaned_on_one_line(raw: str, title: str | None
                                                                ) -> None:
    assert clean_title(raw) == title
    if title:
        assert clean_title(title) == title


def test_clean_text_is_idempotent() -> None:
    once, _ = clean_text("Hello  world.It is “fine”really.\n\n\nNext")
    assert clean_text(once) == (once, [])


def test_ascii_text_skips_ftfy_only_where_ftfy_would_change_nothing() -> None:
    """tasks.clean.fix_text skips ftfy for ASCII text without the characters its repairs act
    on; on random ASCII (every code point 0-127, some texts without those characters) and on
    the seeds it gives what ftfy gives."""
    import random
    from pathlib import Path

    import ftfy

    from tasks.clean import _FTFY, fix_text

    draw = random.Random(7)
    plain = [chr(c) for c in range(128) if c in (9, 10) or 32 <= c < 127 and chr(c) != "&"]
    texts = ["".join(draw.choices(plain, k=draw.randrange(1, 80))) for _ in range(500)]
    texts += ["".join(draw.choices([chr(c) for c in range(128)], k=draw.randrange(1, 80)))
              for _ in range(500)]
    texts += ["Tom &amp; Jerry", "a\r\nb", "\x1b[31mred\x1b[0m", "tab\there\x0c"]
    seeds = Path(__file__).resolve().parents[1] / "seeds"
    texts += [p.read_text(encoding="utf-8") for p in seeds.glob("*.txt")]
    skipped = 0
    for text in texts:
        assert fix_text(text) == ftfy.fix_text(text, config=_FTFY), repr(text)
        skipped += text.isascii() and fix_text(text) is text
    assert skipped >= 500


def test_lines_that_ftfy_would_not_change_are_kept_as_ftfy_keeps_them() -> None:
    """fix_text hands ftfy only the lines it can change; the text it returns is ftfy's own,
    including its rule that a line with "<" stops HTML entities being unescaped from there on."""
    import random

    import ftfy

    from tasks.clean import _FTFY, fix_text

    draw = random.Random(11)
    lines = ["plain line", "Tom &amp; Jerry", "caf\u00c3\u00a9 au lait", "<b>bold</b> &lt;",
             "£5m deal", "don\u00e2\u0080\u0099t", "x\r", "", "\x1b[0mreset", "l\u2019\u00e9t\u00e9"]
    texts = ["\n".join(draw.choices(lines, k=draw.randrange(1, 12))) for _ in range(2000)]
    for text in texts:
        assert fix_text(text) == ftfy.fix_text(text, config=_FTFY), repr(text)
    assert fix_text("caf\u00c3\u00a9\n<p>\nTom &amp; Jerry") == "café\n<p>\nTom &amp; Jerry"
    assert fix_text("caf\u00c3\u00a9\nTom &amp; Jerry") == "café\nTom & Jerry"


def test_text_key_folds_formatting_but_not_words_case_or_paragraphs() -> None:
    assert text_key("“Hello”  World — it’s\r\nnext\n\n\n Para") == text_key(
        '"Hello" World - it\'s next\n\nPara')
    assert text_hash("Hello world") != text_hash("Hello world!")
    assert text_key("countries” including") == text_key('countries"including')
    assert text_hash("Grand Slam") != text_hash("grand slam")
    assert text_hash("One.\n\nTwo.") != text_hash("One. Two.")


def _article(locator: str, text: str, url: str | None = None) -> Document:
    from warehouse.records import source_id_for

    clean = CleanArticle(source_id=source_id_for(locator), locator=locator, format="txt",
                         content_hash=locator, size=1, encoding="utf-8", text=text,
                         original_text=text, text_hash=text_hash(text),
                         canonical_url=canonical_or_none(url))
    return to_document(clean, "en", 1.0)


def test_split_exact_records_new_text_under_a_known_url() -> None:
    stored = _article("/in/v1.txt", "First version", "https://News.example.org/a?utm_source=x")
    batch = [_article("/in/v2.txt", "Second version", "https://news.example.org/a#top"),
             _article("/in/v3.txt", "Third version", "https://news.example.org/a"),
             _article("/in/other.txt", "Other story", "https://news.example.org/b")]
    split = split_exact(batch, {}, {stored.canonical_url: stored.doc_id})
    assert split.unique == batch
    assert [(d.method, d.doc_id, d.canonical_doc_id) for d in split.duplicates] == [
        ("url", batch[0].doc_id, stored.doc_id), ("url", batch[1].doc_id, stored.doc_id)]


def test_split_exact_within_batch_and_against_stored() -> None:
    stored = _article("/in/old.txt", "Stored story")
    batch = [_article("/in/a.txt", "New   story"), _article("/in/b.txt", "New story"),
             _article("/in/c.txt", "“Stored” story".replace("“", "").replace("”", "")),
             _article("/in/old.txt", "Stored  story")]
    split = split_exact(batch, {stored.doc_id: stored.source_id})
    assert split.unique == [batch[0]]
    assert {(d.source_id, d.canonical_doc_id) for d in split.duplicates} == {
        (batch[1].source_id, batch[0].doc_id), (batch[2].source_id, stored.doc_id)}
    assert split.same_source == [batch[3]]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The government said on Monday that the new budget would cut taxes for families.", "en"),
        ("Il governo ha detto lunedì che la nuova legge di bilancio taglierà le tasse.", "it"),
        ("12 34 56 !!", "und"),
        ("Short", "und"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text, min_letters=30, min_prob=0.8)[0] == language


def test_detect_language_is_repeatable() -> None:
    text = "Una frase breve ma abbastanza lunga per essere riconosciuta come italiana."
    assert len({detect_language(text, 30, 0.8) for _ in range(5)}) == 1


SAME_AS_LANGDETECT = [
    "The government said on Monday that the new budget would cut taxes for families.",
    "KYIV, March 3 (Reuters) - UKRAINE SAYS RUSSIAN FORCES SHELLED THE CITY OVERNIGHT",
    "Il presidente del Consiglio ha incontrato a Roma i sindacati per discutere della manovra.",
    "Die Bundesregierung hat am Dienstag ein neues Gesetz zur Energiepolitik beschlossen.",
    "Le gouvernement français a présenté mercredi un projet de loi sur les retraites.",
    "El Gobierno de España aprobó ayer una reforma de la ley de vivienda en Madrid.",
    "Rząd przyjął we wtorek projekt ustawy o podwyżkach dla nauczycieli w całej Polsce.",
    "Türkiye'de hükümet, asgari ücrete yeni bir zam yapılacağını açıkladı.",
    "أعلنت الحكومة يوم الاثنين عن خطة جديدة لدعم الأسر ذات الدخل المحدود",
    "Tiếng Việt có dấu: Chính phủ công bố kế hoạch mới vào thứ Hai.",
    "中国政府周一宣布了一项新的经济刺激计划 and some English words mixed in",
    "Ukraine  -- a text with URLs https://example.org/a?b=c and mail a.b@example.org in it",
    "   Leading spaces,  runs   of    spaces, ALL CAPS WORDS, MiXeD CaSe, a b c and I  ",
    "ПРАВИТЕЛЬСТВО России объявило в понедельник о новом плане поддержки семей, ТАСС",
    "Ông Nguyễn Văn An NÓI rằng chính phủ sẽ tăng lương tối thiểu từ tháng Bảy năm nay",
]


@pytest.mark.parametrize("text", SAME_AS_LANGDETECT)
def test_language_detector_gives_exactly_what_langdetect_gives(text: str) -> None:
    """tasks.language's cheaper detector: the same languages and the same probabilities, to
    the last bit, as langdetect's own (seeded alike), or the same error."""
    import langdetect

    from tasks.language import detect_langs

    def outcome(detect: object) -> object:
        try:
            return [(found.lang, found.prob) for found in detect(text)]  # type: ignore[operator]
        except langdetect.lang_detect_exception.LangDetectException as error:
            return str(error)

    ours = outcome(detect_langs)
    assert ours == outcome(langdetect.detect_langs)
    assert isinstance(ours, list) and ours, ours


def test_stage_seconds_and_bar_chart() -> None:
    from tasks.report import bar_chart, stage_seconds

    runs = [("parse-3fa", 1.5), ("parse-9c1", 0.5), ("dedup-near-0a2", 2.0), ("load-77b", 0.25)]
    assert stage_seconds(runs) == {"parse": 2.0, "dedup-near": 2.0, "load": 0.25}
    chart = bar_chart([("it", 3), ("en", 2), ("und", 0)], width=6)
    assert [line.count("█") for line in chart] == [6, 4, 0]
    chart = bar_chart([("load-discovery", 1), ("sync-aliases", 1)], width=2)
    assert chart == ["`load-discovery` ██ 1", "`sync-aliases  ` ██ 1"]  # whole names, aligned
