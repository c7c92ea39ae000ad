"""URLs: canonical form, scheme and credential checks, and the address safety check.

The same article reached under two addresses (tracking parameters, upper-case host, a default
port, a fragment) must be one source, so every URL the pipeline keeps goes through
`canonicalize_url` first. `check_addresses` is the guard against server-side request forgery:
a URL found in a feed must not make us fetch from the machine's own network. The fetcher calls it
at connect time, on the very address it connects to, so a second DNS answer cannot slip past.
`redact_url` hides what a URL may carry that is not ours to keep (a user name and password, a
token in the query) wherever a URL is stored or logged; the fetcher still uses the URL as given.

Pure functions; DNS resolution is injected (`Resolver`) so tests never touch the network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import (
    parse_qsl,
    quote,
    unquote,
    unquote_plus,
    urlencode,
    urljoin,
    urlsplit,
    urlunsplit,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that identify a click, a campaign or a mailing, never the page itself.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
    "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "ref_src", "ref_url", "_ga", "_gl",
    "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv",
    "rb_clickid", "s_cid", "wt_mc", "cmpid", "ocid", "ncid", "sr_share", "at_medium",
    "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")

# Characters left as they are in a path; everything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_HOST_CHARS = re.compile(r"[a-z0-9_.-]+|[0-9a-f:.]+")  # a DNS name or an IPv6 literal
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

REDACTED = "***"
# Query (and fragment) parameters that carry a credential, compared lower-case with '-' and '.'
# read as '_'; any name ending in `_SECRET_SUFFIXES` counts too (x_api_key, oauth_token).
SECRET_PARAMS = frozenset({
    "token", "access_token", "refresh_token", "id_token", "auth_token", "api_token",
    "private_token", "api_key", "apikey", "key", "access_key", "secret_key", "secret",
    "client_secret", "password", "passwd", "pwd", "pass", "sig", "signature", "auth",
    "authorization", "session", "sessionid", "session_id", "jsessionid", "phpsessid",
    "x_amz_signature", "x_amz_credential", "x_amz_security_token", "x_goog_signature",
    "x_goog_credential",
})
_SECRET_SUFFIXES = ("token", "secret", "password", "passwd", "signature", "credential",
                    "api_key", "apikey", "access_key", "secret_key", "sessionid", "session_id")
# scheme://authority, then path, query and fragment (RFC 3986 appendix B, on the raw text, so
# that redaction changes nothing but the secrets); also a scheme-relative //authority.
_URL_SHAPE = re.compile(
    r"(?P<lead>\s*)(?P<scheme>(?:[A-Za-z][A-Za-z0-9+.-]*:)?//)(?P<authority>[^/?#]*)"
    r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?", re.DOTALL)
# A URL inside free text (an error message): a scheme, '://', and up to a space or a quote,
# less the punctuation that ends a sentence or a parenthesis. The scheme's length is capped so
# that a long run of letters cannot make the search quadratic.
_URL_IN_TEXT = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]")


class UrlError(ValueError):
    """A URL the pipeline will not fetch; `reason` is a short code from the reject vocabulary."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track the visitor (utm_*, fbclid, gclid, ...)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str, base: str | None = None) -> str:
    """The canonical form of an http(s) URL; raises UrlError(bad_url|bad_scheme|credentials_in_url).

    Lower-case scheme and host (IDNA for non-ASCII hosts), no default port, no fragment, no
    tracking parameters, remaining parameters sorted, dot segments removed, escapes normalised.
    `base` resolves a relative URL (a feed's item link, a redirect's Location).
    """
    raw = (url or "").strip()
    if base:
        raw = urljoin(base, raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as error:
        raise UrlError("bad_url", str(error)) from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UrlError("bad_scheme", f"scheme '{scheme or '(none)'}' is not http or https")
    if parts.username is not None or parts.password is not None:
        raise UrlError("credentials_in_url", "user name or password in the URL")
    host = normalize_host(parts.hostname or "")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path, query = normalize_path(parts.path), normalize_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def normalize_host(host: str) -> str:
    """Lower-case host without a trailing dot, IDNA-encoded; raises UrlError for an empty host."""
    host = host.strip().rstrip(".").lower()
    if not host:
        raise UrlError("bad_url", "no host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise UrlError("bad_url", f"host is not valid IDNA: {error}") from None
    if not _HOST_CHARS.fullmatch(host):
        raise UrlError("bad_url", f"invalid host '{host}'")
    return host


def normalize_path(path: str) -> str:
    """Path with dot segments removed and percent-escapes normalised ('' becomes '/')."""
    resolved = remove_dot_segments(path if path.startswith("/") else "/" + path)
    return quote(_decode_unreserved(resolved), safe=_PATH_SAFE)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path: '/a/./b/../c' → '/a/c'; empty segments are kept."""
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        elif segment == ".":
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def normalize_query(query: str) -> str:
    """Query without tracking parameters, the rest sorted by name then value."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = sorted((name, value) for name, value in pairs if not is_tracking_param(name))
    return urlencode(kept, quote_via=quote)


def _decode_unreserved(text: str) -> str:
    # '%7E' and '~' name the same resource (RFC 3986 §6.2.2.2); other escapes keep their
    # meaning ('%2F' is not '/'), so they stay encoded, upper-cased.
    def fix(match: re.Match[str]) -> str:
        char = unquote(match.group(0))
        return char if char in _UNRESERVED else match.group(0).upper()

    return _PERCENT_ESCAPE.sub(fix, text)


def check_url(url: str) -> str | None:
    """The reject reason for a URL we must not fetch (bad_url, bad_scheme, credentials_in_url)."""
    try:
        canonicalize_url(url)
    except UrlError as error:
        return error.reason
    return None


def is_secret_param(name: str) -> bool:
    """True for query parameters whose value is a credential (token, api_key, sig, pwd, ...)."""
    lowered = unquote_plus(name).strip().lower().replace("-", "_").replace(".", "_")
    return lowered in SECRET_PARAMS or lowered.endswith(_SECRET_SUFFIXES)


def redact_url(url: str) -> str:
    """`url` as it may be stored or logged: user info replaced by ***, the values of secret
    query (and fragment) parameters by ***, every other character as it was. A string that is
    not a URL with an authority (//host) is returned unchanged.

    Not for fetching, nor for identity: the fetcher needs the real URL, and source and document
    ids are computed from it before a row is redacted.
    """
    match = _URL_SHAPE.fullmatch(url)
    if match is None:
        return url
    lead, scheme, authority, path, query, fragment = match.group(
        "lead", "scheme", "authority", "path", "query", "fragment")
    if "@" in authority:
        authority = f"{REDACTED}@{authority.rsplit('@', 1)[1]}"
    redacted = f"{lead}{scheme}{authority}{path}"
    if query is not None:
        redacted += "?" + _redact_params(query)
    if fragment is not None:
        # OAuth's implicit flow returns `#access_token=...`: a fragment can hold a secret too.
        redacted += "#" + _redact_params(fragment)
    return redacted


def _redact_params(query: str) -> str:
    return "&".join(_redact_pair(pair) for pair in query.split("&"))


def _redact_pair(pair: str) -> str:
    # Some servers also split on ';': from the first secret name on, the rest of the pair is
    # hidden, so 'a=1;token=x;y' leaks neither x nor y.
    offset = 0
    for piece in pair.split(";"):
        name, equals, value = piece.partition("=")
        if equals and value and is_secret_param(name):
            return pair[: offset + len(name) + 1] + REDACTED
        offset += len(piece) + 1
    return pair


def redact_text(text: str) -> str:
    """Free text (an error message, a reject's detail) with every URL in it redacted."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def redact_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """A run's parameters as they may be stored: every URL in a string, a list or a nested
    dict redacted (`redact_url`); keys, numbers and other values as they were."""
    return {name: _redact_value(value) for name, value in parameters.items()}


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(redact_url(value))
    if isinstance(value, dict):
        return {name: _redact_value(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


def host_key(url: str) -> str:
    """The politeness key of a URL: host[:port], shared by its http and https forms."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: the scope of one robots.txt (RFC 9309)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower().rsplit('@', 1)[-1]}"


@dataclass(frozen=True)
class AddressPolicy:
    """Which non-public destinations are allowed anyway (tests allow 127.0.0.1).

    `allowed` holds host names ("intranet.example"), addresses ("127.0.0.1") or networks
    ("10.0.0.0/8"); everything else must resolve to public unicast addresses only.
    """

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AddressPolicy:
        """Split a settings list into host names and networks; raises ValueError for junk."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(normalize_host(entry))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, address: IPAddress) -> bool:
        """True when the address is in an allowed network (an IPv4-mapped IPv6 address counts
        as its IPv4 address: the connection goes there)."""
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return any(candidate in network for network in self.allowed_networks
                   for candidate in (address, mapped) if candidate is not None)


# Not globally routable, though some Python versions call them global: 3.11's `is_global`
# passes the deprecated site-local fec0::/10 (RFC 3879), which sites still route internally,
# and predates the documentation block 3fff::/20 (RFC 9637), SRv6 SIDs 5f00::/16 (RFC 9602)
# and local-use NAT64 64:ff9b:1::/48 (RFC 8215).
NOT_GLOBAL_NETWORKS: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(network) for network in (
    "fec0::/10", "3fff::/20", "5f00::/16", "64:ff9b:1::/48",
))


def is_public_address(address: IPAddress) -> bool:
    """True for globally routable unicast addresses only (`is_global`, less the blocks in
    NOT_GLOBAL_NETWORKS); false for private, loopback, link-local, site-local, multicast,
    reserved, unspecified, documentation and shared (CGNAT) space. An IPv4-mapped IPv6 address
    is judged as its IPv4 address; a 6to4 or Teredo address needs its IPv4 address public too."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and not is_public_address(embedded):
            return False
    return address.is_global and not (
        any(address in network for network in NOT_GLOBAL_NETWORKS)
        or address.is_private or address.is_loopback or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified
    )


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for host (raises OSError when it fails)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_addresses(host: str, addresses: Sequence[str], policy: AddressPolicy) -> list[str]:
    """The addresses of `host` we may connect to; raises UrlError(blocked_address) when any is not.

    Every address must pass: a host that resolves to one public and one private address is
    refused, because we cannot know which one the next connection will use.
    """
    if normalize_host(host) in policy.allowed_hosts:
        return list(addresses)
    if not addresses:
        raise UrlError("dns_error", f"{host} has no addresses")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        if not (is_public_address(address) or policy.allows(address)):
            raise UrlError("blocked_address", f"{host} resolves to non-public {address}"
                           " (CORPUSFLOW_ALLOWED_NETWORKS may allow it)")
    return list(addresses)


def resolve_safely(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver = system_resolver
) -> list[str]:
    """Resolve host and check every address; raises UrlError(dns_error|blocked_address)."""
    try:
        addresses = resolver(host, port)
    except OSError as error:
        raise UrlError("dns_error", f"{host}: {error}") from None
    return check_addresses(host, addresses, policy)


@dataclass
class StaticResolver:
    """A resolver for tests: fixed host → addresses, unknown names fail like NXDOMAIN."""

    table: dict[str, list[str]] = field(default_factory=dict)

    def __call__(self, host: str, port: int) -> list[str]:
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        if host.lower() not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host.lower()])
