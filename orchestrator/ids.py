"""Identifiers: time-ordered UUIDs (version 7) so ids sort by creation, and opaque tokens."""

from __future__ import annotations

import os
import secrets
import time
import uuid


def new_uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return uuid.UUID(int=value)


def uuid7_floor(unix_seconds: float) -> uuid.UUID:
    """The smallest UUIDv7 of that instant: `id >= uuid7_floor(t)` selects ids made at or after `t`."""
    millis = int(unix_seconds * 1000) & ((1 << 48) - 1)
    return uuid.UUID(int=(millis << 80) | (0x7 << 76) | (0b10 << 62))


def new_token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)
