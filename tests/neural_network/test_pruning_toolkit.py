"""The pruning toolkit: prune after the fact, imported weights, sensitivity (issue 15)."""
import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.utils._param_validation import InvalidParameterError

from fastprox.neural_network import MLPClassifier, MLPRegressor
from fastprox.pruning import prune, sensitivity


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0)


def _sk(cls, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**{"hidden_layer_sizes": (64, 64), "max_iter": 200, "random_state": 0,
                      **kw}).fit(X, y)


@pytest.fixture(scope="module")
def sk_clf(digits):
    X_train, _, y_train, _ = digits
    return _sk(SkClassifier, X_train, y_train)


@pytest.fixture(scope="module")
def fp_clf(digits):
    X_train, _, y_train, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier((32,), max_iter=30, random_state=0).fit(X_train, y_train)


# ------------------------------------------------------------------ from_sklearn
@pytest.mark.parametrize("binary", [False, True])
def test_from_sklearn_classifier_predicts_as_sklearn(digits, binary):
    X_train, X_test, y_train, _ = digits
    yb = (y_train % 2) * 3 + 1 if binary else y_train  # labels {1, 4}
    sk = _sk(SkClassifier, X_train, yb, hidden_layer_sizes=(32, 16), max_iter=60)
    model = MLPClassifier.from_sklearn(sk)
    np.testing.assert_allclose(model.predict_proba(X_test), sk.predict_proba(X_test),
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X_test), sk.predict(X_test))
    np.testing.assert_array_equal(model.classes_, sk.classes_)
    assert model.n_features_in_ == 64 and model.n_layers_ == sk.n_layers_ == 4
    assert model.n_outputs_ == sk.n_outputs_ and model.out_activation_ == sk.out_activation_
    assert model.hidden_layer_sizes == (32, 16) and model.n_iter_ == sk.n_iter_
    assert model.loss_curve_ == sk.loss_curve_ and model.t_ == sk.t_
    assert model.score(X_test, sk.predict(X_test)) == 1.0
    assert model.sparsity_report().total["nnz"] == sum(W.size for W in sk.coefs_)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_from_sklearn_regressor_predicts_as_sklearn(digits, n_outputs):
    X_train, X_test, y_train, _ = digits
    Y = y_train.astype(float) if n_outputs == 1 else np.c_[y_train, X_train[:, 20]]
    sk = _sk(SkRegressor, X_train, Y, hidden_layer_sizes=(20,), max_iter=50)
    model = MLPRegressor.from_sklearn(sk)
    np.testing.assert_allclose(model.predict(X_test), sk.predict(X_test), rtol=0, atol=1e-12)
    assert model.predict(X_test).shape == sk.predict(X_test).shape


def test_from_sklearn_errors(digits, sk_clf):
    X_train, _, y_train, _ = digits
    with pytest.raises(TypeError, match="MLPRegressor"):
        MLPRegressor.from_sklearn(sk_clf)
    with pytest.raises(TypeError, match="scikit-learn MLPClassifier"):
        MLPClassifier.from_sklearn(MLPClassifier())
    with pytest.raises(NotFittedError):
        MLPClassifier.from_sklearn(SkClassifier())
    # multilabel: imported only where fastprox applies the same output function
    Y = np.c_[y_train % 2, y_train > 4]
    sk = _sk(SkClassifier, X_train, Y, hidden_layer_sizes=(8,), max_iter=5)
    try:
        model = MLPClassifier.from_sklearn(sk)
    except ValueError as exc:
        assert "output function" in str(exc)
    else:
        np.testing.assert_allclose(model.predict_proba(X_train), sk.predict_proba(X_train),
                                   atol=1e-12)


def test_from_sklearn_params_and_training_continues(digits, sk_clf):
    X_train, _, y_train, _ = digits
    model = MLPClassifier.from_sklearn(sk_clf, sparse_crossover=0.5)
    assert model.sparse_crossover == 0.5 and model.alpha == sk_clf.alpha
    assert model.random_state == 0 and model.learning_rate_init == sk_clf.learning_rate_init
    model.partial_fit(X_train, y_train)
    # scikit-learn's bookkeeping: the curve and t_ continue, n_iter_ counts this call
    assert model.n_iter_ == 1 and len(model.loss_curve_) == sk_clf.n_iter_ + 1
    assert model.t_ == sk_clf.t_ + X_train.shape[0]


# ------------------------------------------------------------------ from_weights
def test_from_weights_both_layouts(digits, sk_clf):
    _, X_test, _, _ = digits
    a = MLPClassifier.from_weights(sk_clf.coefs_, sk_clf.intercepts_,
                                   classes=sk_clf.classes_)
    b = MLPClassifier.from_weights([W.T for W in sk_clf.coefs_], sk_clf.intercepts_,
                                   classes=sk_clf.classes_, layout="out_in")
    np.testing.assert_allclose(a.predict_proba(X_test), sk_clf.predict_proba(X_test), atol=1e-12)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    assert a.n_outputs_ == 10 and a.out_activation_ == "softmax" and a.n_features_in_ == 64


def test_from_weights_float32_regressor_and_two_logits():
    rng = np.random.default_rng(0)
    W0, b0 = rng.standard_normal((5, 4)).astype(np.float32), np.zeros(4, np.float32)
    W1, b1 = rng.standard_normal((4, 2)).astype(np.float32), np.ones(2, np.float32)
    X = rng.standard_normal((30, 5))
    reg = MLPRegressor.from_weights([W0.T, W1.T], [b0, b1], activation="tanh", layout="out_in")
    expected = np.tanh(X @ W0 + b0) @ W1 + b1
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-5)
    assert reg.layers_[0].b.dtype == np.float32 and reg.n_outputs_ == 2
    # a two-logit softmax becomes one logistic unit, classes in any order
    Z = np.maximum(X @ W0 + b0, 0) @ W1 + b1
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    clf = MLPClassifier.from_weights([W0, W1], [b0, b1], classes=["yes", "no"])
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    np.testing.assert_allclose(clf.predict_proba(X), P[:, ::-1], rtol=1e-5)
    default = MLPClassifier.from_weights([W0, W1], [b0, b1])
    np.testing.assert_allclose(default.predict_proba(X), P, rtol=1e-5)


def test_from_weights_sparse_weights_run_as_csr():
    rng = np.random.default_rng(1)
    W0 = rng.standard_normal((20, 10)) * (rng.random((20, 10)) < 0.1)
    W1 = rng.standard_normal((10, 3))
    clf = MLPClassifier.from_weights([W0, W1], [np.zeros(10), np.zeros(3)])
    assert clf.layer_storage_ == ["csr", "dense"]
    np.testing.assert_array_equal(clf.coefs_[0], W0)


def test_from_weights_errors():
    W0, W1 = np.ones((5, 4)), np.ones((4, 3))
    b0, b1 = np.zeros(4), np.zeros(3)
    with pytest.raises(ValueError, match=r"coefs\[1\] \(layer 1\) takes 5 inputs but layer 0 "):
        MLPClassifier.from_weights([W0, np.ones((5, 3))], [b0, b1])
    with pytest.raises(ValueError, match=r"intercepts\[0\] \(layer 0\).*fits layout='in_out'"):
        MLPClassifier.from_weights([W0, W1], [b0, b1], layout="out_in")
    with pytest.raises(ValueError, match="2 weight matrices and 3 bias"):
        MLPClassifier.from_weights([W0, W1], [b0, b1, b1])
    with pytest.raises(ValueError, match="layout"):
        MLPClassifier.from_weights([W0, W1], [b0, b1], layout="torch")
    with pytest.raises(ValueError, match="3 output units"):
        MLPClassifier.from_weights([W0, W1], [b0, b1], classes=[0, 1])
    with pytest.raises(ValueError, match="classifiers"):
        MLPRegressor.from_weights([W0, W1], [b0, b1], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="NaN"):
        MLPRegressor.from_weights([W0 * np.nan, W1], [b0, b1])
    with pytest.raises(ValueError, match="activation"):
        MLPRegressor.from_weights([W0, W1], [b0, b1], activation="gelu")


# ------------------------------------------------------------------------- prune
def test_prune_leaves_argument_untouched_and_stores_csr(digits, fp_clf):
    X_train, X_test, y_train, _ = digits
    before = pickle.dumps(fp_clf)
    proba = fp_clf.predict_proba(X_test)
    for kw in ({"sparsity": 0.9}, {"keep_ratio": 0.5, "structured": True},
               {"sparsity": 0.8, "method": "taylor", "X": X_train, "y": y_train},
               {"sparsity": 0.5, "method": "random", "random_state": 0}):
        pruned = prune(fp_clf, **kw)
        assert pruned is not fp_clf
        assert all(a is not b for a, b in zip(pruned.layers_, fp_clf.layers_))
    assert pickle.dumps(fp_clf) == before
    np.testing.assert_array_equal(fp_clf.predict_proba(X_test), proba)
    pruned = prune(fp_clf, sparsity=0.9)
    assert pruned.sparsity_ == pytest.approx(0.9, abs=1e-3)
    for W, storage in zip(pruned.coefs_, pruned.layer_storage_):  # global: the layers differ
        assert storage == ("csr" if np.mean(W != 0) < pruned.sparse_crossover else "dense")
    assert pruned.layer_storage_[0] == "csr"
    assert pruned.get_params() == fp_clf.get_params()
    np.testing.assert_array_equal(prune(fp_clf, sparsity=0.0).predict_proba(X_test), proba)


def test_prune_sklearn_model(digits, sk_clf):
    _, X_test, _, _ = digits
    unpruned = prune(sk_clf, sparsity=0.0)
    assert isinstance(unpruned, MLPClassifier)
    np.testing.assert_allclose(unpruned.predict_proba(X_test), sk_clf.predict_proba(X_test),
                               rtol=0, atol=1e-12)
    before = [W.copy() for W in sk_clf.coefs_]
    pruned = prune(sk_clf, sparsity=0.9)
    for W, W0 in zip(sk_clf.coefs_, before):
        np.testing.assert_array_equal(W, W0)
    assert pruned.sparsity_ == pytest.approx(0.9, abs=1e-3)


def test_random_pruning_worse_than_magnitude(digits, sk_clf):
    _, X_test, _, y_test = digits
    dense = sk_clf.score(X_test, y_test)
    magnitude = prune(sk_clf, sparsity=0.9).score(X_test, y_test)
    random = [prune(sk_clf, sparsity=0.9, method="random", random_state=seed).score(X_test, y_test)
              for seed in range(3)]
    assert dense > 0.95
    assert magnitude > max(random) + 0.1  # 0.36 vs <= 0.14 measured
    # at 70 % magnitude pruning keeps most of the accuracy, random does not
    assert prune(sk_clf, sparsity=0.7).score(X_test, y_test) > 0.8 > max(
        prune(sk_clf, sparsity=0.7, method="random", random_state=s).score(X_test, y_test)
        for s in range(3))


@pytest.mark.parametrize("method", ["magnitude", "l1", "l2", "taylor", "random"])
def test_structured_keep_ratio_shapes(digits, sk_clf, method):
    X_train, X_test, y_train, _ = digits
    for keep_ratio, width in ((0.25, 16), (0.3, 19), (1.0, 64), (0.001, 1)):
        pruned = prune(sk_clf, keep_ratio=keep_ratio, structured=True, method=method,
                       random_state=0, X=X_train, y=y_train)
        assert [layer.shape for layer in pruned.layers_] == \
            [(64, width), (width, width), (width, 10)]
        assert pruned.predict_proba(X_test).shape == (X_test.shape[0], 10)
    full = prune(sk_clf, keep_ratio=1.0, structured=True, method=method, random_state=0,
                 X=X_train, y=y_train)
    np.testing.assert_allclose(full.predict_proba(X_test), sk_clf.predict_proba(X_test),
                               atol=1e-12)
    same = prune(sk_clf, sparsity=0.75, structured=True, method=method, random_state=0,
                 X=X_train, y=y_train)
    assert same.layers_[0].shape == (64, 16)


def test_structured_keeps_the_best_neurons():
    W0 = np.array([[1.0, 0.1, 2.0, 0.0]])  # 1 input, 4 hidden
    W1 = np.array([[1.0], [0.1], [1.0], [5.0]])
    reg = MLPRegressor.from_weights([W0, W1], [np.zeros(4), np.zeros(1)])
    for method, kept in (("magnitude", [0, 2]), ("l1", [2, 3]), ("l2", [2, 3])):
        pruned = prune(reg, keep_ratio=0.5, structured=True, method=method)
        np.testing.assert_array_equal(pruned.coefs_[0], W0[:, kept])
        np.testing.assert_array_equal(pruned.coefs_[1], W1[kept])


def test_prune_threshold_and_scope(fp_clf):
    pruned = prune(fp_clf, threshold=0.1)
    for W, W0 in zip(pruned.coefs_, fp_clf.coefs_):
        np.testing.assert_array_equal(W, np.where(np.abs(W0) >= 0.1, W0, 0.0))
    by_layer = prune(fp_clf, sparsity=0.6, scope="layer")
    for W in by_layer.coefs_:
        assert np.mean(W == 0) == pytest.approx(0.6, abs=0.01)
    again = prune(prune(fp_clf, sparsity=0.8), sparsity=0.5)  # pruned weights stay pruned
    assert again.sparsity_ == pytest.approx(0.8, abs=1e-3)


def test_prune_errors(fp_clf):
    with pytest.raises(ValueError, match="exactly one"):
        prune(fp_clf)
    with pytest.raises(ValueError, match="sparsity and keep_ratio"):
        prune(fp_clf, sparsity=0.5, keep_ratio=0.5)
    with pytest.raises(InvalidParameterError, match="sparsity"):
        prune(fp_clf, sparsity=1.0)
    with pytest.raises(InvalidParameterError, match="keep_ratio"):
        prune(fp_clf, keep_ratio=0.0)
    with pytest.raises(InvalidParameterError, match="method"):
        prune(fp_clf, sparsity=0.5, method="gradient")
    with pytest.raises(ValueError, match="not a criterion for unstructured"):
        prune(fp_clf, sparsity=0.5, method="l1")
    with pytest.raises(ValueError, match="not threshold"):
        prune(fp_clf, threshold=0.1, method="random")
    with pytest.raises(ValueError, match="needs data"):
        prune(fp_clf, sparsity=0.5, method="taylor")
    with pytest.raises(TypeError, match="fitted fastprox or scikit-learn"):
        prune(object(), sparsity=0.5)
    with pytest.raises(NotFittedError):
        prune(MLPClassifier(), sparsity=0.5)
    linear = MLPRegressor.from_weights([np.ones((3, 1))], [np.zeros(1)])
    with pytest.warns(UserWarning, match="no hidden layer"):
        same = prune(linear, keep_ratio=0.5, structured=True)
    np.testing.assert_array_equal(same.coefs_[0], linear.coefs_[0])


def test_finetuning_a_pruned_copy_keeps_its_zeros(digits, fp_clf):
    X_train, X_test, y_train, y_test = digits
    for kw in ({"sparsity": 0.9}, {"sparsity": 0.5}):  # CSR layers; dense layers with a mask
        pruned = prune(fp_clf, **kw)
        zeros = [W == 0 for W in pruned.coefs_]
        pruned.set_params(warm_start=True, max_iter=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pruned.fit(X_train, y_train)
        pruned.partial_fit(X_train, y_train)  # item 3 of issue 15: the pattern stays frozen
        for W, z in zip(pruned.coefs_, zeros):
            assert np.all(W[z] == 0)
        assert pruned.sparsity_ == pytest.approx(kw["sparsity"], abs=1e-3)
    assert pruned.score(X_test, y_test) > 0.8


# ------------------------------------------------------------------- sensitivity
def test_sensitivity_table(digits, sk_clf):
    _, X_test, _, y_test = digits
    before = [W.copy() for W in sk_clf.coefs_]
    table = sensitivity(sk_clf, X_test, y_test, sparsities=(0.0, 0.5, 0.9, 0.99))
    for W, W0 in zip(sk_clf.coefs_, before):
        np.testing.assert_array_equal(W, W0)
    assert table.baseline == sk_clf.score(X_test, y_test)
    assert table.network[0] == table.baseline  # nothing pruned at 0: the model's score
    assert all(scores[0] == table.baseline for scores in table.layers.values())
    assert np.all(np.diff(table.achieved) > 0)
    np.testing.assert_allclose(table.achieved, [0.0, 0.5, 0.9, 0.99], atol=1e-3)
    # magnitude masks are nested; the score falls from dense to 90 % to 99 %
    assert table.network[0] > table.network[2] > table.network[3]
    assert list(table.layers) == ["layer 0 (64 x 64)", "layer 1 (64 x 64)",
                                  "layer 2 (64 x 10)"]
    d = table.to_dict()
    assert d["metric"] == "accuracy" and d["network"] == table.network
    assert d["sparsities"] == [0.0, 0.5, 0.9, 0.99] and len(d["layers"]) == 3
    md = table.to_markdown()
    assert md == str(table) and "| whole network | " in md and "| 99% |" in md
    assert md.count("\n|") == 2 + 1 + 3 + 1  # header, rule, network, layers, achieved


def test_sensitivity_random_and_finetuning(digits, fp_clf):
    X_train, X_test, y_train, y_test = digits
    plain = sensitivity(fp_clf, X_test, y_test, sparsities=(0.9,), per_layer=False)
    tuned = sensitivity(fp_clf, X_test, y_test, sparsities=(0.9,), per_layer=False,
                        finetune_epochs=5, finetune_data=(X_train, y_train))
    assert tuned.layers == {} and tuned.finetune_epochs == 5
    assert tuned.network[0] > plain.network[0]
    rand = sensitivity(fp_clf, X_test, y_test, sparsities=(0.9,), method="random",
                       random_state=0, per_layer=False)
    assert rand.network[0] < plain.network[0]
    reg = MLPRegressor.from_weights([np.ones((64, 3)), np.ones((3, 1))],
                                    [np.zeros(3), np.zeros(1)])
    assert sensitivity(reg, X_test, y_test.astype(float), sparsities=(0.5,)).metric == "R^2"


def test_sensitivity_errors_and_plot(digits, fp_clf, monkeypatch):
    _, X_test, _, y_test = digits
    with pytest.raises(ValueError, match="sparsities"):
        sensitivity(fp_clf, X_test, y_test, sparsities=(0.5, 1.0))
    with pytest.raises(InvalidParameterError, match="method"):
        sensitivity(fp_clf, X_test, y_test, method="l1")
    with pytest.raises(InvalidParameterError, match="finetune_epochs"):
        sensitivity(fp_clf, X_test, y_test, finetune_epochs=-1)
    table = sensitivity(fp_clf, X_test, y_test, sparsities=(0.5,))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        table.plot()


def test_sensitivity_plot(digits, fp_clf):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    _, X_test, _, y_test = digits
    ax = sensitivity(fp_clf, X_test, y_test, sparsities=(0.5, 0.9)).plot()
    assert len(ax.lines) == 1 + len(fp_clf.layers_)


def test_partial_fit_after_a_pruning_fit_keeps_the_pattern(digits):
    # fit prunes; partial_fit then fine-tunes block by block, pattern frozen
    X_train, X_test, y_train, y_test = digits
    model = MLPClassifier((32,), target_sparsity=0.9, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    zeros = [W == 0 for W in model.coefs_]
    sparsity, score = model.sparsity_, model.score(X_test, y_test)
    for block in np.array_split(np.arange(len(X_train)), 4):
        model.partial_fit(X_train[block], y_train[block])
    for W, z in zip(model.coefs_, zeros):
        assert np.all(W[z] == 0)
    assert model.sparsity_ >= sparsity - 1e-12
    assert model.score(X_test, y_test) > score - 0.05


def test_documented_spmm_call_computes_the_layer_product():
    """docs/pruning.md: sparse_coefs_ is (n_in, n_out); spmm wants its transpose."""
    import numpy as np
    from sklearn.datasets import load_digits

    from fastprox.neural_network import MLPClassifier
    from fastprox.pruning import prune
    from fastprox.sparse import spmm

    X, y = load_digits(return_X_y=True)
    X = X[:200] / 16.0
    model = prune(MLPClassifier((64,), max_iter=3, random_state=0).fit(X, y[:200]),
                  sparsity=0.9, scope="layer")
    model.coefs_ = [model.coefs_[0], model.coefs_[1] + 1.0]  # the last layer dense again
    assert model.layer_storage_ == ["csr", "dense"]  # kernel_coefs_ of both kinds
    for i, (S, K, W, b) in enumerate(zip(model.sparse_coefs_, model.kernel_coefs_,
                                         model.coefs_, model.intercepts_)):
        H = X if i == 0 else np.maximum(X @ model.coefs_[0] + model.intercepts_[0], 0)
        for A in (K, S.T.tocsr()):
            assert A.shape == W.T.shape and A.nnz == np.count_nonzero(W)
            Z = spmm(A, np.ascontiguousarray(H.T), bias=b).T
            np.testing.assert_allclose(Z, H @ W + b, rtol=1e-12, atol=1e-12)
    # a copy: editing it leaves the model alone
    before = model.coefs_[0].copy()
    model.kernel_coefs_[0].data[:] = 0
    np.testing.assert_array_equal(model.coefs_[0], before)


def test_structured_sparsity_counts_against_the_built_network(digits, sk_clf):
    X_train, X_test, y_train, _ = digits
    small = prune(sk_clf, keep_ratio=0.5, structured=True)
    built = small.built_layer_sizes_
    assert built == (64, 64, 64, 10) and [c.shape[1] for c in small.coefs_] == [32, 32, 10]
    n_built = sum(a * b for a, b in zip(built[:-1], built[1:]))
    nnz = sum(int(np.count_nonzero(c)) for c in small.coefs_)
    assert small.sparsity_ == pytest.approx(1 - nnz / n_built)
    assert small.sparsity_ == pytest.approx(small.sparsity_report(X_test).total["sparsity"])
    # fit(structured=True): against hidden_layer_sizes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = MLPClassifier((16, 16), structured=True, target_sparsity=0.5, max_iter=5,
                          pruning_steps=2, pruning_interval=1, finetune_epochs=1,
                          random_state=0).fit(X_train, y_train)
    assert [c.shape[1] for c in m.coefs_] == [8, 8, 10]
    nnz = sum(int(np.count_nonzero(c)) for c in m.coefs_)
    assert m.sparsity_ == pytest.approx(1 - nnz / (64 * 16 + 16 * 16 + 16 * 10))


def test_fit_structured_without_hidden_layer_warns(digits):
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="no hidden layer: nothing pruned"):
            m = MLPClassifier(structured=True, target_sparsity=0.5, **kw).fit(X_train, y_train)
        dense = MLPClassifier(**kw).fit(X_train, y_train)
    np.testing.assert_array_equal(m.coefs_[0], dense.coefs_[0])  # the dense phase only
    assert m.sparsity_ == dense.sparsity_


def test_pruned_copy_restarts_the_stopping_record(digits, sk_clf):
    """A converged model's best loss and no-improvement count do not end fine-tuning.

    scikit-learn's record carries over warm starts, so the unpruned network's
    (lower) best loss would stop a warm-start fit of the pruned copy after one
    epoch; the copy is a new model for the stopping rule.
    """
    X_train, X_test, y_train, y_test = digits
    dense = MLPClassifier.from_sklearn(sk_clf)
    dense._no_improvement_count = dense.n_iter_no_change + 1  # the record of a converged fit
    pruned = prune(dense, sparsity=0.9)
    assert pruned._no_improvement_count == 0 and pruned.best_loss_ == np.inf
    assert dense._no_improvement_count > dense.n_iter_no_change  # argument untouched
    acc_pruned = pruned.score(X_test, y_test)
    pruned.set_params(warm_start=True, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pruned.fit(X_train, y_train)
    assert pruned.n_iter_ == 5
    assert pruned.score(X_test, y_test) > acc_pruned
