"""Linear-model parameters are validated by scikit-learn's constraints, with its messages."""
import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from fastprox.linear_model import (ElasticNet, ElasticNetCV, Lasso, LassoCV, LogisticRegression,
                                   enet_path, lasso_path)

X = np.random.default_rng(0).standard_normal((20, 4))
y = X @ np.array([1.0, 0.0, -2.0, 0.0])
yc = (y > 0).astype(int)


@pytest.mark.parametrize("est, param, bad", [
    (ElasticNet(), "alpha", -1.0), (ElasticNet(), "alpha", np.inf),
    (ElasticNet(), "l1_ratio", 1.5), (ElasticNet(), "max_iter", 0),
    (ElasticNet(), "tol", -1.0), (ElasticNet(), "selection", "best"),
    (Lasso(), "alpha", np.nan), (Lasso(), "positive", "yes"),
    (ElasticNetCV(), "l1_ratio", 2.0), (ElasticNetCV(), "eps", 0.0),
    (LassoCV(), "n_alphas", 0), (LassoCV(), "cv", "five"),
    (LogisticRegression(), "penalty", "l3"), (LogisticRegression(), "C", 0.0),
    (LogisticRegression(), "l1_ratio", -0.5), (LogisticRegression(), "max_iter", -1),
    (LogisticRegression(), "solver", "newton"), (LogisticRegression(), "class_weight", "some"),
    (LogisticRegression(), "tol", -1e-4),
])
def test_invalid_parameter_raises_sklearn_error(est, param, bad):
    target = yc if isinstance(est, LogisticRegression) else y
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of "
                                                    f"{type(est).__name__} must be"):
        est.set_params(**{param: bad}).fit(X, target)


def test_relational_check_kept():
    # scikit-learn's message; l1_ratio=None is the default before 1.8 only
    with pytest.raises(ValueError, match="l1_ratio must be specified when penalty is elastic"):
        LogisticRegression(penalty="elasticnet", l1_ratio=None).fit(X, yc)
    LogisticRegression(penalty="elasticnet", l1_ratio=0.5).fit(X, yc)
    LogisticRegression(C=np.inf).fit(X, yc)  # no penalty: allowed, as in scikit-learn


@pytest.mark.parametrize("kw, param", [({"l1_ratio": 1.5}, "l1_ratio"), ({"eps": -1.0}, "eps"),
                                       ({"max_iter": 0}, "max_iter"), ({"tol": -1.0}, "tol")])
def test_path_parameters_validated(kw, param):
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of enet_path"):
        enet_path(X, y, **kw)
    if param != "l1_ratio":
        with pytest.raises(InvalidParameterError, match=f"'{param}' parameter"):
            lasso_path(X, y, **kw)
