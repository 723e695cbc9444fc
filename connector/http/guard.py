"""The SSRF guard: which outbound targets the connector may reach.

Every address the connector connects to on someone else's word (a counterparty or callback
address, a push destination, an HTTP upstream, a did:web or status list URL) passes
:meth:`OutboundGuard.check_url` first. Loopback, link-local, private, multicast, reserved and
unspecified addresses are refused unless allow-listed in ``CONNECTOR_ALLOW_PRIVATE_ADDRESSES``
(comma-separated host names or IP addresses/CIDRs, e.g. ``127.0.0.1`` in tests). A host name is
resolved and *every* address it resolves to must pass; callers should connect to one of the
returned addresses (or re-check after connecting) to narrow DNS-rebinding windows.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connector.errors import Forbidden, Invalid, Unavailable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address (not loopback, private, link-local, reserved …)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class OutboundGuard:
    """Decides whether a URL may be fetched or posted to."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    schemes: frozenset[str] = frozenset({"https", "http"})
    resolver: Resolver = field(default=_system_resolver, repr=False, compare=False)

    @classmethod
    def from_allowlist(
        cls,
        entries: Iterable[str],
        *,
        schemes: Iterable[str] = ("https", "http"),
        resolver: Resolver | None = None,
    ) -> OutboundGuard:
        """Build from ``CONNECTOR_ALLOW_PRIVATE_ADDRESSES`` entries (hosts, IPs or CIDRs)."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        return cls(
            allowed_hosts=frozenset(hosts),
            allowed_networks=tuple(networks),
            schemes=frozenset(schemes),
            resolver=resolver or _system_resolver,
        )

    def address_allowed(self, address: IPAddress) -> bool:
        return is_public(address) or any(address in net for net in self.allowed_networks)

    def target(self, url: str) -> tuple[str, str, int]:
        """The checks of :meth:`check_url` that need no name resolution: ``(scheme, host,
        port)`` of an allowed URL (host lowercased, port defaulted)."""
        if len(url) > 2048:
            raise Invalid("URL too long", reason="bad_url")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise Invalid(f"malformed URL: {url[:100]}", reason="bad_url") from exc
        if parts.scheme not in self.schemes:
            raise Forbidden(f"scheme {parts.scheme!r} not allowed", reason="ssrf_blocked")
        host = (parts.hostname or "").rstrip(".").lower()
        if not host or parts.username or parts.password:
            raise Invalid(f"malformed URL: {url[:100]}", reason="bad_url")
        if host not in self.allowed_hosts and (
            host in _METADATA_HOSTS or host == "localhost" or host.endswith(".localhost")
        ):
            raise Forbidden(f"{host} is not a public host", reason="ssrf_blocked")
        return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)

    def precheck(self, url: str) -> None:
        """What can be refused before the first request without resolving names: the checks
        of :meth:`target`, and a literal IP address that is not allowed (a name is checked,
        resolved, when it is used)."""
        _scheme, host, _port = self.target(url)
        if host in self.allowed_hosts:
            return
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return
        if not self.address_allowed(literal):
            raise Forbidden(f"{host} is not a public address", reason="ssrf_blocked")

    def check_url(self, url: str) -> list[str]:
        """Refuse a URL whose scheme, credentials or addresses are not allowed.

        Returns the IP addresses the host resolved to (all of them checked).
        Raises :class:`Invalid` for a malformed URL, :class:`Forbidden` (reason
        ``ssrf_blocked``) for a refused target and :class:`Unavailable` when the host does
        not resolve.
        """
        _scheme, host, port = self.target(url)
        if host in self.allowed_hosts:
            return []
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            candidates = [str(literal)]
        else:
            try:
                candidates = self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise Unavailable(f"cannot resolve {host}", reason="unresolvable_host") from exc
        if not candidates:
            raise Unavailable(f"cannot resolve {host}", reason="unresolvable_host")
        for candidate in candidates:
            address = ipaddress.ip_address(candidate)
            if not self.address_allowed(address):
                raise Forbidden(
                    f"{host} resolves to a non-public address ({address})", reason="ssrf_blocked"
                )
        return candidates

    def check_urls(self, urls: Sequence[str]) -> None:
        for url in urls:
            self.check_url(url)
