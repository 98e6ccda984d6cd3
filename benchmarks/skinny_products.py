"""One step of the matrix's base network at batch 4096: its eight matrix products, NumPy's OpenBLAS
(what the fused loop calls) against XLA's jitted dot, each product alone.

    OPENBLAS_NUM_THREADS=1 taskset -c 1 python benchmarks/skinny_products.py   # needs jax, jaxlib

The network is 2-16-16-1, so every product has a dimension of 1, 2 or 16 against 4096 rows. Prints
the median of 9 x 300 calls per product and dtype (JAX's include its ~5 us dispatch per call). Not
run by the test suite.
"""

from __future__ import annotations

import os
import time

import numpy as np

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


def _median_us(f, n: int = 300) -> float:
    f()
    ts = []
    for _ in range(9):
        t = time.perf_counter()
        for _ in range(n):
            f()
        ts.append((time.perf_counter() - t) / n)
    return sorted(ts)[4] * 1e6


def main() -> int:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    m = 4096
    # name: (a's shape, b's shape, form): "nt" a b^T, "tn" a^T b, "nn" a b
    products = {"X W1^T": ((m, 2), (16, 2), "nt"), "H W2^T": ((m, 16), (16, 16), "nt"),
                "H W3^T": ((m, 16), (1, 16), "nt"), "G3^T H": ((m, 1), (m, 16), "tn"),
                "G3 W3": ((m, 1), (1, 16), "nn"), "G2^T H": ((m, 16), (m, 16), "tn"),
                "G2 W2": ((m, 16), (16, 16), "nn"), "G1^T X": ((m, 16), (m, 2), "tn")}
    forms = {"nt": lambda a, b: a @ b.T, "tn": lambda a, b: a.T @ b, "nn": lambda a, b: a @ b}
    for dtype in (np.float32, np.float64):
        totals = [0.0, 0.0]
        for name, (sa, sb, form) in products.items():
            a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
            f = forms[form]
            out = np.empty(f(a, b).shape, dtype)
            x, y = (a.T, b) if form == "tn" else (a, b.T if form == "nt" else b)
            jf, ja, jb = jax.jit(f), jnp.asarray(a), jnp.asarray(b)
            blas = _median_us(lambda: np.dot(x, y, out))
            xla = _median_us(lambda: jf(ja, jb).block_until_ready())
            totals[0] += blas
            totals[1] += xla
            print(f"{dtype.__name__} {name:7s} OpenBLAS {blas:6.1f} us   XLA {xla:6.1f} us")
        print(f"{dtype.__name__} all eight: OpenBLAS {totals[0]:.0f} us, XLA {totals[1]:.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
