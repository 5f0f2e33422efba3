"""Thread policy, kernel dispatch and the info command."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastprox
from fastprox import _kernels
from fastprox._kernels import _openmp


def run_py(code, **env):
    full_env = dict(os.environ, **env)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=full_env, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_set_num_threads_caps_and_restores():
    old = fastprox.set_num_threads(1)
    try:
        assert fastprox.get_num_threads() == 1
        fastprox.set_num_threads(64)
        assert 1 <= fastprox.get_num_threads() <= os.cpu_count()
    finally:
        fastprox.set_num_threads(old)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises((TypeError, ValueError)):
        fastprox.set_num_threads(bad)


def test_threadpoolctl_limit_is_respected():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _openmp.openmp_enabled():
        pytest.skip("serial build")
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastprox.get_num_threads() == 1


def test_omp_num_threads_is_respected():
    out = run_py("import fastprox; print(fastprox.get_num_threads())", OMP_NUM_THREADS="1")
    assert out == "1"


def test_info_command():
    out = subprocess.run([sys.executable, "-m", "fastprox", "info"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for word in ("fastprox", "openmp", "num_threads", "kernels", "numpy", "scipy"):
        assert word in out.stdout


def test_every_isa_variant_matches_scipy():
    """Each kernel variant the CPU can run (SSE2 / AVX2 / AVX-512) is checked in a child."""
    code = (
        "import numpy as np, scipy.sparse as sp\n"
        "from fastprox import prox, sparse, _kernels\n"
        "rng = np.random.default_rng(1)\n"
        "for dt in (np.float32, np.float64):\n"
        "    tol = 1e-4 if dt == np.float32 else 1e-11\n"
        "    w = rng.standard_normal(100_001).astype(dt); g = rng.standard_normal(100_001).astype(dt)\n"
        "    z = w.astype(float) - 0.1 * g\n"
        "    prox.sgd_step(w, g, 0.1, 0.05)\n"
        "    np.testing.assert_allclose(w, np.sign(z) * np.maximum(abs(z) - 0.005, 0), atol=tol)\n"
        "    for shape, dens in (((3000, 200), 0.05), ((500, 37), 0.5), ((40, 3), 1.0)):\n"
        "        A = sp.random_array(shape, density=dens, format='csr', rng=rng).astype(dt)\n"
        "        x, z = rng.standard_normal(shape[1]), rng.standard_normal(shape[0])\n"
        "        X, U, V = (rng.standard_normal(s) for s in ((shape[1], 37), (shape[0], 19), (shape[1], 19)))\n"
        "        x, z, X, U, V = (a.astype(dt) for a in (x, z, X, U, V))\n"
        "        rows = np.repeat(np.arange(shape[0]), np.diff(A.indptr))\n"
        "        np.testing.assert_allclose(sparse.spmv(A, x), A @ x, rtol=tol, atol=tol)\n"
        "        np.testing.assert_allclose(sparse.spmv_t(A, z), A.T @ z, rtol=tol, atol=tol)\n"
        "        np.testing.assert_allclose(sparse.spmm(A, X), A @ X, rtol=tol, atol=tol)\n"
        "        np.testing.assert_allclose(sparse.sddmm(A, U, V),\n"
        "            np.einsum('kd,kd->k', U[rows], V[A.indices]), rtol=tol, atol=tol)\n"
        "print(_kernels.LEVEL)\n"
    )
    for lvl in _kernels.available_levels():
        assert run_py(code, FASTPROX_SIMD=lvl) == lvl


def test_forcing_an_unknown_level_fails_clearly():
    res = subprocess.run([sys.executable, "-c", "import fastprox.prox"], capture_output=True,
                         text=True, env=dict(os.environ, FASTPROX_SIMD="avx9000"), timeout=120)
    assert res.returncode != 0 and "FASTPROX_SIMD" in res.stderr


def _blas_threads():
    from threadpoolctl import threadpool_info
    return [m["num_threads"] for m in threadpool_info() if m["user_api"] == "blas"]


def test_blas_single_threaded_limits_and_restores():
    """BLAS runs on one thread inside the block; nested blocks, an exception
    and overlapping blocks in two threads all leave the original limits behind."""
    import threading

    from threadpoolctl import threadpool_limits

    from fastprox._threads import blas_single_threaded

    if not _blas_threads():
        pytest.skip("threadpoolctl sees no BLAS library")
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        with blas_single_threaded():
            assert set(_blas_threads()) == {1}
            with blas_single_threaded():
                assert set(_blas_threads()) == {1}
            assert set(_blas_threads()) == {1}  # still inside the outer block
        assert _blas_threads() == before
        with pytest.raises(RuntimeError):
            with blas_single_threaded():
                raise RuntimeError("boom")
        assert _blas_threads() == before

        inside = threading.Barrier(3)
        leave = threading.Event()

        def hold():
            with blas_single_threaded():
                inside.wait(timeout=30)
                leave.wait(timeout=30)

        workers = [threading.Thread(target=hold, daemon=True) for _ in range(2)]
        for t in workers:
            t.start()
        try:
            # (whether another thread sees the limit depends on the OpenBLAS
            # version; what matters is that the last one out restores it)
            inside.wait(timeout=30)
        finally:
            leave.set()
            for t in workers:
                t.join(timeout=30)
        assert _blas_threads() == before


def test_blas_single_threaded_skips_arrays_blas_keeps_serial():
    """Below the size at which BLAS would thread, the block leaves the limit alone."""
    from threadpoolctl import threadpool_limits

    from fastprox._threads import _BLAS_SERIAL_SIZE, blas_single_threaded

    if not _blas_threads():
        pytest.skip("threadpoolctl sees no BLAS library")
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        with blas_single_threaded(_BLAS_SERIAL_SIZE - 1):
            assert _blas_threads() == before
        with blas_single_threaded(_BLAS_SERIAL_SIZE):
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before


def test_lasso_fit_restores_blas_threads():
    from fastprox.linear_model import Lasso
    from threadpoolctl import threadpool_limits

    if not _blas_threads():
        pytest.skip("threadpoolctl sees no BLAS library")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 20)), rng.standard_normal(50)
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        Lasso(alpha=0.01).fit(X, y)
        assert _blas_threads() == before


@pytest.mark.parametrize("where", ["after the change", "inside the change"])
def test_blas_limited_survives_an_interrupt_in_its_bookkeeping(monkeypatch, where):
    """A KeyboardInterrupt (Ctrl-C during a fit) that lands while a block sets
    the limit leaves no block behind: the next block limits BLAS and restores
    the limits found, as if nothing had happened."""
    from threadpoolctl import threadpool_limits

    from fastprox import _threads

    if not _blas_threads():
        pytest.skip("threadpoolctl sees no BLAS library")
    real_set, real_release = _threads._set_blas, _threads._release_blas_control
    state = {"armed": True, "released": 0}

    def set_then_interrupt(limit):
        real_set(limit)
        if state["armed"]:
            state["armed"] = False
            raise KeyboardInterrupt

    def release_interrupting_midway():
        real_release()
        state["released"] += 1
        if state["armed"] and state["released"] == 2:  # the limit set, not yet recorded
            state["armed"] = False
            raise KeyboardInterrupt

    if where == "after the change":
        monkeypatch.setattr(_threads, "_set_blas", set_then_interrupt)
    else:
        monkeypatch.setattr(_threads, "_release_blas_control", release_interrupting_midway)
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        with pytest.raises(KeyboardInterrupt):
            with _threads.blas_single_threaded():
                pass
        assert not state["armed"] and _threads._blas_active == []
        assert _blas_threads() == before
        with _threads.blas_single_threaded():
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before


def test_blas_loaded_after_the_first_block_is_limited_too():
    """A BLAS that loads later (scipy.linalg's OpenBLAS after numpy's) is found
    by the next block: fastprox's solvers would otherwise leave it threaded."""
    code = (
        "import sys, numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from fastprox._threads import blas_single_threaded\n"
        "def blas():\n"
        "    return sorted((m['filepath'], m['num_threads']) for m in threadpool_info()\n"
        "                  if m['user_api'] == 'blas')\n"
        "with blas_single_threaded():\n"
        "    pass\n"
        "n_before = len(blas())\n"
        "import scipy.linalg\n"
        "found = blas()\n"
        "with blas_single_threaded():\n"
        "    inside = {n for _, n in blas()}\n"
        "print(n_before, len(found), sorted(inside), blas() == found, sep='|')\n"
    )
    n_before, n_found, inside, restored = run_py(code).split("|")
    if int(n_found) <= int(n_before):
        pytest.skip("scipy.linalg brings no BLAS of its own here")
    assert inside == "[1]" and restored == "True"
