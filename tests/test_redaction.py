"""Upstream text never carries our upstream credentials to a tenant: on every failure path the
simulated provider echoes the channel's key (and a vendor channel's secret key) in what it answers,
and neither appears in the job, its timeline, a webhook body, the database or a log line."""

from __future__ import annotations

import ast
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import select, text

from orchestrator import logs
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import Job, OutboxEvent
from orchestrator.pipeline import reconciliation, storing, submission, tracking, webhooks
from orchestrator.pipeline.failures import MAX_MESSAGE_CHARS, failure_message
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from schemas.jobs import JobStatus
from tests import services
from tests.factories import Tenant, create_job
from tests.receivers import Receiver, running_receiver
from workers.simulator import Outcome, Refusal, Simulator, SubmitFault

S = JobStatus
ORCHESTRATOR = Path(__file__).resolve().parent.parent / "orchestrator"
# Every table a tenant's view, a webhook or an operator's view is read from.
TABLES = ("jobs", "job_events", "outbox", "webhook_attempts", "channel_states")


@dataclass
class Upstream:
    """The running API and what the provider was given: `planted` are the credentials it echoes."""

    settings: Settings
    api: httpx.Client
    receiver: Receiver
    planted: list[str]

    @property
    def echo(self) -> str:
        """An upstream's error text quoting every credential it was sent."""
        return "credentials " + " / ".join(self.planted) + " are over quota"


@pytest.fixture(params=["cometapi", "vendor"])
def make_upstream(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    simulator: Simulator,
    db: Database,
    broker: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Upstream]]:
    """The API serving on a free port, against a simulated Kling that knows only our credentials:
    CometAPI's single key from settings, or a vendor channel's access and secret keys (from the
    environment, named by a channel file). Neither looks like a key to the log redaction's patterns,
    so only the redaction of our own credentials can hide them."""
    started: list[Any] = []

    def start(**overrides: Any) -> Upstream:
        access, secret = f"AK{secrets.token_hex(10)}", f"SK{secrets.token_hex(16)}"
        sock = services.listening_socket()  # held from now on: the port in the settings stays ours
        values: dict[str, Any] = {
            "public_base_url": f"http://127.0.0.1:{sock.getsockname()[1]}",
            "upstream_callbacks": False,
            "webhook_allowlist": ["127.0.0.1"],
            "max_submit_attempts": 2,
            "max_store_attempts": 1,
        }
        if request.param == "vendor":
            monkeypatch.setenv("TEST_KLING_ACCESS_KEY", access)
            monkeypatch.setenv("TEST_KLING_SECRET_KEY", secret)
            channels = tmp_path / "channels.toml"
            channels.write_text(
                "[[channel]]\n"
                'provider = "kling"\nname = "vendor"\nmode = "vendor"\n'
                f'base_url = "{make_settings().upstream_base_url}"\n'
                'api_key_env = "TEST_KLING_ACCESS_KEY"\nsecret_key_env = "TEST_KLING_SECRET_KEY"\n'
            )
            values["channels_file"] = channels
            simulator.configure(api_key=access, secret_key=secret)
            planted = [access, secret]
        else:
            values["upstream_api_key"] = access
            simulator.configure(api_key=access)
            planted = [access]
        simulator.configure(not_found_polls=0)
        settings = make_settings(**{**values, **overrides})
        server = services.ThreadedServer(create_app(settings), sock).start()
        started.append(server)
        receiver_context = running_receiver()
        receiver = receiver_context.__enter__()
        started.append(receiver_context)
        api = httpx.Client(base_url=server.url, timeout=10)
        started.append(api)
        return Upstream(settings, api, receiver, planted)

    yield start
    for resource in reversed(started):
        if isinstance(resource, services.ThreadedServer):
            resource.stop()
        elif isinstance(resource, httpx.Client):
            resource.close()
        else:
            resource.__exit__(None, None, None)


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """Every record logged in this process (API, use-cases) as the JSON line a deployment writes."""
    caplog.set_level(logging.DEBUG)
    formatter = logs.JsonFormatter()
    return lambda: [formatter.format(record) for record in caplog.records]


def new_job(db: Database, tenant: Tenant, upstream: Upstream) -> uuid.UUID:
    return create_job(db, tenant, upstream.settings, callback_url=upstream.receiver.url)


def job_state(db: Database, job_id: uuid.UUID) -> str:
    with db.transaction() as session:
        state = session.execute(select(Job.state).where(Job.job_id == job_id)).scalar_one()
    return str(state)


def assert_nowhere(
    db: Database, tenant: Tenant, upstream: Upstream, job_id: uuid.UUID, lines: list[str]
) -> dict[str, Any]:
    """Check every place the planted credentials could surface; returns the job as its tenant sees it."""
    with db.transaction() as session:
        events = session.execute(select(OutboxEvent.event_id).where(OutboxEvent.job_id == job_id)).scalars()
        event_ids = list(events)
    with httpx.Client() as http:
        for event_id in event_ids:
            webhooks.deliver(db, http, build_storage(upstream.settings), upstream.settings, event_id)
    job = upstream.api.get(f"/v1/jobs/{job_id}", headers=tenant.headers)
    assert job.status_code == 200
    bodies = [r.body.decode() for r in upstream.receiver.received]
    assert any(json.loads(body)["type"] in {"job.failed", "job.expired"} for body in bodies)
    with db.transaction() as session:
        rows = [row for table in TABLES for row in session.execute(text(f"SELECT t::text FROM {table} t"))]
    haystacks = {
        "job": job.text,
        "timeline": upstream.api.get(f"/v1/jobs/{job_id}/events", headers=tenant.headers).text,
        "deliveries": upstream.api.get(f"/v1/jobs/{job_id}/deliveries", headers=tenant.headers).text,
        "webhook bodies": "\n".join(bodies),
        "database": "\n".join(str(row[0]) for row in rows),
        "logs": "\n".join(lines),
    }
    for name, haystack in haystacks.items():
        for value in upstream.planted:
            assert value not in haystack, f"an upstream credential appears in the {name}"
    result: dict[str, Any] = job.json()
    return result


def test_redaction_submit_refused(
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    make_upstream: Callable[..., Upstream],
    log_lines: Callable[[], list[str]],
) -> None:
    upstream = make_upstream()
    simulator.refuse("kling", [Refusal(fault=SubmitFault.REJECTED, message=upstream.echo)])
    job_id = new_job(db, tenant, upstream)
    with httpx.Client(timeout=5) as http:
        assert submission.submit(db, http, upstream.settings, job_id) is S.FAILED
    job = assert_nowhere(db, tenant, upstream, job_id, log_lines())
    assert job["error"]["code"] == "invalid_input"
    assert "credentials [redacted]" in job["error"]["message"]


def test_redaction_provider_unavailable_until_the_attempts_run_out(
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    make_upstream: Callable[..., Upstream],
    log_lines: Callable[[], list[str]],
) -> None:
    upstream = make_upstream()
    attempts = upstream.settings.max_submit_attempts
    simulator.refuse("kling", [Refusal(fault=SubmitFault.UNAVAILABLE, message=upstream.echo)] * attempts)
    job_id = new_job(db, tenant, upstream)
    with httpx.Client(timeout=5) as http:
        states = [submission.submit(db, http, upstream.settings, job_id) for _ in range(attempts)]
    assert states == [S.QUEUED] * (attempts - 1) + [S.FAILED]
    job = assert_nowhere(db, tenant, upstream, job_id, log_lines())
    assert job["error"]["code"] == "upstream_unavailable"
    assert job["error"]["message"].startswith("the provider stayed unavailable: ")
    assert "credentials [redacted]" in job["error"]["message"]


def test_redaction_upstream_task_failed_seen_by_a_poll(
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    make_upstream: Callable[..., Upstream],
    log_lines: Callable[[], list[str]],
) -> None:
    upstream = make_upstream()
    simulator.script("kling", [Outcome(result="fail", message=upstream.echo)])
    job_id = new_job(db, tenant, upstream)
    with httpx.Client(timeout=5) as http:
        assert submission.submit(db, http, upstream.settings, job_id) is S.SUBMITTED
        services.wait_until(
            lambda: (
                tracking.poll(db, http, upstream.settings, [job_id]) == []
                and job_state(db, job_id) == "failed"
            ),
            message="the poll sees the task failed",
        )
    job = assert_nowhere(db, tenant, upstream, job_id, log_lines())
    assert job["error"]["code"] == "upstream_failed"
    assert "credentials [redacted]" in job["error"]["message"]


def test_redaction_upstream_task_failed_told_by_a_callback(
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    make_upstream: Callable[..., Upstream],
    log_lines: Callable[[], list[str]],
) -> None:
    upstream = make_upstream(upstream_callbacks=True)
    simulator.script("kling", [Outcome(result="fail", message=upstream.echo)])
    job_id = new_job(db, tenant, upstream)
    with httpx.Client(timeout=5) as http:
        assert submission.submit(db, http, upstream.settings, job_id) is S.SUBMITTED
    services.wait_until(lambda: job_state(db, job_id) == "failed", message="the callback fails the job")
    with db.transaction() as session:
        job_row = session.get(Job, job_id)
        assert job_row is not None
        assert (job_row.poll_count, job_row.callback_count) == (0, 3)  # queued, running, failed
    job = assert_nowhere(db, tenant, upstream, job_id, log_lines())
    assert "credentials [redacted]" in job["error"]["message"]


def test_redaction_result_download_refused(
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    make_upstream: Callable[..., Upstream],
    log_lines: Callable[[], list[str]],
) -> None:
    upstream = make_upstream()
    simulator.script("kling", [Outcome(result="succeed", download_error=upstream.echo)])
    job_id = new_job(db, tenant, upstream)
    storage = build_storage(upstream.settings)
    with httpx.Client(timeout=5) as http:
        assert submission.submit(db, http, upstream.settings, job_id) is S.SUBMITTED
        to_store = services.wait_until(lambda: tracking.poll(db, http, upstream.settings, [job_id]))
        assert to_store == [job_id]
        # The link is refused, refreshed by asking the provider again, refused again: the job fails.
        assert storing.store(db, http, storage, upstream.settings, job_id) is S.FAILED
    job = assert_nowhere(db, tenant, upstream, job_id, log_lines())
    assert job["error"] == {
        "code": "storage_failed",
        "message": "result file answered HTTP 403",
        "retryable": True,
        "provider": None,
    }


def test_redaction_reconciled_submit_finds_the_task_failed(
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    make_upstream: Callable[..., Upstream],
    log_lines: Callable[[], list[str]],
) -> None:
    upstream = make_upstream()
    simulator.configure(read_timeout_rate=1.0, stall_s=10.0)  # the task is created, the answer lost
    simulator.script("kling", [Outcome(result="fail", message=upstream.echo)])
    job_id = new_job(db, tenant, upstream)
    with httpx.Client(timeout=0.5) as http:
        assert submission.submit(db, http, upstream.settings, job_id) is S.SUBMITTING
    simulator.configure(read_timeout_rate=0.0)
    with httpx.Client(timeout=5) as http:
        assert reconciliation.reconcile(db, http, upstream.settings, job_id) is S.FAILED
    job = assert_nowhere(db, tenant, upstream, job_id, log_lines())
    assert "credentials [redacted]" in job["error"]["message"]


def test_redaction_failure_message_redacts_before_it_cuts(make_settings: Callable[..., Settings]) -> None:
    key = "ZZ" + "k" * 40
    settings = make_settings(upstream_api_key=key)
    # Cut first, the key's head would survive at the end, where redaction no longer sees a whole key.
    message = failure_message(settings, "x" * (MAX_MESSAGE_CHARS - 10) + key)
    assert len(message) == MAX_MESSAGE_CHARS
    assert "ZZkk" not in message
    assert failure_message(settings, "Authorization: Bearer abc.def") == "Authorization: Bearer ***"


def _error_message_writes(tree: ast.AST) -> Iterator[ast.expr]:
    """The values a module writes to a job's `error_message`: dict entries, item assignments and
    `error_message=` keywords (as in `update(Job).values(...)`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "error_message":
                    yield value
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.slice, ast.Constant)
                    and target.slice.value == "error_message"
                ):
                    yield node.value
        elif isinstance(node, ast.Call) and _called(node) == "values":
            yield from (kw.value for kw in node.keywords if kw.arg == "error_message")


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


def test_redaction_every_error_message_write_goes_through_failure_message() -> None:
    writes = 0
    for path in sorted(ORCHESTRATOR.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for value in _error_message_writes(tree):
            writes += 1
            where = f"{path.relative_to(ORCHESTRATOR.parent)}:{value.lineno}"
            assert isinstance(value, ast.Call), f"{where} writes error_message without failure_message()"
            assert _called(value) == "failure_message", f"{where} writes error_message unredacted"
        # failure_columns() writes it through failure_message (checked above, in its own module).
        writes += sum(
            isinstance(node, ast.Call) and _called(node) == "failure_columns" for node in ast.walk(tree)
        )
    # submission, tracking (three), admission, storing, admin, jobs: the scan does see them
    assert writes >= 6
