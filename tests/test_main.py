"""``python -m fastprox bench`` runs bench/run_all.py only from where it is told.

It looks in ``--bench-dir DIR``, then ``$FASTPROX_BENCH_DIR``, then the source
checkout the imported package came from (``<checkout>/src/fastprox`` with
``<checkout>/bench/run_all.py``); never in the current directory or its
parents, where anyone with write access to a shared parent (a temp directory)
could plant a script.
"""
import os
import subprocess
import sys

import pytest

from fastprox import __main__ as cli

RUN_ALL = """\
import os, sys
def main(argv):
    with open(os.environ["FASTPROX_TEST_MARKER"], "a") as f:
        f.write({tag!r} + " " + " ".join(argv) + "\\n")
    return 0
"""


def _plant(directory, tag):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "run_all.py").write_text(RUN_ALL.format(tag=tag))
    return directory


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No checkout next to the package, no FASTPROX_BENCH_DIR, a marker file."""
    monkeypatch.chdir(tmp_path)  # never the repository: its bench/ must not start here
    marker = tmp_path / "marker.txt"
    monkeypatch.setenv("FASTPROX_TEST_MARKER", str(marker))
    monkeypatch.delenv("FASTPROX_BENCH_DIR", raising=False)
    monkeypatch.setattr(cli, "__file__",
                        str(tmp_path / "venv" / "site-packages" / "fastprox" / "__main__.py"))
    return marker


def _ran(marker):
    return marker.read_text().splitlines() if marker.exists() else []


def test_planted_run_all_in_a_parent_is_not_executed(tmp_path, env, monkeypatch, capsys):
    _plant(tmp_path / "bench", "planted")  # a shared parent, e.g. /tmp/bench/run_all.py
    work = tmp_path / "some" / "project"
    work.mkdir(parents=True)
    _plant(work / "bench", "cwd")  # ./bench of the current directory is not looked at either
    monkeypatch.chdir(work)
    assert cli.find_bench_dir() is None
    assert cli.main(["bench", "--quick"]) == 2
    assert _ran(env) == []
    err = capsys.readouterr().err
    assert "--bench-dir" in err and "FASTPROX_BENCH_DIR" in err


def test_bench_dir_option(tmp_path, env, monkeypatch):
    d = _plant(tmp_path / "mine", "option")
    _plant(tmp_path / "other", "env")
    monkeypatch.setenv("FASTPROX_BENCH_DIR", str(tmp_path / "other"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "--bench-dir", str(d), "--smoke"]) == 0
    assert cli.main(["bench", "--smoke", f"--bench-dir={d}"]) == 0
    # passed on: run_all.py has the same option (where its bench_*.py scripts are)
    assert _ran(env) == [f"option --bench-dir {d} --smoke", f"option --smoke --bench-dir={d}"]


def test_env_variable(tmp_path, env, monkeypatch):
    d = _plant(tmp_path / "from_env", "env")
    monkeypatch.setenv("FASTPROX_BENCH_DIR", str(d))
    assert cli.find_bench_dir() == str(d)
    assert cli.main(["bench", "--quick"]) == 0
    assert _ran(env) == ["env --quick"]


def test_source_checkout_of_the_package(tmp_path, env, monkeypatch):
    checkout = tmp_path / "checkout"
    _plant(checkout / "bench", "checkout")
    monkeypatch.setattr(cli, "__file__", str(checkout / "src" / "fastprox" / "__main__.py"))
    monkeypatch.chdir(tmp_path)
    assert cli.find_bench_dir() == str(checkout / "bench")
    assert cli.main(["bench"]) == 0
    assert _ran(env) == ["checkout "]


def test_package_outside_src_is_no_checkout(tmp_path, env, monkeypatch):
    # site-packages/fastprox: site-packages/../bench is not a checkout's bench
    _plant(tmp_path / "venv" / "bench", "beside site-packages")
    assert cli.find_bench_dir() is None
    assert cli.main(["bench"]) == 2
    assert _ran(env) == []


@pytest.mark.parametrize("how", ["option", "env"])
def test_pointed_dir_without_run_all_is_an_error(tmp_path, env, monkeypatch, capsys, how):
    checkout = tmp_path / "checkout"
    _plant(checkout / "bench", "checkout")  # would be found, but the user pointed elsewhere
    monkeypatch.setattr(cli, "__file__", str(checkout / "src" / "fastprox" / "__main__.py"))
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["bench"]
    if how == "option":
        argv += ["--bench-dir", str(empty)]
    else:
        monkeypatch.setenv("FASTPROX_BENCH_DIR", str(empty))
    assert cli.main(argv) == 2
    assert _ran(env) == []
    err = capsys.readouterr().err
    assert str(empty) in err and "run_all.py" in err


def test_this_checkout_from_elsewhere(tmp_path):
    """The real command, run from an unrelated directory, finds this checkout's bench/."""
    import fastprox

    pkg = os.path.dirname(os.path.abspath(fastprox.__file__))
    root = os.path.dirname(os.path.dirname(pkg))
    if os.path.basename(os.path.dirname(pkg)) != "src" or \
            not os.path.isfile(os.path.join(root, "bench", "run_all.py")):
        pytest.skip("fastprox is not imported from a source checkout with bench/")
    env = dict(os.environ)
    env.pop("FASTPROX_BENCH_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.dirname(pkg), env.get("PYTHONPATH"))
                                        if p)
    proc = subprocess.run([sys.executable, "-m", "fastprox", "bench", "--help"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--bench-dir" in proc.stdout
