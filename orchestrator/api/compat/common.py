"""What every compatible route family shares: errors rendered in the provider's own envelope,
job lookup by our id or the client's, and download links to our stored outputs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy import select

from orchestrator import models
from orchestrator.api.context import AppContext
from orchestrator.api.errors import error_headers
from orchestrator.errors import InvalidInputError, JobNotFoundError, OrchestratorError
from orchestrator.models import Job, JobOutput


@dataclass(frozen=True)
class CompatError:
    """An error in neutral terms, for a provider envelope to render."""

    status: int
    code: str
    message: str
    field: str | None = None


ErrorRenderer = Callable[[Request, CompatError], Response]


def _from_domain(exc: OrchestratorError) -> CompatError:
    field = exc.problems[0][0] if isinstance(exc, InvalidInputError) and exc.problems else exc.field
    return CompatError(exc.http_status, exc.code, exc.message, field)


def _from_validation(exc: RequestValidationError) -> CompatError:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = ".".join(str(part) for part in first["loc"] if part not in {"body", "query", "path"})
    if first.get("type") == "json_invalid":
        return CompatError(400, "invalid_json", "the request body is not valid JSON")
    return CompatError(422, "validation_error", f"{field or 'body'}: {first['msg']}", field or None)


def compat_route(render: ErrorRenderer) -> type[APIRoute]:
    """A route class whose errors (auth, validation, domain) come out in the provider's envelope."""

    class CompatRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except OrchestratorError as exc:
                    response = render(request, _from_domain(exc))
                    response.headers.update(error_headers(exc) or {})  # e.g. Retry-After on 429
                    return response
                except RequestValidationError as exc:
                    return render(request, _from_validation(exc))

            return handle

    return CompatRoute


def load_job(
    context: AppContext, account_id: uuid.UUID, provider: str, reference: str
) -> tuple[Job, Sequence[JobOutput]]:
    """The tenant's job of `provider` by our job id or by the client's own reference for it."""
    with context.db.transaction() as session:
        query = select(Job).where(Job.account_id == account_id, Job.provider == provider)
        try:
            query = query.where(Job.job_id == uuid.UUID(reference))
        except ValueError:
            query = query.where(Job.client_reference == reference).order_by(Job.job_id.desc()).limit(1)
        job = session.execute(query).scalars().first()
        if job is None:
            raise JobNotFoundError(f"no task {reference!r} in this account")
        outputs = session.execute(select(JobOutput).where(JobOutput.job_id == job.job_id)).scalars().all()
    return job, outputs


def output_urls(context: AppContext, outputs: Sequence[models.JobOutput]) -> dict[str, str]:
    """Download links of the stored outputs, by label (or index when unlabelled)."""
    ttl = context.settings.download_url_ttl_s
    return {
        output.label or str(output.output_index): context.storage.download_url(
            output.storage_key, expires_in=ttl
        )
        for output in sorted(outputs, key=lambda o: o.output_index)
    }
