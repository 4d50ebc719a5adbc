"""genrelay against the naive design (bench/naive: a task per job that submits, sleep-polls, downloads)
on the same simulator, every upstream task taking 30 s, with the same worker processes and prefork
concurrency each: completed jobs/s of each, and genrelay's as a multiple of the naive one's.

Both run at once on the same number of jobs (the naive side barely uses CPU: its slots sleep). The
naive side is stopped once it has finished `WAVES` rounds of its slots (finishing all would take
jobs / slots x 30 s); its rate is the jobs done by its last completion divided by that time.

    python -m bench.naive_vs_genrelay [--jobs 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx
from celery import Celery

from bench.harness import PYTHON, Processes, Shape, child_env, processes, start_genrelay, start_simulator
from bench.measure import Report, Spread
from bench.naive.app import QUEUE, TASK
from bench.services import Services, bench_settings, create_tenants, services
from bench.workload import cores, job_body, out_dir, progress, submit_count

UPSTREAM_S = 30.0
WAVES = 2


def start_naive(svc: Services, procs: Processes, simulator: str, concurrency: int) -> tuple[Celery, Path]:
    folder = out_dir(svc, "naive-results")
    env = child_env(
        NAIVE_BROKER_URL=svc.broker_url,
        NAIVE_KEY_PREFIX=f"{svc.key_prefix}naive:",
        NAIVE_UPSTREAM_URL=simulator,
        NAIVE_OUT_DIR=str(folder),
    )
    for index in range(cores()):
        argv = [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "bench.naive.app",
            "worker",
            "-Q",
            QUEUE,
            "-c",
            str(concurrency),
        ]
        procs.start(
            f"naive-{index}", [*argv, "--pool", "prefork", "-l", "INFO", "-n", f"naive-{index}@%h"], env
        )
    for index in range(cores()):
        procs.wait_for_log(f"naive-{index}", "ready.")
    client = Celery("naive-client", broker=svc.broker_url, set_as_current=False)
    client.conf.broker_transport_options = {"global_keyprefix": f"{svc.key_prefix}naive:"}
    return client, folder


def naive_rate(
    folder: Path, started_wall: float, slots: int, procs: Processes, jobs: int
) -> tuple[float, int]:
    """Wait for WAVES rounds of the naive slots (or all jobs); jobs/s up to the last completion."""
    target = min(jobs, WAVES * slots)
    deadline = time.monotonic() + WAVES * (UPSTREAM_S + 30) + 30
    while len(list(folder.glob("*.mp4"))) < target and time.monotonic() < deadline:
        procs.check_alive()
        time.sleep(0.5)
    finished = [path.stat().st_mtime for path in folder.glob("*.mp4")]
    if not finished:
        return 0.0, 0
    return len(finished) / (max(finished) - started_wall), len(finished)


def run(jobs: int, concurrency: int) -> Report:
    report = Report("naive_vs_genrelay")
    with services("naive") as svc, processes(svc, "naive") as procs:
        simulator = start_simulator(procs, speed=1.0)
        outcome = {"result": "succeed", "submitted_s": 0.0, "processing_s": UPSTREAM_S}
        script = {"provider": "kling", "outcomes": [outcome] * (2 * jobs + 10)}
        httpx.post(f"{simulator}/_sim/script", json=script, timeout=30).raise_for_status()
        settings = bench_settings(svc, upstream_base_url=simulator)
        shape = Shape(api_workers=cores(), workers=cores(), concurrency=concurrency, beat=True)
        api_url = start_genrelay(procs, settings, shape)
        keys, body = create_tenants(svc.database_url), job_body(settings, "kling")
        naive, folder = start_naive(svc, procs, simulator, concurrency)
        naive_started = time.time()
        for index in range(jobs):
            naive.send_task(TASK, args=[index, f"a paper boat, take {index}"], queue=QUEUE)
        first_send = submit_count(svc, api_url, keys, [body], jobs)
        while (done := progress(svc)).finished < jobs:
            procs.check_alive()
            time.sleep(0.5)
        ended = done.last_finished.timestamp() if done.last_finished else time.time()
        genrelay = jobs / (ended - first_send)
        naive_per_s, naive_done = naive_rate(folder, naive_started, cores() * concurrency, procs, jobs)
        for name in [name for name in procs.children if name.startswith("naive")]:
            procs.stop(name, timeout=1)  # its slots sleep; no need to wait for them
    report.add("genrelay_jobs_per_s", genrelay, "genrelay completed jobs/s", 3)
    report.add("naive_jobs_per_s", naive_per_s, "naive completed jobs/s", 3)
    report.add("speedup_vs_naive", Spread.of([genrelay / naive_per_s]) if naive_per_s else None, "speedup", 1)
    report.note("jobs", jobs)
    report.note("genrelay_states", done.states)
    report.note("naive_completed_before_stop", naive_done)
    report.note("upstream_s", UPSTREAM_S)
    report.note("shape", f"each: {cores()} worker processes x prefork {concurrency}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.naive_vs_genrelay", description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="prefork processes per worker, both sides")
    args = parser.parse_args()
    run(args.jobs, args.concurrency).print()


if __name__ == "__main__":
    main()
