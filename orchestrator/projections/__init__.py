"""Jobs in each provider's own shape, for the compatible routes and the webhooks of jobs that came in
through them. A projection is pure: the job, and the download links of its outputs by label."""

from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.models import Job
from orchestrator.projections import kling, midjourney, runway, suno, veo

Projection = Callable[[Job, Mapping[str, str]], dict[str, Any]]

# api_format -> how that family's clients expect to see a job (in webhooks, as a bare task object).
PROJECTIONS: Mapping[str, Projection] = {
    "kling": kling.task_object,
    "midjourney": midjourney.task_object,
    "runway": runway.task_object,
    "suno": suno.task_object,
    "veo": veo.video_object,
}
