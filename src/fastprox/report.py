"""Memory and FLOP accounting and measured latency of a pruned network (public interface).

:func:`sparsity_report` (also ``model.sparsity_report``) builds a
:class:`SparsityReport`: per layer and in total, bytes and FLOPs per sample
stored dense vs CSR (:func:`layer_accounting`), and forward latencies
measured at batch 1 and 256, all-dense against the network as stored.

The implementation lives beside the networks it reports on, in
``fastprox.neural_network._report``.
"""
from .neural_network._report import SparsityReport, layer_accounting, sparsity_report

__all__ = ["SparsityReport", "sparsity_report", "layer_accounting"]
