"""Property-based tests (hypothesis) of the parsers, the cleaner, URL canonicalisation and entity
offsets: no input raises anything but the documented failure, cleaning is idempotent, the
duplicate key folds formatting only, and mention offsets always index the stored text.

Budget: well under a minute (max_examples per property below, no deadline: the first call of a
tagger or of trafilatura loads models). A failure prints the minimal input; add it to the table
of the module it concerns once fixed."""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tasks.clean import clean_text, text_hash, text_key
from tasks.dates import published_day
from tasks.decode import BinaryContent, decode, decode_cut_short
from tasks.feeds import DiscoveryError, parse_feed, parse_sitemap
from tasks.ner import tag_entities
from tasks.parse import (
    FORMATS,
    Fail,
    parse_file,
    parse_json_record,
    split_txt,
)
from tasks.urls import UrlError, canonicalize_url, is_tracking_param
from warehouse.records import Candidate, source_id_for

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
FAST = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
THOROUGH = settings(FAST, max_examples=600)

# Every reason parse_file may give; "parse_error" is missing on purpose: it marks a parser bug.
PARSE_REASONS = {
    "unsupported_format",
    "too_large",
    "empty_file",
    "empty_text",
    "binary_content",
    "no_article_text",
    "invalid_json",
    "missing_text",
    "unreadable",
    "vanished",
    "not_a_file",
    "outside_inbox",
    "permission_denied",
    "broken_link",
    "symlink_loop",
}
_SURROGATE = re.compile("[\ud800-\udfff]")

# --- strategies -----------------------------------------------------------------------------

# Characters that trip text code: every kind of space and line break, zero-width and BOM,
# quotes and dashes in all styles, combining marks, mojibake fragments, controls, ligatures.
TRICKY = list(
    " \t\n\r\f\v\x0b\x1c\x85\u00a0\u2003\u2028\u2029\u202f\u3000\u200b\u200d\ufeff"
    ".!?;:,\"'“”‘’«»„‚′″–—‐-()[]&<>#%/\\\x00\x1b\x7f\ufffd"
    "AaBbZzÀàéÉıİßſﬁ½²０１ｱ\u0301\u0308\u0303"
) + [
    "Ã©",
    "Ã¨",
    "Ã ",
    "â€™",
    "â€œ",
    "Ã\xa0",
    "à½",
    ".It",
    "”Che",
    "&amp;",
    "&#x27;",
    "\r\n",
    "Putin",
    "Mosca",
    "NATO",
    "Peskov",
    " date 2024-03-01",
    "https://e.org/a",
]
tricky_text = st.lists(st.one_of(st.sampled_from(TRICKY), st.characters()), max_size=60).map(
    "".join
)
any_text = st.one_of(st.text(max_size=200), tricky_text)


def _seed_sentences() -> list[str]:
    text = " ".join(path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt")))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 20]


SENTENCES = _seed_sentences()
# Texts that read like news (so entity rules fire) with random unicode spliced in.
news_text = st.lists(
    st.one_of(st.sampled_from(SENTENCES), tricky_text, st.text(max_size=30)), min_size=1, max_size=8
).map(lambda parts: " ".join(parts))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
json_records = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(any_text, news_text, json_values),
        "title": st.one_of(any_text, json_values),
        "url": st.one_of(any_text, json_values),
        "published": st.one_of(any_text, json_values),
        "date": st.sampled_from(["2024-02-30", "0000-01-01", "9999-12", "2024"]),
        "author": json_values,
        "source": json_values,
    },
)
json_lines = st.one_of(
    json_records.map(json.dumps),
    json_values.map(json.dumps),
    json_records.map(lambda r: json.dumps(r, ensure_ascii=False)),
    any_text,
    st.sampled_from(
        [
            '{"text": "caf\\ud800 au lait"}',
            '{"text": "ok", "n": ' + "9" * 5000 + "}",
            "[" * 5000 + "]" * 5000,
            '{"text": NaN}',
            '{"text": "x"} trailing',
        ]
    ),
)

ENCODINGS = [
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "cp1252",
    "latin-1",
    "utf-32",
    "cp1251",
    "shift_jis",
]


@st.composite
def file_bytes(draw: st.DrawFn) -> bytes:
    """Bytes a user might drop in the inbox: text in some encoding (maybe cut short), JSON
    Lines, HTML fragments, or noise."""
    kind = draw(st.sampled_from(["text", "jsonl", "html", "binary"]))
    if kind == "binary":
        return draw(st.binary(max_size=600))
    if kind == "jsonl":
        body = "\n".join(draw(st.lists(json_lines, min_size=1, max_size=4)))
    elif kind == "html":
        tags = st.sampled_from(
            [
                "<p>",
                "</p>",
                "<div>",
                "</div>",
                "<script>",
                "</script>",
                "<article>",
                "<html><body>",
                "<!--",
                "-->",
                "<meta charset=x>",
                "<title>",
                "<![CDATA[",
                "<?xml version='1.0'?>",
            ]
        )
        body = "".join(draw(st.lists(st.one_of(tags, news_text), max_size=12)))
    else:
        body = draw(news_text | any_text)
    data = body.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    cut = draw(st.integers(0, 3))
    return data[: len(data) - cut] if cut else data


def _ascii_host() -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            "example.com",
            "EXAMPLE.com.",
            "bücher.de",
            "xn--bcher-kva.de",
            "127.0.0.1",
            "[::1]",
            "[fe80::1%25eth0]",
            "a_b.example",
            "",
            " ",
            "exa mple.com",
            "ex%41mple.com",
            "example.com:80",
            "example.com:0",
            "example.com:99999",
            "example.com:+80",
            "example.com:",
        ]
    )


@st.composite
def urls(draw: st.DrawFn) -> str:
    """URL-shaped strings: odd schemes, credentials, hosts, ports, dot segments, escapes,
    tracking parameters and fragments."""
    scheme = draw(
        st.sampled_from(
            ["http", "https", "HTTP", "hTtPs", "ftp", "file", "javascript", "data", "mailto", ""]
        )
    )
    user = draw(st.sampled_from(["", "user@", "user:pass@", ":@"]))
    host = draw(_ascii_host() | st.text(max_size=12))
    segment = st.one_of(
        st.sampled_from(
            [".", "..", "", "%7E", "%2F", "%zz", "%41", "~", "é", " ", "a b", "%25", ";", "@", ":"]
        ),
        st.text(max_size=6),
    )
    path = "/".join(draw(st.lists(segment, max_size=5)))
    name = st.one_of(
        st.sampled_from(["utm_source", "fbclid", "a", "A", "", "gclid"]), st.text(max_size=5)
    )
    params = draw(
        st.lists(
            st.tuples(name, st.text(max_size=6) | st.sampled_from(["+", "%20", "&", "="])),
            max_size=3,
        )
    )
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(st.sampled_from(["", "#top", "#", "#a?b"]))
    url = f"{scheme}://{user}{host}/{path}" + (f"?{query}" if query else "") + fragment
    return draw(st.sampled_from([url, url.upper(), f" {url} ", url.replace("/", "\\")]))


# --- parsers ----------------------------------------------------------------------------------


@THOROUGH
@given(any_text)
def test_split_txt_never_raises_and_keeps_a_stripped_body(text: str) -> None:
    fields = split_txt(text)
    assert fields["text"] == fields["text"].strip()
    assert fields["url"] is None or re.fullmatch(r"https?://\S+", fields["url"])
    assert (fields["published"] is None) == (fields["published_precision"] is None)


@THOROUGH
@given(json_lines)
@example('{"text": "caf\\ud800 au lait", "title": "\\udfff"}')
@example("[" * 100_000 + "]" * 100_000)
@example('{"text": "ok", "n": ' + "9" * 5000 + "}")
def test_parse_json_record_fails_only_with_a_reason(line: str) -> None:
    try:
        fields = parse_json_record(line)
    except Fail as fail:
        assert fail.reason in {"invalid_json", "missing_text"}
        return
    assert fields["text"].strip()
    for value in fields.values():  # DuckDB refuses strings it cannot encode as UTF-8
        assert not isinstance(value, str) or not _SURROGATE.search(value)


@THOROUGH
@given(st.one_of(any_text, json_values, st.dates().map(str), st.datetimes().map(str)))
def test_published_day_gives_a_date_and_precision_or_nothing(value: object) -> None:
    date, precision = published_day(value)
    assert (date is None) == (precision is None)
    assert date is None or (isinstance(date, dt.date) and precision in {"day", "month", "year"})


@THOROUGH
@given(st.binary(max_size=300) | file_bytes())
def test_decode_gives_text_or_binary_content(data: bytes) -> None:
    try:
        text, encoding = decode(data)
    except BinaryContent:
        return
    assert isinstance(text, str) and encoding
    assert not _SURROGATE.search(text)


@THOROUGH
@given(st.text())
def test_decode_round_trips_utf8_and_utf16(text: str) -> None:
    assume("\x00" not in text and not text.startswith("\ufeff"))
    assert decode(text.encode("utf-8")) == (text, "utf-8")
    assert decode(text.encode("utf-16")) == (text, "utf-16")


@given(st.text(alphabet=st.characters(codec="cp1252"), min_size=1))
@THOROUGH
def test_decode_reads_cp1252(text: str) -> None:
    data = text.encode("cp1252")
    assume(b"\x00" not in data and not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")))
    head = decode_cut_short(data, "utf-8")
    # Bytes that read as UTF-8 (up to a last character cut short, after some non-ASCII
    # letter) are UTF-8: cp1252 text is almost never valid UTF-8 by chance ('Â\xa0Â'); nor
    # is text in which no byte pair forms a UTF-8 character at all.
    as_utf8 = data.decode("utf-8", errors="replace")
    if head is None and all(ch == "\ufffd" or ord(ch) < 128 for ch in as_utf8) or (
            head is not None and head[1] and head[0][:-1].isascii()):
        assert decode(data) == (text, "cp1252")
    elif head is not None and head[1]:
        assert decode(data) == (head[0], "utf-8")


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


@FAST
@given(data=file_bytes(), suffix=st.sampled_from([*FORMATS, ".pdf", "", ".TXT", ".Html"]))
def test_parse_file_gives_articles_or_rejects_with_a_known_reason(
    scratch: Path, data: bytes, suffix: str
) -> None:
    path = scratch / f"input{suffix}"
    path.write_bytes(data)
    info = path.stat()
    candidate = Candidate(
        source_id=source_id_for(str(path)),
        locator=str(path),
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
    )
    outcome = parse_file(candidate, None, max_bytes=100_000)
    assert outcome.articles or outcome.rejects
    assert {r.reason for r in outcome.rejects} <= PARSE_REASONS, outcome.rejects
    for article in outcome.articles:
        assert article.text.strip()
        for value in article.model_dump().values():
            assert not isinstance(value, str) or not _SURROGATE.search(value)


# --- feeds and sitemaps -------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=300) | file_bytes() | any_text.map(lambda t: f"<rss>{t}</rss>".encode()))
def test_feed_and_sitemap_parsers_fail_only_with_a_reason(data: bytes) -> None:
    for parse, reason in ((parse_feed, "bad_feed"), (parse_sitemap, "bad_sitemap")):
        try:
            parse(data, "https://example.org/feed")
        except DiscoveryError as error:
            assert error.reason == reason


# --- the cleaner ------------------------------------------------------------------------------


@settings(THOROUGH, max_examples=1500)
@given(any_text | news_text)
@example("à½\t.")  # ftfy read the tab-turned-space as a lost no-break space on the 2nd pass
@example("e\u200b\u0301")  # removing the zero-width space made a new NFC composition
@example("&\u200bamp;")  # ... or a new HTML entity
def test_clean_text_is_idempotent(text: str) -> None:
    once, _ = clean_text(text)
    twice, notes = clean_text(once)
    assert twice == once, notes
    assert notes == []
    assert text_hash(twice) == text_hash(once)


@st.composite
def reformatted(draw: st.DrawFn) -> tuple[str, str]:
    """A text of words, quotes and paragraphs, and the same text laid out differently: lines
    re-wrapped inside paragraphs, spaces doubled, quote and dash glyphs swapped, blank lines
    added. text_key must not see the difference."""
    word = st.sampled_from(
        [
            "said",
            "Putin",
            "“Hello",
            "world”",
            '"quoted"',
            "it’s",
            "it's",
            "—",
            "-",
            "a",
            "NATO",
            "2024",
            "“",
            "”",
            '"',
            "'",
            "«",
            "»",
        ]
    )
    paragraphs = draw(st.lists(st.lists(word, min_size=1, max_size=8), min_size=1, max_size=4))
    swaps = str.maketrans({"“": '"', "”": '"', "’": "'", "—": "-", "«": '"', "»": '"'})
    original, variant = [], []
    for words in paragraphs:
        original.append(" ".join(words))
        seps = [draw(st.sampled_from([" ", "  ", "\n", " \n ", "\t"])) for _ in words[1:]]
        line = words[0] + "".join(sep + w for sep, w in zip(seps, words[1:], strict=True))
        variant.append(line.translate(swaps) if draw(st.booleans()) else line)
    gap = draw(st.sampled_from(["\n\n", "\n\n\n", "\n \n", "\r\n\r\n"]))
    return "\n\n".join(original), gap.join(variant)


@THOROUGH
@given(reformatted())
@example(('said "Hello', 'said\n"Hello'))  # a quote at a wrapped line kept its space
def test_text_key_folds_layout_quotes_and_dashes(pair: tuple[str, str]) -> None:
    original, variant = pair
    assert text_key(original) == text_key(variant)
    assert text_hash(clean_text(original)[0]) == text_hash(clean_text(variant)[0])


@THOROUGH
@given(any_text)
def test_text_key_is_a_pure_function_of_the_cleaned_text(text: str) -> None:
    cleaned, _ = clean_text(text)
    assert text_key(cleaned) == text_key(clean_text(cleaned)[0])
    assert "\n\n" not in text_key(cleaned) and "  " not in text_key(cleaned)


# --- URLs -----------------------------------------------------------------------------------


@settings(THOROUGH, max_examples=1500)
@given(urls() | st.text(max_size=40))
def test_canonicalize_url_is_idempotent_or_refuses_with_a_reason(url: str) -> None:
    try:
        canonical = canonicalize_url(url)
    except UrlError as error:
        assert error.reason in {"bad_url", "bad_scheme", "credentials_in_url"}
        return
    assert canonicalize_url(canonical) == canonical
    assert "#" not in canonical and canonical.split(":", 1)[0] in {"http", "https"}
    query = canonical.partition("?")[2]
    assert not any(is_tracking_param(pair.split("=", 1)[0]) for pair in query.split("&") if pair)


# --- entity offsets -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mentions_table() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory table to check offsets the way analysts use them (DuckDB substring)."""
    con = duckdb.connect()
    con.execute(
        "create table t (text varchar, start_char integer, end_char integer, surface varchar)"
    )
    yield con
    con.close()


@FAST
@given(
    texts=st.lists(news_text, min_size=1, max_size=4),
    languages=st.lists(
        st.sampled_from(["en", "it", "und", "zh-cn", "EN", "xx", "??"]), min_size=4, max_size=4
    ),
)
def test_mention_offsets_index_the_cleaned_text(
    mentions_table: duckdb.DuckDBPyConnection, texts: list[str], languages: list[str]
) -> None:
    cleaned = [clean_text(text)[0] for text in texts]
    items = [(f"d{n}", text, languages[n]) for n, text in enumerate(cleaned)]
    mentions = tag_entities(items)
    by_id = dict((doc_id, text) for doc_id, text, _ in items)
    for mention in mentions:
        text = by_id[mention.doc_id]
        assert 0 <= mention.start_char < mention.end_char <= len(text)
        assert text[mention.start_char : mention.end_char] == mention.text
    mentions_table.execute("delete from t")
    if mentions:
        rows = [(by_id[m.doc_id], m.start_char, m.end_char, m.text) for m in mentions]
        mentions_table.executemany("insert into t values (?, ?, ?, ?)", rows)
        wrong = mentions_table.execute(
            "select count(*) from t where substring(text, start_char + 1, end_char - start_char)"
            " <> surface"
        ).fetchone()[0]
        assert wrong == 0


def test_a_name_reaching_into_a_blanked_run_is_dropped() -> None:
    """Found by the test above: with the bundled English model, the news rules made one name
    of "C <blanked URL>\\nIl"; its text was no longer the stored text's."""
    text = clean_text(
        "C https://www.lantidiplomatico.it/dettnews-mosca_chiede_garanzie_scritte_la_nato_"
        "risponde_no/45289_44871/\n Il ministro della Difesa Guido Crosetto ha confermato che "
        "l'Italia continuerà a sostenere l'Ucraina, ma ha escluso l'invio di soldati italiani sul "
        "territorio ucraino.")[0]
    mentions = tag_entities([("d", text, "en")])
    assert mentions and all(text[m.start_char:m.end_char] == m.text for m in mentions)
    assert all(m.start_char > text.index("\n") for m in mentions)  # "C <url>\nIl" is gone
