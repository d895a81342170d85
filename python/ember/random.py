"""Seeded randomness. ``ember.manual_seed(s)`` makes every random op reproducible."""

from __future__ import annotations

import numpy as np


class Generator:
    """A random number generator (PCG64 on the CPU). ``manual_seed`` resets it."""

    def __init__(self, seed: int | None = None) -> None:
        self.manual_seed(seed if seed is not None else np.random.SeedSequence().entropy % 2**63)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.np = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self.np.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.np.bit_generator.state = state


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (all of ember's random ops draw from it)."""
    return default_generator.manual_seed(seed)


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)
