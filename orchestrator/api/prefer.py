"""The `Prefer: wait=N` request preference (RFC 7240) on the unified job routes: reading it, and holding
an answer until the job ends or N seconds pass. The process's `JobEnds` listener wakes the held
requests; each holds a coroutine only, and borrows a pooled connection for one short read per look."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from orchestrator.api.context import AppContext
from schemas.jobs import JobStatus

MAX_WAIT_S = 60
_WAIT = re.compile(r'^wait(?:\s*=\s*"?(\d{1,9})"?)?$', re.IGNORECASE)
DESCRIPTION = (
    "`wait=N` (RFC 7240, N up to 60): answer once the job ends or waits for input, or after N seconds "
    "with the job as it stands; the answer's `Preference-Applied` says the wait applied. Other "
    "preferences are ignored."
)


def wait_seconds(prefer: str | None) -> int | None:
    """The seconds a `Prefer` header asks an answer to wait, capped at 60 (a bare `wait` asks 60); None
    when it asks no wait. A preference that cannot be read is ignored, as RFC 7240 asks of a server."""
    # Preferences are separated by commas, a preference's parameters by semicolons.
    for token in (prefer or "").replace(";", ",").split(","):
        found = _WAIT.match(token.strip())
        if found is not None:
            return min(int(found[1]), MAX_WAIT_S) if found[1] else MAX_WAIT_S
    return None


def applied(seconds: int) -> dict[str, str]:
    return {"Preference-Applied": f"wait={seconds}"}


def settled(status: JobStatus) -> bool:
    """Whether a waiting answer may go: the job ended, or it waits for its tenant's input."""
    return status.is_terminal or status is JobStatus.ACTION_REQUIRED


async def until_settled(
    context: AppContext, job_id: str, seconds: float, status: Callable[[], JobStatus]
) -> None:
    """Return once `status()` (called in the thread pool) is `settled`, or after `seconds`."""

    async def ended() -> bool:
        return settled(await run_in_threadpool(status))

    if context.job_ends is not None and seconds > 0:
        await context.job_ends.wait(job_id, seconds, ended)
