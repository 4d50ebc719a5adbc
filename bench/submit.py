"""Submit API: accepted `POST /v1/jobs` per second at saturation, and p50/p99 latency at fixed offered
rates (open loop, from each request's scheduled send time). Workers and beat are off, so this is the
API path alone: auth, rate limit, validation, idempotency, price, hold, insert, outbox, publish, and
the request log's row. A second API with the request log off runs beside it, and its saturation is
measured in turn with the first's, so the log's cost is read from one run.

    python -m bench.submit [--quick] [--repeats 3] [--duration 5]
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from bench.harness import Shape, processes, start_genrelay
from bench.measure import Report, Spread, cpu_delta, cpu_of
from bench.services import bench_settings, create_tenants, services
from bench.workload import cores, provider_mix, submit

RATES = (100, 500, 1000)
# Open loop: answers later than this after the last scheduled send are given up (the point is
# saturated anyway) and counted with the time they waited, so one point never runs away.
GRACE_S = 2.0
# One tenant's creates queue on its account row (the hold); this many show the API without that queue.
MANY_TENANTS = 16
UNLOGGED = "unlogged-"  # the processes of the API with the request log off


def run(repeats: int, duration: float, connections: int, tenants: int) -> Report:
    report = Report("submit")
    with services("submit") as svc, processes(svc, "submit") as procs:
        settings = bench_settings(svc)
        api_url = start_genrelay(procs, settings, Shape(api_workers=cores()))
        unlogged_url = start_genrelay(
            procs, bench_settings(svc, request_log=False), Shape(api_workers=cores()), tag=UNLOGGED
        )
        keys, bodies = create_tenants(svc.database_url, tenants), provider_mix(settings)
        many = create_tenants(svc.database_url, MANY_TENANTS)

        def point(
            name: str, args: list[str], api_keys: list[str] = keys, url: str = api_url, tag: str = "api"
        ) -> dict[str, Any]:
            before = cpu_of(procs.pids(tag))
            result = submit(svc, url, api_keys, bodies, name=name, args=args)
            result["api_cpu_s"] = sum(cpu_delta(before, cpu_of(procs.pids(tag))).values())
            return result

        closed = ["--connections", str(connections), "--duration", str(duration)]
        point("warmup", ["--connections", "16", "--duration", "2"])
        results: dict[str, list[dict[str, Any]]] = {
            "saturation": [],
            "unlogged": [],
            "many": [],
            **{str(r): [] for r in RATES},
        }
        # Interleaved, so that the table's growth during the run weighs on every point alike.
        for _ in range(repeats):
            results["saturation"].append(point("sat", closed))
            results["unlogged"].append(point("sat-unlogged", closed, url=unlogged_url, tag=UNLOGGED))
            results["many"].append(point("many", closed, many))
            for rate in RATES:
                args = ["--rate", str(rate), "--duration", str(duration), "--connections", str(connections)]
                results[str(rate)].append(point(f"r{rate}", [*args, "--grace", str(GRACE_S)]))
        jobs = svc.sql("SELECT count(*) FROM jobs")[0][0]
    _fill(report, results)
    report.note("api_processes", cores())
    report.note("tenants", tenants)
    report.note("jobs_in_table_at_end", jobs)
    report.note("seconds_per_point", duration)
    return report


def _fill(report: Report, results: dict[str, list[dict[str, Any]]]) -> None:
    saturation = results["saturation"]
    report.add(
        "submit_rps", Spread.of(r["accepted_per_s"] for r in saturation), "accepted jobs/s at saturation"
    )
    unlogged = Spread.of(r["accepted_per_s"] for r in results["unlogged"])
    report.add("submit_rps_request_log_off", unlogged, "accepted jobs/s at saturation, request log off")
    logged = Spread.of(r["accepted_per_s"] for r in saturation)
    report.add(
        "request_log_cost_pct",
        round(100 * (unlogged.median - logged.median) / max(unlogged.median, 1e-9), 1),
        "submit_rps lost to the request log (median, % of the log-off figure)",
    )
    report.add(
        f"submit_rps_{MANY_TENANTS}_tenants",
        Spread.of(r["accepted_per_s"] for r in results["many"]),
        f"accepted jobs/s at saturation, {MANY_TENANTS} tenants in turn",
    )
    report.add(
        "submit_api_cpu_ms_per_job",
        Spread.of(r["api_cpu_s"] * 1000 / max(r["accepted"], 1) for r in saturation),
        "API CPU ms per accepted job (saturation)",
    )
    report.add(
        "submit_p99_ms_at_saturation",
        Spread.of(r["p99_ms"] for r in saturation),
        "p99 ms at saturation (closed loop)",
    )
    for rate in RATES:
        runs = results[str(rate)]
        report.add(f"submit_p50_ms_at_{rate}", Spread.of(r["p50_ms"] for r in runs), f"p50 ms at {rate}/s")
        report.add(f"submit_p99_ms_at_{rate}", Spread.of(r["p99_ms"] for r in runs), f"p99 ms at {rate}/s")
        report.add(
            f"submit_achieved_rps_at_{rate}",
            Spread.of(r["accepted_per_s"] for r in runs),
            f"accepted/s when offered {rate}/s",
        )
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for runs in results.values():
        for r in runs:
            statuses.update({code: n for code, n in r["statuses"].items() if code not in {"200", "202"}})
            errors.update(r["errors"])
    report.add("submit_http_errors", sum(statuses.values()), "answers other than 200/202")
    report.add("submit_transport_errors", sum(errors.values()), "connection errors")
    unanswered = sum(r.get("unanswered", 0) for runs in results.values() for r in runs)
    report.add("submit_unanswered", unanswered, f"open loop: no answer {GRACE_S:g} s after the last send")
    report.note("error_statuses", dict(statuses))
    report.note("transport_errors", dict(errors))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.submit", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 repeat of 3 s per point")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured point")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tenants", type=int, default=1, help="API keys of different accounts, used in turn")
    args = parser.parse_args()
    repeats, duration = (1, 3.0) if args.quick else (args.repeats, args.duration)
    run(repeats, duration, args.connections, args.tenants).print()


if __name__ == "__main__":
    main()
