"""Replicate's job input (`predict`: the model's own inputs, loosely checked) and the wire's prediction
object, read leniently (unknown fields kept, every field but `status` optional)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_OUTPUTS = 4  # images a prediction may ask for (`num_outputs`), as the FLUX and SDXL models take
MAX_INPUT_BYTES = 64 * 1024  # the model inputs as JSON; files go by URL, never inline in bulk
EVENTS = ("start", "output", "logs", "completed")
Event = Literal["start", "output", "logs", "completed"]
# Replicate's default: "whenever there are new outputs or the prediction has finished" (§4.4).
DEFAULT_EVENTS: tuple[Event, ...] = ("output", "completed")


class ReplicatePredictInput(BaseModel):
    """A prediction of the job's `model` (`owner/name`): `input` holds the model's own inputs, passed
    as they are (the model checks them); `webhook_events_filter` picks which of genrelay's webhooks a
    job made through the Replicate routes sends (never sent upstream)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"input": {"prompt": "a paper boat on a lake at dawn", "aspect_ratio": "1:1"}},
                {
                    "input": {"prompt": "a paper boat on a lake at dawn", "num_outputs": 2},
                    "webhook_events_filter": ["start", "completed"],
                },
            ]
        },
    )

    input: dict[str, Any] = Field(
        description="The model's inputs, as its Replicate page lists them.",
        json_schema_extra={
            "properties": {"num_outputs": {"type": "integer", "minimum": 1, "maximum": MAX_OUTPUTS}}
        },
    )
    webhook_events_filter: list[Event] | None = Field(
        default=None,
        description="Which webhooks to send: start, output, logs, completed (default: output, completed).",
    )

    @field_validator("input")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, separators=(",", ":")))
        if size > MAX_INPUT_BYTES:
            raise ValueError(
                f"the model inputs are {size} bytes of JSON, more than {MAX_INPUT_BYTES}: "
                "pass files as URLs, not inline data"
            )
        return value

    num_outputs: int | None = Field(
        default=None,
        description="Set from `input.num_outputs` (1 when absent): the images a prediction is priced for.",
    )

    @model_validator(mode="after")
    def _count_outputs(self) -> ReplicatePredictInput:
        count = self.input.get("num_outputs", 1)
        if isinstance(count, float) and count.is_integer():
            count = self.input["num_outputs"] = int(count)  # JSON's 2.0 is the integer 2
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_OUTPUTS:
            raise ValueError(f"input.num_outputs must be a whole number from 1 to {MAX_OUTPUTS}")
        self.num_outputs = count
        return self

    @field_validator("webhook_events_filter")
    @classmethod
    def _distinct(cls, value: list[Event] | None) -> list[Event] | None:
        return None if value is None else list(dict.fromkeys(value))


class Prediction(BaseModel):
    """Replicate's prediction object, as a GET, a create and a webhook carry it (§4.2-§4.4)."""

    model_config = ConfigDict(extra="allow")

    id: str = ""
    status: str
    model: str | None = None
    version: str | None = None
    output: Any = None
    error: Any = None
    logs: str | None = None
    data_removed: bool = False
    metrics: dict[str, Any] | None = None
