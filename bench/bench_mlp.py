"""Pruned MLP: accuracy vs sparsity, epoch time dense vs sparse phase, forward latency dense vs CSR.

Question: what does pruning a (64, 64) MLP on digits (or LeNet-300-100 /
784-64-64-10 on the MNIST test-set split with ``--data``) cost in accuracy,
and what does storing the pruned layers as CSR buy in training time,
inference time and pickle size, against our own dense-trained network of the
same architecture (the sparsity-0 row) and scikit-learn's dense
MLPClassifier on the same split, seed and batch size?

    python bench/bench_mlp.py [--quick] [--data /work/shared/data/mnist] [--hidden 64,64]

Rows: ``dense`` (our network, no pruning), ``tuned`` (the parameters below:
gradual pruning, L1, a tuned learning rate and budget, one row per sparsity)
and ``defaults``: ``target_sparsity=0.9`` alone, every other parameter at its
default -- what a new user gets (see docs/design/mlp-pruning-defaults.md; JSON
key ``defaults``, same fields as the ``fastprox`` rows).

Two more tables (docs/pruning.md): ``posthoc`` -- the scikit-learn MLP above
imported with ``MLPClassifier.from_sklearn``, ``fastprox.pruning.prune(
sparsity=0.9)`` after the fact, then 5 epochs of fine-tuning (``warm_start``
fit, pattern frozen): accuracy of the dense original, of the pruned copy and
after fine-tuning, and the forward speed-up (``predict_proba`` on the test set,
dense import vs the pruned copy, best of 21, at the default thread count and
on one thread; and the report's batch-256 figure); and
``auto`` -- ``target_sparsity="auto"`` (``max_score_drop=0.005``): the
sparsity it chose, its accuracy and fit time.

Columns: ``dense ep`` / ``sparse ep`` are the median epoch times of the
dense phase and of the fine-tuning phase (pattern frozen, pruned layers in
CSR) of the same fit; ``pickle x`` is ``len(pickle.dumps(model))`` of the
sparsity-0 model (dense-trained, same architecture and parameters) over the
pruned model's (both whole estimators with their fitted attributes:
loss_curve_, epoch_times_, ...; neither carries optimizer state).

Prints a table and writes JSON to bench/results/.
"""
import argparse
import gzip
import json
import os
import pickle
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def load_mnist(path):
    path = Path(path)
    img, lab = path / "t10k-images-idx3-ubyte.gz", path / "t10k-labels-idx1-ubyte.gz"
    if not img.exists() or not lab.exists():
        sys.exit(f"--data: {img} / {lab} not found (see /work/shared/data/README.md)")
    with gzip.open(img, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">i4")
    assert magic == 2051, "not an IDX image file"
    X = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, rows * cols) / 255.0
    with gzip.open(lab, "rb") as f:
        raw = f.read()
    assert np.frombuffer(raw[:8], dtype=">i4")[0] == 2049, "not an IDX label file"
    y = np.frombuffer(raw[8:], dtype=np.uint8).astype(np.int64)
    return X, y


def fit_row(est, sparsity, Xtr, ytr, Xte, yte, model="fastprox"):
    """Fit ``est``; its bench row (accuracy, epoch times, latencies, sizes)."""
    t0 = time.perf_counter()
    m = est.fit(Xtr, ytr)
    fit = time.perf_counter() - t0
    ph = np.array(m.epoch_phases_)
    dense_ep = float(np.median(m.epoch_times_[ph == "dense"]))
    sparse_ep = (float(np.median(m.epoch_times_[ph == "finetune"]))
                 if (ph == "finetune").any() else float("nan"))
    pickle_bytes = len(pickle.dumps(m))
    T = m.sparsity_report(Xte, yte).total
    return {"model": model, "sparsity": sparsity, "achieved_sparsity": m.sparsity_,
            "accuracy": m.score(Xte, yte), "fit_s": fit, "epochs": m.n_iter_,
            "dense_epoch_ms": 1e3 * dense_ep, "sparse_epoch_ms": 1e3 * sparse_ep,
            "storage": m.layer_storage_,
            "fwd_dense_b1_us": 1e6 * T["latency_dense_b1"],
            "fwd_stored_b1_us": 1e6 * T["latency_stored_b1"],
            "fwd_dense_b256_us": 1e6 * T["latency_dense_b256"],
            "fwd_stored_b256_us": 1e6 * T["latency_stored_b256"],
            "memory_ratio": T["memory_ratio"], "flop_ratio": T["flop_ratio"],
            "pickle_bytes": pickle_bytes}


def best_time(f, repeats=21):
    """The fastest of ``repeats`` calls of ``f``, in seconds (the least disturbed by
    other work on a shared machine)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def posthoc_row(sk, Xtr, ytr, Xte, yte, sparsity=0.9, epochs=5):
    """scikit-learn MLP -> ``from_sklearn`` -> ``prune`` -> ``epochs`` of fine-tuning."""
    from fastprox.neural_network import MLPClassifier
    from fastprox.pruning import prune

    dense = MLPClassifier.from_sklearn(sk)
    same = bool((dense.predict(Xte) == sk.predict(Xte)).all())
    t0 = time.perf_counter()
    pruned = prune(dense, sparsity=sparsity)
    prune_s = time.perf_counter() - t0
    acc_pruned = pruned.score(Xte, yte)
    pruned.set_params(warm_start=True, max_iter=epochs)
    t0 = time.perf_counter()
    pruned.fit(Xtr, ytr)
    tune_s = time.perf_counter() - t0
    from threadpoolctl import threadpool_limits

    fwd_dense = best_time(lambda: dense.predict_proba(Xte))
    fwd_pruned = best_time(lambda: pruned.predict_proba(Xte))
    with threadpool_limits(1):  # BLAS and OpenMP: not disturbed by a busy second core
        fwd_dense_1 = best_time(lambda: dense.predict_proba(Xte))
        fwd_pruned_1 = best_time(lambda: pruned.predict_proba(Xte))
    T = pruned.sparsity_report(Xte, yte).total
    return {"model": "sklearn -> from_sklearn -> prune -> finetune", "sparsity": sparsity,
            "achieved_sparsity": pruned.sparsity_, "same_predictions_as_sklearn": same,
            "accuracy_dense": dense.score(Xte, yte), "accuracy_pruned": acc_pruned,
            "accuracy": pruned.score(Xte, yte), "finetune_epochs": epochs,
            "prune_s": prune_s, "finetune_s": tune_s, "storage": pruned.layer_storage_,
            "fwd_dense_test_ms": 1e3 * fwd_dense, "fwd_pruned_test_ms": 1e3 * fwd_pruned,
            "fwd_speedup": fwd_dense / fwd_pruned,
            "fwd_dense_test_1thread_ms": 1e3 * fwd_dense_1,
            "fwd_pruned_test_1thread_ms": 1e3 * fwd_pruned_1,
            "fwd_speedup_1thread": fwd_dense_1 / fwd_pruned_1,
            "fwd_dense_b256_us": 1e6 * T["latency_dense_b256"],
            "fwd_stored_b256_us": 1e6 * T["latency_stored_b256"],
            "memory_ratio": T["memory_ratio"]}


def auto_row(est, Xtr, ytr, Xte, yte):
    """Fit ``est`` (``target_sparsity='auto'``): the sparsity it chose, accuracy, time."""
    t0 = time.perf_counter()
    m = est.fit(Xtr, ytr)
    fit = time.perf_counter() - t0
    table = m.auto_sparsity_table_
    return {"model": "fastprox auto", "max_score_drop": m.max_score_drop,
            "chosen_sparsity": m.sparsity_, "accuracy": m.score(Xte, yte), "fit_s": fit,
            "tried": [float(v) for v in table["sparsity"]],
            "validation_scores": [float(v) for v in table["validation_score"]],
            "storage": m.layer_storage_}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="two sparsities, few epochs")
    p.add_argument("--data", help="directory with the MNIST IDX .gz files (optional)")
    p.add_argument("--no-plots", action="store_true",
                   help="don't draw accuracy / speed-up PNGs next to the JSON")
    p.add_argument("--hidden", default=None,
                   help="hidden layer sizes, e.g. 64,64 (default: 64,64 digits, 300,100 MNIST)")
    p.add_argument("--sparsities", default=None,
                   help="comma-separated target sparsities (0 = the dense-trained reference)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=None,
                   help="mini-batch size for both models (default: 64 digits, 128 MNIST)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLP

    import fastprox
    from fastprox.neural_network import MLPClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    if args.data:
        X, y = load_mnist(args.data)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
        name, hidden = "mnist-t10k", (300, 100)
        ours = dict(learning_rate_init=1e-3, batch_size=128, l1=1e-5, max_iter=20,
                    pruning_steps=5, pruning_interval=2, finetune_epochs=10)
        sk_iter = 40
        auto_budget = dict(max_iter=20, pruning_steps=5, pruning_interval=2, finetune_epochs=10)
    else:
        X, y = load_digits(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.2, random_state=0)
        name, hidden = "digits", (64, 64)
        ours = dict(learning_rate_init=3e-3, batch_size=64, l1=1e-4, max_iter=60,
                    pruning_steps=10, pruning_interval=3, finetune_epochs=30)
        sk_iter = 200
        # the budget of docs/pruning.md's "auto" figures
        auto_budget = dict(max_iter=100, pruning_steps=10, pruning_interval=2,
                           finetune_epochs=20)
    if args.hidden:
        hidden = tuple(int(h) for h in args.hidden.split(","))
    if args.batch_size:
        ours["batch_size"] = args.batch_size
    sk_batch = ours["batch_size"] if args.batch_size else "auto"
    sparsities = [0.0, 0.9] if args.quick else [0.0, 0.5, 0.8, 0.9, 0.95, 0.98]
    if args.sparsities:
        sparsities = sorted({0.0} | {float(v) for v in args.sparsities.split(",")})
    if args.quick:
        ours.update(max_iter=max(ours["max_iter"] // 3, 5), finetune_epochs=10)
        sk_iter = sk_iter // 2

    t0 = time.perf_counter()
    sk = SkMLP(hidden, max_iter=sk_iter, batch_size=sk_batch, random_state=args.seed).fit(Xtr, ytr)
    sk_fit = time.perf_counter() - t0
    sk_row = {"model": "sklearn dense", "sparsity": 0.0, "accuracy": sk.score(Xte, yte),
              "fit_s": sk_fit, "epochs": sk.n_iter_, "epoch_ms": 1e3 * sk_fit / sk.n_iter_}
    # scikit-learn's epoch at *our* batch size (the fit above uses its default,
    # 'auto' = 200, for the accuracy / fit-time reference): the dense-phase
    # epoch must not be slower than this one
    # (as it runs by default, and on one BLAS thread: the budget our small-network
    # training uses, see SERIAL_TRAINING_WORK in neural_network/_training.py)
    from threadpoolctl import threadpool_limits

    n_ep = 3 if args.quick else 10
    for key, limit in (("epoch_ms_same_batch", None), ("epoch_ms_same_batch_1thread", 1)):
        with threadpool_limits(limit):
            t0 = time.perf_counter()
            SkMLP(hidden, max_iter=n_ep, batch_size=ours["batch_size"], random_state=args.seed,
                  tol=0.0, n_iter_no_change=n_ep + 1).fit(Xtr, ytr)
            sk_row[key] = 1e3 * (time.perf_counter() - t0) / n_ep

    rows = []
    for s in sparsities:
        kw = dict(ours, hidden_layer_sizes=hidden, random_state=args.seed,
                  pruning_schedule="gradual", pruning_scope="layer")
        if s > 0:
            kw["target_sparsity"] = s
        rows.append(fit_row(MLPClassifier(**kw), s, Xtr, ytr, Xte, yte))
        print(f"  done sparsity {s}", file=sys.stderr, flush=True)
    # what a user gets from target_sparsity alone (every other parameter at its
    # default; see docs/design/mlp-pruning-defaults.md), next to the tuned row
    defaults = [fit_row(MLPClassifier(hidden, random_state=args.seed, target_sparsity=0.9),
                        0.9, Xtr, ytr, Xte, yte, model="fastprox defaults")]
    print("  done defaults", file=sys.stderr, flush=True)
    posthoc = [posthoc_row(sk, Xtr, ytr, Xte, yte)]
    print("  done posthoc", file=sys.stderr, flush=True)
    auto_kw = (dict(max_iter=10, pruning_steps=2, pruning_interval=1, finetune_epochs=2)
               if args.quick else auto_budget)
    auto = [auto_row(MLPClassifier(hidden, random_state=args.seed, target_sparsity="auto",
                                   batch_size=ours["batch_size"], **auto_kw),
                     Xtr, ytr, Xte, yte)]
    print("  done auto", file=sys.stderr, flush=True)

    machine = {"platform": platform.platform(), "processor": platform.processor(),
               "cpus": os.cpu_count(), "fastprox_threads": fastprox.get_num_threads(),
               "python": platform.python_version(), "load_avg": os.getloadavg()}
    print(f"# pruned MLP {hidden} on {name} ({len(ytr)} train / {len(yte)} test), "
          f"{machine['cpus']} CPUs, load {machine['load_avg'][0]:.1f}")
    print(f"sklearn dense MLP: acc {sk_row['accuracy']:.4f}, fit {sk_fit:.2f} s, "
          f"{sk_row['epochs']} epochs, {sk_row['epoch_ms']:.1f} ms/epoch; "
          f"{sk_row['epoch_ms_same_batch']:.1f} ms/epoch at batch {ours['batch_size']} "
          f"({sk_row['epoch_ms_same_batch_1thread']:.1f} on one BLAS thread)")
    head = ("config", "sparsity", "acc", "fit s", "epochs", "dense ep ms", "sparse ep ms",
            "ep speedup", "fwd256 dense us", "fwd256 CSR us", "fwd speedup", "fwd1 dense us",
            "fwd1 CSR us",
            "mem x", "pickle B", "pickle x", "storage")
    ref_pickle = rows[0]["pickle_bytes"]  # sparsity 0: our dense-trained network
    print(" | ".join(head))
    for r in rows + defaults:
        print(" | ".join([
            "defaults" if r["model"] == "fastprox defaults" else (
                "tuned" if r["sparsity"] > 0 else "dense"),
            f"{r['achieved_sparsity']:.3f}", f"{r['accuracy']:.4f}", f"{r['fit_s']:.2f}",
            str(r["epochs"]), f"{r['dense_epoch_ms']:.1f}", f"{r['sparse_epoch_ms']:.1f}",
            f"{r['dense_epoch_ms'] / r['sparse_epoch_ms']:.2f}x",
            f"{r['fwd_dense_b256_us']:.1f}", f"{r['fwd_stored_b256_us']:.1f}",
            f"{r['fwd_dense_b256_us'] / r['fwd_stored_b256_us']:.2f}x",
            f"{r['fwd_dense_b1_us']:.1f}", f"{r['fwd_stored_b1_us']:.1f}",
            f"{r['memory_ratio']:.1f}", str(r["pickle_bytes"]),
            f"{ref_pickle / r['pickle_bytes']:.2f}", ",".join(r["storage"])]))
    for r in posthoc:
        print(f"sklearn -> from_sklearn (same predictions: {r['same_predictions_as_sklearn']}) "
              f"-> prune({r['sparsity']}) -> {r['finetune_epochs']} epochs: acc dense "
              f"{r['accuracy_dense']:.4f}, pruned {r['accuracy_pruned']:.4f}, fine-tuned "
              f"{r['accuracy']:.4f} (sparsity {r['achieved_sparsity']:.3f}, "
              f"{','.join(r['storage'])}, fine-tuning {r['finetune_s']:.2f} s); forward on "
              f"the test set {r['fwd_dense_test_ms']:.2f} -> {r['fwd_pruned_test_ms']:.2f} ms "
              f"({r['fwd_speedup']:.2f}x; one thread {r['fwd_dense_test_1thread_ms']:.2f} -> "
              f"{r['fwd_pruned_test_1thread_ms']:.2f} ms, {r['fwd_speedup_1thread']:.2f}x), "
              f"batch 256 {r['fwd_dense_b256_us']:.1f} -> "
              f"{r['fwd_stored_b256_us']:.1f} us, memory {r['memory_ratio']:.1f}x smaller")
    for r in auto:
        tried = ", ".join(f"{s_:g}: {v:.4f}" for s_, v in zip(r["tried"],
                                                               r["validation_scores"]))
        print(f"target_sparsity='auto' (max_score_drop {r['max_score_drop']}): chose "
              f"{r['chosen_sparsity']:.3f}, acc {r['accuracy']:.4f}, fit {r['fit_s']:.2f} s "
              f"({','.join(r['storage'])}; validation scores {tried})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "-".join(str(h) for h in hidden)
    fn = out / f"bench_mlp_{name}_{tag}{'_quick' if args.quick else ''}.json"
    fn.write_text(json.dumps({"dataset": name, "hidden": hidden, "params": ours,
                              "sklearn": sk_row, "fastprox": rows, "defaults": defaults,
                              "posthoc": posthoc, "auto": auto, "machine": machine},
                             indent=1, default=float))
    print(f"wrote {fn}")
    if not args.no_plots:
        # the same plots run_all draws, from this run alone (needs matplotlib)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _summary

        doc = {"scripts": {"bench_mlp": {"result": json.loads(fn.read_text())}}}
        drawn, note = _summary.make_plots(doc, str(out))
        for name_ in drawn:
            print(f"plot: {out / name_}")
        if note:
            print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
