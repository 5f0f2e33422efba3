"""Memory and FLOP accounting, measured memory and latency of a pruned network (public interface).

:func:`sparsity_report` (also ``model.sparsity_report``) builds a
:class:`SparsityReport`: per layer, bytes and FLOPs per sample dense, as CSR
and as stored (:func:`layer_accounting`), and totals that are the sums of the
rows; against the dense network as built (before structured pruning), the
network as stored and all layers CSR; the measured pickle size and the arrays
held in RAM (:func:`held_arrays`); forward latencies measured at batch 1 and
256, all-dense against the network as stored. Every printed ratio is the
quotient of the two figures printed beside it.

The implementation lives beside the networks it reports on, in
``fastprox.neural_network._report``.
"""
from .neural_network._report import SparsityReport, held_arrays, layer_accounting, sparsity_report

__all__ = ["SparsityReport", "sparsity_report", "layer_accounting", "held_arrays"]
