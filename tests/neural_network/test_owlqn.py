"""``solver='lbfgs'`` with ``l1 > 0``: OWL-QN (Andrew & Gao 2007) on the flat parameter vector.

Without hidden layers the MLP regressor's objective with ``alpha=0`` is the
Lasso's, ``||y - X w - b||^2 / (2 n) + l1 ||w||_1``: OWL-QN must find
scikit-learn's Lasso solution, zeros included; the binary classifier's is
L1 logistic regression's with ``C = 1 / (l1 n)``. With hidden layers: exact
zeros, a lower penalised objective than L-BFGS-B's (alpha only) solution, the
pseudo-gradient's optimality conditions, pruned patterns kept.
"""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.preprocessing import StandardScaler

from fastprox.neural_network import MLPClassifier, MLPRegressor
from fastprox.neural_network._owlqn import pseudo_gradient

X_reg, y_reg = make_regression(n_samples=120, n_features=20, n_informative=5, noise=1.0,
                               random_state=0)
y_reg = y_reg / y_reg.std()


@pytest.mark.parametrize("l1", [0.01, 0.1])
def test_no_hidden_layer_regressor_is_the_lasso(l1):
    m = MLPRegressor(hidden_layer_sizes=(), solver="lbfgs", l1=l1, alpha=0.0, tol=1e-10,
                     max_iter=2000, random_state=0).fit(X_reg, y_reg)
    lasso = Lasso(alpha=l1, tol=1e-12, max_iter=100000).fit(X_reg, y_reg)
    np.testing.assert_allclose(m.coefs_[0][:, 0], lasso.coef_, atol=1e-5)
    np.testing.assert_array_equal(m.coefs_[0][:, 0] == 0, lasso.coef_ == 0)
    assert m.intercepts_[0][0] == pytest.approx(lasso.intercept_, abs=1e-5)
    assert m.sparsity_ == np.mean(lasso.coef_ == 0) > 0


def test_no_hidden_layer_classifier_is_l1_logistic_regression():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    l1 = 0.02
    m = MLPClassifier(hidden_layer_sizes=(), solver="lbfgs", l1=l1, alpha=0.0, tol=1e-10,
                      max_iter=5000, random_state=0).fit(X, y)
    lr = LogisticRegression(l1_ratio=1.0, C=1 / (l1 * X.shape[0]), solver="saga", tol=1e-10,
                            max_iter=100000).fit(X, y)
    np.testing.assert_array_equal(m.coefs_[0][:, 0] == 0, lr.coef_[0] == 0)

    def objective(w, b):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + l1 * np.abs(w).sum()

    # OWL-QN stops on L-BFGS-B's relative decrease (ftol 2.2e-9): 4.5e-9 above saga's
    # optimum here, the coefficients within 1e-3
    ours = objective(m.coefs_[0][:, 0], m.intercepts_[0][0])
    assert ours == pytest.approx(objective(lr.coef_[0], lr.intercept_[0]), rel=1e-7)
    np.testing.assert_allclose(m.coefs_[0][:, 0], lr.coef_[0], atol=1e-3)


def _penalised(m, X, y, l1):
    """The objective OWL-QN minimises, computed from the fitted model."""
    P = m.predict_proba(X)
    eps = np.finfo(float).eps
    loss = -np.mean(np.log(np.clip(P[np.arange(len(y)), y], eps, 1)))
    w = np.concatenate([c.ravel() for c in m.coefs_])
    return loss + 0.5 * m.alpha * (w @ w) / len(y) + l1 * np.abs(w).sum()


def test_hidden_layers_reach_exact_zeros_and_optimality():
    X, y = load_digits(n_class=4, return_X_y=True)
    X = X[:300] / 16
    y = y[:300]
    l1 = 2e-3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = MLPClassifier((16,), solver="lbfgs", l1=l1, max_iter=400, tol=1e-6,
                          random_state=0).fit(X, y)
        smooth = MLPClassifier((16,), solver="lbfgs", max_iter=400, tol=1e-6,
                               random_state=0).fit(X, y)
    assert m.sparsity_ > 0.5 and smooth.sparsity_ == 0
    assert _penalised(m, X, y, l1) < _penalised(smooth, X, y, l1)
    assert m.loss_curve_[-1] == pytest.approx(_penalised(m, X, y, l1), rel=1e-9)
    assert np.all(np.diff(m.loss_curve_) <= 1e-12)  # a descent method
    assert m.score(X, y) > 0.9


def test_pseudo_gradient():
    x = np.array([1.0, -1.0, 0.0, 0.0, 0.0])
    g = np.array([0.5, 0.5, -2.0, 2.0, 0.5])
    lam = np.ones(5)
    # x > 0: g + lam; x < 0: g - lam; at 0: the descending one-sided slope, or 0
    np.testing.assert_allclose(pseudo_gradient(x, g, lam), [1.5, -0.5, -1.0, 1.0, 0.0])
    lam[0] = 0  # an unpenalised coordinate (a bias): the gradient itself
    assert pseudo_gradient(x, g, lam)[0] == 0.5


def test_lbfgs_l1_keeps_a_pruned_pattern():
    X, y = load_digits(n_class=3, return_X_y=True)
    X = X / 16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = MLPClassifier((16,), solver="lbfgs", l1=1e-3, max_iter=60, target_sparsity=0.8,
                          pruning_steps=2, pruning_interval=10, finetune_epochs=20,
                          random_state=0).fit(X, y)
    # at least the target (L1 may zero more, never regrows a pruned weight)
    n = sum(c.size for c in m.coefs_)
    assert sum(int(np.count_nonzero(c)) for c in m.coefs_) <= n - round(0.8 * n)
    assert "csr" in m.layer_storage_ and m.score(X, y) > 0.9
