"""The fused fit's batch orders: `default_rng(seed).permutation(n)` per epoch, drawn by a compiled loop.

A fit of one epoch per call (the benchmark matrix, scikit-learn pipelines) draws one permutation
every call; NumPy's `rng.permutation(4096)` takes ~60 us (benchmarks/README.md, "Python around the
fused loop"), a fifth of a 0.3 ms epoch. `draw` computes the same numbers in one compiled call:
NumPy's Generator.shuffle of `arange(n)` (Fisher-Yates from the last row down, each index drawn by
`random_interval`: masked 32-bit draws, rejected until in range) on its PCG64 (XSL-RR 128/64, 32-bit
draws buffered as `pcg64_next32` buffers them). `state_of` seeds the generator as `PCG64(seed)`
does: SeedSequence's hash in Python integers for integer seeds below 2**64, NumPy itself for any
other seed `default_rng` makes a fresh PCG64 from. The permutations are NumPy's bit for bit:
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

#: The generator's state as `draw` takes it: state (hi, lo), increment (hi, lo), has_uint32, uinteger.
STATE_WORDS = 6


@intrinsic
def _mul_hi(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two uint64 (one multiply instead of four 32-bit ones)."""
    def codegen(context, builder, signature, args):
        wide = llvm_ir.IntType(128)
        x, y = (builder.zext(v, wide) for v in args)
        return builder.trunc(builder.lshr(builder.mul(x, y), llvm_ir.Constant(wide, 64)), llvm_ir.IntType(64))
    return types.uint64(types.uint64, types.uint64), codegen


@njit(cache=True, nogil=True, _nrt=False)
def draw(perms, state):
    """Each row of perms (int64, n < 2**32 columns) the next `Generator.permutation(n)` of the PCG64
    in `state` (STATE_WORDS uint64), which is left as the generator is after them.

    Fisher-Yates from the last row down, each index drawn by NumPy's random_interval: 32-bit draws
    (the low half of a 64-bit output first, the high half kept for the next), masked by the smallest
    all-ones mask covering i, rejected until at most i. Branch-free: a rejection swaps row i with
    itself and leaves i and the mask as they were, so the unpredictable test costs no misprediction."""
    n = perms.shape[1]
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
    if type(seed) is int and 0 <= seed < 1 << 64:
        state, inc, has32, u32 = *_pcg64(seed), 0, 0
    elif isinstance(seed, (np.random.Generator, np.random.BitGenerator)):
        return None
    else:  # NumPy's own seeding
        s = np.random.PCG64(seed).state
        state, inc, has32, u32 = s["state"]["state"], s["state"]["inc"], s["has_uint32"], s["uinteger"]
    return np.array([state >> 64, state & _WORD, inc >> 64, inc & _WORD, has32, u32], np.uint64)


def _hash_constants(first: int, multiplier: int, count: int) -> tuple[tuple[int, int], ...]:
    """SeedSequence's hash constants, pairwise: (the one a value is xored with, the one it is then
    multiplied by), as its hash steps through them (numpy/random/bit_generator.pyx)."""
    c = [first]
    for _ in range(count):
        c.append(c[-1] * multiplier & 0xFFFFFFFF)
    return tuple(zip(c, c[1:]))


_ENTROPY = _hash_constants(0x43B0D7E5, 0x931E8875, 16)  # mix_entropy's 4 + 12 hashmix steps
_OUTPUT = _hash_constants(0x8B51F9DD, 0x58F38DED, 8)  # generate_state's 8 words
_MIXES = tuple((src, dst) for src in range(4) for dst in range(4) if src != dst)
_MULTIPLIER = int(_MUL_HI) << 64 | int(_MUL_LO)


def _pcg64(seed: int) -> tuple[int, int]:
    """`np.random.PCG64(seed)`'s 128-bit state and increment for 0 <= seed < 2**64, in Python integers:
    SeedSequence's hash of its one or two 32-bit words (no NumPy call: ~7 us, NumPy's ~10 us and more)."""
    m = 0xFFFFFFFF
    pool = [seed & m, seed >> 32, 0, 0]  # its entropy words, zero-padded to the pool's 4
    for i, (x, mul) in enumerate(_ENTROPY[:4]):
        v = (pool[i] ^ x) * mul & m
        pool[i] = v ^ v >> 16
    for (src, dst), (x, mul) in zip(_MIXES, _ENTROPY[4:]):
        v = (pool[src] ^ x) * mul & m
        r = (0xCA01F9DD * pool[dst] - 0x4973F715 * (v ^ v >> 16)) & m
        pool[dst] = r ^ r >> 16
    w = []
    for i, (x, mul) in enumerate(_OUTPUT):
        v = (pool[i & 3] ^ x) * mul & m
        w.append(v ^ v >> 16)
    # generate_state(4, uint64): seed (hi, lo) = words 0-1, 2-3, increment words 4-5, 6-7, each little
    # end first; then pcg_setseq_128_srandom_r: inc = seq << 1 | 1, state = (inc + seed) * MUL + inc.
    word = (1 << 128) - 1
    inc = (w[5] << 97 | w[4] << 65 | w[7] << 33 | w[6] << 1 | 1) & word
    return ((inc + (w[1] << 96 | w[0] << 64 | w[3] << 32 | w[2])) * _MULTIPLIER + inc) & word, inc


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

__all__ = ["STATE_WORDS", "cached", "compiled_matches_numpy", "draw", "state_of"]
