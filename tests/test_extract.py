"""tasks/extract.py (and the raw archive it re-reads): real pages over HTTP, decisive sentences
in and boilerplate out, not-an-article verdicts, date provenance, the extraction deadline."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from tasks import extract
from tasks.archive import (
    ArchiveCorrupt,
    archive_fetched,
    archive_path,
    read_body,
    refetched,
)
from tasks.extract import (
    ExtractionWorkers,
    added_paragraph_chars,
    date_hint,
    extract_fetched,
    extract_html,
    extract_many,
    identity_url,
    read_page,
    sentence_count,
    shown_lead,
    with_lead,
    without_calls_to_action,
    without_headline,
    without_link_prompts,
)
from tasks.http import HttpFetcher
from tasks.records import DateHint, Fetched, UrlArticle
from tests.httpserver import (
    ARTICLE_FIRST_SENTENCE,
    ARTICLE_LAST_SENTENCE,
    ARTICLE_PATH,
    BOILERPLATE_SENTENCES,
    LATIN1_SENTENCE,
    NewsServer,
)
from warehouse.records import Reject
from warehouse.settings import ExtractSettings, FetchSettings

FAST = FetchSettings(per_host_interval_s=0.01, allowed_networks=("127.0.0.1",))
PAGES = [ARTICLE_PATH, "/news/", "/short.html", "/empty.html", "/latin1.html",
         "/meta-cp1252.html"]


@pytest.fixture(scope="module")
def server() -> Iterator[NewsServer]:
    with NewsServer() as news:
        yield news


@pytest.fixture(scope="module")
def fetched(server: NewsServer) -> dict[str, Fetched]:
    with HttpFetcher(FAST) as fetcher:
        results = fetcher.fetch_many([server.url(path) for path in PAGES])
    assert all(isinstance(r, Fetched) for r in results), results
    return dict(zip(PAGES, results, strict=True))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def extracted(fetched: dict[str, Fetched]) -> dict[str, UrlArticle | Reject]:
    results = extract_many(list(fetched.values()), ExtractSettings(processes=2))
    return dict(zip(fetched, results, strict=True))


def article(result: object) -> UrlArticle:
    assert isinstance(result, UrlArticle), f"expected an article, got {result!r:.300}"
    return result


def test_article_text_keeps_the_story_and_drops_the_boilerplate(
        extracted: dict[str, UrlArticle | Reject]) -> None:
    text = article(extracted[ARTICLE_PATH]).text
    assert ARTICLE_FIRST_SENTENCE in text and ARTICLE_LAST_SENTENCE in text
    assert "Tolls and traffic" in text  # a subheading inside the article
    for boilerplate in BOILERPLATE_SENTENCES:
        assert boilerplate not in text


def test_article_metadata(server: NewsServer, extracted: dict[str, UrlArticle | Reject]) -> None:
    found = article(extracted[ARTICLE_PATH])
    assert (found.kind, found.format, found.encoding) == ("url", "html", "utf-8")
    assert found.title == "Harbour tunnel opens three years late"
    assert found.author == "Marta Jensen" and found.site_name == "The Harbour Gazette"
    assert found.published == dt.date(2024, 3, 5) and found.published_precision == "day"
    assert found.published_source == "json_ld"
    # the page's rel=canonical carries a tracking parameter; the canonical form drops it
    assert found.canonical_url == found.url == server.url(ARTICLE_PATH)
    assert found.locator == server.url(ARTICLE_PATH) and found.extractor.startswith("trafilatura")
    assert len(found.content_hash) == 64 and found.size > 4000


@pytest.mark.parametrize(("path", "reason"), [
    ("/news/", "index_page"), ("/short.html", "too_short"), ("/empty.html", "empty_extraction"),
])
def test_pages_that_are_not_articles_are_rejected(
        extracted: dict[str, UrlArticle | Reject], path: str, reason: str) -> None:
    reject = extracted[path]
    assert isinstance(reject, Reject) and reject.reason == reason and reject.stage == "extract"
    assert reject.content_hash and reject.detail


@pytest.mark.parametrize("path", ["/latin1.html", "/meta-cp1252.html"])
def test_legacy_charsets_are_decoded_by_us(extracted: dict[str, UrlArticle | Reject],
                                           path: str) -> None:
    found = article(extracted[path])
    assert found.encoding == "cp1252"
    assert "café du port" in found.text and "pêcheurs" in found.text
    assert "Ã" not in found.text  # no UTF-8/Latin-1 mojibake


BODY = ("<article><h1>Council meets</h1>" + "".join(
    f"<p>The council met on a quiet morning to discuss item {n} on the harbour and its plans "
    "for the coming decade.</p>" for n in range(5)) + "{extra}</article>")


def _page(head: str = "", extra: str = "") -> str:
    body = BODY.format(extra=extra)
    return f"<html><head><title>T</title>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(("html", "url", "source"), [
    (_page('<script type="application/ld+json">{"@type": "NewsArticle", '
           '"datePublished": "2024-03-05T10:00:00Z"}</script>'), "https://n.test/a", "json_ld"),
    (_page('<meta property="article:published_time" content="2024-03-05T10:00:00Z">'),
     "https://n.test/a", "meta"),
    (_page(extra='<p>Posted <time datetime="2024-03-05">5 March</time></p>'),
     "https://n.test/a", "time_element"),
    (_page(), "https://n.test/2024/03/05/council.html", "url"),
    (_page(extra='<p class="date">Published on 5 March 2024</p>'), "https://n.test/a",
     "htmldate"),
])
def test_where_the_published_date_came_from(html: str, url: str, source: str) -> None:
    page = read_page(html, url)
    assert (page.date, page.date_source) == ("2024-03-05", source)


def test_feed_date_fills_in_when_the_page_has_none() -> None:
    html = _page()
    found = article(extract_html(html, locator="https://n.test/a", url="https://n.test/a",
                                 content_hash="x", size=len(html), encoding="utf-8",
                                 hint=DateHint(dt.date(2024, 3, 1), "sitemap")))
    assert (found.published, found.published_source) == (dt.date(2024, 3, 1), "sitemap")


def test_in_process_and_worker_extraction_agree(fetched: dict[str, Fetched],
                                                extracted: dict[str, UrlArticle | Reject]) -> None:
    assert extract_fetched(fetched[ARTICLE_PATH]) == extracted[ARTICLE_PATH]


def test_extraction_deadline_kills_and_replaces_the_worker() -> None:
    huge = "<html><body>" + "".join(
        f"<div><p>Paragraph {i} with some words and <a href='/x{i}'>a link number {i}</a>.</p>"
        "</div>" for i in range(12_000)) + "</body></html>"
    with ExtractionWorkers(ExtractSettings(timeout_s=0.3)) as workers:
        slow = extract_html(huge, locator="https://n.test/huge", url=None, content_hash="h",
                            size=len(huge), encoding="utf-8", workers=workers)
        assert isinstance(slow, Reject) and slow.reason == "extraction_timeout"
        page = workers.read(_page(), "https://n.test/2024/03/05/a.html", timeout_s=30)
    assert "council met" in page.text  # the replacement worker answers


def test_a_slow_worker_start_is_not_part_of_the_first_page_deadline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A busy machine, played by a start-up hook that delays the worker's interpreter by 2 s:
    # the first page's 1 s deadline starts once the worker is ready.
    (tmp_path / "sitecustomize.py").write_text("import time\ntime.sleep(2)\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with ExtractionWorkers(ExtractSettings(timeout_s=1)) as workers:
        page = workers.read(_page(), "https://n.test/2024/03/05/a.html")
    assert "council met" in page.text


# ---------------------------------------------------------------- raw archive


def test_archive_stores_once_and_re_extracts(tmp_path: Path, fetched: dict[str, Fetched],
                                             extracted: dict[str, UrlArticle | Reject]) -> None:
    page = fetched["/latin1.html"]
    record = archive_fetched(tmp_path, page)
    again = archive_fetched(tmp_path, page)
    stored = tmp_path / record.path
    assert record.sha256 == again.sha256 and stored == archive_path(tmp_path, record.sha256)
    assert stored.relative_to(tmp_path).parts[:2] == (record.sha256[:2], record.sha256[2:4])
    assert stored.name.endswith(".html.gz") and len(list(tmp_path.rglob("*.gz"))) == 1
    assert gzip.decompress(stored.read_bytes()) == page.body
    assert (record.status, record.content_type, record.charset) == (200, "text/html", "ISO-8859-1")
    assert record.extractor == "trafilatura" and record.extractor_version

    body = read_body(tmp_path, record.sha256)
    replayed = extract_fetched(refetched(record, body))
    assert article(replayed).text == article(extracted["/latin1.html"]).text
    assert LATIN1_SENTENCE in article(replayed).text


def test_archive_detects_a_damaged_body(tmp_path: Path, fetched: dict[str, Fetched]) -> None:
    record = archive_fetched(tmp_path, fetched[ARTICLE_PATH])
    (tmp_path / record.path).write_bytes(gzip.compress(b"something else"))
    with pytest.raises(ArchiveCorrupt):
        read_body(tmp_path, record.sha256)
    with pytest.raises(FileNotFoundError):
        read_body(tmp_path, "0" * 64)


@pytest.mark.parametrize(("canonical", "final", "expected"), [
    ("https://n.test/a", "https://n.test/a?utm_source=x", "https://n.test/a"),
    ("https://n.test/story", "https://n.test/amp/story", "https://n.test/story"),
    ("https://n.test/", "https://n.test/story", "https://n.test/story"),  # template bug
    ("https://other.test/story", "https://n.test/story", "https://n.test/story"),
    (None, "https://N.test/story#top", "https://n.test/story"),
    ("https://n.test/story", None, "https://n.test/story"),
])
def test_identity_url(canonical: str | None, final: str | None, expected: str) -> None:
    assert identity_url(canonical, final) == expected


def test_date_hint_from_discovery() -> None:
    when = dt.datetime(2024, 3, 5, 23, 0, tzinfo=dt.UTC)
    assert date_hint(when, "news_sitemap") == DateHint(dt.date(2024, 3, 5), "sitemap")
    assert date_hint(when, "rss") == DateHint(dt.date(2024, 3, 5), "feed")
    assert date_hint(None, "rss") is None


# ---------------------------------------------------------------- the lead and the second pass

LEAD = ("The harbour board approved the new ferry timetable on Monday. Crossings will run every "
        "twenty minutes from May.")
STORY = "".join(
    f"<p>Paragraph {n} of the story tells how the board weighed the timetable against the cost "
    "of fuel, crews and the winter storms that close the harbour mouth.</p>" for n in range(6))


def _lead_page(lead_markup: str, description: str = LEAD) -> str:
    return (f'<html><head><title>Ferry timetable</title><meta name="description" '
            f'content="{description}"></head><body><header><h1>New ferry timetable</h1>'
            f'{lead_markup}</header><article>{STORY}</article></body></html>')


def _tree(html: str) -> HtmlElement:
    tree = load_html(html)
    assert tree is not None
    return tree


DEK = "Crossings will run every twenty minutes from May"


@pytest.mark.parametrize(("markup", "description", "expected"), [
    (f'<div class="intro"><p>{LEAD}</p></div>', LEAD, LEAD),  # printed as a paragraph
    (f'<p class="teaser"><strong>Harbour:</strong> {LEAD}</p>', f"Harbour: {LEAD}",
     f"Harbour: {LEAD}"),
    (f'<div class="teaser">{LEAD}</div>', LEAD, LEAD),
    (f'<h2 class="dek">{LEAD}</h2>', LEAD, None),  # a dek under the headline: display text
    (f'<p class="dek">{DEK}</p>', DEK, None),  # one short sentence: a display line
    (f"<ul><li>{LEAD}</li></ul>", LEAD, None),  # a teaser in a list: another page's summary
    (f'<a href="/ferry">{LEAD}</a>', LEAD, None),
    ("<p>Something else entirely is printed here, and it is long enough.</p>", LEAD, None),
])
def test_shown_lead_is_the_meta_description_printed_as_a_paragraph(
        markup: str, description: str, expected: str | None) -> None:
    assert shown_lead(_tree(_lead_page(markup, description))) == expected


def test_a_one_sentence_summary_counts_when_it_is_long() -> None:
    long_one = "The board " + "and the council " * 12 + "approved the timetable"
    assert len(long_one) >= 200
    assert shown_lead(_tree(_lead_page(f"<p>{long_one}</p>", long_one))) == long_one
    short_one = "The board approved the new ferry timetable on Monday morning"
    assert shown_lead(_tree(_lead_page(f"<p>{short_one}</p>", short_one))) is None


def test_a_truncated_description_matches_its_paragraph() -> None:
    page = _lead_page(f"<p>{LEAD}</p>", LEAD[:-1] + " …")
    assert shown_lead(_tree(page)) == LEAD


def test_read_page_puts_the_lead_before_the_story_once() -> None:
    text = read_page(_lead_page(f'<div class="teaser-text">{LEAD}</div>'), None).text
    assert text.startswith(LEAD) and text.count("approved the new ferry timetable") == 1
    assert "Paragraph 5 of the story" in text
    # a lead the extractor kept already is not added twice
    assert with_lead(f"{LEAD}\nMore.", LEAD) == f"{LEAD}\nMore."
    assert with_lead("Story.", LEAD) == f"{LEAD}\nStory." and with_lead("", LEAD) == ""


@pytest.mark.parametrize(("text", "count"), [
    ("One. Two.", 2), ("Er sagte: „Nein.“ Dann ging er.", 2), ("No final stop", 1),
    ("Prices rose 3.5 per cent. Wages did not.", 2), ("See p. 4 of the report.", 2),
    ("В Москве идёт дождь. Завтра тоже.", 2), ("e.g. this one", 1),
])
def test_sentence_count(text: str, count: int) -> None:
    assert sentence_count(text) == count


def test_added_paragraph_chars_counts_only_whole_new_paragraphs() -> None:
    paragraph = "A sentence of the story that runs long enough to be a paragraph. " * 3
    precise = f"{paragraph}\nShort line"
    assert added_paragraph_chars(precise, f"{paragraph}\nShort line\nShare this\nMore news") == 0
    other = paragraph.replace("story", "report")
    assert added_paragraph_chars(precise, f"{paragraph}\n{other}") == len(other.strip())
    # whitespace differences are not new text
    assert added_paragraph_chars(precise, "  " + paragraph.replace(" ", "  ")) == 0
    assert added_paragraph_chars(None, paragraph) == len(paragraph.strip())


RELATED = "Harbour board approves the winter timetable"


@pytest.mark.parametrize(("line", "kept"), [
    (f"Read more: {RELATED}", False),  # a pointer to another article
    (f"Lesen Sie auch: {RELATED}", False),
    (f"À lire aussi » {RELATED}", False),
    (f"Sources: {RELATED}", True),  # the label is itself a link: a list's heading
    (f"2 March: {RELATED}", True),  # a dated entry is content
    ("Read more: the board will meet again in the spring", True),  # not a link's text
    (RELATED, True),  # a bare link text may be a subheading
])
def test_lines_that_point_to_another_article_are_dropped(line: str, kept: bool) -> None:
    text = f"The story begins.\n{line}\nThe story ends."
    result = without_link_prompts(text, {RELATED, "Sources"})
    assert (line in result) is kept
    assert result.startswith("The story begins.") and result.endswith("The story ends.")


def test_read_page_drops_a_read_more_line() -> None:
    html = (f'<html><head><title>T</title></head><body><article><h1>Ferry</h1>{STORY}'
            f'<p>Read more: <a href="/winter">{RELATED}</a></p>{STORY}</article></body></html>')
    text = read_page(html, None).text
    assert "Paragraph 5 of the story" in text and RELATED not in text


def test_a_third_pass_favors_recall_where_both_passes_keep_little() -> None:
    """A story set in an <aside> (a template that wraps the article in a side container): the
    precise pass keeps nothing of it and the default pass a line, so favor_recall runs too."""
    story = "".join(f"<p>The council approved the new harbour plan after debate number {n}, and "
                    "the mayor said work starts in spring.</p>" for n in range(12))
    page = (f"<html><body><header><h1>Harbour plan</h1></header><aside>{story}</aside>"
            "<footer>Your daily digest of the trade.</footer></body></html>")
    two_passes = [extract._bare_extraction(load_html(page), None, favor_precision=precise)
                  for precise in (True, False)]
    assert all(len(found.text or "") < 100 for found in two_passes if found is not None)
    text = extract.extract_document(load_html(page), None).text
    assert "debate number 0," in text and "debate number 11," in text
    # Where the passes keep the story, the third pass is not needed and the result is theirs.
    article = page.replace("<aside>", "<article>").replace("</aside>", "</article>")
    precise = extract._bare_extraction(load_html(article), None, favor_precision=True)
    assert extract.extract_document(load_html(article), None).text == precise.text


ENDED_STORY = "The ferry returned to service on Monday.\nIts engines were rebuilt over the winter."


@pytest.mark.parametrize(
    ("ending", "kept"),
    [
        ("Subscribe now to our e-edition for the full story.\n"
         "For breaking news download the Coast News app for iOS and Android.", False),
        ("Follow The Coast News on Twitter and Instagram @CoastNews.", False),
        ("¿Ya sabías que tenemos canal de Telegram? Únete desde tu celular.", False),
        ("Hier zum Newsletter anmelden", False),
        # Content that mentions the same things stays: a story's last line on subscribers,
        # and a call to action that is not at the end.
        ("The streaming service now has 200 million subscribers.", True),
    ],
)
def test_calls_to_action_that_end_the_text_are_dropped(ending: str, kept: bool) -> None:
    assert without_calls_to_action(f"{ENDED_STORY}\n{ending}") == (
        f"{ENDED_STORY}\n{ending}" if kept else ENDED_STORY)


def test_a_call_to_action_inside_the_text_stays() -> None:
    text = f"Sign up for the harbour tour at the town hall.\n{ENDED_STORY}"
    assert without_calls_to_action(text) == text
    assert without_calls_to_action("Subscribe to our newsletter") == "Subscribe to our newsletter"


def test_the_headline_is_the_title_not_the_first_line_of_the_text() -> None:
    """An h1 inside the article is the title; the text starts with the story, as a plain-text
    file's does once its headline line is taken as the title."""
    body = "".join(f"<p>The ferry to the islands will run every hour from June, the harbour "
                   f"office said on Monday, and tickets go on sale next week. Part {n}.</p>"
                   for n in range(5))
    page = read_page("<html><head><title>Hourly ferries from June | Harbour Gazette</title>"
                     "</head><body><article><h1>Hourly ferries from June</h1>" + body
                     + "</article></body></html>", "https://news.example.org/ferries")
    assert page.title == "Hourly ferries from June"
    assert page.text.startswith("The ferry to the islands will run every hour")
    assert "Hourly ferries from June" not in page.text


@pytest.mark.parametrize(("text", "title", "kept"), [
    ("Hourly  ferries\nThe ferry runs.", "Hourly ferries", "The ferry runs."),
    ("HOURLY FERRIES\n\nThe ferry runs.", "Hourly ferries", "The ferry runs."),
    ("Hourly ferries from June\nThe ferry runs.", "Hourly ferries", None),  # another line
    ("Hourly ferries", "Hourly ferries", None),  # nothing but the headline: kept
    ("The ferry runs.", None, None),
])
def test_without_headline(text: str, title: str | None, kept: str | None) -> None:
    assert without_headline(text, title) == (text if kept is None else kept)
