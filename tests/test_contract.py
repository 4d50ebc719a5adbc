"""The contract every provider adapter keeps, checked against its simulator for each operation:
submit, poll to success / failure / moderation, status-map completeness and error classes."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from orchestrator.db import Database
from orchestrator.models import Job, JobOutput
from orchestrator.ops import audit
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from schemas.jobs import JobStatus
from tests.conftest import Tenant
from tests.factories import create_job
from workers.providers import PROVIDERS
from workers.providers.base import Channel, SubmitRequest, UpstreamStatus
from workers.providers.base import example_input as example
from workers.providers.errors import (
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.simulator import Outcome, Refusal, Simulator, SubmitFault

# Every status the first providers document (providers.md), and what it must mean to us: a record kept
# apart from the adapters' own maps. A provider added later states its vocabulary in its package and
# its own tests hold it to its documentation.
DOCUMENTED: dict[str, dict[str, UpstreamStatus]] = {
    "kling": {
        "submitted": UpstreamStatus.PENDING,
        "processing": UpstreamStatus.RUNNING,
        "succeed": UpstreamStatus.SUCCEEDED,
        "failed": UpstreamStatus.FAILED,
    },
    "midjourney": {
        "NOT_START": UpstreamStatus.PENDING,
        "SUBMITTED": UpstreamStatus.PENDING,
        "IN_PROGRESS": UpstreamStatus.RUNNING,
        "MODAL": UpstreamStatus.ACTION_REQUIRED,
        "SUCCESS": UpstreamStatus.SUCCEEDED,
        "FAILURE": UpstreamStatus.FAILED,
    },
    "runway": {
        "PENDING": UpstreamStatus.PENDING,
        "THROTTLED": UpstreamStatus.PENDING,
        "RUNNING": UpstreamStatus.RUNNING,
        "SUCCEEDED": UpstreamStatus.SUCCEEDED,
        "FAILED": UpstreamStatus.FAILED,
        "CANCELLED": UpstreamStatus.FAILED,
    },
    "suno": {
        "NOT_START": UpstreamStatus.PENDING,
        "SUBMITTED": UpstreamStatus.PENDING,
        "QUEUED": UpstreamStatus.PENDING,
        "IN_PROGRESS": UpstreamStatus.RUNNING,
        "SUCCESS": UpstreamStatus.SUCCEEDED,
        "FAILURE": UpstreamStatus.FAILED,
    },
    "veo": {
        "queued": UpstreamStatus.PENDING,
        "in_progress": UpstreamStatus.RUNNING,
        "completed": UpstreamStatus.SUCCEEDED,
        "failed": UpstreamStatus.FAILED,
    },
}


def standalone_operations() -> list[tuple[str, str]]:
    """(provider, operation) pairs a job can be created for from its example alone: those whose first
    example names no parent (an operation may take a parent or a URI, as Runway's video_to_video)."""
    pairs = []
    for name, provider in PROVIDERS.items():
        for operation, model in provider.operations.items():
            sample = example(model)
            if sample is not None and "parent_job_id" not in sample:
                pairs.append((name, operation))
    return pairs


def follow_up_operations() -> list[tuple[str, str]]:
    """(provider, operation) pairs that act on an earlier job (`parent_job_id`)."""
    return [
        (name, operation)
        for name, provider in PROVIDERS.items()
        for operation, model in provider.operations.items()
        if "parent_job_id" in model.model_fields
    ]


def parent_operation(provider: str, operation: str) -> str:
    """A standalone operation whose job the follow-up `operation` can act on."""
    allowed = PROVIDERS[provider].parent_operations.get(operation)
    own = [op for name, op in standalone_operations() if name == provider]
    candidates = [op for op in own if allowed is None or op in allowed]
    assert candidates, f"{provider}.{operation}: no standalone operation makes a parent for it"
    return sorted(candidates)[0]


def first_model(prices_models: list[str]) -> str:
    assert prices_models, "every operation needs at least one priced model"
    return prices_models[0]


def priced(provider: str, operation: str) -> str:
    """A model the operation offers (some providers route by model before anything else)."""
    from orchestrator.pricing import load_price_table

    return first_model(load_price_table().models(provider, operation))


def create(db: Database, tenant: Tenant, settings: Settings, provider: str, operation: str) -> uuid.UUID:
    from orchestrator.pricing import load_price_table

    model = first_model(load_price_table(settings.prices_path).models(provider, operation))
    sample = example(PROVIDERS[provider].operations[operation])
    return create_job(db, tenant, settings, provider=provider, operation=operation, model=model, input=sample)


def run(db: Database, http: httpx.Client, settings: Settings, job_id: uuid.UUID) -> Job:
    # A synchronous upstream call (Suno's persona) is answered by the submit itself, failure included.
    submitted = submission.submit(db, http, settings, job_id)
    assert submitted in {JobStatus.SUBMITTED, JobStatus.STORING, JobStatus.FAILED}
    for _ in range(60):
        for stored_id in tracking.poll(db, http, settings, [job_id]):
            storing.store(db, http, build_storage(settings), settings, stored_id)
        with db.transaction() as session:
            job = session.get(Job, job_id)
            assert job is not None
            if job.state == JobStatus.STORING:
                storing.store(db, http, build_storage(settings), settings, job_id)
                continue
            if JobStatus(job.state).is_terminal:
                return job
    pytest.fail("job never ended")


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_contract_every_provider_maps_a_status_to_each_end(provider: str) -> None:
    meanings = set(PROVIDERS[provider].status_map.values())
    assert {UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED} <= meanings


@pytest.mark.parametrize("provider", sorted(DOCUMENTED))
def test_contract_every_documented_status_is_mapped(provider: str) -> None:
    status_map = PROVIDERS[provider].status_map
    for raw, expected in DOCUMENTED[provider].items():
        assert status_map.get(raw) is expected, f"{provider} status {raw!r}"


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_contract_every_operation_has_an_example_and_a_price(
    provider: str, make_settings: Callable[..., Settings]
) -> None:
    from orchestrator.pricing import load_price_table

    prices = load_price_table(make_settings().prices_path)
    for operation, model in PROVIDERS[provider].operations.items():
        assert example(model) is not None, f"{provider}.{operation} input has no example"
        assert prices.models(provider, operation), f"{provider}.{operation} has no price"


@pytest.mark.parametrize(("provider", "operation"), standalone_operations())
@pytest.mark.parametrize("fate", ["succeed", "fail", "moderation"])
def test_contract_submit_and_poll_to_the_end(
    provider: str,
    operation: str,
    fate: str,
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script(provider, [Outcome(result=fate)])  # type: ignore[arg-type]
    settings = make_settings()
    job = run(db, http, settings, create(db, tenant, settings, provider, operation))
    with db.transaction() as session:
        outputs = session.query(JobOutput).filter(JobOutput.job_id == job.job_id).all()
        assert audit.find_breaches(session) == []
    if fate == "succeed":
        assert job.state == "succeeded", (job.error_code, job.error_message)
        assert job.charged == job.price
        assert outputs
        assert all(output.size_bytes > 0 and len(output.sha256) == 64 for output in outputs)
    else:
        assert job.state == "failed"
        assert job.charged == 0
        assert job.error_code == ("moderation_blocked" if fate == "moderation" else "upstream_failed")
        assert job.error_message


@pytest.mark.parametrize(("provider", "operation"), follow_up_operations())
@pytest.mark.parametrize("fate", ["succeed", "fail"])
def test_contract_follow_up_on_a_succeeded_parent(
    provider: str,
    operation: str,
    fate: str,
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    """Every follow-up runs on a parent made by the same provider, to stored outputs and one
    charge, or to a failure that costs nothing."""
    from orchestrator.pricing import load_price_table

    settings = make_settings()
    simulator.script(provider, [Outcome(result="succeed"), Outcome(result=fate)])  # type: ignore[arg-type]
    parent_id = create(db, tenant, settings, provider, parent_operation(provider, operation))
    parent = run(db, http, settings, parent_id)
    assert parent.state == "succeeded", (parent.error_code, parent.error_message)
    sample = PROVIDERS[provider].follow_up_example(operation, parent.result)
    assert sample is not None
    model = first_model(load_price_table(settings.prices_path).models(provider, operation))
    follow_up = {**sample, "parent_job_id": str(parent.job_id)}
    request = {"provider": provider, "operation": operation, "model": model, "input": follow_up}
    job = run(db, http, settings, create_job(db, tenant, settings, **request))
    with db.transaction() as session:
        outputs = session.query(JobOutput).filter(JobOutput.job_id == job.job_id).all()
        assert audit.find_breaches(session) == []
    assert job.parent_job_id == parent.job_id
    if fate == "succeed":
        assert job.state == "succeeded", (job.error_code, job.error_message)
        assert job.charged == job.price
        assert outputs or job.result
    else:
        assert (job.state, job.charged, job.error_code) == ("failed", 0, "upstream_failed")


@pytest.mark.parametrize(("provider", "operation"), standalone_operations())
@pytest.mark.parametrize(
    ("knob", "error"),
    [
        ("rate_limit_rate", ProviderUnavailableError),
        ("submit_error_rate", ProviderUnavailableError),
        ("read_timeout_rate", SubmitOutcomeUnknownError),
    ],
)
def test_contract_transient_and_ambiguous_submit_errors(
    provider: str, operation: str, knob: str, error: type[Exception], simulator: Simulator, simulator_url: str
) -> None:
    simulator.configure(**{knob: 1.0, "stall_s": 3.0})
    sample = example(PROVIDERS[provider].operations[operation])
    assert sample is not None
    channel = Channel("test", simulator_url, api_key=simulator.config.api_key)
    request = SubmitRequest(
        job_id=str(uuid.uuid4()), operation=operation, model=priced(provider, operation), input=sample
    )
    with httpx.Client(timeout=0.5) as http, pytest.raises(error):
        PROVIDERS[provider].submit(http, channel, request)
    expected_creates = 1 if knob == "read_timeout_rate" else 0
    assert simulator.stats()[provider].creates == expected_creates


@pytest.mark.parametrize(("provider", "operation"), standalone_operations())
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (SubmitFault.REJECTED, ProviderRejectedError),
        (SubmitFault.UNAVAILABLE, ProviderUnavailableError),
        (SubmitFault.RATE_LIMITED, ProviderUnavailableError),
    ],
)
def test_contract_scripted_submit_refusals(
    provider: str,
    operation: str,
    fault: SubmitFault,
    error: type[Exception],
    simulator: Simulator,
    simulator_url: str,
) -> None:
    """Each simulated provider answers a scripted refusal in its own words, which its adapter
    classifies like the real provider's: refused for good, or not now."""
    simulator.refuse(provider, [Refusal(fault=fault, message="scripted refusal")])
    sample = example(PROVIDERS[provider].operations[operation])
    assert sample is not None
    channel = Channel("test", simulator_url, api_key=simulator.config.api_key)
    request = SubmitRequest(
        job_id=str(uuid.uuid4()), operation=operation, model=priced(provider, operation), input=sample
    )
    with httpx.Client(timeout=5) as http, pytest.raises(error):
        PROVIDERS[provider].submit(http, channel, request)
    assert simulator.stats()[provider].creates == 0


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_contract_unknown_status_keeps_the_job_waiting(
    provider: str, db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    from datetime import UTC, datetime, timedelta

    from orchestrator.lifecycle import Change, advance
    from orchestrator.schedule import poll_delay
    from workers.providers.base import ProviderUpdate

    settings = make_settings()
    operation = next(iter(PROVIDERS[provider].operations))
    if (provider, operation) not in standalone_operations():
        pytest.skip("needs a parent job")
    job_id = create(db, tenant, settings, provider, operation)
    with db.transaction() as session:
        advance(session, job_id, JobStatus.QUEUED, Change(JobStatus.SUBMITTING))
        advance(session, job_id, JobStatus.SUBMITTING, Change(JobStatus.RUNNING))
        report = ProviderUpdate(status=UpstreamStatus.UNKNOWN, raw_status="SOMETHING_NEW")
        applied_at = datetime.now(UTC)
        assert tracking.apply_update(session, settings, job_id, report) is None
        job = session.get(Job, job_id)
        assert job is not None
        assert job.state == "running"
        assert job.next_check_at is not None
        # Polled again a policy step after the report, not at once (the step is 50 ms in tests: compared
        # with the clock after the fact, a pause that long would fail it).
        step = timedelta(seconds=poll_delay(settings.poll_policy(provider), 0))
        assert job.next_check_at >= applied_at + step
