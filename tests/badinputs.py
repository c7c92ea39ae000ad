"""The bad-input corpus: every kind of file and URL that corpusflow must survive, and what each
must end as (a document, or a reject with this reason).

Nothing here is stored in the repository: `write_inbox` generates the files into a folder at
test time (the 200 MB file is sparse, so it costs no disk and no time), `bad_urls` names URLs on
the test server of tests/httpserver.py, and `EXTRA_ROUTES` are pages that server lacks.

An expectation maps a locator relative to the inbox (a record of a JSON Lines file adds
`#<line>`) to "document", "duplicate", "ignored" (not an input, e.g. a folder) or a reason.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.httpserver import EMPTY_HTML, _Handler

DOCUMENT, DUPLICATE, IGNORED = "document", "duplicate", "ignored"
HUGE_BYTES = 200 * 1024 * 1024
MAX_FILE_BYTES = 10_000_000  # the limit the tests set (CORPUSFLOW_MAX_FILE_BYTES)

_IT = (
    "Perché il caffè costa più caro quest'anno? Lo spiega l'Istat nel rapporto annuale sui "
    "prezzi al consumo, pubblicato giovedì a Roma. Secondo l'istituto la città più cara è "
    "Bolzano, e il governo promette misure per le famiglie entro l'estate."
)
_EN = (
    "Vladimir Putin spoke in Moscow on Friday about the talks with Nato, the Kremlin said. "
    "Kremlin spokesman Dmitry Peskov told reporters in the Russian capital that no date had "
    "been set for a meeting, and that the foreign ministry would publish a statement."
)
_RU = "Президент России Владимир Путин заявил в Москве, что переговоры продолжатся. "


def article(kind: str, base: str = _IT) -> str:
    """A short article whose first sentence names its kind, so that no two are duplicates."""
    return f"Caso di prova: {kind}.\n\n{base}\n\n{base.replace('.', ';', 1)}"


@dataclass(frozen=True)
class BadFile:
    """One kind of bad file: how to write it and what every locator it yields must end as."""

    kind: str
    write: Callable[[Path, Path], None]  # (inbox, a folder outside the inbox)
    expect: dict[str, str]
    contains: dict[str, str] = field(default_factory=dict)  # locator → text its document holds


def _bytes(name: str, data: bytes | Callable[[], bytes]) -> Callable[[Path, Path], None]:
    def write(inbox: Path, outside: Path) -> None:
        (inbox / name).write_bytes(data() if callable(data) else data)

    return write


def _text(name: str, text: str, encoding: str) -> Callable[[Path, Path], None]:
    return _bytes(name, text.encode(encoding))


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _sparse(name: str, size: int) -> Callable[[Path, Path], None]:
    def write(inbox: Path, outside: Path) -> None:
        with (inbox / name).open("wb") as file:
            file.truncate(size)  # a hole: no blocks written, instant

    return write


def _link(name: str, target: Callable[[Path, Path], Path]) -> Callable[[Path, Path], None]:
    def write(inbox: Path, outside: Path) -> None:
        (inbox / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target(inbox, outside), inbox / name)

    return write


def _outside_file(inbox: Path, outside: Path) -> Path:
    secret = outside / "secret.txt"
    secret.write_text(article("a private file outside the inbox", _EN), encoding="utf-8")
    return secret


def _outside_folder(inbox: Path, outside: Path) -> Path:
    folder = outside / "elsewhere"
    folder.mkdir(exist_ok=True)
    (folder / "other.txt").write_text(article("a file in a folder outside", _EN))
    return folder


def _fifo(name: str) -> Callable[[Path, Path], None]:
    def write(inbox: Path, outside: Path) -> None:
        os.mkfifo(inbox / name)

    return write


def _folder_named_like_a_file(inbox: Path, outside: Path) -> None:
    (inbox / "folder.txt").mkdir()
    (inbox / "folder.txt" / "inner.txt").write_text(article("a file in a folder named .txt"))


def _locked(inbox: Path, outside: Path) -> None:
    path = inbox / "locked.txt"
    path.write_text(article("a file with permissions 000"), encoding="utf-8")
    path.chmod(0)


def _undecodable_name(inbox: Path, outside: Path) -> None:
    with open(os.fsencode(inbox) + b"/caf\xe9 latin-1 name.txt", "wb") as file:
        file.write(article("a name that is not UTF-8").encode("utf-8"))


def _jsonl(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _record(kind: str, **extra: object) -> str:
    return json.dumps({"title": kind, "text": article(kind, _EN), **extra})


def _deep_html() -> bytes:
    depth = 5000
    return (
        "<html><body>"
        + "<div>" * depth
        + f"<p>{article('deeply nested HTML', _EN)}</p>"
        + "</div>" * depth
        + "</body></html>"
    ).encode("utf-8")


def _malformed_html(kind: str, title_end: str = "</title>") -> bytes:
    body = article(kind, _EN).replace("\n\n", "<p class=x id='y>")
    return (
        f"<html><head><title>Broken{title_end}</div><body><div><p>{body}<b><i>unclosed"
        "</p></span><table><tr><td>"
    ).encode()


def _billion_laughs() -> bytes:
    entities = "".join(
        f'<!ENTITY l{n} "&l{n - 1};&l{n - 1};&l{n - 1};&l{n - 1};">' for n in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY l0 "lol">{entities}]>'
        "<html><body><p>&l9;</p></body></html>"
    ).encode()


def _cp1251_page() -> bytes:
    return (
        "<html><head><meta charset='windows-1251'><title>Новости</title></head><body>"
        f"<article><h1>Новости</h1><p>{_RU * 4}</p><p>{_RU * 3}</p></article></body></html>"
    ).encode("cp1251")


def _mixed_encodings() -> bytes:
    text = article("mixed encodings")
    head, tail = text[: len(text) // 2], text[len(text) // 2 :]
    return head.encode("utf-8") + tail.encode("cp1252")


def _truncated_utf8() -> bytes:
    data = (article("truncated UTF-8") + " Fine della città").encode("utf-8")
    return data[:-1]  # "à" is two bytes: the file ends inside it


def _huge_line() -> bytes:
    rng = random.Random(7)
    words = _EN.replace(",", "").replace(".", "").split()
    return " ".join(rng.choice(words) for _ in range(300_000)).encode("utf-8")


BAD_FILES: list[BadFile] = [
    BadFile("zero bytes", _bytes("empty.txt", b""), {"empty.txt": "empty_file"}),
    BadFile("white space only", _bytes("blank.txt", b" \n\t\r\n  \n"), {"blank.txt": "empty_text"}),
    BadFile(
        "binary noise",
        _bytes("noise.txt", lambda: _noise(4096, 1)),
        {"noise.txt": "binary_content"},
    ),
    BadFile(
        "a PNG named .html",
        _bytes("photo.html", lambda: b"\x89PNG\r\n\x1a\n" + _noise(2048, 2)),
        {"photo.html": "binary_content"},
    ),
    BadFile(
        "gzip named .txt",
        _bytes("archive.txt", lambda: gzip.compress(_IT.encode() * 20)),
        {"archive.txt": "binary_content"},
    ),
    BadFile(
        "control characters, no NUL",
        _bytes("controls.txt", bytes(range(1, 32)) * 40),
        {"controls.txt": "binary_content"},
    ),
    BadFile(
        "binary named .jsonl",
        _bytes("data.jsonl", lambda: _noise(1024, 3)),
        {"data.jsonl": "binary_content"},
    ),
    BadFile(
        "truncated UTF-8",
        _bytes("truncated.txt", _truncated_utf8),
        {"truncated.txt": DOCUMENT},
        {"truncated.txt": "Perché il caffè costa più caro"},
    ),
    BadFile(
        "UTF-16 LE with BOM",
        _bytes("utf16-le-bom.txt", b"\xff\xfe" + article("UTF-16 LE BOM").encode("utf-16-le")),
        {"utf16-le-bom.txt": DOCUMENT},
        {"utf16-le-bom.txt": "Perché il caffè"},
    ),
    BadFile(
        "UTF-16 BE with BOM",
        _bytes("utf16-be-bom.txt", b"\xfe\xff" + article("UTF-16 BE BOM").encode("utf-16-be")),
        {"utf16-be-bom.txt": DOCUMENT},
        {"utf16-be-bom.txt": "Perché il caffè"},
    ),
    BadFile(
        "UTF-16 LE without BOM",
        _text("utf16-le.txt", article("UTF-16 LE"), "utf-16-le"),
        {"utf16-le.txt": DOCUMENT},
        {"utf16-le.txt": "Perché il caffè"},
    ),
    BadFile(
        "UTF-16 BE without BOM",
        _text("utf16-be.txt", article("UTF-16 BE"), "utf-16-be"),
        {"utf16-be.txt": DOCUMENT},
        {"utf16-be.txt": "Perché il caffè"},
    ),
    BadFile(
        "UTF-16 cut to an odd length",
        _bytes("utf16-cut.txt", article("UTF-16 cut short").encode("utf-16")[:-1]),
        {"utf16-cut.txt": DOCUMENT},
        {"utf16-cut.txt": "Perché il caffè"},
    ),
    BadFile(
        "UTF-8 with BOM",
        _text("utf8-bom.txt", "\ufeff" + article("UTF-8 BOM"), "utf-8"),
        {"utf8-bom.txt": DOCUMENT},
        {"utf8-bom.txt": "Perché il caffè"},
    ),
    BadFile(
        "cp1252",
        _text("cp1252.txt", article("cp1252 “curly”"), "cp1252"),
        {"cp1252.txt": DOCUMENT},
        {"cp1252.txt": "Perché il caffè"},
    ),
    BadFile(
        "UTF-8 and cp1252 mixed",
        _bytes("mixed.txt", _mixed_encodings),
        {"mixed.txt": DOCUMENT},
        {"mixed.txt": "la città più cara è Bolzano"},
    ),
    BadFile(
        "cp1251 page declaring its charset",
        _bytes("russian.html", _cp1251_page),
        {"russian.html": DOCUMENT},
        {"russian.html": "Владимир Путин"},
    ),
    BadFile("a 200 MB file", _sparse("huge.txt", HUGE_BYTES), {"huge.txt": "too_large"}),
    BadFile("a 2 MB single line", _bytes("one-line.txt", _huge_line), {"one-line.txt": DOCUMENT}),
    BadFile(
        "deeply nested HTML", _bytes("nested.html", _deep_html), {"nested.html": "no_article_text"}
    ),
    BadFile(
        "malformed HTML",
        _bytes("malformed.html", lambda: _malformed_html("malformed")),
        {"malformed.html": DOCUMENT},
        {"malformed.html": "Dmitry Peskov told reporters"},
    ),
    BadFile(
        "an unclosed <title> swallowing the page",
        _bytes("no-title-end.html", lambda: _malformed_html("unclosed title", "")),
        {"no-title-end.html": "no_article_text"},
    ),
    BadFile(
        "HTML with only scripts",
        _bytes("scripts.html", EMPTY_HTML.encode()),
        {"scripts.html": "no_article_text"},
    ),
    BadFile(
        "HTML entity bomb",
        _bytes("laughs.html", _billion_laughs),
        {"laughs.html": "no_article_text"},
    ),
    BadFile(
        "JSON Lines with one broken line",
        _bytes(
            "feed.jsonl",
            _jsonl(
                _record("jsonl record one"),
                '{"title": "broken", "text": "no closing brace"',
                _record("jsonl record three"),
            ),
        ),
        {"feed.jsonl#1": DOCUMENT, "feed.jsonl#2": "invalid_json", "feed.jsonl#3": DOCUMENT},
    ),
    BadFile(
        "JSON that is not an object",
        _bytes("string.json", b'"just a string"'),
        {"string.json#1": "invalid_json"},
    ),
    BadFile(
        "JSON array of non-objects",
        _bytes("numbers.json", b"[1, null]"),
        {"numbers.json#1": "invalid_json", "numbers.json#2": "invalid_json"},
    ),
    BadFile(
        "JSON record without text",
        _bytes("untitled.jsonl", _jsonl('{"title": "no text"}')),
        {"untitled.jsonl#1": "missing_text"},
    ),
    BadFile(
        "JSON nested 100,000 deep",
        _bytes("deep.jsonl", _jsonl(_record("beside a deep line"), "[" * 100_000 + "]" * 100_000)),
        {"deep.jsonl#1": DOCUMENT, "deep.jsonl#2": "invalid_json"},
    ),
    BadFile(
        "JSON with a 5,000-digit number",
        _bytes(
            "bignum.jsonl",
            _jsonl(_record("beside a huge number"), '{"text": "x", "n": ' + "9" * 5000 + "}"),
        ),
        {"bignum.jsonl#1": DOCUMENT, "bignum.jsonl#2": "invalid_json"},
    ),
    BadFile(
        "JSON with half a surrogate pair",
        _bytes(
            "surrogate.jsonl",
            _jsonl(_record("a lone surrogate \\ud800 in the text").replace("\\\\ud800", "\\ud800")),
        ),
        {"surrogate.jsonl#1": DOCUMENT},
    ),
    BadFile(
        "unsupported format",
        _bytes("report.pdf", b"%PDF-1.4\n%%EOF\n"),
        {"report.pdf": "unsupported_format"},
    ),
    BadFile(
        "no extension",
        _text("README", article("no extension"), "utf-8"),
        {"README": "unsupported_format"},
    ),
    BadFile(
        "a symlink to a file outside the inbox",
        _link("passwd.txt", _outside_file),
        {"passwd.txt": "outside_inbox"},
    ),
    BadFile(
        "a symlink to a folder outside the inbox",
        _link("elsewhere", _outside_folder),
        {"elsewhere": "outside_inbox"},
    ),
    BadFile(
        "a symlink to nothing",
        _link("gone.txt", lambda i, o: i / "never-written.txt"),
        {"gone.txt": "broken_link"},
    ),
    BadFile(
        "a symlink to itself",
        _link("loop.txt", lambda i, o: i / "loop.txt"),
        {"loop.txt": "symlink_loop"},
    ),
    BadFile(
        "a folder link back up the inbox", _link("sub/back", lambda i, o: i), {"sub/back": IGNORED}
    ),
    BadFile("a FIFO named .txt", _fifo("pipe.txt"), {"pipe.txt": "not_a_file"}),
    BadFile(
        "a newline in the name",
        _text("line\nbreak.txt", article("newline name"), "utf-8"),
        {"line\nbreak.txt": DOCUMENT},
    ),
    BadFile(
        "quotes in the name",
        _text("say \"hi\" 'there'.txt", article("quotes name"), "utf-8"),
        {"say \"hi\" 'there'.txt": DOCUMENT},
    ),
    BadFile(
        "emoji in the name",
        _text("📰 news 🗞️.txt", article("emoji name"), "utf-8"),
        {"📰 news 🗞️.txt": DOCUMENT},
    ),
    BadFile(
        "a 250-byte name",
        _text("n" * 246 + ".txt", article("long name"), "utf-8"),
        {"n" * 246 + ".txt": DOCUMENT},
    ),
    BadFile(  # its locator is its file URI (tasks.discover.utf8_name)
        "a name that is not UTF-8", _undecodable_name, {"caf%E9%20latin-1%20name.txt": DOCUMENT}),
    BadFile(  # once given the same locator as the latin-1 name above
        "a name spelling a backslash escape",
        _text("caf\\xe9 latin-1 name.txt", article("a backslash in the name"), "utf-8"),
        {"caf\\xe9 latin-1 name.txt": DOCUMENT},
    ),
    BadFile(
        "a leading dash, a '#' and spaces",
        _text("-rf #1 .txt", article("dash name"), "utf-8"),
        {"-rf #1 .txt": DOCUMENT},
    ),
    BadFile(
        "a folder named like a file",
        _folder_named_like_a_file,
        {"folder.txt": IGNORED, "folder.txt/inner.txt": DOCUMENT},
    ),
    BadFile(
        "permissions 000",
        _locked,
        {"locked.txt": DOCUMENT if os.geteuid() == 0 else "permission_denied"},
    ),
    BadFile(
        "old Mac line ends (CR only)",
        _text(
            "classic-mac.txt",
            " date 2024-02-03\r" + article("CR line ends").replace("\n", "\r"),
            "utf-8",
        ),
        {"classic-mac.txt": DOCUMENT},
    ),
    BadFile(
        "a date header and nothing else",
        _bytes("only-date.txt", b" date 2024-01-01\n"),
        {"only-date.txt": "empty_text"},
    ),
    BadFile(
        "an impossible date header",
        _text("bad-date.txt", " date 2024-13-45\n" + article("impossible date"), "utf-8"),
        {"bad-date.txt": DOCUMENT},
        {"bad-date.txt": "Caso di prova: impossible date."},
    ),
    BadFile(
        "stray NUL bytes near the start",
        _bytes("early-nul.txt", b"\x00" + article("early NUL").encode().replace(b".", b".\x00", 2)),
        {"early-nul.txt": DOCUMENT},
        {"early-nul.txt": "Caso di prova: early NUL."},
    ),
    BadFile(
        "a NUL byte deep in a text",
        _bytes("late-nul.txt", article("late NUL").encode() * 30 + b"\x00 and the rest"),
        {"late-nul.txt": DOCUMENT},
    ),
]

# Files the flow test makes bad while the run is under way (see test_bad_inputs.py).
VANISHING = "vanishing.txt"
GROWING = "growing.txt"


def write_inbox(inbox: Path, outside: Path) -> dict[str, str]:
    """Write every bad file into `inbox` (symlink targets into `outside`); the expectations."""
    expected: dict[str, str] = {}
    for bad in BAD_FILES:
        bad.write(inbox, outside)
        expected.update(bad.expect)
    return expected


def document_texts() -> dict[str, str]:
    """Locator → a sentence its document must contain."""
    return {locator: text for bad in BAD_FILES for locator, text in bad.contains.items()}


# ---------------------------------------------------------------- URLs


def _page(handler: _Handler, body: bytes, content_type: str = "text/html") -> None:
    handler.send_page(200, body, content_type)


def _utf16_article() -> bytes:
    paragraphs = "".join(f"<p>{article(f'UTF-16 page, paragraph {n}', _EN)}</p>" for n in range(3))
    html = f"<html><head><title>UTF-16</title></head><body><article>{paragraphs}</article></body></html>"
    return html.encode("utf-16")


def _gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * 60_000_000, compresslevel=9)


EXTRA_ROUTES: dict[str, Callable[[_Handler, int], None]] = {
    "/bad/noise.html": lambda h, c: _page(h, _noise(50_000, 4)),
    "/bad/nested.html": lambda h, c: _page(h, _deep_html()),
    "/bad/utf16.html": lambda h, c: _page(h, _utf16_article()),
    "/bad/bomb-sitemap.xml.gz": lambda h, c: _page(h, _gzip_bomb(), "application/gzip"),
    "/bad/empty-feed.xml": lambda h, c: _page(h, b"", "application/rss+xml"),
    "/bad/hostile-feed.xml": lambda h, c: _page(
        h,
        (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
            "<item><link>javascript:alert(1)</link></item>"
            "<item><link>http://user:pw@example.org/a</link></item>"
            "<item><link>file:///etc/passwd</link></item>"
            "</channel></rss>"
        ).encode(),
        "application/rss+xml",
    ),
    "/bad/not-a-feed.xml": lambda h, c: _page(
        h, b"<html><body>hello</body></html>", "application/xml"
    ),
}


@dataclass(frozen=True)
class BadUrl:
    """One kind of bad URL: where it goes in the flow's parameters and what it must end as."""

    kind: str
    param: str  # urls, feeds or sitemaps
    url: str
    expect: dict[str, str]  # locator → reason (or "document")


def bad_urls(base: str) -> list[BadUrl]:
    """The bad URLs for a test server at `base` (http://127.0.0.1:<port>)."""
    host = base.split("://", 1)[1]

    def page(kind: str, path: str, reason: str, field: str = "urls") -> BadUrl:
        return BadUrl(kind, field, base + path, {base + path: reason})

    def scheme(kind: str, url: str, reason: str = "bad_scheme") -> BadUrl:
        return BadUrl(kind, "urls", url, {url: reason})

    return [
        scheme("credentials in the URL", f"http://user:secret@{host}/news/", "credentials_in_url"),
        scheme("ftp:", "ftp://files.example.org/report.txt"),
        scheme("file:", "file:///etc/passwd"),
        scheme("javascript:", "javascript:alert(document.cookie)"),
        scheme("data:", "data:text/html,<p>hello</p>"),
        scheme("mailto:", "mailto:editor@example.org"),
        scheme("no host", "http:///news/", "bad_url"),
        scheme("a port out of range", "http://127.0.0.1:99999/news/", "bad_url"),
        scheme("a space in the host", "http://exa mple.org/news/", "bad_url"),
        scheme("a private address", "http://10.1.2.3/admin", "blocked_address"),
        scheme("a name that does not resolve", "http://nonexistent.invalid/news/", "dns_error"),
        page("a 404", "/news/2024/03/missing.html", "http_404"),
        page("a redirect loop", "/loop/a", "redirect_loop"),
        page("a redirect to a private address", "/to-internal", "blocked_address"),
        page("a redirect to ftp:", "/to-ftp", "bad_scheme"),
        page("a PDF", "/report.pdf", "not_html"),
        page("a body over the limit", "/big.html", "too_large"),
        page("a page of scripts only", "/empty.html", "empty_extraction"),
        page("a page too short to be an article", "/short.html", "too_short"),
        page("a section front", "/news/", "index_page"),
        page("a path robots.txt disallows", "/private/memo.html", "robots_disallowed"),
        page("a server that always fails", "/always-503.html", "http_503"),
        page("binary noise served as HTML", "/bad/noise.html", "binary_content"),
        page("deeply nested HTML", "/bad/nested.html", "empty_extraction"),
        page("a UTF-16 page", "/bad/utf16.html", DOCUMENT),
        page("a feed with broken XML", "/broken-feed.xml", "bad_feed", "feeds"),
        page("an empty feed", "/bad/empty-feed.xml", "bad_feed", "feeds"),
        page("XML that is not a feed", "/bad/not-a-feed.xml", "bad_feed", "feeds"),
        BadUrl(
            "a feed of hostile links",
            "feeds",
            base + "/bad/hostile-feed.xml",
            {
                "javascript:alert(1)": "bad_scheme",
                "http://user:pw@example.org/a": "credentials_in_url",
                "file:///etc/passwd": "bad_scheme",
            },
        ),
        page("a sitemap with broken XML", "/broken-sitemap.xml", "bad_sitemap", "sitemaps"),
        page("a gzip bomb sitemap", "/bad/bomb-sitemap.xml.gz", "bad_sitemap", "sitemaps"),
    ]
