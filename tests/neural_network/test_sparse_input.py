"""Sparse X (scipy.sparse CSR / CSC) for the MLPs: the same model as dense X, X never densified.

Each solver (adam, sgd, lbfgs), dense and pruned first layers (CSR below the
crossover, masked dense above it, structured), classifier and regressor:
``fit``, ``partial_fit``, ``predict*``, ``score``, the sparsity report and the
post-hoc tools on ``sp.csr_array(X)`` give what they give on ``X`` (within
float rounding: the first layer's products sum in another order). scikit-
learn's sparse checks run in test_estimator_checks.py (the sparse tag is set).
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fastprox.neural_network import MLPClassifier, MLPRegressor, _sparse_input
from fastprox.pruning import prune, sensitivity

X_digits, y_digits = load_digits(return_X_y=True)
X_digits = X_digits[:400] / 16  # about half of the pixels are zero
y_digits = y_digits[:400]
X_reg, y_reg = make_regression(n_samples=200, n_features=30, noise=1.0, random_state=0)
X_reg[np.abs(X_reg) < 0.8] = 0.0  # ~60 % zeros
y_reg /= y_reg.std()

PRUNE = dict(target_sparsity=0.8, pruning_schedule="gradual", pruning_steps=3,
             pruning_interval=2, finetune_epochs=3)
VARIANTS = {
    "dense": {},
    "csr": PRUNE,  # first layer stored as CSR (density 0.2 < crossover 0.3)
    "masked": dict(PRUNE, target_sparsity=0.5, sparse_crossover=0.3),  # masked dense
    "structured": dict(PRUNE, target_sparsity=0.5, structured=True),
}
SOLVERS = {"adam": dict(learning_rate_init=0.01), "sgd": dict(learning_rate_init=0.1),
           "lbfgs": {}}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture
def no_densify(monkeypatch):
    """Fail if a sparse X is turned into a dense array anywhere (toarray / todense)."""
    # an input (or a batch of it, or its transpose) has n_features (64 or 30) on
    # one side and at least 20 samples on the other; weights have <= 16 units there
    def refuse(self, *args, **kwargs):
        n_features = {X_digits.shape[1], X_reg.shape[1]}
        if any(a in n_features and b >= 20 for a, b in (self.shape, self.shape[::-1])):
            raise AssertionError(f"a sparse input of shape {self.shape} was densified")
        return original[type(self)](self, *args, **kwargs)
    original = {}
    for cls in (sp.csr_array, sp.csc_array, sp.csr_matrix, sp.csc_matrix):
        original[cls] = cls.toarray
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)


def _pair(est, X, y, container=sp.csr_array):
    dense = est.fit(X, y)
    sparse = type(est)(**est.get_params()).fit(container(X), y)
    return dense, sparse


def _same_model(a, b, X, rtol=1e-7, atol=1e-9):
    assert a.layer_storage_ == b.layer_storage_
    assert [c.shape for c in a.coefs_] == [c.shape for c in b.coefs_]
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(ca, cb, rtol=rtol, atol=atol)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol, atol=atol)
    assert a.sparsity_ == b.sparsity_
    assert a.n_iter_ == b.n_iter_ and a.t_ == b.t_


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_classifier_sparse_equals_dense(solver, variant, no_densify):
    est = MLPClassifier((16,), solver=solver, max_iter=8, random_state=0,
                        **SOLVERS[solver], **VARIANTS[variant])
    a, b = _pair(est, X_digits, y_digits)
    _same_model(a, b, X_digits)
    Xs = sp.csr_array(X_digits)
    np.testing.assert_allclose(a.predict_proba(X_digits), b.predict_proba(Xs), atol=1e-9)
    np.testing.assert_array_equal(a.predict(X_digits), b.predict(Xs))
    assert a.score(X_digits, y_digits) == b.score(Xs, y_digits)
    if variant == "csr":
        assert b.layer_storage_[0] == "csr"
    if variant == "masked":
        assert b.layer_storage_[0] == "dense" and b.layers_[0].mask is not None


@pytest.mark.parametrize("variant", ["dense", "csr"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_regressor_sparse_equals_dense(solver, variant, no_densify):
    est = MLPRegressor((12, 8), solver=solver, max_iter=8, random_state=0, activation="tanh",
                       **SOLVERS[solver], **VARIANTS[variant])
    a, b = _pair(est, X_reg, y_reg, sp.csc_matrix)  # CSC is accepted too
    _same_model(a, b, X_reg)
    np.testing.assert_allclose(a.predict(X_reg), b.predict(sp.csc_matrix(X_reg)), atol=1e-9)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_sample_weight_and_early_stopping_on_sparse_x(solver, no_densify):
    sw = np.random.RandomState(0).randint(0, 3, X_digits.shape[0]).astype(float)
    est = MLPClassifier((16,), solver=solver, max_iter=8, random_state=0, early_stopping=True,
                        **SOLVERS[solver])
    a = est.fit(X_digits, y_digits, sample_weight=sw)
    b = MLPClassifier(**est.get_params()).fit(sp.csr_array(X_digits), y_digits,
                                              sample_weight=sw)
    _same_model(a, b, X_digits)
    np.testing.assert_allclose(a.validation_scores_, b.validation_scores_)


@pytest.mark.parametrize("pruned", [False, True])
def test_partial_fit_on_sparse_blocks(pruned, no_densify):
    base = MLPClassifier((16,), max_iter=5, random_state=0, learning_rate_init=0.01,
                         **(PRUNE if pruned else {}))
    a = base.fit(X_digits, y_digits)
    b = MLPClassifier(**base.get_params()).fit(sp.csr_array(X_digits), y_digits)
    for start in range(0, 400, 100):
        block = slice(start, start + 100)
        a.partial_fit(X_digits[block], y_digits[block])
        b.partial_fit(sp.csr_matrix(X_digits[block]), y_digits[block])
    _same_model(a, b, X_digits)
    if pruned:  # the pattern stays frozen
        assert b.layer_storage_[0] == "csr" and b.sparsity_ == a.sparsity_


def test_float32_sparse_input():
    X32 = X_digits.astype(np.float32)
    a = MLPClassifier((16,), max_iter=5, random_state=0, **PRUNE).fit(X32, y_digits)
    b = MLPClassifier((16,), max_iter=5, random_state=0, **PRUNE).fit(sp.csr_array(X32),
                                                                      y_digits)
    assert b.coefs_[0].dtype == np.float32
    _same_model(a, b, X32, rtol=1e-4, atol=1e-5)


def test_csr_input_is_not_modified_and_may_be_non_canonical():
    X = sp.csr_array(X_digits)
    # duplicates and unsorted indices: canonicalised on a copy, the user's matrix untouched
    rows, cols = X.nonzero()
    data = X.data / 2
    dup = sp.csr_array((np.r_[data, data], (np.r_[rows, rows], np.r_[cols, cols])),
                       shape=X.shape)
    dup.has_canonical_format = False
    before = (dup.data.copy(), dup.indices.copy())
    a = MLPClassifier((8,), max_iter=3, random_state=0).fit(X_digits, y_digits)
    b = MLPClassifier((8,), max_iter=3, random_state=0).fit(dup, y_digits)
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], atol=1e-9)
    np.testing.assert_array_equal(dup.data, before[0])
    np.testing.assert_array_equal(dup.indices, before[1])


def test_sparse_x_matches_sklearn_with_the_same_weights():
    # scikit-learn's MLP on sparse X from the same start: the same lbfgs fit
    kw = dict(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=30, random_state=0)
    ours = MLPClassifier(**kw).fit(sp.csr_array(X_digits), y_digits)
    theirs = SkMLPClassifier(**kw).fit(sp.csr_array(X_digits), y_digits)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_layer_products_against_dense_reference():
    rng = np.random.RandomState(0)
    X = sp.random(7, 11, density=0.3, format="csr", random_state=1)
    W = rng.randn(11, 5) * (rng.rand(11, 5) < 0.4)
    b = rng.randn(5)
    delta = rng.randn(5, 7)
    from fastprox.neural_network._layers import CSRLayer, DenseLayer
    for layer in (DenseLayer(W, b), DenseLayer(W, b, mask=W != 0), CSRLayer.from_matrix(W, b)):
        Z = layer.forward(X.T, relu=True)
        np.testing.assert_allclose(Z, np.maximum(W.T @ X.toarray().T + b[:, None], 0))
        gW, gb, d_in = layer.backward(delta, X.T, False)
        G = X.toarray().T @ delta.T
        ref = layer.gather(G * layer.keep()) if layer.kind == "csr" else G * layer.keep()
        np.testing.assert_allclose(gW, ref)
        np.testing.assert_allclose(gb, delta.sum(axis=1))
        assert d_in is None
        with pytest.raises(RuntimeError):
            _sparse_input.backward(layer, delta, X.T, True)


def test_report_and_posthoc_tools_on_sparse_x(no_densify):
    m = MLPClassifier((16,), max_iter=10, random_state=0).fit(X_digits, y_digits)
    Xs = sp.csr_array(X_digits)
    assert m.sparsity_report(Xs, y_digits).score == m.sparsity_report(X_digits, y_digits).score
    for kw in (dict(sparsity=0.8, method="taylor"),
               dict(keep_ratio=0.5, structured=True, method="taylor")):
        a, b = prune(m, X=X_digits, y=y_digits, **kw), prune(m, X=Xs, y=y_digits, **kw)
        np.testing.assert_allclose(a.coefs_[0], b.coefs_[0])
    t_dense = sensitivity(m, X_digits, y_digits, sparsities=(0.5, 0.9), per_layer=False)
    t_sparse = sensitivity(m, Xs, y_digits, sparsities=(0.5, 0.9), per_layer=False)
    assert t_dense.to_dict()["network"] == t_sparse.to_dict()["network"]


def test_sparse_input_errors_as_sklearn():
    m = MLPClassifier((8,), max_iter=3, random_state=0).fit(sp.csr_array(X_digits), y_digits)
    with pytest.raises(ValueError, match="features"):
        m.predict(sp.csr_array(X_digits[:, :10]))
    # formats other than CSR / CSC are converted, as scikit-learn does
    np.testing.assert_array_equal(m.predict(sp.coo_array(X_digits)), m.predict(X_digits))
