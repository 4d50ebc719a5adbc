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
from schemathesis.core.parameters import ParameterLocation

from orchestrator.tenants.creating import nul_at
from schemas.batches import CUSTOM_ID_PATTERN, MAX_CUSTOM_ID
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
    if case.method == "POST" and case.path == "/v1/batches" and isinstance(case.body, list):
        unique_custom_ids(case.body)


@schemathesis.hook
def filter_case(ctx: schemathesis.HookContext, case: Any) -> bool:
    """Send no body drawn as valid that holds a NUL where the configuration says `allow-x00 = false`: the
    coverage phase draws values past the levels a free-form value is spelled out to (`StorableValue`,
    whose description says NUL is nowhere in it) without asking the configuration."""
    operation = ctx.operation
    if operation is None or case.meta is None or case.meta.is_negative_at(ParameterLocation.BODY):
        return True
    if operation.schema.config.generation_for(operation=operation).allow_x00:
        return True
    return nul_at(case.body) is None


def unique_custom_ids(lines: list[Any]) -> None:
    """Give a well-formed `custom_id` that an earlier line of the batch already has one of its own, as a
    client does: a batch's ids are unique, which JSON Schema cannot state (it has no "unique by
    property"). Ids the schema forbids are left alone, for the checks that send them."""
    seen: set[str] = set()
    for number, line in enumerate(lines):
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        if not isinstance(custom_id, str) or not re.fullmatch(CUSTOM_ID_PATTERN, custom_id):
            continue
        again = itertools.count()
        while custom_id in seen:
            suffix = f".{number}.{next(again)}"
            custom_id = line["custom_id"][: MAX_CUSTOM_ID - len(suffix)] + suffix
        line["custom_id"] = custom_id
        seen.add(custom_id)
