"""Structured logs: one JSON line per committed state transition, with ids and states but never the
prompt, keys or secret-bearing URLs; the same format in a real worker process."""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import lifecycle, logs
from orchestrator.db import Database
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from tests.conftest import Tenant
from tests.factories import create_job, kling_request
from tests.stack import Stack

S = JobStatus
PROMPT = "a-very-private-prompt-about-a-paper-boat"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the lifecycle logger writes, through the real JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("orchestrator.lifecycle")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_logs_transition_is_one_json_line_with_ids_and_no_prompt(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings], json_lines: io.StringIO
) -> None:
    job_id = create_job(db, tenant, make_settings(), input={"prompt": PROMPT})
    json_lines.truncate(0)
    with db.transaction() as session:
        change = lifecycle.Change(S.SUBMITTING, columns={"channel": "cometapi"})
        assert lifecycle.advance(session, job_id, S.QUEUED, change) is not None
        assert json_lines.getvalue() == ""  # not before the transaction commits
    [line] = lines(json_lines)
    assert line["event"] == "job_transition"
    assert (line["job_id"], line["provider"], line["channel"]) == (str(job_id), "kling", "cometapi")
    assert (line["from_state"], line["state"], line["sequence"]) == ("queued", "submitting", 2)
    assert line["level"] == "INFO"
    assert line["logger"] == "orchestrator.lifecycle"
    assert PROMPT not in json_lines.getvalue()
    assert tenant.api_key not in json_lines.getvalue()


def test_logs_rolled_back_transition_is_not_logged(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings], json_lines: io.StringIO
) -> None:
    job_id = create_job(db, tenant, make_settings())
    json_lines.truncate(0)

    def fail_after_the_move() -> None:
        with db.transaction() as session:
            assert lifecycle.advance(session, job_id, S.QUEUED, lifecycle.Change(S.FAILED)) is not None
            raise RuntimeError("the rest of the use-case failed")

    with pytest.raises(RuntimeError):
        fail_after_the_move()
    assert json_lines.getvalue() == ""
    with db.transaction() as session:
        assert lifecycle.advance(session, job_id, S.QUEUED, lifecycle.Change(S.CANCELLED)) is not None
    assert [line["state"] for line in lines(json_lines)] == ["cancelled"]


@pytest.mark.parametrize(
    ("leaky", "secret"),
    [
        ("connect to redis://:hunter2@redis:6379/0 failed", "hunter2"),
        ("postgresql+psycopg://app:s3cr3t@db/genrelay", "s3cr3t"),
        ('"POST /callbacks/kling/tok_abcdef123456 HTTP/1.1" 200', "tok_abcdef123456"),
        ("GET /v1/files/a/b.mp4?expires=1&signature=deadbeefcafe", "deadbeefcafe"),
        ("https://bucket.s3/x?X-Amz-Credential=AKIA123&X-Amz-Signature=ff00ff", "AKIA123"),
        ("Authorization: Bearer gr_1a2b3c4d_verysecretvalue", "verysecretvalue"),
        ("secret whsec_QUJDREVGR0hJSktMTU5PUA== rotated", "QUJDREVGR0hJSktMTU5PUA"),
    ],
)
def test_logs_formatters_redact_credentials_whatever_the_source(leaky: str, secret: str) -> None:
    record = logging.LogRecord("any", logging.WARNING, __file__, 1, "failed: %s", (leaky,), None)
    for formatter in (logs.JsonFormatter(), logs.TextFormatter()):
        line = formatter.format(record)
        assert secret not in line
        assert "***" in line


def test_logs_format_follows_settings(make_settings: Callable[..., Settings]) -> None:
    def formatter(**overrides: Any) -> str:
        config = logs.logging_config(make_settings(**overrides))
        return str(config["formatters"]["genrelay"]["()"])

    assert formatter(environment="dev").endswith("TextFormatter")
    assert formatter(environment="test").endswith("JsonFormatter")
    assert formatter(environment="dev", log_format="json").endswith("JsonFormatter")


@pytest.mark.e2e
def test_logs_worker_writes_json_transitions_without_the_prompt(
    start_stack: Callable[..., Stack], tenant: Tenant, tmp_path: Path, json_lines: io.StringIO
) -> None:
    stack = start_stack()
    job_id = stack.create(tenant, kling_request(prompt=PROMPT))
    assert stack.wait_for_end(tenant, job_id)["status"] == "succeeded"
    worker_log = (tmp_path / "worker-1.log").read_text()
    records = [json.loads(line) for line in worker_log.splitlines() if line.startswith("{")]
    worker_moves = [r for r in records if r.get("event") == "job_transition" and r["job_id"] == job_id]
    # The simulator's callback reaches the API (this process) and may move the job before the worker
    # records `submitted`: whoever applied each move, together they are one legal path.
    api_moves = [r for r in lines(json_lines) if r.get("job_id") == job_id]
    moves = sorted(worker_moves + api_moves, key=lambda r: r["sequence"])
    path = [S.QUEUED] + [S(r["state"]) for r in moves]
    assert [S(r["from_state"]) for r in moves] == path[:-1]
    assert all(after in lifecycle.TRANSITIONS[before] for before, after in itertools.pairwise(path))
    assert path[-1] is S.SUCCEEDED
    # Only a worker claims a job for submission and stores its outputs.
    assert {"submitting", "succeeded"} <= {r["state"] for r in worker_moves}
    assert {(r["provider"], r["channel"]) for r in moves} == {("kling", "default")}
    assert any(r["logger"].startswith("celery") for r in records)  # Celery's own lines are JSON too
    assert PROMPT not in worker_log + json_lines.getvalue()
    assert tenant.api_key not in worker_log
    assert stack.settings.upstream_api_key.get_secret_value() not in worker_log
