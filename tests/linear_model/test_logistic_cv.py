"""fastprox.linear_model.LogisticRegressionCV against scikit-learn's."""
import logging
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn import linear_model as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastprox.linear_model import LogisticRegression, LogisticRegressionCV
from fastprox.linear_model._logistic import L1_RATIO_SELECTS_PENALTY

# written in scikit-learn 1.8+'s spelling (``l1_ratio`` selects the penalty, here
# and in the scikit-learn references); the version is parsed once, in _logistic
pytestmark = pytest.mark.skipif(not L1_RATIO_SELECTS_PENALTY,
                                reason="scikit-learn < 1.8 spells the penalty with penalty=")

CS = np.logspace(-3, 1, 6)


def _datasets():
    Xb, yb = make_classification(240, 20, n_informative=5, random_state=0)
    Xi, yi = load_iris(return_X_y=True)
    Xd, yd = load_digits(return_X_y=True)
    Xd, yd = StandardScaler().fit_transform(Xd[::4]), yd[::4]
    return {"binary": (Xb, yb), "iris": (StandardScaler().fit_transform(Xi), yi),
            "digits": (Xd, yd)}


DATA = _datasets()


def _fit_both(data, l1_ratios, sk_solver, sk_tol=1e-10, **params):
    X, y = DATA[data]
    params = {"Cs": CS, "l1_ratios": l1_ratios, "cv": 3, "scoring": "accuracy",
              "use_legacy_attributes": False, **params}
    ours = LogisticRegressionCV(tol=1e-8, max_iter=1000, **params).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saga's ConvergenceWarning at the largest C
        ref = sk.LogisticRegressionCV(solver=sk_solver, tol=sk_tol, max_iter=20_000,
                                      random_state=0, **params).fit(X, y)
    return ours, ref


def _assert_same_attributes(ours, ref):
    for name in ("classes_", "Cs_", "l1_ratios_"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(ref, name))
    for name in ("coefs_paths_", "scores_", "n_iter_", "coef_", "intercept_"):
        assert getattr(ours, name).shape == getattr(ref, name).shape, name
    assert ours.C_ == ref.C_ and ours.l1_ratio_ == ref.l1_ratio_
    assert ours.n_iter_.dtype == ref.n_iter_.dtype


@pytest.mark.parametrize("data", list(DATA))
def test_l2_matches_sklearn_lbfgs(data):
    ours, ref = _fit_both(data, (0.0,), "lbfgs")
    _assert_same_attributes(ours, ref)
    np.testing.assert_array_equal(ours.scores_, ref.scores_)
    np.testing.assert_allclose(ours.coefs_paths_, ref.coefs_paths_, atol=1e-4)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4)


@pytest.mark.parametrize("data, l1_ratios", [("binary", (1.0,)), ("binary", (0.5, 1.0)),
                                             ("iris", (1.0,)), ("iris", (0.3, 0.8))])
def test_l1_and_elastic_net_match_sklearn_saga(data, l1_ratios):
    # saga is scikit-learn's only L1 / elastic-net solver for this estimator;
    # at the largest C it stops short of the optimum, so the paths are
    # compared with fastprox's own cold fits below and the choice here
    ours, ref = _fit_both(data, l1_ratios, "saga", sk_tol=1e-8)
    _assert_same_attributes(ours, ref)
    np.testing.assert_allclose(ours.scores_.mean(axis=0), ref.scores_.mean(axis=0),
                               atol=0.02)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-3)
    assert np.array_equal(ours.coef_ == 0, np.abs(ref.coef_) < 1e-6)


@pytest.mark.parametrize("data, l1_ratios", [("binary", (0.5, 1.0)), ("digits", (1.0,))])
def test_paths_are_the_cold_fits_of_each_fold(data, l1_ratios):
    """Every warm-started path entry is LogisticRegression fitted alone on its fold."""
    X, y = DATA[data]
    cv = LogisticRegressionCV(Cs=CS, l1_ratios=l1_ratios, cv=3, scoring="accuracy",
                              use_legacy_attributes=False, tol=1e-9).fit(X, y)
    from sklearn.model_selection import StratifiedKFold
    for f, (train, _) in enumerate(StratifiedKFold(3).split(X, y)):
        for r, rho in enumerate(l1_ratios):
            for c in (0, 3, 5):
                m = LogisticRegression(C=CS[c], l1_ratio=rho, tol=1e-9).fit(X[train], y[train])
                w = cv.coefs_paths_[f, r, c]
                path = LogisticRegression().set_params()
                path.classes_, path.coef_, path.intercept_ = m.classes_, w[:, :-1], w[:, -1]
                # the pure-L1 coefficients of collinear pixels are not unique:
                # compare the fitted probabilities; at C=10 on digits the optimum
                # is so flat that fits 1e-15 apart in the mean-scaled objective
                # differ by up to ~3e-5 in them
                np.testing.assert_allclose(path.predict_proba(X), m.predict_proba(X),
                                           atol=1e-4 if CS[c] > 1 else 1e-5)
                if data == "binary":
                    np.testing.assert_allclose(w[:, :-1], m.coef_, atol=1e-5)


@pytest.mark.parametrize("data, l1_ratios, solver", [("binary", (0.0,), "lbfgs"),
                                                     ("iris", (0.0,), "lbfgs"),
                                                     ("binary", np.array([0.5, 1.0]), "saga")])
def test_refit_false_as_sklearn(data, l1_ratios, solver):
    # an elastic-net grid as an array: scikit-learn 1.9's refit=False indexes it
    ours, ref = _fit_both(data, l1_ratios, solver, sk_tol=1e-10 if solver == "lbfgs" else 1e-8,
                          refit=False)
    _assert_same_attributes(ours, ref)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4 if solver == "lbfgs" else 2e-3)


@pytest.mark.parametrize("data", ["binary", "iris"])
@pytest.mark.parametrize("l1_ratios", [None, "warn", (0.0, 1.0)])
def test_legacy_attributes_and_warnings_as_sklearn(data, l1_ratios):
    X, y = DATA[data]
    fitted = []
    for cls in (LogisticRegressionCV, sk.LogisticRegressionCV):
        params = {"Cs": 3, "cv": 2, "tol": 1e-9}
        if l1_ratios != "warn":
            params["l1_ratios"] = l1_ratios
        if cls is sk.LogisticRegressionCV and l1_ratios == (0.0, 1.0):
            params["solver"] = "saga"  # lbfgs, its default, has no L1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = cls(**params).fit(X, y)
        fitted.append((model, sorted(str(w.message) for w in caught
                                     if not issubclass(w.category, ConvergenceWarning))))
    (ours, ours_warnings), (ref, ref_warnings) = fitted
    assert ours_warnings == ref_warnings
    assert ours.coefs_paths_.keys() == ref.coefs_paths_.keys()
    for key in ref.coefs_paths_:
        assert ours.coefs_paths_[key].shape == ref.coefs_paths_[key].shape
        assert ours.scores_[key].shape == ref.scores_[key].shape
    for name in ("C_", "l1_ratio_", "n_iter_", "l1_ratios_"):
        assert getattr(ours, name).shape == getattr(ref, name).shape, name
    np.testing.assert_array_equal(ours.l1_ratios_, ref.l1_ratios_)
    if l1_ratios != (0.0, 1.0):
        np.testing.assert_array_equal(ours.C_, ref.C_)
        np.testing.assert_array_equal(ours.l1_ratio_, ref.l1_ratio_)


def test_weights_and_scorers_as_sklearn():
    X, y = DATA["iris"]
    w = np.random.default_rng(0).uniform(0.2, 2.0, y.size)
    for extra in ({"class_weight": "balanced"}, {"scoring": "neg_log_loss"},
                  {"scoring": lambda est, X, y, sample_weight=None: np.average(
                      est.predict(X) == y, weights=sample_weight)}):
        params = {"Cs": CS, "l1_ratios": (0.0,), "cv": 3, "scoring": "accuracy",
                  "use_legacy_attributes": False, **extra}
        ours = LogisticRegressionCV(tol=1e-9, **params).fit(X, y, sample_weight=w)
        ref = sk.LogisticRegressionCV(tol=1e-10, max_iter=10_000, **params).fit(
            X, y, sample_weight=w)
        assert ours.C_ == ref.C_
        np.testing.assert_allclose(ours.scores_, ref.scores_, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)


def test_sparse_equals_dense():
    X, y = DATA["binary"]
    X = np.where(np.abs(X) > 0.8, X, 0.0)
    params = dict(Cs=CS, l1_ratios=(1.0,), cv=3, scoring="accuracy",
                  use_legacy_attributes=False, tol=1e-9)
    dense = LogisticRegressionCV(**params).fit(X, y)
    sparse = LogisticRegressionCV(**params).fit(sp.csr_matrix(X), y)
    assert dense.C_ == sparse.C_
    np.testing.assert_allclose(sparse.coefs_paths_, dense.coefs_paths_, atol=1e-7)


def test_fallback_runs_sklearn_and_logs(caplog):
    X, y = DATA["binary"]
    params = dict(Cs=3, l1_ratios=(0.0,), cv=3, scoring="accuracy",
                  use_legacy_attributes=False)
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        ours = LogisticRegressionCV(solver="newton-cholesky", **params).fit(X, y)
    assert "solver='newton-cholesky' requested" in caplog.text
    ref = sk.LogisticRegressionCV(solver="newton-cholesky", **params).fit(X, y)
    np.testing.assert_array_equal(ours.coefs_paths_, ref.coefs_paths_)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        LogisticRegressionCV(**params).fit(X, y, sample_weight=np.where(y == 0, -0.1, 1.0))
    assert "negative sample weights" in caplog.text
    # scikit-learn's error for metadata without routing, and its solver errors
    for kwargs, fit_kw in (({}, {"groups": np.arange(y.size) % 3}),
                           ({"l1_ratios": (1.0,), "solver": "lbfgs"}, {})):
        with pytest.raises(ValueError) as ours_err:
            LogisticRegressionCV(**{**params, **kwargs}).fit(X, y, **fit_kw)
        with pytest.raises(ValueError) as ref_err:
            sk.LogisticRegressionCV(**{**params, **kwargs}).fit(X, y, **fit_kw)
        assert str(ours_err.value) == str(ref_err.value)


def test_metadata_routing_errors_as_sklearn():
    # groups= without routing: ValueError; with routing but no splitter asking
    # for groups: TypeError; scikit-learn's messages word for word
    X, y = DATA["binary"]
    params = {"Cs": 2, "cv": 3, "l1_ratios": (0.0,), "scoring": "accuracy",
              "use_legacy_attributes": False}
    groups = np.arange(y.size) % 3
    for routing, error in ((False, ValueError), (True, TypeError)):
        messages = []
        with sklearn.config_context(enable_metadata_routing=routing):
            for cls in (LogisticRegressionCV, sk.LogisticRegressionCV):
                with pytest.raises(error) as err:
                    cls(**params).fit(X, y, groups=groups)
                messages.append(str(err.value))
        assert messages[0] == messages[1]
    with sklearn.config_context(enable_metadata_routing=True):
        # routed to a splitter that asks for them: both accept the groups
        cv = GroupKFold(3)
        ours = LogisticRegressionCV(**{**params, "cv": cv}).fit(X, y, groups=groups)
        ref = sk.LogisticRegressionCV(**{**params, "cv": cv}).fit(X, y, groups=groups)
    np.testing.assert_array_equal(ours.Cs_, ref.Cs_)


def test_invalid_l1_ratios_and_class_weight_as_sklearn():
    X, y = DATA["binary"]
    for params in ({"l1_ratios": [0.5, 2.0]}, {"l1_ratios": (0.0,), "class_weight": {7: 1.0}}):
        errors = []
        for cls, solver in ((LogisticRegressionCV, {}), (sk.LogisticRegressionCV,
                                                         {"solver": "saga"})):
            with pytest.raises(ValueError) as err:
                cls(Cs=2, scoring="accuracy", use_legacy_attributes=False, **params,
                    **solver).fit(X, y)
            errors.append(str(err.value))
        assert errors[0] == errors[1]


@parametrize_with_checks([LogisticRegressionCV(Cs=3, cv=3, l1_ratios=(0.0,), scoring="accuracy",
                                               use_legacy_attributes=False),
                          LogisticRegressionCV(Cs=(0.1, 1.0), cv=3, l1_ratios=(0.0, 0.5),
                                               scoring="neg_log_loss",
                                               use_legacy_attributes=False, tol=1e-10),
                          LogisticRegressionCV(Cs=3, cv=3, l1_ratios=(0.5, 1.0),
                                               use_legacy_attributes=True)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
