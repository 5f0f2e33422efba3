"""Tests of fastprox.linear_model: Lasso / ElasticNet against scikit-learn."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastprox.linear_model import ElasticNet, ElasticNetCV, Lasso, LassoCV, enet_path, lasso_path

# scikit-learn's reference fits at tight tol may warn; its n_alphas is deprecated in 1.9
pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]


def _objective(X, y, coef, intercept, alpha, l1_ratio):
    X64 = X.astype(np.float64)
    coef = np.asarray(coef, dtype=np.float64)
    r = y - X64 @ coef - intercept
    return (0.5 * float(r @ r) / len(y) + alpha * l1_ratio * np.abs(coef).sum()
            + 0.5 * alpha * (1 - l1_ratio) * float(coef @ coef))


def _alpha_max(X, y, fit_intercept, l1_ratio=1.0):
    X = X.toarray() if sp.issparse(X) else X
    if fit_intercept:
        X, y = X - X.mean(0), y - y.mean()
    return np.abs(X.T @ y).max() / (len(y) * l1_ratio)


def _fit_both(X, y, dtype, X_ref=None, **kw):
    """Fit ours and scikit-learn's ElasticNet; return ours and both objectives."""
    X_ref = X if X_ref is None else X_ref
    ours = ElasticNet(**kw).fit(X, y.astype(dtype))
    ref = sk.ElasticNet(**kw).fit(X_ref, y.astype(dtype))
    assert ours.coef_.dtype == dtype
    alpha, l1_ratio = kw["alpha"], kw.get("l1_ratio", 0.5)
    return (ours, _objective(X_ref, y, ours.coef_, ours.intercept_, alpha, l1_ratio),
            _objective(X_ref, y, ref.coef_, ref.intercept_, alpha, l1_ratio))


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(120, 300, n_informative=15, noise=2.0, random_state=0)
    rng = np.random.default_rng(0)
    Xs = X * (rng.random(X.shape) < 0.3)
    return X, Xs, y


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("div", [10, 100])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_objective_matches_sklearn(data, fmt, dtype, fit_intercept, div, l1_ratio):
    X, Xs, y = data
    X = (X if fmt == "dense" else Xs).astype(dtype)
    if fmt != "dense":
        X = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    alpha = _alpha_max(X.astype(np.float64), y, fit_intercept, l1_ratio) / div
    # float32 cannot reach a 1e-10 relative gap: both solvers would spin to max_iter
    tight = dtype == np.float64
    kw = dict(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
              tol=1e-10 if tight else 1e-7, max_iter=100_000 if tight else 5000)
    _, f_ours, f_ref = _fit_both(X, y, dtype, **kw)
    rtol = 1e-6 if dtype == np.float64 else 1e-5
    assert f_ours <= f_ref * (1 + rtol)
    assert abs(f_ours - f_ref) <= rtol * f_ref


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_kkt_conditions(data, fmt):
    X, Xs, y = data
    X = X if fmt == "dense" else sp.csr_matrix(Xs)
    alpha = _alpha_max(X, y, True) / 20
    m = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y)
    Xd = X.toarray() if sp.issparse(X) else X
    r = y - Xd @ m.coef_ - m.intercept_
    assert abs(r.mean()) < 1e-8  # the intercept is optimal
    g = Xd.T @ r / len(y)
    nz = m.coef_ != 0
    np.testing.assert_allclose(g[nz], alpha * np.sign(m.coef_[nz]), rtol=1e-5, atol=1e-8)
    assert np.all(np.abs(g[~nz]) <= alpha * (1 + 1e-6))


def test_one_feature_example():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 500)
    y = 3 * x + 2 + 0.1 * rng.standard_normal(500)
    m = Lasso(alpha=0.01).fit(x[:, None], y)
    assert abs(m.coef_[0] - 3) < 0.05
    assert abs(m.intercept_ - 2) < 0.05
    np.testing.assert_allclose(m.predict([[1.0]]), [5.0], atol=0.1)


def test_positive_and_warm_start(data):
    X, _, y = data
    alpha = _alpha_max(X, y, True) / 30
    m = Lasso(alpha=alpha, positive=True, tol=1e-10, max_iter=10_000).fit(X, y)
    ref = sk.Lasso(alpha=alpha, positive=True, tol=1e-10, max_iter=10_000).fit(X, y)
    assert (m.coef_ >= 0).all()
    f1 = _objective(X, y, m.coef_, m.intercept_, alpha, 1.0)
    f2 = _objective(X, y, ref.coef_, ref.intercept_, alpha, 1.0)
    assert abs(f1 - f2) <= 1e-6 * f2
    w = Lasso(alpha=alpha, warm_start=True, tol=1e-10).fit(X, y)
    n_cold = w.n_iter_
    w.fit(X, y)
    assert w.n_iter_ <= n_cold


def test_attributes(data):
    X, _, y = data
    m = Lasso(alpha=1.0).fit(X, y)
    assert m.n_features_in_ == X.shape[1]
    assert sp.issparse(m.sparse_coef_)
    np.testing.assert_array_equal(m.sparse_coef_.toarray().ravel(), m.coef_)
    assert isinstance(m.n_iter_, int) and m.dual_gap_ >= 0


def test_multi_output(data):
    X, _, y = data
    Y = np.c_[y, -2 * y]
    m = Lasso(alpha=1.0, tol=1e-10).fit(X, Y)
    ref = sk.Lasso(alpha=1.0, tol=1e-10).fit(X, Y)
    assert m.coef_.shape == ref.coef_.shape
    np.testing.assert_allclose(m.predict(X), ref.predict(X), rtol=1e-4, atol=1e-4)


def test_convergence_warning(data):
    X, _, y = data
    with pytest.warns(ConvergenceWarning):
        Lasso(alpha=0.01, max_iter=1, tol=1e-12).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [(0, 0), (7, -1)])
@pytest.mark.parametrize("form", ["C", "F", "float32", "csr", "sample_weight"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_non_finite_X(data, bad, where, form, fit_intercept):
    """Dense X is checked in the solver's pass over it, not by validate_data:
    the same error (and message) as scikit-learn's, every layout and path."""
    X, _, y = data
    X = X.copy()
    X[where] = bad
    kw = {}
    if form == "F":
        X = np.asfortranarray(X)
    elif form == "float32":
        X = X.astype(np.float32)
    elif form == "csr":
        X = sp.csr_matrix(X)
    elif form == "sample_weight":
        kw["sample_weight"] = np.linspace(0.5, 2, len(y))
    match = "NaN" if np.isnan(bad) else "infinity"
    with pytest.raises(ValueError, match=match):
        ElasticNet(alpha=0.1, fit_intercept=fit_intercept).fit(X, y, **kw)
    with pytest.raises(ValueError, match=match):
        sk.ElasticNet(alpha=0.1, fit_intercept=fit_intercept).fit(X, y, **kw)


def test_huge_finite_X_is_not_rejected(data):
    """Squares that overflow float64 send the check element by element, which passes."""
    X, _, y = data
    X = X * 1e160
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Lasso(alpha=1.0, max_iter=5).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_y(data, bad):
    y2 = data[2].copy()
    y2[3] = bad
    with pytest.raises(ValueError):
        Lasso().fit(data[0], y2)


def test_bad_parameters_and_shapes(data):
    X, _, y = data
    with pytest.raises(ValueError, match="alpha"):
        Lasso(alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio"):
        ElasticNet(l1_ratio=1.5).fit(X, y)
    with pytest.raises(ValueError):
        Lasso().fit(X, y[:-1])


@pytest.mark.parametrize("layout", ["C", "F", "strided", "offset"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_dense_layouts_implicit_centring(data, layout, dtype, fit_intercept):
    """Dense X is never centred in a copy: any memory order, and columns whose
    mean dwarfs their spread, give scikit-learn's objective."""
    X, _, y = data
    X = X.astype(dtype)
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        X = np.repeat(X, 2, axis=1)[:, ::2]  # neither C- nor F-contiguous
    elif layout == "offset":
        X = X + np.linspace(-1e3, 1e3, X.shape[1]).astype(dtype)
    X_ref = np.ascontiguousarray(X)
    alpha = _alpha_max(X_ref.astype(np.float64), y, fit_intercept) / 30
    tight = dtype == np.float64 and layout != "offset"
    kw = dict(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept,
              tol=1e-10 if tight else 1e-7, max_iter=100_000)
    _, f_ours, f_ref = _fit_both(X, y, dtype, X_ref=X_ref, **kw)
    rtol = 1e-6 if dtype == np.float64 else 1e-4
    assert abs(f_ours - f_ref) <= rtol * f_ref


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("positive", [False, True])
def test_few_features_gram_path(dtype, fit_intercept, l1_ratio, positive):
    """Up to 32 features the solve runs on the Gram form (one kernel call)."""
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)
    X = np.hstack([X, X[:, :3] + 0.01 * X[:, 3:6]]).astype(dtype)  # correlated columns
    for div in (10, 1000):
        alpha = _alpha_max(X.astype(np.float64), y, fit_intercept, l1_ratio) / div
        kw = dict(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                  positive=positive, tol=1e-10 if dtype == np.float64 else 1e-6,
                  max_iter=100_000)
        ours, f_ours, f_ref = _fit_both(X, y, dtype, **kw)
        with warnings.catch_warnings():  # ours converges (scikit-learn's float32 may not)
            warnings.simplefilter("error", ConvergenceWarning)
            ElasticNet(**kw).fit(X, y.astype(dtype))
        rtol = 1e-6 if dtype == np.float64 else 1e-5
        assert abs(f_ours - f_ref) <= rtol * f_ref
        if positive:
            assert (ours.coef_ >= 0).all()


def test_sample_weight_dense(data):
    X, _, y = data
    sw = np.random.default_rng(1).uniform(0.1, 2.0, len(y))
    m = ElasticNet(alpha=0.5, tol=1e-10, max_iter=100_000).fit(X, y, sample_weight=sw)
    ref = sk.ElasticNet(alpha=0.5, tol=1e-10, max_iter=100_000).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(m.predict(X), ref.predict(X), rtol=1e-5, atol=1e-4)


def test_degenerate_data(data):
    X, _, y = data
    # all-zero y: the zero solution, as scikit-learn
    m = Lasso(alpha=0.1).fit(X, np.zeros(len(y)))
    assert not m.coef_.any() and m.intercept_ == 0
    # a constant column gets a zero coefficient
    Xc = X.copy()
    Xc[:, 0] = 3.0
    m = Lasso(alpha=1.0, tol=1e-10, max_iter=100_000).fit(Xc, y)
    ref = sk.Lasso(alpha=1.0, tol=1e-10, max_iter=100_000).fit(Xc, y)
    assert m.coef_[0] == 0
    np.testing.assert_allclose(m.predict(Xc), ref.predict(Xc), rtol=1e-3, atol=1e-2)
    # one row: centred data are all zero, so coef = 0 and intercept = y
    m = Lasso(alpha=0.1).fit(X[:1], y[:1])
    assert not m.coef_.any() and m.intercept_ == pytest.approx(y[0])


def test_sparse_not_densified_and_float32(data):
    _, Xs, y = data
    X = sp.csr_matrix(Xs.astype(np.float32))
    m = Lasso(alpha=0.5).fit(X, y)
    assert m.coef_.dtype == np.float32
    assert m.predict(X).shape == (X.shape[0],)


def test_clone_pickle_pipeline_gridsearch(data):
    X, _, y = data
    m = Lasso(alpha=0.5).fit(X, y)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m.predict(X), m2.predict(X))
    assert clone(m).get_params() == m.get_params()
    pipe = make_pipeline(StandardScaler(), ElasticNet(alpha=0.1)).fit(X, y)
    assert pipe.score(X, y) > 0.5
    gs = GridSearchCV(Lasso(), {"alpha": [0.1, 1.0]}, cv=3).fit(X, y)
    assert gs.best_params_["alpha"] in (0.1, 1.0)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_lasso_path_matches_sklearn(data, fit_intercept):
    X, _, y = data
    if fit_intercept:
        # scikit-learn's path never centres; compare on centred data
        a, c, g = lasso_path(X, y, n_alphas=10, tol=1e-10, fit_intercept=True)
        Xc, yc = X - X.mean(0), y - y.mean()
    else:
        a, c, g = lasso_path(X, y, n_alphas=10, tol=1e-10)
        Xc, yc = X, y
    a_ref, c_ref, _ = sk.lasso_path(Xc, yc, n_alphas=10, tol=1e-10)
    np.testing.assert_allclose(a, a_ref, rtol=1e-10)
    for k in range(len(a)):
        f = _objective(Xc, yc, c[:, k], 0.0, a[k], 1.0)
        f_ref = _objective(Xc, yc, c_ref[:, k], 0.0, a[k], 1.0)
        assert f <= f_ref * (1 + 1e-6)
    a2, c2, g2, n2 = enet_path(X, y, l1_ratio=0.5, alphas=[1.0, 0.1], return_n_iter=True)
    assert c2.shape == (X.shape[1], 2) and len(n2) == 2


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_lasso_cv_matches_sklearn(data, fmt):
    X, Xs, y = data
    X = X[:, :60] if fmt == "dense" else sp.csr_matrix(Xs[:, :60])
    alphas = np.geomspace(5.0, 0.05, 8)
    m = LassoCV(alphas=alphas, cv=3, tol=1e-8, n_jobs=2).fit(X, y)
    ref = sk.LassoCV(alphas=alphas, cv=3, tol=1e-8).fit(X, y)
    assert m.alpha_ == pytest.approx(ref.alpha_)
    np.testing.assert_allclose(m.mse_path_, ref.mse_path_, rtol=1e-3)
    e = ElasticNetCV(l1_ratio=[0.5, 1.0], cv=3, n_alphas=5).fit(X, y)
    assert e.l1_ratio_ in (0.5, 1.0) and e.mse_path_.shape == (2, 5, 3)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bounded_outside_gradient_is_safe(fmt, dtype, positive, monkeypatch):
    """Gradients bounded from the last exact one skip X where the bound is below l1.

    Every value the bound lets through unread must truly be at most l1 in
    absolute value, and every value it computes must equal X.T @ r.
    """
    from fastprox.linear_model import _cd_solver
    calls = []
    orig = _cd_solver._bounded_grad

    def spy(design, sub, ws, R, r, ref, l1):
        g = orig(design, sub, ws, R, r, ref, l1)
        if g is not None:
            exact = np.abs(design.xt_r(R))
            read = np.abs(g) != ref[0]  # computed from the pool or the columns
            read[ws] = True
            calls.append(int(read.sum()))
            np.testing.assert_allclose(np.abs(g[read]), exact[read], rtol=1e-4,
                                       atol=1e-6 * l1)
            assert (exact[~read] <= l1 * (1 + 1e-6)).all()
        return g

    monkeypatch.setattr(_cd_solver, "_bounded_grad", spy)
    X, y = make_regression(300, 400, n_informative=20, noise=1.0, random_state=1)
    X = X.astype(dtype)
    if fmt == "csr":
        X = sp.csr_matrix(X * (np.random.default_rng(1).random(X.shape) < 0.5))
    # elastic net: the violators-only path, as above; positive: the Lasso's
    # round starts (the bound serves at these divisors)
    l1_ratio = 1.0 if positive else 0.5
    div = {(False, "dense"): 7, (False, "csr"): 6, (True, "dense"): 10,
           (True, "csr"): 3}[positive, fmt]
    alpha = _alpha_max(X.astype(np.float64), y, True, l1_ratio) / div
    tol = 1e-10 if dtype == np.float64 else 1e-7
    _, f_ours, f_ref = _fit_both(X, y, dtype, alpha=alpha, l1_ratio=l1_ratio, tol=tol,
                                 max_iter=100_000, positive=positive)
    assert calls  # the bound served at least one check
    assert abs(f_ours - f_ref) <= (1e-6 if dtype == np.float64 else 1e-5) * f_ref


# no expected failures: up to 32 features, dense and sparse X are solved on the
# Gram form, so weighted and repeated fits agree to rounding (sample-weight checks)
@parametrize_with_checks([Lasso(), ElasticNet(), LassoCV(cv=3, alphas=5)])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_solution_paths_reach_sklearn_objective(fmt, dtype, monkeypatch):
    """Elastic net with most features nonzero: the solver's dense-solution mode.

    With the smaller alpha the working set takes every feature (``whole``),
    with the larger only the violators; both must stop on the full
    problem's gap.
    """
    from fastprox.linear_model import _cd_solver
    seen = []
    orig = _cd_solver._full_gap_reached.__init__

    def spy(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        seen.append(self.whole)

    monkeypatch.setattr(_cd_solver._full_gap_reached, "__init__", spy)
    X, y = make_regression(300, 400, n_informative=20, noise=1.0, random_state=1)
    X = X.astype(dtype)
    if fmt == "csr":
        X = sp.csr_matrix(X * (np.random.default_rng(1).random(X.shape) < 0.5))
    tol = 1e-10 if dtype == np.float64 else 1e-7
    rtol = 1e-6 if dtype == np.float64 else 1e-5
    # the sparse copy (half the entries) reaches the same paths at smaller divisors
    for div in ((7, 100) if fmt == "dense" else (5, 30)):
        alpha = _alpha_max(X.astype(np.float64), y, True, 0.5) / div
        _, f_ours, f_ref = _fit_both(X, y, dtype, alpha=alpha, l1_ratio=0.5, tol=tol,
                                     max_iter=100_000)
        assert abs(f_ours - f_ref) <= rtol * f_ref
    assert True in seen and False in seen
