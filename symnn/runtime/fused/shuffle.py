"""The fused fit's batch orders: `default_rng(seed).permutation(n)` per epoch, drawn by a compiled loop.

A fit of one epoch per call (the benchmark matrix, scikit-learn pipelines) seeds a Generator and
draws one permutation every call; NumPy takes ~13 us to seed (SeedSequence, PCG64) and ~70 us to
shuffle 4096 rows (benchmarks/README.md, "Python around the fused loop"), half the Python around a
0.5 ms epoch. `Draws` computes the same numbers in one compiled call: NumPy's SeedSequence of an
integer seed, its PCG64 (XSL-RR 128/64, 32-bit draws buffered as NumPy buffers them), and its
Generator.shuffle (Fisher-Yates from the last row down, each index drawn by `random_interval`:
masked 32-bit draws, rejected until in range). The permutations are NumPy's bit for bit: checked
against NumPy for several seeds and sizes in each process before the compiled loop is first used
(`compiled_matches_numpy`); where that check fails (a NumPy that changed its algorithm), for seeds
that are not integers below 2**63 and with NUMBA_DISABLE_JIT=1, NumPy draws them
(symnn.runtime.fused.orders, which also decides when loading this module pays).
"""

from __future__ import annotations

import sys

import numpy as np
from numba import config, njit, types

from symnn.runtime.warm_start import skip_registry_refresh

_M32 = np.uint64(0xFFFFFFFF)
# SeedSequence's hash constants (numpy/random/bit_generator.pyx).
_INIT_A, _MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
_INIT_B, _MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
_MIX_L, _MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
# PCG64's 128-bit multiplier, high and low words (numpy/random/src/pcg64/pcg64.h).
_MUL_HI, _MUL_LO = np.uint64(2549297995355413924), np.uint64(4865540595714422341)

#: The generator's state between calls: state (hi, lo), increment (hi, lo), has_uint32, uinteger;
#: then the seeding's scratch words (its pool of 4, its 8 output words): the loop allocates nothing.
STATE_WORDS = 18


@njit(cache=True, nogil=True, _nrt=False)
def _hashmix(value, hash_const):
    """SeedSequence's hashmix on 32-bit words held in uint64: (the mixed value, the next constant)."""
    value = value ^ hash_const
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> np.uint64(16)), hash_const


@njit(cache=True, nogil=True, _nrt=False)
def _mix(x, y):
    result = (_MIX_L * x - _MIX_R * y) & _M32
    return result ^ (result >> np.uint64(16))


@njit(cache=True, nogil=True, _nrt=False)
def _step(state):
    """One step of PCG64's 128-bit LCG on state[0:2] (hi, lo), increment state[2:4]: the 64-bit output."""
    hi, lo = state[0], state[1]
    s32 = np.uint64(32)
    a0, a1 = lo & _M32, lo >> s32
    b0, b1 = _MUL_LO & _M32, _MUL_LO >> s32
    p00, p01, p10 = a0 * b0, a0 * b1, a1 * b0
    mid = (p00 >> s32) + (p01 & _M32) + (p10 & _M32)
    carry_mul = a1 * b1 + (p01 >> s32) + (p10 >> s32) + (mid >> s32)  # the high word of lo * _MUL_LO
    new_lo = lo * _MUL_LO
    lo = new_lo + state[3]
    hi = hi * _MUL_LO + state[1] * _MUL_HI + carry_mul + state[2] + (np.uint64(1) if lo < new_lo else np.uint64(0))
    state[0], state[1] = hi, lo
    x = hi ^ lo
    r = hi >> np.uint64(58)
    return (x >> r) | (x << ((np.uint64(64) - r) & np.uint64(63)))


@njit(cache=True, nogil=True, _nrt=False)
def _seed(state, words, n_words):
    """state: PCG64 seeded as `np.random.PCG64(seed)` seeds it, from the seed's 32-bit words
    (little end first, 1 or 2 of them: SeedSequence's entropy, no spawn key)."""
    pool, out = state[6:10], state[10:18]
    hash_const = _INIT_A
    for i in range(4):
        pool[i], hash_const = _hashmix(words[i] if i < n_words else np.uint64(0), hash_const)
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                mixed, hash_const = _hashmix(pool[i_src], hash_const)
                pool[i_dst] = _mix(pool[i_dst], mixed)
    # generate_state(4, np.uint64): 8 words, paired little end first
    hash_const = _INIT_B
    for i in range(8):
        value = pool[i % 4] ^ hash_const
        hash_const = (hash_const * _MULT_B) & _M32
        value = (value * hash_const) & _M32
        out[i] = value ^ (value >> np.uint64(16))
    s_hi, s_lo = out[0] | (out[1] << np.uint64(32)), out[2] | (out[3] << np.uint64(32))
    i_hi, i_lo = out[4] | (out[5] << np.uint64(32)), out[6] | (out[7] << np.uint64(32))
    # pcg_setseq_128_srandom_r: inc = seq << 1 | 1; state = 0; step; state += initstate; step.
    state[2] = (i_hi << np.uint64(1)) | (i_lo >> np.uint64(63))
    state[3] = (i_lo << np.uint64(1)) | np.uint64(1)
    state[0], state[1] = np.uint64(0), np.uint64(0)
    _step(state)
    lo = state[1] + s_lo
    state[0] = state[0] + s_hi + (np.uint64(1) if lo < s_lo else np.uint64(0))
    state[1] = lo
    _step(state)
    state[4], state[5] = np.uint64(0), np.uint64(0)


@njit(cache=True, nogil=True, _nrt=False)
def _take(row, i, value):
    """One candidate of random_interval(i), a 32-bit draw: kept if its masked value is <= i, then rows
    i and value are swapped and the next i is i - 1; rejected, i stays (branch-free: a rejection swaps
    row i with itself, so the unpredictable accept costs no misprediction)."""
    top = np.uint64(i)
    mask = top  # the smallest mask of ones >= top
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    value &= mask
    kept = value <= top
    j = np.int64(value) if kept else i
    row[i], row[j] = row[j], row[i]
    return i - 1 if kept else i


@njit(cache=True, nogil=True, _nrt=False)
def _draw(perms, state, words, n_words):
    """Each row of perms (n < 2**32 columns) the next `Generator.permutation(n)` of the PCG64 in
    `state` (seeded first from `words` when n_words > 0), in place, and the state after them.

    Fisher-Yates from the last row down, each index by NumPy's random_interval: 32-bit draws (the low
    half of a 64-bit output first, the high half kept for the next draw, as pcg64_next32 buffers it)
    masked and rejected until in range."""
    if n_words > 0:
        _seed(state, words, n_words)
    n = perms.shape[1]
    has32, u32 = state[4], state[5]
    for e in range(perms.shape[0]):
        row = perms[e]
        for i in range(n):
            row[i] = i
        i = n - 1
        if i > 0 and has32:
            i = _take(row, i, u32)
            has32 = np.uint64(0)
        while i > 0:
            out = _step(state)
            i = _take(row, i, out & _M32)
            if i == 0:
                has32, u32 = np.uint64(1), out >> np.uint64(32)
                break
            i = _take(row, i, out >> np.uint64(32))
    state[4], state[5] = has32, u32


def words(seed: object) -> tuple[int, ...] | None:
    """An integer seed's SeedSequence entropy words, or None for any other seed (or one >= 2**63)."""
    if type(seed) is not int or not 0 <= seed < 1 << 63:
        return None
    return (seed & 0xFFFFFFFF, seed >> 32) if seed >> 32 else (seed,)


_verified: bool | None = None  # whether the compiled draws are NumPy's (checked once per process)
#: `_draw`'s signature as fits call it (perms[:k], state, words, n_words).
_SIGNATURE = (types.Array(types.int64, 2, "C"), types.Array(types.uint64, 1, "C"),
              types.Array(types.uint64, 1, "C"), types.int64)


def cached() -> bool:
    """Whether `_draw` is compiled in this process or in Numba's cache of it (a look that compiles
    nothing; a cached entry is loaded once more by its first call)."""
    if config.DISABLE_JIT:
        return False
    if _draw.overloads:
        return True
    try:
        return _draw._cache.load_overload(_SIGNATURE, _draw.targetctx) is not None
    except Exception:  # noqa: BLE001 - Numba's internals moved: say no, and let NumPy draw
        return False


def compiled_matches_numpy() -> bool:
    """Whether `_draw` gives NumPy's permutations here (a few seeds and sizes, two epochs each)."""
    global _verified
    if _verified is None:
        _verified = not config.DISABLE_JIT and all(
            np.array_equal(_compiled(seed, n, 2), _numpy(seed, n, 2))
            for seed in (0, 1, 12345, (1 << 32) + 7, (1 << 63) - 1) for n in (1, 2, 5, 1000))
    return _verified


def _numpy(seed: object, n: int, k: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n) for _ in range(k)])


def _compiled(seed: int, n: int, k: int) -> np.ndarray:
    perms = np.empty((k, n), np.int64)
    Draws(seed).fill(perms)
    return perms


class Draws:
    """The permutations of `np.random.default_rng(seed)` for an integer seed (`words(seed)` not None),
    epoch after epoch, drawn by `_draw` (symnn.runtime.fused.orders decides when)."""

    def __init__(self, seed: int) -> None:
        seed_words = words(seed)
        self.state = np.zeros(STATE_WORDS, np.uint64)
        self.words = np.array(seed_words + (0,), np.uint64)
        self.n_words = len(seed_words)

    def fill(self, perms: np.ndarray) -> None:
        """Each row of perms (int64, C order, fewer than 2**32 columns) the next epoch's permutation."""
        _draw(perms, self.state, self.words, self.n_words)
        self.n_words = 0  # seeded: the next call continues from the state


skip_registry_refresh(sys.modules[__name__])  # cached in symnn's folder, loaded without Numba's set-up

__all__ = ["STATE_WORDS", "Draws", "cached", "compiled_matches_numpy", "words"]
