"""Titles without the site's name, headline lines of plain text, and published versus updated
dates (issue 18), on fixture pages written after the patterns real sites use
(tests/fixtures/metadata/)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from trafilatura.utils import load_html

from tasks.extract import PUBLISHED_META, extract_html, read_page
from tasks.metadata import (
    StatedDate,
    TitleSignals,
    choose_title,
    heading_text,
    stated_dates,
    strip_site_name,
    title_signals,
)
from tasks.parse import parse_html, parse_txt, take_headline
from tasks.records import UrlArticle

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"
SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------- titles


def test_trailing_site_name_is_stripped_and_dates_are_kept_apart() -> None:
    url = "https://www.coastline-news.example/local/ferry-returns"
    found = extract_html(fixture("trailing_site_name.html"), locator=url, url=url,
                         content_hash="h", size=1, encoding="utf-8")
    assert isinstance(found, UrlArticle)
    assert found.title == "Harbour ferry returns after winter repairs"
    assert "propeller shafts" in found.text
    assert (found.published, found.published_precision) == (dt.date(2024, 3, 4), "day")
    assert (found.updated, found.updated_source) == (dt.date(2024, 3, 6), "json_ld")


def test_leading_site_name_and_logo_h1_give_way_to_the_headline() -> None:
    fields = parse_html(fixture("leading_site_name.html"))
    assert fields["title"] == "Il mercato coperto riapre dopo i lavori"
    # Open Graph's published and modified times stay apart.
    assert fields["published"] == dt.date(2023, 11, 20)
    assert (fields["updated"], fields["updated_source"]) == (dt.date(2023, 11, 21), "meta")


def test_separator_inside_the_headline_is_kept() -> None:
    page = read_page(fixture("separator_in_headline.html"), None)
    assert page.title == "Rain, wind - and a record crowd"
    # A <time> marked as the update is no publication date.
    assert (page.updated, page.updated_source) == ("2022-06-02", "time_element")
    assert page.date is None or page.date.startswith("2022-05")


def test_stated_dates_keep_precision_and_kind() -> None:
    tree = load_html(fixture("separator_in_headline.html"))
    published, updated = stated_dates(tree, PUBLISHED_META)
    assert published == [StatedDate("2022-05-01", "meta", "month")]
    assert updated == [StatedDate("2022-06-02", "time_element", "day")]


@pytest.mark.parametrize(
    ("title", "signals", "expected"),
    [
        ("Port strike ends - BBC News", TitleSignals(host="www.bbc.co.uk"), "Port strike ends"),
        ("Il governo cade | Corriere della Sera",
         TitleSignals(site_names=("Corriere della Sera",)), "Il governo cade"),
        ("Daily Planet: Storm hits the coast", TitleSignals(host="dailyplanet.example"),
         "Storm hits the coast"),
        ("Rain, wind - and a record crowd | The Valley Courier",
         TitleSignals(site_names=("The Valley Courier",)), "Rain, wind - and a record crowd"),
        # No evidence that either side names the site: nothing is cut.
        ("Rock - Paper - Scissors", TitleSignals(host="games.example"),
         "Rock - Paper - Scissors"),
        ("Covid-19: what we know", TitleSignals(host="news.example"), "Covid-19: what we know"),
        # The site's name and its motto after it: both go.
        ("Night buses return : Crime Diary | Notes on a genre | Since 2005",
         TitleSignals(site_names=("Crime Diary",)), "Night buses return"),
        # "Site - Section » Headline": the section after the name is no motto.
        ("Valley Gamers e.V. - News » The events of the year",
         TitleSignals(site_names=("Valley Gamers e.V. - News", "Valley Gamers e.V.", "News")),
         "The events of the year"),
        # Never cut down to the host's name, whatever the publisher meta says.
        ("mediawalls.example // » Anna Berg",
         TitleSignals(site_names=("Anna Berg",), host="mediawalls.example"), "Anna Berg"),
        # A name set off with no spaces goes only when it is exactly the site's name.
        ("NEWS EASY|体罰を禁止する法律ができる", TitleSignals(site_names=("NEWS EASY",)),
         "体罰を禁止する法律ができる"),
        ("Union-Vize Klemmer: Mehr Personal", TitleSignals(site_names=("Union",)),
         "Union-Vize Klemmer: Mehr Personal"),
        ("snake_case naming rules", TitleSignals(host="snake.example"),
         "snake_case naming rules"),
        # A bare domain at the end is a site's name, even another site's (a syndicated post).
        ("What we will not hear | OTHERBLOG.NET", TitleSignals(host="www.ours.example"),
         "What we will not hear"),
        # A breadcrumb trail after the site's name leads to the page.
        ("Time 4 talks » Blog Archive » Cinemas go digital",
         TitleSignals(site_names=("Time 4 talks",)), "Cinemas go digital"),
        ("Time 4 talks » Cinemas go digital - a review",
         TitleSignals(site_names=("Time 4 talks",)), "Cinemas go digital - a review"),
    ],
)
def test_strip_site_name(title: str, signals: TitleSignals, expected: str) -> None:
    assert strip_site_name(title, signals) == expected


def test_headlines_that_agree_win_over_a_section_label_h1() -> None:
    headline = "Harbour ferry returns after winter repairs"
    agreeing = TitleSignals(html_title=headline, og_title=headline, json_ld_headline=headline,
                            h1s=("Local news",))
    assert choose_title(agreeing) == headline
    alone = TitleSignals(html_title="Valley Courier", h1s=("Harbour ferry returns",))
    assert choose_title(alone) == "Harbour ferry returns"  # no agreement: the only h1


@pytest.mark.parametrize("title", ["Di Maio attacks the League", "Published accounts show loss",
                                   "Is the euro in trouble?", "政府发布新计划"])
def test_headlines_that_look_like_other_things_are_still_headlines(title: str) -> None:
    assert take_headline(f"{title}\n\nBody.") == (title, "Body.")


def test_h1_with_a_kicker_gives_the_stated_headline() -> None:
    signals = TitleSignals(og_title="Große Aufgaben für die neue Regierung",
                           h1s=("Tunesien Große Aufgaben für die neue Regierung",))
    assert choose_title(signals) == "Große Aufgaben für die neue Regierung"


def title_of(head: str, body: str, url: str = "https://www.riverside-post.example/a/1",
             guessed_site: str | None = None) -> str | None:
    """The title the pipeline's rules choose for a page made of `head` and `body`."""
    tree = load_html(f"<html><head>{head}</head><body>{body}</body></html>")
    return choose_title(title_signals(tree, url, guessed_site))


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        # A kicker marked by its class, with or without a separator of its own.
        (('<h1><span class="topline">After the flood</span> '
          '<span class="headline">Bakery reopens its doors</span></h1>'),
         "Bakery reopens its doors"),
        (('<h1><span class="story-kicker">Budget</span><span class="colon">: </span>'
          "Council agrees on new rates</h1>"),
         "Council agrees on new rates"),
        # A separator hidden from view: what stands before it is the kicker, whatever its class.
        (('<h1><span class="a1">Night trains</span><span class="visually-hidden"> - </span>'
         '<span class="a2">Sleeper service returns to the coast</span></h1>'),
         "Sleeper service returns to the coast"),
        # Inside a link, and with small print after a line break.
        ('<h1><a href="/x"><span class="label">Patch</span>Version 2.1 fixes the map</a></h1>',
         "Version 2.1 fixes the map"),
        ("<h1>Choir wins regional prize<br><small>12.03.2024 · Culture</small></h1>",
         "Choir wins regional prize"),
        # No kicker: the heading as it reads ("hidden-xs" hides on phones only).
        ('<h1>Storm <em>closes</em> the pier <span class="hidden-xs">today</span></h1>',
         "Storm closes the pier today"),
        ("<h1>Only the kicker class<span class='kicker'>x</span></h1>", "Only the kicker class"),
        ('<h1><span class="sub-heading">Energy week:</span> Is the valley a leader?</h1>',
         "Is the valley a leader?"),
        # Words no reader reads: a CSS-in-JS style sheet, ruby readings, an edge dateline.
        ("<h1><style>.c1{font-size:16px;}</style>Ferries run again</h1>", "Ferries run again"),
        ("<h1><ruby>法律<rp>(</rp><rt>ほうりつ</rt><rp>)</rp></ruby>ができる</h1>", "法律ができる"),
        ('<h1><time datetime="2019-06-17">Jun 17 </time>The lighthouse at the end</h1>',
         "The lighthouse at the end"),
        ('<h1>Shops open on <time datetime="2024-12-24">24 December</time> until noon</h1>',
         "Shops open on 24 December until noon"),
        ('<h1><div><span class="visuallyhidden">Headline:</span> Energy and society</div></h1>',
         "Energy and society"),
        # aria-hidden text is seen, only not read out: it stays.
        ('<h1><span aria-hidden="true">Live</span> Storm reaches the coast</h1>',
         "Live Storm reaches the coast"),
    ],
)
def test_heading_text_leaves_out_a_kicker_set_apart(heading: str, expected: str) -> None:
    assert heading_text(load_html(f"<html><body>{heading}</body></html>").find(".//h1")) \
        == expected


def test_an_h2_headline_is_read_without_its_kicker_and_dateline() -> None:
    head = ('<meta property="og:title" content="Borders close: Two neighbours grow apart">'
            "<title>Two countries, one border | Daily Ledger</title>")
    body = ('<h1>Report from the border</h1><h2><span class="overline">Borders close</span>'
            '<span class="headline">Two neighbours grow apart</span></h2>')
    assert title_of(head, body) == "Two neighbours grow apart"
    dated = ('<h1>If not now, then when</h1><h1>Where to stay</h1><h2><time datetime="2019-06-17">'
             "Jun 17</time>The lighthouse at the end of the world</h2>")
    og = '<meta property="og:title" content="The lighthouse at the end of the world">'
    assert title_of(og, dated) == "The lighthouse at the end of the world"


def test_h1_kicker_gives_the_headline_that_the_title_prefixes() -> None:
    head = ("<title>After the flood: Bakery reopens its doors | Riverside Post</title>"
            '<meta property="og:title" content="After the flood: Bakery reopens its doors">')
    body = ('<h1><span class="dachzeile">After the flood</span>'
            '<span class="headline">Bakery reopens its doors</span></h1>')
    assert title_of(head, body) == "Bakery reopens its doors"


def test_a_heading_that_links_home_is_the_logo_and_names_the_site() -> None:
    head = "<title>Slow-cooked lentil soup | Kitchen Notebook</title>"
    body = ('<h1 class="site-title"><a href="https://kitchen.example/">Kitchen Notebook</a></h1>'
            "<h2>Slow-cooked lentil soup</h2>")
    # The logo h1 is no headline, and its text is the site name that the <title> appends.
    assert title_of(head, body, url="https://kitchen.example/2020/soup") \
        == "Slow-cooked lentil soup"
    archived = ('<h1><a href="https://web.archive.org/web/2016/http://kitchen.example/">'
                "Kitchen Notebook</a></h1><h2>Slow-cooked lentil soup</h2>")
    assert title_of(head, archived, url="https://web.archive.org/web/2016/http://k.example/s") \
        == "Slow-cooked lentil soup"


def test_the_h1_that_a_full_statement_names_wins_over_a_section_label() -> None:
    head = ('<title>News - Lake Institute</title>'
            '<meta property="og:title" content="Algae bloom measured early this year">')
    body = "<h1>News</h1><h1>Algae bloom measured early this year</h1>"
    assert title_of(head, body) == "Algae bloom measured early this year"


@pytest.mark.parametrize(
    ("title", "h1", "expected"),
    [
        # The h1 shows the headline after the title's kicker, or before its dateline.
        ("Harbour plans: Crane arrives today", "Crane arrives today", "Crane arrives today"),
        ("Rain at last : 31.10.2023, 10.19 Uhr", "Rain at last", "Rain at last"),
        # The title adds to the h1 that shows the headline.
        ("Plum almond cake Recipe | Baking Corner", "Plum almond cake", "Plum almond cake"),
        # ... even where the template runs its motto into the headline with no space.
        ("Truck wash A31The other directory | The other directory", "Truck wash A31",
         "Truck wash A31"),
        # A heading that merely ends like the title is a headline of its own, not a kicker
        # and the title's headline.
        ("Heat pumps in old houses - when they pay | Heating Guide",
         "Why and when should one fit heat pumps in old houses?",
         "Why and when should one fit heat pumps in old houses?"),
        # An h1 that shows "Kicker: Headline" in full is the headline.
        ("A clock started ticking: seven years are left | Green Pages",
         "A clock started tickin: seven years are left",
         "A clock started tickin: seven years are left"),
    ],
)
def test_h1_against_parts_of_the_title(title: str, h1: str, expected: str) -> None:
    # og:title agrees with <title>: the agreement must not outvote the visible h1.
    head = f'<title>{title}</title><meta property="og:title" content="{title}">'
    assert title_of(head, f"<h1>{h1}</h1>") == expected


def test_an_h1_that_prints_its_kicker_with_a_colon_is_the_headline() -> None:
    head = "<title>Kramer misses the Games - Ski Jumping Today</title>"
    printed = '<h1>"Pure emptiness": Kramer misses the Games</h1>'
    assert title_of(head, printed) == '"Pure emptiness": Kramer misses the Games'
    # A kicker set apart with no visible colon (nor a hidden one run into the text) is not.
    assert title_of(head, "<h1>Olympics Kramer misses the Games</h1>") \
        == "Kramer misses the Games"
    assert title_of(head, "<h1>Olympics :Kramer misses the Games</h1>") \
        == "Kramer misses the Games"


def test_an_h2_that_the_title_adds_to_where_there_is_no_h1() -> None:
    head = '<meta property="og:title" content="The historic somersault (2021/5)">'
    assert title_of(head, "<h2>The historic somersault</h2>") == "The historic somersault"


def test_two_titles_that_agree_after_different_kickers() -> None:
    head = ("<title>Previews: Harbour Builder Beta</title>"
            '<meta property="og:title" content="Industry revolutionised?: Harbour Builder Beta">')
    assert title_of(head, "") == "Harbour Builder Beta"


def test_a_kicker_that_mentions_the_site_stays_in_the_headline() -> None:
    signals = TitleSignals(host="www.thw.example")
    assert strip_site_name("Women in the THW: past, present and future", signals) \
        == "Women in the THW: past, present and future"
    assert strip_site_name("THW: past, present and future", signals) == "past, present and future"


def test_the_first_h1_that_reads_as_a_headline_of_several() -> None:
    head = '<meta property="og:title" content="Join our panel and test products for free">'
    body = ('<h1 class="screen-reader-text">Post navigation</h1>'
            "<h1>Become a product tester in three steps</h1><h1>Current tests</h1>")
    assert title_of(head, body) == "Become a product tester in three steps"


def test_a_guessed_site_name_as_long_as_a_headline_is_not_evidence() -> None:
    headline = "Blessing of vehicles takes place this Saturday"
    head = (f"<title>Diario Sol | {headline}</title>"
            '<meta property="og:site_name" content="Diario Sol">')
    body = f"<h1>{headline}</h1><h1>Another story in the sidebar list</h1>"
    assert title_of(head, body, guessed_site=headline) == headline


@pytest.mark.parametrize(
    ("title", "h1", "guessed", "expected"),
    [
        # trafilatura took the side of the <title> with a dot for the site's name: initials
        # or a date are no domain, so the headline keeps them.
        ("Review: Love is War - Longing by R. K. Miller", "",
         "Longing by R. K. Miller", "Review: Love is War - Longing by R. K. Miller"),
        ("Results: Youth Cup, Aalen, 19.5.2007 | County Athletics", "Results: Youth Cup, "
         "Aalen, 19.5.2007", "Results: Youth Cup, Aalen, 19.5.2007",
         "Results: Youth Cup, Aalen, 19.5.2007"),
        # A domain or a legal form is a site's name.
        ("Tides explained - Oceanlog.de", "", "Oceanlog.de", "Tides explained"),
        ("Tides explained | Swimming Association e.V.", "", "Swimming Association e.V.",
         "Tides explained"),
    ],
)
def test_a_side_of_the_title_with_a_dot_is_no_site_name_unless_it_reads_as_one(
        title: str, h1: str, guessed: str, expected: str) -> None:
    body = f"<h1>{h1}</h1>" if h1 else ""
    assert title_of(f"<title>{title}</title>", body, url="https://riverside.example/a",
                    guessed_site=guessed) == expected


# ---------------------------------------------------------------- plain text


def test_headline_first_text_gets_its_title_and_keeps_the_body() -> None:
    fields = parse_txt(fixture("headline_first.txt"))
    assert fields["title"] == "Council backs new cycle lanes"
    assert fields["text"].startswith("The city council has approved")
    assert "Council backs" not in fields["text"]


@pytest.mark.parametrize("name", sorted(p.name for p in SEEDS.glob("*.txt")))
def test_seeds_have_no_headline_line(name: str) -> None:
    text = (SEEDS / name).read_text(encoding="utf-8")
    assert parse_txt(text)["title"] is None


@pytest.mark.parametrize(
    "text",
    ["A whole first sentence that ends with a full stop.\n\nBody.",  # a sentence, not a headline
     "Headline with no blank line\nBody follows at once.",
     "Only a headline\n\n",
     "https://example.org/a\n\nBody.",
     # Openings of a body, not headlines: they stay in the text.
     "2024年3月5日、政府は新しい計画を発表した。\n\n本文。",
     "政府は新しい計画を発表したが野党は反発し国会審議は来週に持ち越される見通しとなった\n\n本文。",
     'She said: "We will not give up."\n\nBody.',
     "LONDON (Reuters) -\n\nBody.",
     "By John Smith, Political Editor\n\nBody.",
     "Updated 12:30 GMT\n\nBody."],
)
def test_no_headline(text: str) -> None:
    assert take_headline(text) == (None, text)


def test_question_headline() -> None:
    assert take_headline("Will the Budget lift spirits?\n\nBody.") == (
        "Will the Budget lift spirits?", "Body.")
