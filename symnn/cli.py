"""The `symnn` command: derive, generate, train, sweep, gradcheck, predict, optviz.

Bad input is reported as one line, `symnn: error: ...`, with exit code 2 and no traceback.
SymPy is imported only by the subcommands that derive (derive, generate).
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
import warnings
from pathlib import Path

from symnn.errors import UserInputError


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help that shows every option's default (unless its text already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default == argparse.SUPPRESS \
                or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse with the contract's one-line error and exit code 2."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserInputError(f"{message}; see '{self.prog} --help'")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 0")
    return value


def _nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def _rates(text: str) -> dict[str, float]:
    """`adagrad=0.5,adam=0.05` -> {"adagrad": 0.5, "adam": 0.05}."""
    rates = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{item!r}: write NAME=LR, e.g. adagrad=0.5")
        rates[name.strip()] = _nonneg_float(value.strip())
    return rates


def _layers(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of sizes, e.g. 2,16,16,1") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least two positive sizes, e.g. 2,16,1")
    return sizes


def _optimizer_help() -> str:
    """The optimizer names, each preset with what it stands for (from the generated facts)."""
    from symnn.generated import optimizers

    names = []
    for kind in optimizers.NAMES:
        names.append(f"{kind} ({optimizers.CLASSES[kind]})")
        names += [f"{p} ({text})" for p, (base, _, text) in optimizers.PRESETS.items() if base == kind]
    return ", ".join(names)


def _optimizer_names() -> str:
    from symnn.generated import optimizers

    return ", ".join(n for kind in optimizers.NAMES
                     for n in (kind, *(p for p, (base, _, _) in optimizers.PRESETS.items() if base == kind)))


def _add_train_options(t: argparse.ArgumentParser) -> None:
    """The options of one training, shared by `train` and `sweep`."""
    t.add_argument("--data", default="moons", help="xor, blobs, moons, circles, spiral, digits, iris, "
                   "breast_cancer, wine, or csv:PATH (default: moons)")
    t.add_argument("--noise", type=_nonneg_float, help="generated sets: the noise's standard deviation "
                   "(default: per set; raise it so that activations and optimizers differ)")
    t.add_argument("--n-samples", type=_positive_int, help="generated sets: the number of points (default: per set)")
    t.add_argument("--target", help="with csv:PATH, the target column's name (default: the last)")
    t.add_argument("--layers", type=_layers, help="sizes, e.g. 2,16,16,1 (default: inputs,16,16,outputs)")
    from symnn.runtime.parameters import described  # the generated indexes' parameters and defaults

    acts = "; ".join(f"{n}:{d}" for n, d in described("activations").items())
    t.add_argument("--activation", default="relu", help="a registered activation or a formula in x; "
                   f"parameters as NAME:KEY=VALUE[,KEY=VALUE], defaults {acts} (e.g. leaky_relu:slope=0.2); "
                   "gelu_tanh: GELU's tanh approximation")
    from symnn.generated import losses  # the generated index: every loss symnn generate wrote, its facts

    wide = ", ".join(f"{w} ({n} with one output per class)" for n, w in losses.WIDE.items())
    with_values = "; ".join(f"{n}:{d}" for n, d in described("losses").items())
    t.add_argument("--loss", help=f"{', '.join(losses.NAMES)}, {wide}; mse, mae and huber also fit 0/1 labels "
                   "with one output (default: binary_cross_entropy for 2 classes, cross_entropy for more, mse "
                   f"for regression); parameters as NAME:KEY=VALUE, defaults {with_values} (e.g. huber:delta=2)")
    t.add_argument("--optimizer", default="adam", help=_optimizer_help())
    t.add_argument("--lr", type=_nonneg_float, help="learning rate (default: the optimizer's, 0.01 for adam)")
    t.add_argument("--momentum", type=_nonneg_float, help="momentum of sgd, momentum, nesterov or rmsprop "
                   "(default: 0 for sgd and rmsprop, 0.9 for momentum and nesterov)")
    t.add_argument("--schedule", default="constant", help="learning-rate schedule stepped per epoch: constant, "
                   "step, exponential, cosine")
    t.add_argument("--step-size", type=_positive_int, help="--schedule step: epochs between decays "
                   "(default: a third of the epochs)")
    t.add_argument("--gamma", type=_nonneg_float, help="--schedule step or exponential: the decay factor "
                   "(default: 0.1 for step, 0.95 for exponential)")
    t.add_argument("--eta-min", type=_nonneg_float, default=0.0, help="--schedule cosine: the lowest learning rate")
    t.add_argument("--epochs", type=_positive_int, default=100, help="passes over the training rows")
    t.add_argument("--batch-size", type=_positive_int, default=32, help="rows per gradient step")
    t.add_argument("--init", default="auto", help="weight initialisation: auto (he before relu-like "
                   "activations, else xavier), normal, xavier, xavier_normal, he, he_uniform")
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="the arrays' float type")
    t.add_argument("--seed", type=_nonneg_int, default=0, help="seeds the data, the split, the weights and the shuffle")
    t.add_argument("--test-fraction", type=_nonneg_float, default=0.2, help="share of rows held out for testing")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="symnn", description="Neural-network gradients derived by SymPy, trained with "
                "the Numba kernels generated from them.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    d = sub.add_parser("derive", help="print forward definitions and their derived gradients",
                       description="Print each definition's forward form and its gradients, derived "
                       "by SymPy (no NAME: all of them).")
    d.add_argument("names", nargs="*", metavar="NAME", help="registered names (see --list)")
    d.add_argument("--expr", help="your own activation as a formula in x, e.g. 'x*tanh(softplus(x))'")
    d.add_argument("--loss-expr", help="your own loss as a formula in the output z and target t, e.g. "
                   "'log(cosh(z - t))'")
    d.add_argument("--model", help="a network, e.g. 'dense(2,3) tanh dense(3,1) mse': its chain rule")
    d.add_argument("--format", choices=("pretty", "latex", "text"), default="pretty",
                   help="pretty (Unicode), latex (for KaTeX/MathJax) or text (SymPy syntax)")
    d.add_argument("--list", action="store_true", help="list the registered names and exit")
    d.set_defaults(run=cmd_derive)

    g = sub.add_parser("generate", help="re-derive every kernel and write generated/",
                       description="Re-derive every kernel from its symbolic definition and write the "
                       "Numba modules (deterministic; only changed files are written).")
    g.add_argument("--out", type=Path, help="folder to write (default: the generated/ symnn loads)")
    g.add_argument("--check", action="store_true", help="write nothing; exit 1 naming stale files")
    g.set_defaults(run=cmd_generate)

    t = sub.add_parser("train", help="train a network with the compiled kernels",
                       description="Train a multi-layer network with the generated kernels. With no "
                       "option: a small 2-D classification problem (moons).")
    _add_train_options(t)
    t.add_argument("--loss-expr", help="your own loss as a formula in the output z and target t instead of "
                   "--loss, e.g. 'log(cosh(z - t))': a regression loss, averaged over every element")
    t.add_argument("--save", help="write the trained model to PATH.npz")
    t.add_argument("--plot", help="draw the loss curve (and the decision boundary of 2-D data) to PATH.png")
    t.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    t.set_defaults(run=cmd_train)

    c = sub.add_parser("gradcheck", help="compiled gradients against finite differences",
                       description="Check every compiled gradient (or the named ones) against central "
                       "finite differences in float64; exit 1 on any mismatch.")
    c.add_argument("names", nargs="*", metavar="NAME", help="definitions to check (default: all)")
    c.add_argument("--json", action="store_true", help="print the rows as JSON on stdout")
    c.set_defaults(run=cmd_gradcheck)

    v = sub.add_parser("optviz", help="optimizers racing on a 2-D test surface",
                       description="Run optimizers from one start point on a 2-D test surface whose "
                       "gradient SymPy derives, print where each ends, and draw the race.")
    v.add_argument("--surface", default="beale",
                   help="beale, rosenbrock, saddle, himmelblau, booth, ravine (default: beale)")
    v.add_argument("--optimizers", default="sgd,momentum,nesterov,adagrad,rmsprop,adam",
                   help=f"comma-separated: {_optimizer_names()}")
    v.add_argument("--steps", type=_positive_int, help="steps per optimizer (default: per surface, 100 to 1000)")
    v.add_argument("--lr", type=_nonneg_float, help="the learning rate every optimizer shares (default: per "
                   "surface, the largest at which none of the default optimizers diverges)")
    v.add_argument("--lr-for", type=_rates, default={}, metavar="NAME=LR,...",
                   help="one optimizer's own learning rate, e.g. adagrad=0.5,adam=0.05 (default: none)")
    v.add_argument("--tuned-lr", action="store_true", help="each optimizer at its own tuned rate for the "
                   "surface instead of one shared rate (a showcase, not a fair race)")
    v.add_argument("--out", help="draw the race to PATH.png, or PATH.gif (animated)")
    v.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    v.set_defaults(run=cmd_optviz)

    w = sub.add_parser("sweep", help="many trainings at once: a grid x seeds (x folds), on joblib or Dask",
                       description="Train every combination of the grid's values (x seeds, x folds) on joblib "
                       "processes, a local Dask cluster or a Dask cluster by address; one JSON line per run in "
                       "--out, written as each run ends. Exit 1 if any run failed.")
    _add_train_options(w)
    w.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="a train option and its values, e.g. lr=1e-3,1e-2 or activation=relu,tanh or "
                   "layers=64-32-10,64-128-10 (repeat for more)")
    w.add_argument("--seeds", type=_positive_int, default=1, help="seeds per configuration: --seed, --seed + 1, ...")
    w.add_argument("--cv", type=_positive_int, metavar="K", help="K-fold cross-validation (the held-out fold is "
                   "the test set; folds drawn with --seed)")
    w.add_argument("--out", required=True, metavar="RUNS.jsonl", help="the results file, one JSON line per run")
    w.add_argument("--resume", action="store_true", help="run only the runs --out is missing (and the failed ones)")
    engine = w.add_mutually_exclusive_group()
    engine.add_argument("--jobs", type=int, metavar="N", help="joblib (loky) processes (default: all cores)")
    engine.add_argument("--local-cluster", type=_positive_int, metavar="N",
                        help="a Dask LocalCluster of N workers on 127.0.0.1 (needs symnn[dask])")
    engine.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="a Dask cluster's scheduler (needs symnn[dask])")
    w.add_argument("--metric", help="rank by test_accuracy, train_accuracy, test_loss or loss (default: the first "
                   "the runs have)")
    w.add_argument("--plot", help="draw the metric against each swept parameter and the best loss curves to PATH.png")
    w.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    w.set_defaults(run=cmd_sweep)

    r = sub.add_parser("predict", help="one prediction per line from a saved model",
                       description="Predict with a model saved by 'symnn train --save'.")
    r.add_argument("--model", required=True, help="PATH.npz")
    r.add_argument("--data", required=True, help="csv:PATH with the feature columns")
    r.add_argument("--target", help="the name of a target column in the CSV, ignored")
    r.set_defaults(run=cmd_predict)
    return p


def _version() -> str:
    from symnn import __version__

    return f"symnn {__version__}"


# --- derive --------------------------------------------------------------------------------------
def cmd_derive(args: argparse.Namespace) -> int:
    from symnn.symbolic import registry
    from symnn.symbolic.api import OPTIMIZER_ALIASES, derive, derive_formula, derive_loss_formula

    if args.list:
        for kind, table in registry.DEFINITIONS.items():
            names = [*table, *OPTIMIZER_ALIASES] if kind == "optimizer" else [registry.listed(n) for n in table]
            print(f"{kind + 'es' if kind.endswith('s') else kind + 's':12} {' '.join(names)}")
        return 0
    derivations = []
    if args.model:
        from symnn.symbolic.chain import derive_model

        derivations.append(derive_model(args.model))
    if args.expr is not None:
        derivations.append(derive_formula(args.expr))
    if args.loss_expr is not None:
        derivations.append(derive_loss_formula(args.loss_expr))
    for name in args.names:
        if name not in OPTIMIZER_ALIASES:
            registry.kind_of(name)  # unknown names are bad input
        derivations.append(derive(name))
    if not derivations:
        derivations = [registry.derivation(name) for name in registry.names()]
    print("\n\n".join(d.render(args.format) for d in derivations))
    return 0


# --- generate ------------------------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    from symnn.codegen.writer import default_dir
    from symnn.generate import generate

    out = args.out or default_dir()
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out} is a file; give a folder")
    differing = generate(out, check=args.check)
    if args.check:
        if differing:
            print(f"stale kernels in {out} (run 'symnn generate'): {', '.join(differing)}", file=sys.stderr)
            return 1
        print(f"{out}: every kernel matches its derivation")
        return 0
    print(f"{out}: {len(differing)} file(s) written" + (f": {', '.join(differing)}" if differing else
                                                        " (all up to date)"))
    return 0


# --- train ---------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from symnn.runtime.training import TrainConfig, train

    if args.loss_expr is not None:
        if args.loss is not None:
            raise UserInputError("give --loss or --loss-expr, not both")
        args.loss = args.loss_expr  # a loss formula is a loss name the runtime compiles
    config = TrainConfig(**{k: v for k, v in vars(args).items() if k not in ("command", "run", "json",
                                                                              "plot", "save", "loss_expr")})
    if args.save:
        from symnn.runtime.files import check_model_path

        check_model_path(args.save)
    for path in (args.save, args.plot):
        if path:
            check_writable(path)  # before the training, not after it
    on_start = None if args.json else (lambda text: print(text, flush=True))
    result = train(config, progress=not args.json, on_start=on_start)
    if args.save:
        result.model.save(args.save, extra=result.file_info())
    if args.plot:
        from symnn.plotting import plot_training

        plot_training(args.plot, result)
    if args.json:
        print(_json(result.summary()))
    else:
        print(result.outcome())
        if args.save:
            print(f"saved the model to {args.save}")
        if args.plot:
            print(f"drew {args.plot}")
    return 0


def train_options_parser() -> argparse.ArgumentParser:
    """A parser of the train options alone: `symnn sweep` converts its grid's values with them."""
    p = _Parser(prog="symnn train", add_help=False)
    _add_train_options(p)
    return p


# --- sweep ---------------------------------------------------------------------------------------
def cmd_sweep(args: argparse.Namespace) -> int:
    from symnn.runtime.training import TrainConfig
    from symnn.sweeps.api import sweep
    from symnn.sweeps.plan import parse_grid_option

    parser = train_options_parser()
    grid: dict[str, list] = {}
    for text in args.grid:
        name, values = parse_grid_option(text, parser)
        if name in grid:
            raise UserInputError(f"--grid {name} given twice; list all its values in one --grid")
        grid[name] = values
    base = TrainConfig(**{f: getattr(args, f) for f in TrainConfig.__dataclass_fields__})
    if args.plot:
        from symnn.sweeps.plot import check_path

        check_path(args.plot)  # a bad file name fails before the sweep
    result = sweep(grid, base=base, seeds=args.seeds, cv=args.cv, out=args.out, jobs=args.jobs,
                   scheduler=args.scheduler, local_cluster=args.local_cluster, resume=args.resume,
                   metric=args.metric, progress=not args.json)
    if args.plot:
        result.plot(args.plot)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(result.table())
        print(f"{len(result.records)} runs ({len(result.failed)} failed) in {args.out}, "
              f"{result.seconds:.1f} s on {result.engine}" + (f"; drew {args.plot}" if args.plot else ""))
    for record in result.failed[:5]:
        print(f"symnn: run {record['config']} seed {record['seed']}"
              + (f" fold {record['fold']}" if record["fold"] is not None else "") + f" failed: {record['error']}",
              file=sys.stderr)
    if len(result.failed) > 5:
        print(f"symnn: and {len(result.failed) - 5} more failed runs (their errors are in {args.out})", file=sys.stderr)
    return 0 if result.ok else 1


# --- gradcheck -----------------------------------------------------------------------------------
def cmd_gradcheck(args: argparse.Namespace) -> int:
    from symnn.runtime.gradcheck import check, table

    rows = check(args.names or None)
    if args.json:
        print(_json([r._asdict() for r in rows]))
    else:
        print(table(rows))
    return 0 if all(r.ok for r in rows) else 1


# --- optviz --------------------------------------------------------------------------------------
def cmd_optviz(args: argparse.Namespace) -> int:
    from symnn import optviz

    if args.out:
        optviz.output_path(args.out)  # a bad suffix fails before the race
        check_writable(args.out)
    lrs = optviz.learning_rates(args.surface, args.optimizers, args.lr, lr_for=args.lr_for, tuned=args.tuned_lr)
    race = optviz.run_race(args.surface, args.optimizers, args.steps, args.lr, lr_for=args.lr_for, tuned=args.tuned_lr)
    if args.out:
        optviz.draw(args.out, args.surface, race, lrs)
    rows = optviz.summary(race, args.surface, lrs)
    if args.json:
        steps = len(next(iter(race.values()))) - 1
        print(_json({"surface": args.surface, "steps": steps, "results": [r._asdict() for r in rows]}))
    else:
        print(optviz.table(rows, args.surface))
        if args.out:
            print(f"drew {args.out}")
    return 0


# --- predict -------------------------------------------------------------------------------------
def cmd_predict(args: argparse.Namespace) -> int:
    from symnn.runtime.training import predict_file

    for value in predict_file(args.model, args.data, args.target):
        print(value)
    return 0


def _finite(value: object) -> object:
    """JSON has no NaN or inf: such a number becomes null (json.dumps would write the non-JSON `NaN`)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json(value: object) -> str:
    """One line of valid JSON (non-finite numbers as null)."""
    return json.dumps(_finite(value), allow_nan=False)


def check_writable(path: str) -> None:
    from symnn.atomic import check_writable as check

    check(path)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings on the command line: one line each, `symnn: warning: ...`, no source location."""
    text = str(message)
    text = text[len("symnn: "):] if text.startswith("symnn: ") else text
    print(f"symnn: warning: {text}", file=sys.stderr)


def _output_failed(exc: OSError) -> int:
    """stdout could not be written (a full disk, a closed pipe): say so once, and drop what is buffered so
    that the interpreter's flush at exit does not fail again with a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    if isinstance(exc, BrokenPipeError):
        return 0  # the reader stopped reading (`symnn derive | head`): not an error
    print(f"symnn: error: cannot write the output: {exc.strerror or exc}; write it somewhere with space "
          "(or to a pipe that is read)", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args = parser.parse_args(argv)
            code = args.run(args)
            sys.stdout.flush()
        return code
    except UserInputError as e:
        print(f"symnn: error: {e}", file=sys.stderr)
        return 2
    except MemoryError:
        print("symnn: error: out of memory; use smaller layers, a smaller batch size or less data",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symnn: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # files symnn writes fail as FileWriteError (above): this is stdout
        if getattr(e, "filename", None) is None and e.errno in _OUTPUT_ERRNOS:
            return _output_failed(e)
        raise


#: How writing stdout fails: a full disk or quota, a closed pipe, an I/O error.
_OUTPUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EPIPE, errno.EIO)
