"""scikit-learn's MLP API on fastprox's MLPs, tested the way scikit-learn tests its own
(sklearn/neural_network/tests/test_mlp.py) and side by side with scikit-learn where both run:
lbfgs (max_fun, the loss curve against scikit-learn's), multilabel, multi-output,
sample_weight, loss='poisson', early stopping, n_iter_no_change=inf, warm_start, partial_fit.
"""
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, make_multilabel_classification, \
    make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import PoissonRegressor
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.preprocessing import MinMaxScaler, scale

from fastprox.neural_network import MLPClassifier, MLPRegressor, _lbfgs

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
X_digits, y_digits = load_digits(n_class=3, return_X_y=True)
X_multi, y_multi = MinMaxScaler().fit_transform(X_digits[:200]), y_digits[:200]
X_reg, y_reg = make_regression(n_samples=200, n_features=10, bias=20.0, noise=100.0,
                               random_state=7)
y_reg = scale(y_reg)
X_iris, y_iris = load_iris(return_X_y=True)


def _recorded(cls):
    """scikit-learn's estimator class that records each value of its lbfgs objective."""
    class Recording(cls):
        def _loss_grad_lbfgs(self, *args):
            f, g = super()._loss_grad_lbfgs(*args)
            self.values_.append(f)
            return f, g
    return Recording


@pytest.fixture
def our_values(monkeypatch):
    """Every value of fastprox's lbfgs objective, in order."""
    values = []
    call = _lbfgs.Objective.__call__

    def recording(self, x):
        f, g = call(self, x)
        values.append(f)
        return f, g
    monkeypatch.setattr(_lbfgs.Objective, "__call__", recording)
    return values


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("task", ["classifier", "regressor", "sample_weight", "multi-output"])
def test_lbfgs_objective_equals_sklearn(our_values, task, activation):
    # same Glorot start for the same seed, same objective and gradient: the
    # same sequence of objective values (line searches included)
    kw = dict(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=40, alpha=1e-3,
              random_state=0, activation=activation)
    sw = None
    if task in ("regressor", "multi-output"):
        # multi-output: scikit-learn's loss averages the squared error over the
        # outputs while its gradient sums them; L-BFGS's steps follow that pair
        ours, ref = MLPRegressor(**kw), _recorded(SkMLPRegressor)(**kw)
        X, y = X_reg, y_reg
        if task == "multi-output":
            y = np.column_stack([y, 0.5 * y + 1.0, np.sin(y)])
    else:
        ours, ref = MLPClassifier(**kw), _recorded(SkMLPClassifier)(**kw)
        X, y = X_multi, y_multi
        if task == "sample_weight":
            sw = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    ref.values_ = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y, sample_weight=sw)
        ref.fit(X, y, sample_weight=sw)
    a, b = np.array(our_values), np.array(ref.values_)
    n = min(len(a), len(b), 30)  # far into a run, rounding may pick another line-search step
    np.testing.assert_allclose(a[:n], b[:n], rtol=1e-6)
    assert ours.n_iter_ == ref.n_iter_ or abs(ours.loss_ - ref.loss_) < 1e-6 * abs(ref.loss_)
    assert ours.out_activation_ == ref.out_activation_
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-5)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_lbfgs_classification_and_regression(activation):
    # scikit-learn's test_lbfgs_classification / test_lbfgs_regression
    mlp = MLPClassifier(solver="lbfgs", hidden_layer_sizes=50, max_iter=150, random_state=1,
                        activation=activation).fit(X_multi[:150], y_multi[:150])
    assert mlp.score(X_multi[:150], y_multi[:150]) > 0.95
    assert mlp.predict(X_multi[150:]).dtype.kind == y_multi.dtype.kind
    reg = MLPRegressor(solver="lbfgs", hidden_layer_sizes=50, max_iter=200, tol=1e-3,
                       random_state=1, activation=activation).fit(X_reg, y_reg)
    assert reg.score(X_reg, y_reg) > (0.80 if activation == "identity" else 0.98)


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_lbfgs_max_fun(Est):
    X, y = (X_multi, y_multi) if Est is MLPClassifier else (X_reg, y_reg)
    mlp = Est(solver="lbfgs", hidden_layer_sizes=50, tol=0.0, max_iter=150, max_fun=10,
              random_state=1)
    with pytest.warns(ConvergenceWarning):
        mlp.fit(X, y)
    assert mlp.n_iter_ <= 10


def test_lbfgs_has_no_partial_fit_and_refuses_group_l1():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(SkMLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")
    with pytest.raises(ValueError, match="solver='adam' or solver='sgd'"):
        MLPClassifier(solver="lbfgs", max_iter=2, group_l1=1e-3).fit(X_multi, y_multi)


def test_lbfgs_pruned_keeps_the_pattern():
    X, y = X_multi, y_multi
    m = MLPClassifier((32,), solver="lbfgs", max_iter=50, target_sparsity=0.9,
                      pruning_schedule="gradual", pruning_steps=3, finetune_epochs=20,
                      random_state=0).fit(X, y)
    n = sum(c.size for c in m.coefs_)
    assert sum(layer.nnz for layer in m.layers_) == n - int(np.floor(0.9 * n + 0.5))
    assert "csr" in m.layer_storage_
    assert set(m.epoch_phases_) == {"dense", "prune", "finetune"}
    assert m.score(X, y) > 0.95
    # fine-tuning with lbfgs on the nonzeros moved them and kept every zero
    keep = [c != 0 for c in m.coefs_]
    before = [c.copy() for c in m.coefs_]
    m.set_params(warm_start=True, max_iter=5, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(X, y)
    for c, k, c0 in zip(m.coefs_, keep, before):
        assert np.all(c[~k] == 0)
    assert any(not np.array_equal(c, c0) for c, c0 in zip(m.coefs_, before))


def test_multilabel_classification():
    # scikit-learn's test_multilabel_classification, and its predict_proba test
    X, y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    mlp = MLPClassifier(solver="lbfgs", hidden_layer_sizes=50, alpha=1e-5, max_iter=150,
                        random_state=0, activation="logistic").fit(X, y)
    assert mlp.score(X, y) > 0.97
    assert mlp.out_activation_ == "logistic" and mlp.n_outputs_ == y.shape[1]
    proba = mlp.predict_proba(X)
    assert proba.shape == y.shape and not np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(mlp.predict(X), (proba > 0.5).astype(int))
    mlp = MLPClassifier(solver="sgd", hidden_layer_sizes=50, random_state=0,
                        activation="logistic", alpha=1e-5, learning_rate_init=0.2)
    for _ in range(100):
        mlp.partial_fit(X, y, classes=[0, 1, 2, 3, 4])
    assert mlp.score(X, y) > 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(early_stopping=True).fit(X, y).predict(X)  # not stratified
        # the compiled all-CSR epoch trains the multilabel logistic outputs too
        m = MLPClassifier((16,), max_iter=20, target_sparsity=0.9, random_state=0).fit(X, y)
    assert m.layer_storage_ == ["csr", "csr"] and m.predict(X).shape == y.shape


def test_multioutput_regression():
    X, y = make_regression(n_samples=200, n_targets=5, random_state=11)
    mlp = MLPRegressor(solver="lbfgs", hidden_layer_sizes=50, max_iter=200, tol=1e-2,
                       random_state=1).fit(X, y)
    assert mlp.score(X, y) > 0.9 and mlp.predict(X).shape == y.shape


def test_sample_weight_equals_repeated_rows_lbfgs():
    X, y = X_multi[:120], y_multi[:120]
    sw = np.random.default_rng(0).integers(0, 3, X.shape[0])
    kw = dict(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**kw).fit(X, y, sample_weight=sw)
        b = MLPClassifier(**kw).fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-8)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_sample_weight_stochastic(solver):
    # unit weights: the unweighted fit (scikit-learn's test_mlp_sample_weight_with_early_stopping)
    X, y = make_regression(n_samples=100, n_features=2, n_informative=2, random_state=42)
    params = dict(hidden_layer_sizes=10, solver=solver, early_stopping=True, tol=1e-2,
                  learning_rate_init=0.01, batch_size=10, random_state=42)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # sgd diverges on this y, as sklearn
        m1 = MLPRegressor(**params).fit(X, y, sample_weight=np.ones_like(y))
        m2 = MLPRegressor(**params).fit(X, y)
        # weights scale the per-sample losses: a 0-weight half is ignored
        Xc, yc = X_multi, y_multi
        w = (np.arange(len(yc)) % 2).astype(float)
        kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=5, shuffle=False,
                  batch_size=len(yc), random_state=0)
        c1 = MLPClassifier(**kw).fit(Xc, yc, sample_weight=w)
        c2 = MLPClassifier(**kw).fit(Xc[w == 1], yc[w == 1])
    np.testing.assert_allclose(m1.predict(X), m2.predict(X), rtol=1e-10)
    np.testing.assert_allclose(c1.predict_proba(Xc), c2.predict_proba(Xc), rtol=1e-10)
    np.testing.assert_allclose(c1.loss_curve_, c2.loss_curve_, rtol=1e-10)


def test_poisson_equals_glm():
    # scikit-learn's test_mlp_vs_poisson_glm_equivalent
    n = 100
    rng = np.random.default_rng(0)
    X = np.linspace(0, 1, n).reshape(n, -1)
    y = rng.poisson(np.exp(X[:, 0] + 1))
    glm = PoissonRegressor(alpha=0, tol=1e-7).fit(X, y)
    kw = dict(hidden_layer_sizes=(1,), activation="identity", alpha=0, solver="lbfgs",
              tol=1e-7, random_state=np.random.RandomState(1))
    mlp = MLPRegressor(loss="poisson", **kw).fit(X, y)
    assert mlp.out_activation_ == "exp"
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=1e-4)
    kw["random_state"] = np.random.RandomState(1)
    assert not np.allclose(MLPRegressor(**kw).fit(X, y).predict(X), glm.predict(X), rtol=1e-4)
    with pytest.raises(ValueError, match="non-negative"):
        MLPRegressor(loss="poisson", max_iter=1).fit(X, y - 5.0)
    # adam, dense and pruned (the per-layer epoch: the compiled one has no exp output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for extra in ({}, dict(target_sparsity=0.5, sparse_crossover=0.9)):
            m = MLPRegressor((8,), loss="poisson", learning_rate_init=0.05, max_iter=100,
                             random_state=0, **extra).fit(X, y)
            assert np.all(m.predict(X) > 0) and m.score(X, y) > 0.1  # noisy counts: R^2 0.12-0.2


@pytest.mark.parametrize("Est, SkEst", [(MLPClassifier, SkMLPClassifier),
                                        (MLPRegressor, SkMLPRegressor)])
def test_errors_and_stopping_as_sklearn(Est, SkEst):
    if Est is MLPRegressor:  # scikit-learn's test_minimum_input_sample_size
        X, y = make_regression(n_samples=2, n_features=5, random_state=0)
        for E in (Est, SkEst):
            with pytest.raises(ValueError, match="The validation set is too small"):
                E(early_stopping=True, random_state=0).fit(X, y)
    # partial_fit after fit with early stopping: scikit-learn's error
    for E in (Est, SkEst):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp = E(early_stopping=True, max_iter=5, random_state=0).fit(X_iris, y_iris)
        with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
            mlp.partial_fit(X_iris, y_iris)
    # warm start runs max_iter epochs again; n_iter_no_change=inf never stops early
    for solver in ("sgd", "adam", "lbfgs"):
        for E in (Est, SkEst):
            model = E(solver=solver, warm_start=True, max_iter=10, n_iter_no_change=np.inf,
                      random_state=0)
            with pytest.warns(ConvergenceWarning):
                model.fit(X_iris, y_iris)
            assert model.n_iter_ == 10
            model.set_params(max_iter=20)
            with pytest.warns(ConvergenceWarning):
                model.fit(X_iris, y_iris)
            assert model.n_iter_ == 20


def test_n_iter_no_change_inf_and_stratified_split():
    X, y = X_multi[:100], y_multi[:100]
    for E in (MLPClassifier, SkMLPClassifier):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = E(tol=1e9, max_iter=30, solver="sgd", n_iter_no_change=np.inf).fit(X, y)
        assert clf.n_iter_ == 30
    for E in (MLPClassifier, SkMLPClassifier):
        with pytest.raises(ValueError, match="The least populated class"):
            E(early_stopping=True).fit([[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1])
    # scikit-learn's split: stratified for binary labels (one output)
    m = MLPClassifier((8,), early_stopping=True, validation_fraction=0.5, max_iter=3,
                      random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(X, y)
    assert len(m.validation_scores_) == m.n_iter_ and m.best_loss_ is None


def test_diverging_fit_with_early_stopping_does_not_raise():
    # scikit-learn's test_mlp_diverging_loss: no error, the best weights come back
    params = dict(hidden_layer_sizes=100, activation="identity", solver="sgd", alpha=1e-4,
                  learning_rate_init=1, max_iter=20, early_stopping=True, random_state=0)
    for E in (MLPRegressor, SkMLPRegressor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp = E(**params).fit(X_iris, y_iris)
        assert str(mlp.validation_scores_[-1]) == "nan"
        assert isinstance(mlp.validation_scores_[-1], float)
        assert all(np.isfinite(c).all() for c in mlp.coefs_)
        assert np.isfinite(mlp.predict(X_iris)).all()


def test_warm_start_classes_as_sklearn():
    y2 = np.array([0] * 75 + [1] * 75)
    y3alt = np.array([0] * 50 + [1] * 50 + [3] * 50)
    for E in (MLPClassifier, SkMLPClassifier):
        for y_i in (y2, y3alt):
            clf = E(hidden_layer_sizes=2, solver="lbfgs", warm_start=True, random_state=42,
                    tol=1e-2)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X_iris, y_iris)
                clf.fit(X_iris, y_iris)
            message = ("warm_start can only be used where `y` has the same classes as in the "
                       f"previous call to fit. Previously got [0 1 2], `y` has {np.unique(y_i)}")
            with pytest.raises(ValueError, match=re.escape(message)):
                clf.fit(X_iris, y_i)
    for E in (MLPClassifier, SkMLPClassifier):
        clf = E(solver="sgd").partial_fit([[3, 2]], [0], classes=[0, 1])
        with pytest.raises(ValueError):
            clf.partial_fit([[3, 2]], [0], classes=[1, 2])
