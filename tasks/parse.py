"""Read inbox files into ParsedArticle records: bytes → text (with a recorded encoding) → fields.

Formats: `.txt` (optional ` date YYYY-MM[-DD]` header line, optional trailing URL line),
`.html`/`.htm` (trafilatura, with metadata), `.jsonl`/`.json` (one article per record).
Every failure is a Reject with a reason; nothing here raises for bad input."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.dates import published_day
from tasks.decode import BinaryContent, decode_with_rule
from tasks.discover import is_inside, utf8_text
from tasks.extract import read_page
from tasks.records import InboxFile, Outcome, part_of
from warehouse.records import (
    Candidate,
    ParsedArticle,
    Reject,
    sha256_hex,
    source_id_for,
)
from warehouse.settings import FilesSettings

FORMATS = {".txt": "txt", ".text": "txt", ".html": "html", ".htm": "html",
           ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}

_DATE_HEADER = re.compile(r"^\s*date\s+(\d{4})-(\d{2})(?:-(\d{2}))?\s*$", re.IGNORECASE)
_URL_LINE = re.compile(r"^\s*(https?://\S+)\s*$")
_TEXT_FIELDS = ("text", "body", "content", "articleBody", "maintext")
# A saved page whose main text is shorter than this is a menu, a cookie wall or an index.
_MIN_HTML_CHARS = 80
# A headline line: BBC's run to 52 characters; a sentence-long first line is the body's start.
_MAX_HEADLINE_CHARS, _MAX_HEADLINE_WORDS = 150, 25
_MAX_UNSPACED_HEADLINE_CHARS = 30  # a headline in a script without spaces; longer: a paragraph
_BYLINE = re.compile(r"(?i:by|von|par|por)\s+[A-Z]|"
                     r"(?i:updated|published|last updated|aggiornato|pubblicato)\b.*\d")
_DATE_FIELDS = ("published", "date", "published_at", "date_publish", "datePublished")


class Fail(Exception):
    """A file that cannot become an article: `reason` is a short code, the message details it."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


def looks_binary(text: str) -> bool:
    """True when decoded text is mostly control characters (a binary file that decoded anyway)."""
    sample = text[:4096]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return bool(sample) and controls / len(sample) > 0.05


def split_txt(text: str) -> dict:
    """Body, published date (with precision) and source URL of a seeds-style text file, and the
    repairs made: a date header whose date does not exist (2024-13-45) is taken out of the text
    all the same, with no date stored and a note saying why."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fields: dict = {"published": None, "published_precision": None, "url": None, "repairs": []}
    # Editors and exports add blank lines at the top: the header is the first line with text.
    while lines and not lines[0].strip():
        lines.pop(0)
    header = _DATE_HEADER.match(lines[0]) if lines else None
    if header:
        written = "-".join(part for part in header.groups() if part)
        date, precision = published_day(written)
        if date:
            fields.update(published=date, published_precision=precision)
        else:
            fields["repairs"].append(f"invalid_date_header:{written}")
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and (url := _URL_LINE.match(lines[-1])):
        fields["url"] = url.group(1)
        lines.pop()
    fields["text"] = "\n".join(lines).strip()
    return fields


def take_headline(text: str) -> tuple[str | None, str]:
    """(headline, body) of a plain text whose first line reads as a headline: short, not a
    sentence (no final full stop), followed by a blank line and a body (the BBC corpus
    format). Anything else, the seeds' paragraphs included, is (None, text) unchanged."""
    first, blank, rest = (text.split("\n", 2) + ["", ""])[:3]
    headline = first.strip()
    if (blank.strip() or not rest.strip() or not headline
            or len(headline) > _MAX_HEADLINE_CHARS or len(headline.split()) > _MAX_HEADLINE_WORDS
            or _is_sentence(headline)
            or _URL_LINE.match(headline) or not any(ch.isalpha() for ch in headline)):
        return None, text
    return headline, rest.strip()


def _is_sentence(line: str) -> bool:
    """Whether a first line reads as a sentence or a byline, dateline or time stamp, not as a
    headline: it ends in a full stop (also inside closing quotes: `She said: "No."`, and the
    ideographic 。), or it opens the body ("LONDON (Reuters) -", "By John Smith", "Updated 12:30
    GMT"), or it is a long run of unspaced script (a Chinese or Japanese paragraph)."""
    # Judged before cleaning, which removes stray NULs and zero-width characters ("end.\x00").
    line = line.rstrip("\x00\u200b\ufeff ")
    end = line.rstrip("\"'”’»)]")
    return ((end.endswith((".", "。", "．")) and not end.endswith("..."))
            or line.endswith(("-", "–", "—", ":")) or bool(_BYLINE.match(line))
            or (" " not in line and len(line) > _MAX_UNSPACED_HEADLINE_CHARS))


def parse_txt(text: str) -> dict:
    """Fields of a plain-text file: split_txt's, and a headline line as the title."""
    fields = split_txt(text)
    fields["title"], fields["text"] = take_headline(fields["text"])
    return fields


def parse_html(text: str) -> dict:
    """Main text and metadata of a saved web page, read as fetched pages are (read_page)."""
    page = read_page(text, None)
    if page.non_article:  # a consent wall, bot wall, paywall teaser or error page, saved
        raise Fail(page.non_article, page.non_article_detail)
    if len(page.text) < _MIN_HTML_CHARS:
        raise Fail("no_article_text", f"trafilatura found {len(page.text)} characters of main text")
    published, precision = published_day(page.date)
    updated, updated_precision = published_day(page.updated)
    return {
        "title": page.title, "text": page.text, "url": page.canonical_url, "author": page.author,
        "site_name": page.site_name, "published": published,
        "published_precision": page.date_precision or precision,
        "published_source": page.date_source if published else None,
        "updated": updated, "updated_precision": page.updated_precision or updated_precision,
        "updated_source": page.updated_source if updated else None, "truncated": page.truncated,
    }


def parse_json_record(line: str) -> dict:
    """Fields of one JSON Lines record; raises Fail with a reason for a bad line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise Fail("invalid_json", f"{error.msg}: column {error.colno}") from None
    except (ValueError, RecursionError) as error:  # a 5,000-digit number, 100,000 nested "["
        raise Fail("invalid_json", f"{type(error).__name__}: {str(error)[:200]}") from None
    if not isinstance(record, dict):
        raise Fail("invalid_json", "a record must be a JSON object")
    text = scrub_surrogates(
        next((record[f] for f in _TEXT_FIELDS if isinstance(record.get(f), str)), ""))
    if not text.strip():
        raise Fail("missing_text", f"no non-empty text field (tried {', '.join(_TEXT_FIELDS)})")
    repairs: list[str] = []
    written = next((record[f] for f in _DATE_FIELDS if record.get(f)), None)
    published, precision = published_day(written if isinstance(written, str) else None)
    if written is not None and published is None:  # "2024-13-45", or not a string
        repairs.append(f"invalid_date:{str(written)[:40]}")
    site = "site_name" if record.get("site_name") else "source"
    return {
        "title": _field(record, "title", repairs, numbers=True), "text": text,
        "url": _field(record, "url", repairs), "author": _field(record, "author", repairs),
        "site_name": _field(record, site, repairs),
        "published": published, "published_precision": precision, "repairs": repairs,
    }


def _field(record: dict, name: str, repairs: list[str], numbers: bool = False) -> str | None:
    """A text field of a record; a value of another type (a list for `url`, an object) is left
    out and noted (`ignored_field:url:list`) rather than stored as its Python text. A title may
    be a number."""
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return scrub_surrogates(value)
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    repairs.append(f"ignored_field:{name}:{type(value).__name__}")
    return None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub_surrogates(text: str) -> str:
    """`text` with U+FFFD for half UTF-16 pairs: JSON may escape one ("\\ud800") and Python
    keeps it, but no UTF-8 writer (DuckDB first) accepts it, and the whole batch would fail."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _json_lines(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):  # a .json file holding an array of records
        try:
            return [json.dumps(item) for item in json.loads(stripped)]
        except (ValueError, RecursionError):  # each line then fails on its own, with a reason
            pass
    # Records end at line feeds only (JSON Lines): a raw U+2028 inside a string is not a break,
    # and a file read in parts (cut at byte 0x0A) numbers its records the same way.
    return [line for line in text.split("\n") if line.strip()]


@dataclass(frozen=True)
class Limits:
    """How large an input may be (the memory budget's shares, see warehouse/settings.py)."""

    file_bytes: int
    text_chars: int | None = None  # a document's text; beyond it, too_large
    page_bytes: int | None = None  # an .html file, which lxml reads at ~25 bytes per byte

    @classmethod
    def of(cls, files: FilesSettings, page_bytes: int | None = None) -> Limits:
        return cls(files.max_file_bytes, files.max_text_chars, page_bytes)

    def check_size(self, size: int, fmt: str) -> None:
        """Refuse an input by its size alone, before it is read."""
        if size > self.file_bytes:
            raise Fail("too_large", f"{size} bytes > limit of {self.file_bytes}")
        if fmt == "html" and self.page_bytes is not None and size > self.page_bytes:
            raise Fail("too_large",
                       f"{size} bytes > page limit of {self.page_bytes} (memory budget)")
        if fmt == "txt" and self.text_chars is not None and size > 4 * self.text_chars:
            # UTF-8 spends at most 4 bytes a character: the text is longer than the limit.
            raise Fail("too_large",
                       f"{size} bytes: over {self.text_chars} characters (memory budget)")

    def check_text(self, text: str) -> None:
        """Refuse a document whose text is longer than the limit."""
        if self.text_chars is not None and len(text) > self.text_chars:
            raise Fail("too_large",
                       f"{len(text)} characters > limit of {self.text_chars} (memory budget)")


def read_articles(candidate: Candidate, data: bytes, fmt: str, limits: Limits | None = None
                  ) -> Outcome:
    """Decode and parse bytes that are known to be readable and of a supported format."""
    limits = limits or Limits(len(data))
    part = part_of(candidate)
    content_hash = part.file_hash if part else sha256_hex(data)
    try:
        text, encoding, encoding_rule = decode_with_rule(data, markup=fmt == "html")
    except BinaryContent as error:
        raise Fail("binary_content", f"the file {error}") from None
    if looks_binary(text):
        raise Fail("binary_content", "mostly control characters after decoding")
    if not text.strip():
        raise Fail("empty_text", "the file holds only white space")
    base = {"locator": candidate.locator, "format": fmt, "content_hash": content_hash,
            "size": candidate.size, "mtime_ns": candidate.mtime_ns, "encoding": encoding,
            "encoding_rule": encoding_rule}
    if fmt != "jsonl":
        if fmt == "txt":
            limits.check_text(text)
        fields = parse_txt(text) if fmt == "txt" else parse_html(text)
        limits.check_text(fields["text"])
        if not fields["text"]:
            raise Fail("empty_text", "nothing left after the date header and URL line")
        article = ParsedArticle(source_id=candidate.source_id, **base, **fields)
        return Outcome(content_hash=content_hash, encoding=encoding, articles=[article])
    outcome = Outcome(content_hash=content_hash, encoding=encoding)
    for number, line in enumerate(_json_lines(text), part.first_record if part else 1):
        locator = f"{candidate.locator}#{number}"
        try:
            fields = parse_json_record(line)
            limits.check_text(fields["text"])
        except Fail as fail:
            outcome.rejects.append(Reject(
                source_id=source_id_for(locator), locator=locator, content_hash=sha256_hex(line),
                stage="parse", reason=fail.reason, detail=fail.detail))
            continue
        outcome.articles.append(ParsedArticle(
            source_id=source_id_for(locator), record_no=number, kind="record",
            **{**base, "locator": locator}, **fields))
    if not outcome.articles and not outcome.rejects:
        raise Fail("empty_text", "no records in the file")
    return outcome


def parse_file(candidate: Candidate, known_hash: str | None, max_bytes: int,
               limits: Limits | None = None) -> Outcome:
    """Read one file; bad input becomes a Reject, never an exception."""
    fmt = FORMATS.get(Path(candidate.locator).suffix.lower())
    content_hash = None
    path = candidate.locator
    try:
        path = confined_path(candidate)
        if fmt is None:
            raise Fail("unsupported_format", f"no parser for '{Path(candidate.locator).suffix}'")
        limits = limits or Limits(max_bytes)
        limits.check_size(candidate.size, fmt)
        if known_hash is not None and getattr(candidate, "file_hash", None) == known_hash:
            return Outcome(content_hash=known_hash, unchanged=True)  # hashed by discovery
        data = read_capped(path, max_bytes, *_byte_range(candidate))
        content_hash = _file_hash(candidate, data)
        if content_hash == known_hash:
            return Outcome(content_hash=content_hash, unchanged=True)
        if not data:
            raise Fail("empty_file", "the file has zero bytes")
        return read_articles(candidate, data, fmt, limits)
    except Fail as fail:
        reason, detail = fail.reason, fail.detail
    except OSError as error:
        reason, detail = os_error_reason(error, path), f"{type(error).__name__}: {error.strerror}"
    except Exception as error:  # a parser bug must not fail the batch; record it instead
        reason, detail = "parse_error", f"{type(error).__name__}: {error}"
    reject = Reject(source_id=candidate.source_id, locator=candidate.locator,
                    content_hash=content_hash, stage="parse", reason=reason, detail=detail)
    return Outcome(content_hash=content_hash, rejects=[reject])


def confined_path(candidate: Candidate) -> str:
    """The path to open. An inbox file is opened only if, its symlinks resolved, it is inside the
    inbox it was listed in: a link to /etc/passwd or to another user's files stays out. Checked
    here rather than at listing, so that a link swapped in since then is caught too."""
    if not isinstance(candidate, InboxFile):
        return candidate.locator
    path = candidate.path or candidate.locator
    real = os.path.realpath(path)
    if not is_inside(real, candidate.root):
        raise Fail("outside_inbox", utf8_text(f"resolves to {real}, outside {candidate.root}"))
    return path


def _byte_range(candidate: Candidate) -> tuple[int, int | None]:
    part = part_of(candidate)
    return (part.start, part.end) if part else (0, None)


def _file_hash(candidate: Candidate, data: bytes) -> str:
    """The hash of the whole file: discovery's for a file read in parts, else of the bytes."""
    part = part_of(candidate)
    return part.file_hash if part and part.file_hash else sha256_hex(data)


def read_capped(path: str, max_bytes: int, start: int = 0, end: int | None = None) -> bytes:
    """The bytes of a regular file of at most `max_bytes`. The listed size is not trusted (the
    file may have grown since), and a FIFO or device would block or never end: opened without
    blocking, checked with fstat, read no further than the limit."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Fail("not_a_file", "a directory, FIFO, socket or device, not a regular file")
        with open(fd, "rb", closefd=False) as file:
            file.seek(start)
            data = file.read(max_bytes + 1 if end is None else end - start)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise Fail("too_large", f"more than the limit of {max_bytes} bytes when read "
                                "(the file grew after it was listed)")
    return data


def os_error_reason(error: OSError, path: str) -> str:
    """The reject reason for a file the system would not give us."""
    if isinstance(error, FileNotFoundError):  # gone since listing, or a link to nothing
        return "broken_link" if os.path.lexists(path) else "vanished"
    if isinstance(error, PermissionError):
        return "permission_denied"
    return "symlink_loop" if error.errno == errno.ELOOP else "unreadable"


def parse_files(
    candidates: list[Candidate], known_hashes: dict[str, str], max_bytes: int,
    limits: Limits | None = None,
) -> list[tuple[Candidate, Outcome]]:
    """Parse a batch of files, each paired with its outcome."""
    return [(c, parse_file(c, known_hashes.get(c.source_id), max_bytes, limits))
            for c in candidates]


@task(name="parse", cache_policy=NO_CACHE)
def parse_stage(
    candidates: list[Candidate], known_hashes: dict[str, str], settings: FilesSettings,
    max_page_bytes: int | None = None,
) -> list[tuple[Candidate, Outcome]]:
    """Read and parse a batch of files."""
    limits = Limits.of(settings, max_page_bytes)
    return parse_files(candidates, known_hashes, settings.max_file_bytes, limits)
