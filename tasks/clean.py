"""Conservative, recorded text cleaning, and the normalised key that identifies a text.

Each repair is named in `CleanArticle.cleaning`, after those reading made (`repairs`); the
parser's text is kept as `original_text`, less its NUL characters (`removed_nul:<count>`), which
no text needs and which many tools (C strings, PostgreSQL's text type) choke on."""

from __future__ import annotations

import re
import unicodedata

import ftfy
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.records import Outcome
from tasks.urls import UrlError, canonicalize_url
from warehouse.records import Candidate, CleanArticle, ParsedArticle, sha256_hex

# The stored text is the text as published: ftfy fixes mojibake, HTML entities and broken
# characters only. Its defaults would also straighten curly quotes, fold ligatures and fold
# full-width CJK letters, digits and punctuation to ASCII ("ＡＢＣ，" → "ABC,"), which changes
# what the publisher wrote; text_key folds those for matching instead. NFC is done after the
# whitespace repairs (_clean_once).
_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, fix_latin_ligatures=False, explain=False,
                             fix_character_width=False, normalization=None)
# In ASCII text, only these characters give ftfy (with _FTFY) anything to do: "&" (HTML
# entities), CR (line breaks), ESC (terminal escapes) and the other C0 controls and DEL; its
# other fixes need non-ASCII characters. ASCII text without them skips it (fix_text reads every
# line about ten times: about 0.3 ms of a BBC article).
_FTFY_IN_ASCII = re.compile(r"[&\x00-\x08\x0b-\x1f\x7f]")
# Passes of clean_text at most: one nearly always, two or three after mojibake.
_MAX_PASSES = 4

# Runs of Latin spaces become one space; the ideographic space (U+3000) is a full-width
# character of CJK text, kept as published (text_key folds it).
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f]+")
# Characters readers never see: zero-width spaces and joiners, the BOM, and the soft hyphen
# (U+00AD), a hyphenation hint that German sites put inside words ("Mes\xadsen\xadger"), which
# would keep `text ILIKE '%Messenger%'` and the entity model from finding the word.
_INVISIBLE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# "attack.It" → "attack. It": a sentence end glued to a capitalised word. A lower-case letter
# before the stop keeps "U.S.A" and "3.5" intact; a lower-case letter after the capital keeps
# acronyms such as "St.PETERSBURG" alone.
_GLUED_STOP = re.compile(r"(?<=[a-zà-öø-ÿ0-9\)][.!?])(?=[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ])")
# 'countries”including' → 'countries” including': a closing quote glued to the next word. Only
# a quote that closes (after a letter or a stop) and only before a letter of a script written
# with spaces: German opens with » ("»Haltet sauber!«"), Finnish and Swedish open with ” too
# ("- ”Meidän"), and Chinese puts no space after a quote ("“数字”是").
_GLUED_QUOTE = re.compile(r"(?<=[\w.,!?][”»])(?=[A-Za-zÀ-ÖØ-öø-ɏͰ-ϿЀ-ӿ])")

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'",
                         "’": "'", "‚": "'", "′": "'", "″": '"', "–": "-", "—": "-", "‐": "-"})


def normalise_whitespace(text: str) -> str:
    """Single spaces inside lines, no trailing spaces, paragraphs separated by one blank line."""
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def repair_glued_sentences(text: str) -> tuple[str, int]:
    """Insert the missing space at glued sentence and quote boundaries; return the count."""
    text, stops = _GLUED_STOP.subn(" ", text)
    text, quotes = _GLUED_QUOTE.subn(" ", text)
    return text, stops + quotes


def clean_text(text: str) -> tuple[str, list[str]]:
    """The cleaned text and the names of the repairs that changed something. Idempotent:
    cleaning a cleaned text changes nothing."""
    cleaned, notes = _clean_once(text)
    # The later repairs can hand ftfy a text it now reads as mojibake ("à½\t." becomes
    # "à½ .", a UTF-8 character with its no-break space lost), so ftfy goes again until it
    # has nothing left to fix; a text no repair touched is done already.
    for _ in range(_MAX_PASSES - 1):
        if not notes or fix_text(cleaned) == cleaned:
            break
        cleaned, more = _clean_once(cleaned)
        notes += [note for note in more if note not in notes]
    return cleaned, notes


def _clean_once(text: str) -> tuple[str, list[str]]:
    # Whitespace before NFC: removing a zero-width character can join a letter and an accent,
    # which only a second NFC would compose. After ftfy, the three are idempotent together.
    notes = []
    fixed = fix_text(text)
    if fixed != text:
        notes.append("ftfy")
    spaced = normalise_whitespace(fixed)
    if spaced != fixed:
        notes.append("whitespace")
    nfc = unicodedata.normalize("NFC", spaced)
    if nfc != spaced:
        notes.append("nfc")
    repaired, count = repair_glued_sentences(nfc)
    if count:
        notes.append(f"glued_boundaries:{count}")
    return repaired, notes


def clean_title(title: str) -> str | None:
    """A title cleaned as the text is (mojibake, invisible characters, spaces, NFC), on one
    line; None when nothing is left."""
    cleaned, _ = clean_text(title)
    return " ".join(line for line in cleaned.splitlines() if line) or None


def fix_text(text: str) -> str:
    """ftfy's repairs of mojibake, entities and broken characters (_FTFY). As ftfy.fix_text,
    which fixes each line on its own, but a line of ASCII with none of the characters the
    repairs act on is kept without handing it to ftfy: most lines of an article with one
    "£" or "é" in it (about two fifths of the clean stage's time on BBC)."""
    if text.isascii() and not _FTFY_IN_ASCII.search(text):
        return text
    config, limit = _FTFY, _FTFY.max_decode_length
    out, pos = [], 0
    while pos < len(text):  # ftfy.fix_text's segments: lines, each at most `limit` long
        end = text.find("\n", pos) + 1 or len(text)
        end = min(end, pos + limit)
        segment = text[pos:end]
        if config.unescape_html == "auto" and "<" in segment:
            config = config._replace(unescape_html=False)  # for this line and the rest
        if segment.isascii() and not _FTFY_IN_ASCII.search(segment):
            out.append(segment)
        else:
            out.append(ftfy.fix_and_explain(segment, config)[0])
        pos = end
    return "".join(out)


def text_key(text: str) -> str:
    """The identity of a text for exact duplicates. Formatting is folded away (quote and dash
    glyphs, compatibility forms, runs of spaces, line breaks inside a paragraph, blank lines);
    the words, their case and the paragraph structure are kept, since changing those is an edit
    (a near duplicate), not a copy."""
    folded = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    paragraphs = (" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(folded))
    # Spacing beside a quote mark depends on the quote style ('countries”including' is
    # repaired, 'countries"including' cannot be), so it is formatting too; removed once the
    # lines are joined (their only spaces are single " " then), so that a quote opening a
    # wrapped line is folded like any other.
    return "\n".join(_without_space_at_quotes(paragraph) for paragraph in paragraphs
                     if paragraph)


def _without_space_at_quotes(line: str) -> str:
    """`line` (words joined by single spaces) without the spaces before and after quote marks:
    str.replace does what a regular expression did at every character, in a third of the time."""
    for quote in "\"'":
        line = line.replace(" " + quote, quote)
    for quote in "\"'":
        line = line.replace(quote + " ", quote)
    return line


def text_hash(text: str) -> str:
    """doc_id of a cleaned text: a hash of its normalised key."""
    return sha256_hex(text_key(text))[:32]


def remove_nul(text: str) -> tuple[str, list[str]]:
    """`text` without NUL characters, and the note naming how many went."""
    count = text.count("\x00")
    return (text.replace("\x00", ""), [f"removed_nul:{count}"]) if count else (text, [])


def clean_article(article: ParsedArticle) -> CleanArticle:
    """One article with its cleaned text, the repairs made (reading's first) and its text hash."""
    parsed, nul_notes = remove_nul(article.text)
    cleaned, notes = clean_text(parsed)
    notes = [*article.repairs, *nul_notes, *notes]
    if article.encoding not in ("utf-8", "utf-8-sig"):
        notes.insert(0, f"decoded_as:{article.encoding}")
    title = clean_title(article.title) if article.title else None
    fields = article.model_dump()
    # A web page brings its own canonical URL (its <link rel=canonical>); files have only `url`.
    url = canonical_or_none(fields.pop("canonical_url", None) or article.url)
    return CleanArticle(
        **{**fields, "title": title or None, "text": cleaned},
        original_text=parsed, text_hash=text_hash(cleaned), cleaning=notes,
        canonical_url=url,
    )


def canonical_or_none(url: str | None) -> str | None:
    """The canonical form of a source URL, or None when there is none or it is not http(s)."""
    try:
        return canonicalize_url(url) if url else None
    except UrlError:
        return None


def clean_articles(articles: list[ParsedArticle]) -> list[CleanArticle]:
    """Clean a batch."""
    return [clean_article(article) for article in articles]


@task(name="clean", cache_policy=NO_CACHE)
def clean_stage(outcomes: list[tuple[Candidate, Outcome]]) -> list[CleanArticle]:
    """Clean every article the batch's files produced."""
    return clean_articles([article for _, outcome in outcomes for article in outcome.articles])
