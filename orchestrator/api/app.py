"""`create_app()`: the FastAPI application, its start-up checks, middleware and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api import (
    routes_account,
    routes_admin,
    routes_admin_channels,
    routes_batches,
    routes_callbacks,
    routes_files,
    routes_health,
    routes_jobs,
    routes_keys,
    routes_metrics,
    routes_requests,
    routes_streams,
    routes_webhooks,
)
from orchestrator.api.compat.mount import family_routers
from orchestrator.api.context import AppContext
from orchestrator.api.create_writer import CreateWriter
from orchestrator.api.document import install_document
from orchestrator.api.errors import install_error_handlers
from orchestrator.api.request_log import RequestLogMiddleware, RequestLogWriter
from orchestrator.api.request_size import RequestSizeLimitMiddleware
from orchestrator.db import ensure_schema_current, open_database
from orchestrator.ids import new_token
from orchestrator.job_ends import JobEnds
from orchestrator.messaging import Dispatcher
from orchestrator.pipeline import webhooks
from orchestrator.pipeline.channels import load_channels
from orchestrator.pricing import PriceTable, load_price_table
from orchestrator.settings import Settings, get_settings
from orchestrator.storage import build_storage
from orchestrator.tenants.limits import RateLimiter
from schemas.errors import ErrorResponse
from workers.providers import PROVIDERS


class RequestIdMiddleware:
    """Gives every request an id (or keeps the caller's `X-Request-Id`) and echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else new_token(12)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


def build_context(settings: Settings) -> AppContext:
    """Everything the API needs; refuses to start on an un-migrated database or a bad price file."""
    db = open_database(settings, pool_size=20)
    try:
        ensure_schema_current(db.engine)
        prices = load_price_table(settings.prices_path)
        if settings.channels_file is not None:
            load_channels(settings.channels_file)  # refuse to start on a bad channel file
    except Exception:
        db.dispose()
        raise
    dispatcher = Dispatcher(settings.require_broker_url(), settings.broker_key_prefix)
    db.on_commit(webhooks.commit_hook(dispatcher))
    return AppContext(
        settings=settings,
        db=db,
        storage=build_storage(settings),
        dispatcher=dispatcher,
        prices=prices,
        limiter=RateLimiter(settings.rate_limit_redis_url, settings.broker_key_prefix),
        writer=CreateWriter(db, dispatcher, settings),
        request_log=RequestLogWriter(db) if settings.request_log else None,
    )


def _prices(app: FastAPI, settings: Settings) -> PriceTable:
    """The running API's price table; the operator's files when the document is made without one."""
    context: AppContext | None = getattr(app.state, "context", None)
    return context.prices if context is not None else load_price_table(settings.prices_path)


def create_app(settings: Settings | None = None, context: AppContext | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.context = context or build_context(settings)
        listener = JobEnds(app.state.context.settings.require_listen_url())
        listener.start()
        app.state.context.job_ends = listener
        yield
        await listener.stop()
        app.state.context.job_ends = None
        if context is None:
            app.state.context.writer.close()
            if app.state.context.request_log is not None:
                app.state.context.request_log.close()
            app.state.context.dispatcher.close()
            app.state.context.limiter.close()
            app.state.context.db.dispose()

    app = FastAPI(
        title="genrelay",
        version="0.1.0",
        description="Long media-generation jobs, held and charged only on success.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestLogMiddleware)  # inside the request id's, which it records
    app.add_middleware(RequestSizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestIdMiddleware)  # outermost: the 413 carries the request id too
    own = [
        routes_streams.router,  # before routes_jobs: /v1/jobs/stream is not a job id
        routes_jobs.router,
        routes_batches.router,
        routes_webhooks.router,
        routes_account.router,
        routes_keys.router,
        routes_requests.router,
        routes_files.router,
        routes_callbacks.router,
        routes_health.router,
        *([routes_metrics.metrics_router(settings)] if settings.metrics_on_api else []),
        routes_admin.router,
        routes_admin_channels.router,
    ]
    families = family_routers(PROVIDERS)
    for router in (*own, *families):
        app.include_router(router)
    own_routes = [route for router in own for route in router.routes if isinstance(route, APIRoute)]
    family_routes = [route for router in families for route in router.routes if isinstance(route, APIRoute)]
    install_error_handlers(app, [*own_routes, *family_routes])
    install_document(app, (ErrorResponse, *routes_batches.DOCUMENTED_MODELS), lambda: _prices(app, settings))
    return app


def create_metrics_app(settings: Settings | None = None) -> FastAPI:
    """`/metrics` alone, for `genrelay metrics`: no API route, no document, a pool of two connections."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings, pool_size=2)
        dispatcher = Dispatcher(settings.require_broker_url(), settings.broker_key_prefix)
        app.state.context = routes_metrics.MetricsContext(settings, db, dispatcher)
        yield
        dispatcher.close()
        db.dispose()

    app = FastAPI(
        title="genrelay metrics", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    app.add_middleware(RequestIdMiddleware)
    router = routes_metrics.metrics_router(settings)
    app.include_router(router)
    install_error_handlers(app, [route for route in router.routes if isinstance(route, APIRoute)])
    return app
