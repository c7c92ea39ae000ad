"""A threaded HTTP server on 127.0.0.1 (random port) serving pages written for the tests.

It plays the web the URL stages meet: a news article with boilerplate, a section front, a
robots.txt, rate limiting (429 + Retry-After), a flaky 500, a server that drips bytes, redirect
loops and chains, a PDF, oversized bodies, RSS/Atom feeds, sitemaps (index, news, gzip),
ETag/Last-Modified with 304s, and legacy charsets. Every request is recorded with a server-side
monotonic timestamp so tests can measure politeness from the server's point of view.

Use it as a context manager:  `with NewsServer() as server: server.url("/news/")`.
"""

from __future__ import annotations

import gzip
import hashlib
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

LAST_MODIFIED = "Wed, 06 Mar 2024 08:00:00 GMT"
ARTICLE_PATH = "/news/2024/03/harbour-tunnel-opens.html"

# Sentences the extraction must keep (first and last paragraph) and boilerplate it must drop.
ARTICLE_FIRST_SENTENCE = (
    "The long-delayed harbour tunnel opened to traffic on Tuesday morning, three years later "
    "and 40 million euros over the budget first approved by the city council."
)
ARTICLE_LAST_SENTENCE = (
    "The council will publish the first traffic figures for the tunnel at the end of April."
)
BOILERPLATE_SENTENCES = (
    "Subscribe to our morning briefing",
    "We use cookies to improve your experience",
    "Ferry timetable changes for the spring season",
    "Great news, finally! My commute will be half as long.",
    "All rights reserved",
)

ARTICLE_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harbour tunnel opens three years late | The Harbour Gazette</title>
<meta name="description" content="The harbour tunnel finally opened on Tuesday.">
<meta property="og:site_name" content="The Harbour Gazette">
<meta property="og:type" content="article">
<meta property="og:title" content="Harbour tunnel opens three years late">
<meta property="article:published_time" content="2024-03-05T07:30:00+01:00">
<meta name="author" content="Marta Jensen">
<link rel="canonical" href="/news/2024/03/harbour-tunnel-opens.html?utm_source=canonical">
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Harbour tunnel opens three years late",
 "datePublished": "2024-03-05T07:30:00+01:00", "dateModified": "2024-03-05T09:10:00+01:00",
 "author": {"@type": "Person", "name": "Marta Jensen"},
 "publisher": {"@type": "Organization", "name": "The Harbour Gazette"}}
</script>
</head>
<body>
<div class="cookie-banner">We use cookies to improve your experience.
  <a href="/privacy">Learn more</a></div>
<header class="site-header">
  <a href="/" class="logo">The Harbour Gazette</a>
  <nav><ul>
    <li><a href="/news/">News</a></li><li><a href="/politics/">Politics</a></li>
    <li><a href="/business/">Business</a></li><li><a href="/sport/">Sport</a></li>
    <li><a href="/culture/">Culture</a></li><li><a href="/opinion/">Opinion</a></li>
    <li><a href="/subscribe">Subscribe to our morning briefing</a></li>
  </ul></nav>
</header>
<main>
<article>
  <h1>Harbour tunnel opens three years late</h1>
  <p class="byline">By <span class="author">Marta Jensen</span>,
     <time datetime="2024-03-05T07:30:00+01:00">5 March 2024</time></p>
  <p>""" + ARTICLE_FIRST_SENTENCE + """ Drivers queued from six o'clock to be among the first
  to use the two-kilometre crossing, which links the container port with the northern ring
  road and is expected to take up to 18,000 lorries a day off the city's residential streets.</p>
  <p>Mayor Ingrid Solberg, who cut the ribbon at the southern portal, called the opening a
  turning point for the districts along the waterfront. "For twenty years the people of
  Nordkai have breathed the exhaust of the port," she said. "From today, that traffic runs
  under the water instead of past their windows."</p>
  <p>The project ran into trouble in 2021, when engineers found that the clay under the
  eastern basin was softer than the surveys had suggested. The contractor had to freeze the
  ground before boring could continue, a technique that added eleven months to the schedule
  and most of the extra cost. An inquiry by the regional audit office later criticised the
  council for accepting the original surveys without an independent review.</p>
  <h2>Tolls and traffic</h2>
  <p>Cars will pay a toll of 2.50 euros during peak hours and 1.50 euros at other times,
  while lorries will pay between 6 and 9 euros depending on their weight. The council expects
  the tolls to repay the construction loans within 25 years, although opposition councillors
  have warned that the traffic forecasts used in the business case were optimistic.</p>
  <p>Residents' groups in Nordkai welcomed the opening but said they would watch closely
  whether hauliers actually used the tunnel. "The test is not the ribbon, it is the air
  quality readings in six months' time," said Jonas Berg, who chairs the local residents'
  association. The association has installed its own air quality sensors along the
  waterfront and plans to publish the readings every week.</p>
  <p>Police said traffic flowed smoothly through the morning, with only one minor collision
  reported at the northern exit, where the tunnel joins the ring road. Extra officers will
  direct traffic at the junction for the first two weeks while drivers get used to the new
  layout.</p>
  <p>""" + ARTICLE_LAST_SENTENCE + """</p>
</article>
<aside class="related">
  <h3>Related stories</h3>
  <ul>
    <li><a href="/news/2024/02/ferry-timetable.html">
      Ferry timetable changes for the spring season</a></li>
    <li><a href="/news/2024/01/port-expansion.html">
      Port expansion plan goes to public consultation</a></li>
    <li><a href="/news/2023/12/ring-road.html">Ring road repairs to finish before summer</a></li>
  </ul>
</aside>
<section id="comments" class="comments">
  <h3>Comments</h3>
  <div class="comment"><p>Great news, finally! My commute will be half as long.</p></div>
  <div class="comment"><p>Forty million over budget and nobody resigns?</p></div>
</section>
</main>
<footer class="site-footer">
  <ul><li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li>
  <li><a href="/privacy">Privacy</a></li><li><a href="/terms">Terms</a></li></ul>
  <p>&copy; 2024 The Harbour Gazette. All rights reserved.</p>
</footer>
</body>
</html>
"""

_SECTION_HEADLINES = [
    "Harbour tunnel opens three years late", "Council approves new budget for schools",
    "Ferry timetable changes for the spring season", "Port expansion plan goes to consultation",
    "Ring road repairs to finish before summer", "Local football club signs new coach",
    "Library extends opening hours on weekends", "New cycle lanes planned for the old town",
    "Fishermen protest against quota cuts", "Museum reopens after two-year renovation",
    "Hospital opens new emergency wing", "Storm damages sea wall in the north district",
    "University to build student housing near the station", "Bus drivers vote on pay offer",
    "Market hall gets a new roof", "Youth orchestra wins national prize",
    "City plants 2,000 trees along the waterfront", "Airport passenger numbers recover",
    "Water rates to rise by four percent", "Old shipyard turned into a concert venue",
    "Police launch campaign against bike theft", "Fire station celebrates its centenary",
    "School meals to use more local produce", "Theatre announces its autumn season",
    "Harbour master retires after 30 years", "Tram line extension gets the green light",
    "Record number of cruise ships expected", "New bridge design unveiled to the public",
    "Swimming pool closes for repairs", "Flower market returns to the main square",
]
INDEX_HTML = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    "<title>News | The Harbour Gazette</title>"
    "<meta property='og:type' content='website'></head><body>"
    "<header><a href='/'>The Harbour Gazette</a><nav>"
    + "".join(f"<a href='/{s}/'>{s.title()}</a> " for s in
              ("news", "politics", "business", "sport", "culture", "opinion"))
    + "</nav></header><main><h1>News</h1><ul class='stories'>"
    + "".join(
        f"<li class='story'><h2><a href='/news/2024/03/story-{i}.html'>{headline}</a></h2>"
        f"<span class='date'>5 March 2024</span></li>"
        for i, headline in enumerate(_SECTION_HEADLINES))
    + "</ul><nav class='pages'><a href='/news/?page=2'>Next page</a></nav></main>"
    "<footer><a href='/about'>About us</a> <a href='/contact'>Contact</a></footer>"
    "</body></html>"
)

SHORT_HTML = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Brief</title></head><body>"
    "<article><h1>Brief</h1><p>The bridge is closed today.</p></article></body></html>"
)
EMPTY_HTML = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Loading</title></head>"
    "<body><div id='app'></div><script>render()</script></body></html>"
)

BACK_SOON_SENTENCE = "La capitainerie a publié les horaires d'été des navettes vers les îles."
LATIN1_SENTENCE = "Le café du port a rouvert ses portes après l'hiver, à la joie des pêcheurs."


def _legacy_article(sentence: str) -> str:
    return (
        "<!DOCTYPE html><html lang='fr'><head>{meta}<title>Le café du port</title></head><body>"
        "<article><h1>Le café du port rouvre</h1>"
        + "".join(f"<p>{sentence} Les habitués étaient nombreux dès sept heures du matin, et le "
                  f"patron a offert le premier café à tout le monde. Paragraphe {n}.</p>"
                  for n in range(6))
        + "</article></body></html>"
    )


ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n{crawl_delay}\nUser-agent: badbot\nDisallow: /\n"

RSS_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>The Harbour Gazette - News</title>
  <link>{base}/news/</link>
  <description>Latest news</description>
  <item>
    <title>Harbour tunnel opens three years late</title>
    <link>{base}{article}?utm_source=rss&amp;utm_medium=feed</link>
    <guid isPermaLink="false">tunnel-2024</guid>
    <pubDate>Tue, 05 Mar 2024 06:30:00 GMT</pubDate>
  </item>
  <item>
    <title>Council approves new budget</title>
    <link>{base}/news/2024/03/budget.html#comments</link>
    <pubDate>Mon, 04 Mar 2024 17:00:00 +0100</pubDate>
  </item>
  <item>
    <title>Internal memo</title>
    <link>{base}/private/memo.html</link>
  </item>
  <item>
    <title>Not a web page</title>
    <link>ftp://files.example.org/report.pdf</link>
  </item>
</channel>
</rss>
"""

ATOM_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}/">
  <title>The Harbour Gazette</title>
  <link href="{base}/feed.atom" rel="self"/>
  <updated>2024-03-05T09:00:00Z</updated>
  <id>urn:uuid:harbour-gazette</id>
  <entry>
    <title>Harbour tunnel opens three years late</title>
    <link rel="alternate" type="text/html"
          href="news/2024/03/harbour-tunnel-opens.html?fbclid=abc"/>
    <id>urn:uuid:tunnel</id>
    <published>2024-03-05T06:30:00Z</published>
    <updated>2024-03-05T08:00:00Z</updated>
  </entry>
  <entry>
    <title>Ferry timetable changes</title>
    <link href="{base}/news/2024/02/ferry-timetable.html"/>
    <link rel="edit" href="{base}/admin/edit/17"/>
    <id>urn:uuid:ferry</id>
    <updated>2024-02-28T10:00:00Z</updated>
  </entry>
</feed>
"""

SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>{base}{article}</loc><lastmod>2024-03-05</lastmod></url>
  <url><loc>{base}/news/</loc><lastmod>2024-03-05T09:00:00+00:00</lastmod></url>
  <url><loc>{base}/flaky-500.html</loc></url>
  <url><loc> {base}/report.pdf </loc></url>
</urlset>
"""

NEWS_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>{base}{article}?gclid=xyz</loc>
    <news:news>
      <news:publication>
        <news:name>The Harbour Gazette</news:name><news:language>en</news:language>
      </news:publication>
      <news:publication_date>2024-03-05T07:30:00+01:00</news:publication_date>
      <news:title>Harbour tunnel opens three years late</news:title>
    </news:news>
  </url>
  <url>
    <loc>{base}/news/2024/03/budget.html</loc>
    <news:news>
      <news:publication>
        <news:name>The Harbour Gazette</news:name><news:language>en</news:language>
      </news:publication>
      <news:publication_date>2024-03-04</news:publication_date>
      <news:title>Council approves new budget</news:title>
    </news:news>
  </url>
</urlset>
"""

SITEMAP_INDEX = """<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{base}/sitemap.xml</loc><lastmod>2024-03-05</lastmod></sitemap>
  <sitemap><loc>{base}/news-sitemap.xml</loc></sitemap>
  <sitemap><loc>{base}/sitemap-missing.xml</loc></sitemap>
</sitemapindex>
"""

BROKEN_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title>
<item><title>Unclosed item<link>{base}/news/x.html</link></channel></rss>"""
BROKEN_SITEMAP = """<?xml version="1.0"?><urlset><url><loc>{base}/a.html</loc></url"""
XXE_FEED = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
<rss version="2.0"><channel><title>x</title>
<item><link>{base}/news/&secret;.html</link></item></channel></rss>"""

PDF_BODY = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str
    at: float  # time.monotonic() when the request line arrived
    headers: dict[str, str] = field(default_factory=dict)


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and a client
    context that trusts exactly that certificate."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corpusflow test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up (timeouts, size caps) are what the tests provoke


class NewsServer:
    """The test server; `crawl_delay` adds a Crawl-delay line to robots.txt, `robots_status`
    makes robots.txt answer with that status instead (404: none, 503: unreachable), `tls`
    serves HTTPS with that server context (see `self_signed_tls`)."""

    def __init__(self, crawl_delay: int | None = None, robots_status: int = 200,
                 big_bytes: int = 300_000, tls: ssl.SSLContext | None = None) -> None:
        self.crawl_delay = crawl_delay
        self.robots_status = robots_status
        self.big_bytes = big_bytes
        self.down: set[str] = set()  # paths that answer 503 for now
        self.requests: list[Recorded] = []
        self.counters: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), _Handler)
        self.scheme = "https" if tls else "http"
        if tls:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.app = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + path

    def hits(self, path: str) -> list[float]:
        """Server-side arrival times of the requests for one path (query ignored)."""
        with self.lock:
            return [r.at for r in self.requests if r.path == path]

    def requests_for(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def record(self, path: str, headers: dict[str, str]) -> int:
        """Record a request; returns how many times this path was requested, this one included."""
        with self.lock:
            self.requests.append(Recorded(path, time.monotonic(), headers))
            self.counters[path] = self.counters.get(path, 0) + 1
            return self.counters[path]

    def __enter__(self) -> NewsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- content

    def render(self, template: str) -> bytes:
        return template.format(base=self.base_url, article=ARTICLE_PATH).encode("utf-8")

    def robots(self) -> bytes:
        delay = f"Crawl-delay: {self.crawl_delay}" if self.crawl_delay else ""
        return ROBOTS_TXT.format(crawl_delay=delay).encode("ascii")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HarbourGazette/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep tests quiet
        pass

    @property
    def app(self) -> NewsServer:
        return self.server.app  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = urlsplit(self.path).path
        count = self.app.record(path, {k.lower(): v for k, v in self.headers.items()})
        route = ROUTES.get(path)
        if route is None:
            self.send_page(404, b"<html><body><h1>Not found</h1><p>No such page.</p></body></html>")
            return
        route(self, count)

    # -- helpers used by the routes

    def send_page(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
                  extra: dict[str, str] | None = None, validators: bool = False) -> None:
        headers = dict(extra or {})
        if validators:
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            headers.update({"ETag": etag, "Last-Modified": LAST_MODIFIED})
            if self._not_modified(etag):
                self.send_response(304)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _not_modified(self, etag: str) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return etag in [tag.strip() for tag in if_none_match.split(",")]
        return self.headers.get("If-Modified-Since") == LAST_MODIFIED

    def redirect(self, status: int, location: str) -> None:
        self.send_page(status, b"", content_type="", extra={"Location": location})

    def drip(self, head: bytes, body_bytes: int, every_s: float) -> None:
        """Write `head` at once, then one byte every `every_s` seconds until stopped."""
        self.close_connection = True
        try:
            self.wfile.write(head)
            self.wfile.flush()
            for _ in range(body_bytes):
                if self.app.stopping.wait(every_s):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up, as it should


def _article(handler: _Handler, count: int) -> None:
    handler.send_page(200, ARTICLE_HTML.encode("utf-8"), validators=True)


def _flaky_429(handler: _Handler, count: int) -> None:
    if count == 1:
        handler.send_page(429, b"slow down", "text/plain", {"Retry-After": "1"})
    else:
        _article(handler, count)


def _flaky_500(handler: _Handler, count: int) -> None:
    if count == 1:
        handler.send_page(500, b"<h1>Internal Server Error</h1>")
    else:
        _article(handler, count)


def _back_soon(handler: _Handler, count: int) -> None:
    if urlsplit(handler.path).path in handler.app.down:
        handler.send_page(503, b"down for maintenance", "text/plain")
    else:
        handler.send_page(200, _legacy_article(BACK_SOON_SENTENCE).format(meta="").encode())


def _slow_body(handler: _Handler, count: int) -> None:
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
            b"<html><body><p>")
    handler.drip(head, 100_000, 0.1)


def _slow_headers(handler: _Handler, count: int) -> None:
    handler.drip(b"HTTP/1.1 200 OK\r\nX-Padding: ", 100_000, 0.1)


def _big(handler: _Handler, count: int) -> None:
    filler = b"<p>" + b"word " * 200 + b"</p>\n"
    body = b"<html><body>" + filler * (handler.app.big_bytes // len(filler) + 1) + b"</body></html>"
    handler.send_page(200, body)


def _big_unannounced(handler: _Handler, count: int) -> None:
    # No Content-Length: the fetcher only learns the size while streaming.
    handler.close_connection = True
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b"<p>" + b"word " * 200 + b"</p>\n"
    try:
        for _ in range(handler.app.big_bytes // len(chunk) + 10):
            handler.wfile.write(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _latin1(handler: _Handler, count: int) -> None:
    body = _legacy_article(LATIN1_SENTENCE).format(meta="").encode("latin-1")
    handler.send_page(200, body, "text/html; charset=ISO-8859-1")


def _meta_cp1252(handler: _Handler, count: int) -> None:
    sentence = LATIN1_SENTENCE.replace("l'hiver", "l\u2019hiver")
    body = _legacy_article(sentence).format(meta="<meta charset='windows-1252'>").encode("cp1252")
    handler.send_page(200, body, "text/html")


def _no_content_type(handler: _Handler, count: int) -> None:
    handler.send_page(200, ARTICLE_HTML.encode("utf-8"), content_type="")


def _static(body: str | bytes, content_type: str, template: bool = False):
    def route(handler: _Handler, count: int) -> None:
        data = handler.app.render(body) if template else (
            body.encode("utf-8") if isinstance(body, str) else body)
        handler.send_page(200, data, content_type, validators=True)
    return route


def _gzipped_sitemap(handler: _Handler, count: int) -> None:
    data = gzip.compress(handler.app.render(SITEMAP), mtime=0)
    handler.send_page(200, data, "application/gzip", validators=True)


def _robots(handler: _Handler, count: int) -> None:
    status = handler.app.robots_status
    body = handler.app.robots() if status == 200 else b"no robots here"
    handler.send_page(status, body, "text/plain")


def _chain(handler: _Handler, count: int) -> None:
    step = int(urlsplit(handler.path).path.rsplit("/", 1)[1])
    handler.redirect(302, f"/chain/{step - 1}" if step > 1 else ARTICLE_PATH)


ROUTES = {
    "/robots.txt": _robots,
    ARTICLE_PATH: _article,
    "/news/": _static(INDEX_HTML, "text/html; charset=utf-8"),
    "/private/memo.html": _article,
    "/flaky-429.html": _flaky_429,
    "/flaky-500.html": _flaky_500,
    "/always-503.html": lambda h, c: h.send_page(503, b"down", "text/plain"),
    "/back-soon.html": _back_soon,
    "/slow.html": _slow_body,
    "/slow-headers.html": _slow_headers,
    "/loop/a": lambda h, c: h.redirect(302, "/loop/b"),
    "/loop/b": lambda h, c: h.redirect(302, "/loop/a"),
    "/moved": lambda h, c: h.redirect(301, ARTICLE_PATH + "#top"),
    "/to-internal": lambda h, c: h.redirect(302, "http://10.1.2.3/admin"),
    "/to-ftp": lambda h, c: h.redirect(302, "ftp://files.example.org/x"),
    **{f"/chain/{n}": _chain for n in range(1, 10)},
    "/report.pdf": _static(PDF_BODY, "application/pdf"),
    "/big.html": _big,
    "/big-unannounced.html": _big_unannounced,
    "/short.html": _static(SHORT_HTML, "text/html; charset=utf-8"),
    "/empty.html": _static(EMPTY_HTML, "text/html; charset=utf-8"),
    "/latin1.html": _latin1,
    "/meta-cp1252.html": _meta_cp1252,
    "/no-content-type.html": _no_content_type,
    "/feed.rss": _static(RSS_FEED, "application/rss+xml", template=True),
    "/feed.atom": _static(ATOM_FEED, "application/atom+xml; charset=utf-8", template=True),
    "/sitemap.xml": _static(SITEMAP, "application/xml", template=True),
    "/sitemap.xml.gz": _gzipped_sitemap,
    "/news-sitemap.xml": _static(NEWS_SITEMAP, "application/xml", template=True),
    "/sitemap-index.xml": _static(SITEMAP_INDEX, "application/xml", template=True),
    "/broken-feed.xml": _static(BROKEN_FEED, "application/rss+xml", template=True),
    "/broken-sitemap.xml": _static(BROKEN_SITEMAP, "application/xml", template=True),
    "/xxe-feed.xml": _static(XXE_FEED, "application/rss+xml", template=True),
    "/feed-as-html.xml": _static(INDEX_HTML, "text/html"),
}
