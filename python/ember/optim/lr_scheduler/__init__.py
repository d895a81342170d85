"""Learning-rate schedulers, as ``torch.optim.lr_scheduler``.

A scheduler rewrites ``group['lr']`` of its optimizer's parameter groups each time its
``step()`` is called (once per epoch, or per batch for OneCycleLR and CyclicLR), *after*
``optimizer.step()``::

    opt = ember.optim.SGD(params, lr=0.1)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(opt)
        sched.step()

Constructing a scheduler performs its first step (``last_epoch`` goes from -1 to 0), so
the optimizer's lr is already the epoch-0 value of the schedule, and every group gets an
``initial_lr`` entry (the schedule's base learning rate).

Two kinds of schedule, as in PyTorch:

- multiplicative ones (StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR,
  PolynomialLR, CosineAnnealingLR, ReduceLROnPlateau) multiply the *current* lr by the
  ratio of consecutive values of their curve, so they compose with each other
  (``ChainedScheduler``) and with manual changes to ``group['lr']``; ``step(epoch)`` jumps
  with their closed form;
- the others (LambdaLR, OneCycleLR, CyclicLR, CosineAnnealingWarmRestarts) compute the lr
  from a closed form of the epoch and the base lr, so they overwrite other changes.

The files: ``base.py`` (LRScheduler), ``schedules.py`` (one rule each), ``cyclic.py``
(schedules that repeat), ``compose.py`` (SequentialLR, ChainedScheduler).
"""

from .base import LRScheduler
from .compose import ChainedScheduler, SequentialLR
from .cyclic import CosineAnnealingWarmRestarts, CyclicLR
from .schedules import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    StepLR,
)

__all__ = [
    "LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
    "LinearLR", "ConstantLR", "PolynomialLR", "OneCycleLR", "ReduceLROnPlateau", "CyclicLR",
    "CosineAnnealingWarmRestarts", "SequentialLR", "ChainedScheduler",
]
