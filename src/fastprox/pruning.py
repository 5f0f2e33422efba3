"""The pruning toolkit (public interface): prune any trained network, see the trade-off.

After the fact, on a fitted fastprox MLP or a fitted scikit-learn
``MLPClassifier`` / ``MLPRegressor`` (imported with ``from_sklearn``):

- :func:`prune`: a pruned copy (the argument untouched), by weight or by
  neuron, with a magnitude, importance or random criterion; layers below
  the model's ``sparse_crossover`` density are stored and run as CSR;
- :func:`sensitivity`: the score of the network pruned to several
  sparsities, whole and layer by layer (a table with ``to_markdown()`` and
  ``plot()``).

The building blocks, also used by ``fit``:

- :func:`magnitude_masks`: prune the smallest weights, globally or per layer,
  to a sparsity or below a threshold;
- :func:`neuron_scores`, :func:`neuron_keep`: rank and select hidden neurons;
- :func:`sparsity_schedule`, :func:`cubic_sparsity`: the sparsity of each
  pruning event (one shot, equal steps, Zhu & Gupta's cubic schedule).

Masks are boolean arrays, ``True`` for the weights (or neurons) that are
kept. The implementation lives beside the networks it prunes, in
``fastprox.neural_network`` (``_masks``, ``_posthoc``, ``_sensitivity``).
The user's guide is ``docs/pruning.md``.
"""
from .neural_network._pruning import (SensitivityTable, cubic_sparsity, magnitude_masks,
                                      neuron_keep, neuron_scores, prune, sensitivity,
                                      sparsity_schedule)

__all__ = ["prune", "sensitivity", "SensitivityTable", "magnitude_masks", "neuron_scores",
           "neuron_keep", "sparsity_schedule", "cubic_sparsity"]
