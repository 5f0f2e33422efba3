"""The environment for running bench/ scripts in a subprocess from the tests."""
import os


def bench_env():
    """The current environment, with the fastprox this test process imports on the path
    (and no forced kernel level), so the script measures the same build."""
    import fastprox

    env = dict(os.environ)
    env.pop("FASTPROX_SIMD", None)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastprox.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    return env
