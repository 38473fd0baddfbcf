"""What every benchmark here shares: the machine's load, CPU seconds, and floor-interleaved timing.

A benchmark on a shared machine measures the machine as much as the code: here every
measured path is timed in alternation with its *floor* (the least any implementation must
spend on the same work, measured in the same run), and what is judged is the ratio of the
two, printed beside wall time, CPU seconds and the load average at the time.
"""
from __future__ import annotations

import os
import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["load", "tree_cpu", "children_cpu", "Timing", "interleave", "median", "self_usage", "prepare_markets"]


def load() -> str:
    """The 1-minute load average and the number of CPUs, as printed beside every figure."""
    return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a running process and its live descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields:
                parents.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        fields = _stat(current)
        if fields:
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks
        todo.extend(parents.get(current, []))
    return total


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Timing:
    """Repetitions of one path: wall seconds, CPU seconds, load at the start of each."""

    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.wall)

    @property
    def typical(self) -> float:
        return median(self.wall)


def interleave(paths: list[tuple[str, Callable[[], dict[str, Any]]]], repetitions: int) -> dict[str, Timing]:
    """Run ``paths`` in turn ``repetitions`` times (floor, measured, floor, measured, ...).

    Each callable returns a dict with at least ``wall`` and ``cpu`` (seconds); the rest is kept.
    """
    timings = {name: Timing(name) for name, _ in paths}
    for _ in range(repetitions):
        for name, run in paths:
            before = os.getloadavg()[0]
            started = time.perf_counter()
            figures = run()
            figures.setdefault("wall", time.perf_counter() - started)
            timing = timings[name]
            timing.wall.append(figures.pop("wall"))
            timing.cpu.append(figures.pop("cpu", float("nan")))
            timing.load.append(before)
            timing.extra.append(figures)
    return timings


def self_usage() -> tuple[float, float]:
    """This process's CPU seconds (user + system) and peak resident memory in MB."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def timed_operator_import(url: str, run: Any) -> tuple[Any, dict, Any]:
    """``run(session, actor)`` in one transaction on a fresh engine at ``url``, as an operator's CLI
    import: (its result, {"wall", "cpu", "rss_mb"}, the engine, still open for further reads)."""
    from market40 import db
    from market40.services.registry import Actor
    engine = db.make_engine(url)
    cpu0, _ = self_usage()
    start = time.perf_counter()
    with db.session_scope(engine) as session:
        result = run(session, Actor.operator("bench"))
    seconds = time.perf_counter() - start
    cpu, rss = self_usage()
    return result, {"wall": seconds, "cpu": cpu - cpu0, "rss_mb": rss}, engine


def prepare_markets(url: str, codes: Any) -> None:
    """A fresh registry at ``url`` with one locality and a tier-I market for each code (imports need them)."""
    from datetime import date

    from market40 import db
    from market40.services.registry import Actor, Registry
    db.init(url, drop_existing=True)
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        registry = Registry(session, Actor.operator("bench"))
        registry.add_locality(code="BENCH", name="Phường Thử", kind="commune", unit_type="phường",
                              province="Quảng Ninh", valid_from=date(2025, 7, 1))
        for code in codes:
            registry.save_market(code=code, name=f"Chợ thử {code}", tier="I", locality="BENCH")
    engine.dispose()
