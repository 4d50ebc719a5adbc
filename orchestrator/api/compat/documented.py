"""What the API document says a compatible route can answer besides its success: every status the core
and the route's handler may refuse it with, as the family renders it (its own envelope and its own
status, found by rendering each refusal), and the API's own 413 for a body over the size limit."""

from __future__ import annotations

import re
from typing import Any

from schemas.errors import ErrorResponse
from workers.providers.compat import (
    CORE_ERRORS,
    LOOKUP_ERRORS,
    CompatError,
    CompatFamily,
    CompatRoute,
)

# A refusal of each status, in genrelay's neutral terms, and what it means to the client.
REFUSALS: dict[int, tuple[str, str]] = {
    400: ("invalid_json", "The body is not valid JSON, or a value is malformed."),
    401: ("unauthenticated", "No API key, or a key that is unknown, revoked or of a disabled account."),
    402: ("insufficient_credits", "The account's credits do not cover the job's price."),
    403: ("account_disabled", "The account is disabled."),
    404: ("job_not_found", "The account has no such job (another tenant's is as unknown)."),
    409: ("idempotency_key_in_flight", "A conflict with the job's state or a request still in flight."),
    413: ("request_too_large", "The body is larger than this route accepts."),
    422: ("validation_error", "A value is not valid; the message names it."),
    429: ("rate_limited", "Too many requests for the key, or too many open jobs; see Retry-After."),
}
IDEMPOTENCY_REUSED = ("idempotency_key_reused", "The Idempotency-Key was used for another request.")
PLAIN_TOO_LARGE = "The body is larger than the API accepts (`GENRELAY_MAX_REQUEST_BYTES`)."


def error_responses(family: CompatFamily, route: CompatRoute) -> dict[int | str, dict[str, Any]]:
    """The route's refusals for FastAPI's `responses=`, each under the status the family answers it."""
    statuses = set(CORE_ERRORS) | set(route.errors)
    reads_body = (
        route.body is not None
        or route.form
        or (route.method in {"POST", "PUT", "PATCH"} and not route.bodyless)
    )
    if reads_body:
        statuses |= {400, 422}
    if route.query or route.headers or route.required_headers:
        statuses.add(422)
    if re.search(r"{\w+}", route.path):
        statuses |= set(LOOKUP_ERRORS)
    if route.too_large is not None or route.max_body_bytes is not None:
        statuses.add(413)
    envelope: dict[str, Any] = {"model": family.error_schema} if family.error_schema else {}
    responses: dict[int | str, dict[str, Any]] = {}
    if route.response is not None:
        responses[route.status_code] = {"description": "Successful Response", "model": route.response}
    refusals = [(status, *REFUSALS[status]) for status in sorted(statuses)]
    if 422 in route.errors:  # a create route: its Idempotency-Key reused for another request
        refusals.append((422, *IDEMPOTENCY_REUSED))
    for status, code, meaning in refusals:
        answered = family.render_error(CompatError(status, code, meaning), None).status
        if answered < 400:
            continue  # the family answers this refusal inside its success envelope
        entry = responses.setdefault(answered, {"description": "", **envelope})
        entry["description"] = " ".join(filter(None, (entry["description"], meaning)))
    if reads_body and 413 not in responses:
        responses[413] = {"description": PLAIN_TOO_LARGE, "model": ErrorResponse}
    return responses
