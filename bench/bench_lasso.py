"""Lasso and L1 logistic regression: fastprox vs scikit-learn (and skglm / celer).

Question: how long does one Lasso fit take, to the same duality-gap tolerance,
on dense, sparse, small and correlated designs at alpha_max / {10, 100, 1000},
and L1 logistic regression (binary vs liblinear and saga, multinomial vs saga)
on wide classification problems keeping ~10 % of the features and on digits;
do the solvers reach the same objective?

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=src python bench/bench_lasso.py
    ... --quick            # tiny problems, seconds
    ... --json PATH        # where the JSON goes (default bench/results/bench_lasso*.json)
    ... --cases corr dense # only the data sets whose name contains one of these
    ... --no-cv            # skip LassoCV (100 alphas x 5 folds) on the dense sets
    ... --no-others        # skip skglm / celer even when installed
    ... --weighted-divs 100  # Lasso with random sample weights at these alpha_max / div

Times are medians of ``--repeat`` fits (more for quick Lasso fits, see
``--min-time``), ours and scikit-learn's interleaved in the same run (saga on
the 20000 x 2000 problems, ~1 min a fit, runs once). Lasso / ElasticNet
rounds rotate the solvers' order and each timed fit starts once the threads
left spinning by the previous one (OpenBLAS workers) are idle (``settle``);
skglm and celer are timed ``--repeat`` times. Each JSON row has ``op``,
``dtype``, ``size``, ``threads``,
``ms_ours``, ``ms_ref`` (scikit-learn) and ``speedup`` (``ms_ref / ms_ours``);
Lasso / ElasticNet rows also ``speedup_min``, the same ratio of the fastest
fits ("min x" in the printed table). Rows ``op="Lasso weighted"`` fit the same
data with random positive ``sample_weight`` (uniform in [0.5, 2], the same
for both libraries) at the weighted problem's ``alpha_max / div``, next to
the unweighted rows (fastprox vs scikit-learn only: skglm and celer take no
sample weights).
"""
import argparse
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import load_diabetes, load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

import fastprox
from fastprox import _kernels
from fastprox import linear_model as fp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def correlated(n, p, rho=0.8, k=100, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    X = np.empty((n, p))
    X[:, 0] = rng.standard_normal(n)
    z = rng.standard_normal((n, p))
    for j in range(1, p):  # AR(1) columns: corr(X_i, X_j) = rho^|i-j|
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho ** 2) * z[:, j]
    w = np.zeros(p)
    w[rng.choice(p, k, replace=False)] = rng.standard_normal(k)
    return X, X @ w + noise * rng.standard_normal(n)


def _sparse_case(n, p, density, k=100):
    X = sp.random(n, p, density=density, format="csr", random_state=0)
    w = np.zeros(p)
    w[:k] = np.random.default_rng(0).standard_normal(k)
    return X, X @ w + 0.1 * np.random.default_rng(1).standard_normal(n)


def datasets(quick):
    """(name, builder) pairs: built only when selected (``sp.random`` on 20000 x
    50000 briefly needs ~8 GB)."""
    if quick:
        yield "dense", lambda: make_regression(100, 300, n_informative=10, random_state=0)[:2]
        yield "dense float32", lambda: tuple(a.astype(np.float32) for a in make_regression(
            100, 300, n_informative=10, random_state=0)[:2])
        yield "sparse", lambda: _sparse_case(500, 1000, 0.01, k=10)
        yield "diabetes", lambda: load_diabetes(return_X_y=True)
        yield "correlated", lambda: correlated(100, 500, k=10)
        return
    yield "dense 1000x5000", lambda: make_regression(1000, 5000, n_informative=50, noise=1.0,
                                                     random_state=0)[:2]
    yield "dense 1000x5000 float32", lambda: tuple(
        a.astype(np.float32) for a in make_regression(1000, 5000, n_informative=50, noise=1.0,
                                                      random_state=0)[:2])
    yield "sparse 20000x50000", lambda: _sparse_case(20000, 50000, 0.001)
    yield "diabetes", lambda: load_diabetes(return_X_y=True)
    yield "correlated 1000x10000", lambda: correlated(1000, 10000)


def classification_sets(quick):
    """(name, X, y, C, references): L1 logistic problems; C keeps ~10 % of the features.

    ``references`` maps a scikit-learn solver to ``"repeat"`` (timed like ours)
    or ``"once"`` (too slow to repeat: one fit, after ours).
    """
    if quick:
        X, y = make_classification(2000, 200, n_informative=20, random_state=0)
        yield "classif 2000x200", X, y, 0.01, {"liblinear": "repeat", "saga": "repeat"}
        X, y = make_classification(2000, 200, n_informative=20, n_classes=3, random_state=0)
        yield "classif 2000x200 3cls", X, y, 0.01, {"saga": "repeat"}
    else:
        X, y = make_classification(20000, 2000, n_informative=200, random_state=0)
        yield "classif 20000x2000", X, y, 0.01, {"liblinear": "repeat", "saga": "once"}
        X, y = make_classification(20000, 2000, n_informative=200, n_classes=3, random_state=0)
        yield "classif 20000x2000 3cls", X, y, 0.01, {"saga": "once"}
    X, y = load_digits(return_X_y=True)
    yield "digits (<5 vs >=5)", X / 16.0, (y >= 5).astype(int), 0.05, {"liblinear": "repeat"}
    yield "digits 10 classes", X / 16.0, y, 0.05, {"saga": "repeat"}


def logistic_objective(X, y, coef, intercept, C):
    """scikit-learn's L1 objective: C sum_i loss_i + ||W||_1 (binomial or multinomial)."""
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    Z = np.asarray(X @ coef.T, dtype=np.float64) + np.ravel(intercept)
    classes = np.unique(y)
    if coef.shape[0] == 1:
        loss = np.logaddexp(0.0, -np.where(y == classes[1], 1.0, -1.0) * Z[:, 0])
    else:
        m = Z.max(axis=1)
        loss = (m + np.log(np.exp(Z - m[:, None]).sum(axis=1))
                - Z[np.arange(len(y)), np.searchsorted(classes, y)])
    return C * float(loss.sum()) + float(np.abs(coef).sum())


def objective(X, y, coef, intercept, alpha, l1_ratio=1.0, sw=None):
    """scikit-learn's elastic-net objective, in float64 whatever the data's dtype.

    ``sw``: sample weights (normalised to mean 1 here, as scikit-learn does).
    """
    r = np.asarray(y, dtype=np.float64) - X @ coef - float(np.ravel(intercept)[0])
    loss = float(r @ r) if sw is None else float((sw / sw.mean()) @ r ** 2)
    return (0.5 * loss / len(y) + alpha * l1_ratio * float(np.abs(coef).sum())
            + 0.5 * alpha * (1 - l1_ratio) * float(coef @ coef))


def sample_weights(n, seed=0):
    """Random positive weights (uniform in [0.5, 2]) for the weighted rows."""
    return np.random.default_rng(seed).uniform(0.5, 2.0, n)


def weighted_alpha_max(X, y, sw):
    """``alpha_max`` of the weighted Lasso with intercept (scikit-learn's ``_alpha_grid``).

    ``max |Xc.T (sw * yc)| / sum(sw)`` with weighted centring; the weighted
    residual sums to zero, so ``Xc`` can be ``X``.
    """
    yc = y - np.average(y, weights=sw)
    return float(np.abs(X.T @ (sw * yc)).max()) / float(sw.sum())


def solvers(others=True, l1_ratio=1.0):
    """name -> make(alpha, tol) for Lasso (l1_ratio 1) or ElasticNet."""
    if l1_ratio == 1.0:
        out = {"fastprox": lambda a, tol: fp.Lasso(alpha=a, tol=tol, max_iter=10_000),
               "sklearn": lambda a, tol: sk.Lasso(alpha=a, tol=tol, max_iter=10_000)}
    else:
        out = {"fastprox": lambda a, tol: fp.ElasticNet(alpha=a, l1_ratio=l1_ratio, tol=tol,
                                                        max_iter=10_000),
               "sklearn": lambda a, tol: sk.ElasticNet(alpha=a, l1_ratio=l1_ratio, tol=tol,
                                                       max_iter=10_000)}
    if not others:
        return out
    try:
        import skglm
        out["skglm"] = (lambda a, tol: skglm.Lasso(alpha=a, tol=tol)) if l1_ratio == 1.0 else \
            (lambda a, tol: skglm.ElasticNet(alpha=a, l1_ratio=l1_ratio, tol=tol))
    except ImportError:
        pass
    try:
        import celer
        out["celer"] = (lambda a, tol: celer.Lasso(alpha=a, tol=tol)) if l1_ratio == 1.0 else \
            (lambda a, tol: celer.ElasticNet(alpha=a, l1_ratio=l1_ratio, tol=tol))
    except (ImportError, AttributeError):
        pass
    return out


_MAX_ROUNDS = 51
# before each timed fit: wait (up to _SETTLE_MAX s) until the process's other
# threads have been idle for _SETTLE_STEP s -- OpenBLAS workers spin for
# ~0.1 s after a threaded call (scikit-learn's gap checks are gemvs), and on
# 2 cores the next fit, whichever library's, shared its core with them
_SETTLE_STEP, _SETTLE_MAX = 0.002, 0.3


def settle():
    """Wait until no other thread of this process runs (spinning BLAS workers), bounded.

    Timing each fit from a quiet start charges no fit with the threads its
    predecessor left spinning (see docs/design/solver-dense-f32.md).
    """
    _common.settle_threads(_SETTLE_STEP, _SETTLE_MAX)


def bench_alpha(name, X, y, alpha, div, l1_ratio, args, threads, sw=None):
    """One (data, alpha) case: every solver timed in interleaved rounds; the JSON row.

    ``sw``: sample weights given to every fit (fastprox and scikit-learn only).
    """
    op = "Lasso" if l1_ratio == 1.0 else f"ElasticNet l1_ratio={l1_ratio:g}"
    makers = solvers(not args.no_others and sw is None, l1_ratio)
    fit_kw = {} if sw is None else {"sample_weight": sw}
    if sw is not None:
        op += " weighted"
    if X.dtype == np.float32:
        # skglm recompiles for and struggles with float32 (22-110 s a fit at 100 x 300)
        makers.pop("skglm", None)
    res = {k: dict(times=[]) for k in makers}
    fitted = {}
    rounds = args.repeat
    names = list(makers)
    r = 0
    while r < rounds:  # interleaved: load changes hit both alike
        # each round starts one solver later: none always follows the same one
        for sname in names[r % len(names):] + names[:r % len(names)]:
            if res[sname]["times"] and res[sname]["times"][0] > args.slow_once:
                continue  # one timing of a minute-long fit is precise enough
            if sname not in ("fastprox", "sklearn") and r >= args.repeat:
                continue  # the others: --repeat timings (the rounds are for the ratio)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                settle()
                t0 = time.perf_counter()
                fitted[sname] = makers[sname](alpha, args.tol).fit(X, y, **fit_kw)
                res[sname]["times"].append(time.perf_counter() - t0)
        if r == 1:
            # quick fits get more rounds (about --min-time of fitting): the
            # median of 3 one-millisecond diabetes fits swung 1.15x-1.6x. From
            # the second round: skglm's first fit compiles (seconds). Counted
            # on the two compared in the ratio (celer's 0.15-0.3 s float32
            # fits left 3 rounds to a 30 ms pair)
            per_round = sum(res[k]["times"][-1] for k in ("fastprox", "sklearn"))
            rounds = max(args.repeat, min(_MAX_ROUNDS, int(args.min_time / per_round)))
        r += 1
    # objectives after the timings: on float32 data each one converts X to a
    # float64 temporary, whose allocation and release between timed fits
    # slowed the next fit 2x at random on the bench VM
    for sname, m in fitted.items():
        coef = np.asarray(m.coef_, dtype=np.float64).ravel()
        res[sname].update(objective=objective(X, y, coef, m.intercept_, alpha, l1_ratio, sw),
                          nnz=int((coef != 0).sum()))
    for r in res.values():
        r["time"] = float(np.median(r["times"]))
        r["time_min"] = float(np.min(r["times"]))
    ref = res["sklearn"]
    label = (f"amax/{div}" if l1_ratio == 1.0 else f"enet amax/{div}")
    label = label if sw is None else f"w {label}"
    for sname, r in res.items():
        r["speedup_vs_sklearn"] = ref["time"] / r["time"]
        r["rel_objective_diff"] = (r["objective"] - ref["objective"]) / ref["objective"]
        print(f"{name:24s} {label:>14s} {sname:>9s} {r['time']:9.4f} "
              f"{r['speedup_vs_sklearn']:8.2f} {ref['time_min'] / r['time_min']:7.2f} "
              f"{r['objective']:14.8g} {r['rel_objective_diff']:9.1e} {r['nnz']:6d}",
              flush=True)
    ours = res["fastprox"]
    return dict(
        op=op, dtype=str(X.dtype), threads=threads,
        size=f"{name} amax/{div}" if sw is None else f"{name} w amax/{div}",
        ms_ours=1e3 * ours["time"], ms_ref=1e3 * ref["time"],
        speedup=ref["time"] / ours["time"],
        # fastest fit of each: what the two cost when neither pays for cold
        # memory (on the dev VM a fit's time swings 2-3x with that)
        speedup_min=ref["time_min"] / ours["time_min"],
        data=name, alpha_div=div, alpha=float(alpha),
        l1_ratio=l1_ratio, rel_objective_diff=ours["rel_objective_diff"],
        nnz_ours=ours["nnz"], nnz_ref=ref["nnz"],
        others={k: dict(ms=1e3 * v["time"], objective=v["objective"], nnz=v["nnz"],
                        runs=len(v["times"]))
                for k, v in res.items()})


# python -m fastprox bench (full) leaves out the case where scikit-learn alone
# takes ~4 minutes at tol 1e-6, to stay within its 15-minute budget
RUN_ALL_ARGS = {"full": ["--skip", "sparse 20000x50000 amax/1000"]}


def _timed_fit(make, X, y):
    """``(fitted model, seconds)``, warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        m = make().fit(X, y)
        return m, time.perf_counter() - t0


def bench_cv(sets, args, threads):
    """LassoCV, 100 alphas x 5 folds, ours vs scikit-learn's (same folds, same grid)."""
    print()
    print(f"LassoCV, 100 alphas x 5 folds, tol {args.cv_tol:g}")
    print(f"{'data':24s} {'solver':>9s} {'time s':>9s} {'speedup':>8s} {'alpha_':>12s} "
          f"{'best mse':>12s}")
    makers = {"fastprox": lambda: fp.LassoCV(cv=5, alphas=100, tol=args.cv_tol),
              "sklearn": lambda: sk.LassoCV(cv=5, alphas=100, tol=args.cv_tol)}
    rows = []
    for name, X, y in sets:
        res = {k: dict(times=[]) for k in makers}
        for _ in range(max(1, args.repeat // 2)):
            for sname, make in makers.items():
                m, t = _timed_fit(make, X, y)
                res[sname]["times"].append(t)
                res[sname].update(alpha=float(m.alpha_),
                                  mse=float(np.min(m.mse_path_.mean(axis=-1))))
        for r in res.values():
            r["time"] = float(np.median(r["times"]))
        ours, ref = res["fastprox"], res["sklearn"]
        for sname, r in res.items():
            print(f"{name:24s} {sname:>9s} {r['time']:9.3f} {ref['time'] / r['time']:8.2f} "
                  f"{r['alpha']:12.5g} {r['mse']:12.5g}", flush=True)
        rows.append(dict(op="LassoCV", dtype=str(X.dtype), size=f"{name} 100 alphas x 5 folds",
                         threads=threads, ms_ours=1e3 * ours["time"], ms_ref=1e3 * ref["time"],
                         speedup=ref["time"] / ours["time"], data=name, tol=args.cv_tol,
                         alpha_ours=ours["alpha"], alpha_ref=ref["alpha"]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny problems")
    ap.add_argument("--tol", type=float, default=1e-6,
                    help="duality-gap tolerance (sklearn's); issue 3's figures are at 1e-6")
    ap.add_argument("--cases", nargs="+", default=None,
                    help="only data sets whose name contains one of these strings")
    ap.add_argument("--no-cv", action="store_true", help="skip the LassoCV comparison")
    ap.add_argument("--no-others", action="store_true", help="skip skglm and celer")
    ap.add_argument("--cv-tol", type=float, default=1e-4,
                    help="tol of the LassoCV fits (the estimators' default)")
    ap.add_argument("--divs", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--repeat", type=int, default=3, help="median of N timings (at least)")
    ap.add_argument("--min-time", type=float, default=None, metavar="S",
                    help="Lasso cases: as many interleaved rounds (up to %d) as take about "
                         "S seconds of fitting (default 0.5, 0 with --quick)" % _MAX_ROUNDS)
    ap.add_argument("--slow-once", type=float, default=5.0, metavar="S",
                    help="a Lasso fit that took more than S seconds is not repeated")
    ap.add_argument("--enet-divs", type=int, nargs="*", default=[10, 100],
                    help="ElasticNet cases at alpha_max / these (none: no ElasticNet rows)")
    ap.add_argument("--enet-l1-ratio", type=float, default=0.5)
    ap.add_argument("--weighted-divs", type=int, nargs="*", default=[100],
                    help="Lasso with random sample weights at the weighted alpha_max / these "
                         "(none: no weighted rows)")
    ap.add_argument("--skip", nargs="+", default=[], metavar="CASE",
                    help="Lasso cases to leave out, e.g. 'sparse 20000x50000 amax/1000'")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"),
                    help="directory of the default JSON path")
    ap.add_argument("--json", metavar="PATH", default=None, help="write the JSON here")
    ap.add_argument("--no-logistic", action="store_true", help="Lasso cases only")
    args = ap.parse_args()
    if args.min_time is None:
        args.min_time = 0.0 if args.quick else 0.5
    threads = fastprox.get_num_threads()
    machine = dict(platform=platform.platform(), processor=platform.processor(),
                   cpus=os.cpu_count(), fastprox_threads=threads,
                   simd=_kernels.LEVEL)
    print(f"machine: {machine}")
    rows = []
    header = f"{'data':24s} {'alpha':>14s} {'solver':>9s} {'time s':>9s} {'speedup':>8s} " \
             f"{'min x':>7s} {'objective':>14s} {'rel diff':>9s} {'nnz':>6s}"
    print(header)
    print("-" * len(header))
    cv_sets = []
    for name, build in datasets(args.quick):
        if args.cases and not any(c in name for c in args.cases):
            continue
        X, y = build()
        if not sp.issparse(X) and X.shape[1] > 100 and X.dtype == np.float64:
            cv_sets.append((name, X, y))
        Xc = X.toarray() if sp.issparse(X) and X.shape[0] * X.shape[1] < 1e6 else X
        Xd = X - X.mean(0) if not sp.issparse(X) else None
        if Xd is not None:
            a_max = np.abs(Xd.T @ (y - y.mean())).max() / len(y)
        else:
            mu = np.asarray(X.mean(axis=0)).ravel()
            a_max = np.abs(X.T @ (y - y.mean()) - mu * (y - y.mean()).sum()).max() / len(y)
        del Xc
        for div in args.divs:
            if f"{name} amax/{div}" in args.skip:
                print(f"{name:24s} {f'amax/{div}':>14s} skipped (--skip)")
                continue
            rows.append(bench_alpha(name, X, y, a_max / div, div, 1.0, args, threads))
        for div in args.enet_divs:
            # the elastic net's alpha_max is the Lasso's divided by l1_ratio
            if f"{name} enet amax/{div}" in args.skip:
                continue
            rows.append(bench_alpha(name, X, y, a_max / args.enet_l1_ratio / div, div,
                                    args.enet_l1_ratio, args, threads))
        sw = sample_weights(X.shape[0])
        for div in args.weighted_divs:
            if f"{name} w amax/{div}" in args.skip:
                continue
            rows.append(bench_alpha(name, X, y, weighted_alpha_max(X, y, sw) / div, div, 1.0,
                                    args, threads, sw=sw))
    if not args.no_cv:
        rows += bench_cv(cv_sets, args, threads)
    if not args.no_logistic:
        print()
        print(f"{'data':24s} {'C':>10s} {'solver':>9s} {'time s':>9s} {'speedup':>8s} "
              f"{'objective':>14s} {'rel diff':>9s} {'nnz':>6s}")
        for name, X, y, C, refs in classification_sets(args.quick):
            makers = {"fastprox": lambda: fp.LogisticRegression(penalty="l1", C=C)}
            for solver in refs:
                makers[solver] = (lambda s_: lambda: sk.LogisticRegression(
                    C=C, l1_ratio=1.0, solver=s_))(solver)
            res = {k: dict(times=[]) for k in makers}

            def run(sname):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    m = makers[sname]().fit(X, y)
                    res[sname]["times"].append(time.perf_counter() - t0)
                coef = np.atleast_2d(m.coef_)
                res[sname].update(
                    objective=logistic_objective(X, y, coef, m.intercept_, C),
                    nnz=int((coef != 0).sum()), features=int((coef != 0).any(axis=0).sum()),
                    accuracy=float(m.score(X, y)))

            for _ in range(args.repeat):  # interleaved: load changes hit both alike
                for sname in makers:
                    if refs.get(sname, "repeat") == "repeat":
                        run(sname)
            for sname in makers:
                if refs.get(sname) == "once":
                    run(sname)
            for r in res.values():
                r["time"] = float(np.median(r["times"]))
            ours = res["fastprox"]
            base = res[next(iter(refs))]  # same convention as the Lasso table
            for sname, r in res.items():
                print(f"{name:24s} {C:10.3g} {sname:>9s} {r['time']:9.4f} "
                      f"{base['time'] / r['time']:8.2f} {r['objective']:14.8g} "
                      f"{(r['objective'] - ours['objective']) / ours['objective']:9.1e} "
                      f"{r['nnz']:6d}", flush=True)
            for sname in refs:
                ref = res[sname]
                rows.append(dict(
                    op="LogisticRegression-l1", dtype="float64", size=f"{name} C={C:g}",
                    threads=threads, ms_ours=1e3 * ours["time"], ms_ref=1e3 * ref["time"],
                    speedup=ref["time"] / ours["time"], data=name, C=C, ref_solver=sname,
                    n_classes=int(np.unique(y).size), ref_runs=len(ref["times"]),
                    rel_objective_diff=(ours["objective"] - ref["objective"]) / ref["objective"],
                    nnz_ours=ours["nnz"], nnz_ref=ref["nnz"],
                    features_ours=ours["features"], features_ref=ref["features"],
                    accuracy_ours=ours["accuracy"], accuracy_ref=ref["accuracy"],
                    note=("liblinear also penalises the intercept (slightly different "
                          "objective)" if sname == "liblinear" else
                          "saga at its default tol=1e-4")))
        print("logistic: 'speedup' = time of the first scikit-learn solver listed / this "
              "solver's time; 'rel diff' = (objective - fastprox's) / fastprox's")
    path = args.json or os.path.join(args.out,
                                     f"bench_lasso{'_quick' if args.quick else ''}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(dict(script="bench_lasso", question="Lasso, ElasticNet and L1 logistic "
                       "regression: fit time vs scikit-learn", machine=machine, tol=args.tol,
                       repeat=args.repeat, rows=rows), f, indent=1,
                  default=lambda o: o.item() if isinstance(o, np.generic) else str(o))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
