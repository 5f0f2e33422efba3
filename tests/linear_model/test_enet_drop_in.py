"""Errors, warnings and edge cases of the elastic-net estimators and paths, as scikit-learn's.

Written after scikit-learn's ``linear_model/tests/test_coordinate_descent.py``:
the same inputs give the same exception types, messages and warnings.
"""
import logging
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

from fastprox.linear_model import ElasticNet, ElasticNetCV, Lasso, LassoCV, enet_path, lasso_path
from fastprox.linear_model._enet_checks import CV_N_ALPHAS_DEPRECATED, PATH_N_ALPHAS_DEPRECATED


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=40, n_features=8, n_informative=4, noise=0.5,
                           random_state=0)
    return X, y


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow and similar
@pytest.mark.parametrize("Est", [ElasticNet, sk.ElasticNet])
def test_enet_nonfinite_params(Est):
    # scikit-learn's test_enet_nonfinite_params, on both
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.randint(0, 2, size=10)
    msg = "Coordinate descent iterations resulted in non-finite parameter values"
    with pytest.raises(ValueError, match=msg):
        Est(alpha=0.1).fit(X, y)
    Est(alpha=0.1, fit_intercept=False).fit(X, y)  # no centring: no overflow, as scikit-learn


def test_lasso_alpha_warning(data):
    X, y = data
    msg = "With alpha=0, this algorithm does not converge well"
    for Est in (Lasso, sk.Lasso):
        with pytest.warns(UserWarning, match=msg):
            Est(alpha=0).fit(X, y)


def test_warm_start_shape_change(data):
    X, y = data
    m = Lasso(alpha=0.1, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="previous fit had 8 features, X has 5"):
        m.fit(X[:, :5], y)
    # more targets before than now: the first ones seed the fit, as in scikit-learn
    Y = np.c_[y, -y]
    ours = Lasso(alpha=0.1, warm_start=True).fit(X, Y).fit(X, y)
    ref = sk.Lasso(alpha=0.1, warm_start=True).fit(X, Y).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="previous fit had 1 target"):
        Lasso(alpha=0.1, warm_start=True).fit(X, y).fit(X, Y)


def test_column_vector_y_as_sklearn(data):
    X, y = data
    ours = Lasso(alpha=0.1).fit(X, y[:, None])
    ref = sk.Lasso(alpha=0.1).fit(X, y[:, None])
    assert ours.coef_.shape == ref.coef_.shape == (8,)
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_) == (1,)
    assert ours.predict(X).shape == ref.predict(X).shape == (40,)
    assert np.ndim(ours.dual_gap_) == 0 and isinstance(ours.n_iter_, int)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-5)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        cv = LassoCV(alphas=5, cv=3).fit(X, y[:, None])
    assert cv.coef_.shape == (8,)
    with pytest.raises(ValueError, match="For multi-task outputs, use MultiTaskLassoCV"):
        LassoCV(alphas=5, cv=3).fit(X, np.c_[y, y])


def test_negative_sample_weight_accepted(data):
    X, y = data
    sw = np.ones(len(y))
    sw[0] = -0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = Lasso(alpha=0.1).fit(X, y, sample_weight=sw)
        ref = sk.Lasso(alpha=0.1).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_)


# --- user Gram matrix: checked and used as scikit-learn's _pre_fit does ---

def test_elasticnet_precompute_incorrect_gram(data):
    X, y = data
    X = X - X.mean(axis=0)
    bad = X.T @ X * 2.0
    msg = "Gram matrix passed in via 'precompute' parameter did not pass validation"
    for Est in (ElasticNet, sk.ElasticNet):
        with pytest.raises(ValueError, match=msg):
            Est(alpha=0.1, precompute=bad).fit(X, y)
    with pytest.raises(ValueError, match=msg):
        enet_path(X, y, alphas=[0.1], precompute=bad)


def test_elasticnet_precompute_gram_used(data, caplog):
    X, y = data
    gram = X.T @ X
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        ours = ElasticNet(alpha=0.1, precompute=gram, fit_intercept=False).fit(X, y)
    assert "user Gram" in caplog.text
    ref = sk.ElasticNet(alpha=0.1, precompute=gram, fit_intercept=False).fit(X, y)
    np.testing.assert_array_equal(ours.coef_, ref.coef_)


def test_overridden_gram_matrix(data):
    # scikit-learn's test: a Gram of uncentred X with an intercept is recomputed
    X, y = data
    msg = "Gram matrix was provided but X was centered to fit intercept: recomputing Gram"
    with pytest.warns(UserWarning, match=msg):
        ours = ElasticNet(alpha=0.1, tol=1e-10, precompute=X.T @ X).fit(X, y)
    ref = ElasticNet(alpha=0.1, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_)


# --- the path functions: scikit-learn's full signature ---

@pytest.mark.parametrize("path_func", [lasso_path, enet_path])
def test_path_unknown_parameter(data, path_func):
    X, y = data
    with pytest.raises(ValueError, match="Unexpected parameters in params"):
        path_func(X, y, alphas=[0.1], foo=1)
    path_func(X, y, alphas=[0.1], random_state=0, selection="random", do_screening=False)
    with pytest.raises(ValueError, match="selection should be either random or cyclic"):
        path_func(X, y, alphas=[0.1], selection="best")


@pytest.mark.parametrize("alphas, msg", [([-0.1, 0.1], r"alphas\[0\] == -0.1, must be >= 0.0"),
                                         ([0.1, np.nan], r"alphas\[1\] == nan"),
                                         ([0.1, "1"], r"alphas\[1\] must be an instance")])
def test_path_invalid_alphas(data, alphas, msg):
    X, y = data
    with pytest.raises((ValueError, TypeError), match=msg):
        lasso_path(X, y, alphas=alphas)


def test_path_coef_init_wrong_length(data):
    X, y = data
    with pytest.raises(ValueError, match=r"coef_init has shape \(3,\)"):
        lasso_path(X, y, alphas=[0.1], coef_init=np.zeros(3))
    _, c, _ = lasso_path(X, y, alphas=[0.1], coef_init=np.ones(8), tol=1e-10)
    _, c_ref, _ = sk.lasso_path(X, y, alphas=[0.1], coef_init=np.ones(8), tol=1e-10)
    np.testing.assert_allclose(c, c_ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("path_func", [lasso_path, enet_path])
def test_path_alphas_int_and_deprecations(data, path_func):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, c, _ = path_func(X, y, alphas=5)
        path_func(X, y)
    a_ref, _, _ = getattr(sk, path_func.__name__)(X, y, alphas=5)
    np.testing.assert_allclose(a, a_ref, rtol=1e-12)
    assert c.shape == (8, 5)
    if PATH_N_ALPHAS_DEPRECATED:
        with pytest.warns(FutureWarning, match="'n_alphas' was deprecated in 1.9"):
            a2, _, _ = path_func(X, y, n_alphas=5)
        np.testing.assert_array_equal(a2, a)
        with pytest.warns(FutureWarning, match="'alphas=None' is deprecated"):
            path_func(X, y, alphas=None)


@pytest.mark.parametrize("n_targets", [1, 2])
def test_path_multi_output_runs_sklearn_multitask(data, n_targets, caplog):
    X, y = data
    Y = np.c_[y, -2 * y + 1][:, :n_targets]
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        a, c, g, n = enet_path(X, Y, alphas=[1.0, 0.1], return_n_iter=True)
    assert "multi-output" in caplog.text
    a_ref, c_ref, g_ref, n_ref = sk.enet_path(X, Y, alphas=[1.0, 0.1], return_n_iter=True)
    assert c.shape == c_ref.shape == (n_targets, 8, 2)
    np.testing.assert_array_equal(c, c_ref)
    with pytest.raises(ValueError, match="positive=True is not allowed for multi-output"):
        enet_path(X, Y, alphas=[0.1], positive=True)


@pytest.mark.parametrize("precompute", [True, False, "auto"])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
def test_path_precompute_xy_check_input(data, precompute, fmt):
    X, y = data
    Xf = np.asfortranarray(X) if fmt == "dense" else sp.csc_matrix(X)
    a_ref, c_ref, _ = sk.enet_path(X, y, alphas=5, precompute=precompute, tol=1e-10)
    for kw in ({}, {"Xy": X.T @ y}, {"check_input": False}, {"copy_X": False}):
        a, c, _ = enet_path(Xf, y, alphas=5, precompute=precompute, tol=1e-10, **kw)
        np.testing.assert_allclose(a, a_ref, rtol=1e-12)
        np.testing.assert_allclose(c, c_ref, rtol=1e-5, atol=1e-7)


def test_path_positive_grid_as_sklearn(data):
    X, y = data
    a, c, _ = enet_path(X, -y, alphas=4, positive=True)
    a_ref, _, _ = sk.enet_path(X, -y, alphas=4, positive=True)
    np.testing.assert_allclose(a, a_ref, rtol=1e-12)
    assert (c >= 0).all()


def test_path_verbose(data, capsys):
    X, y = data
    lasso_path(X, y, alphas=3, verbose=True)
    assert capsys.readouterr().err == "..."
    lasso_path(X, y, alphas=3, verbose=2)
    assert "Path: 002 out of 003" in capsys.readouterr().out


# --- LassoCV / ElasticNetCV: alphas=int, n_alphas deprecated ---

def test_lassocv_alphas_int(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = LassoCV(alphas=10, cv=3, tol=1e-10).fit(X, y)
    ref = sk.LassoCV(alphas=10, cv=3, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-12)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-4)
    assert ours.alpha_ == pytest.approx(ref.alpha_)
    e = ElasticNetCV(l1_ratio=[0.5, 1.0], alphas=4, cv=3).fit(X, y)
    assert e.alphas_.shape == (2, 4) and e.mse_path_.shape == (2, 4, 3)


def test_lassocv_n_alphas_deprecated(data):
    X, y = data
    if CV_N_ALPHAS_DEPRECATED:
        with pytest.warns(FutureWarning, match="'n_alphas' was deprecated"):
            m = LassoCV(n_alphas=7, cv=3).fit(X, y)
    else:
        m = LassoCV(n_alphas=7, cv=3).fit(X, y)
    assert m.alphas_.shape == (7,)


@pytest.mark.parametrize("alphas, err_type, err_msg", [
    ((1, -1, -100), ValueError, r"alphas\[1\] == -1, must be >= 0.0."),
    ((-0.1, -1.0, -10.0), ValueError, r"alphas\[0\] == -0.1, must be >= 0.0."),
    ((1, 1.0, "1"), TypeError, r"alphas\[2\] must be an instance of float, not str"),
])
def test_lassocv_alphas_validation(alphas, err_type, err_msg):
    # scikit-learn's test, verbatim
    rng = np.random.RandomState(0)
    X = rng.randn(5, 5)
    y = rng.randint(0, 2, 5)
    with pytest.raises(err_type, match=err_msg):
        LassoCV(alphas=alphas).fit(X, y)


def test_lassocv_positive_grid(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = LassoCV(alphas=5, cv=3, positive=True).fit(X, -y)
        ref = sk.LassoCV(alphas=5, cv=3, positive=True).fit(X, -y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-12)


def test_path_static_methods_as_sklearn():
    import fastprox.linear_model as fp
    from fastprox.linear_model import enet_path, lasso_path
    from sklearn import linear_model as sk_lm

    for name, ours in (("Lasso", enet_path), ("ElasticNet", enet_path),
                       ("LassoCV", lasso_path), ("ElasticNetCV", enet_path)):
        theirs = getattr(sk_lm, name).path
        assert getattr(fp, name).path is ours
        assert theirs.__name__ == ours.__name__
