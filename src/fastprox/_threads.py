"""The single place that decides how many OpenMP threads a kernel uses."""
import os

from . import _openmp

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
        if isinstance(n_threads, bool) or not isinstance(n_threads, (int,)) and not hasattr(n_threads, "__index__"):
            raise TypeError(f"n_threads must be a positive int or None, got {n_threads!r}")
        n_threads = int(n_threads)
        if n_threads < 1:
            raise ValueError(f"n_threads must be >= 1 or None, got {n_threads}")
    previous, _user_n_threads = _user_n_threads, n_threads
    return previous
