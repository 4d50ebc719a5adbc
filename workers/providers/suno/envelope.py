"""Suno's answer envelope on the compatible routes, `{code, message, data}`: a submission's (our job id as
the task id) and an error's, with new-api's string codes and a message in the client's field names."""

from __future__ import annotations

import re
from typing import Any

from schemas.jobs import JobCreate
from workers.providers.compat import CompatAnswer, CompatError, JobView

# Our error codes as the string codes new-api/CometAPI put in the envelope (providers.md §4.5).
CODES = {
    "unauthenticated": (401, "unauthorized"),
    "insufficient_credits": (402, "quota_not_enough"),
    "key_budget_exceeded": (402, "quota_not_enough"),
    "job_not_found": (400, "task_not_exist"),
    "not_found": (400, "task_not_exist"),
}
# Our names for the client's fields, as the client sent them.
FIELDS = {"callback_url": "notify_hook", "model": "mv"}
INPUT_PREFIX = "the job input is not valid: "  # creating.validate_input's; the client sent no "input"


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    status, code = CODES.get(error.code, (error.status, error.code))
    if error.status in {400, 422} and error.code not in CODES and not error.code.startswith("idempotency"):
        status, code = 400, "invalid_request"  # what new-api answers for any body it can't take
    message = code if code == "task_not_exist" else client_message(error)
    return CompatAnswer(status, {"code": code, "message": message, "data": None})


def client_message(error: CompatError) -> str:
    """The message in the client's terms: its field names (`mv`, not our `model`), the field first."""
    message = error.message.removeprefix(INPUT_PREFIX).removeprefix("input: ").replace("input.", "")
    for ours, theirs in FIELDS.items():
        message = re.sub(rf"\b{ours}\b", theirs, message)
    field = FIELDS.get(error.field or "", (error.field or "").removeprefix("input."))
    if field in ("", "input") or message.startswith(f"{field}:"):
        return message
    return f"{field}: {message}"


def ok(data: Any) -> dict[str, Any]:
    return {"code": "success", "message": "", "data": data}


def created(job: JobView) -> CompatAnswer:
    """A submit's answer: our job id is the task id the client fetches by."""
    return CompatAnswer(200, ok(job.job_id))


def sent(body: dict[str, Any]) -> dict[str, Any]:
    # Clients built on Go structs send every field, unused ones as null or "": those were not sent.
    return {key: value for key, value in body.items() if value is not None and value != ""}


def job(operation: str, model: str, fields: dict[str, Any], callback_url: Any = None) -> JobCreate:
    # `mv` or `notify_hook` of the wrong shape fails validation here: the mount answers it as the
    # client's invalid request, in Suno's envelope.
    return JobCreate(
        provider="suno", operation=operation, model=model, input=fields, callback_url=callback_url
    )
