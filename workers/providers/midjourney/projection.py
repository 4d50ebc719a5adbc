"""A job as midjourney-proxy's task object (CometAPI's `/mj/task/{id}/fetch`): proxy status names,
"58%" progress, ms timestamps, the upstream's buttons, and our URLs for the images and videos."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, RootModel

from schemas.jobs import JobStatus
from workers.providers.compat import JobView
from workers.providers.midjourney.schemas import action_kind
from workers.providers.midjourney.wire import CONTINUATION_KEY

STATUS = {
    # Not yet handed to the upstream: the proxy's own name for a task not yet sent to Discord.
    JobStatus.QUEUED: "NOT_START",
    JobStatus.SUBMITTING: "NOT_START",
    JobStatus.SUBMITTED: "SUBMITTED",
    JobStatus.RUNNING: "IN_PROGRESS",
    # Upstream may be done, but the files are not ours yet: SUCCESS only once they are.
    JobStatus.STORING: "IN_PROGRESS",
    JobStatus.ACTION_REQUIRED: "MODAL",  # waiting for `/mj/submit/modal`
    JobStatus.SUCCEEDED: "SUCCESS",
    JobStatus.FAILED: "FAILURE",
    JobStatus.CANCELLED: "FAILURE",
    JobStatus.EXPIRED: "FAILURE",
}
OPERATIONS = {
    "imagine": "IMAGINE",
    "blend": "BLEND",
    "describe": "DESCRIBE",
    "video": "VIDEO",
    "edits": "EDITS",
}
# A button's kind (workers.providers.midjourney.schemas.action_kind) as the proxy names the task it starts.
ACTIONS = {
    "upsample": "UPSCALE",
    "upscale": "UPSCALE",
    "variation": "VARIATION",
    "reroll": "REROLL",
    "zoom": "ZOOM",
    "custom_zoom": "CUSTOM_ZOOM",
    "pan": "PAN",
    "inpaint": "INPAINT",
    "animate": "VIDEO",
    "video_upscale": "UPSCALE",
    "imagine": "IMAGINE",
    "describe": "DESCRIBE",
}
BUTTON_DEFAULTS = {"customId": "", "emoji": "", "label": "", "type": 2, "style": 2}
NIJI_MODELS = frozenset({"niji-6"})


def epoch_ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment else 0


def task_object(job: JobView) -> dict[str, Any]:
    """The task object of `job`, with the download links of its stored outputs (`job.outputs`)."""
    status = STATUS[JobStatus(job.status)]
    result = job.result or {}
    prompt = prompt_of(job)
    prompt_en = str(result.get("promptEn") or prompt)
    action = action_of(job)
    mine = job.outputs if status == "SUCCESS" else {}
    videos = [url for label, url in mine.items() if label.startswith("video")]
    return {
        "id": job.job_id,
        "action": action,
        "customId": str(job.input.get("custom_id") or ""),
        "botType": job.input.get("botType")
        or ("NIJI_JOURNEY" if job.model in NIJI_MODELS else "MID_JOURNEY"),
        "prompt": prompt,
        "promptEn": prompt_en,
        "description": f"/{action.lower()} {prompt}".strip(),
        "state": job.client_reference or "",
        "submitTime": epoch_ms(job.created_at),
        "startTime": epoch_ms(job.submitted_at or job.started_at),
        "finishTime": epoch_ms(job.finished_at) if status in ("SUCCESS", "FAILURE") else 0,
        "imageUrl": mine.get("image", ""),
        "videoUrl": videos[0] if videos else "",
        "videoUrls": [{"url": url} for url in videos],
        "status": status,
        "progress": progress(job, status),
        "failReason": (job.error_message or job.error_code or "the task failed")
        if status == "FAILURE"
        else "",
        "buttons": buttons(job) if status == "SUCCESS" else [],
        "properties": {"finalPrompt": str(result.get("finalPrompt") or prompt_en), "finalZhPrompt": ""},
    }


def action_of(job: JobView) -> str:
    """The upstream's own name once it told us, else ours from the operation or the pressed button."""
    told = (job.result or {}).get("action")
    if told:
        return str(told)
    if job.operation != "action":
        return OPERATIONS.get(job.operation, job.operation.upper())
    custom_id = str(job.input.get("custom_id") or "")
    lowered = custom_id.lower()
    if "high_variation" in lowered or "low_variation" in lowered:
        return "HIGH_VARIATION" if "high_variation" in lowered else "LOW_VARIATION"
    return ACTIONS.get(action_kind(custom_id), "CUSTOM")


def prompt_of(job: JobView) -> str:
    """What the client asked for: its modal prompt, its own prompt, or (an action) the upstream's."""
    modal = job.input.get(CONTINUATION_KEY) or {}
    own = modal.get("prompt") or job.input.get("prompt")
    if own:
        return str(own)
    return str((job.result or {}).get("promptEn") or "") if job.operation == "action" else ""


def progress(job: JobView, status: str) -> str:
    """ "100%" only once our copies are stored; "" on failure, as the proxy shows it."""
    if status == "SUCCESS":
        return "100%"
    if status == "FAILURE":
        return ""
    return f"{min(job.progress, 99)}%"


def buttons(job: JobView) -> list[dict[str, Any]]:
    """The upstream's buttons as it sent them: their customIds come back to `/mj/submit/action`."""
    found = (job.result or {}).get("buttons") or []
    return [
        {
            key: button.get(key) if button.get(key) is not None else default
            for key, default in BUTTON_DEFAULTS.items()
        }
        for button in found
        if isinstance(button, dict) and button.get("customId")
    ]


class VideoLink(BaseModel):
    url: str


class TaskObject(BaseModel):
    """The task object `task_object` answers, as the API document shows it."""

    id: str
    action: str
    customId: str  # noqa: N815 - the wire's names
    botType: str  # noqa: N815
    prompt: str
    promptEn: str  # noqa: N815
    description: str
    state: str
    submitTime: int  # noqa: N815
    startTime: int  # noqa: N815
    finishTime: int  # noqa: N815
    imageUrl: str  # noqa: N815
    videoUrl: str  # noqa: N815
    videoUrls: list[VideoLink]  # noqa: N815
    status: Literal["NOT_START", "SUBMITTED", "MODAL", "IN_PROGRESS", "SUCCESS", "FAILURE"]
    progress: str
    failReason: str  # noqa: N815
    buttons: list[dict[str, Any]]
    properties: dict[str, str]


class TaskObjects(RootModel[list[TaskObject]]):
    """The tasks asked for that are in the caller's account, in the order asked."""
