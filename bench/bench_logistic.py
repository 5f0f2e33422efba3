"""LogisticRegression with default parameters: fastprox vs scikit-learn, time and objective.

Question: is ``fastprox.linear_model.LogisticRegression()`` at least as fast
as scikit-learn's ``LogisticRegression()`` (L2, ``C=1``, lbfgs, ``tol=1e-4``)
on binary and multinomial problems of several shapes, dense float64 and
float32 and sparse, and does it reach the same objective?

Cases (``--cases`` picks by name): ``make_classification(2000, 200,
n_informative=20)`` with 2 and 3 classes, ``(5000, 50)`` with 5 classes,
``(20000, 500)`` binary; breast_cancer standardised; digits / 16 binary
(0 against the rest) and 10 classes; a sparse CSR 10000 x 5000 (density
0.005, binary, labels from a sparse linear model). Dense cases run once per
``--dtypes``; the sparse one in float64. ``--l1-ratios`` adds elastic-net /
L1 rows (reference: scikit-learn's saga at its default tol, slow).

Each (case, dtype, threads) row times ``--min-repeats`` or more fits of
each library, one of each per round, the order rotating each round so that
neither always follows the other, each from idle BLAS workers (both in one
process, medians). ``obj_rel``
is ``(F_ours - F_ref) / |F_ref|`` for scikit-learn's objective ``C sum_i
loss_i + l1_ratio |W|_1 + (1 - l1_ratio)/2 |W|^2`` in float64; ``agrees``:
``obj_rel <= --obj-tol`` (default 1e-5 for float64 and 1e-3 for float32: scikit-learn
computes float32 scores in float32, so the two libraries' iterates drift apart and
stop at different points of the same gradient tolerance; on digits / 16 with 10
classes its objective came out 2.2e-4 above ours in one run and 3.2e-5 below in
the next).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_logistic.py
    ... --quick                 # tiny problems, seconds
    ... --cases "2000x200" digits --threads 1
"""
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

SCRIPT = "bench_logistic"
QUESTION = ("LogisticRegression with default parameters (L2, C=1, tol=1e-4) fit time vs "
            "scikit-learn's lbfgs, binary and multinomial, dense and sparse; same objective?")


def _mc(n, p, k, informative=20):
    from sklearn.datasets import make_classification

    return lambda: make_classification(n, p, n_informative=min(informative, p),
                                       n_classes=k, random_state=0)


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _digits(binary):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, ((y == 0).astype(int) if binary else y)


def _sparse(n, p, density):
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = sp.random(n, p, density=density, format="csr", random_state=rng,
                  data_rvs=rng.standard_normal)
    w = np.zeros(p)
    support = rng.choice(p, size=max(5, p // 20), replace=False)
    w[support] = rng.standard_normal(support.size)
    y = (X @ w + 0.3 * rng.standard_normal(n) > 0).astype(int)
    return X, y


def cases(quick):
    """``(name, builder, sparse)`` of the run."""
    if quick:
        return [("mc 300x30 c2", _mc(300, 30, 2, 10), False),
                ("mc 300x30 c3", _mc(300, 30, 3, 10), False),
                ("breast_cancer std", _breast_cancer, False),
                ("sparse 1000x500 c2", lambda: _sparse(1000, 500, 0.02), True)]
    return [("mc 2000x200 c2", _mc(2000, 200, 2), False),
            ("mc 2000x200 c3", _mc(2000, 200, 3), False),
            ("breast_cancer std", _breast_cancer, False),
            ("digits/16 c2", lambda: _digits(True), False),
            ("digits/16 c10", lambda: _digits(False), False),
            ("mc 5000x50 c5", _mc(5000, 50, 5), False),
            ("mc 20000x500 c2", _mc(20000, 500, 2), False),
            ("sparse 10000x5000 c2", lambda: _sparse(10000, 5000, 0.005), True)]


def objective(X, y, coef, intercept, C, l1_ratio):
    """scikit-learn's objective, float64."""
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    Z = np.asarray(X @ coef.T, dtype=np.float64) + np.asarray(intercept, dtype=np.float64)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size == 2:
        s = np.where(codes == 1, 1.0, -1.0) * Z[:, 0]
        loss = np.logaddexp(0.0, -s).sum()
    else:
        m = Z.max(axis=1)
        lse = m + np.log(np.exp(Z - m[:, None]).sum(axis=1))
        loss = (lse - Z[np.arange(codes.size), codes]).sum()
    return (C * loss + l1_ratio * np.abs(coef).sum()
            + 0.5 * (1.0 - l1_ratio) * (coef * coef).sum())


def interleaved(fns, rounds, budget):
    """Medians of wall times, one call of each per round, the order rotating each round.

    Each call starts once the BLAS workers left spinning by the previous one are idle
    (``_common.settle_threads``), so that neither library pays for the other's threads.
    """
    settle = getattr(_common, "settle_threads", lambda: None)
    names = list(fns)
    samples = {k: [] for k in names}
    start = time.perf_counter()
    r = 0
    while r < rounds or (time.perf_counter() - start < budget and r < 50):
        for k in names[r % len(names):] + names[:r % len(names)]:
            settle()
            t0 = time.perf_counter()
            fns[k]()
            samples[k].append(time.perf_counter() - t0)
        r += 1
    return {k: {"median": statistics.median(s), "min": min(s), "repeats": len(s)}
            for k, s in samples.items()}


def run_rows(args, timed):
    from sklearn import linear_model as sk

    from fastprox.linear_model import LogisticRegression

    rows = []
    for name, build, sparse in cases(args.quick):
        if args.cases and not any(c in name for c in args.cases):
            continue
        X0, y = build()
        for dtype in (["float64"] if sparse else args.dtypes):
            X = X0.astype(dtype)
            for l1_ratio in args.l1_ratios:
                ref_kw = {} if l1_ratio == 0 else {"solver": "saga", "l1_ratio": l1_ratio}
                fitted = {}

                def fit(key, make):
                    def run():
                        fitted[key] = make().fit(X, y)
                    return run

                fns = {"ours": fit("ours", lambda: LogisticRegression(l1_ratio=l1_ratio)),
                       "ref": fit("ref", lambda: sk.LogisticRegression(**ref_kw))}
                for threads in args.threads:
                    with _common.thread_limit(threads), warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        fns["ours"]()  # warm-up (imports, first-touch)
                        fns["ref"]()
                        t = interleaved(fns, args.min_repeats, args.budget)
                    ours, ref = fitted["ours"], fitted["ref"]
                    f_ours = objective(X, y, ours.coef_, ours.intercept_, 1.0, l1_ratio)
                    f_ref = objective(X, y, ref.coef_, ref.intercept_, 1.0, l1_ratio)
                    rel = (f_ours - f_ref) / abs(f_ref)
                    obj_tol = args.obj_tol if args.obj_tol is not None else (
                        1e-3 if dtype == "float32" else 1e-5)
                    k = int(np.unique(y).size)
                    rows.append({
                        "op": "LogisticRegression" + (f" l1_ratio={l1_ratio:g}" if l1_ratio
                                                      else ""),
                        "case": name, "dtype": dtype, "size": "x".join(map(str, X.shape)),
                        "classes": k, "sparse": sparse, "threads": threads,
                        "l1_ratio": l1_ratio, "ref_solver": ref_kw.get("solver", "lbfgs"),
                        "ms_ours": t["ours"]["median"] * 1e3,
                        "ms_ref": t["ref"]["median"] * 1e3,
                        "speedup": t["ref"]["median"] / t["ours"]["median"],
                        "repeats": t["ours"]["repeats"],
                        "n_iter_ours": int(np.max(ours.n_iter_)),
                        "n_iter_ref": int(np.max(ref.n_iter_)),
                        "obj_ours": f_ours, "obj_ref": f_ref, "obj_rel": rel,
                        "agrees": bool(rel <= obj_tol),
                        "loadavg": _common._loadavg(),
                    })
                    if rel > obj_tol:
                        _common.warn(f"{name} {dtype}: our objective {f_ours:.10g} is "
                                     f"{rel:.2e} above scikit-learn's {f_ref:.10g}")
    return rows


COLUMNS = [  # (row key, header, format)
    ("case", "case", ""), ("dtype", "dtype", ""), ("l1_ratio", "l1r", "g"),
    ("threads", "thr", "d"), ("ms_ours", "ms ours", ".2f"), ("ms_ref", "ms sklearn", ".2f"),
    ("speedup", "speed-up", ".2f"), ("n_iter_ours", "it ours", "d"),
    ("n_iter_ref", "it sk", "d"), ("obj_rel", "obj rel", ".1e"),
]


def main(argv=None):
    p = _common.base_parser(__doc__)
    p.add_argument("--cases", nargs="+", default=None,
                   help="only the cases whose name contains one of these strings")
    p.add_argument("--l1-ratios", type=float, nargs="+", default=[0.0],
                   help="penalties: 0 is L2 (scikit-learn's lbfgs); others compare with saga")
    p.add_argument("--obj-tol", type=float, default=None,
                   help="largest relative excess of our objective over scikit-learn's "
                        "(default 1e-5 for float64, 1e-3 for float32)")
    args = p.parse_args(argv)
    _common.finish_args(args, quick_budget=0.02, full_budget=1.0)
    return _common.run_bench(
        SCRIPT, QUESTION, args, run_rows, COLUMNS,
        "\nspeed-up = ms sklearn / ms ours (median of interleaved fits, order rotating); "
        "it = n_iter_;\nobj rel = (our objective - scikit-learn's) / |scikit-learn's| "
        "(negative: ours lower).",
        script_path=os.path.abspath(__file__), bandwidth=False)


if __name__ == "__main__":
    sys.exit(main())
