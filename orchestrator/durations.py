"""How long each provider's model has recently taken to run, kept in `duration_stats`: the sweep
refreshes it from the jobs that succeeded in the last WINDOW, at most once per REFRESH_EVERY, in one
statement, then plans each refreshed model's poll schedule from its run times (outside that
transaction: planning takes a moment per model); readers look a model up by its key."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import bindparam, select, text, tuple_, update
from sqlalchemy.orm import Session

from orchestrator.db import Database
from orchestrator.models import DurationStat, table
from orchestrator.poll_placement import RunTimes, cost, fixed, plan
from orchestrator.schedule import poll_delay
from orchestrator.settings import PollPolicy, Settings

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=6)
REFRESH_EVERY = timedelta(seconds=60)
MIN_SAMPLES = 3  # fewer succeeded jobs than this say too little to estimate from
# Run times are kept at these probabilities; a schedule is planned from at least MIN_PLAN_SAMPLES
# runs, on PLAN_GRID candidate poll times (some 20 ms of planning per model).
QUANTILES = tuple(n / 20 for n in range(21))
MIN_PLAN_SAMPLES = 20
PLAN_GRID = 80
SOONEST_S = 0.05  # a schedule's next poll is at least this far ahead

# A run lasts from the provider's acceptance (or the job's creation, when a callback overtook the
# submit's own record) to the job's end: the figures a tenant's estimates use. Polling learns from the
# run to the end upstream instead, which genrelay knows to lie between two looks at the task (the poll
# that saw it running and the one that saw it end; a callback: its arrival): each such run counts as
# SPREAD points evenly across its span, the most any estimate can say without guessing a shape. The
# partial index on finished_at bounds the scan to WINDOW.
SPREAD = 4
_REFRESH = text(
    """
    WITH recent AS (
        SELECT provider, model, submitted_at, upstream_ended_after, upstream_ended_by,
               extract(epoch FROM finished_at - COALESCE(submitted_at, created_at)) AS run_s
        FROM jobs
        WHERE state = 'succeeded' AND finished_at IS NOT NULL
          AND finished_at > now() - make_interval(secs => :window_s)
    ), spans AS (
        SELECT provider, model,
               GREATEST(0, extract(epoch FROM upstream_ended_after - submitted_at)) AS after_s,
               extract(epoch FROM upstream_ended_by - submitted_at) AS by_s
        FROM recent
        WHERE upstream_ended_by >= upstream_ended_after AND upstream_ended_by >= submitted_at
    ), learned AS (
        SELECT provider, model, count(*) / :spread AS measured,
               percentile_cont(CAST(:quantiles AS double precision[]))
                   WITHIN GROUP (ORDER BY after_s + (by_s - after_s) * (k + 0.5) / :spread) AS quantiles
        FROM spans CROSS JOIN generate_series(0, :spread - 1) AS k
        GROUP BY provider, model
    ), figures AS (
        SELECT provider, model, count(*) AS samples,
               percentile_cont(0.1) WITHIN GROUP (ORDER BY run_s) AS p10_s,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY run_s) AS p50_s,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY run_s) AS p90_s
        FROM recent
        GROUP BY provider, model
        HAVING count(*) >= :min_samples
    )
    INSERT INTO duration_stats (provider, model, samples, p10_s, p50_s, p90_s, run_quantiles_s,
                                refreshed_at)
    SELECT f.provider, f.model, f.samples, f.p10_s, f.p50_s, f.p90_s,
           CASE WHEN l.measured >= :min_plan_samples THEN l.quantiles END, now()
    FROM figures f LEFT JOIN learned l ON l.provider = f.provider AND l.model = f.model
    WHERE NOT EXISTS (
        SELECT 1 FROM duration_stats WHERE refreshed_at > now() - make_interval(secs => :every_s)
    )
    ON CONFLICT (provider, model) DO UPDATE SET
        samples = EXCLUDED.samples, p10_s = EXCLUDED.p10_s, p50_s = EXCLUDED.p50_s,
        p90_s = EXCLUDED.p90_s, run_quantiles_s = EXCLUDED.run_quantiles_s,
        refreshed_at = EXCLUDED.refreshed_at
    RETURNING provider, model, run_quantiles_s
    """
)
_stats = table(DurationStat)
_SET_SCHEDULE = update(_stats).where(_stats.c.provider == bindparam("p"), _stats.c.model == bindparam("m"))


def refresh(session: Session) -> dict[tuple[str, str], list[float] | None]:
    """Recompute every model's figures unless that was done less than REFRESH_EVERY ago; returns the
    run-time quantiles of each model it refreshed (None: too few runs measured to the end upstream).
    A model with no recent successes keeps its last figures (`refreshed_at` says how old they are)."""
    rows = session.execute(
        _REFRESH,
        {
            "window_s": WINDOW.total_seconds(),
            "every_s": REFRESH_EVERY.total_seconds(),
            "min_samples": MIN_SAMPLES,
            "min_plan_samples": MIN_PLAN_SAMPLES,
            "quantiles": list(QUANTILES),
            "spread": SPREAD,
        },
    )
    return {(row.provider, row.model): row.run_quantiles_s for row in rows}


def plan_polls(
    db: Database, settings: Settings, refreshed: dict[tuple[str, str], list[float] | None]
) -> None:
    """Plan and record the poll schedule of each refreshed model: the least mean delay from a task's
    end to the poll that sees it, spending no more polls per task on the same run times than either
    the provider's poll policy or a poll every `learned_poll_every_s`. No schedule without enough
    runs measured to their end upstream, or when they all took the same time."""
    schedules: dict[tuple[str, str], list[float] | None] = {}
    for (provider, model), quantiles in refreshed.items():
        schedules[provider, model] = None
        if quantiles is None or settings.learned_poll_every_s is None:
            continue
        try:
            runs = RunTimes(tuple(quantiles))
        except ValueError:
            continue
        # Each as it runs: every poll claimed, on average, `lead` after it falls due.
        lead = claim_lead_s(settings)
        by_policy = policy_times(settings.poll_policy(provider), runs.longest_s, lead)
        budget = min(
            cost(by_policy, runs).mean_polls,
            cost(fixed(settings.learned_poll_every_s + lead, runs), runs).mean_polls,
        )
        schedules[provider, model] = list(plan(runs, max(1.0, budget), grid_points=PLAN_GRID).schedule)
    if not schedules:
        return
    with db.transaction() as session:
        session.execute(
            _SET_SCHEDULE,
            [{"p": p, "m": m, "poll_schedule_s": schedule} for (p, m), schedule in schedules.items()],
        )
    log.info("poll schedules planned for %s models", sum(s is not None for s in schedules.values()))


def policy_times(policy: PollPolicy, until_s: float, lead_s: float = 0.0) -> list[float]:
    """When a poll policy polls a task, in seconds after its acceptance, until one at or after `until_s`;
    each poll `lead_s` after it falls due (the wait for the sweep that claims it)."""
    times = [policy.initial_s + lead_s]
    while times[-1] < until_s:
        times.append(times[-1] + poll_delay(policy, len(times)) + lead_s)
    return times


def claim_lead_s(settings: Settings) -> float:
    """How long a due job waits, on average, for the sweep that claims it: half the sweep's interval.
    A learned schedule's polls fall due that much before its times, so that they run at them."""
    return settings.sweep_interval_s / 2


def poll_schedules(
    session: Session, models: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Sequence[float]]:
    """The learned poll schedule of each (provider, model) that has one."""
    keys = set(models)
    if not keys:
        return {}
    query = select(DurationStat.provider, DurationStat.model, DurationStat.poll_schedule_s).where(
        tuple_(DurationStat.provider, DurationStat.model).in_(keys), DurationStat.poll_schedule_s.is_not(None)
    )
    return {(row.provider, row.model): row.poll_schedule_s for row in session.execute(query)}


def next_scheduled_delay(schedule: Sequence[float], elapsed_s: float, lead_s: float = 0.0) -> float | None:
    """Seconds from now until the schedule's next poll falls due, `elapsed_s` after the task's
    acceptance, `lead_s` before the schedule's time (a due poll waits that long on average for the
    sweep that claims it, so it runs at the time planned; and a poll that ran that much early was
    the schedule's, not one before it). None once the task has outrun every run it was planned from."""
    index = bisect.bisect_right(schedule, elapsed_s + lead_s + SOONEST_S)
    return schedule[index] - elapsed_s - lead_s if index < len(schedule) else None


def of_models(session: Session, models: Iterable[tuple[str, str]]) -> dict[tuple[str, str], DurationStat]:
    """The figures of each (provider, model) that has them."""
    keys = set(models)
    if not keys:
        return {}
    query = select(DurationStat).where(tuple_(DurationStat.provider, DurationStat.model).in_(keys))
    return {(stat.provider, stat.model): stat for stat in session.execute(query).scalars()}
