"""Which pruning configuration should ``target_sparsity`` alone give? A grid over the schedules.

Question: with everything else at its default, which pruning schedule, L1
strength and fine-tuning budget gives the best test accuracy at a target
sparsity? Measured on digits (64, 64) (80/20 split, X/16) or, with
``--data``, on the MNIST test-set split (784-300-100, 784-64-64; optionally a
training subset for a quick search). Decision and figures:
docs/design/mlp-pruning-defaults.md.

    python bench/mlp_defaults_search.py [--data /work/shared/data/mnist] [--hidden 300,100]
        [--subset 4000] [--seeds 0,1,2] [--sparsity 0.9] [--schedules oneshot,gradual]
        [--l1 0,1e-4] [--budgets 10:1:10,10:3:30] [--scopes global,layer] [--no-grid]
        [--no-reference] [--variants erk,restart-finetune]

``--variants`` adds, for each grid row, the row again with a prototype
patched into the training loop for the measurement (not library options):
``erk`` (per-layer densities of Evci et al.'s Erdos-Renyi-kernel rule,
``erk0.5`` its square root), ``restart-finetune`` (Adam's moments zeroed
before fine-tuning), ``restart-events`` (and before each pruning stretch);
a ``-t`` suffix also resets Adam's step count.

Prints a markdown table (test accuracy: mean and per seed, achieved sparsity,
epochs, fit time; means over the seeds) sorted by accuracy, the dense reference first. Not run by
``run_all.py`` (its name does not start with ``bench_``).
"""
import argparse
import itertools
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def configs(schedules, l1s, budgets, scopes):
    """(label, parameters) pairs over the grid; one one-shot row per fine-tuning budget."""
    out, seen = [], set()
    for sched, l1, (steps, interval, ft), scope in itertools.product(schedules, l1s, budgets,
                                                                     scopes):
        if sched == "oneshot":
            steps, interval = 10, 1  # unused by one shot
        label = (f"{sched} l1={l1:g} steps={steps} interval={interval} finetune={ft}"
                 + ("" if scope == "global" else f" scope={scope}"))
        if label not in seen:
            seen.add(label)
            out.append((label, dict(pruning_schedule=sched, l1=l1, pruning_steps=steps,
                                    pruning_interval=interval, finetune_epochs=ft,
                                    pruning_scope=scope)))
    return out


def erk_keep(shapes, sparsity, power=1.0):
    """Weights kept per layer by the Erdos-Renyi-kernel rule, ``round(sparsity * n)`` pruned.

    Density of a layer proportional to ``((n_in + n_out) / (n_in * n_out)) **
    power`` (Evci et al., 2020, "Rigging the lottery"), layers over density 1
    kept dense and the rest rescaled; largest remainders make the total exact.
    """
    sizes = np.array([a * b for a, b in shapes], float)
    total = sizes.sum() - np.floor(sparsity * sizes.sum() + 0.5)
    raw = np.array([((a + b) / (a * b)) ** power for a, b in shapes])
    dense = np.zeros(len(shapes), bool)
    while True:
        eps = (total - sizes[dense].sum()) / (raw[~dense] * sizes[~dense]).sum()
        d = np.where(dense, 1.0, eps * raw)
        if (d[~dense] <= 1).all():
            break
        dense |= d > 1
    k = d * sizes
    kf = np.floor(k)
    kf[np.argsort(-(k - kf), kind="stable")[:int(total - kf.sum())]] += 1
    return kf.astype(int)


def patch_variant(variant):
    """Patch ``variant``'s prototype into fastprox's training loop; returns the undo."""
    from fastprox.neural_network import _masks, _pruning, _training

    undo = []
    if variant.startswith("erk"):
        power = float(variant[3:] or 1.0)
        masks = _pruning.magnitude_masks

        def erk_masks(weights, sparsity=None, threshold=None, scope="global"):
            if sparsity is None:
                return masks(weights, threshold=threshold)
            keep = erk_keep([np.shape(w) for w in weights], sparsity, power)
            return [_masks._smallest(np.abs(np.asarray(w, float)).ravel(),
                                     int(np.size(w) - k)).reshape(np.shape(w))
                    for w, k in zip(weights, keep)]
        _pruning.magnitude_masks = erk_masks
        undo.append(lambda: setattr(_pruning, "magnitude_masks", masks))
    elif variant.startswith("restart-"):
        phases = ("finetune",) if variant.startswith("restart-finetune") else \
            ("prune", "finetune")
        reset_t = variant.endswith("-t")
        train = _training.Trainer._train

        def restarted(self, phase, count):
            if phase in phases:
                self.opt.reset()
                if reset_t:
                    self.opt.t = 0
            return train(self, phase, count)
        _training.Trainer._train = restarted
        undo.append(lambda: setattr(_training.Trainer, "_train", train))
    elif variant:
        raise ValueError(f"unknown variant {variant!r}")
    return lambda: [u() for u in undo]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="directory with the MNIST IDX .gz files (default: digits)")
    p.add_argument("--hidden", default=None, help="e.g. 300,100 (default 64,64 / 300,100)")
    p.add_argument("--subset", type=int, default=None, help="training samples kept (MNIST)")
    p.add_argument("--seeds", default="0")
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--schedules", default="oneshot,iterative,gradual")
    p.add_argument("--l1", default="0,1e-5,1e-4", help="l1 values of the grid")
    p.add_argument("--budgets", default="10:1:10,10:2:20,10:3:30",
                   help="pruning_steps:pruning_interval:finetune_epochs triples")
    p.add_argument("--scopes", default="global")
    p.add_argument("--no-grid", action="store_true", help="the dense and defaults rows only")
    p.add_argument("--no-reference", action="store_true",
                   help="the grid rows only (no dense and defaults rows)")
    p.add_argument("--variants", default="",
                   help="prototypes measured on each grid row (see the module docstring)")
    p.add_argument("--max-iter", type=int, default=None,
                   help="max_iter of every fit (default: the estimator's)")
    args = p.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from fastprox.neural_network import MLPClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    if args.data:
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_mlp import load_mnist

        X, y = load_mnist(args.data)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
        hidden = (300, 100)
        if args.subset:
            Xtr, ytr = Xtr[:args.subset], ytr[:args.subset]
    else:
        X, y = load_digits(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.2, random_state=0)
        hidden = (64, 64)
    if args.hidden:
        hidden = tuple(int(h) for h in args.hidden.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    extra = {} if args.max_iter is None else {"max_iter": args.max_iter}
    runs = [] if args.no_reference else [("dense (no pruning)", None),
                                         ("target_sparsity alone (defaults)", {})]
    if not args.no_grid:
        budgets = [tuple(int(v) for v in b.split(":")) for b in args.budgets.split(",")]
        grid = configs(args.schedules.split(","), [float(v) for v in args.l1.split(",")],
                       budgets, args.scopes.split(","))
        runs += grid
        for variant in filter(None, args.variants.split(",")):
            runs += [(f"{label} [{variant}]", dict(kw, _variant=variant)) for label, kw in grid]
    print(f"# {'mnist' if args.data else 'digits'} {hidden}, {len(ytr)} train / {len(yte)} "
          f"test, target_sparsity={args.sparsity}, seeds {seeds}", flush=True)
    rows = []
    for label, kw in runs:
        accs, sps, eps, secs = [], [], [], []
        kw = None if kw is None else dict(kw)
        undo = patch_variant(kw.pop("_variant", "") if kw else "")
        for seed in seeds:
            params = dict(hidden_layer_sizes=hidden, random_state=seed, **extra)
            if kw is not None:
                params.update(kw, target_sparsity=args.sparsity)
            t0 = time.perf_counter()
            m = MLPClassifier(**params).fit(Xtr, ytr)
            secs.append(time.perf_counter() - t0)
            accs.append(m.score(Xte, yte))
            sps.append(m.sparsity_)
            eps.append(m.n_iter_)
        undo()
        rows.append((label, np.mean(accs), " ".join(f"{a:.4f}" for a in accs), np.mean(sps),
                     np.mean(eps), np.mean(secs)))
        print(f"  {label}: {np.mean(accs):.4f}", file=sys.stderr, flush=True)
    print("| configuration | acc (mean) | acc per seed | sparsity | epochs | fit s |")
    print("|---|---|---|---|---|---|")
    n_ref = 0 if args.no_reference else 2
    for r in rows[:n_ref] + sorted(rows[n_ref:], key=lambda r: -r[1]):
        print(f"| {r[0]} | {r[1]:.4f} | {r[2]} | {r[3]:.4f} | {r[4]:.0f} | {r[5]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
