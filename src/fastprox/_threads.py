"""The single place that decides how many OpenMP threads a kernel uses.

:func:`get_num_threads` gives every ``prange`` its thread count;
:func:`blas_limited` (and :func:`blas_single_threaded`) limit BLAS around
fastprox's own loops, safely from several Python threads at once.
"""
import contextlib
import os
import sys
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
# See docs/design/kernels-blas-single-threaded.md. The BLAS limit is
# process-wide, so blocks from several Python threads share one limit under a
# lock (threadpoolctl's own save/restore, entered from two threads, leaves
# the inner limit behind: see docs/design/mlp-state.md).
_blas_lock = threading.Lock()
_blas_active = []       # the limits of the blocks now open, in any thread
_blas_limiter = None    # restores the limits found by the first block in
_blas_current = None    # the limit set now (the strictest of _blas_active)
_controllers = None     # (BLAS, OpenMP) threadpoolctl controllers
_controllers_modules = 0  # len(sys.modules) when they were made


def _get_controllers():
    """The (BLAS, OpenMP) threadpoolctl controllers of the libraries loaded now.

    A scan costs ~10 ms, so it is redone only when modules were imported since
    the last one (a BLAS loads with the extension that links it: scipy.linalg's
    own OpenBLAS may come after numpy's) and no block holds limits to restore.
    """
    global _controllers, _controllers_modules
    if _controllers is None or (len(sys.modules) != _controllers_modules
                                and _blas_limiter is None):
        from threadpoolctl import ThreadpoolController
        _controllers_modules = len(sys.modules)
        ctl = ThreadpoolController()
        _controllers = (ctl.select(user_api="blas"), ctl.select(user_api="openmp"))
    return _controllers


def _release_blas_control():
    """Let the next BLAS limit change come from any Python thread.

    threadpoolctl >= 3.8 lets one "controlling" Python thread at a time set
    OpenBLAS's process-wide limit and ignores the others; this module makes
    its changes one at a time under ``_blas_lock`` and hands control back.
    """
    import threadpoolctl

    clear = getattr(getattr(threadpoolctl, "OpenBLASController", None),
                    "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def _set_blas(limit):
    """Set BLAS to ``limit`` threads (None: restore the limits found); holds ``_blas_lock``.

    ``_blas_current`` reads None ("unknown") until the change is complete, so
    a KeyboardInterrupt inside it makes the next block set its limit again.
    """
    global _blas_limiter, _blas_current
    blas, _ = _get_controllers()
    _blas_current = None
    _release_blas_control()
    if limit is None:
        if _blas_limiter is not None:
            _blas_limiter.restore_original_limits()
            _blas_limiter = None
    elif _blas_limiter is None:
        _blas_limiter = blas.limit(limits=limit)
    else:
        blas.limit(limits=limit)  # the originals stay with the first limiter
    _release_blas_control()
    _blas_current = limit


def _sync_blas():
    """Make the BLAS limit the strictest of the open blocks' (none open: the limits
    found by the first one in); holds ``_blas_lock``."""
    strictest = min((e[0] for e in _blas_active), default=None)
    if strictest is None:
        if _blas_limiter is not None or _blas_current is not None:
            _set_blas(None)
    elif strictest != _blas_current:
        _set_blas(strictest)


@contextlib.contextmanager
def blas_limited(n_threads=1, *, openmp=False):
    """Limit BLAS (OpenBLAS, MKL, ...) to ``n_threads`` threads inside the block.

    Re-entrant and safe across Python threads: blocks open at the same time
    share one process-wide limit, the strictest of theirs; the last one out
    restores the limits that were there before the first one in.

    Parameters
    ----------
    n_threads : int or None, default 1
        The limit; None leaves every limit as it is (the block does nothing).
    openmp : bool, default False
        Also limit OpenMP (fastprox's kernels, :func:`get_num_threads`) to
        ``n_threads`` in the calling thread, whose limit it is (libgomp keeps
        one per thread).
    """
    if n_threads is None:
        yield
        return
    n_threads = int(n_threads)
    entry = [n_threads]  # this block's own entry: removed by identity, whatever happens
    try:
        with _blas_lock:
            _blas_active.append(entry)
            _sync_blas()
        if openmp:
            with _get_controllers()[1].limit(limits=n_threads):
                yield
        else:
            yield
    finally:
        # also reached by a KeyboardInterrupt anywhere above: an entry left
        # behind would keep BLAS limited (or unlimited) for the whole process
        with _blas_lock:
            _blas_active[:] = [e for e in _blas_active if e is not entry]
            _sync_blas()


# OpenBLAS runs a level-2 call on one thread below m * n = 2304 * 4 (its
# GEMM_MULTITHREAD_THRESHOLD, interface/gemv.c); level-1 and level-3 calls on
# arrays this small are single-threaded too
_BLAS_SERIAL_SIZE = 9216


def blas_single_threaded(size=None):
    """Limit BLAS (OpenBLAS, MKL, ...) to one thread inside the block.

    Re-entrant and safe across threads: the first block in sets the limit,
    the last one out restores what was there (:func:`blas_limited` with 1).

    Parameters
    ----------
    size : int, optional
        Elements of the largest array the block hands to BLAS. Below the
        size at which BLAS would start threads the block does nothing: on
        sub-millisecond fits (diabetes, 442 x 10) setting and restoring the
        limit cost ~0.1 ms, a tenth of the fit.
    """
    if size is not None and size < _BLAS_SERIAL_SIZE:
        return contextlib.nullcontext()
    return blas_limited(1)
