"""The single mapping from errors to JSON error bodies (stable code, actionable message, request id), and
the `responses=` entries that document them on the routes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from orchestrator.db import DATABASE_OUTAGES
from orchestrator.errors import (
    InvalidInputError,
    OrchestratorError,
    RateLimitedError,
    ServiceUnavailableError,
)
from schemas.errors import ErrorBody, ErrorResponse, FieldProblem

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


# What each error status means on any route; a route may say more of its own (`error_responses`).
STATUS_DESCRIPTIONS = {
    400: "The body is not valid JSON (`invalid_json`) or cannot be parsed (`bad_request`).",
    401: "No credentials, or unknown, revoked or wrong ones (`unauthenticated`).",
    402: "The account's available credits do not cover the price (`insufficient_credits`), or the "
    "key's monthly spend cap would be passed (`key_budget_exceeded`).",
    403: "The credentials are valid but may not do this (`account_disabled`, `admin_disabled`, "
    "`provider_not_allowed`, `forbidden`).",
    404: "Nothing of that id in this account (`not_found`, `job_not_found`, ...).",
    409: "The resource's state does not allow this now (`job_not_cancellable`, `key_limit_reached`, ...).",
    413: "The body is larger than this deployment accepts (`request_too_large`).",
    415: "The body's content type is not one this operation takes (`unsupported_media_type`).",
    422: "The request breaks a rule of its schema or of its provider (`validation_error`, "
    "`invalid_request`, `invalid_input`, ...), every field at fault in `fields`.",
    429: "Too many requests per second, or too many unfinished jobs (`rate_limited`).",
    503: "A service this operation needs is unavailable; try again later.",
}
_STATUS_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Whole seconds to wait.", "schema": {"type": "integer"}}},
}


def error_responses(
    *statuses: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of the error statuses a route can answer, each with `ErrorResponse`;
    `described` gives a route's own description of a status instead of the standard one."""
    entries: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        # The content is given, not `model`: FastAPI would file a model under the route's own media
        # type, which is not JSON on a streaming or file route. ErrorResponse joins the components in
        # orchestrator.api.document.
        entry: dict[str, Any] = {
            "description": (described or {}).get(status, STATUS_DESCRIPTIONS[status]),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        }
        if status in _STATUS_HEADERS:
            entry["headers"] = _STATUS_HEADERS[status]
        entries[status] = entry
    return entries


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    fields: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(code=code, message=message, request_id=request_id(request), fields=fields)
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else None


def _field_path(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrchestratorError)
    fields = None
    if isinstance(exc, InvalidInputError):
        fields = [FieldProblem(field=field, message=message) for field, message in exc.problems]
    elif exc.field:
        fields = [FieldProblem(field=exc.field, message=exc.message)]
    return error_response(request, exc.http_status, exc.code, exc.message, fields, error_headers(exc))


def error_headers(exc: OrchestratorError) -> dict[str, str] | None:
    """The HTTP headers a domain error calls for, whichever envelope renders its body."""
    if exc.http_status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, RateLimitedError | ServiceUnavailableError):
        return {"Retry-After": str(exc.retry_after_s)}
    return None


def as_outage(exc: Exception) -> ServiceUnavailableError | None:
    """The 503 a database outage is answered with; None for any other error."""
    if not isinstance(exc, DATABASE_OUTAGES):
        return None
    log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return ServiceUnavailableError(
        "the database is unavailable for a moment; nothing was changed: send the same request again "
        "after Retry-After seconds"
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(request, 400, "invalid_json", "the request body is not valid JSON")
    problems = [FieldProblem(field=_field_path(tuple(e["loc"])), message=e["msg"]) for e in errors]
    summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
    return error_response(request, 422, "validation_error", f"the request is not valid: {summary}", problems)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"there is no route {request.method} {request.url.path}; see /docs"
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return error_response(request, exc.status_code, code, message, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path: one path may be served by several routes, each of
    one method, and the router's own `Allow` names only the first's. A path that routes without
    parameters spell is theirs alone, as the API document reads it (OpenAPI matches a concrete path
    before a template): a template that spells it too adds no method."""
    routes: list[Route] = getattr(request.app.state, "method_routes", [])
    scope = {**request.scope, "type": "http"}
    matching = [route for route in routes if route.methods and route.matches(scope)[0] != Match.NONE]
    concrete = [route for route in matching if not route.param_convertors]
    methods: set[str] = set()
    for route in concrete or matching:
        methods |= route.methods or set()
    return sorted(methods)


async def _outage(request: Request, exc: Exception) -> JSONResponse:
    outage = as_outage(exc)
    assert outage is not None
    return await _domain_error(request, outage)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        request,
        500,
        "internal_error",
        "something went wrong on our side; quote the request id to the operator",
    )


def install_error_handlers(app: FastAPI, routes: list[Route]) -> None:
    """The handlers, and the routes (flat, as their routers hold them) whose methods a 405 lists."""
    app.state.method_routes = routes
    app.add_exception_handler(OrchestratorError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for outage in DATABASE_OUTAGES:  # answered, not re-raised to the server's log as a crash
        app.add_exception_handler(outage, _outage)
    app.add_exception_handler(Exception, _unexpected)
