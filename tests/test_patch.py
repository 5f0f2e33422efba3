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


PUBLIC_ONLY = ("LogisticRegression", "LogisticRegressionCV", "SGDClassifier", "SGDRegressor")


def test_patch_is_reversible_and_idempotent(clean):
    import sklearn.linear_model as lm
    import sklearn.linear_model._coordinate_descent as cd
    import sklearn.linear_model._logistic as lg
    names = sorted(fastprox._patch.PATCHABLE)
    assert set(PUBLIC_ONLY) <= set(names)
    originals = {n: (getattr(lm, n), getattr(cd, n, None)) for n in names}
    sk_logistic = lg.LogisticRegression
    assert not fastprox.sklearn_is_patched()
    first = fastprox.patch_sklearn()
    second = fastprox.patch_sklearn()
    assert first == second == names
    for name in first:
        assert getattr(lm, name) is getattr(fl, name)
        if name not in PUBLIC_ONLY:
            assert getattr(cd, name) is getattr(fl, name)
    # scikit-learn's LogisticRegressionCV keeps building its own LogisticRegression
    assert lg.LogisticRegression is sk_logistic
    from sklearn.linear_model import Lasso, LogisticRegression, SGDClassifier, SGDRegressor
    assert Lasso is fl.Lasso and fastprox.sklearn_is_patched("Lasso")
    assert LogisticRegression is fl.LogisticRegression
    from sklearn.linear_model import LogisticRegressionCV
    assert LogisticRegressionCV is fl.LogisticRegressionCV
    assert lg.LogisticRegressionCV.__module__.startswith("sklearn")
    assert SGDClassifier is fl.SGDClassifier and SGDRegressor is fl.SGDRegressor
    fastprox.unpatch_sklearn()
    for name, (a, b) in originals.items():
        assert getattr(lm, name) is a and getattr(cd, name, None) is b
        assert a.__module__.startswith("sklearn")
    assert not fastprox.sklearn_is_patched()
    fastprox.unpatch_sklearn()  # unpatching twice is harmless
    for name, (a, b) in originals.items():
        assert getattr(lm, name) is a


def test_patched_logistic_regression_fits_sklearn_model(clean):
    """An unchanged script's LogisticRegression: same model, fallback for explicit solvers."""
    from sklearn.datasets import make_classification
    import sklearn.linear_model as lm
    sk_cls = lm.LogisticRegression
    X, y = make_classification(300, 20, n_informative=5, random_state=0)
    ref = sk_cls(C=0.3, l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=100_000,
                 random_state=0).fit(X, y)
    fastprox.patch_sklearn(["LogisticRegression"])
    fast = lm.LogisticRegression(C=0.3, l1_ratio=1.0, tol=1e-10).fit(X, y)
    same = lm.LogisticRegression(C=0.3, l1_ratio=1.0, solver="saga", tol=1e-10,
                                 max_iter=100_000, random_state=0).fit(X, y)
    assert type(fast).__module__.startswith("fastprox")
    assert np.count_nonzero(fast.coef_) == np.count_nonzero(ref.coef_)
    np.testing.assert_allclose(fast.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_array_equal(same.coef_, ref.coef_)  # scikit-learn's own saga ran
    # scikit-learn's LogisticRegressionCV still works on top of the patch
    cv = lm.LogisticRegressionCV(Cs=3, cv=3).fit(X, y)
    assert cv.coef_.shape == (1, 20)


def test_patched_logistic_regression_cv(clean):
    """An unchanged script's LogisticRegressionCV: fastprox's, same choice of C as scikit-learn."""
    from sklearn.datasets import make_classification
    import sklearn.linear_model as lm
    X, y = make_classification(300, 20, n_informative=5, random_state=0)
    params = dict(Cs=np.logspace(-3, 1, 6), l1_ratios=(0.0,), cv=3, scoring="accuracy",
                  use_legacy_attributes=False)
    ref = lm.LogisticRegressionCV(tol=1e-10, max_iter=10_000, **params).fit(X, y)
    fastprox.patch_sklearn(["LogisticRegressionCV"])
    fast = lm.LogisticRegressionCV(tol=1e-8, **params).fit(X, y)
    same = lm.LogisticRegressionCV(solver="lbfgs", tol=1e-10, max_iter=10_000,
                                   **params).fit(X, y)  # scikit-learn's, through the fallback
    assert type(fast).__module__.startswith("fastprox")
    assert fast.C_ == ref.C_
    np.testing.assert_allclose(fast.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_array_equal(same.coef_, ref.coef_)


def test_patch_subset_and_unknown_names(clean):
    import sklearn.linear_model as lm
    sk_enet = lm.ElasticNet
    assert fastprox.patch_sklearn(["Lasso"]) == ["Lasso"]
    assert lm.Lasso is fl.Lasso and lm.ElasticNet is sk_enet
    with pytest.raises(ValueError, match="no drop-in equivalent"):
        fastprox.patch_sklearn(["LinearRegression"])
    fastprox.unpatch_sklearn(["Lasso"])
    assert lm.Lasso.__module__.startswith("sklearn")
