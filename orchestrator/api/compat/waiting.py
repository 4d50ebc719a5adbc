"""Answering a compatible route's request once a job ends (`CompatAnswer.wait`, e.g. Replicate's
`Prefer: wait`): the process's `JobEnds` listener wakes the request, which then renders the job as it
stands; nothing but a coroutine is held while it waits."""

from __future__ import annotations

from dataclasses import replace

from starlette.concurrency import run_in_threadpool

from orchestrator.api import prefer
from orchestrator.api.compat.caller_jobs import CallerJobs
from orchestrator.api.context import AppContext
from schemas.jobs import JobStatus
from workers.providers.compat import CompatAnswer, JobView, Lookup, WaitFor


async def answer_when_ended(
    context: AppContext, jobs: CallerJobs, first: CompatAnswer, wait: WaitFor
) -> CompatAnswer:
    """Hold the answer until the job ends (or waits for input) or `wait.seconds` pass, then render the job
    as it stands. Nothing is held meanwhile but a coroutine: each look at the job borrows a pooled
    connection for one short read."""

    def look() -> JobView:
        return jobs.get(wait.job_id, lookup=(Lookup.JOB_ID,))

    def status() -> JobStatus:
        return JobStatus(look().status)

    await prefer.until_settled(context, wait.job_id, wait.seconds, status)
    answer = wait.render(await run_in_threadpool(look))
    return replace(answer, headers={**first.headers, **answer.headers})
