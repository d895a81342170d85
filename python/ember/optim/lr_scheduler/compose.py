"""Schedulers made of schedulers: one after another (SequentialLR), or all at once
(ChainedScheduler)."""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from ..optimizer import Optimizer
from .base import LRScheduler
from .schedules import ReduceLROnPlateau


def _check_schedulers(name: str, schedulers: Sequence[LRScheduler],
                      optimizer: Optimizer) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{name} expects at least one scheduler, got none")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{name}: scheduler {i} is a {type(s).__name__}, not an "
                            "LRScheduler")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{name} does not support ReduceLROnPlateau (scheduler {i}): its "
                             "step() needs the metric")
        if s.optimizer is not optimizer:
            raise ValueError(f"{name} expects all schedulers to belong to the same optimizer, "
                             f"but scheduler {i} ({type(s).__name__}) has another one")


def _nested_state(scheduler: LRScheduler) -> dict[str, Any]:
    """The state of a scheduler of schedulers: its own attributes and each child's."""
    state = {k: v for k, v in scheduler.__dict__.items()
             if k not in ("optimizer", "_schedulers")}
    state["_schedulers"] = [s.state_dict() for s in scheduler._schedulers]
    return state


def _load_nested_state(scheduler: LRScheduler, state_dict: dict[str, Any]) -> None:
    scheduler.__dict__.update(copy.deepcopy({k: v for k, v in state_dict.items()
                                             if k != "_schedulers"}))
    for s, saved in zip(scheduler._schedulers, state_dict["_schedulers"], strict=True):
        s.load_state_dict(saved)


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until epoch ``milestones[0]``, then ``schedulers[1]`` until
    ``milestones[1]``, and so on (e.g. a LinearLR warm-up, then CosineAnnealingLR).

    At each milestone the next scheduler starts from its epoch 0, computed from the base
    lrs (its closed form), as in PyTorch; the schedulers' own construction steps are undone
    when this one is built, so only ``schedulers[0]`` has set the lr.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        _check_schedulers("SequentialLR", schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers, got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # back to the start, then only the first
            group["lr"] = group["initial_lr"]  # scheduler takes its initial step
        for s in self._schedulers:
            self._undo_initial_step(s)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    @classmethod
    def _undo_initial_step(cls, scheduler: LRScheduler) -> None:
        if hasattr(scheduler, "_schedulers"):
            for s in scheduler._schedulers:
                cls._undo_initial_step(s)
        else:
            scheduler.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch, in the scheduler whose turn it is."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)  # its first epoch, from the base lrs
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        return _nested_state(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _load_nested_state(self, state_dict)


class ChainedScheduler(LRScheduler):
    """Step every scheduler in ``schedulers`` at once, each changing the lr the previous
    one set: ``ChainedScheduler([ConstantLR(opt, 0.1, 2), ExponentialLR(opt, 0.9)])``
    warms up and decays together. (The schedulers must be the multiplicative kind to
    compose: a closed-form one such as LambdaLR overwrites what came before it.)
    """

    def __init__(self, schedulers: Sequence[LRScheduler],
                 optimizer: Optimizer | None = None) -> None:
        if optimizer is None and len(schedulers) > 0:
            optimizer = getattr(schedulers[0], "optimizer", None)
        _check_schedulers("ChainedScheduler", schedulers, optimizer)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self) -> None:  # type: ignore[override]
        """Step each scheduler in turn."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return _nested_state(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _load_nested_state(self, state_dict)

    def __repr__(self) -> str:
        inner = ", ".join(type(s).__name__ for s in self._schedulers)
        return f"ChainedScheduler([{inner}], lrs={self.get_last_lr()})"
