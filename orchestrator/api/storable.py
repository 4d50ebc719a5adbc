"""The document's rule for the one character no text the API keeps may hold: NUL, which PostgreSQL stores
nowhere. The API refuses it in every text a request carries (a value or a key, at any depth); these
functions state that refusal in every schema of the document, so a schema-valid body is never refused
for it."""

from __future__ import annotations

import re
from typing import Any

from schemas.free_form import MAX_NESTING
from schemas.jobs import STORABLE_TEXT

STORABLE_VALUE = "StorableValue"
STORABLE_VALUE_REF = {"$ref": f"#/components/schemas/{STORABLE_VALUE}"}
STORABLE_KEY = {"pattern": STORABLE_TEXT}
STORABLE_DEPTH = 4
# A pattern admits a NUL where it leaves the rest of the text open (no `$` at its end), or where a class
# it takes text from (`\S`, `[^...]`, `.`) does not rule NUL out.
_OPEN_CLASS = re.compile(r"\\S|\[\^(?!\\x00)|(?<![\\\[])\.(?![^\[]*\])")
# What a pattern that admits a NUL is prefixed with: no NUL anywhere (`[\s\S]` spans lines, as `.` does not).
_NO_NUL_AHEAD = r"^(?![\s\S]*\x00)"
_NOT_SCHEMAS = {"example", "examples", "default", "const", "enum"}


def storable_value_schemas() -> dict[str, dict[str, Any]]:
    """Any JSON value whose text, in strings and object keys, holds no NUL character: the rule spelled out
    to `STORABLE_DEPTH` levels of nesting (and said for the rest), as components by name.

    The levels are unrolled rather than one schema naming itself: generated clients (openapi-python-client)
    cannot parse a union that refers back to itself, and drop every model that uses one."""
    names = [STORABLE_VALUE] + [f"{STORABLE_VALUE}{level}" for level in range(2, STORABLE_DEPTH + 1)]
    schemas = {}
    for level, name in enumerate(names, start=1):
        inner: dict[str, Any] = {"$ref": f"#/components/schemas/{names[level]}"} if level < len(names) else {}
        schemas[name] = {
            "title": name,
            "description": "Any JSON value with no NUL character (\\u0000) in its text, at any depth (a "
            f"request body nests its arrays and objects {MAX_NESTING} levels deep at most).",
            "anyOf": [
                {"type": "string", "pattern": STORABLE_TEXT},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
                {"type": "array", "items": inner},
                {"type": "object", "propertyNames": STORABLE_KEY, "additionalProperties": inner},
            ],
        }
    return schemas


def admits_nul(pattern: str) -> bool:
    """Whether text holding a NUL can match `pattern` (by its form: a pattern left open at its end, or
    one taking text from a class that does not rule NUL out)."""
    if pattern in {STORABLE_TEXT} or pattern.startswith(_NO_NUL_AHEAD):
        return False
    return not pattern.endswith("$") or bool(_OPEN_CLASS.search(pattern))


def forbid_nul_in_text(schema: Any) -> None:
    """State in every schema under `schema` that its text holds no NUL: free text (a string with no
    pattern, format, enum or const) takes `STORABLE_TEXT`; a pattern that admits a NUL is prefixed by a
    look-ahead that does not; an object that takes more properties than it lists (and keeps them) says
    their keys hold no NUL, and an open value (`true` or `{}`) becomes a `StorableValue`. An object
    that says nothing of other properties ignores them: it is left as it is."""
    if isinstance(schema, list):
        for item in schema:
            forbid_nul_in_text(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not {"format", "enum", "const"} & schema.keys():
        _forbid_nul_in_string(schema)
    _forbid_nul_in_open_values(schema)
    for key, value in schema.items():
        if key not in _NOT_SCHEMAS:
            forbid_nul_in_text(value)


def _forbid_nul_in_string(schema: dict[str, Any]) -> None:
    pattern = schema.get("pattern")
    if pattern is None:
        schema["pattern"] = STORABLE_TEXT
    elif admits_nul(pattern):
        # A pattern not anchored at the start may match anywhere in the text: it still may.
        anywhere = "" if pattern.startswith("^") else r"[\s\S]*?"
        schema["pattern"] = f"{_NO_NUL_AHEAD}{anywhere}(?:{pattern})"


def _forbid_nul_in_open_values(schema: dict[str, Any]) -> None:
    for key in ("additionalProperties", "items"):
        if schema.get(key) is True or schema.get(key) == {}:
            schema[key] = dict(STORABLE_VALUE_REF)
    if schema.get("additionalProperties", False) is not False:
        _forbid_nul_in_string(schema.setdefault("propertyNames", {}))
