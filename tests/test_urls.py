"""Table tests for tasks/urls.py: canonical form, refused URLs, the address safety check and
redaction of credentials in URLs."""

from __future__ import annotations

import ipaddress

import pytest

from tasks.urls import (
    AddressPolicy,
    StaticResolver,
    UrlError,
    canonicalize_url,
    check_addresses,
    check_url,
    host_key,
    is_public_address,
    is_secret_param,
    is_tracking_param,
    origin_of,
    redact_parameters,
    redact_text,
    redact_url,
    resolve_safely,
)

CANONICAL = [
    # (input, canonical form)
    ("HTTP://Example.COM/News", "http://example.com/News"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com/a#section-2", "http://example.com/a"),
    ("http://example.com/a?utm_source=rss&utm_medium=feed", "http://example.com/a"),
    ("http://example.com/a?id=7&fbclid=IwAR0&gclid=x&mc_cid=1&mc_eid=2&ref_src=twsrc",
     "http://example.com/a?id=7"),
    ("http://example.com/a?UTM_Campaign=spring&id=7", "http://example.com/a?id=7"),
    ("http://example.com/a?b=2&a=1&a=0", "http://example.com/a?a=0&a=1&b=2"),
    ("http://example.com/a?q=two+words", "http://example.com/a?q=two%20words"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/a/b/..", "http://example.com/a/"),
    ("http://example.com/%7euser/%2Fslash", "http://example.com/~user/%2Fslash"),
    ("http://example.com/caf%c3%a9", "http://example.com/caf%C3%A9"),
    ("http://example.com/café", "http://example.com/caf%C3%A9"),
    ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://example.com./a", "http://example.com/a"),
    ("  http://example.com/a  ", "http://example.com/a"),
    ("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonical_form(url: str, expected: str) -> None:
    assert canonicalize_url(url) == expected


def test_canonical_form_is_stable() -> None:
    for url, expected in CANONICAL:
        assert canonicalize_url(expected) == expected, url


def test_relative_links_resolve_against_a_base() -> None:
    assert (canonicalize_url("../b?utm_source=x", base="https://example.com/news/a/")
            == "https://example.com/news/b")


REFUSED = [
    ("ftp://example.com/file", "bad_scheme"),
    ("javascript:alert(1)", "bad_scheme"),
    ("mailto:desk@example.com", "bad_scheme"),
    ("file:///etc/passwd", "bad_scheme"),
    ("example.com/no-scheme", "bad_scheme"),
    ("http://user:secret@example.com/", "credentials_in_url"),
    ("https://token@example.com/", "credentials_in_url"),
    ("http:///path-only", "bad_url"),
    ("http://example.com:99999/", "bad_url"),
    ("http://exa mple.com/", "bad_url"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refused_urls(url: str, reason: str) -> None:
    with pytest.raises(UrlError) as caught:
        canonicalize_url(url)
    assert caught.value.reason == reason
    assert check_url(url) == reason


@pytest.mark.parametrize(("name", "tracking"), [
    ("utm_source", True), ("utm_whatever", True), ("fbclid", True), ("GCLID", True),
    ("mc_cid", True), ("mc_eid", True), ("ref_src", True), ("id", False), ("page", False),
    ("ref", False), ("q", False),
])
def test_tracking_params(name: str, tracking: bool) -> None:
    assert is_tracking_param(name) is tracking


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ("127.0.0.1", False), ("127.8.8.8", False), ("10.1.2.3", False), ("172.16.0.1", False),
    ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
    ("0.0.0.0", False), ("224.0.0.1", False), ("240.0.0.1", False), ("255.255.255.255", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fc00::1", False), ("ff02::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("2002:7f00:1::", False),
    ("::ffff:8.8.8.8", True),
    # Only globally routable space passes (Python 3.11's is_global alone lets fec0::/10 by).
    ("fec0::1", False),  # site-local, deprecated but still routed inside sites
    ("fec0:1:2::3", False), ("feff:ffff::1", False),  # the far end of fec0::/10
    ("2001:db8::1", False),  # documentation
    ("3fff::1", False),  # documentation, RFC 9637
    ("192.0.2.1", False), ("198.51.100.7", False), ("203.0.113.9", False),  # TEST-NETs
    ("198.18.0.1", False),  # benchmarking
    ("64:ff9b::a00:1", False), ("64:ff9b:1::1", False),  # NAT64 to 10.0.0.1; local NAT64
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", False),  # Teredo, whatever its client address
    ("2002:808:808::1", True),  # 6to4 of a public IPv4 address
    ("::127.0.0.1", False),  # IPv4-compatible (deprecated)
    ("1.1.1.1", True), ("2a00:1450:4001:80b::200e", True),
])
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize("address", [
    "fec0::1", "fe80::1", "fc00::1", "100.64.0.1", "192.0.2.1", "::ffff:127.0.0.1", "2001:db8::1",
])
def test_non_global_addresses_are_blocked_unless_allowed(address: str) -> None:
    with pytest.raises(UrlError) as caught:
        check_addresses("news.example", [address], AddressPolicy())
    assert caught.value.reason == "blocked_address"
    allowed = AddressPolicy.from_entries([address.removeprefix("::ffff:")])
    assert check_addresses("news.example", [address], allowed) == [address]


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111"])
def test_global_addresses_pass_without_opt_in(address: str) -> None:
    assert check_addresses("news.example", [address], AddressPolicy()) == [address]


def test_opt_in_lets_loopback_through_and_nothing_else() -> None:
    policy = AddressPolicy.from_entries(["127.0.0.1"])
    assert check_addresses("127.0.0.1", ["127.0.0.1"], policy) == ["127.0.0.1"]
    for other in ("127.0.0.2", "::1", "fec0::1"):
        with pytest.raises(UrlError):
            check_addresses("127.0.0.1", [other], policy)


RESOLVER = StaticResolver({
    "news.example": ["93.184.216.34"],
    "split.example": ["93.184.216.34", "10.0.0.7"],  # one public, one private answer
    "intranet.example": ["10.0.0.8"],
    "v6.example": ["2606:4700:4700::1111"],
})


@pytest.mark.parametrize(("host", "allowed", "outcome"), [
    ("news.example", (), "ok"),
    ("v6.example", (), "ok"),
    ("127.0.0.1", (), "blocked_address"),
    ("intranet.example", (), "blocked_address"),
    ("split.example", (), "blocked_address"),
    ("127.0.0.1", ("127.0.0.1",), "ok"),
    ("intranet.example", ("10.0.0.0/8",), "ok"),
    ("intranet.example", ("intranet.example",), "ok"),
    ("intranet.example", ("10.0.0.9",), "blocked_address"),
    ("missing.example", (), "dns_error"),
])
def test_address_check(host: str, allowed: tuple[str, ...], outcome: str) -> None:
    policy = AddressPolicy.from_entries(allowed)
    if outcome == "ok":
        assert resolve_safely(host, 80, policy, RESOLVER)
        return
    with pytest.raises(UrlError) as caught:
        resolve_safely(host, 80, policy, RESOLVER)
    assert caught.value.reason == outcome


def test_host_and_origin_keys() -> None:
    assert host_key("https://News.Example:8443/a") == "news.example:8443"
    assert host_key("http://news.example/a") == host_key("https://news.example/b")
    assert origin_of("HTTPS://News.Example:8443/a?b") == "https://news.example:8443"


REDACTED = [
    # (as given, as stored or logged)
    ("https://user:pass@news.example/a?id=7", "https://***@news.example/a?id=7"),
    ("https://ghp_token123@github.com/o/r", "https://***@github.com/o/r"),
    ("http://a:b@c@news.example:8080/x", "http://***@news.example:8080/x"),
    ("http://news.example/a?token=SECRET&id=7", "http://news.example/a?token=***&id=7"),
    ("http://news.example/a?id=7&Access_Token=abc#top",
     "http://news.example/a?id=7&Access_Token=***#top"),
    ("http://n.example/?api_key=1&apikey=2&key=3&secret=4&client_secret=5",
     "http://n.example/?api_key=***&apikey=***&key=***&secret=***&client_secret=***"),
    ("http://n.example/?password=1&passwd=2&pwd=3&sig=4&signature=5&auth=6",
     "http://n.example/?password=***&passwd=***&pwd=***&sig=***&signature=***&auth=***"),
    ("http://n.example/?session=1&SessionId=2&x-api-key=3&oauth_token=4",
     "http://n.example/?session=***&SessionId=***&x-api-key=***&oauth_token=***"),
    ("https://b.example/k?X-Amz-Date=20240101&X-Amz-Credential=AK%2F2024&X-Amz-Signature=ab12",
     "https://b.example/k?X-Amz-Date=20240101&X-Amz-Credential=***&X-Amz-Signature=***"),
    ("http://n.example/?api%5Fkey=zz&q=two+words", "http://n.example/?api%5Fkey=***&q=two+words"),
    ("http://n.example/?a=1;token=x;y&b=2", "http://n.example/?a=1;token=***&b=2"),
    ("http://n.example/cb#access_token=abc&state=1",
     "http://n.example/cb#access_token=***&state=1"),
    ("//u:p@n.example/x?sig=1", "//***@n.example/x?sig=***"),
    ("  http://u:p@n.example/  ", "  http://***@n.example/  "),
    ("ftp://u:p@files.example/f", "ftp://***@files.example/f"),
    # nothing secret: byte for byte as given, not canonicalised
    ("HTTP://News.Example:80/a/../b?utm_source=x&b=2&a=1#f",
     "HTTP://News.Example:80/a/../b?utm_source=x&b=2&a=1#f"),
    ("http://n.example/a?keyword=news&monkey=1&token=&id",
     "http://n.example/a?keyword=news&monkey=1&token=&id"),
    ("http://[2001:db8::1]:8080/x?q=%41", "http://[2001:db8::1]:8080/x?q=%41"),
    ("http://n.example/p@th/with@signs", "http://n.example/p@th/with@signs"),
    # not a URL with a host: unchanged
    ("/inbox/2024/a.html", "/inbox/2024/a.html"),
    ("mailto:desk@news.example?token=x", "mailto:desk@news.example?token=x"),
    ("(empty link)", "(empty link)"),
    ("", ""),
]


@pytest.mark.parametrize(("url", "expected"), REDACTED)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert redact_url(expected) == expected  # redacting twice changes nothing more


def test_redaction_leaves_canonical_form_and_fetching_alone() -> None:
    # Identity comes from the URL as given: redaction happens after, on a copy.
    url = "https://news.example/a?token=SECRET&id=7"
    assert canonicalize_url(url) == "https://news.example/a?id=7&token=SECRET"
    assert redact_url(canonicalize_url(url)) == "https://news.example/a?id=7&token=***"


@pytest.mark.parametrize(("name", "secret"), [
    ("token", True), ("ACCESS_TOKEN", True), ("X-Amz-Signature", True), ("sessionid", True),
    ("page_token", True), ("id", False), ("page", False), ("keyword", False), ("q", False),
    ("utm_source", False), ("sort", False),
])
def test_secret_params(name: str, secret: bool) -> None:
    assert is_secret_param(name) is secret


def test_redact_text_redacts_every_url_in_a_message() -> None:
    message = ("fetch_error: Invalid URL 'http://u:p@n.example/x?token=S': see "
               "https://n.example/b?api_key=K, then (http://n.example/?sig=Z). "
               "http://ok.example/x.")
    assert redact_text(message) == (
        "fetch_error: Invalid URL 'http://***@n.example/x?token=***': see "
        "https://n.example/b?api_key=***, then (http://n.example/?sig=***). "
        "http://ok.example/x.")
    assert redact_text("user name or password in the URL") == "user name or password in the URL"


def test_redact_parameters_walks_lists_and_dicts() -> None:
    parameters = {
        "urls": ["http://u:p@n.example/a", "http://n.example/b?token=T", "http://n.example/c"],
        "url_file": "/lists/today.txt", "feeds": [], "batch_size": 100, "url": None,
        "nested": {"sitemaps": ["//u:p@n.example/s.xml"], "note": "from http://n.example/?sig=S"},
    }
    assert redact_parameters(parameters) == {
        "urls": ["http://***@n.example/a", "http://n.example/b?token=***", "http://n.example/c"],
        "url_file": "/lists/today.txt", "feeds": [], "batch_size": 100, "url": None,
        "nested": {"sitemaps": ["//***@n.example/s.xml"], "note": "from http://n.example/?sig=***"},
    }
    assert parameters["urls"][0] == "http://u:p@n.example/a"  # the run still uses the real URLs
