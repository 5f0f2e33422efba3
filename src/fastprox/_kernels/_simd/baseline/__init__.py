"""Kernels compiled for one instruction-set level; see fastprox._kernels._dispatch."""
