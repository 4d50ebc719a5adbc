"""How deep a request body may nest its arrays and objects, free-form values included (a job's input, the
fields of a compatible body it does not list, kept as they came). A bound, as the body's size has one:
a value nested a thousand levels would exhaust whatever walks or copies it, long before it meant anything."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

MAX_NESTING = 32
TOO_DEEP = f"a request body may nest arrays and objects {MAX_NESTING} levels deep at most; flatten it"


def nesting(value: Any, past: int = MAX_NESTING) -> int:
    """How many arrays and objects deep `value` goes (0 for text, numbers, booleans and null); counting
    stops once past `past`, so a value nested a thousand levels costs no more than one nested `past`."""
    if not isinstance(value, (dict, list)) or past < 0:
        return 0
    members = value.values() if isinstance(value, dict) else value
    return 1 + max((nesting(member, past - 1) for member in members), default=0)


def too_deep(value: Any) -> bool:
    return nesting(value) > MAX_NESTING


def _shallow_enough(value: dict[str, Any]) -> dict[str, Any]:
    if nesting(value) > MAX_NESTING - 1:  # it is one level into the body
        raise ValueError(TOO_DEEP)
    return value


# A body's object of free-form values, checked as it is read: before anything walks or copies it.
FreeFormObject = Annotated[dict[str, Any], AfterValidator(_shallow_enough)]
