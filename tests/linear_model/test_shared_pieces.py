"""The pieces both linear-model solvers share: penalty, working sets, Anderson, alpha grid.

Each against a plain NumPy reference written from its definition.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model._coordinate_descent import _alpha_grid as sk_alpha_grid

from fastprox.linear_model import ElasticNetCV, LassoCV, enet_path
from fastprox.linear_model._alpha_grid import alpha_grid, alpha_max
from fastprox.linear_model._anderson import anderson_weights
from fastprox.linear_model._penalties import (alpha_max_from_grad, enet_shift, enet_value,
                                              kkt_distance)
from fastprox.linear_model._quadratic_design import QuadraticDesign
from fastprox.linear_model._working_set import select_violators, ws_size


def _kkt_reference(grad, w, l1, l2, positive):
    """Distance of -grad to the subdifferential of l1|w| + l2/2 w^2 (+ w >= 0), one by one."""
    out = np.empty(grad.size)
    for j, (g, x) in enumerate(zip(grad.ravel(), w.ravel())):
        if x != 0:  # subdifferential {l1 sign(x) + l2 x}
            out[j] = abs(-g - (l1 * np.sign(x) + l2 * x))
        elif positive:  # (-inf, l1]
            out[j] = max(-g - l1, 0.0)
        else:  # [-l1, l1]
            out[j] = max(abs(g) - l1, 0.0)
    return out.reshape(grad.shape)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (0,)])
def test_kkt_distance_matches_definition(positive, shape):
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(shape)
    w = rng.standard_normal(shape) * (rng.random(shape) < 0.5)
    if positive:
        w = np.abs(w)
    got = kkt_distance(grad, w, 0.4, 0.3, positive)
    np.testing.assert_allclose(got, _kkt_reference(grad, w, 0.4, 0.3, positive), rtol=1e-14)
    assert got.shape == grad.shape


def test_kkt_distance_zero_at_optimum():
    """At the soft-threshold solution of a separable problem every distance is 0."""
    rng = np.random.default_rng(1)
    z, l1, l2 = rng.standard_normal(50), 0.5, 0.2
    w = np.sign(z) * np.maximum(np.abs(z) - l1, 0) / (1 + l2)  # argmin 1/2 (w-z)^2 + g(w)
    np.testing.assert_allclose(kkt_distance(w - z, w, l1, l2), 0.0, atol=1e-15)
    wp = np.maximum(z - l1, 0) / (1 + l2)
    np.testing.assert_allclose(kkt_distance(wp - z, wp, l1, l2, positive=True), 0.0,
                               atol=1e-15)


def test_enet_value():
    W = np.array([[1.0, -2.0, 0.0], [0.5, 0.0, -0.25]])
    ref = 0.3 * np.abs(W).sum() + 0.5 * 0.7 * (W ** 2).sum()
    assert enet_value(W, 0.3, 0.7) == pytest.approx(ref, rel=1e-15)
    assert enet_value(np.zeros(0), 1.0, 1.0) == 0.0


def test_alpha_max_from_grad():
    g = np.array([0.5, -3.0, 2.0])
    assert alpha_max_from_grad(g, 10, 0.5) == pytest.approx(3.0 / 5)
    assert alpha_max_from_grad(g, 10, 0.0) == np.inf
    assert alpha_max_from_grad(np.zeros(0), 10, 1.0) == 0.0
    # at alpha_max the zero vector satisfies KKT, just below it does not
    l1 = 10 * 0.5 * alpha_max_from_grad(g, 10, 0.5)
    assert kkt_distance(-g, np.zeros(3), l1, 0.1).max() == 0.0
    assert kkt_distance(-g, np.zeros(3), 0.99 * l1, 0.1).max() > 0.0


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_enet_shift_minimises_along_common_shift(l2):
    rng = np.random.default_rng(2)
    V, l1 = rng.standard_normal((4, 6)), 0.7
    c = enet_shift(V, l1, l2)

    def pen(c):
        return l1 * np.abs(V + c).sum(axis=0) + 0.5 * l2 * ((V + c) ** 2).sum(axis=0)

    grid = np.linspace(-4, 4, 8001)[:, None]
    best = np.min([pen(t) for t in grid], axis=0)
    assert np.all(pen(c) <= best + 1e-9)


@pytest.mark.parametrize("l1, l2", [(5.0, 0.1), (0.01, 1.0), (1.0, 1.0)])
def test_enet_shift_exact_at_breakpoints_and_ties(l1, l2):
    # the root at a breakpoint (l1 >> l2), between two (l1 << l2), tied values, one class
    V = np.array([[0.3, 1.0, 2.0, 0.0], [0.3, -1.0, 2.0, 0.0], [-0.5, 0.2, 2.0, 0.0]])
    for W in (V, V[:1]):
        c = enet_shift(W, l1, l2)
        grid = np.linspace(-5, 5, 100001)[:, None, None]
        pen = l1 * np.abs(W + grid).sum(axis=1) + 0.5 * l2 * ((W + grid) ** 2).sum(axis=1)
        ours = l1 * np.abs(W + c).sum(axis=0) + 0.5 * l2 * ((W + c) ** 2).sum(axis=0)
        assert np.all(ours <= pen.min(axis=0) + 1e-12)


def test_working_set_selection():
    scores = np.array([0.0, 3.0, 1.0, 0.0, 2.0, 5.0, 0.5])
    support = np.zeros(7, dtype=bool)
    support[0] = True  # kept although its score is 0
    ws = select_violators(scores, support, 3)
    assert sorted(ws) == [0, 1, 5]
    assert scores[0] == np.inf  # documented: marked in place
    # never padded with features that satisfy KKT (score 0)
    scores = np.array([0.0, 1.0, 0.0])
    assert sorted(select_violators(scores, np.zeros(3, bool), 3)) == [1]
    assert ws_size(1000, 7, 100) == 100
    assert ws_size(1000, 70, 100) == 140
    assert ws_size(1000, 7, 100, prev_size=300) == 600
    assert ws_size(50, 70, 100, prev_size=300) == 50


def test_anderson_weights_reference_and_exactness():
    rng = np.random.default_rng(3)
    # reference: c = z / sum(z), (U U^T) z = 1, U the successive differences
    it = rng.standard_normal((6, 9))
    U = np.diff(it, axis=0)
    z = np.linalg.solve(U @ U.T, np.ones(5))
    np.testing.assert_allclose(anderson_weights(it), z / z.sum(), rtol=1e-10)
    # a slowly converging linear fixed-point iteration: the extrapolated
    # point is much closer to the fixed point than the last iterate
    # (four slow modes, which 5 differences can cancel, and a fast one)
    A = np.diag(np.r_[np.repeat([0.9, 0.8, 0.7, 0.6], 5), np.full(10, 0.05)])
    b = rng.standard_normal(30)
    x_star = np.linalg.solve(np.eye(30) - A, b)
    xs = [np.zeros(30)]
    for _ in range(5):
        xs.append(A @ xs[-1] + b)
    it = np.array(xs)
    c = anderson_weights(it)
    assert np.isclose(c.sum(), 1.0)
    assert np.linalg.norm(c @ it[1:] - x_star) < 0.1 * np.linalg.norm(it[-1] - x_star)
    # singular: a constant sequence
    assert anderson_weights(np.ones((6, 3))) is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("case", ["regular", "y_zero", "X_tiny", "sparse"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_one_alpha_grid_for_path_and_cv(case, fit_intercept):
    """enet_path and the CV estimators use one grid, scikit-learn's, degenerate case included."""
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((40, 8)), rng.standard_normal(40)
    if case == "y_zero":
        y = np.zeros(40)
    elif case == "X_tiny":  # alpha_max below float64 resolution
        X = X * 1e-300
    elif case == "sparse":
        X = sp.csr_matrix(X * (rng.random(X.shape) < 0.3))
    path_grid = enet_path(X, y, l1_ratio=1.0, eps=1e-2, n_alphas=6,
                          fit_intercept=fit_intercept, max_iter=5)[0]
    cv_grid = LassoCV(cv=2, n_alphas=6, eps=1e-2, max_iter=5,
                      fit_intercept=fit_intercept).fit(X, y).alphas_
    np.testing.assert_array_equal(path_grid, cv_grid)
    ref = sk_alpha_grid(X, y, l1_ratio=1.0, fit_intercept=fit_intercept, eps=1e-2, n_alphas=6)
    np.testing.assert_allclose(cv_grid, ref, rtol=1e-10)
    if case in ("y_zero", "X_tiny"):
        assert np.all(cv_grid == np.finfo(np.float64).resolution)


def test_alpha_grid_l1_ratio_zero_needs_explicit_grid():
    X, y = np.eye(3), np.arange(3.0)
    design = QuadraticDesign(X, True)
    assert alpha_max(design, y - y.mean(), 0.0) == np.inf
    with pytest.raises(ValueError, match="explicit alphas"):
        alpha_grid(design, y - y.mean(), 0.0, 1e-3, 5)
    with pytest.raises(ValueError, match="explicit alphas"):
        ElasticNetCV(l1_ratio=0.0, cv=2).fit(X, y)
    with pytest.raises(ValueError, match="explicit alphas"):
        enet_path(X, y, l1_ratio=0.0)
