"""Tenant webhooks: the event body genrelay sends, the delivery log, and signing secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from schemas.jobs import EventType, Job


class WebhookEvent(BaseModel):
    """The body of a webhook (unified jobs). Signed per Standard Webhooks: verify the raw body with the
    `webhook-id`, `webhook-timestamp` and `webhook-signature` headers; dedupe on `webhook-id`."""

    type: EventType
    timestamp: datetime
    event_id: str
    sequence: int = Field(description="Per job, increasing; order events by it.")
    data: Job


class DeliveryAttempt(BaseModel):
    attempt: int
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None
    created_at: datetime


class Delivery(BaseModel):
    event_id: str
    type: str
    sequence: int
    url: str
    state: Literal["pending", "delivered", "dead", "disabled"]
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    attempts: list[DeliveryAttempt]


class DeliveryList(BaseModel):
    data: list[Delivery]


class SigningSecret(BaseModel):
    secret: str = Field(description="`whsec_...`: give it to your Standard Webhooks verifier.")
    created_at: datetime
    expires_at: datetime | None = Field(description="Set on a previous secret during a rotation.")


class SigningSecrets(BaseModel):
    data: list[SigningSecret] = Field(description="Every secret that currently signs, newest first.")
