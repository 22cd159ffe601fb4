"""Where a webhook may be sent: public addresses, or what the config allow-lists.

The host is resolved here and the request goes to the address that was checked (the
``Host`` header and TLS name keep the original host), so a DNS answer that changes
between the check and the connection cannot point a delivery inside the network.
Redirects are never followed (a 3xx is a failed try), so they cannot either.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from agent.webhooks.settings import WebhookSettings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefusedError(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str  # as subscribed
    connect_url: str  # the checked address in place of the host name
    host_header: str
    tls_name: str | None  # server name for TLS (https)


@functools.lru_cache(maxsize=4096)
def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def address_allowed(address: Address, host: str, settings: WebhookSettings) -> bool:
    if host in settings.allow_hosts or is_public(address):
        return True
    return any(address in network for network in settings.allow_networks)


async def resolve_target(url: str, settings: WebhookSettings) -> Target:
    parts = _split(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefusedError("a webhook URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise TargetRefusedError("a webhook URL may not carry credentials")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefusedError("the webhook URL's port is not a number from 0 to 65535") from None
    addresses = await _resolve(host, port)
    for address in addresses:
        if not address_allowed(address, host, settings):
            raise TargetRefusedError(
                f"{host} resolves to {address}, a private, loopback, link-local or reserved "
                "address; allow-list it in webhooks.allow_hosts or allow_networks to use it"
            )
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    connect = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    tls_name = host if parts.scheme == "https" else None
    return Target(url, connect, parts.netloc.rpartition("@")[2], tls_name)


@functools.lru_cache(maxsize=4096)
def _split(url: str) -> SplitResult:
    """The URL's parts (cached: a queue sends to the same URL over and over)."""
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018 (parses the host; raises on a malformed one)
    except ValueError as error:
        raise TargetRefusedError(f"the webhook URL cannot be parsed: {error}") from None
    return parts


@functools.lru_cache(maxsize=4096)
def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(host: str, port: int) -> list[Address]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefusedError(f"cannot resolve {host}: {error}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise TargetRefusedError(f"{host} has no address")
    return list(dict.fromkeys(addresses))
