"""Extraction: fetched HTML → an article (main text and metadata) or a Reject with a reason.

trafilatura finds the main text and metadata (title, author, date, site name) with
`deduplicate=False`: its dedup cache is process-wide state, and our dedup lives in DuckDB.
We add what it does not report: where the published date came from (JSON-LD, a meta tag, a
<time> element, the URL, or htmldate's text heuristics), the page's canonical URL, and a verdict
on whether the page is an article at all (empty_extraction, too_short, index_page).
The text gets the page's printed lead where trafilatura dropped it (shown_lead) and loses
"Read more: <link>" lines (without_link_prompts) and the calls to subscribe, follow or download
an app that end it (without_calls_to_action).

Timeout: extraction runs in worker processes (`ExtractionWorkers`) with a deadline per page.
A thread could only stop *waiting*: trafilatura and lxml are CPU-bound and cannot be
interrupted, so a pathological page would keep a core busy (and the GIL held) after its
deadline, and the next one would pile up behind it. A process can be killed and replaced, and
a crash in lxml takes down a worker, not the flow. Workers are fresh interpreters (subprocess,
not fork: forking a process that already runs threads, as Prefect's does, can deadlock); a start
costs about a second per worker, once per batch, and the workers also give real parallelism.

Bytes are decoded by tasks.decode (one policy for every input), never by trafilatura.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing.connection
import os
import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura
from lxml.html import HtmlElement
from prefect import task
from prefect.cache_policies import NO_CACHE
from trafilatura.settings import Document
from trafilatura.utils import load_html

from tasks.decode import BinaryContent, decode_with_rule
from tasks.metadata import StatedDate, choose_title, stated_dates, title_signals
from tasks.pages import classify_page
from tasks.records import (
    DateHint,
    DateSource,
    Fetched,
    FetchedPage,
    FetchFailed,
    Outcome,
    Page,
    UrlArticle,
)
from tasks.urls import UrlError, canonicalize_url
from warehouse.records import (
    Candidate,
    HttpFetch,
    ParsedArticle,
    Precision,
    Reject,
    sha256_hex,
    source_id_for,
)
from warehouse.settings import ExtractSettings

EXTRACTOR = "trafilatura"
EXTRACTOR_VERSION = version("trafilatura")
STAGE = "extract"


# <meta> names and properties that carry the first publication date (not the last update).
PUBLISHED_META = frozenset({
    "article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate",
    "publish-date", "publish_date", "date", "dc.date", "dc.date.issued", "dcterms.created",
    "dcterms.date", "dcterms.issued", "sailthru.date", "parsely-pub-date", "article.published",
    "citation_publication_date", "original-publish-date", "published_time", "created",
    "article_date_original", "cxenseparse:recs:publishtime", "date_published",
})
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_JSON_LD_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"\s*(\d{4}-\d{2}-\d{2})')
_URL_DAY = re.compile(r"/(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:/|[-_.]|$)")
_URL_MONTH = re.compile(r"/(\d{4})/(\d{1,2})/")
_SAMPLE_CHARS, _SAMPLE_LINKS = 20_000, 2_000  # bounds of the index-page check
# The two-pass rule of extract_document, measured on both benchmarks (bench/).
_MIN_PARAGRAPH_SHARE, _MIN_PRECISE_SHARE, _MIN_PARAGRAPH_CHARS = 0.5, 0.6, 500
_RECALL_BELOW_SHARE = 0.4  # ... and its third pass, favor_recall
# ... and where the default pass adds whole paragraphs the preset dropped (added_paragraph_chars).
_PARAGRAPH_LINE_CHARS, _MIN_ADDED_PARAGRAPH_CHARS = 150, 300
# The lead rule (shown_lead): the page's summary, printed above the story as a paragraph.
_SUMMARY_META = frozenset({"description", "og:description", "twitter:description"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_NOT_LEAD = frozenset({"a", "nav", "footer", "aside", "form", "button", "select", "li"})
_NO_TEXT = frozenset({"script", "style", "noscript", "template", "textarea", "title"})
_MIN_LEAD_CHARS, _LONG_LEAD_CHARS, _MAX_LEAD_CHARS, _LEAD_CLIMB = 40, 200, 1500, 3
# A sentence ends at . ! ? or … (and closing quotes) before a space and a capital or digit.
_SENTENCE_END = re.compile(r"[.!?…][\"'»«“”’)]*\s+[\"'»«“„‘(]*(\w)")
# A pointer to another article set as its own line: "Read more: <the title of a link>".
_LINK_PROMPT = re.compile(r"([^\W\d_]+(?:[ '’][^\W\d_]+){0,3})\s*[:»>|]\s*(.{15,})")
# A line that asks the reader to subscribe, sign up, follow, download an app or log in, in the
# languages of the dev sets (imperatives and the nouns of the offer, not "subscribers").
_CALL_TO_ACTION = re.compile(
    r"\b(?:subscribe\b|subscription|sign(?:ing)? up|newsletter|follow (?:us|the\b.*\bon)|"
    r"download (?:the|our)\b.*\bapps?|log ?in\b|abonnier|abonnez|abonnement|anmelden|"
    r"folgen sie uns|suscr[ií]b|suscripci[óo]n|s[ií]guenos|[úu]nete|inscrivez|suivez-nous|"
    r"iscriviti|abbonati|seguici|assine|inscreva|siga-nos|zaprenumeruj|subskryp)",
    re.IGNORECASE)
_MAX_CALL_CHARS = 300
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


# ---------------------------------------------------------------- reading one page (pure)


def read_page(html: str, url: str | None, favor_precision: bool = False) -> Page:
    """Main text and metadata of an HTML page; an empty Page when nothing was extracted."""
    html = _XML_DECLARATION.sub("", html, count=1)  # lxml rejects str with a declared encoding
    tree = load_html(html) if html.strip() else None
    if tree is None:
        return Page()
    # Read the head before extraction: trafilatura prunes the tree it is given.
    page = Page(canonical_url=canonical_link(tree, url))
    published, updated = stated_dates(tree, PUBLISHED_META)
    lead = shown_lead(tree)
    links = {" ".join(anchor.text_content().split()) for anchor in tree.iter("a")}
    document = extract_document(tree, url, favor_precision)
    if document is None:
        # Challenge pages and JavaScript shells often extract to nothing: say what they are.
        page.non_article, page.non_article_detail, _ = classify_page(html, "", None)
        return page
    page.title = choose_title(title_signals(tree, url, document.sitename), document.title)
    page.text = without_headline(with_lead(without_calls_to_action(
        without_link_prompts((document.text or "").strip(), links)), lead), page.title)
    page.non_article, page.non_article_detail, page.truncated = classify_page(
        html, page.text, page.title)
    page.author, page.site_name = document.author, document.sitename
    page.page_type = document.pagetype
    page.link_text_ratio, page.link_texts_found = link_text_share(tree, page.text)
    _set_dates(page, tree, url, document.date, published, updated)
    return page


def extract_document(tree: HtmlElement, url: str | None, favor_precision: bool = False
                     ) -> Document | None:
    """trafilatura's main text and metadata, read in two passes where the first looks short.

    Its precision preset first: on both benchmarks it drops boilerplate that the balanced
    default keeps (body F1 0.964 against 0.960). Where that text is under half of the page's
    visible paragraph text, or the page has too little paragraph text to tell (a section front
    of linked headlines, where the preset keeps only the dates; 16% of pages in all), the
    preset may have cut the article: the default (with its readability and jusText comparison)
    runs too, and the precise text is kept only when it holds at least 60% of the default's
    and the default does not add whole paragraphs the preset dropped (300 characters or more
    in lines of 150 or more: on pages where the preset cut the text, what it cut is a paragraph
    of the story, not the short lines of boilerplate the preset is for).
    Where the text of both passes is still under 40% of the page's paragraph text (a story in
    containers that both passes take for boilerplate: onlinemarketing.de kept only its slogan),
    trafilatura's favor_recall preset runs as a third pass and its text is taken if longer:
    on the trafilatura set 7 snippets more found and 4 boilerplate ones more (snippet F1
    0.9339 -> 0.9345), body F1 on the 181 pages unchanged (0.969); at 25% it ran too rarely
    to matter (+3/-1), at 50% it let in more boilerplate (0.9341).
    Measured with bench/extraction_benchmark.py; `favor_precision`: the preset alone.
    """
    precise = _bare_extraction(tree, url, favor_precision=True)
    paragraphs = paragraph_chars(tree)
    if favor_precision or (paragraphs >= _MIN_PARAGRAPH_CHARS
                           and _text_chars(precise) >= _MIN_PARAGRAPH_SHARE * paragraphs):
        return precise
    balanced = _bare_extraction(tree, url, favor_precision=False)
    if balanced is None:
        chosen = precise
    elif precise is None or added_paragraph_chars(precise.text, balanced.text) >= (
            _MIN_ADDED_PARAGRAPH_CHARS):
        chosen = balanced
    elif _text_chars(precise) >= _MIN_PRECISE_SHARE * _text_chars(balanced):
        chosen = precise
    else:
        chosen = balanced
    if paragraphs < _MIN_PARAGRAPH_CHARS or (
            _text_chars(chosen) >= _RECALL_BELOW_SHARE * paragraphs):
        return chosen
    recall = _bare_extraction(tree, url, favor_precision=False, favor_recall=True)
    return recall if _text_chars(recall) > _text_chars(chosen) else chosen


def added_paragraph_chars(first: str | None, second: str | None) -> int:
    """Characters in paragraph-long lines of `second` (150 or more) that `first` lacks."""
    have = {" ".join(line.split()) for line in (first or "").splitlines()}
    added = (" ".join(line.split()) for line in (second or "").splitlines())
    return sum(len(line) for line in added
               if len(line) >= _PARAGRAPH_LINE_CHARS and line not in have)


def shown_lead(tree: HtmlElement) -> str | None:
    """The page's summary (its meta description) where the page also prints it as a
    paragraph of the story, or None.

    Many sites set their lead (standfirst, teaser, intro) apart from the body in its own
    element, which trafilatura often drops; the same text in the page's meta description
    shows that it is the story's own summary, not a teaser for another page. A one-sentence
    heading (an English "dek" under the headline) is a display line, not part of the text, so
    a lead must be two sentences or more, or 200 characters, and not a heading unless long.
    Links, lists, navigation and forms never hold it.
    """
    summaries = _meta_summaries(tree)
    body = tree.find(".//body")
    if not summaries or body is None:
        return None
    for element in body.iter():
        if not isinstance(element.tag, str) or element.tag in _NO_TEXT or not (
                element.text and element.text.strip()):
            continue
        start = " ".join(element.text.split())
        if not any(summary.startswith(start[:40]) for summary in summaries):
            continue
        lead = _lead_element(element, summaries)
        if lead is not None:
            return _as_lead(lead)
    return None


def _meta_summaries(tree: HtmlElement) -> list[str]:
    summaries: list[str] = []
    for meta in tree.iter("meta"):
        if (meta.get("name") or meta.get("property") or "").lower() in _SUMMARY_META:
            summary = _without_ellipsis(" ".join((meta.get("content") or "").split()))
            if len(summary) >= _MIN_LEAD_CHARS and summary not in summaries:
                summaries.append(summary)
    return summaries


def _without_ellipsis(text: str) -> str:
    return text.rstrip(".…").rstrip()


def _lead_element(element: HtmlElement, summaries: list[str]) -> HtmlElement | None:
    """The element (or one of its nearest ancestors) whose whole text is a summary."""
    candidate: HtmlElement | None = element
    for _ in range(_LEAD_CLIMB):
        if candidate is None:
            return None
        text = " ".join(candidate.text_content().split())
        if len(text) > _MAX_LEAD_CHARS:
            return None
        if text in summaries or _without_ellipsis(text) in summaries:
            return candidate
        candidate = candidate.getparent()
    return None


def _as_lead(element: HtmlElement) -> str | None:
    """The element's text if it reads as a paragraph of the story (see shown_lead)."""
    around = {element.tag, *(ancestor.tag for ancestor in element.iterancestors())}
    if around & _NOT_LEAD:
        return None
    text = " ".join(element.text_content().split())
    paragraph = sentence_count(text) >= 2 and not around & _HEADINGS
    return text if paragraph or len(text) >= _LONG_LEAD_CHARS else None


def without_headline(text: str, title: str | None) -> str:
    """`text` without a first line that is the title: the headline is the document's title,
    not the first line of its text (as for plain-text files; the extraction benchmark's
    bodies never start with it). A text that is nothing but the headline is kept."""
    first, _, rest = text.partition("\n")
    if title and rest.strip() and " ".join(first.split()).casefold() == " ".join(
            title.split()).casefold():
        return rest.lstrip("\n")
    return text


def sentence_count(text: str) -> int:
    """Sentences in a text: one, plus each end of a sentence followed by a capital or digit."""
    return 1 + sum(1 for end in _SENTENCE_END.finditer(text)
                   if end.group(1).isupper() or end.group(1).isdigit())


def without_link_prompts(text: str, link_texts: set[str]) -> str:
    """The text without lines that point to another article: a short label ("Read more",
    "Lesen Sie auch", "Lea también", up to four words) and the whole text of one of the
    page's links. The label must not itself be a link (a link list's own heading) and holds
    no digits (a dated list entry such as "2 March: …" is content)."""
    kept = []
    for line in text.splitlines():
        prompt = _LINK_PROMPT.fullmatch(" ".join(line.split()))
        if prompt and prompt.group(2) in link_texts and prompt.group(1) not in link_texts:
            continue
        kept.append(line)
    return "\n".join(kept)


def without_calls_to_action(text: str) -> str:
    """The text without the lines at its end that ask the reader to do something else:
    subscribe, sign up for a newsletter, follow the site, download its app, log in ("Follow
    The Gleaner on Twitter …", "Síguenos en Telegram …"). News sites close their stories with
    these; trafilatura keeps them when they sit in the article's container. Only the run of
    such lines that ends the text goes, so a call inside the story stays. On the trafilatura
    set: 7 boilerplate snippets fewer, 1 content snippet lost (a podcast blog's own appeal),
    snippet F1 0.9345 -> 0.9359; body F1 on the 181 pages 0.969 -> 0.970."""
    lines = text.splitlines()
    end = len(lines)
    while end > 1 and len(lines[end - 1]) <= _MAX_CALL_CHARS and _CALL_TO_ACTION.search(
            lines[end - 1]):
        end -= 1
    return "\n".join(lines[:end]) if end < len(lines) else text


def with_lead(text: str, lead: str | None) -> str:
    """The text with the lead before it, unless it already holds it (or has no text)."""
    if not lead or not text or lead in " ".join(text.split()):
        return text
    return f"{lead}\n{text}"


def _bare_extraction(tree: HtmlElement, url: str | None, favor_precision: bool,
                     favor_recall: bool = False) -> Document | None:
    return trafilatura.bare_extraction(
        tree, url=url, with_metadata=True, include_comments=False, deduplicate=False,
        favor_precision=favor_precision, favor_recall=favor_recall,
    )


def _text_chars(document: Document | None) -> int:
    return len((document.text or "").strip()) if document is not None else 0


def paragraph_chars(tree: HtmlElement) -> int:
    """Characters of text in the page's <p> elements: what a reader sees as paragraphs."""
    return sum(len(" ".join(p.text_content().split())) for p in tree.iter("p"))


def _set_dates(page: Page, tree: HtmlElement, url: str | None, found: str | None,
               published: list[StatedDate], updated: list[StatedDate]) -> None:
    """Published and updated dates of the page, each with its source and precision."""
    if found:
        page.date = found
        # The stated date that agrees with htmldate's names its rule and precision (a
        # "2022-05" in the markup is a month, not the 1st of May).
        stated = next((date for date in published if date.date == found[:10]), None)
        page.date_source, page.date_precision = (
            (stated.source, stated.precision) if stated else date_provenance(tree, url, found))
    if updated:
        page.updated = updated[0].date
        page.updated_source, page.updated_precision = updated[0].source, updated[0].precision


def canonical_link(tree: HtmlElement, url: str | None) -> str | None:
    """The page's <link rel=canonical> (or og:url), resolved and canonicalised; None if bad."""
    hrefs = [link.get("href") for link in tree.iter("link")
             if "canonical" in (link.get("rel") or "").lower().split() and link.get("href")]
    hrefs += [meta.get("content") for meta in tree.iter("meta")
              if (meta.get("property") or "").lower() == "og:url" and meta.get("content")]
    for href in hrefs:
        try:
            return canonicalize_url(href.strip(), base=url)
        except UrlError:
            continue
    return None


def link_text_share(tree: HtmlElement, text: str) -> tuple[float, int]:
    """How much of the extracted text is made of the page's link texts, and how many of them.

    A section front extracts as a list of headlines, each of which is a link; an article's
    links are a few phrases inside sentences. Short link texts ("News", "More") are ignored.
    The check reads a bounded sample (the text's start, the first link texts): substring
    search over every link of a huge page would cost more than the extraction itself.
    """
    sample = " ".join(text[:_SAMPLE_CHARS].split())
    if not sample:
        return 0.0, 0
    link_texts: dict[str, None] = {}
    for anchor in tree.iter("a"):
        label = " ".join(anchor.text_content().split())
        if len(label) >= 15:
            link_texts[label] = None
            if len(link_texts) >= _SAMPLE_LINKS:
                break
    found = [label for label in link_texts if label in sample]
    covered = sum(len(label) * sample.count(label) for label in found)
    return min(1.0, covered / len(sample)), len(found)


def date_provenance(tree: HtmlElement, url: str | None, date: str
                    ) -> tuple[DateSource, Precision]:
    """Which part of the page states `date` (YYYY-MM-DD), checked from the most explicit
    source down; 'htmldate' when only its text heuristics found it."""
    for source, found, precision in date_candidates(tree, url):
        if date.startswith(found):
            return source, precision
    return "htmldate", "day"


def date_candidates(tree: HtmlElement, url: str | None
                    ) -> list[tuple[DateSource, str, Precision]]:
    """Published dates stated in the page, most explicit first: (source, date prefix, precision)."""
    found: list[tuple[DateSource, str, Precision]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        found += [("json_ld", m, "day") for m in _JSON_LD_PUBLISHED.findall(script.text or "")]
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in PUBLISHED_META and (match := _ISO_DATE.search(meta.get("content") or "")):
            found.append(("meta", match.group(0), "day"))
    for element in tree.xpath("//time[@datetime] | //*[@itemprop='datePublished']"):
        value = element.get("datetime") or element.get("content") or ""
        if match := _ISO_DATE.search(value):
            found.append(("time_element", match.group(0), "day"))
    found += _url_dates(url or "")
    return found


def _url_dates(url: str) -> list[tuple[DateSource, str, Precision]]:
    if match := _URL_DAY.search(url):
        year, month, day = (int(part) for part in match.groups())
        return [("url", f"{year:04d}-{month:02d}-{day:02d}", "day")]
    if match := _URL_MONTH.search(url):
        year, month = (int(part) for part in match.groups())
        return [("url", f"{year:04d}-{month:02d}", "month")]
    return []


def judge_page(page: Page, config: ExtractSettings) -> tuple[str, str] | None:
    """(reason, detail) when the page is not an article, None when it is."""
    # Consent, bot, paywall and error pages (tasks.pages.classify_page, run by read_page in the
    # worker) first: their specific reason says more than a length check.
    if page.non_article:
        return page.non_article, page.non_article_detail
    if not page.text:
        return "empty_extraction", "trafilatura found no main text"
    if len(page.text) < config.min_text_chars:
        return "too_short", f"{len(page.text)} characters < {config.min_text_chars}"
    if (page.link_text_ratio >= config.index_link_ratio
            and page.link_texts_found >= config.index_min_links):
        return "index_page", (f"{page.link_text_ratio:.0%} of the text is the text of "
                              f"{page.link_texts_found} links")
    return None


# ---------------------------------------------------------------- worker processes


class ExtractionTimeout(Exception):
    """A page whose extraction passed the deadline (its worker was replaced)."""


class ExtractionCrash(Exception):
    """A worker that died or raised while extracting."""


def run_worker(fd: int) -> None:
    """Worker entry point: (html, url, favor_precision) in, ("ok", Page dict) or
    ("error", text) out, over the socket inherited as `fd`, until the parent hangs up."""
    for name in ("trafilatura", "htmldate", "courlan"):  # their warnings are our Rejects
        logging.getLogger(name).setLevel(logging.ERROR)
    connection = multiprocessing.connection.Connection(fd)
    connection.send(("ready", None))  # imports done: page deadlines start from here
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            connection.send(("ok", read_page(*job).model_dump()))
        except Exception as error:  # report it; the parent turns it into a Reject
            connection.send(("error", f"{type(error).__name__}: {error}"))


_WORKER_CODE = "import sys; from tasks.extract import run_worker; run_worker(int(sys.argv[1]))"
# A worker's start (a fresh interpreter importing trafilatura and the project, 2-3 s on an idle
# machine, over 10 s on a busy one) is not part of any page's deadline: counted in, it turned
# the first page of a run, and the page after each replaced worker, into extraction_timeout.
START_TIMEOUT_S = 120.0
_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])


class _Worker:
    """One worker process and its socket; used by one thread at a time.

    Started with subprocess rather than multiprocessing: exec'ing a fresh interpreter is safe
    in a process full of threads (a bare fork is not), and unlike multiprocessing's "spawn" it
    does not re-run the caller's __main__ module, which would break unguarded scripts.
    """

    def __init__(self) -> None:
        parent, child = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [_PROJECT_ROOT, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE, str(child.fileno())],
            pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL)
        child.close()
        self.connection = multiprocessing.connection.Connection(parent.detach())
        self.started = False

    def run(self, job: tuple[str, str | None, bool], timeout: float) -> Page:
        """The page `job` read within `timeout` seconds, counted once the worker has started."""
        try:
            if not self.started:
                if not self.connection.poll(START_TIMEOUT_S):
                    raise ExtractionCrash(f"worker did not start in {START_TIMEOUT_S:g}s")
                self.connection.recv()  # ("ready", None)
                self.started = True
            self.connection.send(job)
            if not self.connection.poll(timeout):
                raise ExtractionTimeout(f"no result after {timeout:g}s")
            status, payload = self.connection.recv()
        except (EOFError, OSError) as error:
            raise ExtractionCrash(f"worker died: {type(error).__name__}") from None
        if status != "ok":
            raise ExtractionCrash(payload)
        return Page(**payload)

    def stop(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.connection.send(None)
                self.process.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(2)
        self.connection.close()


class ExtractionWorkers:
    """A small pool of extraction processes with a deadline per page. Use as a context manager.

    A worker that times out or dies is killed and replaced; the page becomes a Reject.
    """

    def __init__(self, config: ExtractSettings | None = None) -> None:
        self.config = config or ExtractSettings()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def __enter__(self) -> ExtractionWorkers:
        for _ in range(self.config.processes):
            self._add()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.stop()

    def _add(self) -> None:
        worker = _Worker()
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)

    def read(self, html: str, url: str | None, timeout_s: float | None = None) -> Page:
        """read_page in a worker, within `timeout_s` (default: the config's); raises
        ExtractionTimeout or ExtractionCrash."""
        try:  # bounded: if replacing a dead worker failed, fail this page instead of hanging
            worker = self._idle.get(timeout=(timeout_s or self.config.timeout_s) + 60)
        except queue.Empty:
            raise ExtractionCrash("no extraction worker available") from None
        try:
            page = worker.run((html, url, self.config.favor_precision),
                              timeout_s or self.config.timeout_s)
        except (ExtractionTimeout, ExtractionCrash):
            worker.stop(kill=True)
            with self._lock:
                self._all.remove(worker)
            self._add()  # the replacement starts while the caller records the reject
            raise
        self._idle.put(worker)
        return page


# ---------------------------------------------------------------- pages → records


def extract_html(
    html: str,
    *,
    locator: str,
    url: str | None,
    content_hash: str,
    size: int,
    encoding: str,
    encoding_rule: str | None = None,
    config: ExtractSettings | None = None,
    workers: ExtractionWorkers | None = None,
    hint: DateHint | None = None,
) -> UrlArticle | Reject:
    """An article from decoded HTML, or a Reject saying why not; never raises.

    Without `workers` the page is read in this process, with no deadline (benchmarks, tools).
    """
    config = config or ExtractSettings()
    source_id = source_id_for(locator)

    def reject(reason: str, detail: str) -> Reject:
        return Reject(source_id=source_id, locator=locator, content_hash=content_hash,
                      stage=STAGE, reason=reason, detail=detail)

    try:
        page = workers.read(html, url) if workers else read_page(html, url, config.favor_precision)
    except ExtractionTimeout as error:
        return reject("extraction_timeout", str(error))
    except Exception as error:  # ExtractionCrash, or a trafilatura bug in-process
        return reject("extraction_error", str(error))
    verdict = judge_page(page, config)
    if verdict is not None:
        return reject(*verdict)
    return build_article(page, locator=locator, url=url, content_hash=content_hash, size=size,
                         encoding=encoding, encoding_rule=encoding_rule, hint=hint)


def build_article(page: Page, *, locator: str, url: str | None, content_hash: str, size: int,
                  encoding: str, encoding_rule: str | None = None,
                  hint: DateHint | None = None) -> UrlArticle:
    """The UrlArticle record of a page judged to be an article."""
    published, precision, source = _published(page, hint)
    return UrlArticle(
        source_id=source_id_for(locator), locator=locator, content_hash=content_hash,
        size=size, encoding=encoding, title=page.title, text=page.text,
        url=identity_url(page.canonical_url, url), final_url=url,
        canonical_url=page.canonical_url,
        published=published, published_precision=precision, published_source=source,
        updated=_day(page.updated), updated_precision=page.updated_precision,
        updated_source=page.updated_source, truncated=page.truncated, author=page.author,
        site_name=page.site_name, extractor=f"{EXTRACTOR} {EXTRACTOR_VERSION}",
        encoding_rule=encoding_rule,
    )


def identity_url(canonical: str | None, final_url: str | None) -> str | None:
    """The URL that names the article: its rel=canonical when that stays on the same host and
    is not the site's front page (a common template bug that would merge every article),
    else the canonical form of the URL we ended up at."""
    final = _locator(final_url) if final_url else None
    if canonical is None:
        return final
    parts = urlsplit(canonical)
    if parts.path in ("", "/") and not parts.query:
        return final or canonical
    if final is not None and urlsplit(final).hostname != parts.hostname:
        return final
    return canonical


def date_hint(published: dt.datetime | None, via: str) -> DateHint | None:
    """The DateHint for a URL its feed or sitemap dated (`via` as in DiscoveredUrl.via)."""
    if published is None:
        return None
    return DateHint(published.date(), "sitemap" if "sitemap" in via else "feed")


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _published(page: Page, hint: DateHint | None
               ) -> tuple[dt.date | None, Precision | None, DateSource | None]:
    if page.date:
        try:
            return dt.date.fromisoformat(page.date[:10]), page.date_precision, page.date_source
        except ValueError:
            pass
    if hint is not None:
        return hint.date, "day", hint.source
    return None, None, None


def extract_fetched(
    fetched: Fetched,
    *,
    locator: str | None = None,
    config: ExtractSettings | None = None,
    workers: ExtractionWorkers | None = None,
    hint: DateHint | None = None,
) -> UrlArticle | Reject:
    """Extract a Fetched page; `locator` defaults to the canonical form of the requested URL
    (so the same URL is the same source on every run)."""
    locator = locator or _locator(fetched.url)
    limit = (config or ExtractSettings()).max_page_bytes
    if limit is not None and len(fetched.body) > limit:  # lxml takes ~25 bytes per byte
        return _page_reject(locator, fetched.body, "too_large",
                            f"{len(fetched.body)} bytes > limit of {limit} (memory budget)")
    try:
        text, encoding, encoding_rule = decode_with_rule(
            fetched.body, fetched.headers.get("content-type"), markup=True)
    except BinaryContent as error:
        return _page_reject(locator, fetched.body, "binary_content", f"the page {error}")
    return extract_html(
        text, locator=locator, url=fetched.final_url,
        content_hash=sha256_hex(fetched.body), size=len(fetched.body), encoding=encoding,
        encoding_rule=encoding_rule,
        config=config, workers=workers, hint=hint,
    )


def _page_reject(locator: str, body: bytes, reason: str, detail: str) -> Reject:
    return Reject(source_id=source_id_for(locator), locator=locator,
                  content_hash=sha256_hex(body), stage=STAGE, reason=reason, detail=detail)


def _locator(url: str) -> str:
    try:
        return canonicalize_url(url)
    except UrlError:
        return url


def extract_many(
    pages: Sequence[Fetched],
    config: ExtractSettings | None = None,
    hints: Sequence[DateHint | None] | None = None,
) -> list[UrlArticle | Reject]:
    """Extract a batch in worker processes (deadline per page); results in input order."""
    config = config or ExtractSettings()
    if not pages:
        return []
    hints = hints or [None] * len(pages)
    with ExtractionWorkers(config) as workers, ThreadPoolExecutor(config.processes) as pool:
        return list(pool.map(
            lambda pair: extract_fetched(pair[0], config=config, workers=workers, hint=pair[1]),
            zip(pages, hints, strict=True)))


def page_outcomes(pages: Sequence[FetchedPage], config: ExtractSettings
                  ) -> list[tuple[Candidate, Outcome]]:
    """Extract the fetched pages; every URL ends as an article, a reject or unchanged (304)."""
    fetched = [p for p in pages if isinstance(p.result, Fetched)]
    hints = [date_hint(p.url.published or p.url.lastmod, p.url.via) for p in fetched]
    extracted = dict(zip((id(p) for p in fetched), extract_many(
        [p.result for p in fetched], config, hints), strict=True))
    outcomes = []
    for page in pages:
        locator = page.url.url
        candidate = Candidate(source_id=source_id_for(locator), locator=locator, kind="url",
                              size=len(page.result.body) if page.archive else None)
        outcomes.append((candidate, _outcome(page, extracted.get(id(page)), page.row)))
    return outcomes


def _outcome(page: FetchedPage, extracted: ParsedArticle | Reject | None, row: HttpFetch
             ) -> Outcome:
    if isinstance(page.result, FetchFailed):
        return Outcome(unchanged=page.reject is None,
                       rejects=[page.reject] if page.reject else [], fetch=row)
    if isinstance(extracted, Reject):
        return Outcome(content_hash=row.sha256, rejects=[extracted], fetch=row)
    return Outcome(content_hash=row.sha256, encoding=extracted.encoding, articles=[extracted],
                   fetch=row)


@task(name="extract", cache_policy=NO_CACHE)
def extract_stage(pages: list[FetchedPage], settings: ExtractSettings
                  ) -> list[tuple[Candidate, Outcome]]:
    """Extract article text and metadata from a batch of fetched pages."""
    return page_outcomes(pages, settings)
