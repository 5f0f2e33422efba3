import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastprox.neural_network import CSRLayer, DenseLayer, MLPClassifier, MLPRegressor
from fastprox.neural_network._base import activate, derivative

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 20))
    w = np.zeros(20)
    w[:5] = rng.standard_normal(5)
    y = X @ w + 0.1 * rng.standard_normal(300)
    return X, y


def test_dense_matches_sklearn_accuracy(digits):
    from sklearn.neural_network import MLPClassifier as SkMLP

    Xtr, Xte, ytr, yte = digits
    ours = MLPClassifier((64,), max_iter=60, random_state=0).fit(Xtr, ytr)
    ref = SkMLP((64,), max_iter=60, random_state=0).fit(Xtr, ytr)
    a, b = ours.score(Xte, yte), ref.score(Xte, yte)
    assert a > 0.95 and abs(a - b) < 0.03
    assert [c.shape for c in ours.coefs_] == [c.shape for c in ref.coefs_]
    assert len(ours.loss_curve_) == ours.n_iter_
    assert np.all(np.isfinite(ours.loss_curve_))
    np.testing.assert_allclose(ours.predict_proba(Xte).sum(axis=1), 1.0)
    assert set(ours.classes_) == set(range(10))


def test_l1_gives_exact_zeros_and_l2_does_not(regression):
    X, y = regression
    kw = dict(learning_rate_init=0.01, batch_size=50, max_iter=60, random_state=0)
    l1 = MLPRegressor((10, 10), l1=3e-3, **kw).fit(X, y)
    l2 = MLPRegressor((10, 10), alpha=1.0, **kw).fit(X, y)
    zeros_l1 = sum(int(np.sum(c == 0)) for c in l1.coefs_)
    zeros_l2 = sum(int(np.sum(c == 0)) for c in l2.coefs_)
    assert zeros_l1 > 0.2 * sum(c.size for c in l1.coefs_)
    assert zeros_l2 == 0
    assert l1.score(X, y) > 0.8
    # the noise inputs (5..19) lose more first-layer weights than the signal inputs
    W0 = l1.coefs_[0]
    assert np.mean(W0[5:] == 0) > np.mean(W0[:5] == 0)


@pytest.mark.parametrize("schedule", ["oneshot", "iterative", "gradual"])
@pytest.mark.parametrize("s", [0.5, 0.9])
def test_target_sparsity_exact(digits, schedule, s):
    Xtr, Xte, ytr, yte = digits
    m = MLPClassifier((32,), max_iter=10, target_sparsity=s, pruning_schedule=schedule,
                      pruning_steps=3, finetune_epochs=3, learning_rate_init=0.01,
                      random_state=0).fit(Xtr, ytr)
    n = sum(c.size for c in m.coefs_)
    nnz = sum(layer.nnz for layer in m.layers_)
    assert nnz == n - int(np.floor(s * n + 0.5))
    assert m.sparsity_ == pytest.approx(1 - nnz / n)
    expected = "csr" if s == 0.9 else None
    if expected:
        assert "csr" in m.layer_storage_
    assert m.score(Xte, yte) > 0.7


def test_layer_scope_and_threshold(digits):
    Xtr, _, ytr, _ = digits
    m = MLPClassifier((32,), max_iter=5, target_sparsity=0.8, pruning_scope="layer",
                      finetune_epochs=1, random_state=0).fit(Xtr, ytr)
    for layer in m.layers_:
        n = layer.shape[0] * layer.shape[1]
        assert layer.nnz == n - int(np.floor(0.8 * n + 0.5))
    m = MLPClassifier((32,), max_iter=5, prune_threshold=0.1, finetune_epochs=0,
                      random_state=0).fit(Xtr, ytr)
    for c in m.coefs_:
        assert np.all((c == 0) | (np.abs(c) >= 0.1))


def _net_grads(layers, X, Y, activation="tanh"):
    """Loss (squared) and gradients through the layers' own forward/backward."""
    acts = [np.ascontiguousarray(X.T)]
    for i, layer in enumerate(layers):
        Z = layer.forward(acts[-1])
        acts.append(activate(Z, activation) if i < len(layers) - 1 else Z)
    b = X.shape[0]
    D = acts[-1] - Y.T
    loss = float((D * D).sum() / (2 * b))
    delta = D / b
    grads = [None] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        gW, gb, d_in = layers[i].backward(delta, acts[i], i > 0)
        grads[i] = (gW, gb)
        if i > 0:
            delta = derivative(d_in, acts[i], activation)
    return loss, grads


def test_csr_layers_match_masked_dense_and_numerical_gradient():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 5))
    Y = rng.standard_normal((7, 3))
    shapes = [(5, 4), (4, 3)]
    Ws = [rng.standard_normal(s) for s in shapes]
    bs = [rng.standard_normal(s[1]) for s in shapes]
    masks = [rng.random(s) < 0.5 for s in shapes]
    dense = [DenseLayer(W * m, b.copy(), mask=m) for W, b, m in zip(Ws, bs, masks)]
    csr = [CSRLayer.from_matrix(W, b.copy(), m) for W, b, m in zip(Ws, bs, masks)]
    for layer, m in zip(csr, masks):
        assert layer.nnz == m.sum()
    loss_d, g_d = _net_grads(dense, X, Y)
    loss_c, g_c = _net_grads(csr, X, Y)
    assert loss_c == pytest.approx(loss_d, rel=1e-12)
    for (gWd, gbd), (gWc, gbc), layer, m in zip(g_d, g_c, csr, masks):
        np.testing.assert_allclose(layer.to_dense(gWc), gWd, atol=1e-12)
        np.testing.assert_allclose(gbc, gbd, atol=1e-12)
        assert np.all(gWd[~m] == 0)
    # central differences on every stored value of the CSR net
    h = 1e-6
    for li, layer in enumerate(csr):
        for k in range(layer.nnz):
            old = layer.data[k]
            layer.data[k] = old + h
            lp, _ = _net_grads(csr, X, Y)
            layer.data[k] = old - h
            lm, _ = _net_grads(csr, X, Y)
            layer.data[k] = old
            assert (lp - lm) / (2 * h) == pytest.approx(g_c[li][0][k], rel=1e-5, abs=1e-8)


def test_csr_model_predictions_equal_dense_forward(digits):
    Xtr, Xte, ytr, _ = digits
    m = MLPClassifier((32, 32), max_iter=10, target_sparsity=0.9, finetune_epochs=2,
                      pruning_scope="layer", random_state=0).fit(Xtr, ytr)
    assert m.layer_storage_ == ["csr", "csr", "csr"]
    H = Xte
    for i, (W, b) in enumerate(zip(m.coefs_, m.intercepts_)):
        H = H @ W + b
        if i < 2:
            H = np.maximum(H, 0)
    P = np.exp(H - H.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(m.predict_proba(Xte), P, rtol=1e-10, atol=1e-12)
    for A, W in zip(m.sparse_coefs_, m.coefs_):
        assert sp.issparse(A) and A.format == "csr" and A.shape == W.shape
        np.testing.assert_array_equal(A.toarray(), W)


def test_structured_pruning_shrinks_shapes(digits):
    Xtr, Xte, ytr, yte = digits
    m = MLPClassifier((32, 16), max_iter=15, target_sparsity=0.5, structured=True,
                      finetune_epochs=3, learning_rate_init=0.01, random_state=0).fit(Xtr, ytr)
    assert [c.shape for c in m.coefs_] == [(64, 16), (16, 8), (8, 10)]
    assert [b.shape for b in m.intercepts_] == [(16,), (8,), (10,)]
    assert m.score(Xte, yte) > 0.8
    g = MLPClassifier((32,), max_iter=15, group_l1=2.0, learning_rate_init=0.01, structured=True,
                      prune_threshold=1e-12, finetune_epochs=1, random_state=0).fit(Xtr, ytr)
    assert g.coefs_[0].shape[1] < 32  # group lasso killed neurons, which were removed


def test_pickle_round_trip_and_size(digits):
    Xtr, Xte, ytr, _ = digits
    m = MLPClassifier((64, 64), max_iter=5, target_sparsity=0.9, finetune_epochs=1,
                      random_state=0).fit(Xtr, ytr)
    d = MLPClassifier((64, 64), max_iter=5, random_state=0).fit(Xtr, ytr)
    blob = pickle.dumps(m)
    m2 = pickle.loads(blob)
    np.testing.assert_array_equal(m2.predict_proba(Xte), m.predict_proba(Xte))
    assert len(blob) < 0.4 * len(pickle.dumps(d))


def test_float32_sgd_early_stopping_warm_start(digits):
    Xtr, Xte, ytr, yte = digits
    m = MLPClassifier((32,), solver="sgd", learning_rate_init=0.1, max_iter=30,
                      early_stopping=True, random_state=0).fit(Xtr.astype(np.float32), ytr)
    assert m.coefs_[0].dtype == np.float32
    assert len(m.validation_scores_) == m.n_iter_
    assert m.score(Xte, yte) > 0.85
    n0 = m.n_iter_
    m.set_params(warm_start=True, max_iter=2, early_stopping=False)
    m.fit(Xtr.astype(np.float32), ytr)
    assert m.n_iter_ == 2 and n0 >= 1


def test_binary_and_multioutput():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 4))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    c = MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, random_state=0).fit(X, y)
    assert c.predict_proba(X).shape == (200, 2)
    assert c.score(X, y) > 0.9
    Y = np.c_[X[:, 0], X[:, 1] - X[:, 2]]
    r = MLPRegressor((16,), max_iter=200, learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert r.predict(X).shape == (200, 2) and r.score(X, Y) > 0.9


def test_bad_input():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.arange(30) % 2
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[0, 0] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            MLPClassifier(max_iter=1).fit(Xb, y)
    with pytest.raises(ValueError, match="inconsistent"):
        MLPClassifier(max_iter=1).fit(X, y[:-1])
    with pytest.raises(ValueError, match="one class"):
        MLPClassifier(max_iter=1).fit(X, np.zeros(30))
    for s in (1.0, -0.1, 2):
        with pytest.raises(ValueError, match="target_sparsity"):
            MLPClassifier(max_iter=1, target_sparsity=s).fit(X, y)
    with pytest.raises(ValueError, match="l1"):
        MLPClassifier(max_iter=1, l1=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier((0,), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="not both"):
        MLPClassifier(max_iter=1, target_sparsity=0.5, prune_threshold=0.1).fit(X, y)
    m = MLPClassifier((4,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :2])


def test_divergence_raises_and_keeps_model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = X.sum(axis=1)
    m = MLPRegressor((8,), max_iter=3, random_state=0).fit(X, y)
    before = [c.copy() for c in m.coefs_]
    m.set_params(solver="sgd", learning_rate_init=1e6, momentum=0.0, activation="identity",
                 max_iter=50)
    with pytest.raises(ValueError, match="diverged"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(X, y * 1e6)
    for c, c0 in zip(m.coefs_, before):  # the failed fit left the fitted model untouched
        np.testing.assert_array_equal(c, c0)
    assert m.n_iter_ == 3


def test_unfitted_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MLPClassifier().predict(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        MLPClassifier().coefs_


def test_predict_fast_path_matches_validated_path(digits):
    X, _, y, _ = digits
    m = MLPClassifier((16,), max_iter=5, target_sparsity=0.8, finetune_epochs=1,
                      random_state=0).fit(X, y)
    assert m.layer_storage_[0] == "csr"
    Xf = np.ascontiguousarray(X[:7])
    ref = m.predict_proba(Xf.tolist())  # list input: validated path
    np.testing.assert_allclose(m.predict_proba(Xf), ref, rtol=1e-12)
    np.testing.assert_allclose(m.predict_proba(np.asfortranarray(Xf)), ref, rtol=1e-12)
    np.testing.assert_allclose(m.predict_proba(Xf[:1]), ref[:1], rtol=1e-12)  # batch 1: spmv
    np.testing.assert_allclose(m.predict_proba(Xf.astype(np.float32)), ref, rtol=1e-5)
    bad = Xf.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        m.predict(bad)
    with pytest.raises(ValueError):
        m.predict(Xf[:, :-1])


def test_learning_rate_schedules_follow_sklearn():
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.01, batch_size=100,
              random_state=0)
    m = MLPClassifier(learning_rate="invscaling", power_t=0.5, max_iter=3, **kw).fit(X, y)
    assert m.t_ == 900
    assert m._optimizer.lr == pytest.approx(0.01 / 901 ** 0.5)
    # a tol no epoch can meet: 'adaptive' divides the rate by 5 after every
    # n_iter_no_change + 1 flat epochs and stops once it is <= 1e-6, as scikit-learn does
    plateau = dict(kw, learning_rate="adaptive", tol=1e3, n_iter_no_change=1, max_iter=100)
    ours = MLPClassifier(**plateau).fit(X, y)
    ref = SkMLP(**plateau).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_
    assert ours._optimizer.lr == pytest.approx(ref._optimizer.learning_rate)
    # adam ignores the schedule and stops at the first plateau
    adam = MLPClassifier(**dict(plateau, solver="adam")).fit(X, y)
    assert adam.n_iter_ == 3
    with pytest.raises(ValueError, match="learning_rate"):
        MLPClassifier(learning_rate="optimal").fit(X, y)


@pytest.mark.parametrize("pruned", [False, True])
def test_warm_start_reuses_optimizer_state(digits, pruned):
    X, _, y, _ = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, batch_size=200, random_state=0)
    if pruned:
        kw.update(target_sparsity=0.8, finetune_epochs=1)
    m = MLPClassifier(warm_start=True, **kw).fit(X, y)
    steps = m._optimizer.t
    state = [w.copy() for w in m._optimizer.state[0][0]]
    m.fit(X, y)
    assert m._optimizer.t > steps  # Adam's bias correction continues, moments carry over
    assert m._optimizer.state[0][0][0].shape == state[0].shape
    assert m._optimizer.est is None
    # with warm_start the state travels with pickles (test_state.py: bit for bit)
    assert pickle.loads(pickle.dumps(m))._optimizer.t == m._optimizer.t
    # a fresh (non-warm) fit starts from zero state
    cold = MLPClassifier(**kw).fit(X, y)
    assert cold._optimizer.t == steps


@pytest.mark.parametrize("params", [
    dict(solver="newton"), dict(max_fun=0), dict(n_iter_no_change=1.5), dict(momentum=1.0),
    dict(pruning_schedule="cubic"),
    dict(sparse_crossover=1.5), dict(pruning_interval=-1), dict(batch_size=0),
    dict(target_sparsity="0.9"), dict(validation_fraction=0.0), dict(l1=np.inf)])
def test_invalid_parameters_raise_sklearn_error(params):
    from sklearn.utils._param_validation import InvalidParameterError

    X = np.random.default_rng(0).standard_normal((20, 3))
    name = next(iter(params))
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of MLPClassifier"):
        MLPClassifier(max_iter=1, **params).fit(X, np.arange(20) % 2)


def test_public_facades_reexport_the_implementation():
    import fastprox.pruning
    import fastprox.report
    from fastprox.neural_network import _pruning, _report

    assert fastprox.report.sparsity_report is _report.sparsity_report
    assert fastprox.report.SparsityReport is _report.SparsityReport
    for name in fastprox.pruning.__all__:
        assert getattr(fastprox.pruning, name) is getattr(_pruning, name)
