"""midjourney-proxy's answer envelope, `{code, description, result, properties}`: a submission's, and
an error's with the proxy's business code and a description in the client's own field names."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from workers.providers.compat import CompatAnswer, CompatError

# Our error codes as the proxy's business codes (providers.md §1.2); 23 ("queue full") means "back off
# and send it again". The proxy has none for a bad key, a disabled account or missing credits (new-api
# answers those by HTTP status alone): those carry their HTTP status as the code.
CODES = {"job_not_found": 3, "not_found": 3, "rate_limited": 23, "idempotency_key_in_flight": 23}
# Words new-api uses for these, leading a description that names no field.
TOKENS = {
    "unauthenticated": "unauthorized",
    "insufficient_credits": "quota_not_enough",
    "key_budget_exceeded": "quota_not_enough",
    "job_not_found": "task_no_found",
    "not_found": "task_no_found",
}
# Our names for the client's fields, as the client sent them.
FIELDS = {"parent_job_id": "taskId", "custom_id": "customId", "callback_url": "notifyHook"}
INPUT_PREFIX = "the job input is not valid: "  # creating.validate_input's; the client sent no "input"


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    # 400 is what CometAPI answers (with code 4) for a request it can't take.
    status = 400 if error.status == 422 and not error.code.startswith("idempotency") else error.status
    code = CODES.get(error.code) or (status if status in (401, 402, 403) else 9 if status >= 500 else 4)
    body = {
        "code": code,
        "description": describe(error),
        "result": None,
        "properties": {"requestId": request_id},
    }
    return CompatAnswer(status, body)


def describe(error: CompatError) -> str:
    """The message in the client's terms (`taskId`, not our `parent_job_id`), the field first."""
    message = re.sub(r"\binput\.", "", error.message.removeprefix(INPUT_PREFIX))
    for ours, theirs in FIELDS.items():
        message = re.sub(rf"\b{ours}\b", theirs, message)
    name = (error.field or "").removeprefix("input.")
    field = FIELDS.get(name, name)
    if field in ("", "input"):
        token = TOKENS.get(error.code)
        return f"{token}: {message}" if token else message
    return message if message.startswith(f"{field}:") else f"{field}: {message}"


def submitted(task_id: str) -> dict[str, Any]:
    return {"code": 1, "description": "Submission successful", "result": task_id, "properties": {}}


class ErrorProperties(BaseModel):
    requestId: str | None  # noqa: N815 - the wire's names


class MidjourneyError(BaseModel):
    """A refusal: the proxy's business code (3 not found, 4 invalid, 23 back off and send again; 401,
    402 and 403 for a bad key, missing credits, a disabled account) and what to fix."""

    model_config = ConfigDict(title="MidjourneyError")

    code: int
    description: str
    result: None
    properties: ErrorProperties


class Submitted(BaseModel):
    """A submit's answer: `result` is the task id to fetch."""

    code: Literal[1]
    description: str
    result: str
    properties: dict[str, Any]
