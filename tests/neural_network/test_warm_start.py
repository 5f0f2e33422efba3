"""Warm-start and partial_fit bookkeeping side by side with scikit-learn's MLPs.

Same seed, so the same Glorot start (``init_layers`` draws in scikit-learn's
order) and the same epoch orders: after each call of a sequence of warm-started
``fit`` and ``partial_fit`` calls, ``loss_curve_``, ``n_iter_``, ``t_``,
``best_loss_``, ``_no_improvement_count`` and ``validation_scores_`` are
scikit-learn's (the losses within 1e-5 relative: fastprox adds the L2 term
with the epoch's final weights, scikit-learn batch by batch).

One documented difference is left out of these sequences: a warm-started
``fit`` keeps the optimizer's moments here (scikit-learn starts a new
optimizer; see docs/design/mlp-state.md), so the SGD sequences use
``momentum=0`` (no state) and Adam is compared on ``partial_fit`` only, where
scikit-learn keeps its optimizer too.
"""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from fastprox.neural_network import MLPClassifier, MLPRegressor

X_clf, y_clf = load_digits(n_class=3, return_X_y=True)
X_clf = X_clf / 16
X_reg, y_reg = make_regression(n_samples=300, n_features=10, noise=5.0, random_state=0)
y_reg = y_reg / y_reg.std()
TASKS = {"classifier": (MLPClassifier, SkMLPClassifier, X_clf, y_clf),
         "regressor": (MLPRegressor, SkMLPRegressor, X_reg, y_reg)}
ATTRS = ("n_iter_", "t_", "_no_improvement_count")


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _record(model, X, y, steps):
    """Run ``steps`` (('fit' | 'partial_fit', params)); the bookkeeping after each."""
    out = []
    for method, params in steps:
        model.set_params(**params)
        getattr(model, method)(X, y)
        out.append({"curve": list(model.loss_curve_), "best_loss": model.best_loss_,
                    "validation_scores": model.validation_scores_,
                    **{a: getattr(model, a) for a in ATTRS}})
    return out


def _compare(ours, theirs, rtol=1e-5):
    assert len(ours) == len(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert len(a["curve"]) == len(b["curve"]), k
        np.testing.assert_allclose(a["curve"], b["curve"], rtol=rtol, err_msg=str(k))
        np.testing.assert_allclose(a["best_loss"], b["best_loss"], rtol=rtol, err_msg=str(k))
        assert a["validation_scores"] is None and b["validation_scores"] is None
        for name in ATTRS:
            assert a[name] == b[name], (k, name, a[name], b[name])


STEPS = [("fit", {}), ("fit", {}), ("partial_fit", {}), ("partial_fit", {}),
         # a plateau rule that fires: the count carries over, and the next warm
         # fit stops after one epoch (scikit-learn's count was never reset)
         ("fit", dict(max_iter=30, tol=0.5, n_iter_no_change=2)), ("fit", {}),
         ("partial_fit", {}), ("fit", dict(tol=1e-4, max_iter=4))]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("task", TASKS)
def test_sgd_warm_start_and_partial_fit_sequence_as_sklearn(task, shuffle):
    # shuffle=True: each fit draws scikit-learn's epoch orders (partial_fit
    # continues its own RNG, scikit-learn re-seeds: partial_fit unshuffled below)
    ours_cls, sk_cls, X, y = TASKS[task]
    steps = STEPS if not shuffle else [step for step in STEPS if step[0] == "fit"]
    kw = dict(hidden_layer_sizes=(10,), solver="sgd", momentum=0.0, shuffle=shuffle,
              random_state=0, warm_start=True, max_iter=5, learning_rate_init=0.05)
    _compare(_record(ours_cls(**kw), X, y, steps), _record(sk_cls(**kw), X, y, steps))


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_sgd_schedules_carry_over_partial_fit_as_sklearn(learning_rate):
    # 'adaptive' divides the rate on a plateau inside partial_fit and keeps it
    # for the next call; 'invscaling' follows t_
    kw = dict(hidden_layer_sizes=(10,), solver="sgd", momentum=0.0, shuffle=False,
              random_state=0, learning_rate=learning_rate, learning_rate_init=0.2, tol=0.05,
              n_iter_no_change=1, max_iter=3, power_t=0.25)
    steps = [("fit", {})] + [("partial_fit", {})] * 8
    ours, sk = MLPClassifier(**kw), SkMLPClassifier(**kw)
    _compare(_record(ours, X_clf, y_clf, steps), _record(sk, X_clf, y_clf, steps))
    assert ours._optimizer.lr == pytest.approx(sk._optimizer.learning_rate, rel=1e-12)
    if learning_rate == "adaptive":
        assert ours._optimizer.lr < kw["learning_rate_init"]  # a plateau was met


@pytest.mark.parametrize("task", TASKS)
def test_adam_partial_fit_after_fit_as_sklearn(task):
    # Adam's eps is scikit-learn's (added to sqrt(v), not sqrt(v_hat)): digits' blank
    # pixels, whose only gradient is alpha's, step alike too (test_adam.py)
    ours_cls, sk_cls, X, y = TASKS[task]
    kw = dict(hidden_layer_sizes=(10,), shuffle=False, random_state=0, max_iter=6,
              learning_rate_init=0.01)
    steps = [("fit", {})] + [("partial_fit", {})] * 4
    ours, sk = ours_cls(**kw), sk_cls(**kw)
    _compare(_record(ours, X, y, steps), _record(sk, X, y, steps))
    for a, b in zip(ours.coefs_, sk.coefs_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * np.abs(b).max())


def test_lbfgs_warm_start_as_sklearn():
    kw = dict(hidden_layer_sizes=(10,), solver="lbfgs", random_state=0, warm_start=True,
              max_iter=15)
    ours, sk = MLPClassifier(**kw), SkMLPClassifier(**kw)
    for _ in range(3):
        ours.fit(X_clf, y_clf)
        sk.fit(X_clf, y_clf)
        assert ours.n_iter_ == sk.n_iter_ and ours.t_ == sk.t_ == 0
        assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-6)
    # fastprox's lbfgs curve (scikit-learn keeps none) grows the same way; a run
    # that starts at the minimum (the third: n_iter_ 0) records its starting loss
    assert len(ours.loss_curve_) == 15 + 7 + 1 and ours.best_loss_ == min(ours.loss_curve_)


@pytest.mark.parametrize("shuffle", [False, True])
def test_early_stopping_sequence_as_sklearn(shuffle):
    # the same held-out rows (scikit-learn's split), the same scores; the third fit
    # starts with the count carried over and stops on it. (Each fit here beats the
    # best score; one that does not keeps the weights it started from, where
    # scikit-learn keeps its last epoch's: its coefs_ after an early-stopped fit
    # are the _best_coefs arrays, which the next warm start trains in place.)
    kw = dict(hidden_layer_sizes=(10,), solver="sgd", momentum=0.0, shuffle=shuffle,
              random_state=0, early_stopping=True, warm_start=True, max_iter=8,
              learning_rate_init=0.05, n_iter_no_change=3)
    ours, sk = MLPClassifier(**kw), SkMLPClassifier(**kw)
    for _ in range(3):
        ours.fit(X_clf, y_clf)
        sk.fit(X_clf, y_clf)
        assert ours.validation_scores_ == sk.validation_scores_
        assert ours.best_validation_score_ == sk.best_validation_score_
        assert ours.best_loss_ is None and sk.best_loss_ is None
        for name in ATTRS:
            assert getattr(ours, name) == getattr(sk, name), name
        np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-5)
    assert ours.n_iter_ < 8  # stopped on the carried count


def test_early_stopping_record_continues_over_warm_starts():
    m = MLPClassifier((10,), early_stopping=True, warm_start=True, max_iter=4, tol=0.0,
                      n_iter_no_change=100, random_state=0, learning_rate_init=0.01)
    m.fit(X_clf, y_clf)
    first = list(m.validation_scores_)
    m.fit(X_clf, y_clf)
    assert m.validation_scores_[:4] == first and len(m.validation_scores_) == 8
    assert len(m.loss_curve_) == 8 and m.n_iter_ == 4 and m.best_loss_ is None
    assert m.best_validation_score_ == max(m.validation_scores_)
    # scikit-learn: the same record shape
    sk = SkMLPClassifier((10,), early_stopping=True, warm_start=True, max_iter=4, tol=0.0,
                         n_iter_no_change=100, random_state=0, learning_rate_init=0.01)
    sk.fit(X_clf, y_clf).fit(X_clf, y_clf)
    assert len(sk.validation_scores_) == 8 and sk.n_iter_ == 4 and sk.best_loss_ is None


def test_warm_start_that_never_beats_the_best_score_keeps_the_weights():
    m = MLPClassifier((10,), early_stopping=True, warm_start=True, max_iter=10,
                      random_state=0, learning_rate_init=0.01).fit(X_clf, y_clf)
    before = [c.copy() for c in m.coefs_]
    count = m._no_improvement_count
    m.best_validation_score_ = 2.0  # unbeatable: the weights the fit started from are kept
    m.set_params(max_iter=3).fit(X_clf, y_clf)
    for a, b in zip(before, m.coefs_):
        np.testing.assert_array_equal(a, b)
    assert m.best_validation_score_ == 2.0 and m._no_improvement_count == count + 3


def test_cold_fit_restarts_the_record():
    m = MLPClassifier((10,), solver="sgd", max_iter=5, random_state=0, tol=0.5,
                      n_iter_no_change=1).fit(X_clf, y_clf)
    assert m._no_improvement_count > 0
    m.set_params(tol=1e-4, n_iter_no_change=10).fit(X_clf, y_clf)
    assert len(m.loss_curve_) == m.n_iter_ == 5 and m._no_improvement_count == 0


@pytest.mark.parametrize("pruned", [False, True])
def test_bookkeeping_survives_pickling(pruned):
    kw = dict(hidden_layer_sizes=(10,), solver="sgd", shuffle=False, random_state=0,
              warm_start=True, max_iter=6, tol=0.5, n_iter_no_change=2)
    if pruned:
        kw.update(target_sparsity=0.5, pruning_steps=2, pruning_interval=1, finetune_epochs=2)
    a = MLPClassifier(**kw).fit(X_clf, y_clf)
    b = pickle.loads(pickle.dumps(a))
    for m in (a, b):
        m.fit(X_clf, y_clf)
        m.partial_fit(X_clf, y_clf)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    for name in ATTRS + ("best_loss_",):
        assert getattr(a, name) == getattr(b, name)
    assert len(a.epoch_phases_) == len(a.epoch_times_) == len(a.loss_curve_)
