"""The `Provider` seam: the types an adapter takes and returns, the protocol the core calls, and
`ProviderPlugin`, the base every provider package builds on.

An adapter speaks one provider's wire format over an `httpx.Client` it is given. It never touches
the database, Celery or storage; it turns answers into `ProviderUpdate`s in our own terms. What it
declares besides (deadline, poll cadence, price file, worker group) the core reads as data.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel

from workers.providers.compat import CompatFamily
from workers.providers.errors import ProviderRejectedError
from workers.providers.simulation.http import Simulation
from workers.providers.videos.shape import VideoModels


class UpstreamStatus(StrEnum):
    """The provider's view of a task, mapped onto the few states genrelay acts on."""

    PENDING = "pending"  # accepted, not started (queued, throttled, submitted)
    RUNNING = "running"
    ACTION_REQUIRED = "action_required"  # Midjourney MODAL: waits for more input
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # ended upstream before finishing, by anyone's cancel (Seedance, Replicate)
    EXPIRED = "expired"  # the provider gave up on it: its own execution deadline passed
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
    Midjourney action's parent, or the job's own task when it continues after a modal step), and
    `parent_result` that task's non-file result as its provider reported it (the ids a follow-up names:
    a Kling video id, Suno clip ids); `deadline_at` is when genrelay gives the job up, for a provider
    that can be told to give up too."""

    job_id: str
    operation: str
    model: str
    input: Mapping[str, Any]
    callback_url: str | None = None
    parent_external_id: str | None = None
    parent_result: Mapping[str, Any] | None = None
    deadline_at: datetime | None = None


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
    needs the channel's credentials (see `Provider.download_headers`), which are never stored;
    `resolve` says `url` is the provider's reference to a file, which `Provider.resolve_output`
    turns into a download link when the output is copied (so a link that expires is fresh);
    `optional` marks an extra the upstream may not have made (a video's thumbnail on a gateway that
    serves none): answered as absent, it is left out instead of failing the job.
    """

    url: str
    content_type: str | None = None
    label: str | None = None
    authenticated: bool = False
    resolve: bool = False
    optional: bool = False


@dataclass(frozen=True)
class ProviderUpdate:
    """What a provider says about a task. `result` carries non-file results a projection needs
    (Midjourney buttons, a describe's prompts, Suno clip titles, lyrics text); its `refs`, if any, are
    the ids upstream gave the task's products (Suno clip ids), by which a compatible route finds the
    job a follow-up names (`Lookup.RESULT_REF`). `error_code` is one of `schemas.failures.CATALOGUE`;
    `provider_code` and `provider_message` are the provider's own words for a failure (Runway's
    `failureCode` and `failure`), when it gave them."""

    status: UpstreamStatus
    raw_status: str
    progress: int | None = None
    outputs: tuple[OutputRef, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    external_id: str | None = None
    result: Mapping[str, Any] | None = None
    provider_code: str | None = None
    provider_message: str | None = None


class Provider(Protocol):
    """One upstream provider. `operations` maps each operation to the model of its job input;
    `status_map` maps every documented upstream status to ours (unknown ones keep jobs waiting)."""

    name: str
    operations: Mapping[str, type[BaseModel]]
    status_map: Mapping[str, UpstreamStatus]
    supports_cancel: bool
    # False when the provider stops a task only while it waits in its queue (Seedance): a running job
    # is then not cancellable, rather than released here while the upstream finishes it, and bills us.
    cancels_running: bool
    # The input that continues a task waiting for more (Midjourney's modal step), if any.
    continuation_input: type[BaseModel] | None
    # The operations a follow-up may act on (`parent_job_id`), per follow-up operation; one not
    # named here may act on any succeeded job of this provider.
    parent_operations: Mapping[str, frozenset[str]]
    # Operations whose outcome is their `result` alone, with no file (a Suno persona's id): a success
    # reporting a result and no output is theirs to report; from any other it is a failure.
    result_operations: frozenset[str]
    sends_callbacks: bool
    # True when `find` can tell "no such task": an ambiguous submit can then be settled before
    # its deadline; otherwise the job keeps its hold until the deadline and is never resent.
    finds_by_job_id: bool
    # Defaults an operator's settings override: how long a job may take, how often to poll it.
    deadline_s: float
    poll_hint: PollHint | None
    title: str
    # The worker group that runs its submit and poll queues (the deploy files are rendered from it).
    queue_group: str
    # Its own routes, answered in its own shapes, if it has any (provider-compatible routes).
    compat: CompatFamily | None
    # Its video models on the shared OpenAI-shaped `/v1/videos` routes, if it serves any there.
    videos: VideoModels | None
    # How the simulator plays it, if it does.
    simulation: Simulation | None

    def price_file(self) -> Path | None:
        """The provider's list prices (a TOML price file), if it ships one."""
        ...

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

    def handshake(self, body: bytes) -> Mapping[str, Any] | None:
        """The answer a callback that only verifies the endpoint expects (None: it is a report)."""
        ...

    def resolve_output(self, http: httpx.Client, channel: Channel, output: OutputRef) -> OutputRef:
        """A download link for an output whose `resolve` is set."""
        ...

    def follow_up_example(
        self, operation: str, parent_result: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """An example input of the follow-up `operation` on a parent that reported `parent_result`
        (its `parent_job_id` left to fill in): what the contract suite runs."""
        ...


@dataclass(frozen=True)
class PollHint:
    """A provider's own poll cadence: first after `initial_s`, then times `factor`, up to `max_s`."""

    initial_s: float
    factor: float = 1.5
    max_s: float = 30.0


class ProviderPlugin:
    """The base of a provider package: its declarations as class attributes, with the defaults most
    providers share, and the adapter methods to implement.

    A subclass sets at least `name`, `title`, `operations` and `status_map` and implements `submit`,
    `poll` and `parse_callback`; `find`, `cancel` and `download_headers` have safe defaults. A
    `prices.toml` beside the subclass's module is its price file.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    operations: ClassVar[Mapping[str, type[BaseModel]]]
    status_map: ClassVar[Mapping[str, UpstreamStatus]]
    supports_cancel: ClassVar[bool] = False
    cancels_running: ClassVar[bool] = True
    continuation_input: ClassVar[type[BaseModel] | None] = None
    parent_operations: ClassVar[Mapping[str, frozenset[str]]] = {}
    result_operations: ClassVar[frozenset[str]] = frozenset()
    sends_callbacks: ClassVar[bool] = False
    finds_by_job_id: ClassVar[bool] = False
    deadline_s: ClassVar[float] = 3600.0
    poll_hint: ClassVar[PollHint | None] = None  # None: the operator's default cadence
    queue_group: ClassVar[str] = "video"
    prices: ClassVar[str | None] = "prices.toml"
    compat: ClassVar[CompatFamily | None] = None
    videos: ClassVar[VideoModels | None] = None
    simulation: ClassVar[Simulation | None] = None

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        raise NotImplementedError

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        raise NotImplementedError

    def find(
        self, http: httpx.Client, channel: Channel, job_id: str, operation: str
    ) -> ProviderUpdate | None:
        # Called only when `finds_by_job_id` is declared. Answering None would claim "no such task"
        # and invite a second, billed submit, so a provider that cannot look tasks up refuses.
        raise ProviderRejectedError("not_supported", f"{self.title} cannot look a task up by our job id")

    def cancel(self, http: httpx.Client, channel: Channel, task: TaskRef) -> None:
        raise ProviderRejectedError("not_supported", f"{self.title} has no way to cancel a task")

    def download_headers(self, channel: Channel) -> Mapping[str, str]:
        return {}  # most providers' result links are public, signed CDN URLs

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        raise NotImplementedError

    def handshake(self, body: bytes) -> Mapping[str, Any] | None:
        return None  # most providers' callbacks are all reports

    def resolve_output(self, http: httpx.Client, channel: Channel, output: OutputRef) -> OutputRef:
        return output  # most providers' outputs are links already

    def follow_up_example(
        self, operation: str, parent_result: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        # Most follow-ups name nothing of the parent's: their example (the one naming a parent, when the
        # operation also takes a plain input) serves as it is.
        return example_input(self.operations[operation], naming="parent_job_id")

    def price_file(self) -> Path | None:
        if self.prices is None:
            return None
        module = sys.modules[type(self).__module__]
        path = Path(module.__file__ or ".").parent / self.prices
        return path if path.is_file() else None


def example_input(model: type[BaseModel], naming: str | None = None) -> dict[str, Any] | None:
    """The first example an input model documents (every operation has one); with `naming`, the first
    that names that field, if one does."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    found: list[dict[str, Any]] = (
        [dict(item) for item in examples if isinstance(item, dict)] if isinstance(examples, list) else []
    )
    named = [item for item in found if naming is not None and naming in item]
    return next(iter(named or found), None)
