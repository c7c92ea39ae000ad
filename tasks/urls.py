"""URLs: canonical form, scheme and credential checks, and the address safety check.

The same article reached under two addresses (tracking parameters, upper-case host, a default
port, a fragment) must be one source, so every URL the pipeline keeps goes through
`canonicalize_url` first. `check_addresses` is the guard against server-side request forgery:
a URL found in a feed must not make us fetch from the machine's own network. The fetcher calls it
at connect time, on the very address it connects to, so a second DNS answer cannot slip past.

Pure functions; DNS resolution is injected (`Resolver`) so tests never touch the network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

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
        """True when the address is in an allowed network."""
        return any(address in network for network in self.allowed_networks)


def is_public_address(address: IPAddress) -> bool:
    """True for global unicast addresses; false for private, loopback, link-local, multicast,
    reserved, unspecified and shared (CGNAT) space, including IPv4 hidden in IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local
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
            raise UrlError("blocked_address", f"{host} resolves to non-public {address}")
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
