"""Waiting requests on one API process: N jobs (1,000) each read with `Prefer: wait=60` at once; with
all of them held, the API's RSS and database connections against an idle API; then the jobs end, a
group at a time, through `lifecycle.advance` as the pipeline ends them, and each answer's delay from
its job's end (the commit) is measured: p50 and p99.

    python -m bench.live [--waiters 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx

from bench.harness import Shape, processes, start_genrelay
from bench.measure import Report, percentile, tree_rss_mb
from bench.services import Services, bench_settings, create_tenants, services
from bench.workload import job_body
from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance
from schemas.jobs import JobStatus

END_GROUP = 50  # jobs ended per transaction, as a sweep or a batch of polls ends them
END_EVERY_S = 0.25  # 200 jobs end per second
SETTLE_S = 60.0  # at most this long for every waiter's first look at its job to be over


def _api_connections(svc: Services) -> tuple[int, int]:
    """Connections of other processes to the run's database (the API's pool and its listener): open,
    and busy in a statement or a transaction."""
    query = (
        "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    opened, busy = svc.sql(query)[0]
    return int(opened), int(busy)


async def _settled(svc: Services) -> None:
    """Until the API holds no connection busy (each waiter's first look is over): the LISTEN session
    stays `idle` between notifications."""
    deadline = time.monotonic() + SETTLE_S
    while _api_connections(svc)[1] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


async def _wait_all(
    api_url: str, key: str, job_ids: list[str]
) -> tuple[dict[str, float], list[asyncio.Task[httpx.Response]]]:
    answered: dict[str, float] = {}
    limits = httpx.Limits(max_connections=len(job_ids) + 10, max_keepalive_connections=0)
    client = httpx.AsyncClient(base_url=api_url, limits=limits, timeout=90)
    headers = {"Authorization": f"Bearer {key}", "Prefer": "wait=60"}

    async def wait(job_id: str) -> httpx.Response:
        response = await client.get(f"/v1/jobs/{job_id}", headers=headers)
        answered[job_id] = time.time()
        return response

    tasks = [asyncio.create_task(wait(job_id)) for job_id in job_ids]
    return answered, tasks


def _end(database_url: str, job_ids: list[str]) -> dict[str, float]:
    """End the jobs a group per transaction; when each group's end committed (wall clock)."""
    db = Database(database_url, pool_size=1)
    ended: dict[str, float] = {}
    try:
        for start in range(0, len(job_ids), END_GROUP):
            group = job_ids[start : start + END_GROUP]
            with db.transaction() as session:
                for job_id in group:
                    advance(session, uuid.UUID(job_id), JobStatus.QUEUED, Change(JobStatus.CANCELLED))
            committed = time.time()
            ended.update(dict.fromkeys(group, committed))
            time.sleep(END_EVERY_S)
    finally:
        db.dispose()
    return ended


def run(waiters: int) -> Report:
    report = Report("live")
    with services("live") as svc, processes(svc, "live") as procs:
        settings = bench_settings(svc)
        api_url = start_genrelay(procs, settings, Shape(api_workers=1))
        [key] = create_tenants(svc.database_url)
        body = job_body(settings, "kling")
        with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            job_ids = [client.post("/v1/jobs", json=body).json()["job_id"] for _ in range(waiters)]
        api_pid = procs.pids("api")["api"]
        assert api_pid is not None
        idle_rss, idle_connections = sum(tree_rss_mb(api_pid).values()), _api_connections(svc)

        async def scenario() -> tuple[
            float, tuple[int, int], dict[str, float], dict[str, float], list[httpx.Response]
        ]:
            answered, tasks = await _wait_all(api_url, key, job_ids)
            await asyncio.sleep(1.0)  # every request sent and registered
            await _settled(svc)
            held_rss = sum(tree_rss_mb(api_pid).values())
            held_connections = _api_connections(svc)
            early = len(answered)
            ended = await asyncio.to_thread(_end, svc.database_url, job_ids)
            responses = await asyncio.gather(*tasks)
            assert early == 0, f"{early} answers came before their jobs ended"
            return held_rss, held_connections, answered, ended, list(responses)

        held_rss, held_connections, answered, ended, responses = asyncio.run(scenario())
    delays_ms = [(answered[job_id] - ended[job_id]) * 1000 for job_id in job_ids]
    report.add("live_waiters", waiters, "requests waiting at once (Prefer: wait=60)")
    report.add("live_wait_rss_growth_mb", held_rss - idle_rss, "API RSS growth while they wait (MB)")
    report.add("live_wait_db_connections_idle", idle_connections[0], "database connections open, API idle")
    report.add("live_wait_db_connections_held", held_connections[0], "database connections open, all waiting")
    report.add("live_wait_db_connections_busy", held_connections[1], "  of which busy while they wait")
    report.add("live_wait_p50_ms", percentile(delays_ms, 50), "job end -> its answer, p50 (ms)")
    report.add("live_wait_p99_ms", percentile(delays_ms, 99), "job end -> its answer, p99 (ms)")
    statuses = {response.json()["status"] for response in responses}
    report.note("answered_statuses", sorted(statuses))
    report.note("ended", f"{END_GROUP} jobs per transaction every {END_EVERY_S * 1000:.0f} ms")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__)
    parser.add_argument("--waiters", type=int, default=1000)
    run(parser.parse_args().waiters).print()


if __name__ == "__main__":
    main()
