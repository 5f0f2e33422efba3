"""bench_spmv's optional MKL column (issue 16): present with its version where
sparse_dot_mkl imports, absent with --no-mkl, and never needed by fastprox itself;
the interleaved 1-thread time of rows above one thread."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = ["--quick", "--ops", "spmv", "layers", "--spmv-shape", "2000", "100",
         "--layer-shapes", "64x64", "--layer-sparsities", "0.9", "--layer-batches", "1", "4",
         "--threads", "1", "--dtypes", "float32", "--budget", "0.002", "--min-repeats", "1",
         "--bw-n", "100000"]


def _bench(tmp_path, *extra):
    out = tmp_path / "spmv.json"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_spmv.py"),
                           "--json", str(out), *SMALL, *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


def _has_mkl():
    code = "import sys; sys.path.insert(0, 'bench'); import bench_spmv; " \
           "print(bench_spmv.load_mkl()[1] is not None)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    return proc.stdout.strip() == "True"


def test_fastprox_never_loads_mkl():
    code = ("import sys, numpy as np, scipy.sparse as sp; from fastprox import sparse; "
            "A = sp.random(50, 40, density=0.2, format='csr', random_state=0); "
            "sparse.spmv(A, np.ones(40)); "
            "print(any(m.startswith('sparse_dot_mkl') for m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_no_mkl_leaves_the_column_empty(tmp_path):
    doc, stdout = _bench(tmp_path, "--no-mkl", "--threads", "1", "2")
    assert doc["mkl_version"] is None
    assert all(r["ms_mkl"] is None for r in doc["rows"])
    assert "MKL: not loaded" in stdout
    # rows above one thread carry our best call at 1 and at the row's threads, timed in a
    # set of their own (after the BLAS workers settle)
    for r in doc["rows"]:
        if r["threads"] == 1:
            assert r["ms_pre_1t"] is None and r["scaling"] is None
        else:
            assert r["ms_pre_1t"] > 0 and r["ms_pre_nt"] > 0
            assert np.isclose(r["scaling"], r["ms_pre_1t"] / r["ms_pre_nt"], rtol=1e-9)


@pytest.mark.skipif(not _has_mkl(), reason="sparse_dot_mkl / MKL not installed here")
def test_mkl_column_where_mkl_imports(tmp_path):
    doc, stdout = _bench(tmp_path)
    assert "Math Kernel Library" in doc["mkl_version"]
    assert f"MKL: {doc['mkl_version']}" in stdout
    rows = [r for r in doc["rows"] if r["op"] in ("spmv", "layer spmv", "layer spmm")]
    for r in rows:
        # int64 rows have no MKL time (sparse_dot_mkl would copy the indices every call)
        has = r["op"] != "spmv" or r["index_dtype"] == "int32"
        assert (r["ms_mkl"] is not None) == has, r["size"]
        if has:
            assert np.isclose(r["ms_pre_vs_mkl"], r["timing_pre_vs_mkl"]["median"] * 1e3)
            assert np.isclose(r["speedup_mkl"], r["ms_mkl"] / r["ms_pre_vs_mkl"], rtol=1e-9)
    assert "x MKL (" in stdout[stdout.index("Goals -- batch-1"):]
    assert all(r.get("ms_pre_vs_mkl") is None for r in doc["rows"] if r["ms_mkl"] is None)
