"""Each provider's compatible route family (`workers.providers.compat`) mounted on the API: a router per
family, the caller authenticated (with the family's own key headers too), the request read into a
`CompatRequest`, the handler run with the caller's jobs, and every error put in the family's envelope."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.api.compat.bodies import read_json_or_form
from orchestrator.api.compat.caller_jobs import CallerJobs, as_job_id
from orchestrator.api.compat.documented import error_responses
from orchestrator.api.compat.waiting import answer_when_ended
from orchestrator.api.context import AppContext, Context, bearer, get_principal
from orchestrator.api.errors import as_outage, error_headers
from orchestrator.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    OrchestratorError,
    ParentJobNotFoundError,
    ParentJobNotSucceededError,
)
from orchestrator.models import Job, JobOutput
from orchestrator.storage import LocalStorage
from orchestrator.tenants.accounts import Principal
from orchestrator.tenants.creating import NO_NUL, nul_at
from schemas.free_form import TOO_DEEP, too_deep
from schemas.jobs import IDEMPOTENCY_KEY_PATTERN
from workers.providers.compat import (
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    StoredOutput,
    invalid,
)
from workers.providers.registry import ProviderRegistry

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN),
]


def family_routers(providers: ProviderRegistry) -> list[APIRouter]:
    """A router for every compatible route family: each provider's own, and the shared ones."""
    return [family_router(provider, family) for provider, family in providers.route_families()]


def family_router(provider: str | None, family: CompatFamily) -> APIRouter:
    router = APIRouter(prefix=family.prefix, tags=[family.openapi_tag], route_class=_route_class(family))
    caller = _caller_dependency(family.key_headers)
    for route in family.routes:
        router.add_api_route(
            route.path,
            _endpoint(provider, family, route, caller),
            methods=[route.method],
            summary=route.summary,
            description=route.description,
            status_code=route.status_code,
            openapi_extra=dict(route.openapi_extra) if route.openapi_extra else None,
            response_class=JSONResponse,
            responses=error_responses(family, route),
        )
    return router


# --- errors -------------------------------------------------------------------------------------------


PARENT_ERRORS = (ParentJobNotFoundError, ParentJobNotSucceededError)


def from_domain(exc: OrchestratorError) -> CompatError:
    field = exc.problems[0][0] if isinstance(exc, InvalidInputError) and exc.problems else exc.field
    # A family's follow-up names its parent task in a field of its body; the providers' protocols refuse
    # an unknown or unfinished one as a bad field of the request (Midjourney's 400 code 4, Runway's 400).
    status = 422 if isinstance(exc, PARENT_ERRORS) else exc.http_status
    return CompatError(status, exc.code, exc.message, field, error_headers(exc))


def from_validation(exc: RequestValidationError) -> CompatError:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = ".".join(str(part) for part in first["loc"] if part not in {"body", "query", "path"})
    if first.get("type") == "json_invalid":
        return CompatError(400, "invalid_json", "the request body is not valid JSON")
    return CompatError(422, "validation_error", f"{field or 'body'}: {first['msg']}", field or None)


def from_model_validation(exc: ValidationError) -> CompatError:
    """A unified request built from the client's fields failed (e.g. a callback URL that is no URL)."""
    first = exc.errors()[0]
    return invalid(first["msg"], ".".join(str(part) for part in first["loc"]) or None)


def request_id(request: Request) -> str | None:
    state: dict[str, Any] = request.scope.get("state", {})
    return state.get("request_id")


def as_compat_error(exc: Exception) -> CompatError | None:
    """An error a family renders in its envelope (None: not one, e.g. the API's own 413)."""
    if isinstance(exc, CompatError):
        return exc
    domain = exc if isinstance(exc, OrchestratorError) else as_outage(exc)
    if domain is not None:  # the database being down is answered in the family's envelope too
        return from_domain(domain)
    if isinstance(exc, RequestValidationError):
        return from_validation(exc)
    if isinstance(exc, ValidationError):
        return from_model_validation(exc)
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 400:  # a body that cannot be read
        return CompatError(400, "invalid_json", "the request body is not valid JSON")
    return None


def _route_class(family: CompatFamily) -> type[APIRoute]:
    """Routes whose errors (auth, validation, domain, the handler's own) come out in the family's envelope."""

    class FamilyRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:
                    error = as_compat_error(exc)
                    if error is None:
                        raise
                response = _json(family.render_error(error, request_id(request)))
                response.headers.update(error.headers)  # e.g. Retry-After on 429
                return response

            return handle

    return FamilyRoute


# --- authentication -----------------------------------------------------------------------------------


def _caller_dependency(key_headers: tuple[str, ...]) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """The caller, from `Authorization: Bearer` or any of the family's own key headers, checked (and
    rate-limited) exactly as the unified routes check a bearer key."""
    if not key_headers:
        return get_principal

    async def caller(
        request: Request,
        context: AppContext,
        credentials: HTTPAuthorizationCredentials | None,
        **keys: str | None,
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            secret = next((value for value in keys.values() if value), None)
            if not secret:
                sent = " or ".join(f"`{name}: <key>`" for name in key_headers)
                raise AuthenticationError(f"send your API key as `Authorization: Bearer <key>` or {sent}")
            credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret)
        return await get_principal(request, context, credentials)

    # Each header is a security scheme of its own in the API document.
    schemes = [
        APIKeyHeader(
            name=name,
            scheme_name=name,
            auto_error=False,
            description="Your API key, as this family's clients send it.",
        )
        for name in key_headers
    ]
    keyword = inspect.Parameter.KEYWORD_ONLY
    caller.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", keyword, annotation=Request),
            inspect.Parameter("context", keyword, annotation=Context),
            inspect.Parameter(
                "credentials",
                keyword,
                annotation=Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
            ),
            *(
                inspect.Parameter(f"key_{n}", keyword, annotation=Annotated[str | None, Depends(scheme)])
                for n, scheme in enumerate(schemes)
            ),
        ],
        return_annotation=Principal,
    )
    return caller


# --- the endpoint -------------------------------------------------------------------------------------


def _endpoint(
    provider: str | None, family: CompatFamily, route: CompatRoute, caller: Callable[..., Any]
) -> Callable[..., Coroutine[Any, Any, Response]]:
    async def endpoint(request: Request, **values: Any) -> Response:
        context: AppContext = values["context"]
        body, form = values.get("body"), None
        if route.form:
            body, form = await read_json_or_form(request, route)
        # As sent, before anything walks or copies it: the model holds what the route reads of it.
        sent = body if route.form or body is None else await request.json()
        if too_deep(sent):
            raise invalid(TOO_DEEP)
        _refuse_nul(body, form)
        compat_request = CompatRequest(
            path_params=dict(request.path_params),
            query=dict(request.query_params),
            # A repeated header counts by its first value, as a declared `Header()` parameter reads it.
            headers={name.lower(): request.headers[name] for name in request.headers},
            body=body,
            form=form,
            request_id=request_id(request),
        )
        jobs = CallerJobs(context, values["caller"], provider, family.name, values.get("idempotency_key"))
        answer = await run_in_threadpool(route.handle, compat_request, jobs)
        if answer.wait is not None:
            answer = await answer_when_ended(context, jobs, answer, answer.wait)
        if answer.output is not None:
            return await run_in_threadpool(serve_output, context, values["caller"], answer.output)
        return _json(answer)

    endpoint.__signature__ = _signature(route, caller)  # type: ignore[attr-defined]
    path = re.sub(r"\W+", "_", route.path).strip("_")
    endpoint.__name__ = f"{family.name}_{route.method.lower()}_{path}"
    return endpoint


def _refuse_nul(body: Any, form: Mapping[str, Sequence[Any]] | None) -> None:
    """Refuse text holding a NUL character anywhere in the body, as the API document says: no job, no
    lookup and no log line can keep it."""
    raw = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    fields = {
        name: [value for value in values if isinstance(value, str)] for name, values in (form or {}).items()
    }
    where = nul_at(raw) or nul_at(fields)
    if where is not None:
        raise invalid(NO_NUL, where)


def _signature(route: CompatRoute, caller: Callable[..., Any]) -> inspect.Signature:
    """What FastAPI reads the endpoint's inputs from: the request, the context and caller, the path
    parameters, the body (the route's model, or any JSON object), the documented query and headers."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("context", keyword, annotation=Context),
        inspect.Parameter("caller", keyword, annotation=Annotated[Principal, Depends(caller)]),
    ]
    params += [
        inspect.Parameter(name, keyword, annotation=_path_type(route, name))
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.body is not None:
        params.append(inspect.Parameter("body", keyword, annotation=route.body))
    elif not route.form and not route.bodyless and route.method in {"POST", "PUT", "PATCH"}:
        params.append(inspect.Parameter("body", keyword, annotation=Annotated[dict[str, Any], Body()]))
    for n, name in enumerate(route.query):
        params.append(
            inspect.Parameter(
                f"query_{n}", keyword, default=None, annotation=Annotated[str | None, Query(alias=name)]
            )
        )
    for n, name in enumerate(route.headers):
        params.append(
            inspect.Parameter(
                f"header_{n}", keyword, default=None, annotation=Annotated[str | None, Header(alias=name)]
            )
        )
    for n, name in enumerate(route.required_headers):
        params.append(
            inspect.Parameter(f"required_header_{n}", keyword, annotation=Annotated[str, Header(alias=name)])
        )
    if route.method == "POST":
        params.append(inspect.Parameter("idempotency_key", keyword, default=None, annotation=IdempotencyKey))
    return inspect.Signature(params, return_annotation=Response)


def _path_type(route: CompatRoute, name: str) -> Any:
    """A path parameter's type: one of its values where the route lists them, else any text."""
    values = route.path_values.get(name)
    return Literal[values] if values else str  # Literal[("a", "b")] is Literal["a", "b"]


def _json(answer: CompatAnswer) -> Response:
    if answer.body is None and answer.status == 204:
        return Response(status_code=204, headers=dict(answer.headers))
    return JSONResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))


def serve_output(context: AppContext, caller: Principal, output: StoredOutput) -> Response:
    """Stream a local file; send object storage's clients to a fresh presigned link."""
    job_id = as_job_id(output.job_id)
    with context.db.transaction() as session:
        stored = (
            session.execute(
                select(JobOutput)
                .join(Job, Job.job_id == JobOutput.job_id)
                .where(
                    Job.account_id == caller.account_id, Job.job_id == job_id, JobOutput.label == output.label
                )
            )
            .scalars()
            .first()
        )
    if stored is None:
        raise NotFoundError("the job has no such stored output")
    storage = context.storage
    if isinstance(storage, LocalStorage):
        path = storage.path_for(stored.storage_key)
        if not path.is_file():
            raise NotFoundError("the stored output is missing")
        return FileResponse(path, media_type=stored.content_type)
    url = storage.download_url(stored.storage_key, expires_in=context.settings.download_url_ttl_s)
    return RedirectResponse(url, status_code=307)
