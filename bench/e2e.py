"""End to end: N jobs, one standalone operation per provider in turn, through the simulator with zero
upstream latency (speed 0, no "not found" polls): completed jobs/s from the first submit to the last
job ending, and CPU per job of genrelay's processes (API, workers, beat) and, apart, of PostgreSQL,
Redis and the simulator.

    python -m bench.e2e [--quick] [--jobs 5000] [--repeats 1] [--concurrency 4]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from bench.harness import POOLS, Processes, Shape, processes, start_genrelay, start_simulator
from bench.measure import Report, Spread, cpu_delta, cpu_of
from bench.services import Services, bench_settings, create_tenants, services
from bench.workload import cores, progress, provider_mix, submit_count, wait_finished

# Prefork pool processes per worker process: tasks mostly wait on the upstream, PostgreSQL and
# storage, so a few per core keep the cores busy without thrashing two of them.
CONCURRENCY = 4
GENRELAY = ("api", "worker", "beat")


def run_once(
    svc: Services,
    procs: Processes,
    api_url: str,
    keys: list[str],
    jobs: int,
    bodies: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`jobs` jobs through a running genrelay (one standalone operation per provider in turn unless
    `bodies` says otherwise): jobs/s from the first submit to the last end, and CPU per process."""
    bodies = bodies or provider_mix(bench_settings(svc))
    done_before = progress(svc).finished
    pids = {**procs.pids(), **svc.infra_pids()}
    before = cpu_of(pids)
    first_send = submit_count(svc, api_url, keys, bodies, jobs)
    finished = wait_finished(svc, procs, done_before + jobs, timeout=max(120.0, jobs / 10))
    used = cpu_delta(before, cpu_of(pids))
    last = finished.last_finished or datetime.now(UTC)
    elapsed = last.timestamp() - first_send
    ended = finished.finished - done_before
    return {
        "jobs_per_s": ended / elapsed,
        "elapsed_s": elapsed,
        "ended": ended,
        "states": finished.states,
        "cpu_s": used,
        "genrelay_cpu_s": sum(v for name, v in used.items() if name.startswith(GENRELAY)),
        "infra_cpu_s": sum(v for name, v in used.items() if not name.startswith(GENRELAY)),
    }


def run(jobs: int, repeats: int, concurrency: int, pool: str = "prefork") -> Report:
    report = Report("e2e")
    with services("e2e") as svc, processes(svc, "e2e") as procs:
        simulator = start_simulator(procs, speed=0.0, not_found_polls=0)
        settings = bench_settings(svc, upstream_base_url=simulator)
        shape = Shape(api_workers=cores(), workers=cores(), concurrency=concurrency, beat=True, pool=pool)
        api_url = start_genrelay(procs, settings, shape)
        keys = create_tenants(svc.database_url)
        runs = [run_once(svc, procs, api_url, keys, jobs) for _ in range(repeats)]
        infra_seen = sorted(name for name, pid in svc.infra_pids().items() if pid)
    report.add("e2e_jobs_per_s", Spread.of(r["jobs_per_s"] for r in runs), "completed jobs/s")
    report.add(
        "cpu_ms_per_job",
        Spread.of(r["genrelay_cpu_s"] * 1000 / r["ended"] for r in runs),
        "CPU ms per job, genrelay (API+workers+beat)",
    )
    report.add(
        "cpu_ms_per_job_infra",
        Spread.of(r["infra_cpu_s"] * 1000 / r["ended"] for r in runs),
        f"CPU ms per job, {'+'.join(['simulator', *infra_seen])}",
    )
    for group in ("api", "worker", "beat", "simulator", "postgres", "redis"):
        per_job = (
            sum(v for name, v in r["cpu_s"].items() if name.startswith(group)) * 1000 / r["ended"]
            for r in runs
        )
        report.add(f"e2e_cpu_ms_per_job_{group}", Spread.of(per_job), f"  of which {group}")
    report.note("jobs_per_repeat", jobs)
    report.note("final_states", runs[-1]["states"])
    report.note("elapsed_s", [round(r["elapsed_s"], 1) for r in runs])
    report.note("shape", f"API {cores()} processes; {shape.describe_workers()}; beat")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 jobs, one repeat")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="pool size per worker")
    parser.add_argument("--pool", choices=POOLS, default="prefork", help="the workers' Celery pool")
    args = parser.parse_args()
    jobs, repeats = (1000, 1) if args.quick else (args.jobs, args.repeats)
    run(jobs, repeats, args.concurrency, args.pool).print()


if __name__ == "__main__":
    main()
