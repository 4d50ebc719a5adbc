"""RabbitMQ as the broker: quorum queues with a delivery limit, so a message its workers keep dying on
is dead-lettered and counted rather than redelivered forever; and the rate limit without Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from kombu.connection import Connection

from orchestrator import messaging
from orchestrator.api import create_app
from orchestrator.errors import RateLimitedError
from orchestrator.settings import Settings
from orchestrator.tenants.limits import RateLimiter
from tests.processes import celery_worker

on_rabbitmq = pytest.mark.parametrize("deployment", ["rabbitmq"], indirect=True)


def hand_back_until_gone(url: str, queue: str) -> int:
    """Take the queue's message and drop the connection without acknowledging it, as a worker killed
    mid-task does, until the queue has none left; how many times it was delivered."""
    deliveries = 0
    while True:
        with Connection(url) as connection:
            message = connection.channel().basic_get(queue, no_ack=False)
            if message is None:
                return deliveries
            deliveries += 1
            assert deliveries <= 100, "redelivered without end"


@pytest.mark.e2e
@on_rabbitmq
def test_a_message_workers_keep_dying_on_is_dead_lettered_after_its_limit_and_counted(
    make_settings: Callable[..., Settings], broker: redis.Redis, broker_url: str, tmp_path: Path
) -> None:
    settings = make_settings()
    # A real worker declares the dead-letter exchange and queue when it connects; then it goes away.
    with celery_worker(settings, tmp_path / "worker.log", beat=False):
        pass
    dispatcher = messaging.Dispatcher(broker_url)
    assert dispatcher.dead_letters() == 0
    assert dispatcher.send(messaging.poll_task("kling"), [str(uuid.uuid4())])

    assert hand_back_until_gone(broker_url, messaging.poll_task("kling")) == messaging.DELIVERY_LIMIT + 1
    assert dispatcher.dead_letters() == 1
    with TestClient(create_app(settings)) as api:
        exposition = api.get("/metrics").text
    assert "genrelay_broker_dead_lettered_messages 1.0" in exposition
    dispatcher.close()


@on_rabbitmq
def test_rabbitmq_deployment_answers_health_and_metrics_without_dead_letters_declared(
    make_settings: Callable[..., Settings], broker: redis.Redis
) -> None:
    with TestClient(create_app(make_settings())) as api:
        assert api.get("/readyz").json()["checks"]["broker"] == "ok"
        assert "genrelay_broker_dead_lettered_messages 0.0" in api.get("/metrics").text


def test_redis_deployment_reports_no_dead_letter_count(api: TestClient) -> None:
    # Redis has no delivery limit: nothing is dead-lettered there, so the series is absent, not 0.
    assert "genrelay_broker_dead_lettered_messages" not in api.get("/metrics").text


def test_without_redis_each_process_limits_each_key_on_its_own() -> None:
    limiter = RateLimiter(None)
    key, other = uuid.uuid4(), uuid.uuid4()
    for _ in range(3):
        limiter.take(key, rate=3)
    with pytest.raises(RateLimitedError) as refused:
        limiter.take(key, rate=3)
    assert refused.value.retry_after_s == 1
    limiter.take(other, rate=3)  # another key has its own bucket
    assert not limiter.shared


@pytest.mark.parametrize(
    ("broker_url", "redis_url", "limits_in"),
    [
        ("redis://broker:6379/0", None, "redis://broker:6379/0"),
        ("amqp://guest:guest@rabbit:5672//", "redis://cache:6379/1", "redis://cache:6379/1"),
        ("amqp://guest:guest@rabbit:5672//", None, None),
    ],
)
def test_rate_limit_buckets_live_in_redis_url_else_a_redis_broker_else_in_process(
    broker_url: str, redis_url: str | None, limits_in: str | None
) -> None:
    settings = Settings(_env_file=None, broker_url=broker_url, redis_url=redis_url)  # type: ignore[call-arg]
    assert settings.rate_limit_redis_url == limits_in


def test_a_broker_genrelay_cannot_run_on_is_refused_with_the_schemes_it_takes() -> None:
    with pytest.raises(ValueError, match=r"Redis \(redis://, rediss://\) or RabbitMQ \(amqp://"):
        Settings(_env_file=None, broker_url="sqs://queue")  # type: ignore[call-arg]
