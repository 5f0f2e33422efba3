"""fastprox: fused proximal updates and OpenMP CSR kernels for sparse models on CPUs.

Public modules: :mod:`fastprox.prox` (fused proximal updates) and
:mod:`fastprox.sparse` (CSR kernels). Threads: :func:`get_num_threads`,
:func:`set_num_threads`, or ``threadpoolctl.threadpool_limits(n, user_api="openmp")``.
"""
from ._version import __version__
from ._threads import get_num_threads, set_num_threads
from ._config import show_config
from ._patch import patch_sklearn, sklearn_is_patched, unpatch_sklearn

__all__ = ["__version__", "get_num_threads", "set_num_threads", "show_config",
           "patch_sklearn", "sklearn_is_patched", "unpatch_sklearn"]
