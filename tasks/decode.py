"""Bytes → text, by one policy for every input: files, saved pages and HTTP bodies alike.

The first rule that applies decides, and its name is kept with the document
(`documents.encoding_rule`), so a wrong decoding can be traced to the rule that made it:

- `bom`: a byte-order mark (UTF-8, UTF-16 LE or BE).
- `utf-8`: bytes that decode strictly as UTF-8 (up to a last character cut short) and hold
  non-ASCII characters are UTF-8, whatever the header or the page declares: legacy text is
  almost never valid UTF-8 by chance, while servers and templates often declare a charset the
  page was not written in (a Chinese page that says gb2312 and is UTF-8).
- `http-header`: the charset of the HTTP Content-Type header.
- `meta`: for markup, `<meta charset>`, its http-equiv form, or `<?xml encoding?>`.
- `ascii`: nothing declared and nothing but ASCII (one text in every ASCII-compatible codec).
- `utf-16-sniffed`: nothing declared, NUL bytes in the first 4 KiB, all on the odd (LE) or all
  on the even (BE) positions of an ASCII-heavy text. Otherwise, over 5% of control bytes in
  those 4 KiB make the data binary (`BinaryContent`).
- `utf-8-damaged`: UTF-8 with a few invalid bytes (at least twice as many valid non-ASCII
  characters as bad bytes): one bad byte costs one character, not every accented letter.
- `fallback`: cp1252, or latin-1 for the five bytes cp1252 leaves undefined.

Labels are read as the WHATWG Encoding standard reads them (latin-1 and ascii mean
windows-1252, gb2312 means GB 18030, shift_jis means windows-31j, ...), since pages are written
for browsers. Never guessed by trafilatura, which ignores the header charset. A last character
cut off by the end of the data (a truncated copy or download) becomes U+FFFD rather than sending
a whole UTF-8 or UTF-16 text to a legacy codec. A few stray NUL bytes do not make a text binary:
they decode (to U+0000), and cleaning removes them and notes it (tasks/clean.py).
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple


class BinaryContent(ValueError):
    """Bytes that are no text in any encoding this policy knows; the message completes
    "the file …" or "the page …"."""


class Decoded(NamedTuple):
    """Decoded text, the codec that produced it and the rule of the policy that chose it."""

    text: str
    codec: str
    rule: str
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
    """Text and the codec that produced it (`decode_with_rule` without the rule)."""
    decoded = decode_with_rule(data, content_type, markup)
    return decoded.text, decoded.codec


def decode_with_rule(data: bytes, content_type: str | None = None, markup: bool = False
                     ) -> Decoded:
    """Text, codec and deciding rule. `content_type` is an HTTP header, if any; `markup` says
    the bytes are HTML or XML, whose own declaration then counts. Raises BinaryContent."""
    found = _decode_bom(data) or _decode_valid_utf8(data)
    if found is not None:
        return found
    declared = [(charset_from_content_type(content_type), "http-header")]
    if markup:
        declared.append((charset_from_meta(data), "meta"))
    for label, rule in declared:
        codec = _codec_for(label, in_markup=rule == "meta")
        if codec is not None:
            return Decoded(_decode_declared(data, codec), codec, rule)
    return _decode_undeclared(data)


def _decode_bom(data: bytes) -> Decoded | None:
    for bom, label, codec in _BOMS:
        if data.startswith(bom):
            decoded = decode_cut_short(data[len(bom):], codec)
            return Decoded(decoded[0], label, "bom") if decoded is not None else None
    return None


def _decode_valid_utf8(data: bytes) -> Decoded | None:
    """UTF-8, when the bytes are valid UTF-8 with non-ASCII characters and are no binary data."""
    if data.isascii() or _looks_binary(data[:_SAMPLE_BYTES]):
        return None
    decoded = decode_cut_short(data, "utf-8")
    if decoded is None:
        return None
    text, cut = decoded
    # After nothing but ASCII, a lone lead byte at the end is as likely the last letter of a
    # cp1252 text ("perché" ends in 0xE9) as a cut-off UTF-8 character.
    if cut and text[:-1].isascii():
        return None
    return Decoded(text, "utf-8", "utf-8")


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


# WHATWG Encoding: the codec a browser uses for a label, by Python's name for the label. Each
# is a superset of the labelled charset that servers send for it (GBK characters on "gb2312"
# pages, Microsoft's extensions on "shift_jis" and "euc-kr" ones), so a strict decode succeeds.
_WHATWG_CODEC = {
    "latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252",
    "gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs",
    "shift_jis": "cp932", "euc_kr": "cp949", "iso8859-9": "cp1254",
    "tis-620": "cp874", "iso8859-11": "cp874",
}
_UTF16 = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})


def _codec_for(label: str | None, in_markup: bool = False) -> str | None:
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().lower())
    except LookupError:
        return None
    if not info._is_text_encoding:  # noqa: SLF001  rot13, base64, hex: no charset of a page
        return None
    name = info.name
    if in_markup and name in _UTF16:
        # A page that could be read far enough to find its <meta> is ASCII-compatible; WHATWG
        # reads a "utf-16" there as UTF-8.
        return "utf-8"
    return _WHATWG_CODEC.get(name, name)


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


def _looks_binary(head: bytes) -> bool:
    # Judged by the share of control bytes, not by one NUL: an article with a stray NUL (a bad
    # copy, a buggy export) is text, a file that is ~10% control bytes is not.
    return b"\x00" in head and _control_share(head) > _MAX_CONTROL_SHARE


def _decode_undeclared(data: bytes) -> Decoded:
    head = data[:_SAMPLE_BYTES]
    if b"\x00" in head and (utf16 := _decode_utf16_without_bom(data)) is not None:
        return utf16
    if _looks_binary(head):
        share = _control_share(head)
        raise BinaryContent(f"is {share:.0%} control bytes in its first {len(head)} bytes")
    if data.isascii():
        return Decoded(data.decode("ascii"), "utf-8", "ascii")
    # Valid UTF-8 with non-ASCII characters was taken by the `utf-8` rule; what is left is
    # damaged UTF-8, a legacy text, or ASCII with one lead byte cut off at the end.
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    valid_non_ascii = sum(1 for ch in text if ord(ch) > 127) - invalid
    if decode_cut_short(data, "utf-8") is None and valid_non_ascii >= 2 * invalid:
        return Decoded(text, "utf-8", "utf-8-damaged")
    try:
        return Decoded(data.decode("cp1252"), "cp1252", "fallback")
    except UnicodeDecodeError:
        return Decoded(data.decode("latin-1"), "latin-1", "fallback")


def _decode_utf16_without_bom(data: bytes) -> Decoded | None:
    # ASCII-heavy UTF-16 puts its zero bytes all on odd (LE) or all on even (BE) positions.
    head = data[:_SAMPLE_BYTES]
    odd, even = head[1::2].count(0), head[0::2].count(0)
    half = len(head) // 2 or 1
    for zeros, codec in ((odd, "utf-16-le"), (even, "utf-16-be")):
        decoded = decode_cut_short(data, codec) if zeros / half > 0.3 else None
        if decoded is not None:
            return Decoded(decoded[0], codec, "utf-16-sniffed")
    return None
