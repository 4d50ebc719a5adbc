"""Figures and how they are reported: percentiles, medians with their spread, process CPU and RSS
from psutil, the human table and the JSON last line every benchmark program ends with."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    """A figure measured several times: its median and how far the repeats strayed."""

    median: float
    low: float
    high: float
    repeats: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        kept = [v for v in values if not math.isnan(v)]
        if not kept:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(statistics.median(kept), min(kept), max(kept), len(kept))

    def text(self, digits: int = 1) -> str:
        if self.repeats <= 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f}  [{self.low:.{digits}f} to {self.high:.{digits}f}]"


class Report:
    """The figures of one program: a table for people, then one JSON line for `run_all`."""

    def __init__(self, program: str) -> None:
        self.program = program
        self.figures: dict[str, Any] = {}
        self.spread: dict[str, list[float | None]] = {}
        self.rows: list[tuple[str, str, str]] = []
        self.notes: dict[str, Any] = {}

    def add(self, name: str, value: Spread | float | int | None, label: str, digits: int = 1) -> None:
        if isinstance(value, Spread):
            self.figures[name] = _clean(value.median, digits)
            self.spread[name] = [_clean(value.low, digits), _clean(value.high, digits)]
            shown = value.text(digits) + (f"  (n={value.repeats})" if value.repeats > 1 else "")
        else:
            self.figures[name] = value if value is None or isinstance(value, int) else _clean(value, digits)
            shown = (
                "-" if value is None else (f"{value}" if isinstance(value, int) else f"{value:.{digits}f}")
            )
        self.rows.append((name, label, shown))

    def note(self, name: str, value: Any) -> None:
        """Context that is not a figure (sizes, settings, error counts)."""
        self.notes[name] = value

    def print(self) -> None:
        width = max((len(label) for _, label, _ in self.rows), default=10)
        print(f"\n== {self.program} ==  (median over repeats, [min to max])")
        for _, label, shown in self.rows:
            print(f"  {label:<{width}}  {shown}")
        for name, value in self.notes.items():
            print(f"  {name}: {value}")
        # The last line: everything in one JSON object.
        print(json.dumps({**self.figures, "spread": self.spread, "notes": {self.program: self.notes}}))


def _clean(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, max(digits, 3))


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants, reaped ones included."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in family:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue  # exited between listing and reading; its time is in its parent's children_*
        total += times.user + times.system + times.children_user + times.children_system
    return total


def tree_rss_mb(pid: int) -> dict[int, float]:
    """Resident memory (MB) of a process and each of its descendants, by pid."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    sizes: dict[int, float] = {}
    for process in family:
        try:
            sizes[process.pid] = process.memory_info().rss / 2**20
        except psutil.Error:
            continue
    return sizes


def cpu_of(pids: Mapping[str, int | None]) -> dict[str, float]:
    """CPU seconds so far of each named process tree (0 for those we cannot see)."""
    return {name: tree_cpu_s(pid) if pid else 0.0 for name, pid in pids.items()}


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}
