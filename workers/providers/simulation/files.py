"""Simulated result files: expiring HMAC-signed links and their deterministic bytes, so that a download
can be checked by hash and an expired link is refused like a real CDN's (the simulator serves them)."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

from workers.providers.simulation.engine import Simulator

CHUNK = 64 * 1024
# Each kind of file starts with its real magic bytes, so that content sniffers recognise it.
KINDS: dict[str, tuple[str, bytes]] = {
    "mp4": ("video/mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff\xe0"),
    "webp": ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
    "mp3": ("audio/mpeg", b"ID3\x04\x00\x00"),
    "wav": ("audio/wav", b"RIFF\x00\x00\x00\x00WAVEfmt "),
}


def signed_url(sim: Simulator, base_url: str, task_id: str, index: int, kind: str = "mp4") -> str:
    """A link to output `index` of `task_id` (a file of `kind`: mp4, png, jpeg, mp3, wav), valid for
    `url_ttl_s` from now."""
    expires = int(time.time() + sim.config.url_ttl_s)
    query = urlencode({"expires": expires, "sig": signature(sim.file_secret, task_id, index, expires)})
    return f"{base_url.rstrip('/')}/_sim/files/{task_id}/{index}.{kind}?{query}"


FILE_PATH = re.compile(r"/_sim/files/(?P<task_id>[^/]+)/(?P<index>[0-9]+)\.[a-z0-9]+$")


def link_problem(sim: Simulator, url: str) -> str | None:
    """Why a link to one of `sim`'s own files would be refused now (expired, forged); None for a good
    one, or a link elsewhere. A provider that fetches its inputs checks a follow-up's this way."""
    found = FILE_PATH.search(urlsplit(url).path)
    if found is None:
        return None
    query = parse_qs(urlsplit(url).query)
    expires = (query.get("expires") or ["0"])[0]
    given = (query.get("sig") or [""])[0]
    if not expires.isdigit():
        return "the link has no expiry"
    expected = signature(sim.file_secret, found["task_id"], int(found["index"]), int(expires))
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return "the link's signature does not match"
    return "the link expired" if int(expires) < time.time() else None


def signature(secret: bytes, task_id: str, index: int, expires: int) -> str:
    return hmac.new(secret, f"{task_id}/{index}/{expires}".encode(), hashlib.sha256).hexdigest()


def file_chunks(task_id: str, index: int, size: int, kind: str = "mp4") -> Iterator[bytes]:
    """`size` pseudo-random bytes that depend only on (task_id, index), after `kind`'s magic."""
    # A str seed is hashed with SHA-512, so the bytes are the same in every process.
    rng = random.Random(f"{task_id}/{index}")  # noqa: S311 - filler bytes, not a secret
    head = KINDS[kind][1][:size]
    yield head
    remaining = size - len(head)
    while remaining > 0:
        chunk = rng.randbytes(min(CHUNK, remaining))
        remaining -= len(chunk)
        yield chunk
