"""The compiled kernels: one module per job, the best instruction-set build.

Every module below is a Cython file of this folder compiled once per x86-64
level; ``_dispatch`` imports the build the CPU runs best, once. Wrappers import
a kernel module by name, ``from .._kernels import sparse_fast``, so a reader
can follow the arrow from a wrapper to its loops.

=================  ==========================================================
``prox_fast``      fused proximal updates (``fastprox.prox``)
``sparse_fast``    CSR products, structure checks, dense -> CSR (``fastprox.sparse``)
``cd_fast``        coordinate-descent epochs, quadratic datafit (Lasso / ElasticNet)
``logistic_fast``  working-set proximal Newton kernels (LogisticRegression)
``sgd_fast``       SGD epochs (SGDRegressor / SGDClassifier)
``mlp_fast``       compiled training epoch and forward pass of an all-CSR MLP
``_openmp``        OpenMP and CPU queries, built once for the baseline target
=================  ==========================================================

The kernels never raise: their callers validate every input first (shapes,
dtypes, CSR structure). Shared Cython declarations live in ``_shared.pxd``
and ``_prox_updates.pxd``; the C loops in ``csr_kernels.h`` and
``cd_kernels.h``.
"""
from . import _openmp
from ._dispatch import LEVEL, available_levels, load, specialised, supported_levels

prox_fast = load("prox_fast")
sparse_fast = load("sparse_fast")
cd_fast = load("cd_fast")
logistic_fast = load("logistic_fast")
sgd_fast = load("sgd_fast")
mlp_fast = load("mlp_fast")

__all__ = ["LEVEL", "available_levels", "supported_levels", "load", "specialised", "prox_fast",
           "sparse_fast", "cd_fast", "logistic_fast", "sgd_fast", "mlp_fast"]
