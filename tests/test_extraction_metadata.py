"""Titles without the site's name, headline lines of plain text, and published versus updated
dates (issue 18), on fixture pages written after the patterns real sites use
(tests/fixtures/metadata/)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from trafilatura.utils import load_html

from tasks.extract import PUBLISHED_META, extract_html, read_page
from tasks.metadata import StatedDate, TitleSignals, choose_title, stated_dates, strip_site_name
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
