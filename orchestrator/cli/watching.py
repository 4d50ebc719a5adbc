"""`genrelay jobs watch`: one job's timeline followed live until the job ends, then its outputs or
its error. A live status bar on a terminal; plain lines, one per event, otherwise."""

from __future__ import annotations

import asyncio
import random
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from orchestrator.cli.api_client import ApiError, GenrelayClient, RetryPolicy
from orchestrator.cli.batch.manifest import format_credits
from schemas.jobs import Job, JobEvent, JobStatus


def describe_event(event: JobEvent) -> str:
    source = event.from_status.value if event.from_status else "-"
    details = " ".join(f"{key}={value}" for key, value in sorted((event.detail or {}).items()))
    when = event.created_at.strftime("%Y-%m-%d %H:%M:%S")
    step = f"{source} -> {event.to_status.value}"
    return f"{when}  #{event.sequence:<3} {step}  {event.progress}%  {details}".rstrip()


class WatchView:
    """Events printed as they come; the job's status and progress as a bar below them on a terminal."""

    def __init__(self, console: Console, job_id: str) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), console=console
        )
        self.task = self.progress.add_task(job_id, total=100)

    def __enter__(self) -> WatchView:
        if self.console.is_terminal:
            self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def event(self, event: JobEvent) -> None:
        self.console.print(escape(describe_event(event)), highlight=False)

    def status(self, job: Job) -> None:
        description = f"{job.job_id} {job.status.value}"
        self.progress.update(self.task, description=description, completed=job.progress)


async def follow(client: GenrelayClient, job_id: str, view: WatchView, interval_s: float) -> Job:
    """Show new events until the job is terminal; the job as it ended."""
    seen = 0
    while True:
        job = await client.get_job(job_id)  # before the events, so a terminal job's last event is shown
        for event in await client.events(job_id):
            if event.sequence > seen:
                view.event(event)
                seen = event.sequence
        view.status(job)
        if job.status.is_terminal:
            return job
        await asyncio.sleep(interval_s * random.uniform(0.8, 1.2))  # noqa: S311 - jitter


def print_result(console: Console, job: Job) -> None:
    if job.status != JobStatus.SUCCEEDED:
        error = f"{job.error.code}: {job.error.message}" if job.error else "no error recorded"
        console.print(escape(f"{job.status.value}: {error}"), highlight=False)
        return
    console.print(
        f"succeeded: {len(job.outputs)} output(s), charged {format_credits(job.charged)} credits",
        highlight=False,
    )
    for output in job.outputs:
        label = f" {output.label}" if output.label else ""
        size = f"{output.size_bytes} bytes"
        console.print(
            escape(f"  [{output.index}]{label} {output.content_type} {size} sha256 {output.sha256}"),
            highlight=False,
        )
        console.print(f"      {escape(output.url)}", highlight=False)


async def _watch(url: str, api_key: str, job_id: str, interval_s: float, console: Console) -> Job:
    # A short budget: a wrong --url is said within seconds; a brief API restart is still ridden out.
    async with GenrelayClient(url, api_key, retry=RetryPolicy(attempts=5)) as client:
        with WatchView(console, job_id) as view:
            return await follow(client, job_id, view, interval_s)


def watch_job(url: str, api_key: str, job_id: str, interval_s: float) -> int:
    """Follow the job to its end; the exit code: 0 if it succeeded, 1 otherwise."""
    console = Console(soft_wrap=True)
    try:
        job = asyncio.run(_watch(url, api_key, job_id, interval_s, console))
    except ApiError as exc:
        Console(stderr=True, soft_wrap=True).print(escape(f"{exc.code}: {exc.message}"), highlight=False)
        return 1
    print_result(console, job)
    return 0 if job.status == JobStatus.SUCCEEDED else 1
