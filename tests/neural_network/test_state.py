"""State of a fitted MLP: pickles and copies, threads, failed refits, unfitted errors.

What is checked (issue 14): pickling or copying a model never changes it and
a pickled model continues training bit for bit like the original; MLP fits
from several Python threads leave the process's BLAS thread count as it was;
a refit that fails or is interrupted leaves every fitted attribute as it was;
every public method raises scikit-learn's ``NotFittedError`` before fit and
its input error for the wrong number of features.
"""
import copy
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from fastprox.neural_network import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.2, random_state=0)


def _fitted_state(est):
    """Every fitted attribute of ``est`` (not its parameters) as a comparable value."""
    out = {}
    params = est.get_params(deep=False)
    for k, v in est.__dict__.items():
        if k in params:
            continue
        if k == "layers_":
            v = [(layer.kind, layer.values.copy(), layer.b.copy()) for layer in v]
        elif k == "_optimizer":
            v = (v.t, v.lr, [[s.copy() for s in ws + bs] for ws, bs in v.state])
        out[k] = v
    return out


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if k in ("layers_", "_optimizer", "epoch_times_", "loss_curve_"):
            np.testing.assert_equal(a[k], b[k], err_msg=k)
        elif k != "_partial_rng":
            assert a[k] is b[k] or np.array_equal(a[k], b[k]) or a[k] == b[k], k


def _copies(est):
    return [pickle.loads(pickle.dumps(est)), copy.deepcopy(est)]


# ------------------------------------------------------------------ pickling
@pytest.mark.parametrize("pruned", [False, True])
def test_pickle_and_deepcopy_do_not_change_the_model(digits, pruned):
    X, _, y, _ = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    if pruned:
        kw.update(target_sparsity=0.8, finetune_epochs=1)
    m = MLPClassifier(**kw).fit(X, y)
    before = _fitted_state(m)
    pickle.dumps(m)
    copy.deepcopy(m)
    copy.copy(m)
    _assert_same_state(before, _fitted_state(m))
    assert "_optimizer" in m.__dict__


@pytest.mark.parametrize("pruned", [False, True])
def test_warm_start_continues_bit_for_bit_after_pickling(digits, pruned):
    """The issue's case: a checkpoint pickled between two warm-started fits."""
    X, Xte, y, _ = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, warm_start=True, random_state=0)
    if pruned:
        kw.update(target_sparsity=0.8, finetune_epochs=1)
    ref = MLPClassifier(**kw).fit(X, y).fit(X, y)
    m = MLPClassifier(**kw).fit(X, y)
    pickle.dumps(m)  # a checkpoint must not restart Adam in the next fit
    np.testing.assert_array_equal(m.fit(X, y).loss_curve_, ref.loss_curve_)
    for copied in _copies(MLPClassifier(**kw).fit(X, y)):
        copied.fit(X, y)
        np.testing.assert_array_equal(copied.loss_curve_, ref.loss_curve_)
        np.testing.assert_array_equal(copied.predict_proba(Xte), ref.predict_proba(Xte))
        assert copied._optimizer.t == ref._optimizer.t


@pytest.mark.parametrize("first", ["fit", "partial_fit"])
def test_partial_fit_continues_bit_for_bit_after_pickling(digits, first):
    X, Xte, y, _ = digits
    classes = np.unique(y)
    kw = dict(hidden_layer_sizes=(16,), max_iter=2, random_state=0)

    def start():
        m = MLPClassifier(**kw)
        if first == "fit":
            return m.set_params(warm_start=True).fit(X, y)
        return m.partial_fit(X[:500], y[:500], classes=classes)

    ref = start().partial_fit(X[500:], y[500:])
    for copied in _copies(start()):
        copied.partial_fit(X[500:], y[500:])
        np.testing.assert_array_equal(copied.loss_curve_, ref.loss_curve_)
        np.testing.assert_array_equal(copied.predict_proba(Xte), ref.predict_proba(Xte))


@pytest.mark.parametrize("pruned", [False, True])
def test_loaded_model_predicts_bit_identically(digits, pruned):
    X, Xte, y, _ = digits
    kw = dict(hidden_layer_sizes=(32, 16), max_iter=3, random_state=0)
    if pruned:
        kw.update(target_sparsity=0.9, finetune_epochs=1)
    m = MLPClassifier(**kw).fit(X, y)
    for copied in _copies(m):
        assert copied.layer_storage_ == m.layer_storage_
        np.testing.assert_array_equal(copied.predict_proba(Xte), m.predict_proba(Xte))
        np.testing.assert_array_equal(copied.predict_proba(Xte[:1]), m.predict_proba(Xte[:1]))


def test_pickle_of_a_cold_fit_stays_compact(digits):
    """Without warm_start or partial_fit the optimizer state is not pickled (kept live)."""
    X, _, y, _ = digits
    m = MLPClassifier((16,), max_iter=2, random_state=0).fit(X, y)
    assert "_optimizer" not in pickle.loads(pickle.dumps(m)).__dict__
    assert "_optimizer" in m.__dict__
    m.set_params(warm_start=True)
    assert "_optimizer" in pickle.loads(pickle.dumps(m)).__dict__


# ------------------------------------------------------------------- threads
def test_threaded_fits_leave_blas_threads_as_they_were(digits):
    """Each fit limits BLAS to one thread; concurrent fits must not leak that limit."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X, _, y, _ = digits

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas"]

    def fit(seed):
        return MLPClassifier((16,), max_iter=10, random_state=seed).fit(X, y).predict(X)

    if not blas_threads():
        pytest.skip("no BLAS seen by threadpoolctl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = [fit(s) for s in range(8)]
        for limit in (None, 2, 3):  # the default, and limits a 1-CPU machine would hide
            with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
                before = blas_threads()
                for _ in range(2):
                    with ThreadPoolExecutor(8) as pool:
                        parallel = list(pool.map(fit, range(8)))
                    assert blas_threads() == before, limit
                    for a, b in zip(serial, parallel):
                        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- failed refits
def test_failed_refit_on_other_shape_keeps_every_attribute(digits):
    X, Xte, y, _ = digits
    m = MLPRegressor((8,), max_iter=3, random_state=0).fit(X, y.astype(float))
    before = _fitted_state(m)
    pred = m.predict(Xte)
    rng = np.random.default_rng(0)
    X2 = rng.standard_normal((50, 3)) * 1e6
    m.set_params(solver="sgd", learning_rate_init=1e6, momentum=0.0, max_iter=50)
    with pytest.raises(ValueError, match="diverged"), np.errstate(all="ignore"):
        m.fit(X2, X2.sum(axis=1) * 1e6)
    _assert_same_state(before, _fitted_state(m))
    assert m.n_features_in_ == 64
    np.testing.assert_array_equal(m.predict(Xte), pred)


def test_failed_refit_with_new_classes_keeps_classes(digits):
    X, Xte, y, _ = digits
    m = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    before = _fitted_state(m)
    m.set_params(learning_rate_init=1e300, solver="sgd", momentum=0.0)
    with pytest.raises(ValueError, match="diverged"), np.errstate(all="ignore"):
        m.fit(X[:, :10] * 1e300, y % 3)
    _assert_same_state(before, _fitted_state(m))
    assert m.predict(Xte).shape == (Xte.shape[0],)


# --------------------------------------------------------------- unfitted
_METHODS = {
    "predict": lambda m, X: m.predict(X),
    "predict_proba": lambda m, X: m.predict_proba(X),
    "predict_log_proba": lambda m, X: m.predict_log_proba(X),
    "score": lambda m, X: m.score(X, np.zeros(X.shape[0])),
    "sparsity_report": lambda m, X: m.sparsity_report(X, repeats=1),
    "coefs_": lambda m, X: m.coefs_,
    "intercepts_": lambda m, X: m.intercepts_,
    "sparse_coefs_": lambda m, X: m.sparse_coefs_,
    "layer_storage_": lambda m, X: m.layer_storage_,
    "sparsity_": lambda m, X: m.sparsity_,
}


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("name", sorted(_METHODS))
def test_public_methods_raise_not_fitted(Est, name):
    if name == "predict_proba" or name == "predict_log_proba":
        if Est is MLPRegressor:
            pytest.skip("classifier only")
    with pytest.raises(NotFittedError):
        _METHODS[name](Est(), np.zeros((3, 4)))


@pytest.mark.parametrize("name", ["predict", "predict_proba", "predict_log_proba", "score",
                                  "sparsity_report"])
@pytest.mark.parametrize("pruned", [False, True])
def test_wrong_number_of_features_is_sklearn_input_error(digits, name, pruned):
    X, _, y, _ = digits
    kw = dict(target_sparsity=0.9, finetune_epochs=1) if pruned else {}
    m = MLPClassifier((16,), max_iter=2, random_state=0, **kw).fit(X, y)
    msg = "X has 10 features, but MLPClassifier is expecting 64 features as input"
    with pytest.raises(ValueError, match=msg):
        _METHODS[name](m, X[:5, :10])


def test_sparsity_report_validates_X(digits):
    X, _, y, _ = digits
    m = MLPClassifier((16,), max_iter=2, random_state=0).fit(X, y)
    bad = X[:5].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.sparsity_report(bad, repeats=1)
    rep = m.sparsity_report(X[:5].tolist(), y[:5], repeats=1)  # array-like accepted
    assert rep.score is not None


def test_loaded_in_another_process_predicts_the_same(digits, tmp_path):
    """Bit-identical in a process with the same kernel build; within 1e-12 relative
    with another instruction-set build (FMA contraction and vector widths differ)."""
    import os
    import subprocess
    import sys

    from fastprox._kernels import _dispatch

    X, Xte, y, _ = digits
    m = MLPClassifier((32, 16), max_iter=3, target_sparsity=0.9, finetune_epochs=1,
                      random_state=0).fit(X, y)
    assert m.layer_storage_[0] == "csr"
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(m))
    np.save(tmp_path / "X.npy", Xte)
    code = ("import pickle, sys, numpy as np; d = sys.argv[1]; "
            "m = pickle.load(open(d + '/m.pkl', 'rb')); "
            "np.save(d + '/P.npy', m.predict_proba(np.load(d + '/X.npy')))")
    expected = m.predict_proba(Xte)
    for level in _dispatch.available_levels():
        env = dict(os.environ, FASTPROX_SIMD=level)
        subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env,
                       timeout=120)
        P = np.load(tmp_path / "P.npy")
        if level == _dispatch.LEVEL:
            np.testing.assert_array_equal(P, expected)
        else:
            np.testing.assert_allclose(P, expected, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------- settable weights
def _numpy_forward(coefs, intercepts, X, activation="relu"):
    acts = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "identity": lambda z: z,
            "logistic": lambda z: 1 / (1 + np.exp(-z))}
    H = X
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        H = H @ W + b
        if i < len(coefs) - 1:
            H = acts[activation](H)
    return H


@pytest.mark.parametrize("pruned", [False, True])
def test_assigned_weights_predict_like_numpy(digits, pruned):
    X, Xte, y, _ = digits
    kw = dict(target_sparsity=0.9, finetune_epochs=1) if pruned else {}
    m = MLPRegressor((32, 16), max_iter=3, random_state=0, **kw).fit(X, y.astype(float))
    rng = np.random.default_rng(0)
    coefs = [rng.standard_normal(c.shape) * 0.1 for c in m.coefs_]
    intercepts = [rng.standard_normal(b.shape) for b in m.intercepts_]
    m.coefs_ = coefs
    m.intercepts_ = intercepts
    for got, want in zip(m.coefs_, coefs):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(m.intercepts_, intercepts):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(m.predict(Xte), _numpy_forward(coefs, intercepts, Xte)[:, 0],
                               rtol=1e-10, atol=1e-12)
    assert pickle.loads(pickle.dumps(m)).predict(Xte[:3]).shape == (3,)


def test_assigned_biases_reach_the_compiled_all_csr_forward(digits):
    X, Xte, y, _ = digits
    m = MLPClassifier((64, 64), max_iter=3, target_sparsity=0.9, pruning_scope="layer",
                      random_state=0).fit(X, y)
    assert m.layer_storage_ == ["csr", "csr", "csr"]
    m.predict_proba(Xte[:2])  # builds and caches the compiled network
    intercepts = [b + 1.0 for b in m.intercepts_]
    m.intercepts_ = intercepts
    Z = _numpy_forward(m.coefs_, intercepts, Xte)
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(m.predict_proba(Xte), P / P.sum(axis=1, keepdims=True),
                               rtol=1e-10, atol=1e-12)


def test_dense_array_on_a_pruned_layer_keeps_it_pruned_where_zero(digits):
    X, Xte, y, _ = digits
    m = MLPClassifier((64, 32), max_iter=3, target_sparsity=0.9, finetune_epochs=1,
                      random_state=0).fit(X, y)
    assert m.layer_storage_[0] == "csr"
    nnz = m.sparse_coefs_[0].nnz
    proba = m.predict_proba(Xte)
    m.coefs_ = m.coefs_  # the same weights: the same pattern, storage and outputs
    assert m.layer_storage_[0] == "csr" and m.sparse_coefs_[0].nnz == nnz
    np.testing.assert_array_equal(m.predict_proba(Xte), proba)
    W = m.coefs_[0].copy()
    W[0, :] = 1.0  # a new row of nonzeros: stored (unpruned) from now on
    W[W == 0.5] = 0.0
    coefs = m.coefs_
    coefs[0] = W
    m.coefs_ = coefs
    keep = m.layers_[0].keep()
    assert keep[0].all() and (keep == ((W != 0) | keep)).all()
    np.testing.assert_array_equal(m.coefs_[0], W)
    # a warm-started fit trains the new pattern and leaves the pruned weights at zero
    m.set_params(warm_start=True, max_iter=2, target_sparsity=None, finetune_epochs=0)
    m.fit(X, y)
    assert np.all(m.coefs_[0][~keep] == 0)


def test_sklearn_weights_transplanted_predict_like_sklearn(digits):
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, Xte, y, _ = digits
    sk = SkMLP((32, 16), max_iter=20, random_state=0).fit(X, y)
    ours = MLPClassifier((32, 16), max_iter=1, random_state=1).fit(X, y)
    ours.coefs_ = sk.coefs_
    ours.intercepts_ = sk.intercepts_
    np.testing.assert_allclose(ours.predict_proba(Xte), sk.predict_proba(Xte), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_array_equal(ours.predict(Xte), sk.predict(Xte))


@pytest.mark.parametrize("which", ["coefs_", "intercepts_"])
def test_assigning_wrong_shapes_names_the_layer(digits, which):
    X, _, y, _ = digits
    m = MLPClassifier((16,), max_iter=2, random_state=0).fit(X, y)
    good = getattr(m, which)
    with pytest.raises(ValueError, match="2 arrays"):
        setattr(m, which, good[:1])
    bad = list(good)
    bad[1] = bad[1][:-1]
    with pytest.raises(ValueError, match=rf"{which}\[1\].*layer 1"):
        setattr(m, which, bad)
    bad = [g.copy() for g in good]
    bad[0].flat[0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        setattr(m, which, bad)
    for got, want in zip(getattr(m, which), good):  # nothing half-assigned
        np.testing.assert_array_equal(got, want)
    with pytest.raises(NotFittedError):
        setattr(MLPClassifier(), which, good)


def test_deepcopy_of_a_csr_layer_shares_the_pattern_only(digits):
    X_train, X_test, y_train, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = MLPClassifier((64,), max_iter=3, target_sparsity=0.9, pruning_steps=2,
                          pruning_interval=1, finetune_epochs=1,
                          random_state=0).fit(X_train, y_train)
    layer = m.layers_[0]
    assert layer.kind == "csr"
    c = copy.deepcopy(layer)
    # the pattern is shared (never written in place), the values are the copy's own
    for name in ("indices", "indptr", "_perm"):
        assert getattr(c, name) is getattr(layer, name)
    assert c._AT.indices is layer._AT.indices and c._AT.indptr is layer._AT.indptr
    assert not np.shares_memory(c.data, layer.data) and not np.shares_memory(c.b, layer.b)
    assert not np.shares_memory(c._AT.data, layer._AT.data)
    assert c._A.data is c.data  # the optimizer's in-place updates reach the kernel view
    before = m.predict_proba(X_test)
    copied = copy.deepcopy(m)
    copied.partial_fit(X_train, y_train)
    np.testing.assert_array_equal(m.predict_proba(X_test), before)  # the original untouched
    m.partial_fit(X_train, y_train)  # continues exactly like the copy
    np.testing.assert_array_equal(m.predict_proba(X_test), copied.predict_proba(X_test))
