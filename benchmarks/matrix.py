"""The workload matrix (issue 12, Targets): symnn's fit against JAX's best, one factor varied at a time.

    python benchmarks/matrix.py                          # every row x 3 batch sizes x 2 dtypes (~9 min on the 2-core EPYC, Zen 4)
    python benchmarks/matrix.py --rows activations --quick
    python benchmarks/matrix.py --rows base,huber,nadam --batches 32 --dtypes float64 --epochs 10
    python benchmarks/matrix.py --json out.json          # the table, and every epoch time as JSON
    python benchmarks/matrix.py --report out.json        # reprint a saved run's table
    python benchmarks/matrix.py --kernels all --dtypes float32   # the activation kernels alone (why)

The base workload is W1's shape with a smooth activation and a regression loss: 4096 rows of
`symnn.datasets.load("moons", n_samples=4096, seed=0)`, MLP 2-16-16-1, tanh, mse, Adam lr 0.01,
batch 32, float32. Each row changes ONE factor of it (`ROWS`): every activation (symnn's built-in
ones, symnn.generated.ACTIVATIONS, and the formulas of `FORMULAS`), every loss (LOSSES, and hinge with
C outputs = multi_margin) and every optimizer and variant. Each row then runs at every batch size of
`BATCHES` and in float32 and float64: one cell each.

A cell trains the same model from the same starting weights (torch.nn.Linear's init, drawn by NumPy)
on the same rows in the same order (epoch e: `workloads.permutation(e, n)`, which is what symnn's
`fit(epochs=1, seed=1000 + e)` draws) with three peers in this one process:
- `symnn`: `model.fit(X, y, optimizer, epochs=1, batch_size, seed=1000 + e)` once per epoch, as
  paired.py and peer.py time it; `fused` is left to fit (None), and the table says whether the fused
  loop ran (`model._fused_session is not None`) or fit fell back to its per-layer path (and why, if it
  warned);
- `jax_step`: one `jax.jit`ted training step per batch (the rows gathered inside the step);
- `jax_scan`: one `jax.jit` per epoch, a `lax.scan` over its batches.
Every activation, loss and optimizer of the JAX peers is written here in jax.numpy with torch's
semantics (the optimizers' update rules as torch.optim's single-tensor code, their defaults read from
symnn's generated facts, which are torch's; no optax). A formula row's JAX peer computes the same
formula, as written. Rows whose formula has a built-in twin (`x/(1 + exp(-x))` is silu) also time
symnn with that built-in, interleaved too: `formula/builtin` is its per-pair time ratio (target <= 1.15).

After one warm-up epoch each (compilation), the peers' epochs are interleaved (A B C, C B A, ...):
every symnn epoch has a JAX epoch next to it in time, so the per-pair ratio (JAX time / symnn time,
> 1: symnn is faster) cancels the drift of this shared machine's core speed. Reported per cell: the
median ms/epoch of each peer, JAX's best style (the lower median of step and scan) and the median of
the per-pair ratios against it, and `Δloss`: the relative difference of the last epoch's mean loss,
symnn against jax_scan (the peers compute the same training, so it is ~1e-6 in float32 and ~1e-12
in float64 unless a peer computes something else).

Threads: the process is pinned to cores 0..N-1 (one per thread, `--threads N`), every thread pool
capped at N (peer.thread_env, set before NumPy, numba and JAX are imported), and OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE unset, as run.py does. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peer as peer_module  # noqa: E402  (benchmarks/peer.py: thread caps, BLAS limits)

ROWS_N = 4096
BATCHES = (32, 256, 4096)  # many small steps; the middle; the whole set as one batch (full-batch GD)
DTYPES = ("float32", "float64")
HIDDEN = (16, 16)
CLASSES = 3  # outputs of the multi-class rows (cross_entropy, hinge with C outputs)
RATIO_TARGET = 1.0  # each cell: symnn at least JAX's best
MEDIAN_TARGET = 1.5  # the median cell
FORMULA_TARGET = 1.15  # a formula activation against its built-in twin

#: Formula activations: the text symnn parses -> (the built-in with the same formula or None, a key).
FORMULAS = {"x/(1 + exp(-x))": ("silu", "silu_expr"), "x*tanh(x)": (None, "xtanh_expr")}

#: Optimizer rows: key -> (symnn class name, keywords). lr chosen per optimizer for a sane training.
OPTIMIZERS = {
    "sgd": ("SGD", {"lr": 0.05}),
    "sgd_momentum": ("SGD", {"lr": 0.02, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {"lr": 0.05}),
    "rmsprop": ("RMSprop", {"lr": 0.002}),
    "rmsprop_centered": ("RMSprop", {"lr": 0.002, "centered": True}),
    "rmsprop_momentum": ("RMSprop", {"lr": 0.001, "momentum": 0.9}),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_amsgrad": ("Adam", {"lr": 0.01, "amsgrad": True}),
    "adamw": ("AdamW", {"lr": 0.01}),
    "nadam": ("NAdam", {"lr": 0.01}),
}


@dataclass(frozen=True)
class Row:
    """One configuration: the base workload with one factor changed."""

    key: str
    group: str  # base, activations, losses, optimizers
    activation: str = "tanh"
    loss: str = "mse"
    outputs: int = 1
    optimizer: str = "adam"  # a key of OPTIMIZERS
    aliases: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        if self.group == "base":
            return f"base: {self.activation}, {self.loss}, {self.optimizer}"
        if self.group == "activations":
            return f"activation {self.activation}"
        if self.group == "losses":
            return f"loss {self.loss}" + (f" ({self.outputs} outputs)" if self.outputs > 1 else "")
        return f"optimizer {self.optimizer}"

    @property
    def builtin_twin(self) -> str | None:
        return FORMULAS[self.activation][0] if self.activation in FORMULAS else None


def matrix_rows(base_activation: str = "tanh") -> list[Row]:
    """The base row, then one row per activation, loss and optimizer that differs from it."""
    from symnn.generated import ACTIVATIONS, LOSSES

    base = Row("base", "base", activation=base_activation, aliases=(base_activation, "mse", "adam"))
    rows = [base]
    for name in ACTIVATIONS:
        if name != base.activation:
            rows.append(replace(base, key=name, group="activations", activation=name, aliases=()))
    for text, (_, key) in FORMULAS.items():
        rows.append(replace(base, key=key, group="activations", activation=text, aliases=()))
    for name in LOSSES:
        if name == base.loss:
            continue
        outputs = CLASSES if name == "cross_entropy" else 1
        rows.append(replace(base, key=name, group="losses", loss=name, outputs=outputs, aliases=()))
    rows.append(replace(base, key="hinge_c", group="losses", loss="hinge", outputs=CLASSES, aliases=()))
    for key in OPTIMIZERS:
        if key != base.optimizer:
            rows.append(replace(base, key=key, group="optimizers", optimizer=key, aliases=()))
    return rows


def select_rows(rows: list[Row], spec: str | None) -> list[Row]:
    """`--rows`: groups (base, activations, losses, optimizers) and row keys, comma-separated; a group
    includes the base row (it is that group's member for the base's own factor)."""
    if not spec:
        return rows
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    known = {r.key for r in rows} | {a for r in rows for a in r.aliases} | {r.group for r in rows}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"matrix.py: unknown --rows {', '.join(unknown)}; choose from: "
                         f"{', '.join(sorted(known))}")
    return [r for r in rows if r.key in wanted or r.group in wanted or set(r.aliases) & set(wanted)
            or (r.group == "base" and {"activations", "losses", "optimizers"} & set(wanted))]


# --- data, targets, weights -------------------------------------------------------------------------

def make_data(row: Row, dtype: str):
    """(X (n, 2), symnn's targets, JAX's targets) of a row: the moons rows and a target the loss suits.

    Regression losses (mse, mae, huber): 3 sin(2 x0) + x1 (spread over both sides of huber's delta);
    poisson_nll: counts drawn with rate exp(x0 / 2); binary losses: the moons labels; multi-class
    losses: three classes by x0 + 2 x1 in thirds.
    """
    import numpy as np

    from symnn import datasets

    ds = datasets.load("moons", n_samples=ROWS_N, seed=0)
    X = np.ascontiguousarray(ds.X, dtype=dtype)
    x0, x1 = ds.X[:, 0], ds.X[:, 1]
    if row.outputs > 1:  # class indices: cross_entropy, multi_margin
        s = x0 + 2 * x1
        labels = np.digitize(s, np.quantile(s, [1 / 3, 2 / 3])).astype(np.int64)
        return X, labels, labels.astype(np.int32)
    if row.loss in ("binary_cross_entropy", "hinge"):
        t = ds.y.astype(dtype).reshape(-1, 1)
    elif row.loss == "poisson_nll":
        t = np.random.default_rng(5).poisson(np.exp(x0 / 2)).astype(dtype).reshape(-1, 1)
    else:
        t = (3 * np.sin(2 * x0) + x1).astype(dtype).reshape(-1, 1)
    return X, t, t


def sizes_of(row: Row) -> tuple[int, ...]:
    return (2, *HIDDEN, row.outputs)


# --- symnn ----------------------------------------------------------------------------------------

def symnn_peer(row: Row, X, t, weights, batch: int, dtype: str, activation: str | None = None):
    """run_epoch(e) -> last loss; run_epoch.fused() says whether fit ran its fused loop;
    run_epoch.warnings lists what fit warned (a fallback's reason)."""
    import symnn

    act = activation or row.activation
    layers = []
    for i, (W, _) in enumerate(weights):
        layers.append(symnn.Dense(W.shape[1], W.shape[0]))
        if i < len(weights) - 1:
            layers.append(symnn.Activation(act))
    model = symnn.Sequential(layers, loss=row.loss, dtype=dtype)
    dense = [layer for layer in model.layers if isinstance(layer, symnn.Dense)]
    for layer, (W, b) in zip(dense, weights):
        layer.W[...] = W
        layer.b[...] = b
    cls, kw = OPTIMIZERS[row.optimizer]
    opt = getattr(symnn, cls)(**kw)
    caught: list[str] = []

    def run_epoch(e):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            h = model.fit(X, t, optimizer=opt, epochs=1, batch_size=batch, shuffle=True,
                          seed=peer_module.workloads.EPOCH_SEED + e, verbose=False)
        caught.extend(str(w.message) for w in seen if str(w.message) not in caught)
        return float(h["loss"][-1])

    def why_not_fused() -> str | None:
        """fit(fused=True)'s reason for refusing, tried on copies (fit falls back silently otherwise)."""
        import copy

        try:
            copy.deepcopy(model).fit(X[:batch], t[:batch], optimizer=copy.deepcopy(opt), epochs=1,
                                     batch_size=batch, verbose=False, fused=True)
        except symnn.UserInputError as exc:
            return str(exc)
        return None

    run_epoch.fused = lambda: getattr(model, "_fused_session", None) is not None
    run_epoch.why_not_fused = why_not_fused
    run_epoch.warnings = caught
    return run_epoch


# --- JAX: activations, losses and optimizers with torch's semantics ---------------------------------

def jax_activation(name: str):
    import jax
    import jax.numpy as jnp

    def softplus(x):  # torch: log(1 + exp(x)) (its threshold 20 changes nothing at these values)
        return jax.nn.softplus(x)

    table = {
        "identity": lambda x: x,
        "step": lambda x: (x > 0).astype(x.dtype),  # torch.heaviside(x, 0): gradient 0 everywhere
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
        "relu": jax.nn.relu,  # gradient 0 at 0, as torch
        "leaky_relu": lambda x: jnp.where(x > 0, x, 0.01 * x),
        "elu": jax.nn.elu,
        "softplus": softplus,
        "silu": jax.nn.silu,
        "gelu": lambda x: jax.nn.gelu(x, approximate=False),
        "gelu_tanh": lambda x: jax.nn.gelu(x, approximate=True),
        "mish": lambda x: x * jnp.tanh(softplus(x)),
        "selu": jax.nn.selu,
        # the formulas, as written
        "x/(1 + exp(-x))": lambda x: x / (1 + jnp.exp(-x)),
        "x*tanh(x)": lambda x: x * jnp.tanh(x),
    }
    if name not in table:
        raise SystemExit(f"matrix.py: no JAX peer for activation {name!r}: add it to jax_activation")
    return table[name]


def jax_loss(name: str, outputs: int):
    """loss(z (m, k), t) with reduction='mean', as torch.nn.functional computes it."""
    import jax
    import jax.numpy as jnp

    def multi_margin(z, t):  # mean over rows of sum_{j != t} max(0, 1 - z_t + z_j) / C
        zt = jnp.take_along_axis(z, t[:, None], axis=1)
        terms = jnp.maximum(0, 1 - zt + z)
        mask = jax.nn.one_hot(t, z.shape[1], dtype=z.dtype)
        return jnp.mean(jnp.sum(terms * (1 - mask), axis=1) / z.shape[1])

    def huber(z, t, delta=1.0):
        d = z - t
        a = jnp.abs(d)
        return jnp.mean(jnp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta)))

    table = {
        "mse": lambda z, t: jnp.mean((z - t) ** 2),
        "mae": lambda z, t: jnp.mean(jnp.abs(z - t)),
        "huber": huber,
        "cross_entropy": lambda z, t: jnp.mean(jax.nn.logsumexp(z, axis=1)
                                               - jnp.take_along_axis(z, t[:, None], axis=1)[:, 0]),
        "binary_cross_entropy": lambda z, t: jnp.mean(jnp.maximum(z, 0) - z * t + jnp.log1p(jnp.exp(-jnp.abs(z)))),
        "hinge": lambda z, t: jnp.mean(jnp.maximum(0, 1 - (2 * t - 1) * z)),
        "poisson_nll": lambda z, t: jnp.mean(jnp.exp(z) - t * z),
    }
    if name == "hinge" and outputs > 1:
        return multi_margin
    if name not in table:
        raise SystemExit(f"matrix.py: no JAX peer for loss {name!r}: add it to jax_loss")
    return table[name]


def jax_optimizer(key: str, dtype):
    """(init(params) -> state, apply(params, state, grads) -> (params, state)): torch.optim's
    single-tensor update, with symnn's (= torch's) defaults for every keyword the row leaves out."""
    import jax
    import jax.numpy as jnp
    from symnn.generated.optimizers import DEFAULTS

    cls, kw = OPTIMIZERS[key]
    kind = cls.lower()
    o = {**DEFAULTS[kind], **kw}
    lr = o["lr"]
    tmap = jax.tree_util.tree_map
    zeros = lambda params: tmap(jnp.zeros_like, params)  # noqa: E731
    # Per-step scalars in float64, cast to the parameters' dtype where they meet the arrays: torch
    # computes them as Python floats (symnn: float64 per-step tables).
    f64 = jnp.float64
    c = lambda v: jnp.asarray(v, f64)  # noqa: E731
    if o.get("weight_decay") and kind != "adamw":
        raise SystemExit("matrix.py: weight_decay is only written for AdamW here")

    if kind == "sgd":
        mu, nesterov = o["momentum"], o["nesterov"]
        if not mu:
            return (lambda p: ()), (lambda p, s, g: (tmap(lambda p_, g_: p_ - lr * g_, p, g), s))

        def apply(p, buf, g):  # buf = g on the first step: mu * 0 + g from a zero buffer
            buf = tmap(lambda b_, g_: mu * b_ + g_, buf, g)
            d = tmap(lambda g_, b_: g_ + mu * b_, g, buf) if nesterov else buf
            return tmap(lambda p_, d_: p_ - lr * d_, p, d), buf
        return zeros, apply

    if kind == "adagrad":
        eps, decay = o["eps"], o["lr_decay"]

        def init(p):
            return jnp.zeros((), f64), tmap(lambda x: jnp.full_like(x, o["initial_accumulator_value"]), p)

        def apply(p, state, g):
            step, acc = state
            step = step + 1
            clr = (lr / (1 + (step - 1) * decay)).astype(dtype)
            acc = tmap(lambda a_, g_: a_ + g_ * g_, acc, g)
            p = tmap(lambda p_, g_, a_: p_ - clr * g_ / (jnp.sqrt(a_) + eps), p, g, acc)
            return p, (step, acc)
        return init, apply

    if kind == "rmsprop":
        alpha, eps, mom, centered = o["alpha"], o["eps"], o["momentum"], o["centered"]

        def init(p):
            return zeros(p), (zeros(p) if centered else ()), (zeros(p) if mom else ())

        def apply(p, state, g):
            sq, ga, buf = state
            sq = tmap(lambda s_, g_: alpha * s_ + (1 - alpha) * g_ * g_, sq, g)
            if centered:
                ga = tmap(lambda a_, g_: a_ + (1 - alpha) * (g_ - a_), ga, g)  # lerp
                avg = tmap(lambda s_, a_: jnp.sqrt(s_ - a_ * a_) + eps, sq, ga)
            else:
                avg = tmap(lambda s_: jnp.sqrt(s_) + eps, sq)
            if mom:
                buf = tmap(lambda b_, g_, a_: mom * b_ + g_ / a_, buf, g, avg)
                p = tmap(lambda p_, b_: p_ - lr * b_, p, buf)
            else:
                p = tmap(lambda p_, g_, a_: p_ - lr * g_ / a_, p, g, avg)
            return p, (sq, ga, buf)
        return init, apply

    b1, b2 = o["betas"]
    eps = o["eps"]
    if kind in ("adam", "adamw"):
        amsgrad, wd = o["amsgrad"], (o["weight_decay"] if kind == "adamw" else 0.0)

        def init(p):
            return jnp.zeros((), f64), zeros(p), zeros(p), (zeros(p) if amsgrad else ())

        def apply(p, state, g):
            step, m, v, vmax = state
            step = step + 1
            if wd:
                p = tmap(lambda p_: p_ * (1 - lr * wd), p)
            m = tmap(lambda m_, g_: m_ + (1 - b1) * (g_ - m_), m, g)  # lerp
            v = tmap(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
            step_size = (lr / (1 - c(b1) ** step)).astype(dtype)
            bc2 = jnp.sqrt(1 - c(b2) ** step).astype(dtype)
            if amsgrad:
                vmax = tmap(jnp.maximum, vmax, v)
            den = vmax if amsgrad else v
            p = tmap(lambda p_, m_, d_: p_ - step_size * m_ / (jnp.sqrt(d_) / bc2 + eps), p, m, den)
            return p, (step, m, v, vmax)
        return init, apply

    if kind == "nadam":
        md = o["momentum_decay"]
        if o["decoupled_weight_decay"]:
            raise SystemExit("matrix.py: NAdam's decoupled weight decay is not written here")

        f32 = jnp.float32

        def init(p):  # torch keeps mu_product in a float32 tensor (its default dtype) for every dtype
            return jnp.zeros((), f64), jnp.ones((), f32), zeros(p), zeros(p)

        def apply(p, state, g):
            step, mu_prod, m, v = state
            step = step + 1
            bc2 = (1 - c(b2) ** step).astype(dtype)
            mu = b1 * (1 - 0.5 * c(0.96) ** (step * md))
            mu_next = b1 * (1 - 0.5 * c(0.96) ** ((step + 1) * md))
            mu_prod = mu_prod * mu.astype(f32)
            m = tmap(lambda m_, g_: m_ + (1 - b1) * (g_ - m_), m, g)
            v = tmap(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
            den = tmap(lambda v_: jnp.sqrt(v_ / bc2) + eps, v)
            a1 = (-lr * (1 - mu) / (1 - mu_prod.astype(f64))).astype(dtype)
            a2 = (-lr * mu_next / (1 - mu_prod.astype(f64) * mu_next)).astype(dtype)
            p = tmap(lambda p_, g_, m_, d_: p_ + a1 * g_ / d_ + a2 * m_ / d_, p, g, m, den)
            return p, (step, mu_prod, m, v)
        return init, apply
    raise SystemExit(f"matrix.py: no JAX peer for optimizer {cls}: add it to jax_optimizer")


def jax_update(row: Row, dtype):
    """(init(params), update(params, state, x, t) -> (params, state, loss)) of a row."""
    import jax

    act = jax_activation(row.activation)
    loss = jax_loss(row.loss, row.outputs)

    def forward(params, x):
        last = len(params) - 2
        for i in range(0, len(params), 2):
            x = x @ params[i].T + params[i + 1]
            if i < last:
                x = act(x)
        return x

    grad_fn = jax.value_and_grad(lambda params, x, t: loss(forward(params, x), t))
    init, apply = jax_optimizer(row.optimizer, dtype)

    def update(params, state, x, t):
        value, g = grad_fn(params, x, t)
        params, state = apply(params, state, g)
        return params, state, value

    return init, update


def jax_peers(row: Row, X, t, weights, batch: int, dtype: str) -> dict:
    """{"jax_step": run_epoch, "jax_scan": run_epoch}, each with its own copy of the weights."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    init, update = jax_update(row, jnp.dtype(dtype))
    Xd, Td = jnp.asarray(X), jnp.asarray(t)
    n = X.shape[0]
    full, rest = divmod(n, batch)

    @jax.jit
    def step(params, state, X, T, idx):
        return update(params, state, X[idx], T[idx])

    @jax.jit
    def epoch(params, state, X, T, perm):
        def body(carry, idx):
            p, s, loss = update(carry[0], carry[1], X[idx], T[idx])
            return (p, s), loss

        (params, state), losses = jax.lax.scan(body, (params, state), perm[:full * batch].reshape(full, batch))
        total = jnp.sum(losses) * batch
        if rest:
            idx = perm[full * batch:]
            params, state, loss = update(params, state, X[idx], T[idx])
            total = total + loss * rest
        return params, state, total / n

    def fresh():
        params = [jnp.asarray(a) for W, b in weights for a in (W, b)]
        return {"params": params, "state": init(params)}

    box_step, box_scan = fresh(), fresh()

    def run_step(e):
        perm = peer_module.workloads.permutation(e, n).astype(np.int32)
        p, s, losses = box_step["params"], box_step["state"], []
        for lo in range(0, n, batch):
            idx = perm[lo:lo + batch]
            p, s, loss = step(p, s, Xd, Td, idx)
            losses.append(loss * idx.shape[0])
        jax.block_until_ready((p, s))
        box_step["params"], box_step["state"] = p, s
        return float(sum(float(v) for v in losses) / n)

    def run_scan(e):
        perm = jnp.asarray(peer_module.workloads.permutation(e, n).astype(np.int32))
        p, s, loss = epoch(box_scan["params"], box_scan["state"], Xd, Td, perm)
        jax.block_until_ready((p, s, loss))
        box_scan["params"], box_scan["state"] = p, s
        return float(loss)

    return {"jax_step": run_step, "jax_scan": run_scan}


# --- one cell -------------------------------------------------------------------------------------

def run_cell(row: Row, batch: int, dtype: str, epochs: int) -> dict:
    """Every peer of one cell, warmed up, then `epochs` interleaved epochs; the cell's summary."""
    import numpy as np

    X, t_symnn, t_jax = make_data(row, dtype)
    weights = [(W.astype(dtype), b.astype(dtype))
               for W, b in peer_module.workloads.linear_init(sizes_of(row), peer_module.workloads.WEIGHT_SEED)]
    runs = {"symnn": symnn_peer(row, X, t_symnn, weights, batch, dtype)}
    runs |= jax_peers(row, X, t_jax, weights, batch, dtype)
    if row.builtin_twin:
        runs["symnn_builtin"] = symnn_peer(row, X, t_symnn, weights, batch, dtype, activation=row.builtin_twin)
    first, last = {}, {}
    for name, run in runs.items():
        start = time.perf_counter()
        last[name] = run(0)
        first[name] = time.perf_counter() - start
    peer_module.limit_blas(THREADS)  # pools JAX loaded itself
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for e in range(1, epochs + 1):
        for name in names if e % 2 else names[::-1]:
            start = time.perf_counter()
            last[name] = runs[name](e)
            times[name].append(time.perf_counter() - start)
    med = {name: float(np.median(v)) for name, v in times.items()}
    best = min(("jax_step", "jax_scan"), key=lambda k: med[k])
    ratios = np.array(times[best]) / np.array(times["symnn"])
    q1, ratio, q3 = (float(v) for v in np.percentile(ratios, [25, 50, 75]))
    out = {"row": row.key, "group": row.group, "describe": row.describe(), "activation": row.activation,
           "loss": row.loss, "outputs": row.outputs, "optimizer": row.optimizer, "batch": batch, "dtype": dtype,
           "epochs": epochs, "fused": runs["symnn"].fused(), "symnn_warnings": runs["symnn"].warnings,
           "why_not_fused": None if runs["symnn"].fused() else runs["symnn"].why_not_fused(),
           "ms": {k: v * 1e3 for k, v in med.items()}, "first_ms": {k: v * 1e3 for k, v in first.items()},
           "jax_best": best, "ratio": ratio, "ratio_q1": q1, "ratio_q3": q3,
           "last_loss": last, "loss_rel_diff": _rel(last["symnn"], last["jax_scan"]),
           "epoch_ms": {k: [x * 1e3 for x in v] for k, v in times.items()}}
    if row.builtin_twin:
        twin = np.array(times["symnn"]) / np.array(times["symnn_builtin"])
        out |= {"builtin_twin": row.builtin_twin, "builtin_fused": runs["symnn_builtin"].fused(),
                "formula_over_builtin": float(np.median(twin))}
    return out


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300) if math.isfinite(a) and math.isfinite(b) else float("nan")


# --- why: the activation kernels alone -------------------------------------------------------------

def kernel_profile(name: str, dtype: str, n: int, reps: int = 200) -> dict:
    """symnn's activation kernels (forward, then backward) on n elements against JAX's jitted forward
    and vjp of the same function, ns per element (medians of `reps` calls), and what the LLVM IR of
    symnn's kernels calls: libm functions and LLVM math intrinsics, which without a vector math library
    are scalar calls per element (an `llvm.exp.v8f32` too is lowered to eight calls of expf)."""
    import re

    import jax
    import jax.numpy as jnp
    import numba
    import numpy as np

    from symnn.runtime import kernels

    fwd, bwd = kernels.activation(name)
    x = np.random.default_rng(0).standard_normal(n).astype(dtype) * 2
    y, g, gx = np.empty_like(x), np.ones_like(x), np.empty_like(x)
    act = jax_activation(name)
    both = jax.jit(lambda x, g: (lambda y, vjp: (y, vjp(g)[0]))(*jax.vjp(act, x)))
    xj, gj = jnp.asarray(x), jnp.asarray(g)

    def median_ns(fn) -> float:
        fn()
        out = []
        for _ in range(reps):
            start = time.perf_counter_ns()
            fn()
            out.append(time.perf_counter_ns() - start)
        return float(np.median(out)) / n

    t_fwd = median_ns(lambda: fwd(x, y))
    t_bwd = median_ns(lambda: bwd(x, y, g, gx))
    t_jax = median_ns(lambda: jax.block_until_ready(both(xj, gj)))
    calls = {}
    for part, fn, args in (("forward", fwd, (x, y)), ("backward", bwd, (x, y, g, gx))):
        # a fresh, uncached compile of the same source (Numba cannot inspect code loaded from its cache)
        options = {k: v for k, v in fn.targetoptions.items() if k not in ("cache", "nopython")}
        fresh = numba.njit(**options)(fn.py_func)
        fresh(*args)
        ir = "".join(fresh.inspect_llvm().values())
        calls[part] = sorted({c for c in re.findall(r"call [^@\n]*@([\w.]+)\(", ir)
                              if not c.startswith(("NRT_", "Py", "numba_", "_ZN", "llvm.memset", "llvm.x86",
                                                   "llvm.masked", "llvm.fabs"))})
    return {"activation": name, "dtype": dtype, "n": n, "symnn_forward_ns": t_fwd, "symnn_backward_ns": t_bwd,
            "jax_forward_and_vjp_ns": t_jax, "ratio": t_jax / (t_fwd + t_bwd), "calls": calls}


# --- the table ------------------------------------------------------------------------------------

def table(cells: list[dict], meta: dict) -> str:
    """The markdown table, one line per cell, then the summary lines."""
    lines = [f"base activation {meta.get('base_activation', 'tanh')} | threads {meta['threads']} | "
             f"epochs per cell {meta['epochs']} (after one warm-up) | "
             f"symnn at {meta['symnn_commit']} | {meta['started']} | load before {meta['load_before']} "
             f"after {meta.get('load_after', '?')} | busy cores before {meta['busy_before']:.2f}", "",
             "| row | batch | dtype | fused | symnn ms | jax step ms | jax scan ms | JAX best / symnn "
             "(quartiles) | >= 1.0x | Δloss | formula / built-in |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        ms = c["ms"]
        twin = ""
        if "formula_over_builtin" in c:
            ok = "met" if c["formula_over_builtin"] <= FORMULA_TARGET else "not met"
            twin = f"{c['formula_over_builtin']:.2f}x {c['builtin_twin']} ({ok})"
        lines.append(f"| {c['describe']} | {c['batch']} | {c['dtype']} | {'yes' if c['fused'] else 'no'} "
                     f"| {ms['symnn']:.3g} | {ms['jax_step']:.3g} | {ms['jax_scan']:.3g} "
                     f"| {c['ratio']:.2f}x {c['jax_best'][4:]} ({c['ratio_q1']:.2f}-{c['ratio_q3']:.2f}) "
                     f"| {'met' if c['ratio'] >= RATIO_TARGET else '**not met**'} | {c['loss_rel_diff']:.1e} "
                     f"| {twin} |")
    lines += [""] + summary(cells)
    return "\n".join(lines)


def summary(cells: list[dict]) -> list[str]:
    import numpy as np

    if not cells:
        return ["no cells"]
    ratios = np.array([c["ratio"] for c in cells])
    med = float(np.median(ratios))
    short = [c for c in cells if c["ratio"] < RATIO_TARGET]
    out = [f"- cells: {len(cells)}; at least {RATIO_TARGET:.1f}x JAX's best: {len(cells) - len(short)}, "
           f"short: {len(short)}; fused: {sum(c['fused'] for c in cells)} of {len(cells)}",
           f"- median cell: {med:.2f}x (target {MEDIAN_TARGET:.1f}x: {'met' if med >= MEDIAN_TARGET else 'not met'});"
           f" min {ratios.min():.2f}x, max {ratios.max():.2f}x"]
    by_row: dict[str, list[float]] = {}
    for c in cells:
        by_row.setdefault(c["describe"], []).append(c["ratio"])
    rows = sorted(by_row.items(), key=lambda kv: float(np.median(kv[1])))
    out.append("- per row, the median of its cells and how many of them are at least 1.0x (worst first): "
               + "; ".join(f"{k} {float(np.median(v)):.2f}x ({sum(r >= RATIO_TARGET for r in v)}/{len(v)})"
                           for k, v in rows))
    met = [k for k, v in rows if min(v) >= RATIO_TARGET]
    out.append(f"- rows with every cell at least {RATIO_TARGET:.1f}x: {len(met)} of {len(rows)}"
               + (f" ({', '.join(met)})" if met else ""))
    for key in ("batch", "dtype"):
        groups: dict = {}
        for c in cells:
            groups.setdefault(c[key], []).append(c["ratio"])
        out.append(f"- median by {key}: " + ", ".join(f"{k} {float(np.median(v)):.2f}x" for k, v in groups.items()))
    twins = [c for c in cells if "formula_over_builtin" in c]
    if twins:
        out.append(f"- formula / built-in twin (target <= {FORMULA_TARGET}x): "
                   + ", ".join(f"{c['batch']} {c['dtype']} {c['formula_over_builtin']:.2f}x" for c in twins))
    refused = sorted({c["why_not_fused"] for c in cells if c.get("why_not_fused")})
    if refused:
        out.append("- not fused because (fit(fused=True) says): " + " | ".join(refused))
    notes = sorted({w for c in cells for w in c["symnn_warnings"]})
    if notes:
        out.append("- symnn warned: " + " | ".join(notes))
    return out


def machine_state() -> dict:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE.parent).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "symnn", "generated"], capture_output=True,
                           text=True, cwd=HERE.parent).stdout.strip()
    return {"symnn_commit": commit + (" (modified)" if dirty else ""), "platform": platform.platform(),
            "python": platform.python_version(), "cores": os.cpu_count(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load_before": _load()}


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _busy(seconds: float = 0.5) -> float:
    """How many cores the machine's processes kept busy over a short sample (as run.py measures)."""
    def sample():
        with open("/proc/stat") as f:
            fields = [float(v) for v in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    b0, t0 = sample()
    time.sleep(seconds)
    b1, t1 = sample()
    return (b1 - b0) / max(t1 - t0, 1e-9) * (os.cpu_count() or 1)


THREADS = 1


def main(argv: list[str] | None = None) -> int:
    global THREADS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", help="groups (base, activations, losses, optimizers) and/or row keys, comma-separated")
    ap.add_argument("--batches", help=f"comma-separated batch sizes (default {','.join(map(str, BATCHES))})")
    ap.add_argument("--dtypes", help=f"comma-separated (default {','.join(DTYPES)})")
    ap.add_argument("--epochs", type=int, help="timed epochs per peer and cell, after one warm-up (default 20)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--base-activation", default="tanh",
                    help="the base row's activation (default tanh), which every loss and optimizer row shares")
    ap.add_argument("--quick", action="store_true",
                    help="5 epochs, batch 32 and float32 only (unless --batches/--dtypes/--epochs say otherwise)")
    ap.add_argument("--json", metavar="PATH", help="write every cell (all epoch times) and the machine state here")
    ap.add_argument("--report", metavar="PATH", help="reprint the table of a saved --json run and exit")
    ap.add_argument("--list", action="store_true", help="list the rows and exit")
    ap.add_argument("--kernels", metavar="NAMES",
                    help="instead of the matrix: time symnn's activation kernels alone against JAX's jitted "
                         "forward+vjp on 4096 x 16 elements (comma-separated names/formulas, or 'all')")
    args = ap.parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        print(table(saved["cells"], saved["meta"]))
        return 0
    THREADS = args.threads
    os.sched_setaffinity(0, set(range(args.threads)))  # one core per thread: cores 0..N-1
    for name, value in peer_module.thread_env(args.threads).items():
        os.environ[name] = value
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # run.py's primary condition
        os.environ.pop(name, None)
    peer_module.workloads = peer_module.load_workloads()
    rows = select_rows(matrix_rows(args.base_activation), args.rows)
    if args.list:
        for r in rows:
            print(f"{r.key:18} {r.describe()}")
        return 0
    batches = [int(b) for b in args.batches.split(",")] if args.batches else ([32] if args.quick else list(BATCHES))
    dtypes = args.dtypes.split(",") if args.dtypes else (["float32"] if args.quick else list(DTYPES))
    epochs = args.epochs or (5 if args.quick else 20)

    import jax

    jax.config.update("jax_enable_x64", True)  # float64 cells; every float32 array here is typed float32
    if args.kernels:
        from symnn.generated import ACTIVATIONS

        names = [*ACTIVATIONS, *FORMULAS] if args.kernels == "all" else args.kernels.split(",")
        print("| activation | dtype | symnn forward ns/el | symnn backward ns/el | JAX fwd+vjp ns/el "
              "| JAX / symnn | math calls: forward; backward |\n|---|---|---|---|---|---|---|")
        for dtype in dtypes:
            for name in names:
                k = kernel_profile(name, dtype, ROWS_N * HIDDEN[0])
                print(f"| {name} | {dtype} | {k['symnn_forward_ns']:.2f} | {k['symnn_backward_ns']:.2f} "
                      f"| {k['jax_forward_and_vjp_ns']:.2f} | {k['ratio']:.2f}x "
                      f"| {' '.join(k['calls']['forward']) or '-'}; {' '.join(k['calls']['backward']) or '-'} |",
                      flush=True)
        return 0
    peer_module.limit_blas(args.threads)
    meta = machine_state() | {"threads": args.threads, "epochs": epochs, "busy_before": _busy(),
                              "base_activation": args.base_activation,
                              "rows": [asdict(r) for r in rows], "batches": batches, "dtypes": dtypes,
                              "env": {k: os.environ.get(k) for k in (*peer_module.THREAD_VARS, "XLA_FLAGS",
                                                                     "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
                              "versions": {"jax": jax.__version__, "numpy": __import__("numpy").__version__,
                                           "numba": __import__("numba").__version__}}
    cells = []
    for row in rows:
        for dtype in dtypes:
            for batch in batches:
                start = time.perf_counter()
                cell = run_cell(row, batch, dtype, epochs)
                cells.append(cell)
                jax.clear_caches()
                print(f"{row.key:18} batch {batch:5} {dtype}: symnn {cell['ms']['symnn']:.3g} ms "
                      f"({'fused' if cell['fused'] else 'NOT fused'}), jax step {cell['ms']['jax_step']:.3g}, "
                      f"scan {cell['ms']['jax_scan']:.3g}: {cell['ratio']:.2f}x, Δloss {cell['loss_rel_diff']:.1e}"
                      f" ({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    meta["load_after"] = _load()
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "cells": cells}))
    print(table(cells, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
