"""Packaging: ``python -m build`` makes an sdist with the sources, tests and bench, and a wheel.

Slow (it compiles every kernel variant), so it runs only with
``FASTPROX_TEST_PACKAGING=1``. The sdist is built from the checkout and the
wheel from that sdist (``python -m build`` does both), so a file missing from
the sdist breaks the wheel build too.
"""
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = [
    pytest.mark.skipif(os.environ.get("FASTPROX_TEST_PACKAGING") != "1",
                       reason="builds sdist and wheel; set FASTPROX_TEST_PACKAGING=1"),
]

SDIST_FILES = [
    "pyproject.toml", "setup.py", "README.md", "CHANGELOG.md", "MANIFEST.in",
    "src/fastprox/__init__.py", "src/fastprox/_version.py", "src/fastprox/__main__.py",
    "src/fastprox/_kernels/prox_fast.pyx", "src/fastprox/_kernels/sparse_fast.pyx",
    "src/fastprox/_kernels/_openmp.pyx", "src/fastprox/_kernels/csr_kernels.h",
    "src/fastprox/_kernels/_shared.pxd",
    "tests/kernels/test_prox.py", "tests/kernels/test_sparse.py", "tests/bench/test_run_all.py",
    "bench/_common.py", "bench/_summary.py", "bench/run_all.py", "bench/README.md",
    "bench/bench_prox.py", "bench/bench_spmv.py", "bench/bench_mlp.py", "bench/_machine.py",
]


def _version():
    ns = {}
    with open(os.path.join(ROOT, "src", "fastprox", "_version.py")) as f:
        exec(f.read(), ns)
    return ns["__version__"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    args = [sys.executable, "-m", "build", "--outdir", str(out), ROOT]
    if os.environ.get("FASTPROX_TEST_PACKAGING_NO_ISOLATION") == "1":
        args.insert(3, "--no-isolation")  # offline machines: use this environment's tools
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out


def test_sdist_contents(dist):
    version = _version()
    (sdist,) = [p for p in os.listdir(dist) if p.endswith(".tar.gz")]
    assert sdist == f"fastprox-{version}.tar.gz"
    with tarfile.open(dist / sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = [f for f in SDIST_FILES if f not in names]
    assert not missing, missing
    # generated files and results stay out
    assert not [n for n in names if n.endswith((".so", ".c")) and not n.endswith(".h")]
    assert not [n for n in names if n.startswith("bench/results/") and n.endswith(".json")]


def test_wheel_contents(dist):
    version = _version()
    (wheel,) = [p for p in os.listdir(dist) if p.endswith(".whl")]
    assert wheel.startswith(f"fastprox-{version}-")
    with zipfile.ZipFile(dist / wheel) as z:
        names = set(z.namelist())
    assert "fastprox/__main__.py" in names and "fastprox/_version.py" in names
    exts = [n for n in names if n.endswith((".so", ".pyd"))]
    assert any("_openmp" in n for n in exts), exts
    assert any("/baseline/" in n and "sparse_fast" in n for n in exts), exts
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(dist / wheel) as z:
        text = z.read(meta).decode()
    for extra in ("bench", "distributed", "test"):
        assert f"Provides-Extra: {extra}" in text
