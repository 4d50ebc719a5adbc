"""The seam of provider-compatible routes: a provider declares its route family (paths, how a request
becomes a unified job, how a job looks in its own shape, its error envelope) with these types, and
the core mounts it on the API, authenticates the caller and carries out every job operation.

A family's handlers are plain functions of a `CompatRequest` and the caller's `Jobs`; they return a
`CompatAnswer` and raise `CompatError` for what the client got wrong. They never see the database,
the web framework or another tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel

from schemas.errors import readable
from schemas.jobs import CALLBACK_URL_PATTERN, MAX_CALLBACK_URL_LENGTH, JobCreate


@dataclass(frozen=True)
class JobView:
    """A job as a projection sees it: plain values, with the download links of its stored outputs by
    label (or index when unlabelled), in output order."""

    job_id: str
    provider: str
    operation: str
    model: str
    status: str  # a `schemas.jobs.JobStatus` value
    progress: int
    input: Mapping[str, Any]
    result: Mapping[str, Any] | None
    error_code: str | None
    error_message: str | None
    client_reference: str | None
    external_id: str | None
    upstream_status: str | None
    callback_url: str | None
    price: int
    charged: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    outputs: Mapping[str, str] = field(default_factory=dict)
    # The API's public base URL, for links to the job's own routes (a Replicate prediction's `urls`).
    api_url: str = ""


class CompatError(Exception):
    """What the client got wrong, in neutral terms; the family's `render_error` puts it in its envelope.

    The core raises the same for its own refusals (`unauthenticated` 401, `insufficient_credits` 402,
    `job_not_found` 404, `validation_error` 422, `rate_limited` 429, ...), with `headers` such as
    `Retry-After` that the rendered answer keeps."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = readable(message)
        self.field = None if field is None else readable(field)
        self.headers = dict(headers or {})


# The longest id a client may give its job (a Kling `external_task_id`): longer ones are refused (422).
MAX_CLIENT_REFERENCE = 255

# A callback URL as `JobCreate` takes it, for a family's document: http(s), a host, no credentials (an
# internal address is refused too; a name is resolved at each send). The pattern is the whole rule: no
# `format: uri`, which would forbid the non-ASCII text (an IRI's) that the pattern, and so the API, takes.
CALLBACK_URL_SCHEMA: Mapping[str, Any] = {
    "type": "string",
    "maxLength": MAX_CALLBACK_URL_LENGTH,
    "pattern": CALLBACK_URL_PATTERN,
}

# The core's refusals on every compatible route: a missing or unknown key (401), the key's rate (429).
CORE_ERRORS = (401, 429)
# ... on a route that reads a body or parameters: unreadable JSON (400), a value out of its schema (422).
INPUT_ERRORS = (400, 422)
# ... on a route that creates a job: credits short (402), a disabled account (403), the same
# `Idempotency-Key` still in flight (409), the key reused for another request (422), the open-jobs
# limit (429).
CREATE_ERRORS = (402, 403, 409, 422, 429)
# ... on a route that finds one of the caller's jobs.
LOOKUP_ERRORS = (404,)


def invalid(message: str, field: str | None = None) -> CompatError:
    """A request a person can fix by changing `field` (genrelay's `invalid_request`, 422)."""
    return CompatError(422, "invalid_request", message, field)


def not_found(message: str, field: str | None = None) -> CompatError:
    """No such job in the caller's account (another tenant's is as unknown as a missing one)."""
    return CompatError(404, "job_not_found", message, field)


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class CompatRequest:
    """One request to a compatible route: `body` is the parsed JSON (or the declared model's instance,
    validated), `form` the fields of a multipart or urlencoded body, each a list of values."""

    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names; a repeated header's first value
    body: Any = None
    form: Mapping[str, Sequence[str | Upload]] | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class StoredOutput:
    """Serve one of the job's stored outputs (a local file streamed, object storage by redirect)."""

    job_id: str
    label: str


@dataclass(frozen=True)
class WaitFor:
    """Answer as of when job `job_id` ends (or waits for input), or after `seconds`, whichever comes
    first: `render` shows the job then. The core waits without a thread or a database connection."""

    job_id: str
    seconds: float
    render: Callable[[JobView], CompatAnswer]


@dataclass(frozen=True)
class CompatAnswer:
    """A JSON answer (`body` None and status 204: no content), or a stored output to serve; with `wait`,
    the answer comes once that job ends or the wait runs out (this answer's headers kept)."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    output: StoredOutput | None = None
    wait: WaitFor | None = None


class Lookup(StrEnum):
    """What a reference may name: our job id, the client's own id for the job, the upstream task id,
    or an id upstream gave one of the job's products (listed in its result's `refs`: a Suno clip id)."""

    JOB_ID = "job_id"
    CLIENT_REFERENCE = "client_reference"
    EXTERNAL_ID = "external_id"
    RESULT_REF = "result_ref"


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"  # it was unfinished: cancelled and released (and stopped upstream)
    FINISHED = "finished"  # it had already ended: nothing changed


Render = Callable[[JobView], CompatAnswer]


@dataclass(frozen=True)
class Page:
    """One page of the caller's jobs, and whether more follow it."""

    jobs: list[JobView]
    has_more: bool


class Jobs(Protocol):
    """The caller's jobs of the family's provider (of a shared family: those created through it), as
    a compatible route may use them."""

    def create(
        self, request: JobCreate, render: Render, *, client_reference: str | None = None
    ) -> CompatAnswer:
        """Accept a job (its hold, idempotency under the request's `Idempotency-Key`, dispatch) and
        answer `render(job)`; a replay answers what the first request got."""
        ...

    def get(
        self,
        reference: str,
        *,
        lookup: Sequence[Lookup] = (Lookup.JOB_ID, Lookup.CLIENT_REFERENCE),
        operation: str | None = None,
        field: str | None = None,
    ) -> JobView:
        """One job; `CompatError` job_not_found (naming `field`) when the account has none such."""
        ...

    def get_many(self, references: Sequence[str]) -> list[JobView]:
        """The jobs among `references` (our ids), in the order asked; the others left out."""
        ...

    def cancel(self, reference: str) -> CancelOutcome:
        """Cancel an unfinished job and release its hold; `CompatError` job_not_cancellable (409)
        while it cannot be stopped (being submitted or stored)."""
        ...

    def page(self, *, after: str | None, limit: int, newest_first: bool) -> Page:
        """Up to `limit` jobs after the job `after` (our id), newest or oldest first."""
        ...

    def delete_outputs(self, reference: str) -> JobView:
        """Delete a finished job's stored outputs; the job is then gone from the family's routes.
        `CompatError` job_not_finished (409) while it runs: deleting is not cancelling."""
        ...

    def has_channel(self, provider: str) -> bool:
        """Whether the operator's channel file names an enabled channel of `provider` (the default
        channel, which every provider falls back to, does not count)."""
        ...

    def continue_job(self, reference: str, fields: Mapping[str, Any], *, field: str | None = None) -> JobView:
        """Give a job waiting for input (`action_required`) its input; it is submitted again."""
        ...

    def webhook_secret(self) -> str:
        """The caller's current webhook signing secret (`whsec_…`), created on first use."""
        ...


Handler = Callable[[CompatRequest, Jobs], CompatAnswer]


@dataclass(frozen=True)
class CompatRoute:
    """One route: `path` under the family's prefix (`{name}` path parameters), its handler, and the
    model its JSON body is validated against (None: any JSON object, or a form when `form`)."""

    method: str
    path: str
    summary: str
    handle: Handler
    body: type[BaseModel] | None = None
    form: bool = False  # multipart/form-data or urlencoded accepted besides JSON
    status_code: int = 200
    description: str | None = None
    query: Sequence[str] = ()  # query parameters it reads, for the API document
    headers: Sequence[str] = ()  # request headers it reads, for the API document
    required_headers: Sequence[str] = ()  # ... and those it refuses a request without (422)
    openapi_extra: Mapping[str, Any] | None = None
    max_body_bytes: int | None = None  # a bound tighter than the API's own (form routes)
    too_large: CompatError | None = None  # what a body past that bound is refused with
    max_form_files: int | None = None  # bounds on a form's parts tighter than the API's own
    max_form_fields: int | None = None
    bodyless: bool = False  # a POST that reads no body (any body sent is ignored)
    # The values a path parameter takes, where they are few (its enum in the document; others 422).
    path_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The statuses (genrelay's, as `CompatError` carries them, before the family renders them) that the
    # handler itself may raise, besides those the core answers on every route (`CORE_ERRORS`).
    errors: Sequence[int] = ()
    # The model of its success body, for the API document (None: documented as any JSON value).
    response: type[BaseModel] | None = None


@dataclass(frozen=True)
class CompatFamily:
    """A provider's own routes, answered in its own shapes.

    `name` is the route family (jobs created through it send their webhooks as `project` shows them);
    `key_headers` are headers besides `Authorization: Bearer` that carry the caller's API key."""

    name: str
    prefix: str
    routes: tuple[CompatRoute, ...]
    project: Callable[[JobView], dict[str, Any]]
    render_error: Callable[[CompatError, str | None], CompatAnswer]
    key_headers: tuple[str, ...] = ()
    tag: str = ""
    # Whether a job made through the family, with this input, sends a webhook of this event type
    # (`job.running`, `job.succeeded`, ...); None: every event, as the unified API sends them.
    sends: Callable[[Mapping[str, Any], str], bool] | None = None
    # The body `render_error` answers, for the API document (None: documented as any JSON object).
    error_schema: type[BaseModel] | None = None

    @property
    def openapi_tag(self) -> str:
        return self.tag or f"{self.name}-compatible"
