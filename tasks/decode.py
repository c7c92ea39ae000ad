"""Bytes → text, by one policy for every input: files, saved pages and HTTP bodies alike.

In order: a byte-order mark; the charset the input declares (the HTTP Content-Type header, then,
for markup, `<meta charset>` or `<?xml encoding?>`); for data with NUL bytes in its first 4 KiB,
UTF-16 without a BOM (an ASCII-heavy text with zero bytes on one side), or else binary if over
5% of those 4 KiB are control bytes; UTF-8; UTF-8 with a few damaged bytes; cp1252; latin-1.
Never guessed by trafilatura, which ignores the header charset. A last character cut off by the
end of the data (a truncated copy or download) becomes U+FFFD rather than sending a whole UTF-8
or UTF-16 text to a legacy codec. A few stray NUL bytes do not make a text binary: they decode
(to U+0000), and cleaning removes them and notes it (tasks/clean.py).
"""

from __future__ import annotations

import codecs
import re


class BinaryContent(ValueError):
    """Bytes that are no text in any encoding this policy knows; the message completes
    "the file …" or "the page …"."""


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig", "utf-8"), (b"\xff\xfe", "utf-16", "utf-16-le"),
         (b"\xfe\xff", "utf-16", "utf-16-be"))
# How codecs report a last character that the end of the data cut short.
_CUT_SHORT = frozenset({"unexpected end of data", "truncated data"})
# C0 control bytes that no text holds: all but tab, line feed, vertical tab, form feed and
# carriage return. Over this share of a sample, the data is binary (random bytes hold ~10%).
_CONTROL_BYTES = bytes(code for code in range(32) if code not in b"\t\n\v\f\r")
_MAX_CONTROL_SHARE = 0.05
_SAMPLE_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""",
    re.IGNORECASE,
)


def decode(data: bytes, content_type: str | None = None, markup: bool = False
           ) -> tuple[str, str]:
    """Text and the codec that produced it. `content_type` is an HTTP header, if any; `markup`
    says the bytes are HTML or XML, whose own declaration then counts. Raises BinaryContent."""
    with_bom = _decode_bom(data)
    if with_bom is not None:
        return with_bom
    declared = [charset_from_content_type(content_type)]
    if markup:
        declared.append(charset_from_meta(data))
    for label in declared:
        codec = _codec_for(label)
        if codec is None:
            continue
        if codec == "cp1252" and _is_utf8_with_non_ascii(data):
            # A server-wide "charset=ISO-8859-1" default on a UTF-8 page: bytes that are valid
            # UTF-8 with multi-byte characters are almost never meant as cp1252.
            return data.decode("utf-8"), "utf-8"
        return _decode_declared(data, codec), codec
    return _decode_undeclared(data)


def _decode_bom(data: bytes) -> tuple[str, str] | None:
    for bom, label, codec in _BOMS:
        if data.startswith(bom):
            decoded = decode_cut_short(data[len(bom):], codec)
            return (decoded[0], label) if decoded is not None else None
    return None


def decode_cut_short(data: bytes, codec: str) -> tuple[str, bool] | None:
    """Strictly decoded text and whether its last character was cut off by the end of the data
    (it becomes U+FFFD), or None for any other fault."""
    try:
        return data.decode(codec), False
    except UnicodeDecodeError as error:
        if error.reason not in _CUT_SHORT or error.end != len(data):
            return None
        return data[: error.start].decode(codec) + "\ufffd", True


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


def charset_from_meta(body: bytes) -> str | None:
    """The charset a page declares in its first 4 KiB (<meta charset>, http-equiv or <?xml?>)."""
    match = _META_CHARSET.search(body[:4096])
    if not match:
        return None
    return (match.group(1) or match.group(2)).decode("ascii", errors="ignore") or None


def _codec_for(label: str | None) -> str | None:
    # WHATWG Encoding: latin-1 and ascii labels mean windows-1252 on the web.
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii", "cp1252") else name


def _is_utf8_with_non_ascii(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode_declared(body: bytes, codec: str) -> str:
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        # The declaration is still the best evidence: one bad byte costs one character,
        # where switching codecs would garble every accented letter on the page.
        return body.decode(codec, errors="replace")


def _control_share(sample: bytes) -> float:
    """The share of `sample` that is control bytes no text holds (NUL, ESC, ...)."""
    return (len(sample) - len(sample.translate(None, _CONTROL_BYTES))) / (len(sample) or 1)


def _decode_undeclared(data: bytes) -> tuple[str, str]:
    head = data[:_SAMPLE_BYTES]
    if b"\x00" in head:
        if (utf16 := _decode_utf16_without_bom(data)) is not None:
            return utf16
        # Judged by the share of control bytes, not by one NUL: an article with a stray NUL (a
        # bad copy, a buggy export) is text, a file that is ~10% control bytes is not.
        if (share := _control_share(head)) > _MAX_CONTROL_SHARE:
            raise BinaryContent(f"is {share:.0%} control bytes in its first {len(head)} bytes")
    decoded = decode_cut_short(data, "utf-8")
    # A cut-off last character means UTF-8 only when the rest shows it: after plain ASCII, a
    # lone lead byte is as likely the last letter of a cp1252 file ("perché" ends in 0xE9).
    if decoded is not None and not (decoded[1] and decoded[0][:-1].isascii()):
        return decoded[0], "utf-8"
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    valid_non_ascii = sum(1 for ch in text if ord(ch) > 127) - invalid
    if decoded is None and valid_non_ascii >= 2 * invalid:
        return text, "utf-8"  # UTF-8 with a few damaged bytes, not a legacy text
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _decode_utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    # ASCII-heavy UTF-16 puts its zero bytes all on odd (LE) or all on even (BE) positions.
    head = data[:_SAMPLE_BYTES]
    odd, even = head[1::2].count(0), head[0::2].count(0)
    half = len(head) // 2 or 1
    for zeros, codec in ((odd, "utf-16-le"), (even, "utf-16-be")):
        decoded = decode_cut_short(data, codec) if zeros / half > 0.3 else None
        if decoded is not None:
            return decoded[0], codec
    return None
