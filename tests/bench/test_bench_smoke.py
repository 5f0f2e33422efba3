"""Smoke tests for the benchmark scripts: each runs end to end at tiny sizes.

The scripts are not part of the package, so nothing else would notice an API
change breaking them. Each one is run in a subprocess with ``--quick`` and
must exit 0 (which also means our results agreed with the reference) and
write JSON with the expected keys.
"""
import json
import os
import subprocess
import sys

import pytest
from _bench_env import bench_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench")

DOC_KEYS = {"script", "question", "created", "args", "machine", "bandwidth", "rows"}
MACHINE_KEYS = {"cpu_model", "logical_cpus", "fastprox", "threadpools", "numpy", "scipy"}
ROW_KEYS = {"op", "dtype", "size", "threads", "ms_ours", "ms_ref", "speedup", "agrees"}


def _run(script, *args, tmp_path):
    out = tmp_path / f"{script}.json"
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, f"{script}.py"), "--quick", "--json", str(out),
         *args],
        cwd=ROOT, env=bench_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    with open(out) as f:
        return json.load(f), proc.stdout


@pytest.mark.parametrize("script, ops", [
    ("bench_prox", {"sgd_step l1+l2", "adam_step l1", "momentum_step l1+l2", "soft_threshold"}),
    ("bench_spmv", {"spmv", "spmv_t", "spmm", "sddmm", "layer spmv", "layer spmm",
                    "prune_to_csr sparsity", "prune_to_csr threshold"}),
])
def test_script_runs(script, ops, tmp_path):
    doc, stdout = _run(script, tmp_path=tmp_path)
    assert DOC_KEYS <= set(doc)
    assert doc["script"] == script
    assert MACHINE_KEYS <= set(doc["machine"])
    assert {"1", "2"} <= set(doc["bandwidth"])
    assert all(b["gbps"] > 0 for b in doc["bandwidth"].values())
    rows = doc["rows"]
    assert {r["op"] for r in rows} == ops
    for r in rows:
        assert ROW_KEYS <= set(r), r
        assert r["ms_ours"] > 0 and r["ms_ref"] > 0
        assert r["agrees"], r
    assert {r["dtype"] for r in rows} == {"float32", "float64"}
    assert {r["threads"] for r in rows} == {1, 2}
    assert "speed-up" in stdout or "x ref" in stdout  # the table was printed


def test_bench_spmv_layers(tmp_path):
    """The deployment-sized layers case alone: batch 1 by spmv, larger batches by spmm,
    against dense BLAS and SciPy."""
    doc, stdout = _run("bench_spmv", "--ops", "layers", "--layer-shapes", "96x96", "96x32",
                       "--layer-sparsities", "0.8", "0.95", "--layer-batches", "1", "3",
                       tmp_path=tmp_path)
    rows = doc["rows"]
    assert {r["op"] for r in rows} == {"layer spmv", "layer spmm"}
    assert len(rows) == 2 * 2 * 2 * 2 * 2  # shapes x sparsities x dtypes x batches x threads
    for r in rows:
        assert r["case"] == "layers" and r["agrees"], r
        assert (r["op"] == "layer spmv") == (r["batch"] == 1)
        assert r["ref"] == "dense W@X" and r["ms_ref"] > 0 and r["ms_scipy"] > 0
        assert r["speedup_scipy"] > 0 and r["gflops"] > 0
        assert (r["gbps"] is not None) == (r["batch"] == 1)
    assert {tuple(r["shape"]) for r in rows} == {(96, 96), (96, 32)}
    assert {r["sparsity"] for r in rows} == {0.8, 0.95}
    assert "x scipy" in stdout


def test_simd_comparison(tmp_path):
    doc, stdout = _run("bench_prox", "--simd", "all", "--kernels", "sgd_step", "--dtypes",
                       "float64", "--threads", "1", "--small-n", "0", tmp_path=tmp_path)
    assert doc["levels"][0] == "baseline"
    assert set(doc["runs"]) == set(doc["levels"])
    for lvl, run in doc["runs"].items():
        assert run["machine"]["fastprox"]["simd_level"] == lvl
    assert all(f"ms_{lvl}" in r for r in doc["rows"] for lvl in doc["levels"])


def _alive_spinner(pid):
    """Whether ``pid`` still runs the bench's busy neighbour (False once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"getppid" in f.read()
    except OSError:
        return False


def test_bench_threads_runs(tmp_path):
    doc, stdout = _run("bench_threads", tmp_path=tmp_path)
    nested = [r for r in doc["rows"] if "scenario" not in r]
    scenario = [r for r in doc["rows"] if "scenario" in r]
    assert {r["op"] for r in nested} == {"spmm", "Lasso.fit", "MLP.predict_proba",
                                         "LassoCV.fit"}
    # 1 vs 2 threads: every kernel in every scenario, the neighbour gone afterwards
    assert {(r["op"], r["scenario"]) for r in scenario} == {
        (k, s) for k in ("spmm", "spmm b16", "spmv", "sgd_step", "Lasso.fit", "MLP.partial_fit")
        for s in ("quiet", "busy neighbour", "after BLAS")}
    for r in scenario:
        assert r["ms_1t"] > 0 and r["ms_2t"] > 0 and r["agrees"], r
        assert abs(r["ratio_2t_1t"] - r["ms_2t"] / r["ms_1t"]) < 1e-9
        assert ("neighbour_pid" in r) == (r["scenario"] == "busy neighbour")
        if "neighbour_pid" in r:
            assert not _alive_spinner(r["neighbour_pid"]), r
    assert "2 thr / 1 thr" in stdout
    rows = doc["rows"]
    configs = {r["config"] for r in nested}
    assert "serial" in configs and any("inner all" in c for c in configs)
    assert any("loky" in c for c in configs) and any("threading" in c for c in configs)
    for r in rows:
        assert r["ms"] > 0 and r["speedup"] > 0 and r["agrees"], r
    assert "serial / nested" in stdout


def test_bench_sgd_runs(tmp_path):
    doc, stdout = _run("bench_sgd", "--dtypes", "float64", tmp_path=tmp_path)
    assert DOC_KEYS <= set(doc)
    rows = doc["rows"]
    assert {r["op"] for r in rows} == {
        "SGDRegressor l1", "SGDRegressor elasticnet", "SGDClassifier log_loss l1",
        "SGDClassifier log_loss elasticnet", "SGDClassifier hinge l1",
        "SGDClassifier hinge elasticnet"}
    for r in rows:
        assert ROW_KEYS <= set(r), r
        assert r["ms_ours"] > 0 and r["ms_ref"] > 0 and r["agrees"], r
        assert r["nnz_ours"] >= 0 and r["obj_ours"] > 0 and r["obj_ref"] > 0
    assert "speed-up" in stdout


def test_bench_lasso_runs(tmp_path):
    """Lasso, ElasticNet, float32, LassoCV and logistic sections at tiny sizes."""
    out = tmp_path / "bench_lasso.json"
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "bench_lasso.py"), "--quick", "--no-others",
         "--repeat", "1", "--cases", "diabetes", "dense", "--json", str(out)],
        cwd=ROOT, env=bench_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out) as f:
        rows = json.load(f)["rows"]
    ops = {r["op"] for r in rows}
    assert {"Lasso", "ElasticNet l1_ratio=0.5", "LassoCV", "LogisticRegression-l1"} <= ops
    assert {"float32", "float64"} <= {r["dtype"] for r in rows}
    for r in rows:
        assert r["ms_ours"] > 0 and r["ms_ref"] > 0, r
        if r["op"].startswith(("Lasso", "ElasticNet")) and r["op"] != "LassoCV":
            assert abs(r["rel_objective_diff"]) < 1e-5, r  # same objective at tol 1e-6
        elif r["op"].startswith("Logistic"):
            # liblinear also penalises the intercept; saga stops at its default tol
            assert abs(r["rel_objective_diff"]) < 5e-3, r
