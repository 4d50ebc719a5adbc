"""Jobs in each provider's own shape, for the compatible routes and the webhooks of jobs that came in
through them: a provider's route family projects a job (`workers.providers.compat.JobView`)."""

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.models import Job
from orchestrator.views import provider_view
from workers.providers import PROVIDERS

Projection = Callable[[Job, Mapping[str, str]], dict[str, Any]]

# api_format -> the function of orchestrator.projections.<api_format>, for the families their
# provider package does not declare yet.
LEGACY = {"midjourney": "task_object", "runway": "task_object", "suno": "task_object", "veo": "video_object"}


def projection_for(api_format: str) -> Projection | None:
    """How jobs created through the `api_format` route family look to its clients (None: unified)."""
    for provider in PROVIDERS.values():
        family = provider.compat
        if family is not None and family.name == api_format:
            return lambda job, urls: family.project(provider_view(job, urls))
    if api_format in LEGACY:
        projection: Projection = getattr(
            importlib.import_module(f"orchestrator.projections.{api_format}"), LEGACY[api_format]
        )
        return projection
    return None
