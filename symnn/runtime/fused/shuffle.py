"""The fused fit's batch orders: `default_rng(seed).permutation(n)` per epoch, drawn by a compiled loop.

A fit of one epoch per call (the benchmark matrix, scikit-learn pipelines) draws one permutation
every call; NumPy's `rng.permutation(4096)` takes ~60 us (benchmarks/README.md, "Python around the
fused loop"), a fifth of a 0.3 ms epoch. `draw` computes the same numbers in one compiled call:
NumPy's Generator.shuffle of `arange(n)` (Fisher-Yates from the last row down, each index drawn by
`random_interval`: masked 32-bit draws, rejected until in range) on its PCG64 (XSL-RR 128/64, 32-bit
draws buffered as `pcg64_next32` buffers them). The generator is seeded as `PCG64(seed)` seeds it:
for an integer seed below 2**64 by `draw` itself, on its first call (`_seed`: SeedSequence's hash,
compiled, so a fit does no Python integer arithmetic for it), for any other seed `default_rng` makes a
fresh PCG64 from by NumPy (`state_of`). The permutations are NumPy's bit for bit:
checked against NumPy for several seeds and sizes in each process before `draw` is first used
(`compiled_matches_numpy`); where that check fails (a NumPy that changed its algorithm), for a
Generator or BitGenerator as seed and with NUMBA_DISABLE_JIT=1, NumPy draws them
(symnn.runtime.fused.orders, which also decides when loading this module pays).
"""

from __future__ import annotations

import sys

import numpy as np
from llvmlite import ir as llvm_ir
from numba import config, njit, types
from numba.extending import intrinsic

from symnn.runtime.warm_start import skip_registry_refresh

_M32 = np.uint64(0xFFFFFFFF)
_ONE, _ZERO = np.uint64(1), np.uint64(0)
# PCG64's 128-bit multiplier, high and low words (numpy/random/src/pcg64/pcg64.h).
_MUL_HI, _MUL_LO = np.uint64(2549297995355413924), np.uint64(4865540595714422341)
_WORD = (1 << 64) - 1

#: The generator's state as `draw` takes it: state (hi, lo), increment (hi, lo), has_uint32, uinteger;
#: `seed pending`: 1 where word 0 holds an integer seed that `draw` hashes into the state first; and
#: 12 words of room for that hash.
STATE_WORDS = 19


@intrinsic
def _mul_hi(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two uint64 (one multiply instead of four 32-bit ones)."""
    def codegen(context, builder, signature, args):
        wide = llvm_ir.IntType(128)
        x, y = (builder.zext(v, wide) for v in args)
        return builder.trunc(builder.lshr(builder.mul(x, y), llvm_ir.Constant(wide, 64)), llvm_ir.IntType(64))
    return types.uint64(types.uint64, types.uint64), codegen


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def _seed(state):
    """Words 0-3 of `state` PCG64(seed)'s 128-bit state and increment (hi, lo each), for the seed
    0 <= seed < 2**64 in word 0: SeedSequence's hash of the seed's two 32-bit words, zero-padded to its
    pool of 4 (mix_entropy), its generate_state(4, uint64), then pcg_setseq_128_srandom_r
    (numpy/random/bit_generator.pyx, numpy/random/src/pcg64/pcg64.h). Loops, not calls: Numba compiles
    them in a fraction of what inlined helper functions cost."""
    seed, m16 = state[0], np.uint64(16)
    for i in range(4):
        word = (seed & _M32 if i == 0 else seed >> np.uint64(32)) if i < 2 else _ZERO
        v = ((word ^ _ENTROPY[i, 0]) * _ENTROPY[i, 1]) & _M32
        state[_POOL + i] = v ^ (v >> m16)
    for k in range(_MIXES.shape[0]):
        v = ((state[_POOL + _MIXES[k, 0]] ^ _ENTROPY[4 + k, 0]) * _ENTROPY[4 + k, 1]) & _M32
        r = (_MIX_A * state[_POOL + _MIXES[k, 1]] - _MIX_B * (v ^ (v >> m16))) & _M32
        state[_POOL + _MIXES[k, 1]] = r ^ (r >> m16)
    for i in range(8):
        v = ((state[_POOL + (i & 3)] ^ _OUTPUT[i, 0]) * _OUTPUT[i, 1]) & _M32
        state[_WORDS + i] = v ^ (v >> m16)
    w = state[_WORDS:_WORDS + 8]
    # seed = words 0-1 (high), 2-3 (low), seq = words 4-5 (high), 6-7, each pair's later word its higher
    # half; inc = seq << 1 | 1, state = (inc + seed) * MUL + inc, all mod 2**128
    inc_hi = (w[5] << np.uint64(33)) | (w[4] << _ONE) | (w[7] >> np.uint64(31))
    inc_lo = (w[7] << np.uint64(33)) | (w[6] << _ONE) | _ONE
    lo = inc_lo + ((w[3] << np.uint64(32)) | w[2])
    hi = inc_hi + ((w[1] << np.uint64(32)) | w[0]) + np.uint64(lo < inc_lo)
    hi = hi * _MUL_LO + lo * _MUL_HI + _mul_hi(lo, _MUL_LO)
    lo = lo * _MUL_LO
    new_lo = lo + inc_lo
    state[0], state[1], state[2], state[3] = hi + inc_hi + np.uint64(new_lo < lo), new_lo, inc_hi, inc_lo
    state[6] = _ZERO


@njit(cache=True, nogil=True, _nrt=False)
def draw(perms, state):
    """Each row of perms (int64, n < 2**32 columns) the next `Generator.permutation(n)` of the PCG64
    in `state` (STATE_WORDS uint64), which is left as the generator is after them.

    Fisher-Yates from the last row down, each index drawn by NumPy's random_interval: 32-bit draws
    (the low half of a 64-bit output first, the high half kept for the next), masked by the smallest
    all-ones mask covering i, rejected until at most i. Branch-free: a rejection swaps row i with
    itself and leaves i and the mask as they were, so the unpredictable test costs no misprediction."""
    n = perms.shape[1]
    if state[6]:  # an integer seed: PCG64(seed)'s state, as NumPy seeds it
        _seed(state)
    hi, lo, inc_hi, inc_lo = state[0], state[1], state[2], state[3]
    has32, u32 = state[4], state[5]
    for e in range(perms.shape[0]):
        row = perms[e]
        for i in range(n):
            row[i] = i
        top = np.uint64(n - 1)
        mask = top
        mask |= mask >> np.uint64(1)
        mask |= mask >> np.uint64(2)
        mask |= mask >> np.uint64(4)
        mask |= mask >> np.uint64(8)
        mask |= mask >> np.uint64(16)
        while top > _ZERO:
            if has32:
                value = u32
                has32 = _ZERO
            else:  # one step of the 128-bit LCG, then the XSL-RR output
                low = lo * _MUL_LO
                new_lo = low + inc_lo
                hi = hi * _MUL_LO + lo * _MUL_HI + _mul_hi(lo, _MUL_LO) + inc_hi + np.uint64(new_lo < low)
                lo = new_lo
                x = hi ^ lo
                r = hi >> np.uint64(58)
                out = (x >> r) | (x << ((np.uint64(64) - r) & np.uint64(63)))
                value = out & _M32
                u32 = out >> np.uint64(32)
                has32 = _ONE
            value &= mask
            kept = value <= top
            j = value if kept else top
            swapped = row[top]
            row[top] = row[j]
            row[j] = swapped
            top -= np.uint64(kept)
            mask >>= np.uint64(top <= mask >> _ONE)
    state[0], state[1], state[4], state[5] = hi, lo, has32, u32


def state_of(seed: object) -> np.ndarray | None:
    """The state `draw` takes for the generator `np.random.default_rng(seed)` makes; None for a
    Generator or BitGenerator (NumPy draws from it, so that it advances)."""
    if type(seed) is int and 0 <= seed < 1 << 64:  # hashed by `draw` itself (`_seed`): no Python arithmetic
        return np.array([seed, 0, 0, 0, 0, 0, 1] + [0] * (STATE_WORDS - 7), np.uint64)
    if isinstance(seed, (np.random.Generator, np.random.BitGenerator)):
        return None
    s = np.random.PCG64(seed).state  # NumPy's own seeding
    state, inc = s["state"]["state"], s["state"]["inc"]
    return np.array([state >> 64, state & _WORD, inc >> 64, inc & _WORD, s["has_uint32"], s["uinteger"]]
                    + [0] * (STATE_WORDS - 6), np.uint64)


def seeded(seed: object) -> np.ndarray | None:
    """`state_of(seed)` with an integer seed hashed (by `draw`, drawing nothing): PCG64(seed)'s state."""
    state = state_of(seed)
    if state is not None:
        draw(np.empty((0, 0), np.int64), state)
    return state


def _hash_constants(first: int, multiplier: int, count: int) -> tuple[tuple[int, int], ...]:
    """SeedSequence's hash constants, pairwise: (the one a value is xored with, the one it is then
    multiplied by), as its hash steps through them (numpy/random/bit_generator.pyx)."""
    c = [first]
    for _ in range(count):
        c.append(c[-1] * multiplier & 0xFFFFFFFF)
    return tuple(zip(c, c[1:]))


_ENTROPY = np.array(_hash_constants(0x43B0D7E5, 0x931E8875, 16), np.uint64)  # mix_entropy's 4 + 12 hashmix steps
_OUTPUT = np.array(_hash_constants(0x8B51F9DD, 0x58F38DED, 8), np.uint64)  # generate_state's 8 words
_MIXES = np.array([(src, dst) for src in range(4) for dst in range(4) if src != dst], np.int64)  # (src, dst) pool words
_MIX_A, _MIX_B = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_POOL, _WORDS = 7, 11  # where the seeding keeps SeedSequence's pool (4 words) and output (8) in the state


_verified: bool | None = None  # whether `draw` gives NumPy's permutations (checked once per process)
#: `draw`'s signature as fits call it (perms[:k], state).
_SIGNATURE = (types.Array(types.int64, 2, "C"), types.Array(types.uint64, 1, "C"))


def cached() -> bool:
    """Whether `draw` is compiled in this process or in Numba's cache of it (a look that compiles
    nothing; a cached entry is loaded once more by its first call)."""
    if config.DISABLE_JIT:
        return False
    if draw.overloads:
        return True
    try:
        return draw._cache.load_overload(_SIGNATURE, draw.targetctx) is not None
    except Exception:  # noqa: BLE001 - Numba's internals moved: say no, and let NumPy draw
        return False


def compiled_matches_numpy() -> bool:
    """Whether `draw` gives NumPy's permutations here (a few seeds and sizes, two epochs each)."""
    global _verified
    if _verified is None:
        _verified = not config.DISABLE_JIT and all(
            np.array_equal(_compiled(seed, n, 2), _numpy(seed, n, 2))
            for seed in (0, 1, 12345, (1 << 32) + 7, (1 << 64) - 1, 1 << 64) for n in (1, 2, 5, 1000))
    return _verified


def _numpy(seed: object, n: int, k: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n) for _ in range(k)])


def _compiled(seed: object, n: int, k: int) -> np.ndarray:
    perms = np.empty((k, n), np.int64)
    draw(perms, state_of(seed))
    return perms


skip_registry_refresh(sys.modules[__name__])  # cached in symnn's folder, loaded without Numba's set-up

__all__ = ["STATE_WORDS", "cached", "compiled_matches_numpy", "draw", "seeded", "state_of"]
