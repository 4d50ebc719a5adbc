"""The second baseline: a competent naive relay on one event loop, with no database, no broker, no
durability, no ledger and no webhooks. It keeps up to 1,000 jobs in flight over one HTTP client: each
job is created on the simulated Kling API, polled until it ends, and its video written to a folder.
The same number of Kling jobs then goes through genrelay (API, workers, beat) on the same simulator,
and genrelay's CPU per job is reported as a multiple of the loop's.

The loop holds its requests to a few connections (4 by default): httpx's pool scans every connection
and queued request on each request, so here, against an upstream that answers at once, 1,000 jobs
cost 2.7 ms of CPU each on 4 connections, 4.6 on 16, 9.3 on 100, and 22 with 1,000 requests queued
in the pool itself.

The loop runs as a child process, so the CPU it reports is its own. The simulator is a process of its
own for both (speed 0, no "not found" polls: every task has ended by its first poll, while genrelay
hears of it by Kling's callbacks).

    python -m bench.naive_loop [--jobs 2000] [--in-flight 1000] [--connections 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.e2e import CONCURRENCY, run_once
from bench.harness import PYTHON, Shape, processes, start_genrelay, start_simulator
from bench.measure import Report
from bench.naive.app import ROUTE
from bench.services import bench_settings, create_tenants, services
from bench.workload import cores, job_body

ENDED = ("succeed", "failed")


@dataclass(frozen=True)
class Loop:
    """How the loop runs: jobs in flight, connections (and requests under way), wait between polls."""

    in_flight: int = 1000
    connections: int = 4
    poll_s: float = 1.0

    def argv(self) -> list[str]:
        return [
            "--in-flight",
            str(self.in_flight),
            "--connections",
            str(self.connections),
            "--poll-s",
            str(self.poll_s),
        ]


async def relay(upstream: str, jobs: int, loop: Loop, out: Path) -> dict[str, Any]:
    """Run `jobs` jobs as `loop` says; the CPU this process spent doing it."""
    limits = httpx.Limits(max_connections=loop.connections, max_keepalive_connections=loop.connections)
    headers = {"Authorization": "Bearer sk-simulator"}
    jobs_gate, requests_gate = asyncio.Semaphore(loop.in_flight), asyncio.Semaphore(loop.connections)
    async with httpx.AsyncClient(base_url=upstream, headers=headers, timeout=60, limits=limits) as client:
        upstream_api = Upstream(client, requests_gate)

        async def one(index: int) -> bool:
            async with jobs_gate:
                return await _job(upstream_api, index, out, loop.poll_s)

        cpu, started = time.process_time(), time.monotonic()
        succeeded = sum(await asyncio.gather(*(one(index) for index in range(jobs))))
        return {
            "jobs": jobs,
            "succeeded": succeeded,
            "elapsed_s": time.monotonic() - started,
            "cpu_s": time.process_time() - cpu,
        }


class Upstream:
    """The simulated Kling API, as many requests at a time as the loop has connections."""

    def __init__(self, client: httpx.AsyncClient, gate: asyncio.Semaphore) -> None:
        self.client, self.gate = client, gate

    async def create(self, index: int) -> str:
        body = {"model_name": "kling-v1", "prompt": f"shot {index}", "duration": "5"}
        async with self.gate:
            created = (await self.client.post(ROUTE, json=body)).raise_for_status()
        return str(created.json()["data"]["task_id"])

    async def task(self, task_id: str) -> dict[str, Any] | None:
        async with self.gate:
            answer = await self.client.get(f"{ROUTE}/{task_id}")
        return answer.json()["data"] if answer.status_code == 200 else None

    async def download(self, url: str) -> bytes:
        async with self.gate:
            return (await self.client.get(url)).raise_for_status().content


async def _job(upstream: Upstream, index: int, out: Path, poll_s: float) -> bool:
    task_id = await upstream.create(index)
    while (task := await upstream.task(task_id)) is None or task["task_status"] not in ENDED:
        await asyncio.sleep(poll_s)
    if task["task_status"] != "succeed":
        return False
    (out / f"{index}.mp4").write_bytes(await upstream.download(task["task_result"]["videos"][0]["url"]))
    return True


def run_relay(upstream: str, jobs: int, loop: Loop) -> dict[str, Any]:
    """The loop as a child process; what it reports of itself."""
    with tempfile.TemporaryDirectory(prefix="naive-loop-") as out:
        argv = [PYTHON, "-m", "bench.naive_loop", "--relay", upstream, "--out", out, "--jobs", str(jobs)]
        argv += loop.argv()
        done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=1800)
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        result["files"] = len(list(Path(out).glob("*.mp4")))
        return result


def run(jobs: int, shape_of_loop: Loop) -> Report:
    report = Report("naive_loop")
    with services("naive_loop") as svc, processes(svc, "naive_loop") as procs:
        simulator = start_simulator(procs, speed=0.0, not_found_polls=0)
        baseline = run_relay(simulator, jobs, shape_of_loop)
        settings = bench_settings(svc, upstream_base_url=simulator)
        shape = Shape(api_workers=cores(), workers=cores(), concurrency=CONCURRENCY, beat=True)
        api_url = start_genrelay(procs, settings, shape)
        keys = create_tenants(svc.database_url)
        genrelay = run_once(svc, procs, api_url, keys, jobs, [job_body(settings, "kling")])
    loop_ms = baseline["cpu_s"] * 1000 / max(baseline["succeeded"], 1)
    genrelay_ms = genrelay["genrelay_cpu_s"] * 1000 / max(genrelay["ended"], 1)
    report.add("naive_loop_cpu_ms_per_job", loop_ms, "loop: CPU ms per job", 2)
    report.add("naive_loop_jobs_per_s", baseline["succeeded"] / baseline["elapsed_s"], "loop: jobs/s")
    report.add("genrelay_kling_cpu_ms_per_job", genrelay_ms, "genrelay (API+workers+beat): CPU ms per job", 2)
    report.add("genrelay_kling_jobs_per_s", genrelay["jobs_per_s"], "genrelay: jobs/s")
    report.add("cpu_vs_naive_loop", genrelay_ms / loop_ms, "genrelay CPU per job / loop's", 1)
    report.note("jobs", jobs)
    report.note(
        "loop", {**vars(shape_of_loop), "succeeded": baseline["succeeded"], "files": baseline["files"]}
    )
    report.note("genrelay_states", genrelay["states"])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.naive_loop", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=Loop.in_flight)
    parser.add_argument(
        "--connections", type=int, default=Loop.connections, help="the loop's connections to the upstream"
    )
    parser.add_argument(
        "--poll-s", type=float, default=Loop.poll_s, help="the loop's wait between polls of a task"
    )
    parser.add_argument("--relay", metavar="UPSTREAM", help=argparse.SUPPRESS)  # run as the loop's child
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    loop = Loop(args.in_flight, args.connections, args.poll_s)
    if args.relay:
        print(json.dumps(asyncio.run(relay(args.relay, args.jobs, loop, args.out))))
        return
    run(args.jobs, loop).print()


if __name__ == "__main__":
    main()
