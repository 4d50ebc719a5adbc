"""Jobs in their route family's own shape, for the webhooks of jobs that came in through a provider's
compatible routes: the family a provider declares projects a job (`workers.providers.compat.JobView`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from orchestrator.models import Job
from orchestrator.views import provider_view
from workers.providers import PROVIDERS
from workers.providers.compat import CompatFamily, JobView

Projection = Callable[[Job, Mapping[str, str]], dict[str, Any]]


def family_of(api_format: str) -> CompatFamily | None:
    """The route family named `api_format` (None: the unified API's own shape)."""
    return next((family for _, family in PROVIDERS.route_families() if family.name == api_format), None)


def projection_for(api_format: str) -> Projection | None:
    """How jobs created through the `api_format` route family look to its clients (None: unified)."""
    family = family_of(api_format)
    if family is None:
        return None
    return lambda job, urls: family.project(provider_view(job, urls))


def as_of(view: JobView, snapshot: Mapping[str, Any]) -> JobView:
    """`view` as the event's snapshot recorded the job: an event delivered after the job moved on
    must not report the later state."""
    error = snapshot.get("error") or {}

    def moment(name: str) -> datetime | None:
        return datetime.fromisoformat(snapshot[name]) if snapshot.get(name) else None

    return dataclasses.replace(
        view,
        status=snapshot["status"],
        progress=snapshot["progress"],
        error_code=error.get("code"),
        error_message=error.get("message"),
        result=snapshot.get("result"),
        charged=snapshot["charged"],
        updated_at=datetime.fromisoformat(snapshot["updated_at"]),
        submitted_at=moment("submitted_at"),
        finished_at=moment("finished_at"),
    )
