"""Schemathesis hooks for genrelay (`SCHEMATHESIS_HOOKS=tests.contract_hooks`): JSON Lines bodies, and
a fresh `Idempotency-Key` per request.

The document describes a JSON Lines body by the array of its lines (item n is line n); these turn a
generated array into lines, and a JSON Lines answer back into the array its schema describes.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from typing import Any

import schemathesis

from schemas.jobs import IDEMPOTENCY_KEY_PATTERN

JSON_LINES = ("application/jsonl", "application/x-ndjson")


def to_lines(value: Any) -> bytes:
    """An array as one JSON value per line; anything else (a negative case) as a single line."""
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item, separators=(",", ":")) + "\n" for item in items).encode()


def from_lines(content: bytes) -> list[Any]:
    return [json.loads(line) for line in content.decode().splitlines() if line.strip()]


@schemathesis.serializer(*JSON_LINES)
def _serialize_lines(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    return to_lines(value)


@schemathesis.deserializer(*JSON_LINES)
def _deserialize_lines(ctx: schemathesis.DeserializationContext, response: Any) -> list[Any]:
    return from_lines(response.content)


_keys = itertools.count()
_RUN = uuid.uuid4().hex[:8]  # deterministic generation draws the same keys in every run: this one's own


@schemathesis.hook
def before_call(ctx: schemathesis.HookContext, case: Any, kwargs: dict[str, Any]) -> None:
    """Give each request its own well-formed `Idempotency-Key`, as a client does: a key reused for
    another body is rightly refused (422, as the IETF draft says), which no schema can state. A key
    the schema forbids is left alone, for the checks that send it."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        case.headers["Idempotency-Key"] = f"{key[:230]}.{_RUN}.{next(_keys)}"
