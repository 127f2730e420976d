"""The SSRF guard: our servers must not be made to POST into their own network.

A URL whose host resolves to a loopback, private, link-local (incl. the cloud metadata address
169.254.169.254), multicast, reserved or unspecified address is refused — when a subscription or
channel is saved (400 naming the field) and again at every delivery, where the checked address is the
one we connect to (see senders.pinned_post), so a DNS answer that changes in between can't slip through.
WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 lifts the guard (tests, local development).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

ERR_PRIVATE = "This URL points to a private, loopback, link-local or metadata address; that is not allowed."
ERR_RESOLVE = "The host name of this URL does not resolve."
ERR_SCHEME = "Use an http:// or https:// URL."

# Addresses a cloud provider serves instance metadata on beyond 169.254.0.0/16 (AWS IPv6, Alibaba).
METADATA_ADDRESSES = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}


class UrlRefused(Exception):
    """The URL may not be used: the message says why (shown to the user as the field's error)."""


def private_networks_allowed() -> bool:
    return settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS


def is_forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return (
        address in METADATA_ADDRESSES
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (raises socket.gaierror when it does not)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_addresses(addresses: list[str]) -> None:
    if private_networks_allowed():
        return
    if any(is_forbidden(ipaddress.ip_address(a.split("%")[0])) for a in addresses):
        raise UrlRefused(ERR_PRIVATE)


def safe_address(host: str, port: int) -> str:
    """The address to connect to: resolved once, checked, and then used (pinned) for the connection."""
    addresses = resolve(host, port)
    check_addresses(addresses)
    return addresses[0]


def check_url(url: str) -> None:
    """At save time: refuse a URL that names (or resolves to) a forbidden address."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UrlRefused(ERR_SCHEME)
    check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def check_host(host: str, port: int) -> None:
    if private_networks_allowed():
        return
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError):
        raise UrlRefused(ERR_RESOLVE) from None
    check_addresses(addresses)
