"""Smoke test for bench/bench_logistic.py: it runs end to end at tiny sizes.

Run in a subprocess with ``--quick`` (exit 0 also means every row reached
scikit-learn's objective); the JSON must hold one row per case, dtype and
thread count with the timing and objective keys.
"""
import json
import os
import subprocess
import sys

import pytest
from _bench_env import bench_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench")

pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(BENCH, "bench_logistic.py")),
                                reason="bench/ not in this checkout")

ROW_KEYS = {"op", "case", "dtype", "size", "classes", "threads", "ms_ours", "ms_ref",
            "speedup", "n_iter_ours", "n_iter_ref", "obj_ours", "obj_ref", "obj_rel", "agrees"}


def test_bench_logistic_quick(tmp_path):
    out = tmp_path / "bench_logistic.json"
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "bench_logistic.py"), "--quick", "--threads", "1",
         "--min-repeats", "1", "--budget", "0", "--json", str(out)],
        cwd=ROOT, env=bench_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out) as f:
        doc = json.load(f)
    assert doc["script"] == "bench_logistic"
    rows = doc["rows"]
    # 3 dense cases x 2 dtypes + the sparse case in float64, one thread count
    assert len(rows) == 3 * 2 + 1
    assert {r["classes"] for r in rows} == {2, 3}
    assert {r["dtype"] for r in rows} == {"float32", "float64"}
    assert any(r["sparse"] for r in rows)
    for r in rows:
        assert ROW_KEYS <= set(r), r
        assert r["ms_ours"] > 0 and r["ms_ref"] > 0 and r["agrees"], r
        assert abs(r["speedup"] - r["ms_ref"] / r["ms_ours"]) < 1e-9
        assert r["obj_rel"] <= 1e-5
    assert "speed-up" in proc.stdout
