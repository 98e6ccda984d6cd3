"""Issue 3's digits target, with peers: test accuracy over several model seeds on the same split.

    python benchmarks/digits_accuracy.py [--splits 0,1] [--seeds 8]

`symnn train --data digits --layers 64,128,10 --loss cross_entropy --optimizer adam --lr 0.001
--epochs 30 --seed S` splits the data with seed S and also seeds the weights and the shuffles with
S. This script holds the split fixed (split seed) and varies the model seed, for symnn (its default
init, and xavier), scikit-learn's MLPClassifier (same settings, alpha 0) and PyTorch (its default
init, same batches of 32, Adam lr 0.001), so the spread from the split can be told from the spread
from the initial weights. Needs scikit-learn; PyTorch is skipped where it is not installed.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import symnn
from symnn import datasets
from symnn.runtime.optimizers import make_optimizer
from symnn.runtime.training import TrainConfig, build_model


def symnn_accuracy(Xtr, ytr, Xte, yte, ds, seed: int, init: str) -> float:
    cfg = TrainConfig(data="digits", layers=[64, 128, 10], loss="cross_entropy", optimizer="adam", lr=0.001,
                      epochs=30, seed=seed, init=init)
    model = build_model(cfg, ds)
    model.fit(Xtr, ytr, optimizer=make_optimizer("adam", 0.001), epochs=30, batch_size=cfg.batch_size,
              shuffle=True, seed=seed, verbose=False)
    return model.accuracy(Xte, yte)


def sklearn_accuracy(Xtr, ytr, Xte, yte, seed: int) -> float:
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge" after 30 iterations, as asked
        clf = MLPClassifier((128,), activation="relu", solver="adam", learning_rate_init=0.001, batch_size=32,
                            max_iter=30, alpha=0.0, random_state=seed, n_iter_no_change=1000, tol=0)
        return clf.fit(Xtr, ytr).score(Xte, yte)


def torch_accuracy(Xtr, ytr, Xte, yte, seed: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).double()
    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    X, Y = torch.tensor(Xtr), torch.tensor(ytr, dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    for _ in range(30):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X[idx]), Y[idx]).backward()
            opt.step()
    with torch.no_grad():
        return float((net(torch.tensor(Xte)).argmax(1).numpy() == yte).mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--splits", default="0,1", help="split seeds (symnn train's --seed)")
    ap.add_argument("--seeds", type=int, default=8, help="model seeds per split: 0..N-1")
    args = ap.parse_args(argv)
    ds = datasets.load("digits", seed=0)
    print(f"symnn {symnn.__version__}: test accuracy %, 20% test split, model seeds 0..{args.seeds - 1}")
    for split in (int(s) for s in args.splits.split(",")):
        Xtr, Xte, ytr, yte = datasets.train_test_split(ds.X, ds.y, 0.2, split)
        Xtr, Xte, *_ = datasets.standardize(Xtr, Xte)
        rows = {
            "symnn (init auto = he)": [symnn_accuracy(Xtr, ytr, Xte, yte, ds, s, "auto") for s in range(args.seeds)],
            "symnn (init xavier)": [symnn_accuracy(Xtr, ytr, Xte, yte, ds, s, "xavier") for s in range(args.seeds)],
            "scikit-learn MLPClassifier": [sklearn_accuracy(Xtr, ytr, Xte, yte, s) for s in range(args.seeds)],
            "PyTorch": [torch_accuracy(Xtr, ytr, Xte, yte, s) for s in range(args.seeds)],
        }
        print(f"split seed {split}:")
        for name, accs in rows.items():
            if None in accs:
                print(f"  {name:28s} skipped (not installed)")
                continue
            a = 100 * np.array(accs)
            print(f"  {name:28s} mean {a.mean():.2f}  min {a.min():.1f}  max {a.max():.1f}  "
                  f"[{' '.join(f'{v:.1f}' for v in a)}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
