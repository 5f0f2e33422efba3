"""Smoke test for bench/bench_mlp.py: ``--quick`` on digits runs end to end (about 20 s).

Checks the JSON keys of every table, old and new: the ``fastprox`` rows (dense
and tuned), ``defaults``, ``posthoc`` (scikit-learn MLP -> ``from_sklearn`` ->
``prune(sparsity=0.9)`` -> 5 epochs of fine-tuning) and ``auto``
(``target_sparsity="auto"``).
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bench", "bench_mlp.py")

pytestmark = pytest.mark.skipif(not os.path.isfile(SCRIPT), reason="bench/ not in this checkout")

ROW_KEYS = {"model", "sparsity", "achieved_sparsity", "accuracy", "fit_s", "epochs",
            "dense_epoch_ms", "sparse_epoch_ms", "storage", "fwd_dense_b1_us",
            "fwd_stored_b1_us", "fwd_dense_b256_us", "fwd_stored_b256_us", "memory_ratio",
            "flop_ratio", "pickle_bytes"}
POSTHOC_KEYS = {"sparsity", "achieved_sparsity", "same_predictions_as_sklearn",
                "accuracy_dense", "accuracy_pruned", "accuracy", "finetune_epochs",
                "finetune_s", "fwd_dense_test_ms", "fwd_pruned_test_ms", "fwd_speedup",
                "fwd_speedup_1thread", "fwd_dense_b256_us", "fwd_stored_b256_us", "storage"}
AUTO_KEYS = {"max_score_drop", "chosen_sparsity", "accuracy", "fit_s", "tried",
             "validation_scores", "storage"}


def test_bench_mlp_quick(tmp_path):
    import fastprox

    env = dict(os.environ)
    env.pop("FASTPROX_SIMD", None)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastprox.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, SCRIPT, "--quick", "--no-plots", "--out",
                           str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (fn,) = tmp_path.glob("bench_mlp_digits_64-64_quick.json")
    doc = json.loads(fn.read_text())
    assert {"dataset", "hidden", "params", "sklearn", "fastprox", "defaults", "posthoc",
            "auto", "machine"} <= set(doc)
    assert [r["sparsity"] for r in doc["fastprox"]] == [0.0, 0.9]
    for r in doc["fastprox"] + doc["defaults"]:
        assert ROW_KEYS <= set(r), r
    (post,) = doc["posthoc"]
    assert POSTHOC_KEYS <= set(post)
    assert post["same_predictions_as_sklearn"] is True
    assert post["accuracy_dense"] == pytest.approx(doc["sklearn"]["accuracy"])
    assert abs(post["achieved_sparsity"] - 0.9) < 1e-3 and post["finetune_epochs"] == 5
    assert post["fwd_dense_test_ms"] > 0 and post["fwd_pruned_test_ms"] > 0
    (auto,) = doc["auto"]
    assert AUTO_KEYS <= set(auto)
    assert min(abs(auto["chosen_sparsity"] - s) for s in auto["tried"]) < 0.01  # a rung
    assert len(auto["tried"]) == len(auto["validation_scores"])
    assert "from_sklearn" in proc.stdout and "target_sparsity='auto'" in proc.stdout
