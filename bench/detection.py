"""Detection latency: each upstream task ends at a random moment (uniform 5-60 s after it is created);
how long until the tenant's `job.succeeded` webhook arrives, with the upstream polls each job cost.
Kling, which reports no progress: (a) with upstream callbacks, (b) polling only (the poll policy),
(c) polling only at a fixed 15 s, (f) polling only at the schedule genrelay learned from the model's
run times (the default), after WARMUP jobs of the same distribution taught it. Veo's video API, which
reports progress and sends no callbacks: (d) polling only (the poll policy, and a poll where the
progress predicts the end), (e) a fixed 15 s. (b) to (e) run with learned polling off. For the
polling-only Kling cases it prints the least mean delay any schedule could reach at the same polls
per job for that uniform distribution (`orchestrator.poll_placement`), and the measured mean as a
multiple of it.

The cases run side by side, each a whole genrelay (API, worker, beat, own database and broker
prefix) against its own simulator with the same scripted durations. Simulators and the webhook
receiver run in this process, so the task's end (`TaskRecord.finished_mono`) and the webhook's arrival
are read on one clock.

    python -m bench.detection [--jobs 200] [--quick] [--spread 25] [--min-s 5] [--max-s 60]
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response

from bench.harness import Processes, Shape, processes, start_genrelay
from bench.measure import Report, Spread, percentile
from bench.services import Services, bench_settings, create_tenants, services, sibling
from bench.workload import job_body, submit, submit_count
from orchestrator.poll_placement import RunTimes, cost, fixed, plan
from orchestrator.settings import PollPolicy
from tests.services import serving
from workers.providers.simulation.engine import Outcome
from workers.providers.veo.simulation import ID_PREFIX as VEO_ID_PREFIX
from workers.simulator import SimConfig, Simulator
from workers.simulator import create_app as create_simulator_app

FIXED_15 = {"default": PollPolicy(initial_s=15.0, factor=1.0, max_s=15.0)}
POLICY_ONLY = {"upstream_callbacks": False, "learned_poll_every_s": None}
# mode: (provider, settings)
MODES: dict[str, tuple[str, dict[str, Any]]] = {
    "callback": ("kling", {"learned_poll_every_s": None}),
    "polling": ("kling", POLICY_ONLY),
    "fixed15": ("kling", {**POLICY_ONLY, "poll": FIXED_15}),
    "learned": ("kling", {"upstream_callbacks": False}),
    "progress": ("veo", POLICY_ONLY),
    "progress_fixed15": ("veo", {**POLICY_ONLY, "poll": FIXED_15}),
}
POLLING_KLING = ("polling", "fixed15", "learned")
QUEUED_S = 1.0  # of each task's duration, the part before it starts running
WARMUP = 60  # jobs the learned case runs first, to learn from
LEARNING_S = 150.0  # the most its warm-up and the next refresh of run times (once a minute) may take


@dataclass
class Arrivals:
    """When each job's terminal webhook arrived, per mode (first delivery only)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: dict[str, dict[str, float]] = field(default_factory=lambda: {m: {} for m in [*MODES, "warmup"]})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks/{mode}")
        async def receive(mode: str, request: Request) -> Response:
            arrived = time.monotonic()
            body = json.loads(await request.body())
            if mode in self.seen and body.get("type") in {"job.succeeded", "job.failed", "job.expired"}:
                with self.lock:
                    self.seen[mode].setdefault(str(body["data"]["job_id"]), arrived)
            return Response(status_code=204)

        return app

    def count(self, mode: str) -> int:
        with self.lock:
            return len(self.seen[mode])


@contextmanager
def simulator(provider: str, durations: list[float]) -> Iterator[tuple[Simulator, str]]:
    # Every query finds the task: the default first "not found" answer would cost a slow poller a
    # whole interval, which says more about the simulator than about the poll policy.
    sim = Simulator(SimConfig(seed=7, not_found_polls=0))
    outcomes = [Outcome(result="succeed", submitted_s=QUEUED_S, processing_s=d - QUEUED_S) for d in durations]
    app = create_simulator_app(sim)  # registers the providers, so scripts can be queued after it
    sim.script(provider, outcomes)
    with serving(app) as server:
        yield sim, server.url


@dataclass(frozen=True)
class Case:
    """One running genrelay with its own simulator, tenant and job body."""

    space: Services
    provider: str
    sim: Simulator
    api_url: str
    keys: list[str]
    body: dict[str, Any]


def start_case(
    stack: ExitStack, svc: Services, procs: Processes, mode: str, durations: list[float], hooks: str
) -> Case:
    provider, overrides = MODES[mode]
    space = stack.enter_context(sibling(svc, f"detect{mode}"))
    sim, sim_url = stack.enter_context(simulator(provider, durations))
    settings = bench_settings(space, upstream_base_url=sim_url, webhook_allowlist=["127.0.0.1"], **overrides)
    api_url = start_genrelay(procs, settings, Shape(api_workers=1, workers=1, concurrency=2, beat=True), mode)
    body = {**job_body(settings, provider), "callback_url": f"{hooks}/hooks/{mode}"}
    return Case(space, provider, sim, api_url, create_tenants(space.database_url), body)


def learn(case: Case, arrivals: Arrivals, procs: Processes) -> list[float]:
    """Run the warm-up jobs (the first WARMUP scripted durations) and wait for the schedule learned
    from them; returns it (seconds after a task's acceptance)."""
    warmup = {
        **case.body,
        "callback_url": case.body["callback_url"].replace("/hooks/learned", "/hooks/warmup"),
    }
    submit_count(case.space, case.api_url, case.keys, [warmup], WARMUP)
    deadline = time.monotonic() + LEARNING_S
    while time.monotonic() < deadline:
        procs.check_alive()
        rows = case.space.sql("SELECT poll_schedule_s FROM duration_stats WHERE poll_schedule_s IS NOT NULL")
        if rows and arrivals.count("warmup") >= WARMUP:
            return list(rows[0][0])
        time.sleep(0.5)
    raise RuntimeError(f"no poll schedule learned within {LEARNING_S:g} s")


def measure(case: Case, arrived: dict[str, float]) -> tuple[list[float], list[int]]:
    """Per job: seconds from the task's end to the webhook; upstream polls per task."""
    external_ids = dict(case.space.sql("SELECT job_id::text, external_id FROM jobs"))
    # Our external id is the provider's task id, in its own form (Veo's "video_<id>").
    task_of = {job_id: (ref or "").removeprefix(VEO_ID_PREFIX) for job_id, ref in external_ids.items()}
    latencies, polls = [], []
    stats = case.sim.stats()[case.provider]
    for job_id, at in arrived.items():
        task = case.sim.task(task_of.get(job_id, ""))
        if task is not None:
            latencies.append(at - task.finished_mono)
            polls.append(stats.queries_by_task.get(task.task_id, 0))
    return latencies, polls


def run(jobs: int, low: float, high: float, spread_s: float) -> Report:
    rng = random.Random(7)
    durations = [rng.uniform(low, high) for _ in range(jobs)]
    warmup = [rng.uniform(low, high) for _ in range(WARMUP)]
    arrivals, report = Arrivals(), Report("detection")
    with services("detection") as svc, processes(svc, "detection") as procs, ExitStack() as stack:
        hooks = stack.enter_context(serving(arrivals.app())).url
        cases = {
            mode: start_case(
                stack, svc, procs, mode, warmup + durations if mode == "learned" else durations, hooks
            )
            for mode in MODES
        }
        schedule = learn(cases["learned"], arrivals, procs)
        # Paced, all cases at once: a burst would measure the queue behind it, not detection.
        pacing = ["--rate", str(jobs / spread_s), "--duration", str(spread_s), "--grace", "30"]
        with ThreadPoolExecutor(len(cases)) as pool:
            sent = pool.map(
                lambda c: submit(c.space, c.api_url, c.keys, [c.body], name="paced", args=pacing),
                cases.values(),
            )
            answers = [result["statuses"] | result["errors"] for result in sent]
        deadline = time.monotonic() + high + 60
        while time.monotonic() < deadline and any(arrivals.count(m) < jobs for m in MODES):
            procs.check_alive()
            time.sleep(0.5)
        results = {mode: measure(cases[mode], arrivals.seen[mode]) for mode in MODES}
    _fill(report, results)
    _against_the_optimum(report, results, RunTimes.uniform(low, high))
    report.note("jobs_per_mode", jobs)
    report.note("answers_per_mode", answers)
    report.note("submitted_over_s", spread_s)
    report.note("webhooks_received", {mode: len(lat) for mode, (lat, _) in results.items()})
    report.note("upstream_duration_s", f"uniform {low:g}-{high:g}")
    report.note("learned_schedule_s", [round(t, 1) for t in schedule])
    return report


def _fill(report: Report, results: dict[str, tuple[list[float], list[int]]]) -> None:
    callback, _ = results["callback"]
    report.add("detect_p50_s_callback", _over_jobs(callback, 50), "callback: p50 s [min to max over jobs]", 2)
    report.add("detect_p99_s_callback", percentile(callback, 99), "callback: p99 s", 2)
    for mode in (*POLLING_KLING, "progress", "progress_fixed15"):
        latencies, polls = results[mode]
        suffix = "" if mode == "polling" else f"_{mode.removeprefix('polling_')}"
        report.add(f"detect_mean_s_{mode}", _mean(latencies), f"{mode}: mean s [min to max]", 2)
        report.add(f"detect_p50_s_{mode}", percentile(latencies, 50), f"{mode}: p50 s", 2)
        report.add(f"detect_p99_s_{mode}", percentile(latencies, 99), f"{mode}: p99 s", 2)
        report.add(
            f"polls_per_job{suffix}", _mean([float(p) for p in polls]), f"{mode}: upstream polls/job", 2
        )
    report.add(
        "polls_per_job_callback", _mean([float(p) for p in results["callback"][1]]), "callback: polls/job", 2
    )


def _against_the_optimum(
    report: Report, results: dict[str, tuple[list[float], list[int]]], runs: RunTimes
) -> None:
    """For each polling-only Kling case: the least mean detection delay any schedule can reach at the
    polls per job the case spent, for the distribution the tasks were drawn from, and the case's
    measured mean as a multiple of it (genrelay's own time from the poll to the webhook included)."""
    every_15 = cost(fixed(15.0, runs), runs)
    report.add("model_fixed15_delay_s", every_15.mean_delay_s, "model: fixed 15 s, mean delay s", 2)
    report.add("model_fixed15_polls", every_15.mean_polls, "model: fixed 15 s, polls/job", 2)
    for mode in POLLING_KLING:
        latencies, polls = results[mode]
        if not latencies:
            continue
        spent = max(1.0, sum(polls) / len(polls))
        optimum = plan(runs, spent).optimum_delay_s
        measured = _mean(latencies).median
        report.add(f"optimum_s_{mode}", optimum, f"{mode}: optimum at its polls/job, mean s", 2)
        report.add(f"vs_optimum_{mode}", measured / optimum, f"{mode}: measured mean / optimum", 2)


def _over_jobs(values: list[float], q: float) -> Spread:
    return Spread(percentile(values, q), min(values, default=0.0), max(values, default=0.0), len(values))


def _mean(values: list[float]) -> Spread:
    mean = sum(values) / len(values) if values else float("nan")
    return Spread(mean, min(values, default=0.0), max(values, default=0.0), len(values))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.detection", description=__doc__)
    parser.add_argument("--jobs", type=int, default=200, help="per mode")
    parser.add_argument("--quick", action="store_true", help="100 jobs per mode")
    parser.add_argument("--spread", type=float, default=40.0, help="submit each mode's jobs over this long")
    parser.add_argument("--min-s", type=float, default=5.0)
    parser.add_argument("--max-s", type=float, default=60.0)
    args = parser.parse_args()
    run(100 if args.quick else args.jobs, args.min_s, args.max_s, args.spread).print()


if __name__ == "__main__":
    main()
