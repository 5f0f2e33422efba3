"""Multi-layer perceptrons with proximal L1, pruning, and layers stored as CSR when sparse."""
from ._layers import CSRLayer, DenseLayer
from ._multilayer_perceptron import DEFAULT_SPARSE_CROSSOVER, MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "DenseLayer", "CSRLayer", "DEFAULT_SPARSE_CROSSOVER"]
