"""The `Provider` seam: the types an adapter takes and returns, and the protocol it implements.

An adapter speaks one provider's wire format over an `httpx.Client` it is given. It never touches
the database, Celery or storage; it turns answers into `ProviderUpdate`s in our own terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import httpx
from pydantic import BaseModel


class UpstreamStatus(StrEnum):
    """The provider's view of a task, mapped onto the few states genrelay acts on."""

    PENDING = "pending"  # accepted, not started (queued, throttled, submitted)
    RUNNING = "running"
    ACTION_REQUIRED = "action_required"  # Midjourney MODAL: waits for more input
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # a status we don't know, or "task not found yet": keep waiting


@dataclass(frozen=True)
class Channel:
    """Where and how to reach a provider. `api_key` never leaves the worker process.

    `mode` selects the upstream flavour: "cometapi" (CometAPI's routes and key) or "vendor" (the
    provider's own API where it differs only in auth or prefix). `secret_key` serves vendors that
    sign requests (Kling's JWT from an access key and a secret key).
    """

    name: str
    base_url: str
    api_key: str = field(repr=False)
    mode: str = "cometapi"
    secret_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class SubmitRequest:
    """One task to create. `parent_external_id` is the upstream task a follow-up acts on (a
    Midjourney action's parent, or the job's own task when it continues after a modal step)."""

    job_id: str
    operation: str
    model: str
    input: Mapping[str, Any]
    callback_url: str | None = None
    parent_external_id: str | None = None


@dataclass(frozen=True)
class TaskRef:
    """Enough to find an upstream task again."""

    job_id: str
    operation: str
    external_id: str


@dataclass(frozen=True)
class OutputRef:
    """An upstream result file to copy into our storage.

    `label` names it for projections (e.g. "clip-0.audio"); `authenticated` says the download
    needs the channel's credentials (see `Provider.download_headers`), which are never stored.
    """

    url: str
    content_type: str | None = None
    label: str | None = None
    authenticated: bool = False


@dataclass(frozen=True)
class ProviderUpdate:
    """What a provider says about a task. `result` carries non-file results a projection needs
    (Midjourney buttons, a describe's prompts, Suno clip titles, lyrics text)."""

    status: UpstreamStatus
    raw_status: str
    progress: int | None = None
    outputs: tuple[OutputRef, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    external_id: str | None = None
    result: Mapping[str, Any] | None = None


class Provider(Protocol):
    """One upstream provider. `operations` maps each operation to the model of its job input;
    `status_map` maps every documented upstream status to ours (unknown ones keep jobs waiting)."""

    name: str
    operations: Mapping[str, type[BaseModel]]
    status_map: Mapping[str, UpstreamStatus]
    supports_cancel: bool
    # The input that continues a task waiting for more (Midjourney's modal step), if any.
    continuation_input: type[BaseModel] | None
    sends_callbacks: bool
    # True when `find` can tell "no such task": an ambiguous submit can then be settled before
    # its deadline; otherwise the job keeps its hold until the deadline and is never resent.
    finds_by_job_id: bool

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        """Create the upstream task and return its id (raises ProviderError subclasses)."""
        ...

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        """Fetch the task's current state."""
        ...

    def find(
        self, http: httpx.Client, channel: Channel, job_id: str, operation: str
    ) -> ProviderUpdate | None:
        """Look a task up by the job id we sent with it; None when the provider has no such task."""
        ...

    def cancel(self, http: httpx.Client, channel: Channel, task: TaskRef) -> None:
        """Ask the provider to stop the task (only called when `supports_cancel`)."""
        ...

    def download_headers(self, channel: Channel) -> Mapping[str, str]:
        """Headers for downloading an `authenticated` output."""
        ...

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        """Read a callback body; pure, no I/O."""
        ...
