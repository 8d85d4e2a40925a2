"""The URL guard's rules, without a database or the network (resolvers are injected).

Delivery through the guarded client (connect-time checks, DNS rebinding) is
tested against a real receiver in tests/test_webhooks.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import httpx
import pytest

from voxie_app.services import url_guard
from voxie_app.services.url_guard import AllowList, URLRefused, check_url
from voxie_app.settings import Settings

NOTHING = AllowList()


def no_dns(host: str) -> list[str]:
    return []


REFUSED = [
    # IPv4 loopback, private, link-local, CGNAT, unspecified, multicast, reserved
    "127.0.0.1",
    "127.255.0.9",
    "10.0.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "192.0.2.10",
    # metadata
    "169.254.169.254",
    "169.254.170.2",
    "100.100.100.200",
    "192.0.0.192",
    "[fd00:ec2::254]",
    "metadata.google.internal",
    "metadata",
    "metadata.goog",
    "instance-data",
    "localhost",
    "app.localhost",
    "printer.local",
    # numeric spellings of loopback
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "0x7f.1",
    "127.0.0.1.",
    "LOCALHOST.",
    # IPv6
    "[::1]",
    "[::]",
    "[fc00::1]",
    "[fe80::1]",
    "[fec0::1]",
    "[ff02::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:10.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[2002:a9fe:a9fe::]",  # 6to4 of 169.254.169.254
    "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
    "[64:ff9b:1::1]",  # local-use NAT64
    "[::7f00:1]",  # IPv4-compatible (deprecated)
    "[2001:db8::1]",  # documentation
]


@pytest.mark.parametrize("host", REFUSED)
def test_internal_hosts_are_refused(host: str) -> None:
    with pytest.raises(URLRefused) as caught:
        check_url(f"http://{host}:8080/x", allow=NOTHING, resolver=no_dns)
    assert caught.value.field == "url"
    assert "VOXIE_URL_ALLOWLIST" in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/x",
        "https://1.1.1.1:8443/x",
        "https://[2606:4700::1111]/x",
        "https://[::ffff:8.8.8.8]/x",
        "https://example.com/hook?x=1",
        "https://hooks.Example.COM./x",
    ],
)
def test_public_urls_pass(url: str) -> None:
    assert check_url(url, allow=NOTHING, resolver=no_dns).hostname


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "example.com/x",
        "http://",
        "https://user:pw@example.com/x",
        "http://example.com@127.0.0.1/x",
        "https://example.com/a b",
        "https://example.com\\@127.0.0.1/",
        "https://example.com:99999/x",
        "http://1.2.3.999/x",
        "http://[fe80::1%25eth0]/x",
        "http://%31%32%37.0.0.1/x",
        "http://a..b/x",
        "https://x.com/" + "a" * 2000,
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(URLRefused):
        check_url(url, allow=NOTHING, resolver=no_dns)


def test_names_are_resolved_and_every_answer_checked() -> None:
    answers = {
        "public.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
        "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
        "mapped.example.com": ["::ffff:192.168.0.1"],
        "meta.example.com": ["169.254.169.254"],
    }
    resolver = answers.__getitem__
    assert check_url("https://public.example.com/x", allow=NOTHING, resolver=resolver)
    for name in ("mixed", "mapped", "meta"):
        with pytest.raises(URLRefused) as caught:
            check_url(f"https://{name}.example.com/x", allow=NOTHING, resolver=resolver)
        assert f"{name}.example.com" in caught.value.message


def test_a_name_that_does_not_resolve_passes_at_save_time_only() -> None:
    def failing(host: str) -> list[str]:
        raise OSError("Name or service not known")

    assert check_url("https://not-yet.example.com/x", allow=NOTHING, resolver=failing)
    with pytest.raises(URLRefused):
        url_guard.check_host(
            "not-yet.example.com", allow=NOTHING, resolver=failing, require_resolved=True
        )


def test_the_allow_list_permits_hosts_and_networks() -> None:
    allow = AllowList.parse(" 127.0.0.1 , 10.20.0.0/16,[::1], Hooks.Internal. ,, fd00::/8")
    assert allow.hosts == {"hooks.internal"}
    for url in (
        "http://127.0.0.1:9000/x",
        "http://10.20.3.4/x",
        "http://[::1]/x",
        "http://hooks.internal/x",
        "http://[fd12::5]/x",
    ):
        assert check_url(url, allow=allow, resolver=no_dns)
    for url in ("http://127.0.0.2/x", "http://10.21.0.1/x", "http://169.254.169.254/"):
        with pytest.raises(URLRefused):
            check_url(url, allow=allow, resolver=no_dns)
    # A listed address allows a name that resolves to it.
    assert check_url("http://svc.example.com/", allow=allow, resolver=lambda h: ["10.20.0.9"])


def test_the_allow_list_setting_is_read_at_each_check(configure: Callable[..., Settings]) -> None:
    configure(VOXIE_URL_ALLOWLIST=None)
    with pytest.raises(URLRefused):
        check_url("http://127.0.0.1:1/x", resolver=no_dns)
    configure(VOXIE_URL_ALLOWLIST="127.0.0.0/8")
    assert check_url("http://127.0.0.1:1/x", resolver=no_dns)


async def test_the_guarded_client_refuses_before_connecting() -> None:
    asked: list[str] = []

    def resolver(host: str) -> list[str]:
        asked.append(host)
        return ["10.0.0.5"]

    async with url_guard.guarded_client(allow=NOTHING, resolver=resolver) as client:
        assert client.follow_redirects is False
        for url in ("http://127.0.0.1:1/x", "http://0x7f000001:1/", "http://[::1]:1/"):
            with pytest.raises(url_guard.AddressRefused):
                await client.get(url)
        with pytest.raises(url_guard.AddressRefused) as caught:
            await client.get("http://svc.example.com:1/x")
        assert isinstance(caught.value, httpx.ConnectError)
    assert asked == ["svc.example.com"]


@pytest.mark.skipif(
    "libfaketime" in os.environ.get("LD_PRELOAD", ""),
    reason="under libfaketime (0.9.10) a threading wait with a timeout never returns",
)
def test_a_slow_system_resolver_counts_as_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(*args: object, **kwargs: object) -> list[object]:
        release.wait(5)
        return []

    monkeypatch.setattr(url_guard, "RESOLVE_TIMEOUT_S", 0.05)
    monkeypatch.setattr(url_guard.socket, "getaddrinfo", stuck)
    try:
        assert check_url("https://slow.example.com/x", allow=NOTHING)  # save time: accepted
        with pytest.raises(URLRefused, match="does not resolve"):
            url_guard.check_host("slow.example.com", allow=NOTHING, require_resolved=True)
    finally:
        release.set()
