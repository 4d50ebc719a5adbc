"""Replicate's wire format (api.replicate.com, and CometAPI's `/replicate` pass-through) as pure functions:
statuses, outputs in their three shapes, RFC 7807 refusals and what each obliges us to do; `adapter` does
the HTTP around them.

Where a detail is unverified (§4.5, §4.7: the create's 201 or 200, the 402/422 bodies, CometAPI's
query), the code is lenient: any 2xx carrying an `id` is a created prediction, a problem's text is read
from `detail`, `title` or a bare string, and a prediction wrapped in a gateway's `data` is unwrapped."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from workers.providers.base import OutputRef, ProviderUpdate, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.replicate.schemas import Prediction
from workers.providers.transport import Phase, raise_for_transient_status, retry_after_seconds

PROVIDER = "replicate"
STATUS_MAP: Mapping[str, UpstreamStatus] = {
    "starting": UpstreamStatus.PENDING,
    "processing": UpstreamStatus.RUNNING,
    "succeeded": UpstreamStatus.SUCCEEDED,
    "failed": UpstreamStatus.FAILED,
    "canceled": UpstreamStatus.CANCELLED,
    "cancelled": UpstreamStatus.CANCELLED,  # the British spelling, should a gateway use it [I]
    # `Cancel-After` passed before the prediction started: Replicate gave it up on the deadline we set
    # from the job's own, unbilled (§4.1). That is the job expiring, not anyone cancelling it.
    "aborted": UpstreamStatus.EXPIRED,
}
# A failure whose text names the model's safety checker is moderation, not a model error.
SAFETY = re.compile(r"nsfw|safety|sensitive|flagged", re.IGNORECASE)
TQDM = re.compile(r"(\d{1,3})%\|")
HTTP_REASONS = {401: "upstream_auth", 402: "upstream_billing", 403: "upstream_auth"}
HTTP_REASONS |= {404: "unknown_model", 422: "invalid_input"}
JSON_OUTPUT = "replicate-prediction:"  # an output that is JSON: the prediction object itself is stored
MAX_RESULT_BYTES = 32 * 1024  # JSON output kept in the job's result; longer, only in its stored file


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def payload(body: Any) -> Mapping[str, Any]:
    """The prediction: the body, or the `data` a gateway wrapped it in."""
    if not isinstance(body, dict):
        return {}
    data = body.get("data")
    return data if isinstance(data, dict) and "status" not in body else body


def problem_text(body: Any, response: httpx.Response) -> str:
    """A problem's (RFC 7807) text: `detail`, else `title`, else the body, else the HTTP status."""
    if isinstance(body, dict):
        for key in ("detail", "title", "error", "message"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    if isinstance(body, str) and body:
        return body
    return f"HTTP {response.status_code}"


def raise_for_refusal(response: httpx.Response, phase: Phase) -> None:
    """Raise what a non-2xx answer obliges us to do."""
    body = body_of(response)
    text = problem_text(body, response)
    if response.status_code == 429:
        raise ProviderUnavailableError(f"replicate: {text}", retry_after=retry_after_seconds(response))
    raise_for_transient_status(response, phase, PROVIDER)
    # A problem's `status` is its code (RFC 7807); its text is what Replicate said.
    own = {"provider_code": str(response.status_code), "provider_message": text}
    if SAFETY.search(text):
        raise ProviderRejectedError("moderation_blocked", f"Replicate refused the input: {text}", **own)
    reason = HTTP_REASONS.get(response.status_code, "upstream_rejected")
    text = f"Replicate refused the request ({response.status_code}): {text}"
    raise ProviderRejectedError(reason, text, **own)


def created_id(response: httpx.Response) -> str:
    """The id of a created prediction (201 or 200, §8), or what its refusal obliges us to raise."""
    prediction_id = payload(body_of(response)).get("id")
    if response.is_success and isinstance(prediction_id, str) and prediction_id:
        return prediction_id
    if response.is_success:
        # Accepted, yet no id: a prediction may well exist, and be billed.
        raise SubmitOutcomeUnknownError(f"replicate: HTTP {response.status_code} and no prediction id")
    raise_for_refusal(response, Phase.SUBMIT)
    raise AssertionError("unreachable")  # pragma: no cover - raise_for_refusal always raises


def read_query(response: httpx.Response) -> ProviderUpdate:
    """A GET's answer: the prediction, "not there (yet)" for a 404, or the refusal raised."""
    found = payload(body_of(response))
    if response.is_success and found.get("status"):
        try:
            return update_from(found)
        except ValidationError as exc:
            raise ProviderUnavailableError(f"replicate: malformed prediction: {exc}") from exc
    if response.status_code == 404:
        return ProviderUpdate(status=UpstreamStatus.UNKNOWN, raw_status="not_found")
    if not response.is_success:
        raise_for_refusal(response, Phase.QUERY)
    raise ProviderUnavailableError(f"replicate: HTTP {response.status_code} with no prediction in it")


def update_from(obj: Mapping[str, Any]) -> ProviderUpdate:
    """A prediction object (raises ValidationError when it is none)."""
    prediction = Prediction.model_validate(obj)
    status = STATUS_MAP.get(prediction.status.lower(), UpstreamStatus.UNKNOWN)
    outputs: tuple[OutputRef, ...] = ()
    result: dict[str, Any] | None = None
    error_code = error_message = None
    if status is UpstreamStatus.SUCCEEDED:
        outputs, result = read_output(prediction)
        if not outputs and prediction.data_removed:
            # Its files were removed (an hour after it ended, §4.3) before we copied them.
            status, error_code = UpstreamStatus.FAILED, "upstream_output_expired"
            error_message = "Replicate removed the prediction's output before it could be copied"
    elif status is UpstreamStatus.FAILED:
        error_message = str(prediction.error or "Replicate reported the prediction failed")
        error_code = "moderation_blocked" if SAFETY.search(error_message) else "upstream_failed"
    return ProviderUpdate(
        status=status,
        raw_status=prediction.status,
        progress=100 if status is UpstreamStatus.SUCCEEDED else progress_of(prediction.logs),
        outputs=outputs,
        error_code=error_code,
        error_message=error_message,
        external_id=prediction.id or None,
        result=result,
        provider_message=str(prediction.error) if error_code and prediction.error else None,
    )


def read_output(prediction: Prediction) -> tuple[tuple[OutputRef, ...], dict[str, Any] | None]:
    """The files to copy and the result to keep: a URL string is one file, a list of URLs several;
    anything else is JSON, kept in the result and stored as the prediction object."""
    output = prediction.output
    if is_url(output):
        return (OutputRef(output, content_type_of(output), label="output"),), {"output_kind": "file"}
    if isinstance(output, list) and output and all(is_url(item) for item in output):
        files = tuple(
            OutputRef(url, content_type_of(url), label=f"output-{n}") for n, url in enumerate(output)
        )
        return files, {"output_kind": "files"}
    if output is None or not prediction.id:
        return (), None
    stored = OutputRef(f"{JSON_OUTPUT}{prediction.id}", "application/json", "output.json", True, True)
    result: dict[str, Any] = {"output_kind": "json"}
    if len(json.dumps(output)) <= MAX_RESULT_BYTES:
        result["output"] = output
    return (stored,), result


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
TYPES |= {"mp4": "video/mp4", "gif": "image/gif", "wav": "audio/wav", "mp3": "audio/mpeg"}


def content_type_of(url: str) -> str | None:
    extension = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    return TYPES.get(extension)


def progress_of(logs: str | None) -> int | None:
    """The last tqdm percentage in the logs (`NN% |…| n/total`), as the client reads it (§4.3)."""
    found = TQDM.findall(logs or "")
    return min(99, int(found[-1])) if found else None


def parse_callback(body: bytes) -> ProviderUpdate:
    """A webhook's body: the prediction object, as a GET answers it (§4.4)."""
    try:
        return update_from(payload(json.loads(body)))
    except (ValueError, ValidationError) as exc:
        raise InvalidCallbackError(f"not a Replicate prediction: {exc}") from exc


def cancel_answer(response: httpx.Response) -> None:
    """A cancel's answer: returns once it is cancelled (or had ended), raises otherwise."""
    if response.is_success or response.status_code == 404:
        return  # a prediction that is gone runs no more
    raise_for_refusal(response, Phase.QUERY)
