"""One benchmark run in this process: a peer trains a workload; prints one JSON line.

    python benchmarks/peer.py PEER WORKLOAD --threads N --epochs E

PEER is symnn, symnn_1fit, torch, jax_step, jax_scan, sklearn, or gemm (the matrix-multiply floor: times np.dot
on the workload's shapes instead of training). Epoch 0 is the warm-up epoch (its time is reported
as `first_ms`: compilation and first calls); epochs 1..E are timed one by one. Every peer starts
from the same weights (workloads.initial_weights) and takes the rows in the same order
(workloads.permutation), except where noted in README.md.

`benchmarks/run.py` runs this under `taskset` with the thread variables set; run alone, it sets the
thread variables itself (before NumPy is imported) but does not pin the process.
Peers are imported lazily: this file imports without jax, torch or scikit-learn installed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

workloads = None  # benchmarks/workloads.py, imported by main() once the thread variables are set

WORKLOAD_KEYS = ("w1", "w2", "w3")
PEERS = ("symnn", "symnn_1fit", "torch", "jax_step", "jax_scan", "sklearn", "gemm")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def thread_env(threads: int) -> dict[str, str]:
    """The environment variables that cap every thread pool at `threads`."""
    env = {name: str(threads) for name in THREAD_VARS}
    env["JAX_PLATFORMS"] = "cpu"
    if threads == 1:
        env["XLA_FLAGS"] = XLA_ONE_THREAD
    return env


def load_workloads():
    """benchmarks/workloads.py, whether this file runs as a script or as benchmarks.peer."""
    try:
        from benchmarks import workloads as module
    except ModuleNotFoundError:  # run as a script: benchmarks/ is sys.path[0]
        import workloads as module
    return module


def limit_blas(threads: int) -> list[dict]:
    """Cap every BLAS/OpenMP pool this process has loaded; what threadpoolctl sees, afterwards.

    numba's np.dot calls SciPy's OpenBLAS, which threadpoolctl only finds once
    scipy.linalg.cython_blas is imported.
    """
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=threads)
    keep = ("user_api", "internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads")
    return [{k: info.get(k) for k in keep} | {"file": os.path.basename(info.get("filepath", ""))}
            for info in threadpool_info()]


# --- peers: each returns (run_epoch(e) -> mean batch loss or None, final weights() -> [(W, b)]) -----

def peer_symnn(wl, X, y, weights, threads):
    import symnn

    layers = []
    for i, (W, _) in enumerate(weights):
        layers.append(symnn.Dense(W.shape[1], W.shape[0]))
        if i < len(weights) - 1:
            layers.append(symnn.Activation("relu"))
    loss = "binary_cross_entropy" if wl.loss == "bce" else "cross_entropy"
    model = symnn.Sequential(layers, loss=loss, dtype="float32")
    dense = [layer for layer in model.layers if isinstance(layer, symnn.Dense)]
    for layer, (W, b) in zip(dense, weights):
        layer.W[...] = W
        layer.b[...] = b
    opt = symnn.Adam(lr=wl.lr) if wl.optimizer == "adam" else symnn.SGD(lr=wl.lr, momentum=wl.momentum)

    def run_epoch(e):
        # fused=True: the compiled whole-epoch loop or an error saying why not (never a silent fallback)
        h = model.fit(X, y, optimizer=opt, epochs=1, batch_size=wl.batch, shuffle=True,
                      seed=workloads.EPOCH_SEED + e, verbose=False, fused=True)
        return h["loss"][-1]

    run_epoch.model, run_epoch.optimizer = model, opt
    return run_epoch, lambda: [(layer.W.copy(), layer.b.copy()) for layer in dense]


def peer_torch(wl, X, y, weights, threads):
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
    mods = []
    for i, (W, b) in enumerate(weights):
        lin = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if i < len(weights) - 1:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    if wl.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=wl.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=wl.lr, momentum=wl.momentum)
    Xt = torch.from_numpy(X)
    if wl.loss == "bce":
        yt = torch.from_numpy(y.astype("float32")).reshape(-1, 1)
        loss_fn = torch.nn.BCEWithLogitsLoss()
    else:
        yt = torch.from_numpy(y)
        loss_fn = torch.nn.CrossEntropyLoss()
    n, bs = X.shape[0], wl.batch

    def run_epoch(e):
        perm = torch.from_numpy(workloads.permutation(e, n))
        total = 0.0
        for lo in range(0, n, bs):
            idx = perm[lo:lo + bs]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
        return total / n

    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    return run_epoch, lambda: [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in lins]


def _jax_parts(wl):
    """The loss of a batch and the optimizer update (torch.optim's formulas), as jax functions."""
    import jax
    import jax.numpy as jnp

    def forward(params, x):
        for i, (W, b) in enumerate(params):
            x = x @ W.T + b
            if i < len(params) - 1:
                x = jax.nn.relu(x)
        return x

    def loss_fn(params, x, t):
        z = forward(params, x)
        if wl.loss == "bce":
            z = z[:, 0]
            return jnp.mean(jnp.maximum(z, 0) - z * t + jnp.log1p(jnp.exp(-jnp.abs(z))))
        lse = jax.nn.logsumexp(z, axis=1)
        return jnp.mean(lse - jnp.take_along_axis(z, t[:, None], axis=1)[:, 0])

    grad_fn = jax.value_and_grad(loss_fn)
    f32 = jnp.float32

    if wl.optimizer == "adam":
        b1, b2, eps = 0.9, 0.999, 1e-8

        def init(params):
            zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
            return (jnp.zeros((), jnp.int32), zeros, zeros)

        def update(params, state, x, t):
            loss, g = grad_fn(params, x, t)
            step, m, v = state
            step = step + 1
            m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
            v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
            tf = step.astype(f32)
            step_size = wl.lr / (1 - f32(b1) ** tf)
            bc2 = jnp.sqrt(1 - f32(b2) ** tf)
            params = jax.tree_util.tree_map(lambda p, m_, v_: p - step_size * m_ / (jnp.sqrt(v_) / bc2 + eps),
                                            params, m, v)
            return params, (step, m, v), loss
    else:
        mu = wl.momentum

        def init(params):
            return jax.tree_util.tree_map(jnp.zeros_like, params)

        def update(params, buf, x, t):
            # torch: buf = g on the first step, then mu buf + g; from a zero buffer that is one formula
            loss, g = grad_fn(params, x, t)
            buf = jax.tree_util.tree_map(lambda b_, g_: mu * b_ + g_, buf, g)
            params = jax.tree_util.tree_map(lambda p, b_: p - wl.lr * b_, params, buf)
            return params, buf, loss

    return init, update


def _jax_data(wl, X, y, weights):
    import jax.numpy as jnp

    Xd = jnp.asarray(X)
    Yd = jnp.asarray(y.astype("float32")) if wl.loss == "bce" else jnp.asarray(y.astype("int32"))
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in weights]
    return Xd, Yd, params


def _jax_weights(box):
    import numpy as np

    return lambda: [(np.asarray(W), np.asarray(b)) for W, b in box["params"]]


def peer_jax_step(wl, X, y, weights, threads):
    """A jitted training step per batch; the batch's rows are gathered inside the step."""
    import jax
    import numpy as np

    init, update = _jax_parts(wl)
    Xd, Yd, params = _jax_data(wl, X, y, weights)
    box = {"params": params, "state": init(params)}

    @jax.jit
    def step(params, state, X, Y, idx):
        return update(params, state, X[idx], Y[idx])

    n, bs = X.shape[0], wl.batch

    def run_epoch(e):
        perm = workloads.permutation(e, n).astype(np.int32)
        p, s, losses = box["params"], box["state"], []
        for lo in range(0, n, bs):
            idx = perm[lo:lo + bs]
            p, s, loss = step(p, s, Xd, Yd, idx)
            losses.append(loss * idx.shape[0])
        jax.block_until_ready((p, s))
        box["params"], box["state"] = p, s
        return float(sum(float(v) for v in losses) / n)

    return run_epoch, _jax_weights(box)


def peer_jax_scan(wl, X, y, weights, threads):
    """A whole epoch in one jit: lax.scan over the full batches, then the partial one."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    init, update = _jax_parts(wl)
    Xd, Yd, params = _jax_data(wl, X, y, weights)
    box = {"params": params, "state": init(params)}
    n, bs = X.shape[0], wl.batch
    full, rest = divmod(n, bs)

    @jax.jit
    def epoch(params, state, X, Y, perm):
        def body(carry, idx):
            p, s, loss = update(carry[0], carry[1], X[idx], Y[idx])
            return (p, s), loss

        (params, state), losses = jax.lax.scan(body, (params, state), perm[:full * bs].reshape(full, bs))
        total = jnp.sum(losses) * bs
        if rest:
            idx = perm[full * bs:]
            params, state, loss = update(params, state, X[idx], Y[idx])
            total = total + loss * rest
        return params, state, total / n

    def run_epoch(e):
        perm = jnp.asarray(workloads.permutation(e, n).astype(np.int32))
        p, s, loss = epoch(box["params"], box["state"], Xd, Yd, perm)
        jax.block_until_ready((p, s, loss))
        box["params"], box["state"] = p, s
        return float(loss)

    return run_epoch, _jax_weights(box)


def peer_sklearn(wl, X, y, weights, threads):
    """MLPClassifier.partial_fit once per epoch, on the rows in this epoch's order (shuffle=False)."""
    import numpy as np
    from sklearn.neural_network import MLPClassifier

    class Started(MLPClassifier):
        """MLPClassifier whose layers start from the given weights."""

        def _init_coef(self, fan_in, fan_out, dtype):
            W, b = self.start_weights.pop(0)
            assert W.shape == (fan_out, fan_in)
            return np.ascontiguousarray(W.T, dtype=dtype), b.astype(dtype)

    common = dict(hidden_layer_sizes=wl.sizes[1:-1], activation="relu", alpha=0.0, batch_size=wl.batch,
                  learning_rate="constant", learning_rate_init=wl.lr, shuffle=False, tol=0.0,
                  n_iter_no_change=10 ** 9, max_iter=1)
    if wl.optimizer == "adam":
        clf = Started(solver="adam", beta_1=0.9, beta_2=0.999, epsilon=1e-8, **common)
    else:
        clf = Started(solver="sgd", momentum=wl.momentum, nesterovs_momentum=False, **common)
    clf.start_weights = [(W.copy(), b.copy()) for W, b in weights]
    classes = np.unique(y)
    n = X.shape[0]

    def run_epoch(e):
        perm = workloads.permutation(e, n)
        clf.partial_fit(X[perm], y[perm], classes=classes)
        return float(clf.loss_)

    return run_epoch, lambda: [(c.T.copy(), i.copy()) for c, i in zip(clf.coefs_, clf.intercepts_)]


# --- the matrix-multiply floor ------------------------------------------------------------------

def direct_gemm():
    """`direct(a, b, out, reps)`: out = a @ b, `reps` times, by NumPy's OpenBLAS called from a Numba
    function with no Python per product (what symnn's fused loop calls, symnn.runtime.blas); a, b
    C-contiguous or the transpose of a C-contiguous array, as symnn's loop holds them. None where
    NumPy bundles no OpenBLAS."""
    import numpy as np
    from numba import njit

    try:
        from symnn.runtime.blas import NO_TRANS, ROW_MAJOR, TRANS, external_gemm
    except ImportError:
        return None
    sgemm, _ = external_gemm("symnn_cblas_sgemm", "symnn_cblas_dgemm")

    @njit(cache=False)
    def direct(a, b, out, reps):
        ta = np.int32(NO_TRANS if a.flags.c_contiguous else TRANS)
        tb = np.int32(NO_TRANS if b.flags.c_contiguous else TRANS)
        lda = a.shape[1] if a.flags.c_contiguous else a.shape[0]
        ldb = b.shape[1] if b.flags.c_contiguous else b.shape[0]
        for _ in range(reps):
            sgemm(np.int32(ROW_MAJOR), ta, tb, out.shape[0], out.shape[1], a.shape[1], np.float32(1),
                  a.ctypes.data, lda, b.ctypes.data, ldb, np.float32(0), out.ctypes.data, out.shape[1])

    return direct


def product_operands(what: str, sa: tuple[int, int], sb: tuple[int, int], seed: int = 0):
    """Random float32 operands of one of workloads.matmuls' products, in symnn's layouts:
    X W^T with W (n_out, n_in); G^T X; G W."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if what.startswith("fwd"):
        return rng.standard_normal(sa, dtype=np.float32), rng.standard_normal(sb[::-1], dtype=np.float32).T
    if what.startswith("dW"):
        return rng.standard_normal(sa[::-1], dtype=np.float32).T, rng.standard_normal(sb, dtype=np.float32)
    return rng.standard_normal(sa, dtype=np.float32), rng.standard_normal(sb, dtype=np.float32)


def gemm_floor(wl, n: int, threads: int, sample_s: float = 0.02, passes: int = 11) -> dict:
    """Time each product of an epoch with np.dot (NumPy's BLAS), with np.dot inside a Numba function
    (SciPy's OpenBLAS, what symnn's per-layer kernels call) and with NumPy's OpenBLAS called directly
    from a Numba function (what symnn's fused loop calls, symnn.runtime.blas), in the layouts symnn
    uses; floor = sum of count x time.

    Each timing sample repeats one product for about `sample_s` seconds; the products are timed in
    turn, `passes` times over (spread over seconds, so a burst of other work on this shared machine
    hits few samples of any one product); a product's time is the median of its samples. NumPy's
    and SciPy's OpenBLAS are timed one after the other, never interleaved (see below).
    """
    import numpy as np
    from numba import njit

    @njit(cache=False)
    def dots(a, b, out, reps):
        for _ in range(reps):
            np.dot(a, b, out)

    def np_dots(a, b, out, reps):
        for _ in range(reps):
            np.dot(a, b, out=out)

    direct = direct_gemm()
    operands = product_operands

    def calibrate(fn, args):
        fn(*args, 1)
        reps = 1
        while True:
            t = time.perf_counter()
            fn(*args, reps)
            if time.perf_counter() - t > sample_s / 4 or reps > 1 << 22:
                return reps * 4
            reps *= 4

    products = []
    for what, sa, sb, count in workloads.matmuls(wl.key, n):
        a, b = operands(what, sa, sb)
        args = (a, b, np.empty((sa[0], sb[1]), np.float32))
        products.append({"what": what, "a": sa, "b": sb, "count": count, "args": args, "np": [], "nb": [],
                         "direct": []})
    timers = [(np_dots, "np"), (dots, "nb")] + ([(direct, "direct")] if direct is not None else [])
    for p in products:
        p["reps"] = []
    for fn, _ in timers:
        time.sleep(0.5)
        for p in products:
            p["reps"].append(calibrate(fn, p["args"]))
    # One library at a time, with a pause between: an OpenBLAS pool's idle threads spin for a while
    # after each call, and would take the cores from the other library's threads.
    for which, (fn, key) in enumerate(timers):
        time.sleep(0.5)
        for _ in range(passes):
            for p in products:
                t = time.perf_counter()
                fn(*p["args"], p["reps"][which])
                p[key].append((time.perf_counter() - t) / p["reps"][which])
    rows, numpy_s, numba_s, direct_s = [], 0.0, 0.0, 0.0
    for p in products:
        t_np, t_nb = float(np.median(p["np"])), float(np.median(p["nb"]))
        numpy_s += p["count"] * t_np
        numba_s += p["count"] * t_nb
        direct_s += p["count"] * float(np.median(p["direct"])) if p["direct"] else float("nan")
        flops = 2 * p["a"][0] * p["a"][1] * p["b"][1]
        rows.append({"what": p["what"], "a": p["a"], "b": p["b"], "count": p["count"], "numpy_us": t_np * 1e6,
                     "numba_us": t_nb * 1e6, "numpy_gflops": flops / t_np / 1e9, "numba_gflops": flops / t_nb / 1e9,
                     "numpy_best_us": min(p["np"]) * 1e6, "numba_best_us": min(p["nb"]) * 1e6,
                     "direct_us": float(np.median(p["direct"])) * 1e6 if p["direct"] else None})
    flops = workloads.flops_per_epoch(wl.key, n)
    return {"floor_ms": numpy_s * 1e3, "floor_numba_ms": numba_s * 1e3, "floor_direct_ms": direct_s * 1e3,
            "flops": flops,
            "gflops": flops / numpy_s / 1e9, "gflops_numba": flops / numba_s / 1e9, "products": rows}


def one_fit(wl, X, y, weights, threads, epochs: int):
    """symnn_1fit: the warm-up epoch as `fit(epochs=1)`, then all timed epochs in ONE `fit` call.

    Returns ([first epoch seconds, mean seconds per timed epoch], [loss of epoch 0, of the last], weights).
    The timed epochs' row orders are drawn by fit from default_rng(EPOCH_SEED + 1), so from epoch 2
    on they differ from the other peers' (same distribution, different draws).
    """
    run_epoch, final = peer_symnn(wl, X, y, weights, threads)
    t = time.perf_counter()
    first_loss = run_epoch(0)
    first = time.perf_counter() - t
    t = time.perf_counter()
    h = run_epoch.model.fit(X, y, optimizer=run_epoch.optimizer, epochs=epochs, batch_size=wl.batch,
                            shuffle=True, seed=workloads.EPOCH_SEED + 1, verbose=False, fused=True)
    per_epoch = (time.perf_counter() - t) / epochs
    return [first, per_epoch], [first_loss, h["loss"][-1]], final


PEER_FUNCTIONS = {"symnn": peer_symnn, "torch": peer_torch, "jax_step": peer_jax_step,
                  "jax_scan": peer_jax_scan, "sklearn": peer_sklearn}


def versions(peer: str) -> dict:
    import numpy as np

    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    names = {"symnn": ["symnn", "numba", "scipy"], "torch": ["torch"], "jax_step": ["jax", "jaxlib"],
             "jax_scan": ["jax", "jaxlib"], "sklearn": ["sklearn", "scipy"], "gemm": ["numba", "scipy"],
             "symnn_1fit": ["symnn", "numba", "scipy"]}[peer]
    for name in names:
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = getattr(mod, "__version__", "?")
    if "torch" in sys.modules:  # torch's BLAS is linked in: threadpoolctl does not see it
        import re

        torch = sys.modules["torch"]
        config = torch.__config__.show()
        found = re.search(r"BLAS_INFO=(\w+)", config)
        cpu = re.search(r"CPU capability usage: (\w+)", config)
        out["torch_blas"] = f"{found.group(1) if found else '?'} ({cpu.group(1) if cpu else '?'}), " \
                            f"{torch.get_num_threads()} threads"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("peer", choices=PEERS)
    ap.add_argument("workload", choices=WORKLOAD_KEYS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10, help="timed epochs, after one warm-up epoch")
    args = ap.parse_args(argv)
    for name, value in thread_env(args.threads).items():
        os.environ.setdefault(name, value)
    global workloads
    workloads = load_workloads()

    import numpy as np

    wl = workloads.WORKLOADS[args.workload]
    X, y = workloads.data(wl.key)
    out = {"peer": args.peer, "workload": wl.key, "threads": args.threads,
           "affinity": sorted(os.sched_getaffinity(0)),
           "env": {k: os.environ.get(k) for k in (*THREAD_VARS, "XLA_FLAGS", "OPENBLAS_CORETYPE",
                                                  "OPENBLAS_L2_SIZE")}}
    if args.peer == "gemm":
        import numba  # noqa: F401
        import scipy  # noqa: F401

        out["blas"] = limit_blas(args.threads)
        out |= gemm_floor(wl, X.shape[0], args.threads)
    else:
        weights = [(W.copy(), b.copy()) for W, b in workloads.initial_weights(wl.key)]
        limit_blas(args.threads)
        times, losses = [], []
        try:  # report failures, do not hide them: e.g. symnn refusing fused=True says why
            if args.peer == "symnn_1fit":
                times, losses, final = one_fit(wl, X, y, weights, args.threads, args.epochs)
            else:
                run_epoch, final = PEER_FUNCTIONS[args.peer](wl, X, y, weights, args.threads)
                limit_blas(args.threads)  # again: the peer may have loaded its own pools (torch's OpenMP)
                for e in range(args.epochs + 1):
                    t = time.perf_counter()
                    loss = run_epoch(e)
                    times.append(time.perf_counter() - t)
                    losses.append(loss)
        except Exception as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
            print(json.dumps(out))
            return 1
        out["blas"] = limit_blas(args.threads)  # after training: every library the run loaded
        eval_loss, eval_acc = workloads.evaluate(wl.key, final(), X, y)
        out |= {"first_ms": times[0] * 1e3, "epoch_ms": [t * 1e3 for t in times[1:]],
                "median_ms": float(np.median(times[1:])) * 1e3, "epochs": args.epochs,
                "train_loss_last_epoch": losses[-1], "final_loss": eval_loss, "final_accuracy": eval_acc}
    out["versions"] = versions(args.peer)
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
