"""Pruning a network: the events of ``fit``, and the toolkit's public names.

``fit`` prunes with :func:`pruning_events`, :func:`prune_weights`,
:func:`prune_neurons` and :func:`compact` (called by the training loop at
pruning events, never inside an epoch). The criteria and schedules are in
:mod:`._masks`, pruning after the fact in :mod:`._posthoc` and the
sensitivity table in :mod:`._sensitivity`; this module gathers the names
:mod:`fastprox.pruning` publishes.
"""
import numpy as np

from ._layers import CSRLayer, make_layer
from ._masks import (cubic_sparsity, magnitude_masks, neuron_keep, neuron_scores,
                     sparsity_schedule)
from ._posthoc import drop_neurons, prune
from ._sensitivity import SensitivityTable, sensitivity

__all__ = ["prune", "sensitivity", "SensitivityTable", "magnitude_masks", "neuron_scores",
           "neuron_keep", "sparsity_schedule", "cubic_sparsity", "pruning_events",
           "prune_weights", "prune_neurons", "compact"]


# ------------------------------------------------------- pruning a network
def pruning_events(est):
    """Targets of ``est``'s pruning events: sparsities, or None per threshold event."""
    if est.target_sparsity is not None:
        return sparsity_schedule(est.pruning_schedule, est.target_sparsity, est.pruning_steps)
    return [None] * (1 if est.pruning_schedule == "oneshot" else est.pruning_steps)


def prune_weights(layers, opt, sparsity, *, threshold, scope, crossover):
    """Magnitude-prune ``layers`` (to ``sparsity``, or below ``threshold``); new layers.

    Weights pruned before stay pruned; the optimizer state follows the new
    patterns (see :meth:`Optimizer.remap`).
    """
    Ws = [layer.dense() for layer in layers]
    old_keep = [layer.keep() for layer in layers]
    if sparsity is not None:
        masks = magnitude_masks(Ws, sparsity=sparsity, scope=scope)
    else:
        masks = magnitude_masks(Ws, threshold=threshold)
    new_layers = []
    for i, (layer, W, m, k) in enumerate(zip(layers, Ws, masks, old_keep)):
        keep = m & k
        new = make_layer(W, layer.b, keep, crossover)
        opt.remap(i, layer, new, keep=keep)
        new_layers.append(new)
    return new_layers


def prune_neurons(layers, opt, fraction, *, threshold, n_hidden0, crossover):
    """Remove hidden neurons (by :func:`neuron_scores`), shrinking both adjacent layers.

    ``fraction`` counts against ``n_hidden0``, the widths the hidden layers
    were built with, so that repeated events compound to the target.
    """
    layers = list(layers)
    for i in range(len(layers) - 1):
        W_in, W_out = layers[i].dense(), layers[i + 1].dense()
        scores = neuron_scores(W_in, W_out)
        if fraction is not None:
            cur = W_in.shape[1]
            target_keep = max(1, int(np.floor((1 - fraction) * n_hidden0[i] + 0.5)))
            frac_now = 1.0 - min(target_keep, cur) / cur
            alive = neuron_keep(scores, fraction=frac_now)
        else:
            alive = neuron_keep(scores, threshold=threshold)
        if alive.all():
            continue
        cols = np.flatnonzero(alive)
        old_in, old_out = layers[i], layers[i + 1]
        new_in, new_out, k_in, k_out = drop_neurons(old_in, old_out, cols, crossover)
        opt.remap(i, old_in, new_in, keep=k_in, cols=cols)
        opt.remap(i + 1, old_out, new_out, keep=k_out, rows=cols)
        layers[i], layers[i + 1] = new_in, new_out
    return layers


def compact(layers, opt, crossover):
    """Store dense layers whose exact zeros (from L1) put them below the crossover as CSR."""
    out = []
    for i, layer in enumerate(layers):
        if layer.kind == "dense":
            keep = layer.W != 0
            if layer.mask is not None:
                keep |= layer.mask != 0
            if np.count_nonzero(keep) / keep.size < crossover:
                new = CSRLayer.from_matrix(layer.W, layer.b, keep)
                opt.remap(i, layer, new, keep=keep)  # kept for warm_start
                layer = new
        out.append(layer)
    return out
