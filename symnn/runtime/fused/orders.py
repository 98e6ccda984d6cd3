"""The fused fit's batch orders: per epoch the next `np.random.default_rng(seed).permutation(n)`.

NumPy draws them until this process has spent what switching costs on seeding and shuffling with it;
from then on symnn.runtime.fused.shuffle draws the same permutations in one compiled call, on a
generator seeded as NumPy seeds it (~14 us for seeding and 4096 rows against NumPy's ~70). Switching
costs a process, once, `LOAD_SECONDS` where Numba's cache holds that call (measured, in a process
that has fitted: 2.5 ms to import the module, 2-3 ms to look in the cache, 3-5 ms to load and check
its code), `COMPILE_SECONDS` where it must be compiled (0.21-0.32 s). Buying after renting for the
price (the ski-rental rule) costs at most twice the better choice: a process that fits a few times
never loads it, one that fits epoch by epoch (the benchmark matrix, pipelines) draws most of its
orders compiled, and no fit compiles it until NumPy has cost as much as compiling.
"""

from __future__ import annotations

import time

import numpy as np

#: What switching to the compiled draws costs, once: loading them from Numba's cache, or compiling them.
LOAD_SECONDS, COMPILE_SECONDS = 0.008, 0.25
spent = 0.0  # seconds of NumPy's seeding and shuffling in this process so far
price: float | None = None  # what switching costs here (None: not looked at yet)


def _switch() -> bool:
    """Whether to draw compiled now: NumPy has cost what switching costs (the cache looked at once
    NumPy has cost LOAD_SECONDS)."""
    global price
    if spent < (LOAD_SECONDS if price is None else price):
        return False
    if price is None:
        from symnn.runtime.fused import shuffle

        price = LOAD_SECONDS if shuffle.cached() else COMPILE_SECONDS
    return spent >= price


class Orders:
    """One fit's orders, epoch after epoch. `compiled`: True or False to choose who draws them
    (None: NumPy until it has cost what switching costs); the compiled draws take fewer than 2**32
    rows, any seed but a Generator or BitGenerator (which must advance), and must pass their check
    against NumPy."""

    def __init__(self, seed: object, n: int, compiled: bool | None = None) -> None:
        self.n, self.state, self.rng = n, None, None
        if compiled is None:
            compiled = _switch()
        if compiled and n < 1 << 32:
            from symnn.runtime.fused import shuffle

            if shuffle.compiled_matches_numpy():
                self.state, self.draw = shuffle.state_of(seed), shuffle.draw  # seeded as default_rng seeds it
        if self.state is None:
            start = time.perf_counter()
            self.rng = np.random.default_rng(seed)
            _spend(start)

    def fill(self, perms: np.ndarray) -> None:
        """Each row of perms (int64, C order, n columns) the next epoch's permutation."""
        if self.state is not None:
            self.draw(perms, self.state)
            return
        start = time.perf_counter()
        for row in perms:
            row[...] = self.rng.permutation(self.n)
        _spend(start)


def _spend(start: float) -> None:
    global spent
    spent += time.perf_counter() - start


__all__ = ["COMPILE_SECONDS", "LOAD_SECONDS", "Orders"]
