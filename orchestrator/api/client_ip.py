"""The client's address of a request: its peer's, or, behind the configured trusted proxies, the
nearest address in `X-Forwarded-For` that is not one of them."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.requests import HTTPConnection

Networks = Sequence[IPv4Network | IPv6Network]


def client_ip(connection: HTTPConnection, trusted: Networks) -> str | None:
    """Walks `X-Forwarded-For` from the right (the hops the trusted proxies appended) and stops at the
    first address no trusted proxy has: what is left of it was written by the client, who can forge it."""
    peer = connection.client.host if connection.client else None
    if peer is None or not _trusted(peer, trusted):
        return peer
    forwarded = ",".join(connection.headers.getlist("x-forwarded-for"))
    found = peer
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        if not _is_address(hop):
            break
        found = hop
        if not _trusted(hop, trusted):
            break
    return found


def _is_address(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _trusted(address: str, trusted: Networks) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)
