"""What the benchmarks ask genrelay to do: job bodies (one standalone operation per provider, from
each input model's documented example and the first priced model), submitting them through the
load generator, and following the jobs in PostgreSQL until they end."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bench.harness import PYTHON, Processes, child_env
from bench.services import Services
from orchestrator.pricing import load_price_table
from orchestrator.settings import Settings
from workers.providers import PROVIDERS

TERMINAL = ("succeeded", "failed", "cancelled", "expired")


def example(model: type[BaseModel]) -> dict[str, Any] | None:
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    first = examples[0] if isinstance(examples, list) and examples else None
    return dict(first) if isinstance(first, dict) else None


def job_body(settings: Settings, provider: str, operation: str | None = None) -> dict[str, Any]:
    """A valid `POST /v1/jobs` body: `operation` (default: the provider's first one that stands
    alone, i.e. needs no parent job) with its example input and the first priced model."""
    prices = load_price_table(settings.prices_path)
    for name, input_model in PROVIDERS[provider].operations.items():
        sample = example(input_model)
        if (operation or name) != name or sample is None or "parent_job_id" in input_model.model_fields:
            continue
        model = prices.models(provider, name)[0]
        return {"provider": provider, "operation": name, "model": model, "input": sample}
    raise ValueError(f"no standalone operation with an example for {provider} {operation or ''}")


def provider_mix(settings: Settings, callback_url: str | None = None) -> list[dict[str, Any]]:
    """One body per provider; the load generator sends them in turn."""
    bodies = [job_body(settings, provider) for provider in PROVIDERS]
    if callback_url:
        for body in bodies:
            body["callback_url"] = callback_url
    return bodies


def submit(
    svc: Services,
    api_url: str,
    api_keys: list[str],
    bodies: list[dict[str, Any]],
    *,
    name: str,
    args: list[str],
) -> dict[str, Any]:
    """Run the load generator in its own process; returns its JSON summary."""
    path = svc.work_dir / f"bodies-{svc.key_prefix.rstrip(':')}-{name}.json"  # unique per space
    path.write_text(json.dumps(bodies))
    argv = [PYTHON, "-m", "bench.loadgen", "--url", api_url, "--bodies", str(path), *args]
    done = subprocess.run(
        argv, env=child_env(BENCH_API_KEYS=",".join(api_keys)), capture_output=True, check=False, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def submit_count(
    svc: Services, api_url: str, api_keys: list[str], bodies: list[dict[str, Any]], count: int
) -> float:
    """Submit exactly `count` jobs as fast as the API takes them; returns the wall time of the first send."""
    args = ["--count", str(count), "--duration", "3600", "--connections", "32", "--idempotency-fraction", "0"]
    result = submit(svc, api_url, api_keys, bodies, name="count", args=args)
    if result["accepted"] != count:
        raise RuntimeError(f"only {result['accepted']} of {count} jobs accepted: {result}")
    return float(result["first_send_wall"])


@dataclass(frozen=True)
class Progress:
    total: int
    finished: int
    states: dict[str, int]
    first_created: datetime | None
    last_finished: datetime | None


def progress(svc: Services) -> Progress:
    rows = svc.sql("SELECT state, count(*), min(created_at), max(finished_at) FROM jobs GROUP BY state")
    states = {state: count for state, count, _, _ in rows}
    created = [first for _, _, first, _ in rows if first is not None]
    finished = [last for state, _, _, last in rows if state in TERMINAL and last is not None]
    return Progress(
        total=sum(states.values()),
        finished=sum(n for s, n in states.items() if s in TERMINAL),
        states=states,
        first_created=min(created, default=None),
        last_finished=max(finished, default=None),
    )


def wait_finished(svc: Services, procs: Processes, count: int, timeout: float) -> Progress:
    """Until `count` jobs have ended (or `timeout`); the processes must stay alive meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        now = progress(svc)
        if now.finished >= count or time.monotonic() > deadline:
            return now
        procs.check_alive()
        time.sleep(0.25)


def cores() -> int:
    return os.cpu_count() or 1


def out_dir(svc: Services, name: str) -> Path:
    path = svc.work_dir / name
    path.mkdir(parents=True, exist_ok=True)
    return path
