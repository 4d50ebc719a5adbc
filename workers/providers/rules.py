"""Rules across the fields of a provider's input, as JSON schema keywords for its document: what its
validators check beyond each field alone (exactly one of two sources, fields that go together)."""

from __future__ import annotations

from pydantic.config import JsonDict


def given(name: str) -> JsonDict:
    """The field is sent, and not as null."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def left_out(*names: str) -> JsonDict:
    """The fields are not sent, or sent as null."""
    return {"properties": {name: {"type": "null"} for name in names}}


def exactly_one(*names: str) -> JsonDict:
    """Exactly one of the fields is sent (not as null)."""
    return {"oneOf": [given(name) for name in names]}
