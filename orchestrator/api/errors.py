"""The single mapping from errors to JSON error bodies: stable code, actionable message, request id."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.errors import InvalidInputError, OrchestratorError, RateLimitedError
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
    if isinstance(exc, RateLimitedError):
        return {"Retry-After": str(exc.retry_after_s)}
    return None


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
    return error_response(request, exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        request,
        500,
        "internal_error",
        "something went wrong on our side; quote the request id to the operator",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OrchestratorError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
