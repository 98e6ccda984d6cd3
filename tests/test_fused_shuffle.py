"""The fused fit's batch orders: NumPy's `default_rng(seed).permutation(n)`, epoch after epoch, bit for bit.

symnn.runtime.fused.shuffle draws them in a compiled loop (NumPy's PCG64 and Generator.shuffle
re-done, on the generator NumPy seeds), symnn.runtime.fused.orders decides who draws; whoever does,
a fit must see exactly NumPy's permutations.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import config

import symnn
from symnn.runtime.fused import orders as fused_orders
from symnn.runtime.fused import shuffle
from symnn.runtime.fused.orders import Orders

needs_jit = pytest.mark.skipif(config.DISABLE_JIT, reason="the compiled draws need the JIT")


def numpy_orders(seed: object, n: int, epochs: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n) for _ in range(epochs)])


@needs_jit
def test_the_compiled_draws_pass_their_own_check():
    assert shuffle.compiled_matches_numpy()


@needs_jit
@pytest.mark.parametrize("seed", [0, 1, 7, 41, 2**31 - 1, 2**32 - 1, 2**32, 2**40 + 3, 2**63 - 1, 2**64, 2**70,
                                  np.random.SeedSequence(5)])
@pytest.mark.parametrize("n", [1, 2, 3, 17, 256, 4097, 70000])
def test_compiled_orders_are_numpys_across_calls(seed, n):
    orders = Orders(seed, n, compiled=True)
    assert orders.state is not None  # drawn by the compiled loop
    first, rest = np.empty((1, n), np.int64), np.empty((3, n), np.int64)
    orders.fill(first)  # one epoch, then a chunk of three: the generator's state carries over
    orders.fill(rest)
    np.testing.assert_array_equal(np.vstack([first, rest]), numpy_orders(seed, n, 4))


@needs_jit
def test_many_seeds_give_numpys_orders():
    for seed in range(300):
        orders = Orders(seed, 100, compiled=True)
        perms = np.empty((2, 100), np.int64)
        orders.fill(perms)
        np.testing.assert_array_equal(perms, numpy_orders(seed, 100, 2), err_msg=f"seed {seed}")


@needs_jit
def test_integer_seeds_are_seeded_as_numpy_seeds_them():
    """The compiled seeding (SeedSequence's hash, then PCG64's) gives PCG64(seed)'s state word for word."""
    rng = np.random.default_rng(0)
    seeds = [0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1, *rng.integers(0, 2**32, 200), *rng.integers(0, 2**63, 200)]
    for seed in map(int, seeds):
        s = np.random.PCG64(seed).state
        words = [s["state"]["state"] >> 64, s["state"]["state"] & (2**64 - 1), s["state"]["inc"] >> 64,
                 s["state"]["inc"] & (2**64 - 1), s["has_uint32"], s["uinteger"]]
        np.testing.assert_array_equal(shuffle.seeded(seed)[:6], np.array(words, np.uint64), err_msg=f"seed {seed}")


@needs_jit
def test_a_seed_of_none_is_drawn_compiled_from_fresh_entropy():
    a, b = Orders(None, 1000, compiled=True), Orders(None, 1000, compiled=True)
    assert a.state is not None and not np.array_equal(a.state, b.state)


@pytest.mark.parametrize("seed", [np.random.default_rng(5), np.random.PCG64(5)])
def test_a_generator_as_seed_is_drawn_by_numpy(seed):
    assert Orders(seed, 10, compiled=True).state is None


def test_a_generator_as_seed_is_the_one_that_draws():
    gen, twin = np.random.default_rng(3), np.random.default_rng(3)
    perms = np.empty((2, 50), np.int64)
    Orders(gen, 50, compiled=True).fill(perms)
    np.testing.assert_array_equal(perms, numpy_orders(twin, 50, 2))
    assert gen.integers(1 << 30) == twin.integers(1 << 30)  # it advanced as NumPy's own draws advance it


def test_not_compiled_means_numpys_generator():
    orders = Orders(5, 30, compiled=False)
    perms = np.empty((2, 30), np.int64)
    orders.fill(perms)
    assert orders.state is None
    np.testing.assert_array_equal(perms, numpy_orders(5, 30, 2))


def _spend_until(seconds: float) -> None:
    perms = np.empty((1, 10), np.int64)
    while fused_orders.spent < seconds:  # what NumPy's draws cost is counted
        Orders(2, 10).fill(perms)


@needs_jit
@pytest.mark.parametrize("in_cache, price", [(True, "LOAD_SECONDS"), (False, "COMPILE_SECONDS")])
def test_numpy_draws_until_it_has_cost_what_switching_costs(monkeypatch, in_cache, price):
    monkeypatch.setattr(fused_orders, "spent", 0.0)
    monkeypatch.setattr(fused_orders, "price", None)
    monkeypatch.setattr(fused_orders, "LOAD_SECONDS", 1e-3)
    monkeypatch.setattr(fused_orders, "COMPILE_SECONDS", 3e-3)
    monkeypatch.setattr(shuffle, "cached", lambda: in_cache)  # loaded from Numba's cache, or compiled
    assert Orders(1, 10).state is None
    _spend_until(1e-3)
    assert (Orders(1, 10).state is not None) == in_cache
    _spend_until(getattr(fused_orders, price))
    assert Orders(1, 10).state is not None


@needs_jit
def test_the_compiled_draws_once_called_are_there_to_load():
    Orders(3, 10, compiled=True).fill(np.empty((1, 10), np.int64))
    assert shuffle.cached()


def _model() -> symnn.Sequential:
    return symnn.Sequential([symnn.Dense(2, 6), symnn.Activation("tanh"), symnn.Dense(6, 1)],
                            loss="binary_cross_entropy", dtype="float64", seed=4)


def _epoch_by_epoch(model: symnn.Sequential, X, y) -> tuple[list[float], list[np.ndarray]]:
    opt = symnn.Adam(lr=0.01)
    losses = []
    for e in range(4):  # one-epoch fits
        losses += model.fit(X, y, optimizer=opt, epochs=1, batch_size=8, seed=100 + e, verbose=False,
                            fused=True)["loss"]
    losses += model.fit(X, y, optimizer=opt, epochs=3, batch_size=8, seed=9, verbose=False, fused=True)["loss"]
    return losses, [p.copy() for p in model.parameters()]


@needs_jit
def test_fits_train_the_same_numbers_whichever_draws_the_orders(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(37, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    monkeypatch.setattr(fused_orders, "price", 0.0)
    compiled = _epoch_by_epoch(_model(), X, y)
    monkeypatch.setattr(fused_orders, "price", float("inf"))
    monkeypatch.setattr(fused_orders, "LOAD_SECONDS", float("inf"))
    by_numpy = _epoch_by_epoch(_model(), X, y)
    assert compiled[0] == by_numpy[0]  # exactly: the same batches in the same order
    for p, q in zip(compiled[1], by_numpy[1], strict=True):
        np.testing.assert_array_equal(p, q)
