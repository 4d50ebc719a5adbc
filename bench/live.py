"""Waiting requests and open event streams on one API process: N jobs (1,000), each read with `Prefer:
wait=60` and each followed by its event stream (`GET /v1/jobs/{id}/stream`), all at once; with all of
them held, the API's RSS and database connections against an idle API; then the jobs end, a group at a
time, through `lifecycle.advance` as the pipeline ends them, and the delay from each job's end (the
commit) to its waiter's answer and to its stream's terminal event is measured: p50 and p99.

    python -m bench.live [--waiters 1000] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import httpx

from bench.harness import Shape, processes, start_genrelay
from bench.measure import Report, percentile, tree_cpu_s, tree_rss_mb
from bench.services import Services, bench_settings, create_tenants, services
from bench.workload import job_body
from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance
from schemas.jobs import JobStatus

TERMINAL = {"succeeded", "failed", "cancelled", "expired"}
END_GROUP = 10  # jobs ended per transaction, as a sweep or a batch of polls ends them
SETTLE_S = 120.0  # at most this long for every request's first look at its job to be over
IDLE_CPU_S = 0.02  # CPU seconds in half a second: the API is idle


@dataclass(frozen=True)
class Seen:
    rss: float
    connections: tuple[int, int]
    answered: dict[str, float]
    streamed: dict[str, float]
    ended: dict[str, float]
    responses: list[httpx.Response]
    endings: list[str]


def _api_connections(svc: Services) -> tuple[int, int]:
    """Connections of other processes to the run's database (the API's pool and its listener): open,
    and busy in a statement or a transaction."""
    query = (
        "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    opened, busy = svc.sql(query)[0]
    return int(opened), int(busy)


async def _settled(svc: Services, api_pid: int) -> None:
    """Until the API holds no connection busy and spends (almost) no CPU: every waiter's first look and
    every stream's first read is over (the LISTEN session stays `idle` between notifications)."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        before = tree_cpu_s(api_pid)
        await asyncio.sleep(0.5)
        if tree_cpu_s(api_pid) - before < IDLE_CPU_S and not _api_connections(svc)[1]:
            return


async def _wait_all(
    client: httpx.AsyncClient, key: str, job_ids: list[str]
) -> tuple[dict[str, float], list[asyncio.Task[httpx.Response]]]:
    answered: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {key}", "Prefer": "wait=60"}

    async def wait(job_id: str) -> httpx.Response:
        response = await client.get(f"/v1/jobs/{job_id}", headers=headers)
        answered[job_id] = time.time()
        return response

    tasks = [asyncio.create_task(wait(job_id)) for job_id in job_ids]
    return answered, tasks


async def _stream_all(
    client: httpx.AsyncClient, key: str, job_ids: list[str]
) -> tuple[dict[str, float], list[asyncio.Task[str]]]:
    """Each job's event stream, read until its terminal event: when that arrived, and its type."""
    ended: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {key}"}

    async def follow(job_id: str) -> str:
        async with client.stream("GET", f"/v1/jobs/{job_id}/stream", headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("event: job.") and line.split(".", 1)[1] in TERMINAL:
                    ended[job_id] = time.time()
                    return line.removeprefix("event: ")
        return "closed"

    return ended, [asyncio.create_task(follow(job_id)) for job_id in job_ids]


def _end(database_url: str, job_ids: list[str], every_s: float) -> dict[str, float]:
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
            time.sleep(every_s)
    finally:
        db.dispose()
    return ended


def run(waiters: int, rate: float) -> Report:
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

        async def scenario() -> Seen:
            limits = httpx.Limits(max_connections=2 * len(job_ids) + 10, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=120) as client:
                answered, waits = await _wait_all(client, key, job_ids)
                streamed, streams = await _stream_all(client, key, job_ids)
                await asyncio.sleep(1.0)  # every request sent and registered
                await _settled(svc, api_pid)
                held_rss = sum(tree_rss_mb(api_pid).values())
                held_connections = _api_connections(svc)
                early = len(answered) + len(streamed)
                ended = await asyncio.to_thread(_end, svc.database_url, job_ids, END_GROUP / rate)
                responses = await asyncio.gather(*waits)
                endings = await asyncio.gather(*streams)
            assert early == 0, f"{early} answers or terminal events came before their jobs ended"
            return Seen(held_rss, held_connections, answered, streamed, ended, list(responses), endings)

        seen = asyncio.run(scenario())
    held_rss, held_connections, ended = seen.rss, seen.connections, seen.ended
    delays_ms = [(seen.answered[job_id] - ended[job_id]) * 1000 for job_id in job_ids]
    stream_ms = [(seen.streamed[job_id] - ended[job_id]) * 1000 for job_id in seen.streamed]
    report.add("live_waiters", waiters, "requests waiting at once (Prefer: wait=60)")
    report.add("live_streams", waiters, "event streams open at once, beside them")
    report.add("live_wait_rss_growth_mb", held_rss - idle_rss, "API RSS growth while all are held (MB)")
    report.add("live_wait_db_connections_idle", idle_connections[0], "database connections open, API idle")
    report.add("live_wait_db_connections_held", held_connections[0], "database connections open, all waiting")
    report.add("live_wait_db_connections_busy", held_connections[1], "  of which busy while they wait")
    report.add("live_wait_p50_ms", percentile(delays_ms, 50), "job end -> its answer, p50 (ms)")
    report.add("live_wait_p99_ms", percentile(delays_ms, 99), "job end -> its answer, p99 (ms)")
    report.add("live_stream_p50_ms", percentile(stream_ms, 50), "job end -> its stream's event, p50 (ms)")
    report.add("live_stream_p99_ms", percentile(stream_ms, 99), "job end -> its stream's event, p99 (ms)")
    report.note("answered_statuses", sorted({response.json()["status"] for response in seen.responses}))
    report.note("stream_endings", dict(Counter(seen.endings)))
    report.note("ended", f"{END_GROUP} jobs per transaction, {rate:g} jobs/s")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__)
    parser.add_argument("--waiters", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="jobs ended per second")
    args = parser.parse_args()
    run(args.waiters, args.rate).print()


if __name__ == "__main__":
    main()
