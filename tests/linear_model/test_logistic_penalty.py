"""LogisticRegression fits the penalty the installed scikit-learn fits, per spelling.

From scikit-learn 1.8 ``l1_ratio`` selects the penalty (1: L1, 0: L2, between:
elastic net), ``C=np.inf`` means none and ``penalty=`` is deprecated; each
spelling must give the same model (the same zeros, coefficients within
tolerance of scikit-learn's saga / lbfgs at a tight tol) and the same
FutureWarning / UserWarning as scikit-learn.
"""
import warnings

import numpy as np
import pytest
from sklearn import linear_model as sk
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from fastprox.linear_model import LogisticRegression
from fastprox.linear_model._logistic import L1_RATIO_SELECTS_PENALTY, effective_penalty

pytestmark = pytest.mark.skipif(not L1_RATIO_SELECTS_PENALTY,
                                reason="scikit-learn < 1.8 spells the penalty with penalty=")

# noisy labels and no redundant column: unique and bounded even without a penalty
X, Y = make_classification(300, 40, n_informative=6, n_redundant=0, flip_y=0.2,
                           random_state=0)

# spelling -> the penalty scikit-learn >= 1.8 fits (rho = share of L1; None = none)
SPELLINGS = [
    (dict(penalty="l1", C=0.1), 1.0),
    (dict(l1_ratio=1.0, C=0.1), 1.0),
    (dict(l1_ratio=0.0, C=0.1), 0.0),
    (dict(l1_ratio=0.5, C=0.1), 0.5),
    (dict(penalty="elasticnet", l1_ratio=0.5, C=0.1), 0.5),
    (dict(penalty="l2", l1_ratio=0.5, C=0.1), 0.0),
    (dict(l1_ratio=None, C=0.1), 0.0),
    (dict(C=np.inf), None),
    (dict(penalty=None), None),
    (dict(penalty=None, C=0.5), None),
]


def _fit_recording(model):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        model.fit(X, Y)
    return model, sorted((w.category.__name__, str(w.message)) for w in rec
                         if not issubclass(w.category, ConvergenceWarning))


@pytest.mark.parametrize("kw, rho", SPELLINGS, ids=[str(k) for k, _ in SPELLINGS])
def test_spelling_fits_sklearn_penalty(kw, rho):
    ours, w_ours = _fit_recording(LogisticRegression(tol=1e-10, max_iter=1000, **kw))
    solver = "saga" if rho not in (None, 0.0) else "lbfgs"
    ref, w_ref = _fit_recording(sk.LogisticRegression(solver=solver, tol=1e-12,
                                                      max_iter=100_000, random_state=0, **kw))
    assert w_ours == w_ref
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert effective_penalty(**{"penalty": "deprecated", "C": 1.0, "l1_ratio": 0.0,
                                    **kw}) == rho
    assert np.count_nonzero(ours.coef_) == np.count_nonzero(np.abs(ref.coef_) > 1e-8)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-5)


def test_l1_ratio_one_is_lasso_not_ridge():
    """The bug of issue 13: l1_ratio=1.0 fitted an L2 model."""
    m = LogisticRegression(l1_ratio=1.0, C=0.1).fit(X, Y)
    ridge = LogisticRegression(l1_ratio=0.0, C=0.1).fit(X, Y)
    assert np.mean(m.coef_ == 0) > 0.5 and np.all(ridge.coef_ != 0)


def test_elasticnet_without_l1_ratio_raises_as_sklearn():
    for est in (LogisticRegression, sk.LogisticRegression):
        with pytest.raises(ValueError, match="l1_ratio must be specified"):
            kw = {} if est is LogisticRegression else {"solver": "saga"}
            est(penalty="elasticnet", l1_ratio=None, **kw).fit(X, Y)


def test_n_jobs_warns_as_sklearn():
    _, w_ours = _fit_recording(LogisticRegression(n_jobs=2))
    _, w_ref = _fit_recording(sk.LogisticRegression(n_jobs=2))
    assert w_ours == w_ref and w_ours[0][0] == "FutureWarning"


def test_defaults_are_sklearn_defaults():
    ours = LogisticRegression().get_params()
    ref = sk.LogisticRegression().get_params()
    assert set(ours) == set(ref)
    assert {k: v for k, v in ours.items() if k != "solver"} == \
        {k: v for k, v in ref.items() if k != "solver"}
    assert ours["solver"] is None  # fastprox's own solver
