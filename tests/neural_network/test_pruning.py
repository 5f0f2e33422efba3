import numpy as np
import pytest

from fastprox.pruning import (cubic_sparsity, magnitude_masks, neuron_keep, neuron_scores,
                              sparsity_schedule)


def test_magnitude_masks_exact_and_deterministic_ties():
    W = [np.array([[1.0, 1.0], [1.0, 2.0]]), np.array([[1.0, 3.0]])]
    g = magnitude_masks(W, sparsity=0.5)  # 6 weights, prune 3 of the five tied 1.0's
    assert sum(int(m.sum()) for m in g) == 3
    np.testing.assert_array_equal(g[0], [[False, False], [False, True]])
    np.testing.assert_array_equal(g[1], [[True, True]])
    layer = magnitude_masks(W, sparsity=0.5, scope="layer")
    np.testing.assert_array_equal(layer[0], [[False, False], [True, True]])
    np.testing.assert_array_equal(layer[1], [[False, True]])


def test_magnitude_masks_threshold_and_errors():
    W = [np.array([0.0, 0.05, -0.2, 0.1])]
    np.testing.assert_array_equal(magnitude_masks(W, threshold=0.1)[0], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="exactly one"):
        magnitude_masks(W)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        magnitude_masks(W, sparsity=1.0)
    with pytest.raises(ValueError, match="NaN"):
        magnitude_masks([np.array([np.nan])], sparsity=0.5)


def test_random_exact_counts():
    rng = np.random.default_rng(0)
    W = [rng.standard_normal((30, 20)), rng.standard_normal((20, 7))]
    n = 30 * 20 + 20 * 7
    for s in (0.0, 0.3, 0.9, 0.99):
        masks = magnitude_masks(W, sparsity=s)
        assert sum(int(m.sum()) for m in masks) == n - int(np.floor(s * n + 0.5))
        # kept magnitudes all >= pruned magnitudes
        kept = np.concatenate([np.abs(w)[m] for w, m in zip(W, masks)])
        pruned = np.concatenate([np.abs(w)[~m] for w, m in zip(W, masks)])
        if kept.size and pruned.size:
            assert kept.min() >= pruned.max()


def test_schedules():
    assert sparsity_schedule("oneshot", 0.9, 5) == [0.9]
    np.testing.assert_allclose(sparsity_schedule("iterative", 0.8, 4), [0.2, 0.4, 0.6, 0.8])
    g = sparsity_schedule("gradual", 0.9, 10)
    assert g[-1] == pytest.approx(0.9) and np.all(np.diff(g) > 0)
    assert np.all(np.diff(np.diff(g)) < 0)  # cubic: big steps first
    assert cubic_sparsity(0, 10, 0.9) == 0.0
    assert cubic_sparsity(5, 10, 0.9, initial=0.1) == pytest.approx(0.9 - 0.8 * 0.125)
    with pytest.raises(ValueError, match="pruning_schedule"):
        sparsity_schedule("linear", 0.5, 3)


def test_neurons():
    W_in = np.array([[1.0, 0.0, 2.0], [1.0, 0.0, 0.0]])
    W_out = np.array([[1.0], [5.0], [0.1]])
    s = neuron_scores(W_in, W_out)
    np.testing.assert_allclose(s, [np.sqrt(2), 0.0, 0.2])
    np.testing.assert_array_equal(neuron_keep(s, fraction=0.34), [True, False, True])
    np.testing.assert_array_equal(neuron_keep(s, threshold=1.0), [True, False, False])
    assert neuron_keep(np.zeros(3), threshold=1.0).sum() == 1  # never an empty layer
