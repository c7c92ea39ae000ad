"""Pure-function tables for tasks/parse.py and what it uses (tasks/decode.py, tasks/dates.py):
decoding files, the seeds' text format, JSON Lines, HTML, dates."""

import datetime as dt
import json

import pytest

from tasks.dates import published_day
from tasks.decode import BinaryContent, decode
from tasks.parse import Fail, parse_file, parse_html, parse_json_record, split_txt
from warehouse.records import Candidate, source_id_for


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        ("naïve café".encode(), "naïve café", "utf-8"),
        ("naïve “café”".encode("cp1252"), "naïve “café”", "cp1252"),
        (b"\x81\x8d\x8f caf\xe9", "\x81\x8d\x8f café", "latin-1"),  # bytes cp1252 leaves undefined
        ("\ufeffhello".encode(), "hello", "utf-8-sig"),
        ("hello wörld".encode("utf-16"), "hello wörld", "utf-16"),
        ("hello world".encode("utf-16-le"), "hello world", "utf-16-le"),
    ],
)
def test_decode_file_bytes(data: bytes, text: str, encoding: str) -> None:
    assert decode(data) == (text, encoding)


def test_decode_rejects_binary() -> None:
    with pytest.raises(BinaryContent):
        decode(bytes(range(256)) * 4)


def test_a_file_with_a_few_damaged_bytes_stays_utf8() -> None:
    # The policy HTTP bodies always had, now for files too: one bad byte costs one character
    # instead of turning every accented letter into mojibake.
    data = "perché città è già così ".encode() * 5 + b"\xff fine"
    text, encoding = decode(data)
    assert encoding == "utf-8" and "perché città" in text and text.endswith("\ufffd fine")


def test_a_binary_file_is_rejected_with_its_reason(tmp_path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(256)) * 4)
    candidate = Candidate(source_id=source_id_for(str(path)), locator=str(path),
                          size=path.stat().st_size, mtime_ns=0)
    outcome = parse_file(candidate, None, 1_000_000)
    assert [r.reason for r in outcome.rejects] == ["binary_content"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-22", (dt.date(2024, 3, 22), "day")),
        ("2024-11", (dt.date(2024, 11, 1), "month")),
        ("2024", (dt.date(2024, 1, 1), "year")),
        ("2024-03-22T10:00:00+01:00", (dt.date(2024, 3, 22), "day")),
        ("2024-13-01", (None, None)),
        ("yesterday", (None, None)),
        ("Fri, 22 Mar 2024 10:00:00 GMT", (dt.date(2024, 3, 22), "day")),  # RFC 822, as RSS
        (None, (None, None)),
    ],
)
def test_published_day(value: object, expected: tuple) -> None:
    assert published_day(value) == expected


def test_split_txt_header_body_and_url() -> None:
    fields = split_txt(" date 2024-03-22\nBody line.\n\nMore.\nhttps://example.org/a?b=1\n\n")
    assert fields == {"published": dt.date(2024, 3, 22), "published_precision": "day",
                      "url": "https://example.org/a?b=1", "text": "Body line.\n\nMore.",
                      "repairs": []}


def test_split_txt_month_header_and_no_url() -> None:
    fields = split_txt(" date 2022-01\nSolo testo, niente link.")
    assert (fields["published"], fields["published_precision"]) == (dt.date(2022, 1, 1), "month")
    assert fields["url"] is None and fields["text"] == "Solo testo, niente link."


def test_split_txt_header_after_blank_lines() -> None:
    # A copy saved with blank lines on top is the same article: same date, same text.
    fields = split_txt("\n\n \r\n date 2024-03-22\nBody line.\nhttps://example.org/a\n")
    assert fields == {"published": dt.date(2024, 3, 22), "published_precision": "day",
                      "url": "https://example.org/a", "text": "Body line.", "repairs": []}


def test_split_txt_plain_keeps_everything() -> None:
    text = "A first line that mentions a date 2024-01-01 inline.\nAnd a URL https://x.org inline."
    assert split_txt(text) == {"published": None, "published_precision": None, "url": None,
                               "text": text, "repairs": []}


def test_split_txt_invalid_header_leaves_the_text_with_a_note() -> None:
    # An impossible date is no date, but the line is still the header, not the article's text.
    fields = split_txt(" date 2024-13-45\nBody")
    assert (fields["published"], fields["text"]) == (None, "Body")
    assert fields["repairs"] == ["invalid_date_header:2024-13-45"]


def test_json_record_fields() -> None:
    line = json.dumps({"title": "T", "text": "Body", "url": "https://e.org/x",
                       "published": "2024-05-01T08:00:00Z", "author": "A"})
    fields = parse_json_record(line)
    assert fields["title"] == "T" and fields["text"] == "Body"
    assert (fields["published"], fields["published_precision"]) == (dt.date(2024, 5, 1), "day")


def test_json_record_fields_of_another_type_are_left_out_and_noted() -> None:
    """A list for `url` was stored as "['x']", the Python text of the list; an impossible date
    vanished without a word (a .txt header notes it)."""
    fields = parse_json_record(json.dumps({
        "text": "Body", "url": ["https://e.org/x"], "author": {"name": "A"}, "title": 1984,
        "date": "2024-13-45"}))
    assert (fields["url"], fields["author"], fields["title"]) == (None, None, "1984")
    assert fields["published"] is None
    assert fields["repairs"] == ["invalid_date:2024-13-45", "ignored_field:url:list",
                                 "ignored_field:author:dict"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [("{not json", "invalid_json"), ("[1, 2]", "invalid_json"), ('{"title": "x"}', "missing_text"),
     ('{"text": "   "}', "missing_text")],
)
def test_json_record_rejects(line: str, reason: str) -> None:
    with pytest.raises(Fail) as failure:
        parse_json_record(line)
    assert failure.value.reason == reason


def test_a_json_error_says_where_once() -> None:
    with pytest.raises(Fail) as failure:
        parse_json_record('{"text": "cut off')
    assert failure.value.detail == "Unterminated string starting at: column 10"


HTML = """<html><head><title>Ignored title</title>
<meta property="og:title" content="Port reopens after storm">
<meta name="author" content="Jane Reporter">
<meta property="article:published_time" content="2024-02-03">
<link rel="canonical" href="https://news.example.org/port-reopens"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Port reopens after storm</h1>
<p>The harbour of the coastal town reopened on Saturday after a storm closed it for three days,
the port authority said in a statement published in the morning.</p>
<p>Fishing boats returned to their moorings and the ferry to the islands resumed its timetable,
although officials warned that some piers would stay closed for repairs until next month.</p>
</article><footer>Copyright Example News. All rights reserved.</footer></body></html>"""


def test_parse_html_text_and_metadata() -> None:
    fields = parse_html(HTML)
    assert "ferry to the islands resumed" in fields["text"]
    assert "All rights reserved" not in fields["text"] and "World" not in fields["text"]
    assert fields["title"] == "Port reopens after storm"
    assert fields["author"] == "Jane Reporter"
    assert fields["published"] == dt.date(2024, 2, 3)
    assert fields["url"] == "https://news.example.org/port-reopens"


def _candidate(path) -> Candidate:
    info = path.stat()
    return Candidate(source_id=source_id_for(str(path)), locator=str(path), size=info.st_size,
                         mtime_ns=info.st_mtime_ns)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty_file"),
        ("blank.txt", b"  \n\t\n", "empty_text"),
        ("image.txt", bytes(range(256)) * 8, "binary_content"),
        ("notes.pdf", b"%PDF-1.4 ...", "unsupported_format"),
        ("page.html", b"<html><body><nav>menu</nav></body></html>", "no_article_text"),
        ("only-header.txt", b" date 2024-01-02\n", "empty_text"),
    ],
)
def test_parse_file_rejects_with_reason(tmp_path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    outcome = parse_file(_candidate(path), None, max_bytes=10_000)
    assert not outcome.articles
    assert [r.reason for r in outcome.rejects] == [reason]


def test_parse_file_too_large(tmp_path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 100)
    outcome = parse_file(_candidate(path), None, max_bytes=100)
    assert [r.reason for r in outcome.rejects] == ["too_large"]


def test_parse_file_unchanged_bytes(tmp_path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Some text")
    first = parse_file(_candidate(path), None, 10_000)
    again = parse_file(_candidate(path), first.content_hash, 10_000)
    assert first.articles and again.unchanged and not again.articles


def test_parse_jsonl_keeps_good_lines_and_rejects_the_broken_one(tmp_path) -> None:
    path = tmp_path / "feed.jsonl"
    good = [json.dumps({"title": f"T{n}", "text": f"Body number {n}"}) for n in range(3)]
    path.write_text("\n".join([good[0], "{broken", good[1], good[2]]) + "\n")
    outcome = parse_file(_candidate(path), None, 10_000)
    assert [a.title for a in outcome.articles] == ["T0", "T1", "T2"]
    assert [(r.reason, r.locator.rsplit("#", 1)[1]) for r in outcome.rejects] == [
        ("invalid_json", "2")]
    assert len({a.source_id for a in outcome.articles}) == 3


def test_parse_file_cp1252_is_decoded_and_recorded(tmp_path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("Caffè “corretto” – 5 €".encode("cp1252"))
    outcome = parse_file(_candidate(path), None, 10_000)
    assert outcome.articles[0].text == "Caffè “corretto” – 5 €"
    assert outcome.articles[0].encoding == "cp1252"
