"""The one guard for every outbound request to a URL a user (or a model) gave us.

Webhooks use it now; custom HTTP tools and MCP servers must use it too. Two checks,
because either alone can be fooled:

- `check_url(url)` when the URL is saved: a clear 422-style refusal (`URLRefused`,
  field `url`) for a malformed URL, credentials in it, an address literal (in any
  of the numeric spellings `inet_aton` accepts: `0x7f000001`, `2130706433`,
  `0177.0.0.1`, `127.1`) or a host name that is not public, or a name that
  resolves to one. A name that does not resolve yet is accepted: the connect-time
  check still applies.
- `guarded_client()` / `GuardedTransport` when the request is made: the connection
  is opened only to an address the guard has just checked, resolved by the guard
  itself, so a name that answered a public address at save time and answers
  127.0.0.1 now (DNS rebinding) is refused with `AddressRefused` before any byte is
  sent. The client never follows redirects and ignores proxy environment
  variables (a proxy would make the checked address the proxy's).

Refused: loopback, RFC 1918 and other private ranges, link-local (and with it
169.254.169.254), CGNAT 100.64.0.0/10, unspecified, multicast, reserved and
documentation ranges, cloud metadata names and addresses, and the IPv6 forms of all
of these: ::1, fc00::/7 (fd00:ec2::254), fe80::/10, fec0::/10, IPv4-mapped
(::ffff:127.0.0.1), IPv4-compatible, 6to4 (2002::/16) and NAT64 (64:ff9b::/96)
embeddings of a refused IPv4 address, and local-use NAT64 64:ff9b:1::/48.

`VOXIE_URL_ALLOWLIST` (comma separated host names and IP addresses or CIDRs) is the
admin's way to permit an internal receiver: a listed host name is allowed whatever it
resolves to; a listed address or network allows the addresses in it.
"""

from __future__ import annotations

import concurrent.futures
import functools
import ipaddress
import re
import socket
import ssl
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import anyio
import anyio.to_thread
import httpcore
import httpcore2
import httpx
import httpx2

from voxie_app.services.errors import InvalidInput
from voxie_app.settings import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host -> addresses it resolves to (an empty list, or socket.gaierror, if it does not).
Resolver = Callable[[str], Sequence[str]]

MAX_URL = 2000
RESOLVE_TIMEOUT_S = 5.0
_RESOLVER_POOL = concurrent.futures.ThreadPoolExecutor(
    max_workers=4, thread_name_prefix="url-guard"
)
SCHEMES = ("http", "https")

# Names that reach instance metadata or the machine itself, whatever DNS says.
BLOCKED_NAMES = frozenset(
    {
        "localhost",
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
BLOCKED_SUFFIXES = (".localhost", ".internal", ".local")
# Metadata addresses not all covered by the ranges below (kept explicit for the reader).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
    )
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
# A last label of digits or 0x-hex is an address in inet_aton's loose spelling, not a name.
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


class URLRefused(InvalidInput):
    """A URL the guard will not fetch; the message says why (safe to show)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="url")


class AddressRefused(httpx.ConnectError):
    """Raised at connect time when the host resolves to an address that is not allowed.

    A subclass of `httpx.ConnectError`, so callers that treat any connect failure as
    "not delivered" stay correct; those that report reasons can name this one.
    """


class AddressRefused2(httpx2.ConnectError):
    """`AddressRefused` for `httpx2` clients (the MCP SDK's HTTP library)."""


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks an admin permits despite the rules (`VOXIE_URL_ALLOWLIST`)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in text.split(","):
            item = raw.strip().lower().rstrip(".")
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item)
        return cls(frozenset(hosts), tuple(networks))

    @classmethod
    def from_settings(cls) -> AllowList:
        return cls.parse(get_settings().url_allowlist)

    def allows_host(self, host: str) -> bool:
        return host in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)


def blocked_reason(address: IPAddress) -> str | None:
    """Why `address` must not be fetched, or None if it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = blocked_reason(embedded)
            return f"{reason} (inside an IPv6 address)" if reason else None
        if address in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        if address.is_site_local:
            return "a site-local address"
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a shared (CGNAT) address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return "a private or special-purpose address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries: mapped, 6to4 or NAT64.

    (Deprecated IPv4-compatible ::a.b.c.d is inside ::/8, which is reserved: refused.)
    """
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address `host` spells, in any notation a resolver would accept, else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    last = host.rsplit(".", 1)[-1]
    if not _NUMERIC_LABEL.fullmatch(last):
        return None
    try:
        # inet_aton is what getaddrinfo applies: 127.1, 0x7f000001, 2130706433, 0177.0.0.1.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise URLRefused(f"{host!r} is neither a host name nor an IP address") from None


def system_resolver(host: str) -> list[str]:
    """Every address `host` resolves to, by the system resolver, within RESOLVE_TIMEOUT_S.

    getaddrinfo cannot be cancelled, so it runs on a small pool and a slow answer
    counts as none (at save time the name is then accepted; at connect time refused).
    """
    future = _RESOLVER_POOL.submit(socket.getaddrinfo, host, None, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=RESOLVE_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        raise OSError(f"resolving {host} timed out") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _normal_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if "%" in host:  # IPv6 zone ids and percent-encoded names
        raise URLRefused("the URL's host must not contain '%'")
    return host


def _name_refusal(host: str) -> str | None:
    if host in BLOCKED_NAMES or host.endswith(BLOCKED_SUFFIXES):
        return f"{host} is a local or metadata host name"
    return None


def check_host(
    host: str,
    *,
    allow: AllowList | None = None,
    resolver: Resolver | None = None,
    require_resolved: bool = False,
) -> list[IPAddress]:
    """Refuse `host` unless it is public (or allow-listed); return the addresses checked.

    With `require_resolved`, a name that does not resolve is refused too (the
    connect-time check); otherwise it passes with no addresses (the save-time check).
    """
    allow = allow if allow is not None else AllowList.from_settings()
    host = _normal_host(host)
    if not host:
        raise URLRefused("the URL must name a host")
    literal = literal_address(host)
    if literal is not None:
        _refuse_address(literal, allow, shown=host)
        return [literal]
    if allow.allows_host(host):
        return []
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise URLRefused(f"{host!r} is not a valid host name") from None
    if not _HOST_NAME.fullmatch(ascii_host) or len(ascii_host) > 253:
        raise URLRefused(f"{host!r} is not a valid host name")
    refusal = _name_refusal(ascii_host)
    if refusal:
        raise URLRefused(f"{refusal}; an admin can allow it in VOXIE_URL_ALLOWLIST")
    try:
        answers = (resolver or system_resolver)(ascii_host)
    except (OSError, UnicodeError):
        answers = []
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
    if not addresses and require_resolved:
        raise URLRefused(f"{host} does not resolve")
    for address in addresses:
        _refuse_address(address, allow, shown=f"{host} ({address})")
    return addresses


def _refuse_address(address: IPAddress, allow: AllowList, *, shown: str) -> None:
    reason = blocked_reason(address)
    if reason and not allow.allows_address(address):
        raise URLRefused(f"{shown} is {reason}; an admin can allow it in VOXIE_URL_ALLOWLIST")


def check_url(
    url: str, *, allow: AllowList | None = None, resolver: Resolver | None = None
) -> SplitResult:
    """The parsed `url` if Voxie may fetch it, else `URLRefused` (field `url`) saying why.

    For save time: blocking (it may resolve the host), so call it from a thread or a
    sync route, never on the event loop.
    """
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise URLRefused(f"give an http(s) URL of up to {MAX_URL} characters")
    if _CONTROL_OR_SPACE.search(url) or "\\" in url:
        raise URLRefused("the URL must not contain spaces, backslashes or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        raise URLRefused("this is not a valid URL") from None
    if parts.scheme.lower() not in SCHEMES:
        raise URLRefused("the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise URLRefused("the URL must not contain credentials")
    if not parts.hostname:
        raise URLRefused("the URL must name a host")
    check_host(parts.hostname, allow=allow, resolver=resolver)
    return parts


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses it resolved and checked itself, just now."""

    def __init__(
        self,
        allow: AllowList | None,
        resolver: Resolver | None,
        inner: httpcore.AsyncNetworkBackend | httpcore2.AsyncNetworkBackend,
        *,
        core: typing.Any = httpcore,
        refused: type[Exception] = AddressRefused,
    ) -> None:
        """`core`/`refused`: the httpcore flavour (httpcore, or httpcore2 for httpx2
        clients) whose errors to raise; the checks are the same."""
        self._allow = allow
        self._resolver = resolver
        self._inner = inner
        self._core = core
        self._refused = refused

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore backend interface)
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        allow = self._allow if self._allow is not None else AllowList.from_settings()

        def check() -> list[IPAddress]:
            return check_host(host, allow=allow, resolver=self._resolver, require_resolved=True)

        try:
            with anyio.fail_after(timeout):
                addresses = await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
        except URLRefused as exc:
            raise self._refused(exc.message) from None
        except TimeoutError:
            raise self._core.ConnectTimeout(f"resolving {host} timed out") from None
        if not addresses:  # an allow-listed name: the system connects to what it resolves
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (self._core.ConnectError, self._core.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore backend interface)
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise self._refused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """Built once per process: loading the CA bundle takes milliseconds (far more on a
    busy machine) and a client per request (tools, webhooks) would pay it every time.
    An `SSLContext` is safe to share between connections, threads and event loops."""
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection passes the guard at connect time."""

    def __init__(
        self,
        *,
        allow: AllowList | None = None,
        resolver: Resolver | None = None,
        limits: httpx.Limits | None = None,
        verify: bool = True,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        context = _ssl_context(verify)
        super().__init__(verify=context, trust_env=False, limits=limits)
        # Same pool httpx builds, but every connect goes through the guarded backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow, resolver, httpcore.AnyIOBackend()),
        )


def guarded_client(
    *,
    allow: AllowList | None = None,
    resolver: Resolver | None = None,
    limits: httpx.Limits | None = None,
    **kwargs: typing.Any,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for user-given URLs: guarded connects, no redirects, no proxies.

    `allow` defaults to `VOXIE_URL_ALLOWLIST` read at each connect; `resolver` to the
    system resolver (tests inject one to play DNS rebinding).
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(allow=allow, resolver=resolver, limits=limits),
        follow_redirects=False,
        trust_env=False,
        **kwargs,
    )


class GuardedTransport2(httpx2.AsyncHTTPTransport):
    """`GuardedTransport` for `httpx2` (what the MCP SDK's client transports take)."""

    def __init__(
        self,
        *,
        allow: AllowList | None = None,
        resolver: Resolver | None = None,
        limits: httpx2.Limits | None = None,
    ) -> None:
        limits = limits or httpx2.Limits(max_connections=20, max_keepalive_connections=5)
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(
                allow,
                resolver,
                httpcore2.AnyIOBackend(),
                core=httpcore2,
                refused=AddressRefused2,
            ),
        )


def guarded_client2(
    *, allow: AllowList | None = None, resolver: Resolver | None = None, **kwargs: typing.Any
) -> httpx2.AsyncClient:
    """`guarded_client()` as an `httpx2.AsyncClient`: the MCP transports' HTTP client
    (they follow same-origin redirects themselves; every connect is checked here)."""
    return httpx2.AsyncClient(
        transport=GuardedTransport2(allow=allow, resolver=resolver),
        follow_redirects=False,
        trust_env=False,
        **kwargs,
    )
