"""Polite HTTP fetching: the only module in corpusflow that talks HTTP.

`Fetcher` is the seam discovery and the fetch stage depend on; `HttpFetcher` is its
implementation (httpx). A fetch never raises: it returns `Fetched`
(final URL, status, the headers that matter, body bytes, the redirects taken) or `FetchFailed`
with a reason from `FAIL_REASONS`.

What "polite" means here, and why each rule exists:
- robots.txt is read once per origin per run (the flow keeps one fetcher) and obeyed,
  Crawl-delay included (RFC 9309: a 4xx robots.txt allows everything, a 5xx one disallows
  everything);
- per host, a minimum interval between request starts and a cap on concurrent requests, so a
  batch of 500 URLs from one outlet does not look like an attack;
- 408/429/5xx are retried with exponential backoff, and Retry-After is honoured (up to a cap:
  a server asking for an hour gets no retry in this run rather than a blocked worker);
- an identifiable User-Agent with a contact, so an operator can reach us instead of blocking us.

Safety: only http(s), no credentials in URLs, and every address is checked at connect time by
`_GuardedBackend` (the socket layer under httpx), so DNS rebinding and redirects to internal
addresses are refused where the connection is made. The same layer enforces an overall deadline
on every read: httpx's read timeout is per read, so a server dripping one byte a second would
otherwise hold a worker forever (trafilatura's downloader took 89 s on such a server).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import ssl
import threading
import time
import urllib.robotparser
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urldefrag, urljoin

import httpcore
import httpx

from tasks.urls import (
    AddressPolicy,
    Resolver,
    UrlError,
    canonicalize_url,
    host_key,
    origin_of,
    resolve_safely,
    system_resolver,
)
from tasks.decode import charset_from_content_type
from tasks.records import FetchFailed, Fetched, FetchKind, FetchRequest, FetchResult, RedirectHop
from warehouse.records import Reject, source_id_for
from warehouse.settings import FetchSettings


# The fixed vocabulary of FetchFailed.reason, plus http_<status> for other HTTP errors.
FAIL_REASONS = (
    "dns_error", "connect_error", "timeout", "http_404", "robots_disallowed", "too_large",
    "not_html", "not_xml", "redirect_loop", "too_many_redirects", "blocked_address",
    "bad_scheme", "bad_url", "credentials_in_url", "not_modified", "protocol_error",
    "fetch_error",
)

# Failed article fetches that a later run tries again, until the URL has failed
# DiscoverSettings.max_url_attempts fetches in all (warehouse Reads.known_urls; SQL LIKE
# patterns): failures that may pass (the site down, slow or throttling, a page a feed lists
# before it is published, robots.txt rules that change) and an address the fetch settings did
# not allow (the user may allow it since). What the page itself was (not HTML, too large, a
# redirect loop, and the extraction's rejects) is final.
RETRY_REASONS = ("dns_error", "connect_error", "timeout", "protocol_error", "fetch_error",
                 "robots_disallowed", "blocked_address", "http_404", "http_408", "http_429",
                 "http_5__")

ACCEPTED_TYPES: dict[FetchKind, frozenset[str]] = {
    "article": frozenset({"text/html", "application/xhtml+xml"}),
    "feed": frozenset({
        "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
        "text/xml", "application/x-rss+xml", "application/x-atom+xml", "text/plain",
    }),
    "sitemap": frozenset({
        "application/xml", "text/xml", "text/plain", "application/gzip", "application/x-gzip",
    }),
    "robots": frozenset(),  # any type: RFC 9309 asks for the file, whatever it is labelled
}
ACCEPT_HEADERS: dict[FetchKind, str] = {
    "article": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,"
            "*/*;q=0.1",
    "sitemap": "application/xml,text/xml;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
KEPT_HEADERS = ("content-type", "content-length", "content-encoding", "content-language",
                "etag", "last-modified", "date", "x-robots-tag", "cache-control")


def _retryable(status: int) -> bool:
    # 501/505 say the server will never do this; retrying them only adds load.
    return status in (408, 429) or (500 <= status <= 599 and status not in (501, 505))


class Fetcher(Protocol):
    """What flows and discovery need from HTTP: one URL, or a batch in input order."""

    def fetch(self, request: FetchRequest | str) -> FetchResult: ...

    def fetch_many(self, requests: Sequence[FetchRequest | str]) -> list[FetchResult]: ...


class _Fail(Exception):
    """Internal: ends a fetch with a reason; carries what the failure should still report."""

    def __init__(self, reason: str, detail: str = "", status: int | None = None,
                 headers: httpx.Headers | None = None) -> None:
        super().__init__(detail or reason)
        self.reason, self.detail, self.status, self.headers = reason, detail, status, headers


# ---------------------------------------------------------------- the guarded socket layer


class _Deadline(threading.local):
    """The current thread's deadline (time.monotonic seconds) for reads and connects."""

    at: float | None = None

    def remaining(self, timeout: float | None) -> float | None:
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("overall deadline exceeded")
        return left if timeout is None else min(timeout, left)


class _GuardedStream(httpcore.NetworkStream):
    """A socket stream whose every read and write respects the thread's overall deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname,
                                      self._deadline.remaining(timeout))
        return _GuardedStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves and checks addresses itself, then connects to a checked address only."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver, deadline: _Deadline) -> None:
        self._policy, self._resolver, self._deadline = policy, resolver, deadline
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        addresses = resolve_safely(host, port, self._policy, self._resolver)
        last_error: httpcore.ConnectError | None = None
        for address in addresses:  # connect to what we checked, never to a second DNS answer
            try:
                stream = self._sockets.connect_tcp(address, port, self._deadline.remaining(timeout),
                                                   local_address, socket_options)
            except httpcore.ConnectError as error:
                last_error = error
                continue
            return _GuardedStream(stream, self._deadline)
        raise last_error or httpcore.ConnectError(f"{host}:{port}: no address to connect to")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses `_GuardedBackend`.

    httpx has no public hook for the network backend, so the pool is rebuilt with one;
    httpx and httpcore are pinned, and test_fetch exercises this path on every run.
    """

    def __init__(self, backend: _GuardedBackend, max_connections: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            # certificates are always verified: no insecure retry after a TLS error
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


# ---------------------------------------------------------------- per-host politeness


@dataclass
class _HostGate:
    semaphore: threading.BoundedSemaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_start: float = 0.0


class HostGates:
    """Per-host concurrency cap and minimum interval between request starts.

    Each request reserves the next start time under a lock and sleeps outside it, so
    waiting threads queue in order instead of polling.
    """

    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._gates: dict[str, _HostGate] = {}
        self._lock = threading.Lock()

    def _gate(self, key: str) -> _HostGate:
        with self._lock:
            if key not in self._gates:
                self._gates[key] = _HostGate(threading.BoundedSemaphore(self._concurrency))
            return self._gates[key]

    @contextmanager
    def slot(self, key: str, interval: float) -> Iterator[None]:
        """Hold one of the host's slots, starting no sooner than `interval` after the last."""
        gate = self._gate(key)
        with gate.semaphore:
            with gate.lock:
                now = time.monotonic()
                start = max(now, gate.next_start)
                gate.next_start = start + interval
            if start > now:
                time.sleep(start - now)
            with gate.lock:  # a late wake-up (a loaded machine) must not shorten the next gap
                gate.next_start = max(gate.next_start, time.monotonic() + interval)
            yield

    def defer(self, key: str, delay: float) -> None:
        """Push the host's next start at least `delay` seconds away (Retry-After, backoff)."""
        gate = self._gate(key)
        with gate.lock:
            gate.next_start = max(gate.next_start, time.monotonic() + delay)


# ---------------------------------------------------------------- robots.txt


@dataclass
class RobotsRules:
    """What one origin's robots.txt says to us; `failure` is set when it could not be read."""

    parser: urllib.robotparser.RobotFileParser | None = None
    allow_all: bool = False
    disallow_all: bool = False
    crawl_delay: float | None = None
    failure: _Fail | None = None
    note: str = ""

    def allows(self, token: str, url: str) -> bool:
        if self.allow_all:
            return True
        if self.disallow_all or self.parser is None:
            return False
        return self.parser.can_fetch(token, url)


def parse_robots(text: str, token: str) -> RobotsRules:
    """Rules from a robots.txt body (the stdlib parser; Crawl-delay must be an integer there)."""
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(text.splitlines())
    parser.modified()  # can_fetch answers False until the parser believes it has read a file
    delay = parser.crawl_delay(token)
    return RobotsRules(parser=parser, crawl_delay=float(delay) if delay is not None else None)


# ---------------------------------------------------------------- the live fetcher


@dataclass
class _Trail:
    """What one fetch accumulates across retries and redirects."""

    url: str
    redirects: list[RedirectHop] = field(default_factory=list)
    attempts: int = 0


@dataclass
class _Response:
    status: int
    headers: httpx.Headers
    url: str
    body: bytes | None = None


class HttpFetcher:
    """The live Fetcher. One instance per run: it caches robots.txt and host state.

    `resolver` replaces DNS (tests); `ssl_context` replaces the certifi trust store (a private
    CA). Use as a context manager (or call close()) to release pooled connections.
    """

    def __init__(self, config: FetchSettings | None = None, resolver: Resolver = system_resolver,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config or FetchSettings()
        self._deadline = _Deadline()
        policy = AddressPolicy.from_entries(self.config.allowed_networks)
        backend = _GuardedBackend(policy, resolver, self._deadline)
        self._client = httpx.Client(
            transport=_GuardedTransport(backend, self.config.max_workers * 2, ssl_context),
            follow_redirects=False,
            trust_env=False,  # no proxies or netrc credentials from the environment
            timeout=httpx.Timeout(connect=self.config.connect_timeout_s,
                                  read=self.config.read_timeout_s,
                                  write=self.config.read_timeout_s,
                                  pool=self.config.total_timeout_s),
            headers={"User-Agent": self.config.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self._gates = HostGates(self.config.per_host_concurrency)
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._robots_lock = threading.Lock()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def fetch_many(self, requests: Sequence[FetchRequest | str]) -> list[FetchResult]:
        """Fetch a batch on a thread pool; results in input order, one per request."""
        if not requests:
            return []
        workers = min(self.config.max_workers, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            return list(pool.map(self.fetch, requests))

    def fetch(self, request: FetchRequest | str) -> FetchResult:
        """Fetch one URL; never raises."""
        request = FetchRequest(url=request) if isinstance(request, str) else request
        started, fetched_at = time.monotonic(), dt.datetime.now(dt.UTC)
        trail = _Trail(url=request.url)
        try:
            response = self._follow(request, trail)
        except _Fail as fail:
            return self._failed(request, trail, fail, started, fetched_at)
        except Exception as error:  # a bug here must not fail the batch; record it instead
            fail = _Fail("fetch_error", f"{type(error).__name__}: {error}")
            return self._failed(request, trail, fail, started, fetched_at)
        return self._fetched(request, trail, response, started, fetched_at)

    # -- one URL, following redirects

    def _follow(self, request: FetchRequest, trail: _Trail) -> _Response:
        url = _checked_url(request.url)
        seen = {url}
        while True:
            if request.kind != "robots":
                self._check_robots(url)
            response = self._exchange_with_retries(url, request, trail)
            if response.status not in REDIRECT_STATUSES:
                return _final(response)
            url = self._redirect_target(response, trail)
            if url in seen:
                raise _Fail("redirect_loop", f"{url} was already visited", response.status)
            if len(trail.redirects) > self.config.max_redirects:
                raise _Fail("too_many_redirects",
                            f"more than {self.config.max_redirects} redirects", response.status)
            seen.add(url)

    def _redirect_target(self, response: _Response, trail: _Trail) -> str:
        location = response.headers.get("location")
        if not location:
            raise _Fail(f"http_{response.status}", "redirect without Location", response.status)
        target = urldefrag(urljoin(response.url, location.strip())).url
        trail.redirects.append(RedirectHop(url=response.url, status=response.status,
                                           location=target))
        trail.url = target
        return _checked_url(target)

    def _exchange_with_retries(self, url: str, request: FetchRequest,
                               trail: _Trail) -> _Response:
        for attempt in range(self.config.max_retries + 1):
            trail.attempts += 1
            response = self._exchange(url, request)
            if not _retryable(response.status) or attempt == self.config.max_retries:
                return response
            self._gates.defer(host_key(url), self._retry_delay(response, attempt))
        raise AssertionError("unreachable")

    def _retry_delay(self, response: _Response, attempt: int) -> float:
        backoff = min(self.config.backoff_max_s, self.config.backoff_base_s * 2**attempt)
        wait = parse_retry_after(response.headers.get("retry-after"))
        if wait is not None and wait > self.config.retry_after_max_s:
            raise _Fail(f"http_{response.status}",
                        f"Retry-After of {wait:.0f}s exceeds the cap of "
                        f"{self.config.retry_after_max_s:.0f}s", response.status)
        return max(backoff, wait or 0.0)

    # -- one HTTP exchange

    def _exchange(self, url: str, request: FetchRequest) -> _Response:
        """One GET within the host's politeness slot and the overall deadline."""
        interval = max(self.config.per_host_interval_s, self._crawl_delay(url))
        with self._gates.slot(host_key(url), interval):
            deadline = self._deadline.at = time.monotonic() + self.config.total_timeout_s
            try:
                with _mapped_errors(), self._client.stream(
                        "GET", url, headers=self._headers(request)) as stream:
                    return self._read(stream, url, request.kind)
            except _Fail as fail:
                if fail.reason == "timeout" and time.monotonic() >= deadline:
                    fail.detail = f"overall deadline of {self.config.total_timeout_s:g}s exceeded"
                raise
            finally:
                self._deadline.at = None

    def _headers(self, request: FetchRequest) -> dict[str, str]:
        headers = {"Accept": ACCEPT_HEADERS[request.kind]}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        return headers

    def _read(self, stream: httpx.Response, url: str, kind: FetchKind) -> _Response:
        response = _Response(stream.status_code, stream.headers, url)
        if not 200 <= stream.status_code < 300:
            return response  # no body needed: redirects, 304 and errors end here
        media_type = _media_type(stream.headers.get("content-type"))
        accepted = ACCEPTED_TYPES[kind]
        if accepted and media_type is not None and media_type not in accepted:
            raise _Fail(_wrong_type_reason(kind), f"content type {media_type}", stream.status_code)
        limit = self.config.robots_max_bytes if kind == "robots" else self.config.max_bytes
        response.body = _read_capped(stream, limit, truncate=kind == "robots")
        if accepted and media_type is None and not _sniff_accepts(response.body, kind):
            raise _Fail(_wrong_type_reason(kind), "no content type and the body does not look "
                        f"like {'HTML' if kind == 'article' else 'XML'}", stream.status_code)
        return response

    # -- robots.txt

    def _check_robots(self, url: str) -> None:
        if not self.config.obey_robots:
            return
        rules = self._rules_for(origin_of(url))
        if rules.failure is not None:
            raise _Fail(rules.failure.reason, f"{rules.failure.detail} (fetching robots.txt)")
        if not rules.allows(self.config.robots_token, url):
            raise _Fail("robots_disallowed", rules.note or "robots.txt disallows this path")

    def _crawl_delay(self, url: str) -> float:
        rules = self._robots.get(origin_of(url))
        if rules is None or rules.crawl_delay is None:
            return 0.0
        return min(rules.crawl_delay, self.config.max_crawl_delay_s)

    def _rules_for(self, origin: str) -> RobotsRules:
        with self._robots_lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:  # one robots.txt request per origin, however many threads ask
            if origin not in self._robots:
                self._robots[origin] = self._read_robots(origin)
            return self._robots[origin]

    def _read_robots(self, origin: str) -> RobotsRules:
        result = self.fetch(FetchRequest(url=f"{origin}/robots.txt", kind="robots"))
        if isinstance(result, Fetched):
            return parse_robots(result.body.decode("utf-8", errors="replace"),
                                self.config.robots_token)
        status = result.status or 0
        if 400 <= status < 500 and status != 429:
            return RobotsRules(allow_all=True)  # RFC 9309 §2.3.1.3: unavailable → allowed
        if status >= 400 or result.reason in ("too_many_redirects", "redirect_loop"):
            return RobotsRules(disallow_all=True,  # §2.3.1.4: unreachable → disallowed
                               note=f"robots.txt unreachable ({result.reason}): "
                                    "the whole site counts as disallowed")
        return RobotsRules(failure=_Fail(result.reason, result.detail))

    # -- results

    def _fetched(self, request: FetchRequest, trail: _Trail, response: _Response,
                 started: float, fetched_at: dt.datetime) -> Fetched:
        content_type = response.headers.get("content-type")
        return Fetched(
            url=request.url, final_url=response.url, status=response.status,
            content_type=_media_type(content_type),
            charset=charset_from_content_type(content_type),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            headers=_kept_headers(response.headers), body=response.body or b"",
            redirects=trail.redirects, elapsed_s=time.monotonic() - started,
            fetched_at=fetched_at, attempts=trail.attempts,
        )

    def _failed(self, request: FetchRequest, trail: _Trail, fail: _Fail, started: float,
                fetched_at: dt.datetime) -> FetchFailed:
        headers = fail.headers or httpx.Headers()
        return FetchFailed(
            url=request.url, reason=fail.reason, detail=fail.detail, status=fail.status,
            final_url=trail.url, etag=headers.get("etag") or request.etag,
            last_modified=headers.get("last-modified") or request.last_modified,
            redirects=trail.redirects, elapsed_s=time.monotonic() - started,
            fetched_at=fetched_at, attempts=trail.attempts,
        )


def _checked_url(url: str) -> str:
    """The URL to request (fragment dropped) once it passes the scheme and credential checks."""
    try:
        canonicalize_url(url)
    except UrlError as error:
        raise _Fail(error.reason, error.detail) from None
    return urldefrag(url.strip()).url


def _final(response: _Response) -> _Response:
    """A non-redirect response that is not 2xx becomes the matching failure."""
    if response.status == 304:
        raise _Fail("not_modified", "the stored copy is current", 304, response.headers)
    if not 200 <= response.status < 300:
        raise _Fail(f"http_{response.status}", "", response.status)
    return response


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """httpx and address errors → the failure vocabulary."""
    try:
        yield
    except UrlError as error:
        raise _Fail(error.reason, error.detail) from None
    except httpx.TimeoutException as error:
        raise _Fail("timeout", f"{type(error).__name__}: {error}") from None
    except (httpx.ConnectError, httpx.ReadError, httpx.WriteError) as error:
        raise _Fail("connect_error", str(error) or type(error).__name__) from None
    except (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError) as error:
        raise _Fail("protocol_error", str(error) or type(error).__name__) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise _Fail("bad_url", str(error)) from None


def _read_capped(stream: httpx.Response, limit: int, truncate: bool) -> bytes:
    """The decoded body, aborting (or truncating) once it passes `limit` bytes."""
    declared = stream.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and not truncate:
        raise _Fail("too_large", f"Content-Length {declared} > limit of {limit}", 200)
    chunks: list[bytes] = []
    size = 0
    for chunk in stream.iter_bytes(chunk_size=65_536):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            if truncate:
                return b"".join(chunks)[:limit]
            raise _Fail("too_large", f"body passed the limit of {limit} bytes", stream.status_code)
    return b"".join(chunks)


def _media_type(content_type: str | None) -> str | None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media or None


def _wrong_type_reason(kind: FetchKind) -> str:
    return "not_html" if kind == "article" else "not_xml"


def _sniff_accepts(body: bytes, kind: FetchKind) -> bool:
    head = body[:1024].lstrip().lower()
    if kind == "article":
        return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head
    return head.startswith((b"<?xml", b"<rss", b"<feed", b"<urlset", b"<sitemapindex", b"\x1f\x8b"))


def _kept_headers(headers: httpx.Headers) -> dict[str, str]:
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}


def parse_retry_after(value: str | None, now: Callable[[], dt.datetime] | None = None
                      ) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = now() if now else dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())


def reject_for(result: FetchFailed, locator: str | None = None, stage: str = "fetch"
               ) -> Reject | None:
    """The `rejects` row of a failed fetch; None for not_modified, which is not a failure."""
    if result.reason == "not_modified":
        return None
    locator = locator or result.url
    detail = result.detail or (f"HTTP {result.status}" if result.status else "")
    return Reject(source_id=source_id_for(locator), locator=locator, content_hash=None,
                  stage=stage, reason=result.reason, detail=detail)
