"""Server-side batches: a file of N lines (10,000) posted to one API process, which checks every line
and stores the batch (the time to its 202); then one worker consuming only the sweep queue, where
expansions run, makes every line a job (the time until none is pending); then the results file is
read back and matched line by line against the jobs in PostgreSQL. The jobs' submits are left
queued in the broker: this measures the batch, not the providers.

    python -m bench.batches [--lines 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from itertools import cycle

import httpx

from bench.harness import PYTHON, Shape, child_env, processes, start_genrelay
from bench.measure import Report
from bench.services import bench_settings, create_tenants, services
from bench.workload import provider_mix
from orchestrator.messaging import SWEEP_TASK


def run(lines: int) -> Report:
    report = Report("batches")
    with services("batches") as svc, processes(svc, "batches") as procs:
        settings = bench_settings(svc)
        api_url = start_genrelay(procs, settings, Shape(api_workers=1))
        [key] = create_tenants(svc.database_url)
        bodies = cycle(provider_mix(settings))
        upload = "".join(
            json.dumps({"custom_id": f"line-{n}", "body": next(bodies)}) + "\n" for n in range(lines)
        ).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/jsonl"}
        with httpx.Client(base_url=api_url, headers=headers, timeout=300) as client:
            started = time.perf_counter()
            answer = client.post("/v1/batches", content=upload)
            accept_s = time.perf_counter() - started
            answer.raise_for_status()
            batch_id = answer.json()["batch_id"]

            argv = [PYTHON, "-m", "orchestrator.cli", "worker", "-Q", SWEEP_TASK, "-c", "1"]
            started = time.perf_counter()
            procs.start("worker", [*argv, "-n", f"bench-batches-{os.getpid()}@%h"], child_env(settings))
            while client.get(f"/v1/batches/{batch_id}").json()["request_counts"]["pending"]:
                procs.check_alive()
                time.sleep(0.2)
            expand_s = time.perf_counter() - started  # the worker's start included

            started = time.perf_counter()
            results = [
                json.loads(line) for line in client.get(f"/v1/batches/{batch_id}/results").text.splitlines()
            ]
            results_s = time.perf_counter() - started
        jobs = dict(svc.sql("SELECT client_reference, job_id::text FROM jobs WHERE batch_id = %s", batch_id))
    shown = {row["custom_id"]: row["job_id"] for row in results}
    in_order = [row["line"] for row in results] == list(range(1, lines + 1))
    report.add("batch_lines", lines, "lines in the file")
    report.add("batch_accept_s", accept_s, "POST /v1/batches: checked and stored (s)", 2)
    report.add("batch_expand_s", expand_s, "every line a job, one worker (s, its start included)", 2)
    report.add("batch_jobs_per_s", lines / expand_s, "jobs made per second")
    report.add("batch_results_s", results_s, "results file read (s)", 2)
    report.add(
        "batch_results_match",
        int(shown == jobs and in_order and len(jobs) == lines),
        "results match the jobs (1/0)",
    )
    report.note("upload_mb", round(len(upload) / 1e6, 2))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batches", description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    run(parser.parse_args().lines).print()


if __name__ == "__main__":
    main()
