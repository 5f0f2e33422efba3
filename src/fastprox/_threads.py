"""The single place that decides how many OpenMP threads a kernel uses.

:func:`get_num_threads` gives every ``prange`` its thread count;
:func:`blas_single_threaded` limits BLAS around the solvers' own loops.
"""
import contextlib
import os
import threading

from ._kernels import _openmp

_user_n_threads = None


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# Read once: kernels ask for the thread count on every call, and the CPUs a
# process may use do not change under it in practice.
_CPUS = _cpu_count()
_OPENMP = _openmp.openmp_enabled()


def get_num_threads():
    """Return the number of threads fastprox kernels will use.

    The strictest of these limits wins: :func:`set_num_threads`, the OpenMP
    limit (``OMP_NUM_THREADS``, or ``threadpoolctl.threadpool_limits(n,
    user_api="openmp")`` in the calling thread), and the CPUs this process may
    run on. Always 1 when fastprox was built without OpenMP.

    Returns
    -------
    n_threads : int
    """
    if not _OPENMP:
        return 1
    n = min(_openmp.omp_max_threads(), _CPUS)
    if _user_n_threads is not None:
        n = min(n, _user_n_threads)
    return max(1, n)


def set_num_threads(n_threads):
    """Cap the number of threads fastprox kernels use, process-wide.

    Parameters
    ----------
    n_threads : int or None
        A positive cap, or None to remove it (then ``OMP_NUM_THREADS``,
        threadpoolctl limits and the CPU count decide).

    Returns
    -------
    previous : int or None
        The cap that was in place, so it can be restored.

    Examples
    --------
    >>> import fastprox
    >>> old = fastprox.set_num_threads(1)
    >>> fastprox.get_num_threads()
    1
    >>> _ = fastprox.set_num_threads(old)
    """
    global _user_n_threads
    if n_threads is not None:
        if isinstance(n_threads, bool) or (not isinstance(n_threads, int)
                                           and not hasattr(n_threads, "__index__")):
            raise TypeError(f"n_threads must be a positive int or None, got {n_threads!r}")
        n_threads = int(n_threads)
        if n_threads < 1:
            raise ValueError(f"n_threads must be >= 1 or None, got {n_threads}")
    previous, _user_n_threads = _user_n_threads, n_threads
    return previous


# -- BLAS threads during fastprox's own solvers ------------------------------
#
# OpenBLAS workers spin after each threaded call and hold up the OpenMP region
# that follows; the solvers' vector algebra gains nothing from BLAS threads.
# See docs/design/kernels-blas-single-threaded.md.
_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter = None
_controller = None


@contextlib.contextmanager
def blas_single_threaded():
    """Limit BLAS (OpenBLAS, MKL, ...) to one thread inside the block.

    Re-entrant and safe across threads: the first block in sets the limit,
    the last one out restores what was there.
    """
    global _blas_depth, _blas_limiter, _controller
    with _blas_lock:
        if _blas_depth == 0:
            if _controller is None:
                from threadpoolctl import ThreadpoolController
                _controller = ThreadpoolController()  # scans the libraries: once
            _blas_limiter = _controller.limit(limits=1, user_api="blas")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
