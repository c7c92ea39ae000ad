"""tasks/pages.py: pages that are not articles (consent walls, bot walls, paywall teasers, error
pages served with 200) are recognised with their reason; articles that only talk about cookies,
captchas, subscriptions or a 404 are kept; a teaser that is the article's real lead is kept and
flagged truncated.

The fixtures in tests/fixtures/pages are written from the patterns real sites use (in our own
words and markup). They go through tasks.extract.read_page, the extract stage's own reading
(trafilatura's precise pass first, the title chosen by tasks.metadata), so the verdict is the
one the pipeline records; classify_page is also checked alone on inline pages.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tasks.extract import read_page
from tasks.pages import (
    ARTICLE,
    BOT_TEXT,
    PageVerdict,
    classify_page,
    count_words,
    dialog_phrases,
    prose_words_beside,
    title_segments,
)

FIXTURES = Path(__file__).parent / "fixtures" / "pages"


def verdict_of(name: str) -> PageVerdict:
    """The verdict the extract stage records for a fixture: read_page's non-article reason,
    its detail and the truncated flag."""
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    html = (FIXTURES / name).read_text(encoding="utf-8")
    page = read_page(html, f"https://news.example/{name.removesuffix('.html')}")
    return PageVerdict(page.non_article, page.non_article_detail, page.truncated)


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
    # Every sentence speaks of cookies, and quotes "Reject all" and "Accept all" in prose.
    "article_reject_all_button_en.html",
    # An 80-word brief under a video player's "Please enable JavaScript to watch this video."
    "article_storm_video_en.html",
    # A whole 50-word brief; "Subscribers only" and "Already a subscriber?" in header and footer.
    "article_free_brief_subscriber_links_en.html",
    # A whole 70-word story followed by a login prompt: no sign of a cut, so not truncated.
    "article_free_story_subscriber_links_en.html",
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


def test_consent_buttons_count_alone_never_inside_a_sentence() -> None:
    sentence = 'It adds "Reject all" next to "Accept all" on its cookie banner.'
    assert dialog_phrases(sentence, [sentence]) == set()
    assert dialog_phrases("", ["Accept all cookies", "Reject all"]) == {
        "accept all cookies", "reject all"}
    # A dialog's purposes count in its prose.
    assert dialog_phrases("We and our partners process personal data.", []) == {
        "we and our partners"}


def test_legal_terms_of_privacy_news_are_no_consent_dialog() -> None:
    text = ("Meta will ask users for consent before it shows personalised ads, it said.\n"
            "It had relied on legitimate interest to process personal data for advertising, "
            "which privacy regulators rejected.\nUsers who refuse consent will see ads based "
            "on less personal data, such as their age and city.")
    assert classify_page(page("Meta to ask for consent", f"<p>{text}</p>"), text, None) == ARTICLE


def test_a_consent_title_over_a_page_of_buttons_only_is_a_wall() -> None:
    html = page("Example News", "<div><p>We use cookies.</p><button>Accept all</button>"
                "<button>Manage options</button></div>")
    assert classify_page(html, "We use cookies.", None).reason == "consent_wall"


def test_a_bot_phrase_beside_prose_is_a_side_note() -> None:
    notice = "Please enable JavaScript to watch this video."
    assert classify_page(page("Storm", f"<p>{notice}</p>"), notice, "Storm").reason == "bot_wall"
    text = f"{notice}\n{LEAD}\n{LEAD}"  # two paragraphs of 22 words beside it
    assert prose_words_beside(text, BOT_TEXT) >= 30
    assert classify_page(page("Storm", f"<p>{notice}</p><p>{LEAD}</p><p>{LEAD}</p>"), text,
                         "Storm") == ARTICLE


def test_account_lines_in_the_sites_chrome_are_no_paywall() -> None:
    body = (f"<header><a href='/premium'>Subscribers only</a></header><p>{LEAD}</p>"
            "<footer>Subscribe to continue reading our archive.</footer>")
    assert classify_page(page("Budget", body), LEAD, "Budget") == ARTICLE


def test_a_login_line_after_the_text_is_no_cut_but_a_continue_line_is() -> None:
    text = "\n".join([LEAD] * 3)
    paragraphs = "".join(f"<p>{LEAD}</p>" for _ in range(3))
    login = page("Budget", paragraphs + "<div>Already a subscriber? Log in</div>")
    assert classify_page(login, text, "Budget") == ARTICLE
    wall = page("Budget", paragraphs + "<div>Subscribe to continue reading</div>")
    verdict = classify_page(wall, text, "Budget")
    assert verdict.reason is None and verdict.truncated
