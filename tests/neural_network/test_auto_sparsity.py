"""target_sparsity='auto' (issue 15, item 5) and the sparsity in verbose output (item 6)."""
import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.utils._param_validation import InvalidParameterError

from fastprox.neural_network import MLPClassifier, MLPRegressor
from fastprox.neural_network._auto_sparsity import SPARSITY_LADDER

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

AUTO = dict(hidden_layer_sizes=(64, 64), max_iter=100, finetune_epochs=20, pruning_interval=2,
            pruning_steps=10,
            random_state=0, target_sparsity="auto")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def auto_model(digits):
    return MLPClassifier(**AUTO).fit(*digits)


def test_auto_picks_the_sparsest_rung_within_the_drop(auto_model):
    m, T = auto_model, auto_model.auto_sparsity_table_
    assert T["sparsity"][0] == 0.0 and T["sparsity"] == sorted(T["sparsity"])
    assert set(T["sparsity"][1:]) <= set(SPARSITY_LADDER)
    dense = T["validation_score"][0]
    i = T["chosen"].index(True)
    chosen = T["sparsity"][i]
    assert chosen > 0  # on digits, a pruned network keeps the dense score
    assert dense - T["validation_score"][i] <= m.max_score_drop
    # a sparser rung was tried and lost more than the drop: the choice is the boundary
    sparser = [j for j, s in enumerate(T["sparsity"]) if s > chosen]
    assert sparser and dense - T["validation_score"][sparser[0]] > m.max_score_drop
    assert T["within_drop"] == [d <= m.max_score_drop for d in T["score_drop"]]
    # every rung tried between the dense network and the choice passes
    assert all(T["within_drop"][:i + 1])
    # the fitted model is the chosen network: its sparsity, pruned layers stored as CSR
    assert m.sparsity_ == pytest.approx(chosen, abs=1e-3)
    assert "finetune" in m.epoch_phases_ and m.n_iter_ == len(m.loss_curve_)


def test_auto_costs_three_pruning_phases(auto_model):
    T = auto_model.auto_sparsity_table_
    assert len(T["sparsity"]) == 1 + int(np.ceil(np.log2(len(SPARSITY_LADDER) + 1)))
    per_rung = 9 * 2 + 20  # 10 gradual events, 2 epochs apart, then 20 epochs of fine-tuning
    assert T["epochs"][1:] == [per_rung] * 3
    # the fitted model trained the dense phase and its own rung only
    assert auto_model.n_iter_ == T["epochs"][0] + per_rung


def test_auto_is_reproducible_and_leaves_fixed_fits_alone(digits, auto_model):
    again = MLPClassifier(**AUTO).fit(*digits)
    assert again.auto_sparsity_table_ == auto_model.auto_sparsity_table_
    np.testing.assert_array_equal(again.predict(digits[0]), auto_model.predict(digits[0]))
    fixed = MLPClassifier(**dict(AUTO, target_sparsity=0.7)).fit(*digits)
    assert not hasattr(fixed, "auto_sparsity_table_")


def test_auto_accepts_any_drop(digits):
    m = MLPClassifier(**dict(AUTO, max_iter=10, finetune_epochs=1, pruning_interval=1,
                             max_score_drop=1.0)).fit(*digits)
    T = m.auto_sparsity_table_
    assert T["sparsity"] == [0.0, 0.8, 0.95, 0.98] and T["chosen"][-1]
    assert m.sparsity_ == pytest.approx(0.98, abs=1e-3)


def test_auto_with_early_stopping_regressor_and_structured(digits):
    X, y = digits
    m = MLPClassifier(**dict(AUTO, max_iter=20, finetune_epochs=2, early_stopping=True))
    m.fit(X, y)
    assert m.validation_scores_ is not None and len(m.auto_sparsity_table_["sparsity"]) == 4
    Xr, yr = make_regression(300, 10, noise=1.0, random_state=0)
    r = MLPRegressor((32,), max_iter=100, finetune_epochs=2, random_state=0,
                     learning_rate_init=0.01, target_sparsity="auto",
                     max_score_drop=0.05).fit(Xr, yr / 100)
    assert r.auto_sparsity_table_["validation_score"][0] > 0.5  # R^2 of the dense network
    s = MLPClassifier(**dict(AUTO, max_iter=20, finetune_epochs=2, structured=True,
                             max_score_drop=1.0)).fit(X, y)
    assert [layer.shape[1] for layer in s.layers_] == [1, 1, 10]  # 98 % of the neurons
    assert s.built_layer_sizes_ == (64, 64, 64, 10)


def test_auto_partial_fit_never_prunes(digits):
    X, y = digits
    m = MLPClassifier((16,), target_sparsity="auto", random_state=0)
    m.partial_fit(X, y, classes=np.unique(y))
    assert m.sparsity_ == 0.0 and not hasattr(m, "auto_sparsity_table_")


@pytest.mark.parametrize("params, name", [({"target_sparsity": "most"}, "target_sparsity"),
                                          ({"max_score_drop": -0.1}, "max_score_drop")])
def test_auto_parameter_errors(digits, params, name):
    with pytest.raises(InvalidParameterError, match=name):
        MLPClassifier((8,), **params).fit(*digits)


def test_verbose_prints_the_sparsity_each_epoch(digits, capsys):
    MLPClassifier((16,), max_iter=3, target_sparsity=0.5, pruning_schedule="gradual",
                  pruning_steps=2, pruning_interval=1, finetune_epochs=2, random_state=0,
                  verbose=True).fit(*digits)
    lines = [s for s in capsys.readouterr().out.splitlines() if s.startswith("Iteration")]
    assert len(lines) == 3 + 1 + 2
    assert all("sparsity = " in s for s in lines)
    assert lines[0].endswith("(dense)") and "sparsity = 0.0000" in lines[0]
    assert lines[-1].endswith("sparsity = 0.5000 (finetune)")


def test_verbose_sparsity_counts_against_the_network_as_built(digits, capsys):
    # structured pruning removes neurons: the printed sparsity is sparsity_'s (the
    # built 64-32-10 network's weights), not the shrunk widths' (which would print
    # the fraction of zeros among the weights left, about 0 here)
    m = MLPClassifier((32,), max_iter=3, target_sparsity=0.5, structured=True,
                      pruning_steps=1, finetune_epochs=1, random_state=0,
                      verbose=True).fit(*digits)
    assert m.coefs_[0].shape[1] < 32  # neurons were removed
    lines = [s for s in capsys.readouterr().out.splitlines() if s.startswith("Iteration")]
    assert lines[-1].endswith(f"sparsity = {m.sparsity_:.4f} (finetune)")
    zeros_now = sum(int((c == 0).sum()) for c in m.coefs_) / sum(c.size for c in m.coefs_)
    assert abs(m.sparsity_ - zeros_now) > 0.1  # the two measures differ here
