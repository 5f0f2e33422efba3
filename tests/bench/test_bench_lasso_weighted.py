"""bench_lasso.py's weighted rows: fastprox and scikit-learn with the same sample weights."""
import json
import os
import subprocess
import sys

import numpy as np
from _bench_env import bench_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, BENCH)
import bench_lasso  # noqa: E402

sys.path.remove(BENCH)


def test_weighted_alpha_max_zeroes_the_weighted_lasso():
    from sklearn.linear_model import Lasso
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 15)), rng.standard_normal(40)
    sw = bench_lasso.sample_weights(40)
    a = bench_lasso.weighted_alpha_max(X, y, sw)
    assert not Lasso(alpha=a * 1.001, tol=1e-10).fit(X, y, sample_weight=sw).coef_.any()
    assert Lasso(alpha=a * 0.99, tol=1e-10).fit(X, y, sample_weight=sw).coef_.any()


def test_weighted_rows(tmp_path):
    out = tmp_path / "bench_lasso.json"
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "bench_lasso.py"), "--quick", "--no-others",
         "--no-cv", "--no-logistic", "--repeat", "1", "--divs", "10", "--enet-divs",
         "--weighted-divs", "10", "--cases", "diabetes", "sparse", "--json", str(out)],
        cwd=ROOT, env=bench_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out) as f:
        rows = json.load(f)["rows"]
    weighted = [r for r in rows if r["op"] == "Lasso weighted"]
    assert {r["data"] for r in weighted} == {"diabetes", "sparse"}
    assert {r["data"] for r in rows if r["op"] == "Lasso"} == {"diabetes", "sparse"}
    for r in weighted:
        assert r["size"].endswith("w amax/10") and r["ms_ours"] > 0 and r["ms_ref"] > 0
        assert abs(r["rel_objective_diff"]) < 1e-5, r  # same weighted objective at tol 1e-6
