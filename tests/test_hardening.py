"""Crash isolation, concurrency and leaks for the compiled kernels."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp

from fastprox import prox, sparse

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("module", [os.path.join("kernels", "fuzz_kernels.py"), "fuzz_estimators.py"])
def test_property_based_in_subprocess(module):
    """Hypothesis tests run in a child: a segfault fails this test, not the whole run."""
    pytest.importorskip("hypothesis")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         os.path.join(HERE, module)],
        capture_output=True, text=True, timeout=600, cwd=os.path.dirname(HERE),
    )
    assert res.returncode == 0, (
        f"property tests failed (return code {res.returncode}; negative means the child "
        f"was killed by signal {-res.returncode})\n{res.stdout[-4000:]}\n{res.stderr[-2000:]}"
    )


def test_eight_python_threads_match_serial():
    """The kernels release the GIL; concurrent calls must not interfere."""
    rng = np.random.default_rng(0)
    mats = [sp.random_array((5000, 300), density=0.02, format="csr", rng=rng) for _ in range(8)]
    xs = [rng.standard_normal(300) for _ in range(8)]
    ws = [rng.standard_normal(200_000) for _ in range(8)]
    gs = [rng.standard_normal(200_000) for _ in range(8)]

    def work(i):
        w = ws[i].copy()
        for _ in range(5):
            prox.sgd_step(w, gs[i], 0.01, 0.5, 0.01)
        return sparse.spmv(mats[i], xs[i]), sparse.spmm(mats[i], np.outer(xs[i], [1.0, 2.0])), w

    serial = [work(i) for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            parallel = list(pool.map(work, range(8)))
            for a, b in zip(serial, parallel):
                for x, y in zip(a, b):
                    np.testing.assert_array_equal(x, y)


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_repeated_calls_do_not_leak():
    rng = np.random.default_rng(1)
    A = sp.random_array((300, 200), density=0.05, format="csr", rng=rng)
    x, X = rng.standard_normal(200), rng.standard_normal((200, 8))
    U, V = rng.standard_normal((300, 4)), rng.standard_normal((200, 4))
    w, g, m, v = (rng.standard_normal(1000) for _ in range(4))
    v = np.abs(v)

    def burst(n):
        for k in range(n):
            sparse.spmv(A, x)
            sparse.spmv_t(A, rng.standard_normal(300))
            sparse.spmm(A, X)
            sparse.sddmm(A, U, V)
            prox.adam_step(w, g, m, v, k + 1, 1e-3, l1=0.01)
            sparse.prune_to_csr(X, sparsity=0.5)

    burst(500)  # warm-up: caches, allocator pools
    before = _rss_mb()
    burst(10_000)
    growth = _rss_mb() - before
    assert growth < 30, f"resident memory grew by {growth:.1f} MiB over 10,000 calls"


def test_int64_index_path():
    """int64 indices (what a matrix with nnz >= 2**31 needs) on a small matrix."""
    rng = np.random.default_rng(2)
    A = sp.random_array((700, 90), density=0.1, format="csr", rng=rng)
    A.indices, A.indptr = A.indices.astype(np.int64), A.indptr.astype(np.int64)
    x = rng.standard_normal(90)
    np.testing.assert_allclose(sparse.spmv(A, x), A @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sparse.spmv_t(A, np.ones(700)), A.T @ np.ones(700), rtol=1e-12)


def _estimators():
    from fastprox.linear_model import ElasticNet, Lasso
    from fastprox.neural_network import MLPClassifier

    return [
        lambda: Lasso(alpha=0.05, tol=1e-8),
        lambda: ElasticNet(alpha=0.05, l1_ratio=0.5, tol=1e-8),
        lambda: MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, l1=1e-4,
                              target_sparsity=0.5, random_state=0),
    ]


def _fit_predict(make, X, y):
    est = make().fit(X, y)
    return est.predict(X)


def test_estimators_from_eight_threads_match_serial():
    """Estimators fitted concurrently (GIL released in the kernels) give the serial answers."""
    import warnings

    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X[:400] / 16.0
    y = y[:400]
    jobs = [(make, X, y if i == 2 else y.astype(float)) for i, make in enumerate(_estimators())]
    jobs = jobs * 3  # 9 fits, 8 threads
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = [_fit_predict(*job) for job in jobs]
        with ThreadPoolExecutor(8) as pool:
            parallel = list(pool.map(lambda job: _fit_predict(*job), jobs))
    for a, b in zip(serial, parallel):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_repeated_fits_do_not_leak():
    import warnings

    from sklearn.datasets import make_regression

    X, y = make_regression(200, 50, n_informative=5, random_state=0)
    make = _estimators()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(10):
            make().fit(X, y)
        before = _rss_mb()
        for _ in range(100):
            make().fit(X, y)
    growth = _rss_mb() - before
    assert growth < 30, f"resident memory grew by {growth:.1f} MiB over 100 fits"
