"""The decoding policy (tasks/decode.py), rule by rule, and cleaning that keeps text as published
(tasks/clean.py)."""

import pytest

from tasks.clean import clean_text, text_key
from tasks.decode import BinaryContent, Decoded, decode, decode_with_rule

CHINESE = "新华社北京电 国务院总理今天主持召开常务会议，部署进一步稳定经济的措施。"
PAGE = "<html><head><meta charset=\"gb2312\"><title>新闻</title></head><body><p>{}</p></body></html>"


def test_valid_utf8_wins_over_a_wrong_meta_charset() -> None:
    data = PAGE.format(CHINESE).encode("utf-8")
    decoded = decode_with_rule(data, markup=True)
    assert decoded == Decoded(PAGE.format(CHINESE), "utf-8", "utf-8")


def test_valid_utf8_wins_over_a_wrong_header_charset() -> None:
    data = "Città, perché".encode()
    assert decode_with_rule(data, "text/html; charset=windows-1251") == ("Città, perché", "utf-8",
                                                                         "utf-8")


def test_a_real_gb2312_page_is_read_as_browsers_read_it() -> None:
    # GBK characters (here 镕) on pages labelled gb2312 are common; WHATWG decodes as GB 18030.
    text = CHINESE + "朱镕基"
    decoded = decode_with_rule(PAGE.format(text).encode("gbk"), markup=True)
    assert (decoded.codec, decoded.rule) == ("gb18030", "meta") and text in decoded.text


@pytest.mark.parametrize(
    ("data", "content_type", "markup", "codec", "rule"),
    [
        (b"\xef\xbb\xbfplain", None, False, "utf-8-sig", "bom"),
        ("Привет, мир".encode("koi8-r"), "text/html; charset=koi8-r", True, "koi8-r",
         "http-header"),
        (b"<meta charset=windows-1252>" + "l’été".encode("cp1252"), None, True, "cp1252", "meta"),
        # A header beats the page's own declaration.
        (b"<meta charset=koi8-r>" + "l’été".encode("cp1252"), "text/html; charset=cp1252", True,
         "cp1252", "http-header"),
        # Outside markup a <meta> is just text.
        (b"<meta charset=koi8-r>" + "l’été".encode("cp1252"), None, False, "cp1252", "fallback"),
        (b"plain ascii", None, False, "utf-8", "ascii"),
        ("plain text".encode("utf-16-le"), None, False, "utf-16-le", "utf-16-sniffed"),
        ("perché città ".encode() * 5 + b"\xff fine", None, False, "utf-8", "utf-8-damaged"),
        ("naïve “café”".encode("cp1252"), None, False, "cp1252", "fallback"),
    ],
)
def test_each_rule_names_itself(data: bytes, content_type: str | None, markup: bool, codec: str,
                                rule: str) -> None:
    decoded = decode_with_rule(data, content_type, markup)
    assert (decoded.codec, decoded.rule) == (codec, rule)
    assert decode(data, content_type, markup) == (decoded.text, decoded.codec)


def test_a_meta_utf16_on_an_ascii_compatible_page_means_utf8() -> None:
    data = b"<meta charset=utf-16><p>caf\xc3\xa9 \xff</p>"  # damaged UTF-8, so no `utf-8` rule
    decoded = decode_with_rule(data, markup=True)
    assert (decoded.codec, decoded.rule) == ("utf-8", "meta") and "café" in decoded.text


def test_a_cut_short_last_character_stays_utf8() -> None:
    data = "Zürich und Genè".encode()[:-1]  # the second byte of "è" lost
    assert decode_with_rule(data) == ("Zürich und Gen\ufffd", "utf-8", "utf-8")


def test_valid_utf8_inside_binary_data_is_still_binary() -> None:
    with pytest.raises(BinaryContent):
        decode_with_rule(b"\x00\x01\x02\x03\x04\x05" * 50 + "città più bella ".encode() * 20)


FULL_WIDTH = "ＡＢＣ　１２３，「新闻」。"


@pytest.mark.parametrize("text", [FULL_WIDTH, "記者：ＮＨＫ　２０２４年（令和６年）", "ﬁnance “quoted” — dash"])
def test_text_is_kept_as_published(text: str) -> None:
    assert clean_text(text) == (text, [])


def test_mojibake_and_entities_are_still_fixed() -> None:
    assert clean_text("cafÃ© &amp; croissant")[0] == "café & croissant"
    assert clean_text("ＡＢＣ　cafÃ©")[0] == "ＡＢＣ　café"


def test_the_matching_key_folds_what_the_text_keeps() -> None:
    assert text_key(FULL_WIDTH) == text_key("ABC 123,「新闻」。")


@pytest.mark.parametrize("label", ["rot13", "base64", "hex"])
def test_a_label_naming_no_text_encoding_is_ignored(label: str) -> None:
    page = f"<html><meta charset={label}><p>Caf\u00e9 news</p></html>".encode()
    assert decode_with_rule(page, f"text/html; charset={label}", markup=True) == (
        page.decode(), "utf-8", "utf-8")
