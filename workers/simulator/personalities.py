"""Serving a provider's declared simulated routes (`workers.providers.simulation.http`) over HTTP: the
request read into a `SimRequest`, the handler's `SimResponse` written back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from workers.providers.compat import Upload
from workers.providers.simulation.http import SimHandler, SimRequest, SimResponse, SimRoute

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def mount_personality(app: FastAPI, route: SimRoute) -> None:
    # FastAPI's route answers exactly the declared method (Starlette's would add HEAD to a GET).
    app.add_api_route(route.path, _endpoint(route.handle), methods=[route.method], include_in_schema=False)


def mount_shared(app: FastAPI, routes: Sequence[SimRoute]) -> None:
    """One method and path that several personalities declare: each request goes to the first route
    that claims it, else to the one that claims nothing (at most one may)."""
    claiming = [route for route in routes if route.claims is not None]
    rest = [route for route in routes if route.claims is None]
    if len(rest) > 1:
        paths = f"{routes[0].method} {routes[0].path}"
        raise ValueError(f"{paths} is declared by several simulated providers, none of them claiming")

    async def dispatch(request: SimRequest) -> SimResponse:
        for route in claiming:
            if route.claims is not None and route.claims(request):
                return await route.handle(request)
        if rest:
            return await rest[0].handle(request)
        return SimResponse(404, {"detail": "Not Found"})

    mount_personality(app, SimRoute(routes[0].method, routes[0].path, dispatch))


def _endpoint(handle: SimHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return _response(await handle(await read(request)))

    return endpoint


async def read(request: Request) -> SimRequest:
    body = await request.body()
    form, form_error = None, None
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        form, form_error = await _form(request)
    return SimRequest(
        method=request.method,
        path=request.url.path,
        base_url=str(request.base_url),
        headers={name: request.headers[name] for name in request.headers},  # a repeated header's first
        query_params=dict(request.query_params),
        path_params={name: str(value) for name, value in request.path_params.items()},
        body=body,
        form=form,
        form_error=form_error,
        disconnected=request.is_disconnected,
    )


async def _form(request: Request) -> tuple[dict[str, list[str | Upload]] | None, str | None]:
    """The form's fields, or None and the parser's reason when it cannot be read (the handler refuses
    it as its provider would)."""
    fields: dict[str, list[str | Upload]] = {}
    try:
        async with request.form() as parsed:
            for name, value in parsed.multi_items():
                if isinstance(value, str):
                    fields.setdefault(name, []).append(value)
                else:
                    upload = Upload(value.filename, value.content_type, await value.read())
                    fields.setdefault(name, []).append(upload)
    except HTTPException as exc:  # starlette's word on a malformed form
        return None, str(exc.detail)
    return fields, None


def _response(answer: SimResponse) -> Response:
    headers = dict(answer.headers)
    if answer.content is None:
        if answer.body is None:
            return Response(status_code=answer.status, headers=headers)
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)
    if isinstance(answer.content, bytes):
        return Response(
            answer.content, status_code=answer.status, headers=headers, media_type=answer.media_type
        )
    return StreamingResponse(
        iter(answer.content), status_code=answer.status, headers=headers, media_type=answer.media_type
    )
