"""Table tests for tasks/urls.py: canonical form, refused URLs and the address safety check."""

from __future__ import annotations

import ipaddress

import pytest

from tasks.urls import (
    AddressPolicy,
    StaticResolver,
    UrlError,
    canonicalize_url,
    check_url,
    host_key,
    is_public_address,
    is_tracking_param,
    origin_of,
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
])
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


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
