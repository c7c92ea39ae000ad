"""tasks/pages.py: pages that are not articles (consent walls, bot walls, paywall teasers, error
pages served with 200) are recognised with their reason; articles that only talk about cookies,
captchas, subscriptions or a 404 are kept; a teaser that is the article's real lead is kept and
flagged truncated.

The fixtures in tests/fixtures/pages are written from the patterns real sites use (in our own
words and markup). They go through trafilatura first, as in the extract stage, so the verdict
is judged on the text and title the pipeline really has.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trafilatura

from tasks.pages import (
    ARTICLE,
    PageVerdict,
    classify_page,
    count_words,
    title_segments,
)

FIXTURES = Path(__file__).parent / "fixtures" / "pages"


def verdict_of(name: str) -> PageVerdict:
    """classify_page on a fixture, with trafilatura's text and title as the pipeline reads them."""
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    html = (FIXTURES / name).read_text(encoding="utf-8")
    document = trafilatura.bare_extraction(html, with_metadata=True, deduplicate=False)
    text, title = (document.text or "", document.title) if document else ("", None)
    return classify_page(html, text, title)


@pytest.mark.parametrize(("name", "reason", "seen"), [
    ("consent_interstitial_en.html", "consent_wall", "before you continue"),
    ("consent_dialog_it.html", "consent_wall", "prima di continuare"),
    ("consent_dialog_de.html", "consent_wall", "speichern und/oder abrufen"),
    ("bot_challenge_cloudflare.html", "bot_wall", "just a moment"),
    ("bot_captcha_fr.html", "bot_wall", "captcha-delivery.com"),
    ("bot_access_denied.html", "bot_wall", "access denied"),
    ("bot_script_shell.html", "bot_wall", "enable JavaScript"),
    ("error_not_found_en.html", "error_page", "page not found"),
    ("error_nicht_gefunden_de.html", "error_page", "404"),
    ("error_pagina_it.html", "error_page", "Pagina non trovata"),
    ("paywall_teaser_it.html", "paywall_teaser", "riservato agli abbonati"),
])
def test_a_page_that_is_not_an_article_is_rejected_with_its_reason(
        name: str, reason: str, seen: str) -> None:
    verdict = verdict_of(name)
    assert verdict.reason == reason, verdict
    assert seen in verdict.detail, verdict.detail  # the detail names what gave it away
    assert not verdict.truncated


@pytest.mark.parametrize("name", [
    "article_cookie_law_en.html",  # quotes "Accept all" / "Reject all", has a CMP banner
    "article_with_consent_banner_de.html",  # a consent dialog beside the article's text
    "article_about_404_en.html",  # "404 Page not found" in its headline and text
    "article_about_captcha_en.html",  # "Are you a robot?", "verify you are human", jsd script
    "article_full_with_wall_markup_it.html",  # "Sei già abbonato?" and an empty paywall div
    "article_short_brief_en.html",  # a 60-word brief on a template with paywall markup
])
def test_an_article_that_looks_like_one_of_them_is_kept_whole(name: str) -> None:
    assert verdict_of(name) == ARTICLE


def test_a_teaser_that_is_the_articles_real_lead_is_kept_and_flagged_truncated() -> None:
    verdict = verdict_of("paywall_lead_en.html")
    assert verdict.reason is None
    assert verdict.truncated
    assert "Subscribe to continue reading" in verdict.detail


# ---------------------------------------------------------------- single markers, inline pages

LEAD = ("The regional council approved the new budget on Tuesday after a debate that lasted "
        "most of the afternoon and ended with a narrow vote. ")


def page(title: str, body: str, head: str = "") -> str:
    return (f"<html><head><title>{title}</title>{head}</head>"
            f"<body>{body}</body></html>")


@pytest.mark.parametrize(("html", "text", "reason"), [
    # A challenge script is enough when the title is only the site's name.
    (page("Daily Example", "<p>One moment.</p><script>window._cf_chl_opt={}</script>"),
     "One moment.", "bot_wall"),
    (page("Verifica di sicurezza | Il Quotidiano", "<p>Attendere prego.</p>"), "", "bot_wall"),
    (page("¿Eres un robot? - El Diario", "<p>Resuelve el desafío.</p>"), "", "bot_wall"),
    (page("Bevor Sie fortfahren", "<p>Wir verwenden Cookies.</p>"), "", "consent_wall"),
    (page("Antes de continuar a El Diario", "<p>Usamos cookies.</p>"), "", "consent_wall"),
    (page("Página no encontrada - El Diario", "<p>Vuelva a la portada.</p>"), "",
     "error_page"),
    (page("Page introuvable", "<h1>Erreur 404</h1>"), "", "error_page"),
    (page("Le budget régional", "<p>Court.</p><p>Cet article est réservé aux abonnés.</p>"),
     "La région a voté son budget.\nCet article est réservé aux abonnés.", "paywall_teaser"),
])
def test_each_marker_alone_rejects_a_page_with_little_text(
        html: str, text: str, reason: str) -> None:
    assert classify_page(html, text, None).reason == reason


def test_a_wall_title_over_an_articles_worth_of_text_is_an_article() -> None:
    text = LEAD * 12
    for title in ("Access denied", "Page not found", "Before you continue"):
        assert classify_page(page(title, f"<p>{text}</p>"), text, title) == ARTICLE


def test_a_marker_inside_a_headline_is_not_a_wall_title() -> None:
    text = LEAD * 2  # a short brief: the title alone would decide
    title = "Access denied: court rejects the council's appeal"
    assert classify_page(page(title, f"<p>{text}</p>"), text, title) == ARTICLE


def test_a_page_marked_not_free_but_served_whole_is_an_article_not_truncated() -> None:
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", '
            '"isAccessibleForFree": false}</script>')
    text = "\n".join([LEAD * 2] * 4)
    assert classify_page(page("Budget", f"<p>{text}</p>", head), text, "Budget") == ARTICLE


def test_the_words_not_free_in_a_json_ld_string_are_no_paywall() -> None:
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "description": '
            '"why \\"isAccessibleForFree\\": false matters"}</script>')
    text = LEAD * 2 + "Details follow..."
    assert classify_page(page("Budget", f"<p>{text}</p>", head), text, "Budget") == ARTICLE


def test_title_segments_split_at_site_name_separators() -> None:
    assert title_segments("Page not found | The Harbour Times") == [
        "page not found | the harbour times", "page not found", "the harbour times"]
    assert title_segments("Just a moment...") == ["just a moment"]


def test_words_of_unspaced_scripts_count_by_characters() -> None:
    assert count_words("The council met on Tuesday") == 5
    assert count_words("北京市政府周二宣布将投入资金") == 7  # 14 characters, half a word each
