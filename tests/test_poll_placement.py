"""Poll placement: what a schedule costs under a run-time distribution, and the best schedule for a
budget of polls per task, checked against closed forms and against every schedule of a small grid."""

from __future__ import annotations

import itertools

import pytest

from orchestrator.poll_placement import Cost, RunTimes, cost, fixed, plan


def test_a_fixed_cadence_costs_half_its_interval_on_a_uniform_distribution() -> None:
    runs = RunTimes.uniform(0.0, 60.0)
    assert fixed(15.0, runs) == (15.0, 30.0, 45.0, 60.0)
    # Every task pays the first poll, three in four the second, and so on; ends are seen 7.5 s late.
    assert cost(fixed(15.0, runs), runs) == pytest.approx(Cost(7.5, 2.5))


def test_the_distribution_reads_back_its_quantiles_and_mean() -> None:
    runs = RunTimes((2.0, 4.0, 10.0))
    assert [runs.ended_by(t) for t in (0.0, 2.0, 3.0, 4.0, 7.0, 10.0, 11.0)] == pytest.approx(
        [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    )
    assert runs.mean_s == pytest.approx((3.0 + 7.0) / 2)


@pytest.mark.parametrize(
    "quantiles",
    [(5.0,), (-1.0, 3.0), (4.0, 2.0), (3.0, 3.0)],
    ids=["one", "negative", "falling", "no spread"],
)
def test_a_distribution_that_says_nothing_usable_is_refused(quantiles: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="run"):
        RunTimes(quantiles)


def test_a_schedule_must_see_every_end_and_a_budget_allow_one_poll() -> None:
    runs = RunTimes.uniform(5.0, 60.0)
    with pytest.raises(ValueError, match="longest run"):
        cost((15.0, 30.0), runs)
    with pytest.raises(ValueError, match="at least one poll"):
        plan(runs, 0.5)


def test_the_plan_beats_a_fixed_cadence_at_its_own_polls() -> None:
    runs = RunTimes.uniform(5.0, 60.0)
    every_15 = cost(fixed(15.0, runs), runs)
    best = plan(runs, every_15.mean_polls)
    assert best.cost.mean_polls <= every_15.mean_polls
    assert best.optimum_delay_s <= best.cost.mean_delay_s < every_15.mean_delay_s
    assert best.schedule[0] > runs.shortest_s  # nothing is spent before any task can have ended
    assert best.schedule[-1] == runs.longest_s


def test_a_skewed_distribution_is_where_placement_pays_most() -> None:
    # Most tasks end within seconds, a few run a minute: a fixed cadence makes the many wait.
    runs = RunTimes((2.0, 3.0, 4.0, 5.0, 60.0))
    every_15 = cost(fixed(15.0, runs), runs)
    best = plan(runs, every_15.mean_polls)
    assert best.cost.mean_polls <= every_15.mean_polls
    assert best.cost.mean_delay_s < every_15.mean_delay_s / 2


def test_a_budget_above_what_the_grid_can_spend_polls_at_every_candidate_time() -> None:
    runs = RunTimes.uniform(0.0, 8.0)
    best = plan(runs, 100.0, grid_points=4)
    assert best.schedule == (2.0, 4.0, 6.0, 8.0)
    assert best.optimum_delay_s == best.cost.mean_delay_s


@pytest.mark.parametrize("budget", [1.0, 1.3, 1.8, 2.4, 3.1])
@pytest.mark.parametrize("quantiles", [(0.0, 10.0), (1.0, 2.0, 9.0), (0.0, 6.0, 7.0, 8.0, 20.0)])
def test_no_schedule_on_the_grid_does_better_than_the_optimum_at_the_budget(
    quantiles: tuple[float, ...], budget: float
) -> None:
    runs = RunTimes(quantiles)
    best = plan(runs, budget, grid_points=8)
    assert best.cost.mean_polls <= budget + 1e-9
    step = (runs.longest_s - runs.shortest_s) / 8
    inner = [runs.shortest_s + n * step for n in range(1, 8)]
    within = []
    for size in range(len(inner) + 1):
        for chosen in itertools.combinations(inner, size):
            spent = cost((*chosen, runs.longest_s), runs)
            if spent.mean_polls <= budget + 1e-9:
                within.append(spent.mean_delay_s)
    # The optimum (mixing the two schedules around the budget) is a lower bound for every one of them,
    # and the plan's own schedule is one of them.
    assert best.optimum_delay_s <= min(within) + 1e-9
    assert any(abs(delay - best.cost.mean_delay_s) < 1e-9 for delay in within)
