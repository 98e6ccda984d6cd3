"""Compile once, not per worker: every distinct kernel set of a sweep, built before fanning out.

The compiled code a run needs depends on its activation, loss, optimizer and dtype (and on the data
only through the loss it implies), not on the widths, learning rate, epochs or seed: one fused
loop serves every depth and width. So the planner keeps one representative run per kernel key and
trains it for one epoch here; that writes the generated modules and Numba's cache into the cache
folder, where the workers load them instead of compiling (the worker counts what it compiles).
Specs travel to the workers as plain options; compiled functions never do.
"""

from __future__ import annotations

import dataclasses

from symnn.runtime.training import TrainConfig, train
from symnn.sweeps.plan import Run

#: TrainConfig fields that decide which kernels a run compiles.
KERNEL_FIELDS = ("data", "target", "activation", "loss", "optimizer", "dtype")


def kernel_key(config: TrainConfig) -> tuple:
    """What decides a run's compiled code: the kernel fields, and whether it has a hidden layer."""
    hidden = config.layers is None or len(config.layers) > 2
    return (*(getattr(config, f) for f in KERNEL_FIELDS), hidden)


def representatives(base: TrainConfig, runs: list[Run]) -> list[TrainConfig]:
    """One configuration per distinct kernel key, shortened to one epoch."""
    seen: dict[tuple, TrainConfig] = {}
    for run in runs:
        config = run.train_config(base)
        seen.setdefault(kernel_key(config), dataclasses.replace(config, epochs=1))
    return list(seen.values())


def precompile(configs: list[TrainConfig]) -> list[str]:
    """Train each configuration for one epoch in this process, so its kernels are compiled and cached.

    A configuration that fails here (bad options) is left for its runs to fail and record; returns
    the errors met, for the caller to ignore or show.
    """
    errors = []
    for config in configs:
        try:
            train(config, progress=False)
        except Exception as e:  # noqa: BLE001 - its runs will record the error
            errors.append(f"{type(e).__name__}: {e}")
    return errors
