"""The MLPs' Adam step is scikit-learn's, epsilon placement included.

scikit-learn's ``AdamOptimizer`` steps by ``-lr_t * m / (sqrt(v) + eps)`` with
``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``: in the bias-corrected
form, ``eps / sqrt(1 - beta_2**t)`` is added to ``sqrt(v_hat)``, not ``eps``
(Kingma & Ba, :func:`fastprox.prox.adam_step`). On digits' always-blank pixels
the only gradient is ``alpha``'s (about ``eps``), where the two placements
differed by 0.02 after 3 steps. From the same weights, a few epochs of
fastprox and scikit-learn end at the same weights (float64, to rounding), on
the per-layer (Python) epoch and on the compiled all-CSR epoch, which stay
bit-identical to each other.
"""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from fastprox import prox
from fastprox.neural_network import MLPClassifier, MLPRegressor, _epochs
from fastprox.neural_network._stochastic_optimizers import adam_eps

X_digits, y_digits = load_digits(return_X_y=True)
X_digits = X_digits / 16
BLANK = np.flatnonzero(X_digits.max(axis=0) == 0)  # pixels that are 0 in every image
X_reg, y_reg = make_regression(n_samples=300, n_features=12, noise=5.0, random_state=0)
y_reg = y_reg / y_reg.std()
TASKS = {"classifier": (MLPClassifier, SkMLPClassifier, X_digits, y_digits),
         "regressor": (MLPRegressor, SkMLPRegressor, X_reg, y_reg)}
RTOL = 1e-10


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Got `batch_size`")  # a first 50 rows
        yield


def _kw(batch_size, **extra):
    return dict(hidden_layer_sizes=(20, 12), solver="adam", shuffle=False, alpha=1e-4,
                learning_rate_init=0.01, batch_size=batch_size, max_iter=4, tol=0.0,
                random_state=0, **extra)


def _assert_close(ours, theirs, rtol=RTOL):
    for k, (a, b) in enumerate(zip(ours.coefs_ + ours.intercepts_,
                                   theirs.coefs_ + theirs.intercepts_)):
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale, err_msg=str(k))


def test_blank_pixels_exist():
    assert len(BLANK) >= 2  # the case this file is about


def test_adam_eps_is_sklearns_placement():
    # one step by hand, in scikit-learn's formula
    rng = np.random.default_rng(0)
    w0, g = rng.standard_normal(50), rng.standard_normal(50) * np.logspace(-12, 0, 50)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    m, v, w = np.zeros(50), np.zeros(50), w0.copy()
    want_m, want_v, want = np.zeros(50), np.zeros(50), w0.copy()
    for t in range(1, 4):
        prox.adam_step(w, g, m, v, t, lr, b1, b2, adam_eps(eps, b2, t))
        want_m = b1 * want_m + (1 - b1) * g
        want_v = b2 * want_v + (1 - b2) * g ** 2
        lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        want = want - lr_t * want_m / (np.sqrt(want_v) + eps)
    np.testing.assert_allclose(w, want, rtol=1e-13, atol=1e-16)
    # adam_step itself keeps Kingma & Ba's placement: the tiny gradients move differently
    m2, v2, w2 = np.zeros(50), np.zeros(50), w0.copy()
    for t in range(1, 4):
        prox.adam_step(w2, g, m2, v2, t, lr, b1, b2, eps)
    assert np.abs(w2 - want).max() > 1e-3


@pytest.mark.parametrize("batch_size", [None, 128])
@pytest.mark.parametrize("task", TASKS)
def test_dense_fit_equals_sklearn(task, batch_size):
    # same seed: the same Glorot start; full batch and mini-batches
    ours_cls, sk_cls, X, y = TASKS[task]
    kw = _kw(batch_size or len(X))
    ours, sk = ours_cls(**kw).fit(X, y), sk_cls(**kw).fit(X, y)
    assert ours._optimizer.t == sk._optimizer.t
    _assert_close(ours, sk)
    # the epoch loss is scikit-learn's: each batch's L2 term on the weights it starts
    # from, weighted by the batch's size (a short last batch: 300 rows in 128s, 1797
    # in 128s; they were 2e-5 apart with the L2 term of the epoch's end over b)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-12)
    if task == "classifier":  # the blank pixels' weights are where eps mattered
        assert np.abs(sk.coefs_[0][BLANK]).max() > 0


@pytest.mark.parametrize("batch_size", [None, 128])
def test_partial_fit_from_assigned_weights_equals_sklearn(batch_size):
    # other initial weights, assigned to both (coefs_ setter), then partial_fit
    X, y = X_digits, y_digits
    kw = _kw(batch_size or len(X))
    sk = SkMLPClassifier(**kw)
    ours = MLPClassifier(**kw)
    rng = np.random.default_rng(3)
    sk.partial_fit(X[:50], y[:50], classes=np.unique(y))
    ours.partial_fit(X[:50], y[:50], classes=np.unique(y))
    coefs = [0.3 * rng.standard_normal(c.shape) for c in sk.coefs_]
    intercepts = [0.1 * rng.standard_normal(b.shape) for b in sk.intercepts_]
    sk.coefs_, sk.intercepts_ = [c.copy() for c in coefs], [b.copy() for b in intercepts]
    ours.coefs_, ours.intercepts_ = coefs, intercepts
    for _ in range(3):
        sk.partial_fit(X, y)
        ours.partial_fit(X, y)
    assert ours._optimizer.t == sk._optimizer.t
    _assert_close(ours, sk)


def _sparse_start(kw):
    """A fitted scikit-learn classifier whose zeros are weights with zero gradient.

    Layer 0: the blank pixels' rows (zero input). Layers 1 and 2: the rows of a
    hidden unit whose ReLU never fires (bias -100). scikit-learn keeps these
    weights at exactly zero (zero gradient, zero moments, a -0 step); fastprox
    stores every layer as CSR (the compiled all-CSR epoch) and keeps them out.
    """
    sk = SkMLPClassifier(**{**kw, "max_iter": 1}).fit(X_digits, y_digits)
    coefs = [c.copy() for c in sk.coefs_]
    intercepts = [b.copy() for b in sk.intercepts_]
    coefs[0][BLANK] = 0
    for i in (1, 2):
        coefs[i][0] = 0
        intercepts[i - 1][0] = -100.0
    sk.coefs_, sk.intercepts_ = coefs, intercepts
    return sk


@pytest.mark.parametrize("batch_size", [None, 128])
def test_compiled_csr_epoch_equals_sklearn_and_python_path(monkeypatch, batch_size):
    kw = _kw(batch_size or len(X_digits), warm_start=True)
    start = _sparse_start(kw)
    fits = {}
    for compiled in (False, True):
        monkeypatch.setattr(_epochs, "COMPILED_EPOCH", compiled)
        model = MLPClassifier.from_sklearn(start, sparse_crossover=1.0, warm_start=True)
        assert model.layer_storage_ == ["csr"] * 3
        calls = []
        real = _epochs._epoch_compiled
        monkeypatch.setattr(_epochs, "_epoch_compiled",
                            lambda *a, **k: calls.append(1) or real(*a, **k))
        fits[compiled] = model.fit(X_digits, y_digits)
        assert bool(calls) == compiled
        monkeypatch.setattr(_epochs, "_epoch_compiled", real)
    sk = _sparse_start(kw).fit(X_digits, y_digits)  # a new Adam from the same weights
    # softmax: NumPy's exp and the kernel's round differently (SGD too), so not bit
    # for bit here; the regressor below is
    _assert_close(fits[True], fits[False], rtol=1e-13)
    _assert_close(fits[True], sk)
    _assert_close(fits[False], sk)
    # both epochs record scikit-learn's loss (the L2 term batch by batch)
    for compiled in (False, True):
        np.testing.assert_allclose(fits[compiled].loss_curve_[1:], sk.loss_curve_[1:],
                                   rtol=1e-12)
    assert np.abs(fits[True].coefs_[0]).max() > 0 and np.all(fits[True].coefs_[0][BLANK] == 0)


def test_compiled_csr_epoch_equals_python_path_bit_for_bit_with_l1(monkeypatch):
    # pruned with the L1 prox on, float32 and float64: with an identity output (no
    # exp) the two epochs agree exactly, Adam's per-step epsilon included
    X = X_digits[:400]
    y = y_digits[:400].astype(float)
    for dtype in (np.float64, np.float32):
        kw = dict(hidden_layer_sizes=(16, 8), max_iter=3, target_sparsity=0.85,
                  pruning_scope="layer", pruning_schedule="iterative", pruning_steps=2,
                  finetune_epochs=3, l1=1e-4, batch_size=50, learning_rate_init=1e-2,
                  random_state=0)
        fits = []
        for compiled in (False, True):
            monkeypatch.setattr(_epochs, "COMPILED_EPOCH", compiled)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits.append(MLPRegressor(**kw).fit(X.astype(dtype), y.astype(dtype)))
        a, b = fits
        assert b.layer_storage_ == ["csr"] * 3
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("compiled", [False, True])
def test_multioutput_loss_curve_is_sklearns(monkeypatch, compiled):
    # 300 rows in batches of 128 (a short last one), 3 outputs: scikit-learn's squared
    # error is the mean over the outputs; on the compiled all-CSR epoch and the Python one
    X, Y = make_regression(n_samples=300, n_features=12, n_targets=3, noise=5.0,
                           random_state=0)
    X, Y = np.hstack([X, np.zeros((300, 1))]), Y / Y.std()  # a blank feature
    kw = {**_kw(128, warm_start=True), "alpha": 1e-2}

    def start():  # zeros with zero gradient (see _sparse_start): every layer CSR
        sk = SkMLPRegressor(**{**kw, "max_iter": 1}).fit(X, Y)
        coefs, intercepts = [c.copy() for c in sk.coefs_], [b.copy() for b in sk.intercepts_]
        coefs[0][-1] = 0
        for i in (1, 2):
            coefs[i][0] = 0
            intercepts[i - 1][0] = -100.0
        sk.coefs_, sk.intercepts_ = coefs, intercepts
        return sk

    monkeypatch.setattr(_epochs, "COMPILED_EPOCH", compiled)
    ours = MLPRegressor.from_sklearn(start(), sparse_crossover=1.0, warm_start=True)
    assert ours.layer_storage_ == ["csr"] * 3
    ours.fit(X, Y)
    sk = start().fit(X, Y)
    _assert_close(ours, sk)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_weighted_loss_curve_is_sklearns(solver):
    # shuffled batches of 128 of 1797 rows, uneven weights: each batch's weighted mean
    # loss and L2 term over its weight, times its size (scikit-learn's accumulation)
    sw = np.random.default_rng(0).uniform(0.2, 2.0, len(y_digits))
    kw = {**_kw(128), "alpha": 1e-3, "shuffle": True, "solver": solver}
    ours = MLPClassifier(**kw).fit(X_digits, y_digits, sample_weight=sw)
    sk = SkMLPClassifier(**kw).fit(X_digits, y_digits, sample_weight=sw)
    _assert_close(ours, sk)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-12)
