"""Waiting capacity: N jobs (10,000; 100,000 with --full) held upstream for 10 minutes (scripted
simulator outcomes), then one worker process and beat. Once their first polls are behind, a window
of samples: RSS of each worker and beat process, Redis memory and the messages in its queues,
PostgreSQL rows updated per second on `jobs` (pg_stat_user_tables), upstream polls per second, and
poll lag.

    python -m bench.waiting [--jobs 10000] [--full] [--window 60] [--fill-via-api]
                            [--workers 1] [--concurrency 4] [--pool prefork|threads]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

import httpx

from bench.harness import POOLS, Processes, Shape, processes, start_genrelay, start_simulator
from bench.measure import Report, Spread, cpu_of, tree_rss_mb
from bench.services import Services, bench_settings, create_tenants, services
from bench.workload import cores, progress, provider_mix, submit_count
from orchestrator.db import Database
from orchestrator.pipeline import submission
from orchestrator.pricing import load_price_table
from orchestrator.settings import Settings
from orchestrator.tenants import accounts, creating
from schemas.jobs import JobCreate
from workers.providers import PROVIDERS

FILL_BATCH = 50
FILL_PROCESSES = 8  # each waits on PostgreSQL and the simulator most of the time
HELD_S = 600.0  # upstream processing time of every job: longer than the run
UNFINISHED_SQL = "state IN ('queued','submitting','submitted','running','action_required','storing')"
POLL_LAG_SQL = (
    "SELECT coalesce(extract(epoch FROM now() - min(next_check_at)), 0) FROM jobs "
    f"WHERE {UNFINISHED_SQL} AND next_check_at <= now()"
)
# After the fill the worker starts with every job due at once; the window opens when that backlog
# is down to this much lag (or after SETTLE_MAX_S).
SETTLED_LAG_S = 5.0
SETTLE_MAX_S = 120.0
TUPLES_SQL = "SELECT n_tup_upd, n_tup_ins FROM pg_stat_user_tables WHERE relname = %s"
# (sample key, figure suffix, label): sampled each second of the window.
SAMPLED = [
    ("worker_rss_max", "worker_rss_mb", "worker RSS MB (largest worker process)"),
    ("worker_rss_total", "worker_rss_total", "worker RSS MB (worker + its pool, summed)"),
    ("beat_rss", "beat_rss_mb", "beat RSS MB"),
    ("redis_mb", "redis_mb", "Redis used_memory MB"),
    ("queued", "queued_messages", "messages in Redis queues"),
    ("unacked", "unacked", "unacknowledged messages"),
    ("poll_lag_s", "poll_lag_s", "poll lag s (now - oldest due check)"),
]
# (counter, figure suffix, label): rates over the window.
COUNTED = [
    ("jobs_updated", "rows_per_s", "jobs rows updated/s"),
    ("events_inserted", "events_per_s", "job_events rows inserted/s"),
    ("upstream_queries", "upstream_polls_per_s", "upstream polls/s"),
    ("cpu_genrelay", "cpu_cores", "CPU, cores busy: API + worker + beat"),
    ("cpu_worker", "cpu_cores_worker", "CPU, cores busy: the worker"),
]


def hold_upstream(simulator: str, count: int) -> None:
    """Script every provider's next tasks to run for HELD_S seconds."""
    outcome = {"result": "succeed", "submitted_s": 2.0, "processing_s": HELD_S}
    for provider in PROVIDERS:
        body = {"provider": provider, "outcomes": [outcome] * (count // len(PROVIDERS) + 1)}
        httpx.post(f"{simulator}/_sim/script", json=body, timeout=60).raise_for_status()


def broker_messages(svc: Services) -> dict[str, int]:
    """Messages in this run's queues (every list under the key prefix) and unacknowledged ones."""
    client = svc.redis()
    queued = unacked = 0
    for key in client.scan_iter(match=f"{svc.key_prefix}*", count=1000):
        kind = client.type(key)
        if kind == b"list":
            queued += int(client.llen(key))
        elif kind == b"hash" and key.endswith(b"unacked"):
            unacked += int(client.hlen(key))
    return {"queued": queued, "unacked": unacked}


def sample(svc: Services, procs: Processes) -> dict[str, Any]:
    workers = [tree_rss_mb(pid) for pid in procs.pids("worker").values() if pid]
    beat = procs.pids("beat").get("beat")
    return {
        "worker_rss_max": max((mb for tree in workers for mb in tree.values()), default=0.0),
        "worker_rss_total": sum(mb for tree in workers for mb in tree.values()),
        "beat_rss": sum(tree_rss_mb(beat).values()) if beat else 0.0,
        "redis_mb": int(svc.redis().info("memory")["used_memory"]) / 2**20,
        "poll_lag_s": float(svc.sql(POLL_LAG_SQL)[0][0]),
        **broker_messages(svc),
    }


def counters(svc: Services, simulator: str, procs: Processes) -> dict[str, float]:
    updated, inserted = svc.sql(TUPLES_SQL, "jobs")[0]
    events = svc.sql(TUPLES_SQL, "job_events")[0][1]
    stats = httpx.get(f"{simulator}/_sim/stats", timeout=30).json()
    cpu = cpu_of({name: pid for name, pid in procs.pids().items() if name != "simulator"})
    return {
        "jobs_updated": updated,
        "jobs_inserted": inserted,
        "events_inserted": events,
        "upstream_queries": sum(s["queries"] for s in stats.values()),
        "cpu_genrelay": sum(cpu.values()),
        "cpu_worker": sum(v for name, v in cpu.items() if name.startswith("worker")),
        "at": time.monotonic(),
    }


def fill_slice(settings: Settings, api_key: str, bodies: list[dict[str, Any]], count: int) -> int:
    """In a fill process: create jobs (a batch per transaction) and submit each upstream, with the
    use-cases the API and the submit task run."""
    db, prices = (
        Database(settings.require_database_url(), pool_size=1),
        load_price_table(settings.prices_path),
    )
    with db.transaction() as session:
        principal = accounts.authenticate(session, api_key)
    with httpx.Client(timeout=settings.upstream_timeout_s) as http:
        for start in range(0, count, FILL_BATCH):
            prepared = [
                creating.prepare(
                    principal, JobCreate.model_validate(bodies[i % len(bodies)]), prices, settings
                )
                for i in range(start, min(count, start + FILL_BATCH))
            ]
            with db.transaction() as session:
                outcomes = creating.write(session, prepared, settings)
            batch = [outcome.job.job_id for outcome in outcomes if isinstance(outcome, creating.Created)]
            for job_id in batch:
                submission.submit(db, http, settings, job_id)
    db.dispose()
    return count


def fill(
    svc: Services, procs: Processes, settings: Settings, simulator: str, count: int, via_api: bool
) -> float:
    """Get the jobs upstream; returns seconds taken. Through the API and the worker on 2 cores this
    takes minutes (the worker submits ~30 jobs/s), so by default processes of this program run the same
    use-cases (create with its hold, then submit) directly, before the worker and beat start."""
    started = time.monotonic()
    hold_upstream(simulator, count)
    bodies = provider_mix(settings)
    keys = create_tenants(svc.database_url, FILL_PROCESSES)
    if via_api:
        submit_count(svc, f"http://127.0.0.1:{settings.api_port}", keys, bodies, count)
    else:
        share = -(-count // len(keys))
        with ProcessPoolExecutor(len(keys), mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [
                pool.submit(fill_slice, settings, key, bodies, min(share, count - i * share))
                for i, key in enumerate(keys)
            ]
            for done in futures:
                done.result()
    while True:
        states = progress(svc).states
        if sum(states.get(s, 0) for s in ("submitted", "running")) >= count:
            return time.monotonic() - started
        procs.check_alive()
        time.sleep(1)


def settle(svc: Services, procs: Processes) -> float:
    """Wait until the first polls of the whole fill, all due when the worker starts, are behind us;
    returns the seconds that took."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_MAX_S:
        procs.check_alive()
        if svc.sql(POLL_LAG_SQL)[0][0] < SETTLED_LAG_S:
            break
        time.sleep(1)
    return round(time.monotonic() - started, 1)


def run(counts: list[int], window: float, via_api: bool, workers: Shape) -> Report:
    """`workers`: the shape of the workers that poll (their count, pool and concurrency)."""
    report = Report("waiting")
    for count in counts:
        measure(report, count, window, via_api, workers)
    report.note("filled_by", "API + worker" if via_api else "create_job + submission.submit in this program")
    report.note("shape", f"API {cores()} processes; {workers.describe_workers()}; beat")
    return report


def measure(report: Report, count: int, window: float, via_api: bool, workers: Shape) -> None:
    with services("waiting") as svc, processes(svc, "waiting") as procs:
        simulator = start_simulator(procs, speed=1.0)
        settings = bench_settings(svc, upstream_base_url=simulator, deadline_s={"default": 7200.0})
        # The worker and beat start once every job is upstream: during the fill they would poll the
        # jobs already in, taking the cores the fill needs (the fill then took 2.5 times as long).
        fill_shape = replace(workers, api_workers=cores(), workers=workers.workers if via_api else 0)
        start_genrelay(procs, settings, fill_shape)
        fill_s = fill(svc, procs, settings, simulator, count, via_api)
        polling_shape = replace(workers, workers=0 if via_api else workers.workers, beat=True)
        start_genrelay(procs, settings, polling_shape)
        settle_s = settle(svc, procs)
        before, samples = counters(svc, simulator, procs), []
        while time.monotonic() < before["at"] + window:
            samples.append(sample(svc, procs))
            time.sleep(1)
        after = counters(svc, simulator, procs)
        states = svc.sql("SELECT provider || '/' || state, count(*) FROM jobs GROUP BY 1 ORDER BY 1")
    size = f"{count // 1000}k" if count % 1000 == 0 else str(count)
    prefix = f"waiting_{size}"
    for name, figure, label in SAMPLED:
        report.add(f"{prefix}_{figure}", Spread.of(s[name] for s in samples), f"{prefix}: {label}")
    seconds = after["at"] - before["at"]
    for name, figure, label in COUNTED:
        report.add(f"{prefix}_{figure}", (after[name] - before[name]) / seconds, f"{prefix}: {label}")
    report.note(f"{prefix}_fill_s", round(fill_s, 1))
    report.note(f"{prefix}_settle_s", settle_s)
    report.note(f"{prefix}_window_s", round(seconds, 1))
    report.note(f"{prefix}_states_at_end", dict(states))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.waiting", description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--full", action="store_true", help="then 100,000 jobs")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of sampling")
    parser.add_argument(
        "--fill-via-api", action="store_true", help="submit through the API and worker (slow)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="pool processes or threads per worker")
    parser.add_argument("--pool", choices=POOLS, default="prefork", help="the workers' Celery pool")
    args = parser.parse_args()
    counts = [args.jobs, 100_000] if args.full else [args.jobs]
    workers = Shape(workers=args.workers, concurrency=args.concurrency, pool=args.pool)
    run(counts, args.window, args.fill_via_api, workers).print()


if __name__ == "__main__":
    main()
