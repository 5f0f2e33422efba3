"""Thread policy, kernel dispatch and the info command."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastprox
from fastprox import _dispatch, _openmp


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


def test_baseline_kernels_agree_with_dispatched():
    """Every ISA variant the CPU supports gives the same answers (up to FMA rounding)."""
    code = (
        "import numpy as np, scipy.sparse as sp\n"
        "from fastprox import prox, sparse, _dispatch\n"
        "rng = np.random.default_rng(1)\n"
        "w = rng.standard_normal(100_001); g = rng.standard_normal(100_001)\n"
        "prox.sgd_step(w, g, 0.1, 0.05, 0.01)\n"
        "A = sp.random_array((3000, 200), density=0.05, format='csr', rng=rng)\n"
        "y = sparse.spmm(A, rng.standard_normal((200, 37)))\n"
        "print(_dispatch.LEVEL, repr(float(w.sum())), repr(float(y.sum())))\n"
    )
    results = {lvl: run_py(code, FASTPROX_SIMD=lvl).split() for lvl in _dispatch.available_levels()}
    for lvl, (level, ws, ys) in results.items():
        assert level == lvl
        np.testing.assert_allclose(float(ws), float(results["baseline"][1]), rtol=1e-12)
        np.testing.assert_allclose(float(ys), float(results["baseline"][2]), rtol=1e-12)


def test_forcing_an_unknown_level_fails_clearly():
    res = subprocess.run([sys.executable, "-c", "import fastprox.prox"], capture_output=True,
                         text=True, env=dict(os.environ, FASTPROX_SIMD="avx9000"), timeout=120)
    assert res.returncode != 0 and "FASTPROX_SIMD" in res.stderr
