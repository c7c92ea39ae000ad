"""Headline and dates of an HTML page, read from the signals publishers put in their markup.

Titles: pages state their headline several times (`og:title`, `<title>`, the first `<h1>`,
JSON-LD `headline`), and most of them append or prepend the site's name to some of these
("… - BBC News", "Corriere della Sera | …"). The headline is the text the signals agree on; a site
name is stripped only on evidence (`og:site_name`, the publisher in JSON-LD, the host name, or
another signal that states the headline without it), never because a separator happens to occur
inside the headline.

A heading may set a kicker apart from the headline in an element of its own (a class such as
"kicker" or "Dachzeile", or a separator hidden from view): the headline is the rest. A heading's
text is what a reader reads: no style sheet, ruby reading, screen-reader label or edge dateline.
A heading that is one link to the home page is the site's logo, and its text is evidence of the
site's name; trafilatura's guess of the name is evidence only where it reads as a name.

Dates: the first publication and the last update are kept apart, each with its precision and
the rule that found it (JSON-LD `datePublished` / `dateModified`, Open Graph and other `<meta>`,
`<time>` elements with itemprop, pubdate or class hints).

Pure functions over an lxml tree: no network, no state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from tasks.dates import parse_date
from warehouse.records import Precision

# ---------------------------------------------------------------- titles

# Separators between a headline and a site name, as sites write them (spaces on both sides,
# so that "COVID-19", "9/11" or "Covid-19: what we know" never split; "Rezept : Site" does).
_SEPARATOR = re.compile(r"\s+(?:[|\-–—·•»«/~:]|::|\\)\s+")
# The dots of a site's name: a domain ("Spektrum.de") or a legal form at its end ("… e.V.",
# "… Inc."); not initials ("R. K. Lilley") or dates ("19.5.2007") in a headline.
_SITE_DOTS = re.compile(r"\w\.[^\W\d_]{2,}|(?:\b[^\W\d_]\.){2,}$|\b(?:Inc|Ltd|Co|Corp)\.$")
_BARE_DOMAIN = re.compile(r"(?:[^\W_][\w-]*\.)+[^\W\d_]{2,}", re.IGNORECASE)
_TIGHT_SEPARATOR = re.compile(r"[|｜丨_]")  # not dashes: "GdP-Vize", "COVID-19"
_LEADING_COLON = re.compile(r"^([^:]{2,40}):\s+(.+)$")
_COLON = re.compile(r"^([^:]*\w[^:]*):\s+(.*\w.*)$")
_MIN_COLON_HEAD_WORDS = 3  # shorter, the part before a colon is a kicker ("Klimaschutz:")
# A site name is a few words: longer tails are a second clause of the headline.
_MAX_SITE_WORDS = 6
_MAX_HEADLINE_CHARS = 300
_MIN_SOLE_H1_WORDS = 4  # shorter, an h1 may be a section label
_H2_CANDIDATES = 5
_MAX_KICKER_WORDS, _MIN_HELD_CHARS = 8, 12
_MIN_GUESSED_HEADLINE_WORDS = 6  # trafilatura's site name this long is a headline
_LOGO_EXTRA_CHARS = 4  # "BBC" → "BBC News", "Spektrum" → "Spektrum.de"
_HOST_NOISE = frozenset({"www", "m", "amp", "mobile", "news", "blog", "com", "org", "net", "co",
                         "uk", "de", "it", "fr", "es", "gov", "edu", "info", "io", "at", "ch"})


@dataclass(frozen=True)
class TitleSignals:
    """The texts a page offers as its headline, and the evidence of its site's name."""

    html_title: str | None = None
    og_title: str | None = None
    h1s: tuple[str, ...] = ()
    h2s: tuple[str, ...] = ()  # the first few: a headline under a logo h1 is often an h2
    json_ld_headline: str | None = None
    site_names: tuple[str, ...] = ()
    host: str | None = None


def title_signals(tree: HtmlElement, url: str | None, site_name: str | None) -> TitleSignals:
    """What the page says its headline and its site's name are."""
    metas = _meta_values(tree)
    title_element = tree.find(".//title")
    h1s = [text for h1 in tree.iter("h1")
           if not _is_hidden(h1) and not _links_home(h1) and (text := heading_text(h1))]
    h2s = [text for h2 in tree.iter("h2") if (text := heading_text(h2))]
    ld = list(_json_ld_objects(tree))
    # A heading that links to the home page is the site's logo: its text names the site.
    logos = [_squash(heading.text_content()) for heading in tree.iter("h1", "h2")
             if _links_home(heading)]
    names = [metas.get("og:site_name"), metas.get("application-name"),
             *(_publisher_name(obj) for obj in ld), *logos]
    html_title = _squash(title_element.text_content()) if title_element is not None else None
    # trafilatura's guess of the site's name is at times the side of the <title> that is the
    # headline ("Diario HOY | Darán bendición a vehículos este sábado" gives the latter): one
    # as long as a headline is evidence only when the page names its site nowhere else.
    site_name = _guessed_site_name(site_name, html_title, metas)
    if not any(names) or len(_squash(site_name).split()) < _MIN_GUESSED_HEADLINE_WORDS:
        names.append(site_name)
    return TitleSignals(
        html_title=html_title,
        og_title=metas.get("og:title") or metas.get("twitter:title"),
        h1s=tuple(h1s), h2s=tuple(h2s[:_H2_CANDIDATES]),
        json_ld_headline=next((_squash(str(obj["headline"])) for obj in ld
                               if isinstance(obj.get("headline"), str)), None),
        site_names=_site_names(names),
        host=urlsplit(url).hostname if url else None,
    )


def _guessed_site_name(guess: str | None, html_title: str | None, metas: dict[str, str]
                       ) -> str | None:
    """trafilatura's site name, unless it is a side of the <title> that no <meta> states and
    that is no domain name: where the page names its site nowhere, trafilatura takes the side
    of the <title> that holds a dot, meaning "Spektrum.de", but a headline has dots too
    ("Love is War - Sehnsucht von R. K. Lilley", "Ergebnisse …, 19.5.2007"): see _SITE_DOTS."""
    guess = _squash(guess)
    if not guess or not html_title or guess == html_title or guess in metas.values():
        return guess or None
    side = html_title.startswith(guess) or html_title.endswith(guess)
    return None if side and not _SITE_DOTS.search(guess) else guess


# A kicker ("Dachzeile", overline) is a short label set in its own element before the headline
# inside the same heading; sites mark it by class, or hide a separator between it and the
# headline so that readers of the raw text still see "Kicker: Headline".
_KICKER_CLASS = re.compile(r"kicker|dachzeile|overline|roofline|topline|eyebrow|supertitle|"
                           r"sub-?title|sub-?headline|sub-?heading|topic|label|rubric|h1small",
                           re.IGNORECASE)
# Whole class names only: "hidden-xs" hides an element on small screens alone.
_HIDDEN_CLASS = re.compile(r"(?<![\w-])(?:visually-?hidden|sr-only|screen-reader-text|invisible|"
                           r"hidden)(?![\w-])", re.IGNORECASE)
_MAX_KICKER_WORDS_IN_HEADING = 8
_UNREAD_IN_HEADING = ("style", "script", "noscript", "template", "rt", "rp")


def heading_text(heading: HtmlElement) -> str:
    """A heading's text without a kicker, a hidden separator or a small-print line that it
    sets in elements of their own ("<span class=kicker>Brexit</span> Vote delayed"), and
    without what a reader never reads as its words: style sheets that CSS-in-JS frameworks
    put inside the heading, ruby readings over CJK characters (<rt>, <rp>), labels for screen
    readers only, and a date in a <time> element that the heading begins or ends with
    ("Jun 17 Headline")."""
    holder = heading
    # Descend through wrappers that hold the whole heading (<h1><a>…</a></h1>).
    while len(holder) == 1 and not _squash(holder.text) and not _squash(holder[0].tail):
        holder = holder[0]
    unread = [element for element in heading.iter() if element is not heading and (
        element.tag in _UNREAD_IN_HEADING or _is_screen_reader_text(element))]
    unread += _edge_dates(holder)
    dropped = _kicker_children(holder)
    full = _squash(_text_without(heading, unread)) if unread else _squash(heading.text_content())
    if not dropped:
        return full if _letters(full) else _squash(heading.text_content())
    dropped += unread
    # A separator left visible between the kicker and the headline goes with the kicker.
    kept = _squash(_text_without(heading, dropped)).lstrip(":|-–—·•» ")
    return kept if _letters(kept) else full


def _is_screen_reader_text(element: HtmlElement) -> bool:
    """A label for screen readers only ("<span class=visuallyhidden>Headline:</span>");
    aria-hidden marks the opposite, text that is seen but not read out."""
    return (isinstance(element.tag, str) and bool(_HIDDEN_CLASS.search(element.get("class") or ""))
            and bool(_letters(element.text_content())))


def _edge_dates(holder: HtmlElement) -> list[HtmlElement]:
    """<time> children that a heading begins or ends with: a dateline, not headline words."""
    children = [child for child in holder if isinstance(child.tag, str)]
    if not children:
        return []
    first, last = children[0], children[-1]
    edges = []
    if first.tag == "time" and not _squash(holder.text):
        edges.append(first)
    if last.tag == "time" and not _squash(last.tail) and last is not first:
        edges.append(last)
    return edges


def _kicker_children(holder: HtmlElement) -> list[HtmlElement]:
    """The kicker, hidden-separator and small-print children of a heading's holder."""
    children = [child for child in holder if isinstance(child.tag, str)]
    hidden = [index for index, child in enumerate(children) if _is_hidden_separator(child)]
    if hidden and not _squash(holder.text):
        # Everything before a hidden separator is the kicker.
        before = children[:hidden[0] + 1]
        words = " ".join(child.text_content() for child in before).split()
        if len(words) <= _MAX_KICKER_WORDS_IN_HEADING:
            return before + [children[index] for index in hidden[1:]]
    return [child for child in children if child.tag == "small"
            or (_KICKER_CLASS.search(child.get("class") or "")
                and len(child.text_content().split()) <= _MAX_KICKER_WORDS_IN_HEADING)]


def _is_hidden_separator(element: HtmlElement) -> bool:
    hidden = (_HIDDEN_CLASS.search(element.get("class") or "")
              or element.get("aria-hidden") == "true")
    return bool(hidden) and not _letters(element.text_content())


def _text_without(root: HtmlElement, dropped: list[HtmlElement]) -> str:
    """The text of `root` leaving out the subtrees in `dropped` (their tails are kept)."""
    skip = set(dropped)
    parts: list[str] = []

    def walk(element: HtmlElement) -> None:
        if element not in skip and isinstance(element.tag, str):  # not a comment
            parts.append(element.text or "")
            for child in element:
                walk(child)
        if element is not root:
            parts.append(element.tail or "")

    walk(root)
    return "".join(parts)


def _links_home(heading: HtmlElement) -> bool:
    """Whether all of a heading's text is one link to the site's home page (its logo)."""
    links = heading.xpath(".//a[@href]")
    if len(links) != 1 or _squash(links[0].text_content()) != _squash(heading.text_content()):
        return False
    href = links[0].get("href", "").strip()
    # An archived page links home through the archive ("…/web/2016…/http://site.example/").
    href = href[href.rfind("http"):] if href.rfind("http") > 0 else href
    parts = urlsplit(href)
    root = parts.path == "/" or (parts.path == "" and bool(parts.netloc))
    return links[0].get("rel") == "home" or (root and not parts.query and not parts.fragment)


def _is_hidden(element: HtmlElement) -> bool:
    """Whether an element is there for screen readers only ("Post navigation")."""
    hidden_class = _HIDDEN_CLASS.search(element.get("class") or "")
    return bool(hidden_class) or element.get("hidden") is not None


def _site_names(names: list[str | None]) -> tuple[str, ...]:
    """Distinct site names, each also split at its separators ("Site » Blog Archiv")."""
    found: dict[str, None] = {}
    for name in filter(None, map(_squash, names)):
        # A name longer than a site name is a headline that a page states as its site name.
        found.update(dict.fromkeys(part for part in (name, *_SEPARATOR.split(name))
                                   if len(part.split()) <= _MAX_SITE_WORDS))
    return tuple(found)


def choose_title(signals: TitleSignals, fallback: str | None = None) -> str | None:
    """The headline: the page's visible h1 when it reads as one, else a signal that another
    one confirms, else the best single one, with a site name stripped on evidence."""
    stated = [signals.json_ld_headline, signals.og_title, signals.html_title]
    if headline := visible_headline(signals, [text for text in stated if text]):
        return headline
    # The page's only h1 is its headline (measured: 0.815 of titles right on the trafilatura
    # set, against 0.780 when stated headlines that agree come first), unless it is as short as
    # a section label ("Local news") and stated headlines agree on something else. Where a page
    # has several, the first one that reads as a headline is the article's: the others head
    # its newsletter box, comments or teasers (3 titles more right, 1 fewer, on that set).
    sole = only_h1(signals)
    if sole and len(sole.split()) >= _MIN_SOLE_H1_WORDS:
        return sole
    first = next(iter(_h1s(signals)), None)
    if first and len(first.split()) >= _MIN_SOLE_H1_WORDS:
        return first
    cleaned = [strip_site_name(text, signals) for text in stated if text]
    for index, text in enumerate(cleaned):  # two signals that agree
        if any(_same(text, other) for other in cleaned[index + 1:]):
            return text
    if headline := shared_colon_tail(cleaned):
        return headline
    if sole:
        return sole
    if cleaned:
        return cleaned[0]
    return strip_site_name(fallback, signals) if fallback else None


def shared_colon_tail(stated: list[str]) -> str | None:
    """The headline two stated titles give after different kickers ("Industriell
    revolutioniert?: Anno 1800 Beta" and "Vorschauen: Anno 1800 Beta"): what they agree on."""
    tails = [(match.group(1), match.group(2).strip()) for text in stated
             if (match := _COLON.match(text))]
    for index, (head, tail) in enumerate(tails):
        if any(_same(tail, other) and not _same(head, other_head)
               for other_head, other in tails[index + 1:]):
            return tail
    return None


def visible_headline(signals: TitleSignals, stated: list[str]) -> str | None:
    """The heading that shows the headline: an h1 (else one of the first h2s) that another
    signal states, in full or as one side of a separator or colon; else the stated headline
    that an h1 shows after a kicker; else an h1 (an h2 where there is none) that a stated title
    begins with. A heading that names the site is its logo, not the headline."""
    h1s = _h1s(signals)
    # Headings and statements are compared as they are and without the site's name
    # ("… | Umweltbundesamt").
    headings = [variant for heading in (*h1s, *signals.h2s) if not is_logo(heading, signals)
                for variant in dict.fromkeys((heading, strip_site_name(heading, signals)))]
    stripped = [strip_site_name(text, signals) for text in stated]
    sides = [side for side in _sides(stripped) if not is_site_name(side, signals)]
    # The most complete statement first: a section label that matches the title's first part
    # ("News - Eawag") must not win over the h1 that the og:title states in full.
    for side in sides:
        if heading := next((heading for heading in headings if _same(heading, side)), None):
            return heading
    # Not the sides of a colon: an h1 that shows "Kicker: Headline" in full is the headline.
    held = _sides(stated, colons=False)
    for h1 in h1s:
        if inner := next((side for side in held if _holds(h1, side)), None):
            return h1 if _shows_colon_kicker(h1, inner) else inner
    shown = h1s or [h2 for h2 in signals.h2s if not is_logo(h2, signals)]
    return next((heading for heading in shown if any(_begins(text, heading) for text in stated)),
                None)


def _shows_colon_kicker(heading: str, headline: str) -> bool:
    """Whether `heading` prints its kicker before `headline` with a colon that readers see
    ("\"Pure Leere\": Marita Kramer verpasst …"): then the whole heading is the headline. A
    colon with no space after it is a hidden separator run into the text ("… :Impfen")."""
    kicker = heading[:len(heading) - len(headline)] if heading.endswith(headline) else ""
    return kicker.rstrip().endswith(":") and kicker[-1:].isspace()


def _begins(title: str, heading: str) -> bool:
    """Whether `title` is `heading` with something after it ("… Rezept | LECKER", "… von
    jesusfreak"): the heading shows the headline and the title adds to it. A heading of one
    or two words before a colon is a kicker ("Klimaschutz: …"), not the headline."""
    if not (title.casefold().startswith(heading.casefold()) and len(title) > len(heading)):
        return False
    rest = title[len(heading):].lstrip()
    kicker = rest.startswith(":") and len(heading.split()) < _MIN_COLON_HEAD_WORDS
    # A template may run the site's motto into the headline ("Truckwash A31Das etwas andere
    # Branchenbuch …"): a capital after a small letter or digit starts a new word there.
    after = title[len(heading)]
    at_word_end = not after.isalnum() or (after.isupper() and not heading[-1].isupper())
    return len(_letters(heading)) >= _MIN_HELD_CHARS and at_word_end and not kicker


def _colon_sides(text: str) -> list[str]:
    """The two sides of a title's first colon ("Klimaschutz: Bohren, bis es heiß wird"): a
    heading may show only the headline after a kicker, or only the headline before a dateline
    ("So viel Regen : 31.10.2023"); a head of one or two words is a kicker, never a headline."""
    if not (match := _COLON.match(text)):
        return []
    head, tail = match.group(1).strip(), match.group(2).strip()
    return [tail, head] if len(head.split()) >= _MIN_COLON_HEAD_WORDS else [tail]


def _sides(stated: list[str], colons: bool = True) -> list[str]:
    """What the stated headlines may show, most complete first: each in full, then the parts
    before and after its separators, then the sides of their colons."""
    parts = [part for text in stated for part in _heads(text)]
    if colons:
        parts += [side for part in (*stated, *parts) for side in _colon_sides(part)]
    return list(dict.fromkeys([*stated, *parts]))


def only_h1(signals: TitleSignals) -> str | None:
    """The page's only h1 besides its logo, unless it is too long for a headline."""
    h1s = _h1s(signals)
    return h1s[0] if len(h1s) == 1 else None


def _h1s(signals: TitleSignals) -> list[str]:
    return [h1 for h1 in dict.fromkeys(signals.h1s)
            if len(h1) <= _MAX_HEADLINE_CHARS and not is_logo(h1, signals)]


def is_logo(heading: str, signals: TitleSignals) -> bool:
    """Whether a heading is the site's name (its logo): the name, a part of it, or the name
    with a word or two around it ("Spektrum.de"); a headline that mentions the site is not."""
    key = _letters(heading)
    if len(heading.split()) > _MAX_SITE_WORDS:
        return False
    names = [_letters(name) for name in signals.site_names]
    names += [label for label in _host_labels(signals.host) if len(label) >= 3]
    return bool(key) and any(
        name and (key in name or (name in key and len(key) <= len(name) + _LOGO_EXTRA_CHARS))
        for name in names)


def _holds(heading: str, headline: str) -> bool:
    """Whether `heading` is `headline` after a kicker of a few words ("Tunesien Große …"),
    shorter than the headline: a heading that merely ends like the title ("Eignet sich eine
    Wärmepumpe im Altbau?" against "Wärmepumpe im Altbau") is a headline of its own."""
    outer, inner = _letters(heading), _letters(headline)
    extra = len(heading.split()) - len(headline.split())
    return (len(inner) >= _MIN_HELD_CHARS and 0 < extra <= _MAX_KICKER_WORDS
            and extra < len(headline.split()) and outer.endswith(inner))


def strip_site_name(title: str, signals: TitleSignals) -> str:
    """`title` without a leading or trailing site name that the evidence names."""
    title = _squash(title)
    parts = _SEPARATOR.split(title)
    separators = _SEPARATOR.findall(title)
    # Trailing parts first ("Headline - Section - Site"): strip from the end while they name
    # the site, and from the first part that is the site's name on (what follows it is its
    # motto: "Headline : Krimiblog | Ermittlungen zum Verfall eines Genres | Gegründet 2005").
    # Then a leading one ("Site | Headline"). A leading part must be the name itself: a kicker
    # that mentions the site ("Frauen im THW: …") belongs to the headline.
    end = len(parts)
    while end > 1 and is_site_name(parts[end - 1], signals):
        end -= 1
    if not is_logo(parts[0], signals):  # else "Site - Section » Headline": see below
        end = next((index for index in range(1, end) if is_logo(parts[index], signals)), end)
    # A title is never cut down to the site's host name: where what is left would be it
    # ("mediaarchitecture.de // » Jens Weber", with a publisher of that name), the other
    # side is the headline.
    if not (end == 1 < len(parts) and _names_host(parts[0], signals)
            and not _names_host(parts[1], signals)):
        parts, separators = parts[:end], separators[:end - 1]
    leading = len(parts)
    while len(parts) > 1 and (is_logo(parts[0], signals) or _names_host(parts[0], signals)):
        parts.pop(0)
        separators.pop(0)
    # After the site's name, "»" marks a breadcrumb trail down to the page ("Time 4 talks »
    # Blog Archiv » Headline", WordPress's old default theme): the page is its last step.
    if len(parts) < leading and separators and all(sep.strip() == "»" for sep in separators):
        parts, separators = parts[-1:], []
    kept = parts[0] + "".join(sep + part for sep, part in zip(separators, parts[1:], strict=True))
    if (match := _LEADING_COLON.match(kept)) and is_logo(match.group(1), signals):
        kept = match.group(2)
    return _without_tight_site_name(kept.strip(), signals) or title


def _without_tight_site_name(title: str, signals: TitleSignals) -> str:
    """`title` without a site name set off by a separator with no spaces, as CJK titles and
    some templates write it ("NEWS WEB EASY|子どもへの…"): only a side that is exactly a
    name the page states (not a word of its host name), since such marks also join words
    ("snake_case" on snake.example)."""
    names = {_letters(name) for name in signals.site_names} - {""}
    marks = list(_TIGHT_SEPARATOR.finditer(title))
    if not marks:
        return title
    head, tail = title[:marks[0].start()], title[marks[-1].end():]
    if _letters(head) in names and _letters(title[marks[0].end():]):
        return title[marks[0].end():].strip()
    if _letters(tail) in names and _letters(title[:marks[-1].start()]):
        return title[:marks[-1].start()].strip()
    return title


def is_site_name(text: str, signals: TitleSignals) -> bool:
    """Whether `text` (a part of a title) is the name of the site: it matches og:site_name or
    the publisher, or the host's name ("BBC News" on bbc.co.uk, "Corriere della Sera" on
    corriere.it)."""
    key = _letters(text)
    if not key or len(text.split()) > _MAX_SITE_WORDS:
        return False
    if _BARE_DOMAIN.fullmatch(text.strip()):  # "… | FASSETTE.NET": a site's, if not this one's
        return True
    for name in signals.site_names:
        name_key = _letters(name)
        if name_key and (key == name_key or key in name_key or name_key in key):
            return True
    return any(len(label) >= 3 and (label in key or key in label)
               for label in _host_labels(signals.host))


def _names_host(text: str, signals: TitleSignals) -> bool:
    """Whether `text` is the host's name, give or take a few letters ("Spektrum.de")."""
    key = _letters(text)
    if not key or not signals.host:
        return False
    domain = _letters(signals.host.lower().removeprefix("www."))
    return key == domain or any(
        len(label) >= 3 and label in key and len(key) <= len(label) + _LOGO_EXTRA_CHARS
        for label in _host_labels(signals.host))


def _host_labels(host: str | None) -> list[str]:
    if not host:
        return []
    return [_letters(label) for label in host.lower().split(".") if label not in _HOST_NOISE]


def _heads(text: str) -> list[str]:
    """The parts of a title before each separator ("A - B - C" → "A", "A - B")."""
    parts = _SEPARATOR.split(text)
    separators = _SEPARATOR.findall(text)
    heads, head = [], parts[0]
    for sep, part in zip(separators, parts[1:], strict=True):
        heads.append(head)
        head += sep + part
    tails = [_SEPARATOR.split(text, maxsplit=index + 1)[-1] for index in range(len(separators))]
    return heads + tails


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b) and _letters(a) == _letters(b)


def _letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


def _meta_values(tree: HtmlElement) -> dict[str, str]:
    """First content of each <meta> by lower-cased property, name or itemprop."""
    values: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = _squash(meta.get("content"))
        for key in (meta.get("property"), meta.get("name"), meta.get("itemprop")):
            if key and content:
                values.setdefault(key.strip().lower(), content)
    return values


def _json_ld_objects(tree: HtmlElement) -> Iterator[dict]:
    """Every JSON object in the page's JSON-LD scripts, @graph members included."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                yield item
                if isinstance(item.get("@graph"), list):
                    stack.extend(reversed(item["@graph"]))


def _publisher_name(obj: dict) -> str | None:
    publisher = obj.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        return publisher["name"]
    if obj.get("@type") in ("WebSite", "Organization", "NewsMediaOrganization"):
        return obj.get("name") if isinstance(obj.get("name"), str) else None
    return None


# ---------------------------------------------------------------- dates

DateRule = str  # "json_ld", "meta", "time_element": the DateSource values of tasks/records.py


@dataclass(frozen=True)
class StatedDate:
    """A date the page states, the rule that found it, and how precise it is."""

    date: str  # YYYY-MM-DD (the first of the month or year when less precise)
    source: DateRule
    precision: Precision


# <meta> keys for the last update (the published keys live in tasks/extract.py).
UPDATED_META = frozenset({
    "article:modified_time", "og:updated_time", "og:modified_time", "datemodified",
    "dcterms.modified", "last-modified", "lastmod", "modified", "updated", "revised",
    "article:modified", "parsely-updated-date", "dc.date.modified", "date_modified",
})
_UPDATED_HINT = re.compile(r"updat|modif|revis|aktualisiert|aggiorn", re.IGNORECASE)
_PUBLISHED_HINT = re.compile(r"publi|posted|created|entry-date|pubdate|veröffentlicht",
                             re.IGNORECASE)
_ARTICLE_TYPES = re.compile(r"article|posting|report|webpage|blog|story", re.IGNORECASE)


def stated_dates(tree: HtmlElement, published_meta: frozenset[str]
                 ) -> tuple[list[StatedDate], list[StatedDate]]:
    """(published, updated) dates the page states, most explicit source first: JSON-LD of an
    article, then <meta>, then <time> elements."""
    published: list[StatedDate] = []
    updated: list[StatedDate] = []
    for obj in _json_ld_objects(tree):
        kind = obj.get("@type")
        kind = " ".join(kind) if isinstance(kind, list) else str(kind or "")
        if kind and not _ARTICLE_TYPES.search(kind):
            continue  # an Organization's founding date, an Event's start
        _add(published, obj.get("datePublished"), "json_ld")
        _add(updated, obj.get("dateModified"), "json_ld")
    for key, content in _meta_pairs(tree):
        if key in published_meta:
            _add(published, content, "meta")
        elif key in UPDATED_META:
            _add(updated, content, "meta")
    for element in tree.xpath("//time | //*[@itemprop='datePublished' or "
                              "@itemprop='dateModified']"):
        value = element.get("datetime") or element.get("content")
        hints = " ".join(filter(None, (element.get("itemprop"), element.get("class"),
                                       "pubdate" if element.get("pubdate") is not None else "",
                                       _parent_class(element))))
        if _UPDATED_HINT.search(hints):
            _add(updated, value, "time_element")
        elif _PUBLISHED_HINT.search(hints):
            _add(published, value, "time_element")
    return published, updated


def _add(found: list[StatedDate], value: object, source: DateRule) -> None:
    if not isinstance(value, str):
        return
    moment, precision = parse_date(value)
    if moment is not None and precision is not None and 1990 <= moment.year <= 2100:
        found.append(StatedDate(moment.date().isoformat(), source, precision))


def _meta_pairs(tree: HtmlElement) -> Iterator[tuple[str, str]]:
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key and meta.get("content"):
            yield key.strip(), meta.get("content")


def _parent_class(element: HtmlElement) -> str:
    parent = element.getparent()
    return (parent.get("class") or "") if parent is not None else ""
