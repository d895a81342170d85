"""A small op-level profiler: which ops ran, how often, how long, how many FLOP/s.

It lives beside the engine that calls it: ``Function.apply`` and the backward walk run
each op through ``record``, which times it only while a ``profile`` is open.

    with ember.profiler.profile() as prof:
        loss = model(x).sum()
        loss.backward()
    print(prof.table())

Every ``Function`` forward is timed, and so is every node's backward (listed as
``MatMulBackward`` etc.). Times are *self* times: the ops a backward calls are counted
under their own names, not twice. Ops that know their arithmetic (matmul, conv,
attention) report FLOPs, from which the table derives GFLOP/s.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

_active: list[profile] = []  # the profilers currently recording (innermost last)
_stack: list[list[float]] = []  # per open record: [time spent in nested records]


class _Stat:
    __slots__ = ("calls", "seconds", "flops")

    def __init__(self) -> None:
        self.calls, self.seconds, self.flops = 0, 0.0, 0.0


class profile:  # noqa: N801 - the PyTorch spelling (torch.profiler.profile)
    """Context manager that records op timings while active."""

    def __init__(self) -> None:
        self.stats: dict[str, _Stat] = defaultdict(_Stat)
        self.wall = 0.0

    def __enter__(self) -> profile:
        _active.append(self)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self._start
        _active.remove(self)

    def _add(self, name: str, seconds: float, flops: float) -> None:
        s = self.stats[name]
        s.calls += 1
        s.seconds += seconds
        s.flops += flops

    def table(self, sort_by: str = "time", limit: int | None = 30) -> str:
        """A text table: op, calls, total ms, % of the recorded op time, GFLOP/s."""
        rows = list(self.stats.items())
        key = {"time": lambda r: -r[1].seconds, "calls": lambda r: -r[1].calls,
               "name": lambda r: r[0]}[sort_by]
        rows.sort(key=key)
        total = sum(s.seconds for _, s in rows) or 1e-12
        lines = [f"{'op':28s} {'calls':>7s} {'total ms':>10s} {'%':>6s} {'GFLOP/s':>9s}"]
        for name, s in rows[:limit]:
            gflops = f"{s.flops / s.seconds / 1e9:9.1f}" if s.flops and s.seconds else " " * 9
            lines.append(f"{name:28s} {s.calls:7d} {s.seconds * 1e3:10.3f} "
                         f"{100 * s.seconds / total:6.1f} {gflops}")
        lines.append(f"{'(all ops)':28s} {sum(s.calls for _, s in rows):7d} {total * 1e3:10.3f}"
                     f" {'':6s} wall {self.wall * 1e3:.1f} ms")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def record(name: str, fn, *args, flops=None, **kwargs):
    """``fn(*args, **kwargs)``, timed under ``name`` while a profiler is open;
    ``flops(result)`` gives its arithmetic (for GFLOP/s)."""
    if not _active:
        return fn(*args, **kwargs)
    start = begin()
    out = fn(*args, **kwargs)
    end(name, start, flops(out) if flops is not None else 0.0)
    return out


def is_active() -> bool:
    return bool(_active)


def begin() -> float:
    """Open a record (called by the autograd machinery when profiling)."""
    _stack.append([0.0])
    return time.perf_counter()


def end(name: str, start: float, flops: float = 0.0) -> None:
    """Close the innermost record: its self time excludes the nested records' time."""
    elapsed = time.perf_counter() - start
    nested = _stack.pop()[0]
    if _stack:
        _stack[-1][0] += elapsed
    for p in _active:
        p._add(name, elapsed - nested, flops)
