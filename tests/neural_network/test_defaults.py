"""Pruning defaults (issue 14, item 3): ``target_sparsity`` alone prunes well, and exactly.

The defaults are plain parameter values (docs/design/mlp-pruning-defaults.md):
a fit that relies on them is the fit that spells them out, bit for bit. With
``l1 = group_l1 = 0`` the fitted sparsity is the target to one weight; with L1
it is at least the target (as the docstring says).
"""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastprox.neural_network import MLPClassifier, MLPRegressor
from fastprox.neural_network._parameters import PRUNING_DEFAULTS


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.2, random_state=0)


def _fit(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(**params).fit(X, y)


def _n_zero(model):
    return [int(np.prod(W.shape)) - int(np.count_nonzero(W)) for W in model.coefs_]


def test_pruning_defaults_are_the_measured_ones():
    assert PRUNING_DEFAULTS == {"pruning_schedule": "gradual", "pruning_steps": 20,
                                "pruning_interval": 8, "finetune_epochs": 100}
    for est in (MLPClassifier(), MLPRegressor()):
        params = est.get_params()
        assert {k: params[k] for k in PRUNING_DEFAULTS} == PRUNING_DEFAULTS
        assert params["l1"] == 0.0 and params["pruning_scope"] == "global"


def test_target_sparsity_alone_is_the_spelled_out_fit(digits):
    Xtr, Xte, ytr, _ = digits
    small = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    alone = _fit(Xtr, ytr, target_sparsity=0.8, **small)
    spelled = _fit(Xtr, ytr, target_sparsity=0.8, pruning_schedule="gradual", pruning_steps=20,
                   pruning_interval=8, finetune_epochs=100, l1=0.0, **small)
    for a, b in zip(alone.coefs_ + alone.intercepts_, spelled.coefs_ + spelled.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert alone.loss_curve_ == spelled.loss_curve_
    assert alone.n_iter_ == 5 + 19 * 8 + 100
    np.testing.assert_array_equal(alone.predict_proba(Xte), spelled.predict_proba(Xte))


@pytest.mark.parametrize("schedule", ["oneshot", "iterative", "gradual"])
@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("target", [0.5, 0.7, 0.9])
def test_target_sparsity_met_exactly_without_l1(digits, schedule, scope, target):
    Xtr, _, ytr, _ = digits
    m = _fit(Xtr, ytr, hidden_layer_sizes=(24, 12), max_iter=4, random_state=0,
             target_sparsity=target, pruning_schedule=schedule, pruning_scope=scope,
             pruning_steps=3, pruning_interval=1, finetune_epochs=2)
    sizes = [int(np.prod(W.shape)) for W in m.coefs_]
    if scope == "global":
        assert sum(_n_zero(m)) == int(np.floor(target * sum(sizes) + 0.5))
    else:
        assert _n_zero(m) == [int(np.floor(target * n + 0.5)) for n in sizes]
    assert abs(m.sparsity_ - target) <= 1.0 / sum(sizes)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_target_sparsity_exact_with_other_solvers(digits, solver):
    Xtr, _, ytr, _ = digits
    m = _fit(Xtr, ytr, hidden_layer_sizes=(16,), solver=solver, max_iter=5, random_state=0,
             target_sparsity=0.7, pruning_steps=3, pruning_interval=1, finetune_epochs=2)
    n = sum(int(np.prod(W.shape)) for W in m.coefs_)
    assert sum(_n_zero(m)) == int(np.floor(0.7 * n + 0.5))


@pytest.mark.parametrize("schedule", ["oneshot", "gradual"])
def test_target_sparsity_is_a_floor_with_l1(digits, schedule):
    # the issue's case: l1 on, target 0.7 -- L1's own zeros are kept, never regrown
    Xtr, _, ytr, _ = digits
    params = dict(hidden_layer_sizes=(32,), max_iter=10, random_state=0, target_sparsity=0.7,
                  pruning_schedule=schedule, pruning_steps=3, pruning_interval=1,
                  finetune_epochs=3)
    m = _fit(Xtr, ytr, l1=1e-2, **params)
    n = sum(int(np.prod(W.shape)) for W in m.coefs_)
    assert sum(_n_zero(m)) >= int(np.floor(0.7 * n + 0.5))
    assert m.sparsity_ > 0.7 + 1.0 / n  # strong L1 zeroes more than asked: documented
    plain = _fit(Xtr, ytr, **params)
    assert sum(_n_zero(plain)) == int(np.floor(0.7 * n + 0.5))


def test_target_sparsity_alone_prunes_digits_well(digits):
    # the figure: 0.922 with the first defaults (one shot, 10 fine-tuning
    # epochs), 0.9694 at seed 0 with 20:5:100 (mean 0.9761). Seeds 0-4 with 20:8:100:
    # 0.9806 0.9722 0.9750 0.9833 0.9806, mean 0.9783; dense 0.9806 0.9750 0.9778
    # 0.9778 0.9806, mean 0.9783. One seed is a lottery of a test sample or two (360
    # of them): seed 0 and the mean of five are held to the 0.975
    Xtr, Xte, ytr, yte = digits
    scores = []
    for seed in range(5):
        m = _fit(Xtr, ytr, hidden_layer_sizes=(64, 64), target_sparsity=0.9, random_state=seed)
        assert m.sparsity_ == pytest.approx(0.9, abs=1e-4)
        if seed == 0:  # global scope: the small output layer may keep more than 30 %
            assert m.layer_storage_ == ["csr", "csr", "csr"]
        scores.append(m.score(Xte, yte))
    assert scores[0] >= 0.975 and min(scores) >= 0.97 and np.mean(scores) >= 0.977
