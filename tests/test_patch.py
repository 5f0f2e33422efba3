"""Tests of fastprox.patch_sklearn / unpatch_sklearn."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastprox
import fastprox.linear_model as fl

# An unchanged scikit-learn user script: it knows nothing about fastprox.
USER_SCRIPT = textwrap.dedent("""
    import json
    import warnings

    import numpy as np
    from sklearn.datasets import make_regression
    from sklearn.linear_model import ElasticNet, Lasso, LassoCV
    from sklearn.linear_model._coordinate_descent import ElasticNetCV
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    warnings.simplefilter("ignore")
    X, y = make_regression(200, 80, n_informative=10, noise=3.0, random_state=0)
    out = {}
    models = {
        "Lasso": Lasso(alpha=0.5, tol=1e-8, max_iter=10000),
        "ElasticNet": ElasticNet(alpha=0.5, l1_ratio=0.7, tol=1e-8, max_iter=10000),
        "LassoCV": LassoCV(cv=3, tol=1e-8, max_iter=10000),
        "ElasticNetCV": ElasticNetCV(l1_ratio=[0.5, 0.9], cv=3, tol=1e-8, max_iter=10000),
    }
    for name, model in models.items():
        model.fit(X, y)
        out[name] = {"module": type(model).__module__, "coef": model.coef_.tolist(),
                     "intercept": float(model.intercept_),
                     "alpha": float(model.alpha_ if hasattr(model, "alpha_") else model.alpha)}
    pipe = make_pipeline(StandardScaler(), Lasso(tol=1e-8, max_iter=10000))
    gs = GridSearchCV(pipe, {"lasso__alpha": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
    step = gs.best_estimator_[-1]
    out["grid"] = {"module": type(step).__module__, "coef": step.coef_.tolist(),
                   "intercept": float(step.intercept_), "alpha": float(step.alpha)}
    print(json.dumps(out))
""")


def _run(script_path, patch):
    if patch:
        code = ("import fastprox, runpy; fastprox.patch_sklearn(); "
                f"runpy.run_path({str(script_path)!r}, run_name='__main__')")
        cmd = [sys.executable, "-c", code]
    else:
        cmd = [sys.executable, str(script_path)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_unchanged_user_script_runs_on_fastprox(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    ref = _run(script, patch=False)
    got = _run(script, patch=True)
    for name in ref:
        assert ref[name]["module"].startswith("sklearn."), name
        assert got[name]["module"].startswith("fastprox."), name
        assert got[name]["alpha"] == pytest.approx(ref[name]["alpha"], rel=1e-6), name
        np.testing.assert_allclose(got[name]["coef"], ref[name]["coef"], rtol=1e-4, atol=1e-4,
                                   err_msg=name)
        assert got[name]["intercept"] == pytest.approx(ref[name]["intercept"], abs=1e-3)


@pytest.fixture
def clean():
    fastprox.unpatch_sklearn()
    yield
    fastprox.unpatch_sklearn()


def test_patch_is_reversible_and_idempotent(clean):
    import sklearn.linear_model as lm
    import sklearn.linear_model._coordinate_descent as cd
    originals = {n: (getattr(lm, n), getattr(cd, n)) for n in fastprox._patch.PATCHABLE}
    assert not fastprox.sklearn_is_patched()
    first = fastprox.patch_sklearn()
    second = fastprox.patch_sklearn()
    assert first == second == sorted(fastprox._patch.PATCHABLE)
    for name in first:
        assert getattr(lm, name) is getattr(fl, name)
        assert getattr(cd, name) is getattr(fl, name)
    from sklearn.linear_model import Lasso
    assert Lasso is fl.Lasso and fastprox.sklearn_is_patched("Lasso")
    fastprox.unpatch_sklearn()
    for name, (a, b) in originals.items():
        assert getattr(lm, name) is a and getattr(cd, name) is b
    assert not fastprox.sklearn_is_patched()
    fastprox.unpatch_sklearn()  # unpatching twice is harmless
    for name, (a, b) in originals.items():
        assert getattr(lm, name) is a


def test_patch_subset_and_unknown_names(clean):
    import sklearn.linear_model as lm
    sk_enet = lm.ElasticNet
    assert fastprox.patch_sklearn(["Lasso"]) == ["Lasso"]
    assert lm.Lasso is fl.Lasso and lm.ElasticNet is sk_enet
    with pytest.raises(ValueError, match="no drop-in equivalent"):
        fastprox.patch_sklearn(["LinearRegression"])
    fastprox.unpatch_sklearn(["Lasso"])
    assert lm.Lasso.__module__.startswith("sklearn")
