"""Does anything blow up when Python threads or joblib workers, fastprox's OpenMP kernels and
BLAS are nested?

Each workload is a fixed batch of independent tasks (CSR x dense products, Lasso
fits, MLP predictions) run four ways on the same data, timings interleaved:

- ``serial``: one task after another, every kernel using all cores;
- ``pool k, inner all``: ``k`` Python threads (``k`` = cores and 4 x cores), each
  task still asking OpenMP and BLAS for all cores, so up to ``k x cores``
  threads compete: the oversubscribed case;
- ``pool k, inner 1``: the recipe in docs/distributed.md, ``fastprox.set_num_threads(1)``
  and ``threadpool_limits(1, "blas")`` around the pool (fastprox's cap is
  process-wide; an OpenMP ``threadpool_limits`` made in the main thread does
  *not* reach other Python threads, OpenMP limits are per thread).

``LassoCV`` is also timed with ``n_jobs=1`` against ``n_jobs=cores`` on joblib's
loky (processes, which limit BLAS/OpenMP inside workers themselves) and
threading backends.

The ratio is serial time / nested time: 1 means nesting bought nothing, below
1 it costs, and "blow-up" marks anything below 0.67. The kernels release the
GIL, so the pools really run in parallel.

Scenario rows (``scenario`` in the JSON) ask whether a second thread ever makes
a call slower: ``spmm`` (batch 256, and ``spmm b16``: batch 16, a call of
0.2-0.4 ms), ``spmv``, ``sgd_step``, a ``Lasso`` fit and one
``partial_fit`` epoch of a 90 %-pruned MLP (CSR layers, dense BLAS for the
rest) at 1 and 2 threads, samples interleaved, in three scenarios:

- ``quiet``: nothing else started by the bench;
- ``busy neighbour``: a CPU-bound child process (a Python busy loop) runs for
  the whole measurement and is killed afterwards;
- ``after BLAS``: a 2-thread dense product ``W_dense @ X`` (not timed) before
  every timed call, so OpenBLAS's workers may still hold the cores.

Their ratio is 2-thread time / 1-thread time; "slower" marks anything above
1.10 (the goal of docs/design/kernels-threads.md).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_threads.py
"""
import contextlib
import copy
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

SCRIPT = "bench_threads"
QUESTION = ("nested parallelism (Python threads / joblib x OpenMP x BLAS): "
            "time of the serial run / time of the nested run")
BLOW_UP = 0.67
SLOWER = 1.10  # 2 threads / 1 thread above this: the second thread cost time
SCENARIOS = ("quiet", "busy neighbour", "after BLAS")


# --------------------------------------------------------------------------- workloads

def workloads(quick):
    """name -> (task callable taking an index, n_tasks, size description)."""
    import scipy.sparse as sp
    from sklearn.datasets import make_regression

    import fastprox
    from fastprox import sparse as fs
    from fastprox.linear_model import Lasso
    from fastprox.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    n = 1000 if quick else 4000
    A = sp.random(n, n, density=0.02, format="csr", random_state=0, dtype=np.float64)
    Xd = rng.standard_normal((n, 64))
    A_checked = fs.check_csr(A)

    def spmm_task(i):
        return fs.spmm(A_checked, Xd)

    ns, p = (200, 500) if quick else (500, 2000)
    X, y = make_regression(n_samples=ns, n_features=p, n_informative=20, noise=1.0,
                           random_state=0)
    alpha = np.abs(X.T @ (y - y.mean())).max() / ns / 10

    def lasso_task(i):
        return Lasso(alpha=alpha * (1 + 0.01 * i), tol=1e-6).fit(X, y).coef_

    Xc = rng.standard_normal((2000, 256))
    yc = (Xc[:, 0] > 0).astype(int)
    mlp = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=2, random_state=0)
    with _warnings_off():
        mlp.fit(Xc[:200], yc[:200])

    def mlp_task(i):
        return mlp.predict_proba(Xc)

    del fastprox
    n_tasks = 8
    return {
        "spmm": (spmm_task, n_tasks, f"{n}x{n} d=0.02 @ {n}x64"),
        "Lasso.fit": (lasso_task, n_tasks, f"dense {ns}x{p} amax/10"),
        "MLP.predict_proba": (mlp_task, n_tasks, "2000x256 -> (128, 64)"),
    }


@contextlib.contextmanager
def _warnings_off():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _inner_limit(n):
    """Cap fastprox (process-wide) and BLAS at ``n`` threads; None: no cap."""
    if n is None:
        yield
        return
    import fastprox

    prev = fastprox.set_num_threads(n)
    try:
        # a controller made once: threadpool_limits() rescans the loaded
        # libraries on every entry, which costs more than a small task
        with _controller().limit(limits=n, user_api="blas"):
            yield
    finally:
        fastprox.set_num_threads(prev)


_CONTROLLER = []


def _controller():
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def run_rows(args, timed):
    rows = [] if args.only_scenarios else nested_rows(args, timed)
    return rows + scenario_rows(args)


def nested_rows(args, timed):
    import fastprox

    cores = fastprox.get_num_threads()
    pools = sorted({cores, 4 * cores})
    rows = []
    executors = {k: ThreadPoolExecutor(k) for k in pools}
    try:
        for name, (task, n_tasks, size) in workloads(args.quick).items():
            def serial(task=task, n_tasks=n_tasks):
                return [task(i) for i in range(n_tasks)]

            def pooled(k, inner, task=task, n_tasks=n_tasks):
                def run():
                    with _inner_limit(inner):
                        return list(executors[k].map(task, range(n_tasks)))
                return run

            fns = {"serial": serial}
            for k in pools:
                fns[f"pool {k}, inner all"] = pooled(k, None)
                fns[f"pool {k}, inner 1"] = pooled(k, 1)
            # nesting must not change the answers (row-parallel kernels are
            # bit-identical; fits and BLAS products may differ by rounding)
            ref = serial()
            agrees = {cfg: all(np.allclose(a, b, rtol=1e-6, atol=1e-12)
                               for a, b in zip(ref, fn())) for cfg, fn in fns.items()}
            t = timed(fns)
            base = t["serial"]["median"]
            for cfg, r in t.items():
                rows.append(_row(name, size, cfg, n_tasks, r["median"], base, cores,
                                 agrees[cfg]))
    finally:
        for ex in executors.values():
            ex.shutdown()
    rows += lasso_cv_rows(args, timed, cores)
    return rows


def lasso_cv_rows(args, timed, cores):
    from joblib import parallel_backend
    from sklearn.datasets import make_regression

    from fastprox.linear_model import LassoCV

    ns, p = (200, 300) if args.quick else (600, 1500)
    X, y = make_regression(n_samples=ns, n_features=p, n_informative=30, noise=1.0,
                           random_state=0)
    n_alphas = 10 if args.quick else 30

    def fit(n_jobs, backend=None):
        def run():
            ctx = parallel_backend(backend) if backend else contextlib.nullcontext()
            with ctx:
                m = LassoCV(alphas=n_alphas, cv=5, n_jobs=n_jobs).fit(X, y)
            return m.alpha_, m.coef_
        return run

    fns = {"serial": fit(1), f"joblib loky n_jobs={cores}": fit(cores, "loky"),
           f"joblib threading n_jobs={cores}": fit(cores, "threading")}
    ref = fns["serial"]()
    agrees = {}
    for cfg, fn in fns.items():
        alpha, coef = fn()
        agrees[cfg] = alpha == ref[0] and np.allclose(coef, ref[1], rtol=1e-6, atol=1e-12)
    t = timed(fns, min_repeats=3, budget=0)
    base = t["serial"]["median"]
    return [_row("LassoCV.fit", f"{ns}x{p} {n_alphas} alphas x 5 folds", cfg, 1,
                 r["median"], base, cores, agrees[cfg]) for cfg, r in t.items()]


def _row(name, size, cfg, n_tasks, seconds, base, cores, agrees):
    ratio = base / seconds
    return {"op": name, "size": size, "config": cfg, "tasks": n_tasks, "threads": cores,
            "ms": seconds * 1e3, "speedup": ratio, "agrees": bool(agrees),
            "verdict": "blow-up" if ratio < BLOW_UP else "ok"}


# --------------------------------------------------------------------------- scenarios

def scenario_kernels(quick):
    """name -> (timed callable, size, fresh-result callable) for the 1 vs 2 thread rows."""
    import scipy.sparse as sp
    from sklearn.datasets import make_regression

    from fastprox import prox
    from fastprox import sparse as fs
    from fastprox.linear_model import Lasso

    rng = np.random.default_rng(0)
    n, b = (512, 64) if quick else (1024, 256)
    A = fs.prune_to_csr(rng.standard_normal((n, n)), sparsity=0.9)
    X = rng.standard_normal((n, b))
    rows, cols = (50_000, 200) if quick else (200_000, 1000)
    B = fs.check_csr(sp.random(rows, cols, density=0.01, format="csr", random_state=0))
    x = rng.standard_normal(cols)
    m = 200_000 if quick else 2_000_000
    w, g = rng.standard_normal(m), rng.standard_normal(m)
    ns, p = (200, 500) if quick else (500, 2000)
    Xl, yl = make_regression(n_samples=ns, n_features=p, n_informative=20, noise=1.0,
                             random_state=0)
    alpha = np.abs(Xl.T @ (yl - yl.mean())).max() / ns / 10

    def sgd(w=w):  # in place: timed on w, checked on a copy
        prox.sgd_step(w, g, lr=1e-2, l1=1e-3, l2=1e-4)
        return w

    def spmm():
        return fs.spmm(A, X)

    Xs = X[:, :16].copy()

    def spmm_short():  # 0.2-0.4 ms: a wait for a taken core costs more than the call
        return fs.spmm(A, Xs)

    def spmv():
        return fs.spmv(B, x)

    xt = rng.standard_normal(rows)
    Wp = rng.standard_normal((1024, 1024) if quick else (2048, 2048))

    def spmv_t():
        return fs.spmv_t(B, xt, check_input=False)

    def prune():
        return fs.prune_to_csr(Wp, threshold=1.0)

    def lasso():
        return Lasso(alpha=alpha, tol=1e-6).fit(Xl, yl).coef_

    mlp, Xm, ym = _pruned_mlp(quick)

    def mlp_epoch():  # one partial_fit epoch on a copy of the pruned network
        return copy.deepcopy(mlp).partial_fit(Xm, ym).predict_proba(Xm[:64])

    return {
        "spmm": (spmm, f"{n}x{n} s=0.9 @ {n}x{b}", spmm),
        "spmm b16": (spmm_short, f"{n}x{n} s=0.9 @ {n}x16", spmm_short),
        "spmv": (spmv, f"{rows}x{cols} d=0.01", spmv),
        "spmv_t": (spmv_t, f"{rows}x{cols} d=0.01", spmv_t),
        "prune_to_csr": (prune, f"{Wp.shape[0]}x{Wp.shape[1]} threshold",
                         lambda: prune().toarray()),
        "sgd_step": (sgd, f"{m:.0e} float64", lambda: sgd(w.copy())),
        "Lasso.fit": (lasso, f"dense {ns}x{p} amax/10", lasso),
        "MLP.partial_fit": (mlp_epoch, f"{Xm.shape[0]}x{Xm.shape[1]} 256-256 s=0.9 epoch",
                            mlp_epoch),
    }


def _pruned_mlp(quick):
    """A 90 %-pruned MLP (CSR layers) and the data of one training epoch."""
    from sklearn.datasets import make_classification

    from fastprox.neural_network import MLPClassifier
    from fastprox.pruning import prune

    n = 1000 if quick else 4000
    X, y = make_classification(n, 256, n_informative=40, n_classes=10, random_state=0)
    mlp = MLPClassifier((256, 256), max_iter=2, batch_size=200, random_state=0)
    with _warnings_off():
        mlp = prune(mlp.fit(X, y), sparsity=0.9)
    return mlp, X, y


# Exits when its parent goes, so a bench killed mid-run leaves no spinning orphan.
_SPIN = ("import os\np = os.getppid()\nwhile os.getppid() == p:\n"
         "    for _ in range(10**6):\n        pass\n")


@contextlib.contextmanager
def busy_neighbour():
    """A CPU-bound child process for the duration of the block; yields its pid."""
    proc = subprocess.Popen([sys.executable, "-c", _SPIN])
    try:
        time.sleep(0.05)  # let it start spinning
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _blas_before(quick):
    """The 'after BLAS' warm-up: a 2-thread dense product, not timed."""
    n, b = (256, 64) if quick else (1024, 256)
    rng = np.random.default_rng(1)
    W, X = rng.standard_normal((n, n)), rng.standard_normal((n, b))
    ctl = _controller()

    def run():
        with ctl.limit(limits=2, user_api="blas"):
            W @ X
    return run


def time_1_vs_2(fn, before, budget, min_repeats):
    """Median seconds of ``fn`` at 1 and at 2 threads, samples interleaved.

    ``before`` (or None) runs, untimed, before every timed call.
    """
    samples = {1: [], 2: []}
    for n in (1, 2):  # warm-up
        with _inner_limit(n):
            fn()
    start = time.perf_counter()
    while True:
        for n in (1, 2):
            with _inner_limit(n):
                if before is not None:
                    before()
                t0 = time.perf_counter()
                fn()
                samples[n].append(time.perf_counter() - t0)
        if len(samples[1]) >= min_repeats and time.perf_counter() - start >= budget:
            return {n: statistics.median(s) for n, s in samples.items()}


def _same(a, b):
    return np.array_equal(a, b) or np.allclose(a, b, rtol=1e-6, atol=1e-12)


def scenario_rows(args):
    """One row per kernel and scenario: 2-thread time / 1-thread time."""
    rows = []
    kernels = {k: v for k, v in scenario_kernels(args.quick).items() if k in args.kernels}
    for name, (fn, size, check) in kernels.items():
        with _inner_limit(1):
            ref = check()
        with _inner_limit(2):
            agrees = _same(check(), ref)
        for scenario in args.scenarios:
            before = _blas_before(args.quick) if scenario == "after BLAS" else None
            ctx = busy_neighbour() if scenario == "busy neighbour" else contextlib.nullcontext()
            with ctx as pid:
                t = time_1_vs_2(fn, before, args.budget, args.min_repeats)
            ratio = t[2] / t[1]
            row = {"op": name, "size": size, "config": scenario, "scenario": scenario,
                   "tasks": 1, "threads": 2, "ms": t[2] * 1e3, "ms_1t": t[1] * 1e3,
                   "ms_2t": t[2] * 1e3, "ratio_2t_1t": ratio, "speedup": 1 / ratio,
                   "agrees": bool(agrees), "verdict": "slower" if ratio > SLOWER else "ok"}
            if pid is not None:
                row["neighbour_pid"] = pid
            rows.append(row)
    return rows


COLUMNS = [  # (row key, header, format)
    ("op", "workload", "s"), ("size", "size", "s"), ("config", "nesting / scenario", "s"),
    ("tasks", "tasks", "d"), ("ms", "ms", ".2f"), ("speedup", "serial / nested", ".2f"),
    ("ms_1t", "ms 1 thr", ".2f"), ("ratio_2t_1t", "2 thr / 1 thr", ".2f"),
    ("agrees", "same result", ""), ("verdict", "", "s"),
]


def main(argv=None):
    p = _common.base_parser(__doc__)
    p.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=SCENARIOS,
                   help="1 vs 2 thread scenarios (none: skip those rows)")
    p.add_argument("--kernels", nargs="+",
                   default=["spmm", "spmm b16", "spmv", "sgd_step", "Lasso.fit",
                            "MLP.partial_fit"],
                   choices=["spmm", "spmm b16", "spmv", "spmv_t", "prune_to_csr", "sgd_step",
                            "Lasso.fit", "MLP.partial_fit"],
                   help="workloads of the scenario rows (spmv_t, prune_to_csr: on request)")
    p.add_argument("--only-scenarios", action="store_true",
                   help="skip the nesting rows (Python threads / joblib)")
    args = p.parse_args(argv)
    _common.finish_args(args, quick_budget=0.05, full_budget=2.0)
    return _common.run_bench(
        SCRIPT, QUESTION, args, run_rows, COLUMNS,
        f"\nserial / nested > 1: nesting helped; < {BLOW_UP}: blow-up. 'inner all' asks "
        "OpenMP and BLAS for every core in every task; 'inner 1' applies the recipe."
        "\nScenario rows: ms at 2 threads, ms 1 thr at 1 thread (fastprox and BLAS), "
        f"interleaved; 2 thr / 1 thr > {SLOWER}: slower; 'serial / nested' is 1 thr / 2 thr.",
        bandwidth=False)

if __name__ == "__main__":
    sys.exit(main())
