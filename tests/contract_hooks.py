"""Schemathesis hooks for genrelay's JSON Lines bodies (`SCHEMATHESIS_HOOKS=tests.contract_hooks`).

The document describes a JSON Lines body by the array of its lines (item n is line n); these turn a
generated array into lines, and a JSON Lines answer back into the array its schema describes.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

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
