"""What a batch run shows: live bars per provider with queued/running/done/failed counts on a
terminal (one plain line per finished line otherwise), and the summary at the end."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from orchestrator.cli.batch.lines import BatchLine
from orchestrator.cli.batch.manifest import DONE, FINAL_FAILURES, LineRecord, format_credits

MAX_LISTED = 10


class Phase(StrEnum):
    QUEUED = "queued"  # waiting for a slot here, or queued in genrelay
    RUNNING = "running"  # submitted upstream, running, being stored or downloaded
    DONE = "done"
    FAILED = "failed"


class BatchProgress:
    """Counts of lines per provider and phase, drawn as they change."""

    def __init__(self, console: Console, lines: Iterable[BatchLine]) -> None:
        self.console = console
        self.phases: dict[str, Phase] = {}
        self.providers: dict[str, str] = {}
        for line in lines:
            self.phases[line.line_id] = Phase.QUEUED
            self.providers[line.line_id] = line.provider
        self.progress = Progress(
            TextColumn("{task.fields[provider]:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}
        for provider, total in sorted(Counter(self.providers.values()).items()):
            self.tasks[provider] = self.progress.add_task("", total=total, provider=provider)
            self._draw(provider)

    def __enter__(self) -> BatchProgress:
        if self.console.is_terminal:
            self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def move(self, line: BatchLine, phase: Phase) -> None:
        if self.phases[line.line_id] != phase:
            self.phases[line.line_id] = phase
            self._draw(line.provider)

    def _draw(self, provider: str) -> None:
        counts = Counter(p for line_id, p in self.phases.items() if self.providers[line_id] == provider)
        description = " · ".join(f"{phase.value} {counts[phase]}" for phase in Phase)
        finished = counts[Phase.DONE] + counts[Phase.FAILED]
        self.progress.update(self.tasks[provider], description=description, completed=finished)

    def finished(self, line: BatchLine, record: LineRecord, *, skipped: bool = False) -> None:
        self.move(line, Phase.DONE if record.status == DONE else Phase.FAILED)
        if record.status == DONE and self.console.is_terminal:
            return  # the bar says it; failures are worth a line of their own
        note = " (settled by an earlier run)" if skipped else ""
        error = f" {record.error.code}: {record.error.message}" if record.error else ""
        files = f" {len(record.files)} file(s)" if record.status == DONE else ""
        text = f"{record.status:<14} {line.line_id} ({line.provider}){files}{error}{note}"
        self.console.print(escape(text), highlight=False)


@dataclass
class Summary:
    total: int
    done: int = 0
    skipped: int = 0
    charged: int = 0
    rate_limited: int = 0
    failures: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def failed(self) -> int:
        return self.total - self.done


def summarize(lines: list[BatchLine], records: dict[str, LineRecord], skipped: int) -> Summary:
    summary = Summary(total=len(lines), skipped=skipped)
    for line in lines:
        record = records.get(line.line_id)
        summary.charged += record.cost.charged if record else 0
        if record is not None and record.status == DONE:
            summary.done += 1
            continue
        code, message = (record.error.code, record.error.message) if record and record.error else ("", "")
        status = record.status if record else "not_submitted"
        summary.failures[(f"{status}/{code}" if code else status, message)].append(line.line_id)
    return summary


def render_summary(console: Console, summary: Summary, manifest: str, *, interrupted: bool) -> None:
    head = "interrupted" if interrupted else "finished"
    console.print(
        f"{head}: {summary.total} lines, {summary.done} done, {summary.failed} not done "
        f"({summary.skipped} settled before this run, left as they were)",
        highlight=False,
    )
    for (reason, message), line_ids in sorted(summary.failures.items(), key=lambda item: -len(item[1])):
        listed = ", ".join(line_ids[:MAX_LISTED]) + (" ..." if len(line_ids) > MAX_LISTED else "")
        detail = f": {message}" if message else ""
        console.print(
            f"  {len(line_ids)} x {escape(reason)}{escape(detail)} (lines {escape(listed)})", highlight=False
        )
    if any(reason.split("/")[0] in FINAL_FAILURES for reason, _ in summary.failures):
        console.print("  (failed lines stay failed on re-runs; --retry-failed resubmits them as new jobs)")
    if summary.rate_limited:
        console.print(
            f"rate limited: {summary.rate_limited} answers 429, waited out; a lower --concurrency asks less"
        )
    console.print(f"credits spent: {format_credits(summary.charged)} ({summary.charged} micro-credits)")
    console.print(f"manifest: {escape(manifest)}", highlight=False)
    if interrupted:
        console.print("jobs in flight keep running in genrelay; run the same command again to pick them up")
