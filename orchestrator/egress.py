"""Outbound requests to tenants' URLs, guarded against SSRF: only public addresses. When a job is created,
what the URL itself shows is checked (its scheme, no credentials, an address or `localhost` that is not
public); a host name is resolved, and every address it gives checked, at every send, against the
address actually connected to (so a DNS answer changed in between cannot point us inside). An operator
allowlist admits internal hosts."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from orchestrator.errors import InvalidRequestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefusedError(InvalidRequestError):
    code = "callback_url_refused"


@dataclass(frozen=True)
class Destination:
    """Where to connect (`address`) for `url`, whose host goes in the Host header and TLS SNI."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with the vetted address in place of the host name."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        path = parts.path or "/"
        return f"{self.scheme}://{literal}:{self.port}{path}" + (f"?{parts.query}" if parts.query else "")

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def is_public(address: IPAddress) -> bool:
    """Routable on the public internet: not private, loopback, link-local (cloud metadata),
    shared (CGNAT), multicast, reserved or unspecified — also when IPv4-mapped in IPv6."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


def _allowed(host: str, address: IPAddress, allowlist: Sequence[str]) -> bool:
    for entry in allowlist:
        if entry.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _split(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EgressRefusedError(f"callback_url is not a valid URL: {exc}", field="callback_url") from exc
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise EgressRefusedError(
            "callback_url must be an http:// or https:// URL with a host", field="callback_url"
        )
    if parts.username or parts.password:
        raise EgressRefusedError("callback_url must not carry credentials", field="callback_url")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def vet(url: str, allowlist: Sequence[str]) -> None:
    """Refuse `url` for what it shows by itself (EgressRefusedError): not http(s), credentials, or a host
    that is a non-public address or `localhost`. Other names are not looked up here: whether a name
    resolves, and where to, can change before a webhook goes, so each send resolves and checks it."""
    _, host, _ = _split(url)
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always the machine itself
        resolve(url, allowlist)
        return
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return
    if not is_public(address) and not _allowed(host, address, allowlist):
        raise _inside(host, address)


def _inside(host: str, address: IPAddress, how: str = "is") -> EgressRefusedError:
    return EgressRefusedError(
        f"callback_url host {host!r} {how} {address}, a private, loopback, link-local or metadata address; "
        "webhooks only go to public addresses",
        field="callback_url",
    )


def resolve(url: str, allowlist: Sequence[str]) -> Destination:
    """Vet `url` and pick the address to connect to; EgressRefusedError if any of its addresses is
    not public (a name with one private answer among public ones is refused too)."""
    scheme, host, port = _split(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressRefusedError(
            f"callback_url host {host!r} does not resolve", field="callback_url"
        ) from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        if not is_public(address) and not _allowed(host, address, allowlist):
            raise _inside(host, address, "resolves to")
    return Destination(url=url, scheme=scheme, host=host, port=port, address=addresses[0])
