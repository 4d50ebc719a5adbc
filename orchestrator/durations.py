"""How long each provider's model has recently taken to run, kept in `duration_stats`: the sweep
refreshes it from the jobs that succeeded in the last WINDOW, at most once per REFRESH_EVERY, in one
statement; readers look a model up by its key."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from orchestrator.models import DurationStat

WINDOW = timedelta(hours=6)
REFRESH_EVERY = timedelta(seconds=60)
MIN_SAMPLES = 3  # fewer succeeded jobs than this say too little to estimate from

# A run lasts from the provider's acceptance (or the job's creation, when a callback overtook the
# submit's own record) to the job's end; the partial index on finished_at bounds the scan to WINDOW.
_REFRESH = text(
    """
    WITH recent AS (
        SELECT provider, model,
               extract(epoch FROM finished_at - COALESCE(submitted_at, created_at)) AS run_s
        FROM jobs
        WHERE state = 'succeeded' AND finished_at IS NOT NULL
          AND finished_at > now() - make_interval(secs => :window_s)
    )
    INSERT INTO duration_stats (provider, model, samples, p10_s, p50_s, p90_s, refreshed_at)
    SELECT provider, model, count(*),
           percentile_cont(0.1) WITHIN GROUP (ORDER BY run_s),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY run_s),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY run_s),
           now()
    FROM recent
    WHERE NOT EXISTS (
        SELECT 1 FROM duration_stats WHERE refreshed_at > now() - make_interval(secs => :every_s)
    )
    GROUP BY provider, model
    HAVING count(*) >= :min_samples
    ON CONFLICT (provider, model) DO UPDATE SET
        samples = EXCLUDED.samples, p10_s = EXCLUDED.p10_s, p50_s = EXCLUDED.p50_s,
        p90_s = EXCLUDED.p90_s, refreshed_at = EXCLUDED.refreshed_at
    """
)


def refresh(session: Session) -> None:
    """Recompute every model's figures unless that was done less than REFRESH_EVERY ago. A model with
    no recent successes keeps its last figures (their `refreshed_at` says how old they are)."""
    session.execute(
        _REFRESH,
        {
            "window_s": WINDOW.total_seconds(),
            "every_s": REFRESH_EVERY.total_seconds(),
            "min_samples": MIN_SAMPLES,
        },
    )


def of_models(session: Session, models: Iterable[tuple[str, str]]) -> dict[tuple[str, str], DurationStat]:
    """The figures of each (provider, model) that has them."""
    keys = set(models)
    if not keys:
        return {}
    query = select(DurationStat).where(tuple_(DurationStat.provider, DurationStat.model).in_(keys))
    return {(stat.provider, stat.model): stat for stat in session.execute(query).scalars()}
