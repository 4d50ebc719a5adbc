"""Where to place the polls of a task whose run time follows a known distribution: what a schedule
costs (mean detection delay, mean polls per task), and the schedule that detects the end soonest on
average for a given number of polls per task.

A task ending at D is polled at each time of the schedule until the first one at or after D. So the
poll at t_i is made when D > t_(i-1), and the end is seen at the first t_i >= D:

    polls  = sum_i P(D > t_(i-1))              seen at = sum_i t_i * P(t_(i-1) < D <= t_i)

The best schedule for a price per poll (a Lagrange multiplier) is found by dynamic programming over a
grid of candidate times; bisecting the price finds the ones around a budget of polls per task, and
mixing those two schedules (a share of tasks on each) is the best any schedule can do at the budget.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

GRID_POINTS = 240  # candidate times between the shortest and the longest run
BISECTIONS = 48
RAISES = 32  # of the price per poll, fourfold each, until the best schedule is within the budget


@dataclass(frozen=True)
class RunTimes:
    """Run times in seconds as their quantiles at evenly spaced probabilities, from 0 (the shortest)
    to 1 (the longest), linear in between."""

    quantiles: tuple[float, ...]

    def __post_init__(self) -> None:
        q = self.quantiles
        if len(q) < 2 or q[0] < 0 or any(b < a for a, b in itertools.pairwise(q)):
            raise ValueError("run-time quantiles must be at least two rising values from 0 up")
        if q[-1] <= q[0]:
            raise ValueError("run times must spread over some time: the longest equals the shortest")

    @classmethod
    def uniform(cls, shortest_s: float, longest_s: float) -> RunTimes:
        return cls((shortest_s, longest_s))

    @property
    def shortest_s(self) -> float:
        return self.quantiles[0]

    @property
    def longest_s(self) -> float:
        return self.quantiles[-1]

    @property
    def mean_s(self) -> float:
        q, step = self.quantiles, 1 / (len(self.quantiles) - 1)
        return sum(step * (a + b) / 2 for a, b in itertools.pairwise(q))

    def ended_by(self, t: float) -> float:
        """The share of tasks that have ended `t` seconds after their create (the distribution's CDF)."""
        q = self.quantiles
        if t <= q[0]:
            return 0.0
        if t >= q[-1]:
            return 1.0
        i = bisect.bisect_right(q, t) - 1  # q[i] <= t < q[i + 1], so the span is never empty
        return (i + (t - q[i]) / (q[i + 1] - q[i])) / (len(q) - 1)


@dataclass(frozen=True)
class Cost:
    """What a schedule costs the tasks of a distribution, on average."""

    mean_delay_s: float  # from a task's end to the poll that sees it
    mean_polls: float


def cost(schedule: Sequence[float], runs: RunTimes) -> Cost:
    """The cost of polling at `schedule` (seconds after the create, rising, the last one at or after
    the longest run, so that every task's end is seen)."""
    if not schedule or schedule[-1] < runs.longest_s:
        raise ValueError("a schedule must reach the longest run time, or some tasks are never seen ending")
    polls = seen_at = ended_before = 0.0
    for t in schedule:
        polls += 1 - ended_before
        ended = runs.ended_by(t)
        seen_at += t * (ended - ended_before)
        ended_before = ended
    return Cost(seen_at - runs.mean_s, polls)


def fixed(every_s: float, runs: RunTimes, first_s: float | None = None) -> tuple[float, ...]:
    """A poll every `every_s` seconds (the first after `first_s`, else `every_s`) until the longest run."""
    first = every_s if first_s is None else first_s
    count = max(0, math.ceil((runs.longest_s - first) / every_s)) + 1
    return tuple(first + n * every_s for n in range(count))


@dataclass(frozen=True)
class Plan:
    """The schedule to use for a budget of polls per task, and the best any schedule can do there."""

    schedule: tuple[float, ...]  # within the budget
    cost: Cost
    optimum_delay_s: float  # at exactly the budget, mixing the two best schedules around it


def plan(runs: RunTimes, polls_per_task: float, grid_points: int = GRID_POINTS) -> Plan:
    """The schedule with the least mean detection delay among those of at most `polls_per_task` polls
    on average, over a grid of candidate times (the work grows with the square of `grid_points`). At
    least one poll per task is needed."""
    if polls_per_task < 1:
        raise ValueError("every task needs at least one poll to be seen ending")
    grid = _grid(runs, grid_points)
    ended = [0.0] + [runs.ended_by(t) for t in grid]
    times = [0.0, *grid]
    # Free polls are made at every grid time; a price high enough leaves one poll, at the longest run.
    cheap, dear = 0.0, runs.longest_s
    beyond = _best_for_price(times, ended, cheap, runs)
    if beyond[1].mean_polls <= polls_per_task:
        return Plan(beyond[0], beyond[1], beyond[1].mean_delay_s)
    single: tuple[float, ...] = (runs.longest_s,)
    within = (single, cost(single, runs))  # one poll, at the longest run, is always within budget
    for _ in range(RAISES):
        candidate = _best_for_price(times, ended, dear, runs)
        if candidate[1].mean_polls <= polls_per_task:
            within = candidate
            break
        # A poll just before the longest run saves little, but the price must outweigh even that.
        cheap, beyond, dear = dear, candidate, dear * 4
    for _ in range(BISECTIONS):
        price = (cheap + dear) / 2
        candidate = _best_for_price(times, ended, price, runs)
        if candidate[1].mean_polls <= polls_per_task:
            dear, within = price, candidate
        else:
            cheap, beyond = price, candidate
    (schedule, inside), outside = within, beyond[1]
    share = (polls_per_task - inside.mean_polls) / max(outside.mean_polls - inside.mean_polls, 1e-12)
    share = min(max(share, 0.0), 1.0)
    optimum = inside.mean_delay_s + share * (outside.mean_delay_s - inside.mean_delay_s)
    return Plan(schedule, inside, optimum)


def _grid(runs: RunTimes, points: int) -> list[float]:
    # No poll before the shortest run: it could never see an end.
    step = (runs.longest_s - runs.shortest_s) / points
    return [runs.shortest_s + n * step for n in range(1, points)] + [runs.longest_s]


def _best_for_price(
    times: list[float], ended: list[float], price: float, runs: RunTimes
) -> tuple[tuple[float, ...], Cost]:
    """The schedule minimising mean seen-at time + `price` x mean polls, ending at the last grid time.
    best[k]: the least such cost of a schedule whose latest poll is at times[k] (times[0] is the create)."""
    best, previous = [0.0] + [math.inf] * (len(times) - 1), [0] * len(times)
    for k in range(1, len(times)):
        t_k, ended_k = times[k], ended[k]
        choice, least = 0, math.inf
        for j in range(k):
            value = best[j] + price * (1 - ended[j]) + t_k * (ended_k - ended[j])
            if value < least:
                choice, least = j, value
        best[k], previous[k] = least, choice
    schedule, k = [], len(times) - 1
    while k:
        schedule.append(times[k])
        k = previous[k]
    chosen = tuple(reversed(schedule))
    return chosen, cost(chosen, runs)
