"""The SSRF guard: our servers must not be made to send requests into their own network.

Three rules about where a request may go, checked when a webhook or channel is saved (a field error
naming `url`) and again when it is sent:
- the host's addresses: none may be loopback, private, link-local (incl. the cloud metadata address
  169.254.169.254), CGNAT, multicast, reserved, unspecified or otherwise not global. An IPv6 address
  that carries an IPv4 address (IPv4-mapped or -compatible, 6to4, Teredo, NAT64) is judged by the IPv4
  address it carries: that is where the packets end up.
- the port: one of WEBHOOK_ALLOWED_PORTS (80 and 443 by default), so a URL can't aim our servers at a
  mail, database or SSH port.
- no redirects: a 3xx answer is a failed delivery, never followed (senders.py).

At send time the check is made where the connection is opened (`outbound`): inside that block every
connection urllib3 opens — ours for webhooks, and apprise's through requests for channels — resolves
its host once, checks every address, and connects to a checked address. A DNS answer that changes
between the check and the connection has nothing to slip through: there is no second lookup.

WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 lifts the address and the port rules (tests, local development);
redirects and the channel kinds' scheme and host rules (channel_urls.py) hold regardless.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

ERR_PRIVATE = "This URL points to a private, loopback, link-local or metadata address; that is not allowed."
ERR_RESOLVE = "The host name of this URL does not resolve."
ERR_SCHEME = "Use an http:// or https:// URL."
ERR_PORT = "Port {port} is not allowed; use one of {allowed} (WEBHOOK_ALLOWED_PORTS)."
ERR_PORT_INVALID = "The port of this URL is not a number from 1 to 65535."
ERR_HOST = "This URL may only point to {allowed}; {host} is not one of them."

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Addresses a cloud provider serves instance metadata on beyond 169.254.0.0/16 (AWS IPv6, Alibaba).
METADATA_ADDRESSES = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated (RFC 4291 §2.5.5.1), still routed by some stacks
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
# RFC 8215's local-use translation prefix. An operator may carve a /48…/96 out of it, and RFC 6052 puts
# the IPv4 address at a different place for each length. Only its /96 reading is unambiguous; an
# address elsewhere in the /48 carries an IPv4 address we can't know, so it is refused.
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
NAT64_LOCAL_USE_96 = ipaddress.ip_network("64:ff9b:1::/96")


class UrlRefused(Exception):
    """The URL may not be used: the message says why (shown to the user as the field's error)."""


class HostUnresolved(UrlRefused):
    """The name does not resolve (now): unlike the other refusals, one that may pass later."""

    def __init__(self):
        super().__init__(ERR_RESOLVE)


class ConnectionRefused(OSError):
    """Raised inside urllib3 when `outbound` refuses a connection. An OSError, so urllib3 and requests
    treat it as a failed connection (apprise then reports a failure instead of crashing); the guard
    keeps the reason, and the sender turns it into a permanent failure."""


def private_networks_allowed() -> bool:
    return settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS


# --- addresses ------------------------------------------------------------------------------------


def _low32(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a packet to `address` is delivered to, for the IPv6 forms that carry one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): packets go to the client, whose bits are inverted
    if address in NAT64_WELL_KNOWN or address in NAT64_LOCAL_USE_96:
        return _low32(address)
    if address in IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves, not IPv4 addresses
        return _low32(address)
    return None


def is_forbidden(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None:
            return is_forbidden(carried)
        if address in NAT64_LOCAL_USE:
            return True
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
    """Every address the name resolves to (raises socket.gaierror when it does not). An IPv6 literal may
    come in URL brackets (apprise keeps them)."""
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_addresses(addresses: list[str]) -> None:
    if private_networks_allowed():
        return
    if any(is_forbidden(ipaddress.ip_address(a.split("%")[0])) for a in addresses):
        raise UrlRefused(ERR_PRIVATE)


# --- ports and hosts ------------------------------------------------------------------------------


def check_port(port: int) -> None:
    # The private-network switch lifts the port rule too: it exists for local development, where the
    # services a webhook is tried against (and the test suite's capture servers) listen on any port.
    if private_networks_allowed() or port in settings.WEBHOOK_ALLOWED_PORTS:
        return
    allowed = ", ".join(str(p) for p in settings.WEBHOOK_ALLOWED_PORTS)
    raise UrlRefused(ERR_PORT.format(port=port, allowed=allowed))


def host_matches(host: str, hosts: tuple[str, ...]) -> bool:
    """`hosts` holds exact names and ".suffix" entries (any name under that domain)."""
    host = host.lower().rstrip(".")
    return any(host.endswith(entry) if entry.startswith(".") else host == entry for entry in hosts)


def describe_hosts(hosts: tuple[str, ...]) -> str:
    return ", ".join(f"*{entry}" if entry.startswith(".") else entry for entry in hosts)


def check_host_name(host: str, hosts: tuple[str, ...]) -> None:
    """An empty `hosts` admits any host name (the address rules still apply)."""
    if hosts and not host_matches(host, hosts):
        raise UrlRefused(ERR_HOST.format(allowed=describe_hosts(hosts), host=host or "(no host)"))


def checked_addresses(host: str, port: int, hosts: tuple[str, ...] = ()) -> list[str]:
    """The addresses to connect to: the name resolved once, every answer checked."""
    check_host_name(host, hosts)
    try:
        addresses = resolve(host, port)
    except UnicodeError:  # a name the IDNA codec can't encode: no DNS server will ever answer it
        raise UrlRefused(ERR_RESOLVE) from None
    check_addresses(addresses)
    check_port(port)
    return addresses


def check_host(host: str, port: int, hosts: tuple[str, ...] = ()) -> None:
    """When a URL is saved, and before it is sent: refuse a host that resolves to a forbidden address,
    or a forbidden port. (The connection itself is checked again by `outbound`.)"""
    if private_networks_allowed():
        check_host_name(host, hosts)  # the kinds' host rules hold whatever the switch says
        return
    try:
        checked_addresses(host, port, hosts)
    except socket.gaierror:
        raise HostUnresolved() from None


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def check_url(url: str) -> None:
    """A webhook URL: http(s), a host whose addresses and port pass the rules."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UrlRefused(ERR_SCHEME)
    try:
        port = parts.port or default_port(parts.scheme)
    except ValueError:  # a port out of range or not a number
        raise UrlRefused(ERR_PORT_INVALID) from None
    check_host(parts.hostname, port)


# --- the connection guard -------------------------------------------------------------------------


@dataclass
class Guard:
    hosts: tuple[str, ...] = ()  # host names connections may go to; empty: any host
    refused: str = ""  # why a connection was refused, for the sender's outcome


_active: ContextVar[Guard | None] = ContextVar("ssrf_guard", default=None)
_original_create_connection = None


def _guarded_create_connection(address, *args, **kwargs):
    """urllib3's create_connection, pinned: inside `outbound`, resolve once, check, connect to what was
    checked (each checked address in turn, as urllib3 would). Outside it, urllib3's own function."""
    guard = _active.get()
    if guard is None:
        return _original_create_connection(address, *args, **kwargs)
    host, port = address[0], address[1]
    try:
        addresses = checked_addresses(host, port, guard.hosts)  # socket.gaierror: urllib3's DNS error
    except UrlRefused as exc:
        guard.refused = guard.refused or str(exc)
        raise ConnectionRefused(str(exc)) from None
    error = OSError(f"{host} resolved to no address")
    for checked in addresses:
        try:
            return _original_create_connection((checked, port), *args, **kwargs)
        except OSError as exc:
            error = exc
    raise error


def _install() -> None:
    """Route urllib3's connections through the guard (once per process). urllib3 looks the function up
    on its util.connection module at every connection, so replacing it there reaches every pool,
    including the ones requests builds for apprise. Outside `outbound` it changes nothing."""
    global _original_create_connection
    from urllib3.util import connection

    if connection.create_connection is not _guarded_create_connection:
        _original_create_connection = connection.create_connection
        connection.create_connection = _guarded_create_connection


@contextmanager
def outbound(hosts: tuple[str, ...] = ()) -> Iterator[Guard]:
    """Every connection opened in this block (in this thread, or in threads started with a copy of its
    context, as apprise's are) is resolved once, checked and pinned. The guard records a refusal."""
    _install()
    guard = Guard(hosts=hosts)
    token = _active.set(guard)
    try:
        yield guard
    finally:
        _active.reset(token)
