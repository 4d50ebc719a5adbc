"""Replicate-compatible routes, under `/v1` as Replicate's own API and under CometAPI's `/replicate/v1`:
create on the official-model route or by a known version, get, cancel, the cursor-paged list, a known
version's record, and the caller's webhook secret; genrelay's durable jobs behind them.

A create may ask `Prefer: wait[=N]` (1-60 s): the answer then comes when the job ends or after N seconds,
held by the core without a worker, a thread or a database connection. Errors are RFC 7807 problems
`{title, status, detail}`, as Replicate's."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from schemas.jobs import JobCreate, JobStatus
from workers.providers.compat import (
    CREATE_ERRORS,
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Jobs,
    JobView,
    Lookup,
    WaitFor,
    invalid,
)
from workers.providers.replicate import document
from workers.providers.replicate.catalog import MODELS, VERSIONS, model_of_version
from workers.providers.replicate.projection import prediction
from workers.providers.replicate.schemas import DEFAULT_EVENTS, EVENTS, ReplicatePredictInput

PROVIDER = "replicate"
PREFIXES = ("/v1", "/replicate/v1")  # Replicate's own, and CometAPI's pass-through
MAX_WAIT_S, PAGE_SIZE = 60, 100
PREFER_WAIT = re.compile(r"^wait(?:=(\d+))?$")
TITLES = {400: "Bad request", 401: "Unauthenticated", 402: "Insufficient credit", 403: "Forbidden"}
TITLES |= {404: "Not found", 409: "Conflict", 413: "Request too large", 422: "Input validation failed"}
TITLES |= {429: "Too many requests"}
UNFINISHED = frozenset({"starting", "processing"})
# What a job's model may be called (`schemas.jobs.ModelName`): a path naming another is no model of ours.
MODEL_NAME, MAX_MODEL_NAME = re.compile(r"[A-Za-z0-9._:-]+/[A-Za-z0-9._:-]+"), 64


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    """A problem (RFC 7807) as Replicate answers one; a 429's `detail` says when the limit resets."""
    status = 404 if error.code == "model_not_available" else error.status
    detail = error.message
    if error.field and error.field not in detail:
        detail = f"{error.field}: {detail}"
    if status == 429:
        wait = error.headers.get("Retry-After") or error.headers.get("retry-after") or "1"
        detail = f"Request was throttled. Your rate limit resets in ~{wait}s."
    title = TITLES.get(status, "Internal server error" if status >= 500 else "Bad request")
    return CompatAnswer(status, {"title": title, "status": status, "detail": detail})


def prefer_wait(headers: dict[str, str] | Any) -> int | None:
    """Seconds a `Prefer: wait` or `Prefer: wait=N` asks to hold the answer (None: no wait asked)."""
    for token in str(headers.get("prefer", "")).replace(",", ";").split(";"):
        found = PREFER_WAIT.match(token.strip().lower())
        if found is None:
            continue
        seconds = int(found[1]) if found[1] else MAX_WAIT_S
        if not 1 <= seconds <= MAX_WAIT_S:
            raise invalid(f"Prefer: wait=N takes 1 to {MAX_WAIT_S} seconds, not {seconds}", "Prefer")
        return seconds
    return None


def job_request(model: str, body: dict[str, Any]) -> JobCreate:
    """A create's body (`input`, `webhook`, `webhook_events_filter`, legacy `webhook_completed`) as a job."""
    if not isinstance(body.get("input"), dict):
        raise invalid("input is required and must be an object of the model's inputs", "input")
    for name in ("webhook", "webhook_completed"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise invalid(f"{name} must be a URL", name)
    webhook = body.get("webhook") or body.get("webhook_completed") or None
    events = body.get("webhook_events_filter")
    if events is None and not body.get("webhook") and body.get("webhook_completed"):
        events = ["completed"]  # the legacy field names the one event it was for
    if events is not None and (not isinstance(events, list) or any(event not in EVENTS for event in events)):
        raise invalid(f"webhook_events_filter takes a list of {', '.join(EVENTS)}", "webhook_events_filter")
    fields: dict[str, Any] = {"input": body["input"]}
    if events is not None:
        fields["webhook_events_filter"] = events
    try:
        ReplicatePredictInput.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise invalid(first["msg"], ".".join(str(part) for part in first["loc"])) from None
    return JobCreate(provider=PROVIDER, operation="predict", model=model, input=fields, callback_url=webhook)


def create(request: CompatRequest, jobs: Jobs, model: str) -> CompatAnswer:
    wait = prefer_wait(request.headers)
    answer = jobs.create(job_request(model, request.body), lambda job: CompatAnswer(201, prediction(job)))
    body = answer.body
    if wait is None or answer.status >= 300 or not isinstance(body, dict) or "id" not in body:
        return answer
    headers = {**answer.headers, "Preference-Applied": f"wait={wait}"}
    return CompatAnswer(answer.status, body, headers, wait=WaitFor(str(body["id"]), wait, waited))


def waited(job: JobView) -> CompatAnswer:
    """A waited create's answer: a prediction not ended in time shows as `starting`, as Replicate's own
    does, because the official client takes any other status of a waited answer as final."""
    body = prediction(job)
    if body["status"] in UNFINISHED:
        body["status"] = "starting"
    return CompatAnswer(201, body)


def create_for_model(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    model = f"{request.path_params['owner']}/{request.path_params['name']}"
    if not MODEL_NAME.fullmatch(model) or len(model) > MAX_MODEL_NAME:
        raise CompatError(404, "not_found", f"{model} is no model genrelay runs", "model")
    offer = MODELS.get(model)
    if offer is not None and offer.version is not None:
        raise CompatError(
            404, "not_found", f"{model} is no official model: create it by version ({offer.version})", "model"
        )
    return create(request, jobs, model)


def create_for_version(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    version = request.body.get("version")
    model = model_of_version(version) if isinstance(version, str) else None
    if model is None:
        known = ", ".join(f"{name} ({v})" for v, name in VERSIONS.items())
        raise invalid(
            f"version {version!r} is not one genrelay runs; known versions: {known}; "
            "official models go by POST /v1/models/{owner}/{name}/predictions",
            "version",
        )
    return create(request, jobs, model)


def get_prediction(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    return CompatAnswer(200, prediction(_job(request, jobs)))


def cancel_prediction(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    """Cancel a starting or processing prediction (its hold released); an ended one is answered as is."""
    job = _job(request, jobs)
    if not JobStatus(job.status).is_terminal:
        jobs.cancel(job.job_id)
    return CompatAnswer(200, prediction(_job(request, jobs)))


def list_predictions(request: CompatRequest, jobs: Jobs, prefix: str = "/v1") -> CompatAnswer:
    """The caller's predictions, newest first, 100 a page; `next` is the following page's URL."""
    cursor = request.query.get("cursor") or None
    page = jobs.page(after=cursor, limit=PAGE_SIZE, newest_first=True)
    results = [prediction(job) for job in page.jobs]
    following = None
    if page.has_more and page.jobs:
        api = page.jobs[-1].api_url.rstrip("/")
        following = f"{api}{prefix}/predictions?cursor={quote(page.jobs[-1].job_id)}"
    return CompatAnswer(200, {"next": following, "previous": None, "results": results})


def get_version(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    """A known version's record; its schema is left empty (the client reads only the output's kind)."""
    model = f"{request.path_params['owner']}/{request.path_params['name']}"
    version = request.path_params["version"]
    if VERSIONS.get(version.lower()) != model:
        raise CompatError(404, "not_found", f"{model} has no version {version} that genrelay runs")
    record = {"id": version, "created_at": "2023-07-26T18:24:42.386Z", "cog_version": "0.8.1"}
    return CompatAnswer(200, record | {"openapi_schema": {}})


def webhook_secret(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    """The key genrelay signs this account's webhooks with, as Replicate's client reads it."""
    return CompatAnswer(200, {"key": jobs.webhook_secret()})


def _job(request: CompatRequest, jobs: Jobs) -> JobView:
    return jobs.get(request.path_params["prediction_id"], lookup=(Lookup.JOB_ID,), field="id")


# Our events as Replicate's (§4.4): `start` when it runs, `completed` at any end, `output` when its
# output appears, which for genrelay (outputs stored at the end) is at success. No `logs`: none are kept.
EVENTS_OF = {
    "job.running": ("start",),
    "job.succeeded": ("output", "completed"),
    "job.failed": ("completed",),
    "job.cancelled": ("completed",),
    "job.expired": ("completed",),
}


def sends(job_input: Mapping[str, Any], event_type: str) -> bool:
    """Whether a prediction's webhook goes out for this event, by its `webhook_events_filter` (default:
    output and completed, as Replicate's)."""
    wanted = job_input.get("webhook_events_filter") or DEFAULT_EVENTS
    return any(event in wanted for event in EVENTS_OF.get(event_type, ()))


CREATE_DESCRIPTION = (
    "Replicate's body: `input` (the model's inputs), `webhook`, `webhook_events_filter` (start, output, "
    "logs, completed). `Prefer: wait` or `Prefer: wait=N` (1-60) holds the answer until the prediction "
    "ends or N seconds pass. The `id` is the genrelay job id."
)


def _routes(prefix: str) -> tuple[CompatRoute, ...]:
    models = f"{prefix}/models/{{owner}}/{{name}}"
    # `Prefer` and `cursor` are read by the handlers and declared, with their rules, in `openapi_extra`.
    waits = [document.prefer_header()]
    # A model without a price, or no official one, is 404.
    creates = (*CREATE_ERRORS, 404)
    return (
        CompatRoute(
            "POST",
            f"{models}/predictions",
            "Create a prediction of an official model (Replicate-compatible)",
            create_for_model,
            status_code=201,
            description=CREATE_DESCRIPTION,
            errors=creates,
            openapi_extra={"parameters": waits, **document.create_extra(prefix, by_version=False)},
        ),
        CompatRoute(
            "POST",
            f"{prefix}/predictions",
            "Create a prediction of a model version (Replicate-compatible)",
            create_for_version,
            status_code=201,
            description=CREATE_DESCRIPTION,
            errors=creates,
            openapi_extra={"parameters": waits, **document.create_extra(prefix, by_version=True)},
        ),
        CompatRoute(
            "GET",
            f"{prefix}/predictions",
            "List predictions",
            functools.partial(list_predictions, prefix=prefix),
            errors=(422,),
            openapi_extra={
                "parameters": [document.cursor_parameter()],
                **document.answer_extra("A page of predictions, newest first.", document.PAGE),
            },
        ),
        CompatRoute(
            "GET",
            f"{prefix}/predictions/{{prediction_id}}",
            "A prediction",
            get_prediction,
            openapi_extra=document.answer_extra("The prediction.", document.PREDICTION),
        ),
        CompatRoute(
            "POST",
            f"{prefix}/predictions/{{prediction_id}}/cancel",
            "Cancel a prediction",
            cancel_prediction,
            bodyless=True,
            # 409: it cannot be stopped right now; 422: a malformed Idempotency-Key.
            errors=(409, 422),
            openapi_extra=document.answer_extra("The prediction, as it is now.", document.PREDICTION),
        ),
        CompatRoute(
            "GET",
            f"{models}/versions/{{version}}",
            "A model version",
            get_version,
            openapi_extra=document.answer_extra("The version's record.", document.VERSION),
        ),
        CompatRoute(
            "GET",
            f"{prefix}/webhooks/default/secret",
            "The webhook signing secret",
            webhook_secret,
            openapi_extra=document.answer_extra("The signing key.", document.SECRET),
        ),
    )


FAMILY = CompatFamily(
    name="replicate",
    prefix="",  # two prefixes, Replicate's and CometAPI's, each route declared under both
    routes=tuple(route for prefix in PREFIXES for route in _routes(prefix)),
    project=prediction,
    render_error=render_error,
    sends=sends,
    error_schema=document.ReplicateProblem,
)
