"""The runnable examples in examples/ run to completion (exit code 0).

Each one runs in a subprocess, as a user would run it, with a timeout; the
whole file takes about 45 s on 2 cores. ``mnist_pruned.py`` needs the MNIST files of
``../shared/data/mnist`` and about 15 s more: it runs only when that directory
exists and ``FASTPROX_TEST_MNIST=1``; without the data it must exit with a
message, never download.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
FAST = sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "mnist_pruned.py")

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ not in this checkout")


def _run(name, *args, timeout=60):
    import fastprox

    env = dict(os.environ)
    pkg_parent = str(Path(fastprox.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    env.setdefault("MPLBACKEND", "Agg")
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_every_workflow_has_an_example():
    for name in ("prune_by_threshold.py", "structured_keep_ratio.py", "random_vs_magnitude.py",
                 "regularise_prune_finetune.py", "l1_vs_l2.py", "mnist_pruned.py"):
        assert (EXAMPLES / name).is_file(), name


@pytest.mark.parametrize("name", FAST)
def test_example_runs(name):
    proc = _run(name)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip(), f"{name} printed nothing"


def test_mnist_example_without_data_says_so(tmp_path):
    proc = _run("mnist_pruned.py", str(tmp_path), timeout=30)
    assert proc.returncode != 0
    assert "MNIST not found" in proc.stderr and "does not download" in proc.stderr


@pytest.mark.skipif(not MNIST_DIR.is_dir() or os.environ.get("FASTPROX_TEST_MNIST") != "1",
                    reason="needs ../shared/data/mnist and FASTPROX_TEST_MNIST=1")
def test_mnist_example_runs():
    proc = _run("mnist_pruned.py", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "after 10 epochs" in proc.stdout
