"""Magnitude and structured pruning, and pruning schedules (public interface).

Masks are boolean arrays, ``True`` for the weights (or neurons) that are kept:

- :func:`magnitude_masks`: prune the smallest weights, globally or per layer,
  to a sparsity or below a threshold;
- :func:`neuron_scores`, :func:`neuron_keep`: rank and select hidden neurons;
- :func:`sparsity_schedule`, :func:`cubic_sparsity`: the sparsity of each
  pruning event (one shot, equal steps, Zhu & Gupta's cubic schedule).

The implementation lives beside the networks it prunes, in
``fastprox.neural_network._pruning``.
"""
from .neural_network._pruning import (cubic_sparsity, magnitude_masks, neuron_keep,
                                      neuron_scores, sparsity_schedule)

__all__ = ["magnitude_masks", "neuron_scores", "neuron_keep", "sparsity_schedule",
           "cubic_sparsity"]
