"""Creating jobs: a request prepared into its job row (provider and input checked, priced), and a
batch of prepared jobs written in one transaction with their holds, first timeline entries and
idempotency records. A single create is a batch of one; the API commits concurrent creates together.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from orchestrator import egress, job_ends, ledger, lifecycle, models, outbox
from orchestrator.errors import (
    IdempotencyInFlightError,
    InvalidInputError,
    InvalidRequestError,
    OrchestratorError,
    ParentJobNotFoundError,
    ParentJobNotSucceededError,
    ProviderNotAllowedError,
    UnknownOperationError,
    UnknownProviderError,
)
from orchestrator.ids import new_token, new_uuid7
from orchestrator.models import Job
from orchestrator.pricing import PriceTable
from orchestrator.settings import Settings
from orchestrator.tenants import idempotency, keys
from orchestrator.tenants.accounts import Principal
from orchestrator.views import job_snapshot
from schemas.jobs import JobCreate, JobStatus
from workers.providers import PROVIDERS, Provider

# Renders the answer to a creation: (HTTP status, JSON body) from the new job and its outputs.
Render = Callable[[models.Job, Sequence[models.JobOutput]], tuple[int, dict[str, Any]]]
# Many rows, one prepared statement (psycopg's executemany in a pipeline): a RETURNING insert of a batch
# would be one long statement text, parsed anew for every batch size.
_INSERT_JOB = insert(models.table(Job))


@dataclass(frozen=True)
class Origin:
    """How a job came in: the route family whose shape its webhooks speak, and the client's own id."""

    api_format: str = "unified"
    client_reference: str | None = None


UNIFIED = Origin()


@dataclass(frozen=True)
class Keyed:
    """An `Idempotency-Key` of the request: the answer is rendered and stored with the new job."""

    key: str
    fingerprint: bytes
    render: Render


@dataclass(frozen=True)
class PreparedJob:
    """A create that passed every check needing no database: its job row, ready to insert."""

    principal: Principal
    row: dict[str, Any]
    parent_ref: str | None = None  # input.parent_job_id, checked in the writing transaction
    keyed: Keyed | None = None


@dataclass(frozen=True)
class Created:
    job: models.Job
    answer: idempotency.StoredResponse | None = None  # what was stored under the idempotency key


@dataclass(frozen=True)
class Replayed:
    """The idempotency key was used before with the same body: its first answer."""

    answer: idempotency.StoredResponse


Outcome = Created | Replayed | OrchestratorError


def resolve_provider(name: str, operation: str) -> tuple[Provider, type[BaseModel]]:
    provider = PROVIDERS.get(name)
    if provider is None:
        raise UnknownProviderError(
            f"unknown provider {name!r}; choose one of {sorted(PROVIDERS)}", field="provider"
        )
    input_model = provider.operations.get(operation)
    if input_model is None:
        raise UnknownOperationError(
            f"{name} has no operation {operation!r}; choose one of {sorted(provider.operations)}",
            field="operation",
        )
    return provider, input_model


def validate_input(
    input_model: type[BaseModel], raw: dict[str, Any], model: str | None = None
) -> dict[str, Any]:
    """The input as the job keeps it; its validators see the job's `model` in their context, for what
    a provider offers per model. A boolean is JSON's `true` or `false`, as the document says, not a
    number or a text that pydantic would read as one; a number is not a boolean."""
    mistyped = [
        (f"input.{name}", NOT_A_BOOLEAN if kind == "boolean" else NOT_A_NUMBER)
        for name, kind in typed_fields(input_model).items()
        if raw.get(name) is not None and (kind == "boolean") != isinstance(raw[name], bool)
    ]
    try:
        parsed = input_model.model_validate(raw, context={"model": model} if model else None)
    except ValidationError as exc:
        problems = mistyped + [
            (".".join(["input", *(str(part) for part in error["loc"])]), error["msg"])
            for error in exc.errors()
        ]
        summary = "; ".join(f"{field}: {message}" for field, message in problems)
        raise InvalidInputError(f"the job input is not valid: {summary}", problems) from exc
    if mistyped:
        summary = "; ".join(f"{field}: {message}" for field, message in mistyped)
        raise InvalidInputError(f"the job input is not valid: {summary}", mistyped)
    kept = parsed.model_dump(mode="json", exclude_none=True)
    nul = nul_at(kept, "input")
    if nul is not None:
        raise InvalidInputError(f"the job input is not valid: {nul}: {NO_NUL}", [(nul, NO_NUL)])
    return kept


NO_NUL = "text cannot hold the NUL character (\\u0000)"
NOT_A_BOOLEAN = "Input should be true or false"
NOT_A_NUMBER = "Input should be a number, not true or false"


@functools.cache
def typed_fields(input_model: type[BaseModel]) -> dict[str, str]:
    """The input's fields its document types as booleans (`boolean`) or as numbers only (`number`),
    null aside: pydantic would take a number or a text for the former, a boolean for the latter."""
    found = {}
    for name, schema in input_model.model_json_schema().get("properties", {}).items():
        types = {option.get("type") for option in schema.get("anyOf", [schema])} - {"null"}
        if types == {"boolean"}:
            found[name] = "boolean"
        elif types and types <= {"integer", "number"}:
            found[name] = "number"
    return found


def nul_at(value: Any, field: str = "") -> str | None:
    """Where in `value` (a JSON value) a NUL character is, which PostgreSQL keeps in no text or JSONB
    value: the path of the field under `field`, or None."""
    if isinstance(value, str):
        return (field or "body") if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        inner = f"{field}.{key}" if field else str(key)
        found = nul_at(key, field or "body") if isinstance(key, str) else None
        found = found or nul_at(item, inner)
        if found is not None:
            return found
    return None


def prepare(
    principal: Principal,
    request: JobCreate,
    prices: PriceTable,
    settings: Settings,
    origin: Origin = UNIFIED,
    keyed: Keyed | None = None,
) -> PreparedJob:
    """Check and price the request (raising what is wrong with it) and build its job row."""
    _, input_model = resolve_provider(request.provider, request.operation)
    if principal.providers is not None and request.provider not in principal.providers:
        raise ProviderNotAllowedError(
            f"this API key may create jobs with {', '.join(sorted(principal.providers))} only, "
            f"not {request.provider}; use a key allowed to",
            field="provider",
        )
    job_input = validate_input(input_model, request.input, request.model)
    if request.callback_url:
        egress.vet(request.callback_url, settings.webhook_allowlist)  # refuses internal targets
    price = prices.quote(
        request.provider, request.operation, request.model, job_input, principal.price_multiplier_ppm
    )
    now = datetime.now(UTC)
    deadline_s = settings.deadline_for(request.provider, request.model)
    if request.deadline_s is not None:
        deadline_s = min(deadline_s, request.deadline_s)  # the operator's deadline caps the client's
    start_by = None if request.start_deadline_s is None else now + timedelta(seconds=request.start_deadline_s)
    row = {
        "job_id": new_uuid7(),
        "account_id": principal.account_id,
        "api_key_id": principal.key_id,
        "provider": request.provider,
        "operation": request.operation,
        "model": request.model,
        "input": job_input,
        "metadata": request.metadata,
        "callback_url": request.callback_url,
        "callback_token": new_token(),
        "api_format": origin.api_format,
        "client_reference": origin.client_reference,
        "parent_job_id": None,
        "state": JobStatus.QUEUED.value,
        "progress": 0,
        "price": price,
        "charged": 0,
        "event_seq": 1,
        "created_at": now,
        "updated_at": now,
        "next_check_at": now + timedelta(seconds=settings.redispatch_after_s),
        "deadline_at": now + timedelta(seconds=deadline_s),
        "start_deadline_at": start_by,
        "webhook_events": request.webhook_events,
    }
    parent_ref = job_input.get("parent_job_id")
    return PreparedJob(principal, row, None if parent_ref is None else str(parent_ref), keyed)


def create_job(
    session: Session,
    principal: Principal,
    request: JobCreate,
    prices: PriceTable,
    settings: Settings,
    origin: Origin = UNIFIED,
) -> Job:
    """Insert one job, its first timeline entry and its hold in the caller's transaction."""
    outcome = write(session, [prepare(principal, request, prices, settings, origin)], settings)[0]
    if isinstance(outcome, OrchestratorError):
        raise outcome
    assert isinstance(outcome, Created)  # an unkeyed create is never a replay
    return outcome.job


@dataclass
class _Batch:
    prepared: Sequence[PreparedJob]
    outcomes: list[Outcome | None] = field(init=False)
    parents: dict[int, uuid.UUID] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.outcomes = [None] * len(self.prepared)

    def pending(self) -> list[int]:
        return [index for index, outcome in enumerate(self.outcomes) if outcome is None]


def write(session: Session, prepared: Sequence[PreparedJob], settings: Settings) -> list[Outcome]:
    """Write the prepared jobs in the caller's transaction; one outcome per job, in order.

    A job refused for its own reasons (its key's earlier answer, a bad parent, the account's
    credits or limits) gets that error as its outcome and leaves no row; the others are created.
    """
    batch = _Batch(prepared)
    _claim_keys_and_parents(session, batch)
    pending = batch.pending()
    if not pending:
        return _finished(batch)
    rows = [{**prepared[i].row, "parent_job_id": batch.parents.get(i)} for i in pending]
    session.execute(_INSERT_JOB, rows)
    requests = [
        ledger.HoldRequest(prepared[i].principal.account_id, row["job_id"], row["price"], _key(prepared[i]))
        for i, row in zip(pending, rows, strict=True)
    ]
    refusals = ledger.reserve(session, requests, max_open_jobs=settings.max_open_jobs)
    created: list[tuple[int, Job]] = []
    refused_ids = []
    for i, row, refused in zip(pending, rows, refusals, strict=True):
        if refused is None:
            created.append((i, _as_job(row)))
        else:
            batch.outcomes[i] = refused
            refused_ids.append(row["job_id"])
    if refused_ids:  # inserted before their accounts were judged; gone before anyone could see them
        session.execute(delete(Job).where(Job.job_id.in_(refused_ids)))
    if created:
        _record_created(session, batch, created)
    return _finished(batch)


def _key(item: PreparedJob) -> ledger.KeyBudget:
    month = keys.month_of(item.row["created_at"])
    return ledger.KeyBudget(item.principal.key_id, month, item.principal.monthly_cap)


def _as_job(row: dict[str, Any]) -> Job:
    """The job as inserted, as an object apart from the session (every column a view reads is in the row)."""
    return Job(**{("metadata_" if column == "metadata" else column): value for column, value in row.items()})


def _claim_keys_and_parents(session: Session, batch: _Batch) -> None:
    seen: set[tuple[uuid.UUID, str]] = set()
    for index, item in enumerate(batch.prepared):
        try:
            if item.keyed is not None:
                scoped = (item.principal.account_id, item.keyed.key)
                if scoped in seen:  # the same key twice in one batch: the second is a concurrent retry
                    raise IdempotencyInFlightError(
                        "a request with this Idempotency-Key is still being processed; retry in a moment"
                    )
                seen.add(scoped)
                stored = idempotency.claim(session, *scoped, item.keyed.fingerprint)
                if stored is not None:
                    batch.outcomes[index] = Replayed(stored)
                    continue
            if item.parent_ref is not None:
                batch.parents[index] = _parent_of(session, item)
        except OrchestratorError as exc:
            batch.outcomes[index] = exc


def _parent_of(session: Session, item: PreparedJob) -> uuid.UUID:
    """The job a follow-up acts on (a Midjourney action's parent): the tenant's own, succeeded job
    of the same provider, and of an operation the follow-up can act on."""
    provider, not_found = item.row["provider"], f"no job {item.parent_ref} in this account"
    try:
        parent_id = uuid.UUID(str(item.parent_ref))
    except ValueError:
        raise ParentJobNotFoundError(not_found, field="input.parent_job_id") from None
    parent = session.execute(
        select(Job.provider, Job.operation, Job.state).where(
            Job.job_id == parent_id, Job.account_id == item.principal.account_id
        )
    ).one_or_none()
    if parent is None:
        raise ParentJobNotFoundError(not_found, field="input.parent_job_id")
    if parent.provider == provider and parent.state != JobStatus.SUCCEEDED:
        raise ParentJobNotSucceededError(
            f"the parent job must be a succeeded {provider} job; it is a {parent.state} {provider} job",
            field="input.parent_job_id",
        )
    if parent.provider != provider:
        raise InvalidRequestError(
            f"the parent job must be a succeeded {provider} job; "
            f"it is a {parent.state} {parent.provider} job",
            field="input.parent_job_id",
        )
    allowed = PROVIDERS[provider].parent_operations.get(item.row["operation"])
    if allowed is not None and parent.operation not in allowed:
        raise InvalidRequestError(
            f"{provider} {item.row['operation']} acts on a job of {', '.join(sorted(allowed))}; "
            f"the parent is a {parent.operation} job",
            field="input.parent_job_id",
        )
    return parent_id


def _record_created(session: Session, batch: _Batch, created: list[tuple[int, Job]]) -> None:
    lifecycle.record_events(
        session,
        [
            {
                **lifecycle.event_row(job.job_id, 1, None, JobStatus.QUEUED, 0, {"price": job.price}),
                "account_id": job.account_id,
                "snapshot": job_snapshot(job),
            }
            for _, job in created
        ],
    )
    # One announcement per account, not per job: it wakes the account's streams, which read them all.
    for account_id in dict.fromkeys(job.account_id for _, job in created):
        job_ends.announce(session, account_id, JobStatus.QUEUED, None)
    for index, job in created:
        if job.callback_url:
            outbox.record_state(session, job.job_id, JobStatus.QUEUED)
        keyed, answer = batch.prepared[index].keyed, None
        if keyed is not None:
            answer = idempotency.StoredResponse(*keyed.render(job, ()))
            account_id = batch.prepared[index].principal.account_id
            idempotency.remember(session, account_id, keyed.key, keyed.fingerprint, job.job_id, answer)
        batch.outcomes[index] = Created(job, answer)


def _finished(batch: _Batch) -> list[Outcome]:
    outcomes = [outcome for outcome in batch.outcomes if outcome is not None]
    assert len(outcomes) == len(batch.prepared), "every prepared job has an outcome"
    return outcomes
