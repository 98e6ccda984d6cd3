"""The fused fit's batch orders: per epoch the next `np.random.default_rng(seed).permutation(n)`.

NumPy draws them until this process has spent `LOAD_SECONDS` seeding and shuffling with it; from
then on symnn.runtime.fused.shuffle draws the same permutations in one compiled call (~2x faster at
4096 rows, and no ~13 us of seeding). Loading that compiled call costs a process about as much once
(measured: 3 ms to import the module and 4 ms to load its cached code, in a process that has fitted),
so switching after spending that much (as a skier buys after renting for the price of skis) costs
at most twice the better choice: a process that fits a few times never loads it; one that fits
epoch by epoch (the benchmark matrix, pipelines) draws most of its orders compiled.
"""

from __future__ import annotations

import time

import numpy as np

#: Seconds of NumPy's seeding and shuffling in a process after which the compiled draws take over.
LOAD_SECONDS = 0.007
spent = 0.0  # seconds spent so far


class Orders:
    """One fit's orders, epoch after epoch. `compiled`: True or False to choose who draws them
    (None: NumPy until LOAD_SECONDS are spent); the compiled draws take only integer seeds below
    2**63, fewer than 2**32 rows, and must pass their check against NumPy."""

    def __init__(self, seed: object, n: int, compiled: bool | None = None) -> None:
        self.n, self.draws, self.rng = n, None, None
        if compiled is None:
            compiled = spent >= LOAD_SECONDS
        if compiled and n < 1 << 32 and type(seed) is int and 0 <= seed < 1 << 63:
            from symnn.runtime.fused import shuffle

            if shuffle.compiled_matches_numpy():
                self.draws = shuffle.Draws(seed)
        if self.draws is None:
            start = time.perf_counter()
            self.rng = np.random.default_rng(seed)
            _spend(start)

    def fill(self, perms: np.ndarray) -> None:
        """Each row of perms (int64, C order, n columns) the next epoch's permutation."""
        if self.draws is not None:
            self.draws.fill(perms)
            return
        start = time.perf_counter()
        for row in perms:
            row[...] = self.rng.permutation(self.n)
        _spend(start)


def _spend(start: float) -> None:
    global spent
    spent += time.perf_counter() - start


__all__ = ["LOAD_SECONDS", "Orders"]
