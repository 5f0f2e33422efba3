"""Smoke tests for bench/run_all.py and ``python -m fastprox bench``.

run_all runs in ``--smoke`` mode (the smallest sizes) on a copy of the bench
directory holding the fast scripts plus one that fails, so that discovery,
failure recording, the combined JSON and RESULTS.md are all exercised in a few
seconds. bench_mlp (about 15 s even with --quick) is left out here; its
RESULTS.md section is checked on a synthetic result.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest
from _bench_env import bench_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench")

pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(BENCH, "run_all.py")),
                                reason="bench/ not in this checkout")


@pytest.fixture
def bench_copy(tmp_path):
    d = tmp_path / "bench"
    d.mkdir()
    for f in ("_common.py", "_machine.py", "_summary.py", "run_all.py", "bench_prox.py",
              "bench_spmv.py"):
        shutil.copy(os.path.join(BENCH, f), d / f)
    (d / "bench_broken.py").write_text(
        "import sys\nprint('about to fail')\nsys.exit('bench_broken: deliberate failure')\n")
    return d


def test_run_all_smoke(bench_copy, tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(bench_copy / "run_all.py"), "--smoke", "--out", str(out),
         "--bench-dir", str(bench_copy)],
        cwd=ROOT, env=bench_env(), capture_output=True, text=True, timeout=120)
    # bench_broken fails, so the run as a whole reports failure, but it goes on
    assert proc.returncode == 1, proc.stdout + proc.stderr
    files = sorted(os.listdir(out))
    jsons = [f for f in files if f.endswith("-smoke.json")]
    assert len(jsons) == 1 and "RESULTS.md" in files, files
    with open(out / jsons[0]) as f:
        doc = json.load(f)
    assert doc["mode"] == "smoke"
    m = doc["machine"]
    assert {"cpu_model", "logical_cpus", "openmp_threads", "blas", "versions"} <= set(m)
    assert "fastprox" in m["versions"] and "numpy" in m["versions"]
    s = doc["scripts"]
    assert s["bench_prox"]["status"] == "ok" and s["bench_spmv"]["status"] == "ok"
    assert s["bench_broken"]["status"] == "failed"
    assert "deliberate failure" in s["bench_broken"]["stderr"]
    assert s["bench_mlp"]["status"] == "missing" and s["bench_lasso"]["status"] == "missing"
    for name in ("bench_prox", "bench_spmv"):
        assert s[name]["result"]["rows"], name
        assert "--quick" in s[name]["argv"]
    assert {r["density"] for r in s["bench_spmv"]["result"]["rows"] if r["op"] == "spmv"} \
        == {0.01, 0.05}
    md = (out / "RESULTS.md").read_text()
    for heading in ("## Machine", "## bench_prox", "## bench_spmv", "## bench_broken",
                    "## bench_lasso", "## Thread scaling", "## Plots"):
        assert heading in md, heading
    assert "deliberate failure" in md
    assert "speed-up vs NumPy" in md and "x ref pre" in md


def test_children_run_without_openblas_overrides(monkeypatch):
    sys.path.insert(0, BENCH)
    try:
        import run_all
    finally:
        sys.path.remove(BENCH)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "1000")
    env = run_all.child_env()
    assert "OPENBLAS_CORETYPE" not in env and "OPENBLAS_L2_SIZE" not in env
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"  # ours untouched
    assert run_all.supported(["--budget", "0.1", "--n", "5", "--x"], {"--n"}) == ["--n", "5"]


def _summary_module():
    """bench/_summary.py, imported from the bench directory."""
    sys.path.insert(0, BENCH)
    try:
        import _summary
    finally:
        sys.path.remove(BENCH)
    return _summary


def test_summary_mlp_and_generic_sections():
    _summary = _summary_module()
    mlp = {"dataset": "digits", "hidden": [64, 64], "sklearn": {"accuracy": 0.97},
           "fastprox": [
               {"sparsity": 0.0, "achieved_sparsity": 0.3, "accuracy": 0.98,
                "dense_epoch_ms": 2.0, "sparse_epoch_ms": float("nan"),
                "fwd_dense_b256_us": 10.0, "fwd_stored_b256_us": 10.0, "fwd_dense_b1_us": 1.0,
                "fwd_stored_b1_us": 1.0, "memory_ratio": 1.0, "storage": ["dense"]},
               {"sparsity": 0.9, "achieved_sparsity": 0.9, "accuracy": 0.96,
                "dense_epoch_ms": 2.0, "sparse_epoch_ms": 1.0, "fwd_dense_b256_us": 10.0,
                "fwd_stored_b256_us": 5.0, "fwd_dense_b1_us": 1.0, "fwd_stored_b1_us": 2.0,
                "memory_ratio": 5.0, "storage": ["csr"]}]}
    lasso = {"question": "Lasso vs sklearn", "rows": [
        {"op": "Lasso", "dtype": "float64", "size": "1000x100", "threads": 1, "speedup": 2.5,
         "ms_ours": 1.0, "ms_ref": 2.5}]}
    doc = {"created": "now", "mode": "smoke", "seconds": 1,
           "machine": {"blas": [], "versions": {"fastprox": "0"}},
           "scripts": {"bench_mlp": {"status": "ok", "result": mlp},
                       "bench_lasso": {"status": "ok", "result": lasso}}}
    md = _summary.results_markdown(doc, "x.json")
    assert "| 0.90 | 0.900 | 0.9600 | -2.00 | -1.00 | 2.00 | 2.00 | 0.50 | 5.0 | csr |" in md
    assert "Lasso vs sklearn" in md and "| Lasso | float64 | 1000x100 | 1 | 2.50 |" in md


def test_plots_drawn_from_results(tmp_path):
    pytest.importorskip("matplotlib")
    _summary = _summary_module()
    spmv = {"rows": [
        {"op": op, "dtype": "float64", "size": "100x100", "density": d, "threads": t,
         "speedup": 1.5, "ms_ours": 1.0 / t, "ms_ref": 1.5}
        for op in ("spmv", "spmv_t") for d in (0.01, 0.1) for t in (1, 2)]}
    mlp = {"dataset": "digits", "sklearn": {"accuracy": 0.97}, "fastprox": [
        {"sparsity": s, "achieved_sparsity": s, "accuracy": 0.98 - s / 10} for s in (0, .5, .9)]}
    lasso = {"rows": [{"op": "Lasso", "dtype": "float64", "size": "dense amax/10",
                       "alpha": 0.1, "threads": 2, "ms_ours": 1.0, "ms_ref": 3.0}]}
    doc = {"scripts": {"bench_spmv": {"status": "ok", "result": spmv},
                       "bench_mlp": {"status": "ok", "result": mlp},
                       "bench_lasso": {"status": "ok", "result": lasso}}}
    names, note = _summary.make_plots(doc, str(tmp_path))
    assert note is None
    assert set(names) == {"spmv_density.png", "thread_scaling.png", "mlp_accuracy.png",
                          "lasso_vs_sklearn.png"}
    for n in names:
        with open(tmp_path / n, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", n
    md = _summary.results_markdown(doc | {"created": "now", "mode": "smoke", "seconds": 1,
                                          "machine": {"blas": [], "versions": {}}},
                                   "x.json", names, note)
    assert "![mlp_accuracy](mlp_accuracy.png)" in md


def test_layers_plot(tmp_path):
    """bench_spmv's layers case gets its own plot: speed-up vs sparsity per batch size."""
    pytest.importorskip("matplotlib")
    _summary = _summary_module()
    rows = [{"op": "layer spmv" if b == 1 else "layer spmm", "case": "layers",
             "dtype": dt, "size": f"64x64 s={s:g} b={b}", "sparsity": s, "batch": b,
             "threads": t, "ms_ours": 1.0, "ms_pre": 0.9, "ms_ref": 2.0, "ms_scipy": 3.0,
             "speedup": 2.0, "speedup_pre": 2.2, "speedup_scipy": 3.3}
            for dt in ("float32", "float64") for s in (0.8, 0.9) for b in (1, 16)
            for t in (1, 2)]
    doc = {"scripts": {"bench_spmv": {"status": "ok", "result": {"rows": rows}}}}
    names, note = _summary.make_plots(doc, str(tmp_path))
    assert "layers_speedup.png" in names
    with open(tmp_path / "layers_speedup.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_main_bench_without_checkout(tmp_path, monkeypatch):
    from fastprox import __main__ as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "fastprox" / "x.py"))
    monkeypatch.delenv("FASTPROX_BENCH_DIR", raising=False)
    assert cli.find_bench_dir() is None
    assert cli.main(["bench", "--smoke"]) == 2
    monkeypatch.setenv("FASTPROX_BENCH_DIR", BENCH)
    assert cli.find_bench_dir() == BENCH
