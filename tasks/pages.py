"""Pages that are not articles: consent walls, bot walls, paywall teasers and soft error pages.

A fetch can succeed (HTTP 200) and still bring back no article: a cookie-consent interstitial
that stands in front of the page, a bot challenge (captcha, "Just a moment…", a JavaScript-only
shell), a subscriber wall with a line or two of lead, or an error page served as 200. trafilatura
reads such a page as if it were an article (the consent text, the error notice) or finds nothing;
either way it must become a Reject with a specific reason, never a stored article.

`classify_page` reads the page after trafilatura has: the decoded HTML, trafilatura's main
text and its title. Every rule asks for two things, because each alone is common on real
articles:

- a *marker* of the kind of page, read where a wall or an error page states itself: a title
  segment (split at the site-name separators) or first `h1` that is nothing but the marker
  ("Just a moment...", "Page not found | Example"), the opening of the text or the whole of a
  page with little visible text, a challenge page's own script, a form posting to a consent
  host, a consent dialog's buttons (standing alone, never quoted in a sentence) and its
  purposes' set wording, a subscriber line;
- *little article text*: a wall or an error page carries a few dozen words of its own. Little
  text alone proves nothing (real briefs of 60 words exist), so markers are only those that
  articles do not carry: not the vendors' scripts that load on every page of a site (Cloudflare's
  "jsd", Incapsula's resource script), not a consent platform's banner markup, not an `h2`.

Precision matters more than recall (a rejected article is lost; a wall that slips through is
one bad row), so the text limits are generous to articles and the title markers must match a
whole title segment, never a word inside a headline ("Access denied: court rejects appeal").
bench/page_verdicts.py counts the verdicts on the 1,171 real articles of the dev data.

Paywalls are the one kind where text may stay: see `judge_paywall` for the rule between a
teaser that is rejected and a lead that is kept and flagged `truncated`.

Pure functions over a string: no network, no state; lxml only to read the markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from lxml import etree
from lxml.html import HtmlElement, document_fromstring

PageReason = Literal["consent_wall", "bot_wall", "paywall_teaser", "error_page"]


class PageVerdict(NamedTuple):
    """What a page is: an article (`reason` None) or a non-article with its reason.

    `detail` says what was seen (the marker, the amount of text). `truncated` is set on an
    article that is a paywall teaser long enough to be the article's real lead.
    """

    reason: PageReason | None
    detail: str
    truncated: bool = False


ARTICLE = PageVerdict(None, "")

# ---------------------------------------------------------------- how much text is "little"

# In words (a CJK or Thai character counts as half a word: those scripts write no spaces, and
# a Chinese character carries about half an English word). A wall or an error notice has a few
# dozen words. Little text is necessary, never sufficient: real news briefs of 60-110 words
# occur in the dev data, so every rule also needs a marker that articles do not carry.
WALL_MAX_WORDS = 120
# An error page that names itself in its title may list some links or a search hint that
# trafilatura keeps as text: its title is evidence enough up to this length.
TITLED_ERROR_MAX_WORDS = 250
# A page whose main text is (almost) empty is judged on its visible text, if that is small:
# a large visible text means an article that trafilatura missed, not a wall.
EMPTY_TEXT_WORDS = 30
SMALL_PAGE_WORDS = 250
# A wall's text is its own notice: prose of this length beside the lines that state the wall
# (in paragraphs of LEAD_PARAGRAPH_WORDS words or more) is an article's.
WALL_PROSE_WORDS = 30
# A consent dialog with all its purposes and vendors spelled out can run to a few hundred
# words; beyond this no consent text is the whole page.
CONSENT_DIALOG_MAX_WORDS = 450
# What a text says besides consent, from which it is an article (the shortest real briefs in
# the dev data have about 60 words).
ARTICLE_BESIDE_CONSENT_WORDS = 50
# Paywall teasers (see judge_paywall).
LEAD_MIN_WORDS = 60
LEAD_PARAGRAPH_WORDS = 12
_TAIL_CHARS = 400  # where a "subscribe to continue" line ends a teaser
_WALL_AFTER_CHARS = 600  # how far after the lead on the page a subscriber line still ends it
_OPENING_CHARS = 300  # where an error notice or a challenge states itself

_WORD = re.compile(r"\w+")
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def count_words(text: str) -> int:
    """Words of `text`; characters of unspaced scripts (CJK, Thai) count half a word each."""
    unspaced = len(_UNSPACED.findall(text))
    spaced = sum(1 for token in _WORD.findall(text) if not _UNSPACED.search(token))
    return spaced + unspaced // 2


# ---------------------------------------------------------------- markers


def _phrases(*patterns: str) -> re.Pattern[str]:
    """One case-insensitive pattern that finds any of `patterns` between word boundaries."""
    return re.compile(r"(?<!\w)(?:" + "|".join(patterns) + r")(?!\w)", re.IGNORECASE)


def _whole(*patterns: str) -> re.Pattern[str]:
    """A pattern for a title segment that is nothing but one of `patterns`."""
    return re.compile(r"(?:" + "|".join(patterns) + r")", re.IGNORECASE)


# Titles and headings of consent interstitials (EN, IT, DE, FR, ES).
CONSENT_TITLES = _whole(
    r"before you continue(?: to [\w .]+)?", r"we value your privacy", r"your privacy(?: choices)?",
    r"privacy (?:settings|preferences|center|centre|choices)", r"consent(?: management)?",
    r"cookie (?:consent|settings|preferences|notice)", r"(?:manage )?cookies? and privacy",
    r"prima di continuare(?: su [\w .]+)?", r"la tua privacy", r"impostazioni (?:della )?privacy",
    r"preferenze (?:sui |dei )?cookie", r"consenso(?: ai cookie)?",
    r"bevor sie (?:fortfahren|weiterlesen|zu [\w .]+ weitergehen)",
    r"datenschutz-?einstellungen", r"cookie-einstellungen", r"ihre privatsphäre",
    r"einwilligung", r"zustimmung(?: erforderlich)?",
    r"avant de continuer(?: vers [\w .]+)?", r"(?:le )?respect de votre vie privée",
    r"paramètres (?:des )?cookies", r"gestion des cookies", r"votre vie privée",
    r"antes de continuar(?: a [\w .]+)?", r"configuración de (?:cookies|privacidad)",
    r"(?:tu|su) privacidad", r"consentimiento(?: de cookies)?",
)
# A consent dialog's buttons. Articles about cookie banners quote them inside their sentences
# ("a 'Reject all' button next to 'Accept all'"), so a button counts only as a control of its
# own: a button or link element, or a line of at most _BUTTON_WORDS words.
CONSENT_BUTTONS = _phrases(
    r"accept all(?: cookies)?", r"reject all(?: cookies)?",
    r"manage (?:options|preferences|settings|choices)", r"more options",
    r"accept and (?:continue|close)", r"agree and (?:continue|proceed)",
    r"continue without accepting",
    r"accetta(?:re)? tutt[io]", r"rifiuta(?:re)? tutt[io]", r"gestisci (?:le )?(?:opzioni|preferenze)",
    r"continua senza accettare", r"accetta e (?:continua|chiudi)",
    r"alle akzeptieren", r"alle ablehnen", r"akzeptieren und weiter", r"zustimmen und weiter",
    r"(?:einstellungen|optionen) verwalten",
    r"tout accepter", r"tout refuser", r"accepter et (?:fermer|continuer)",
    r"continuer sans accepter", r"gérer (?:mes|les) (?:choix|préférences|options)",
    r"aceptar tod[oa]s?", r"rechazar tod[oa]s?", r"gestionar (?:opciones|preferencias)",
    r"continuar sin aceptar",
)
# The IAB TCF wording that consent dialogs show word for word: these count in prose. Legal
# terms that news about privacy uses as well ("legitimate interest", "personalised ads",
# "legittimo interesse") are no marker: a brief on an advertiser's consent policy has them in
# every sentence.
CONSENT_PURPOSES = _phrases(
    r"store and/or access information on a device", r"precise geolocation data",
    r"we and our (?:\d+ )?partners", r"consent to our use of cookies",
    r"personali[sz]ed (?:ads|advertising) and content", r"ad and content measurement",
    r"archiviare e/o accedere a informazioni su un dispositivo",
    r"noi e i nostri (?:\d+ )?partner", r"dati di geolocalizzazione precisi",
    r"annunci e contenuti personalizzati", r"valutazione degli annunci e del contenuto",
    r"informationen auf einem gerät speichern und/oder abrufen",
    r"wir und unsere (?:\d+ )?partner", r"genaue standortdaten",
    r"personalisierte anzeigen und inhalte", r"anzeigen- und inhaltsmessung",
    r"stocker et/ou accéder à des informations sur un appareil",
    r"nous et nos (?:\d+ )?partenaires", r"données de géolocalisation précises",
    r"publicités et contenu personnalisés", r"mesure de performance des publicités",
    r"nosotros y nuestros (?:\d+ )?socios", r"datos de localización geográfica precisa",
    r"anuncios y contenido personalizados", r"medición de anuncios y contenido",
)
_BUTTON_WORDS = 5  # "Accept all cookies and continue" is a button; a longer line is a sentence
# Words of consent: a sentence with one of them speaks of consent.
CONSENT_WORDS = _phrases(
    r"cookies?", r"consent\w*", r"partners?", r"vendors?", r"privacy", r"personal data",
    r"consenso", r"dati personali", r"einwilligung\w*", r"zustimm\w*", r"datenschutz\w*",
    r"consentement", r"données personnelles", r"partenaires", r"consentimiento", r"socios",
    r"datos personales", r"privacidad",
)
# Hosts whose forms are whole-page consent walls (Google's, YouTube's and Yahoo's interstitials);
# a CMP's script or iframe address (consensu.org, privacy-mgmt.com) is on many articles too.
CONSENT_HOSTS = re.compile(
    r"<form[^>]+action=[\"']?https?://(?:consent\.(?:google|youtube)\.\w+|(?:guce|consent)"
    r"\.yahoo\.com)", re.IGNORECASE)

# Titles of challenge and block pages (EN, IT, DE, FR, ES) and of the vendors that serve them.
BOT_TITLES = _whole(
    r"just a moment", r"attention required!?(?: \| cloudflare)?", r"one more step",
    r"access denied", r"access to this page has been denied", r"you have been blocked",
    r"are you (?:a )?(?:robot|human)\??", r"robot or human\??", r"verify you are (?:a )?human",
    r"human verification", r"security check", r"checking your browser",
    r"pardon our interruption", r"request unsuccessful", r"ddos-guard", r"captcha",
    r"please wait", r"bot verification", r"sei un robot\??", r"verifica di sicurezza",
    r"accesso negato", r"sicherheitsüberprüfung", r"zugriff verweigert",
    r"sind sie ein mensch\??", r"vérification de sécurité", r"accès refusé",
    r"êtes-vous un robot\s?\??", r"un instant", r"verificación de seguridad",
    r"acceso denegado", r"¿?eres (?:un )?(?:robot|humano)\??", r"un momento",
)
BOT_TEXT = _phrases(
    r"verify (?:that )?you are (?:a )?human", r"checking (?:if the site connection is secure|"
    r"your browser before accessing)", r"complete the security check", r"press (?:&|and) hold",
    r"unusual traffic from your (?:computer )?network", r"enable javascript and cookies to "
    r"continue", r"please (?:enable|turn on) (?:javascript|cookies)", r"you need to enable "
    r"javascript to run this app", r"javascript is (?:disabled|required)",
    r"why (?:do i have to|have i been asked to) complete a captcha", r"performance & security by "
    r"cloudflare", r"you don't have permission to access", r"incapsula incident id",
    r"verifica di essere (?:un )?umano", r"dimostra di non essere un robot",
    r"bestätigen sie, dass sie ein mensch sind", r"javascript (?:ist )?deaktiviert",
    r"vérifiez que vous êtes (?:un )?humain", r"activez javascript",
    r"verifica que eres (?:un )?humano", r"habilita javascript",
)
# Challenge pages' own scripts and containers: only a challenge page carries these (not the
# vendors' tags that normal pages load, such as Cloudflare's "jsd" script, DataDome's tags.js
# or Incapsula's _Incapsula_Resource script, seen on 3 real articles of the dev data).
BOT_MARKUP = re.compile(
    r"_cf_chl_opt|cf-browser-verification|id=[\"']challenge-(?:form|running|error-text)"
    r"|cf-error-details|captcha-delivery\.com/captcha|geo\.captcha-delivery\.com|px-captcha"
    r"|_pxcaptcha|errors\.edgesuite\.net|sucuri\.net/privacy-policy"
    r"|ddos-guard\.net/|awswaf\.com", re.IGNORECASE)

# Titles of error pages served with HTTP 200 (EN, IT, DE, FR, ES).
ERROR_TITLES = _whole(
    r"(?:error |errore |fehler |erreur )?404(?: error| errore| fehler| erreur)?"
    r"(?:\W+(?:page |file )?not found)?", r"(?:oops!?,? )?(?:page|file|article) not found",
    r"not found", r"page (?:does not|doesn't|does ?n't) exist", r"this page (?:does not|doesn't) exist",
    r"page unavailable", r"410 gone", r"(?:error )?(?:500|503)(?: internal server error)?",
    r"internal server error", r"service unavailable",
    r"pagina non trovata", r"pagina inesistente", r"la pagina non esiste", r"errore",
    r"seite nicht gefunden", r"die seite (?:wurde nicht gefunden|existiert nicht)",
    r"seite existiert nicht", r"fehler", r"page introuvable", r"page non trouvée",
    r"cette page n'existe pas", r"erreur", r"página no encontrada",
    r"la página no existe", r"página inexistente", r"error",
)
ERROR_TEXT = _phrases(
    r"the page you (?:are|were|'re) looking for (?:could ?n[o']t be found|can ?n[o']t be found|"
    r"does ?n[o']t exist|does not exist|may have been (?:moved|removed|deleted)|is no longer "
    r"available)", r"this page (?:does ?n[o']t|does not) exist", r"page (?:was )?not found",
    r"we could ?n[o']t find (?:the|that|this) page", r"error 404",
    r"la pagina che (?:stai cercando|cercavi|hai cercato) non (?:esiste|è (?:più )?disponibile|"
    r"è stata trovata)", r"pagina non trovata", r"die (?:angeforderte|gesuchte|von ihnen "
    r"gesuchte) seite (?:existiert nicht|wurde nicht gefunden|ist nicht (?:mehr )?verfügbar)",
    r"seite nicht gefunden", r"la page (?:que vous (?:recherchez|cherchez)|demandée) "
    r"(?:n'existe pas|n'existe plus|est introuvable)", r"page introuvable",
    r"la página que (?:buscas|estás buscando|busca) no (?:existe|está disponible)",
    r"página no encontrada",
)

# Subscriber walls' own lines (EN, IT, DE, FR, ES), in three kinds. Lines that say the text
# stops here ("Subscribe to continue reading", "Abbonati per continuare a leggere"): where one
# ends the text or follows the lead on the page, the text was cut there.
PAYWALL_CUT = _phrases(
    r"subscribe (?:now )?to (?:continue|keep) reading", r"subscribe to read (?:the full|more|"
    r"this)", r"to continue reading,? (?:please )?(?:subscribe|log in|sign in)",
    r"to (?:read|access) the (?:full|whole|rest of the) (?:article|story)",
    r"you have reached your (?:limit of|monthly) free articles",
    r"unlock this (?:article|story)",
    r"abbonati (?:ora )?per (?:continuare a leggere|leggere)",
    r"per continuare a leggere,? (?:abbonati|accedi)",
    r"per leggere (?:l'articolo completo|tutto l'articolo)",
    r"(?:jetzt )?(?:abonnieren|abo abschließen),? (?:und|um) weiter(?:zu)?lesen",
    r"weiterlesen mit (?:\w+ ?)?(?:plus|abo)", r"lesen sie (?:jetzt )?weiter mit",
    r"abonnez-vous pour lire la suite", r"la suite est réservée aux abonnés",
    r"il vous reste \d+ ?% de cet article à lire",
    r"suscríbete (?:para|y) (?:seguir|continuar) leyendo",
)
# Lines that say this article is for subscribers: a cut where they end the text or follow it.
PAYWALL_STATEMENT = _phrases(
    r"this (?:article|story|content) is (?:only )?(?:for|available to|exclusive to) "
    r"(?:paying )?subscribers(?: only)?",
    r"questo (?:articolo|contenuto) è riservato agli abbonati",
    r"dieser (?:artikel|beitrag) ist (?:nur )?(?:für|exklusiv für) abonnenten",
    r"cet article est réservé aux abonnés",
    r"(?:este artículo|contenido) (?:es )?exclusivo para suscriptores",
)
# A site's account and badge lines, on every page of a site with subscribers: evidence of a
# subscription model, never of a cut (a login box or a "Subscribers only" badge can follow a
# whole free article).
PAYWALL_ACCOUNT = _phrases(
    r"already a subscriber\?", r"subscribers? only", r"sei già abbonato\?",
    r"contenuto riservato agli abbonati", r"sie haben bereits ein abo(?:nnement)?\?",
    r"exklusiv für abonnenten", r"déjà abonné\s?\?", r"réservé aux abonnés",
    r"¿ya eres suscriptor\?",
)
PAYWALL_TEXT = re.compile("|".join(p.pattern for p in (PAYWALL_CUT, PAYWALL_STATEMENT,
                                                        PAYWALL_ACCOUNT)), re.IGNORECASE)
PAYWALL_CUT_TEXT = re.compile(f"{PAYWALL_CUT.pattern}|{PAYWALL_STATEMENT.pattern}", re.IGNORECASE)
PAYWALL_MARKUP = re.compile(
    r"paywall|premium-?wall|regwall|subscriber-?only|piano-?(?:paywall|offer)|tp-modal"
    r"|meter(?:ed)?-?wall|article-?locked|locked-?content", re.IGNORECASE)
_NOT_FREE = re.compile(r'"isAccessibleForFree"\s*:\s*(?:false|"false"|"no")', re.IGNORECASE)


# ---------------------------------------------------------------- what the page shows


@dataclass(frozen=True)
class PageFacts:
    """The parts of a page the rules read, gathered once."""

    headings: tuple[str, ...]  # title segments and the first h1s, normalised
    opening: str  # the start of the main text
    visible: str  # the page's visible text (no scripts, no noscript), whitespace-collapsed
    visible_words: int
    content: str  # the visible text outside the site's header, footer, navigation and asides
    controls: tuple[str, ...]  # the texts of buttons and links, whitespace-collapsed
    noscript: str  # what the page shows a browser without JavaScript
    markup_names: str  # class and id values, space-separated, for markup markers
    markup: str  # the raw HTML, for the challenge and consent hosts' addresses
    text: str
    words: int  # of the main text


_SEGMENT_SPLIT = re.compile(r"\s+(?:[|\-–—·•»«:/~]|::)\s+|\s*[|·•»]\s*")
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\s.…!:·|\-–—]+$")
# Only h1: an h2 is as often a widget's ("Error", "Your privacy") as the page's own.
_HEADING_XPATH = "//h1"
_MAX_HEADINGS = 2
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def page_facts(html: str, text: str, title: str | None) -> PageFacts:
    """Gather the page's title segments, headings, visible text and markup names."""
    tree = parse_html(html)
    titles = [title or ""]
    if tree is not None:
        titles += [element.text_content() for element in tree.iter("title")][:1]
        titles += [h.text_content() for h in tree.xpath(_HEADING_XPATH)[:_MAX_HEADINGS]]
    visible = _collapse(" ".join(_visible_texts(tree))) if tree is not None else ""
    return PageFacts(
        headings=tuple(dict.fromkeys(s for t in titles for s in title_segments(t))),
        opening=_collapse(text)[:_OPENING_CHARS],
        visible=visible,
        visible_words=count_words(visible),
        content=_collapse(" ".join(_content_texts(tree))) if tree is not None else "",
        controls=_control_texts(tree) if tree is not None else (),
        noscript=_collapse(" ".join(_noscript_texts(tree))) if tree is not None else "",
        markup_names=_markup_names(tree) if tree is not None else "",
        markup=html,
        text=text,
        words=count_words(text),
    )


def parse_html(html: str) -> HtmlElement | None:
    """The page's tree, or None when lxml finds no document in it."""
    html = _XML_DECLARATION.sub("", html, count=1)  # lxml rejects str with a declared encoding
    if not html.strip():
        return None
    try:
        return document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def title_segments(title: str) -> list[str]:
    """A title's parts between site-name separators, lower-cased, without edge punctuation."""
    parts = [title, *_SEGMENT_SPLIT.split(title)]
    return list(dict.fromkeys(segment for part in parts if (segment := _normalise(part))))


def _normalise(text: str) -> str:
    text = _collapse(text).replace("’", "'").replace("…", "...").casefold()
    return _EDGE_PUNCTUATION.sub("", text)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _visible_texts(tree: HtmlElement) -> list[str]:
    return tree.xpath("//body//text()[not(ancestor::script or ancestor::style or "
                      "ancestor::noscript or ancestor::template)]")


# The site's chrome, the same on every page: its account links and subscription badges say
# nothing about the article beside them.
_CHROME = ("ancestor::header or ancestor::footer or ancestor::nav or ancestor::aside or "
           "ancestor::*[@role='banner' or @role='navigation' or @role='contentinfo' or "
           "@role='complementary']")


def _content_texts(tree: HtmlElement) -> list[str]:
    return tree.xpath("//body//text()[not(ancestor::script or ancestor::style or "
                      f"ancestor::noscript or ancestor::template or {_CHROME})]")


def _control_texts(tree: HtmlElement) -> tuple[str, ...]:
    texts = [element.text_content() for element in
             tree.xpath("//button | //a | //*[@role='button']")]
    texts += tree.xpath("//input[@type='submit' or @type='button']/@value")
    return tuple(text for t in texts if (text := _collapse(t)))


def _noscript_texts(tree: HtmlElement) -> list[str]:
    return tree.xpath("//noscript//text()")


def _markup_names(tree: HtmlElement) -> str:
    return " ".join(tree.xpath("//@class | //@id"))


def heading_marker(facts: PageFacts, pattern: re.Pattern[str]) -> str | None:
    """The first title segment or heading that is nothing but a marker of `pattern`."""
    return next((h for h in facts.headings if pattern.fullmatch(h)), None)


def phrase_marker(facts: PageFacts, pattern: re.Pattern[str]) -> str | None:
    """A phrase of `pattern` where a wall states itself: the opening of the main text, or
    anywhere on a page that shows little text (on a big page, such a phrase is a side note:
    a video player's "enable JavaScript", a login box's "Already a subscriber?"). A short
    page is no wall either when its text has prose beside the phrase: a storm brief under a
    video player's "Please enable JavaScript to watch this video" is an article."""
    if prose_words_beside(facts.text, pattern) >= WALL_PROSE_WORDS:
        return None
    found = pattern.search(facts.opening)
    if found is None and facts.visible_words < SMALL_PAGE_WORDS:
        found = pattern.search(facts.visible)
    return found.group(0) if found else None


# ---------------------------------------------------------------- the rules


def classify_page(html: str, text: str, title: str | None) -> PageVerdict:
    """Whether a page is an article; if not, which kind of page it is and what showed it.

    `html` is the decoded page, `text` trafilatura's main text (may be empty), `title` its
    title. Walls come first (a challenge page can also look like an error page), then error
    pages, then paywalls, which are the only kind that can keep their text.
    """
    facts = page_facts(html, text.strip(), title)
    for judge in (judge_bot_wall, judge_consent_wall, judge_error_page, judge_paywall):
        verdict = judge(facts)
        if verdict is not None:
            return verdict
    return ARTICLE


def judge_bot_wall(facts: PageFacts) -> PageVerdict | None:
    """A captcha, a browser check, a block page or a JavaScript-only shell, with little text."""
    if facts.words >= WALL_MAX_WORDS:
        return None
    if marker := heading_marker(facts, BOT_TITLES):
        seen = f"the title or heading {marker!r}"
    elif found := BOT_MARKUP.search(facts.markup):
        seen = f"the challenge markup {found.group(0)!r}"
    elif phrase := phrase_marker(facts, BOT_TEXT):
        seen = f"the phrase {phrase!r}"
    elif _is_script_shell(facts):
        seen = f"an empty page that asks for JavaScript ({facts.noscript[:80]!r})"
    else:
        return None
    return PageVerdict("bot_wall", f"{seen} with {facts.words} words of text")


def _is_script_shell(facts: PageFacts) -> bool:
    """A page that shows nothing without JavaScript: no text, a noscript notice about it."""
    return (facts.visible_words < EMPTY_TEXT_WORDS and facts.words < EMPTY_TEXT_WORDS
            and "javascript" in facts.noscript.casefold())


def judge_consent_wall(facts: PageFacts) -> PageVerdict | None:
    """A consent interstitial that is the whole page (not a banner beside an article).

    Either the page names itself a consent page (its title or heading, or a form that posts to
    a consent host), or its text shows two of a consent dialog's buttons (each on a line of its
    own; on a page with nearly no text, the page's buttons and links) or its purposes. Then it
    is a wall if what its text says *besides* consent (its sentences of _SENTENCE_WORDS words or
    more that speak of neither cookies, consent, partners nor privacy) is under
    ARTICLE_BESIDE_CONSENT_WORDS, a news brief's length. An article whose page trafilatura read
    together with its cookie notice keeps its own sentences, however long the notice. A consent
    platform's markup alone proves nothing: it sits beside most articles of the sites using one.
    """
    if facts.words >= CONSENT_DIALOG_MAX_WORDS:
        return None
    marker = _consent_marker(facts)
    if marker is None:
        dialog = dialog_phrases(facts.text, facts.text.splitlines())
        if facts.words < EMPTY_TEXT_WORDS and facts.visible_words < SMALL_PAGE_WORDS:
            # Nothing but the dialog on the page: its buttons are the page's own controls.
            dialog |= dialog_phrases(facts.visible, facts.controls)
        if len(dialog) >= 2:
            marker = f"the consent dialog's {', '.join(sorted(dialog)[:3])!r}"
    if marker is None:
        return None
    beside = words_beside_consent(facts.text)
    if beside >= ARTICLE_BESIDE_CONSENT_WORDS:
        return None
    return PageVerdict("consent_wall", f"{marker}; of the text's {facts.words} words, {beside} "
                                       "are on anything but consent")


def _consent_marker(facts: PageFacts) -> str | None:
    if marker := heading_marker(facts, CONSENT_TITLES):
        return f"the title or heading {marker!r}"
    if found := CONSENT_HOSTS.search(facts.markup):
        return f"a form to a consent host ({found.group(0)[-40:]!r})"
    return None


def dialog_phrases(text: str, controls: Iterable[str]) -> set[str]:
    """The distinct consent-dialog purposes that `text` shows and the buttons that stand alone
    among `controls` (lines or button and link texts of at most _BUTTON_WORDS words)."""
    found = {match.group(0).casefold() for match in CONSENT_PURPOSES.finditer(text)}
    for control in controls:
        if count_words(control) <= _BUTTON_WORDS:
            found |= {match.group(0).casefold() for match in CONSENT_BUTTONS.finditer(control)}
    return found


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_SENTENCE_WORDS = 8  # shorter lines are a dialog's buttons, headings and list items


def words_beside_consent(text: str) -> int:
    """Words of the text's sentences that mention neither cookies, consent, partners nor
    privacy (sentences of _SENTENCE_WORDS words or more)."""
    counts = (count_words(sentence) for sentence in _SENTENCE_END.split(text)
              if not CONSENT_WORDS.search(sentence))
    return sum(count for count in counts if count >= _SENTENCE_WORDS)


def judge_error_page(facts: PageFacts) -> PageVerdict | None:
    """A "not found" or error page served with HTTP 200: it says so in its title or heading
    (a whole segment) or where its text starts, and has little text of its own."""
    if facts.words < TITLED_ERROR_MAX_WORDS and (marker := heading_marker(facts, ERROR_TITLES)):
        return PageVerdict("error_page", f"the title or heading {marker!r} with "
                                         f"{facts.words} words of text")
    if facts.words < WALL_MAX_WORDS and (phrase := phrase_marker(facts, ERROR_TEXT)):
        return PageVerdict("error_page", f"the phrase {phrase!r} with {facts.words} words "
                                         "of text")
    return None


def judge_paywall(facts: PageFacts) -> PageVerdict | None:
    """A subscriber wall: rejected when what is left is no article, kept as `truncated` when it
    is the article's real lead.

    A wall needs evidence (a subscriber line such as "Already a subscriber?" in the text or in
    the page outside its header, footer, navigation and asides, JSON-LD
    `isAccessibleForFree: false`, or paywall markup such as a `paywall` class) *and* a sign
    that the text was cut there: the text ends in an ellipsis or in a line that says it stops
    ("Subscribe to continue reading", "Abbonati per continuare a leggere", "This article is for
    subscribers"), or such a line follows the text's end on the page (again outside the chrome).
    Evidence alone is common on whole articles: publishers mark pages they serve in full to
    crawlers as not free, templates carry empty paywall containers, and a site's login box
    ("Already a subscriber? Log in") or "Subscribers only" badges sit on every page, right
    after a whole free brief too.

    Between reject and keep, the rule is the lead's prose: the words of its paragraphs of at
    least LEAD_PARAGRAPH_WORDS words (bylines, captions and wall lines do not count). Under
    LEAD_MIN_WORDS (about two short paragraphs) it is a standfirst, not an article: rejected as
    `paywall_teaser`. From there it is the article's opening as its publisher wrote it, worth
    keeping for search, dedup and entities: kept, flagged `truncated`.
    """
    evidence = _paywall_evidence(facts)
    if evidence is None:
        return None
    lead = strip_wall_lines(facts.text)
    cut = _cut_sign(facts, lead)
    if cut is None:
        return None
    words = prose_words(lead)
    if words < LEAD_MIN_WORDS:
        return PageVerdict("paywall_teaser", f"{evidence}; {cut}; the lead left is {words} "
                                             "words of prose")
    return PageVerdict(None, f"{evidence}; {cut}; kept the lead of {words} words",
                       truncated=True)


def _paywall_evidence(facts: PageFacts) -> str | None:
    if found := PAYWALL_TEXT.search(facts.text) or PAYWALL_TEXT.search(facts.content):
        return f"the subscriber line {found.group(0)!r}"
    if _NOT_FREE.search(facts.markup) and _json_ld_not_free(facts.markup):
        return "JSON-LD isAccessibleForFree false"
    if found := PAYWALL_MARKUP.search(facts.markup_names):
        return f"the paywall markup {found.group(0)!r}"
    return None


_ELLIPSIS = re.compile(r"(?:\.\.\.|…|\[(?:\.\.\.|…)\])\W{0,3}$")


def _cut_sign(facts: PageFacts, lead: str) -> str | None:
    """What shows that the text stops at a wall, or None."""
    if PAYWALL_CUT_TEXT.search(facts.text[-_TAIL_CHARS:]):
        return "a subscriber line ends the text"
    if _ELLIPSIS.search(lead.rstrip()):
        return "the text ends in an ellipsis"
    if facts.words < EMPTY_TEXT_WORDS and facts.visible_words < SMALL_PAGE_WORDS:
        return "the page shows nothing but the wall"
    if _wall_follows(facts.content, lead):
        return "a subscriber line follows the text on the page"
    return None


_TAIL_PROBE_CHARS = 60


def _wall_follows(content: str, lead: str) -> bool:
    """Whether a line that cuts the text comes right after the lead's last paragraph on the
    page (outside its header, footer, navigation and asides)."""
    paragraphs = [line for line in lead.splitlines() if count_words(line) >= LEAD_PARAGRAPH_WORDS]
    if not paragraphs:
        return False
    probe = _collapse(paragraphs[-1])[-_TAIL_PROBE_CHARS:]
    start = content.find(probe)
    if start < 0:
        return False
    after = content[start + len(probe): start + len(probe) + _WALL_AFTER_CHARS]
    return PAYWALL_CUT_TEXT.search(after) is not None


_JSON_LD = re.compile(r"<script[^>]+application/ld\+json[^>]*>(.*?)</script>",
                      re.IGNORECASE | re.DOTALL)


def _json_ld_not_free(html: str) -> bool:
    """Whether a JSON-LD block of the page says isAccessibleForFree is false (parsed, so that
    the words in a string or a comment do not count)."""
    for block in _JSON_LD.findall(html):
        try:
            data = json.loads(block)
        except ValueError:
            continue
        if _not_free(data):
            return True
    return False


def _not_free(data: object) -> bool:
    if isinstance(data, list):
        return any(_not_free(item) for item in data)
    if not isinstance(data, dict):
        return False
    flag = data.get("isAccessibleForFree")
    if flag is False or (isinstance(flag, str) and flag.strip().casefold() in ("false", "no")):
        return True
    return any(_not_free(value) for value in data.values() if isinstance(value, (dict, list)))


def strip_wall_lines(text: str) -> str:
    """The text without the lines that belong to the wall (a subscriber line, a login prompt)."""
    return "\n".join(line for line in text.splitlines() if not PAYWALL_TEXT.search(line))


def prose_words(text: str) -> int:
    """Words in the text's paragraphs long enough to be prose (not a byline or a caption)."""
    counts = (count_words(line) for line in text.splitlines())
    return sum(count for count in counts if count >= LEAD_PARAGRAPH_WORDS)


def prose_words_beside(text: str, pattern: re.Pattern[str]) -> int:
    """prose_words of the text's paragraphs in which `pattern` finds nothing."""
    return prose_words("\n".join(line for line in text.splitlines() if not pattern.search(line)))
