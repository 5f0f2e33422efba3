"""Magnitude pruning of a dense matrix straight into CSR (public as
:func:`fastprox.sparse.prune_to_csr`): two parallel passes over ``W``, one that
counts the kept entries per row and one that writes them (no boolean mask or
COO intermediate; pruning by sparsity also partitions one copy of ``|W|``).
"""
import numpy as np
import scipy.sparse as sp

from ._kernels import sparse_fast
from ._threads import get_num_threads
from ._validation import FLOAT_DTYPES, _as_ndarray, check_scalar
from ._validation import check_input as _check_dense

__all__ = ["prune_to_csr"]


def prune_to_csr(W, threshold=None, sparsity=None):
    """Magnitude pruning of a dense matrix straight into CSR.

    Exactly one of ``threshold`` and ``sparsity`` must be given.

    Parameters
    ----------
    W : array_like, shape (n_rows, n_cols)
        Dense weights, finite. float32 stays float32, others become float64.
    threshold : float, optional
        Keep the entries with ``|w| >= threshold`` (and ``w != 0``).
    sparsity : float in [0, 1], optional
        Prune exactly ``round(sparsity * W.size)`` entries, the smallest in
        magnitude; ties are broken deterministically (among equal magnitudes
        the lowest flat, row-major, indices are pruned first). Entries that are
        already zero are never stored, so if ``W`` has more zeros than that,
        the result is sparser than asked.

    Returns
    -------
    A : scipy.sparse.csr_array
        Sorted indices, no explicit zeros; int32 indices when they fit.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.sparse import prune_to_csr
    >>> A = prune_to_csr(np.array([[0.1, -2.0], [0.5, 0.3]]), sparsity=0.5)
    >>> A.toarray()
    array([[ 0. , -2. ],
           [ 0.5,  0. ]])
    """
    if (threshold is None) == (sparsity is None):
        raise ValueError("give exactly one of threshold= and sparsity=")
    W = _as_ndarray(W, "W")
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D, got shape {W.shape}")
    dtype = W.dtype if W.dtype in FLOAT_DTYPES else np.float64
    W = _check_dense(W, "W", dtype)
    if not np.isfinite(W).all():
        raise ValueError("W contains NaN or infinity; magnitude pruning is undefined for them")
    size = W.size
    if threshold is not None:
        thr = check_scalar(threshold, "threshold", min_val=0.0)
        tie_start = 0  # |w| == threshold is kept
    else:
        s = check_scalar(sparsity, "sparsity", min_val=0.0, max_val=1.0)
        n_prune = int(np.floor(s * size + 0.5))
        thr, tie_start = _exact_cut(W, n_prune)
    idx_dtype = np.int32 if max(size, W.shape[1]) < 2**31 - 1 else np.int64
    counts = np.zeros(W.shape[0] + 1, dtype=np.int64)
    nt = get_num_threads()
    sparse_fast.count_kept_impl(W, thr, tie_start, counts, nt)
    indptr = np.cumsum(counts).astype(idx_dtype)
    nnz = int(indptr[-1])
    indices = np.empty(nnz, dtype=idx_dtype)
    data = np.empty(nnz, dtype=dtype)
    sparse_fast.fill_kept_impl(W, thr, tie_start, indptr, indices, data, nt)
    return sp.csr_array((data, indices, indptr), shape=W.shape)


def _exact_cut(W, n_prune):
    """(thr, tie_start) so that exactly ``n_prune`` entries fall below the cut.

    Kept: ``|w| > thr``, or ``|w| == thr`` with flat index ``>= tie_start``.
    """
    size = W.size
    if n_prune <= 0:
        return -1.0, 0  # keep everything (zeros are still not stored)
    if n_prune >= size:
        return np.inf, 0
    a = np.abs(W).ravel()
    thr = np.partition(a, n_prune - 1)[n_prune - 1]  # largest pruned magnitude
    n_below = int(np.count_nonzero(a < thr))
    ties = np.flatnonzero(a == thr)  # sorted flat indices
    n_tied_pruned = n_prune - n_below  # >= 1
    tie_start = int(ties[n_tied_pruned]) if n_tied_pruned < ties.size else size
    return float(thr), tie_start
