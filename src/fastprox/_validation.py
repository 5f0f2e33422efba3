"""Every check that must happen before entering ``nogil`` code.

The compiled kernels trust their inputs (no bounds checks), so anything that
could make them read or write out of bounds is rejected here, with a message
that says what is wrong and how to fix it.

Policies (documented in the public functions too):

- Arrays a kernel *writes in place* (weights, optimizer state, ``out=``) must
  already be C-contiguous, writeable and of the working dtype: a silent copy
  would make the in-place update vanish. Anything else is refused.
- Arrays a kernel only *reads* are converted: made C-contiguous and cast to
  the working dtype (a copy, only when needed).
- Working dtype: float32 or float64. Mixed float32/float64 inputs are promoted
  to float64, as NumPy and SciPy do; in-place arrays decide the dtype of the
  update kernels. Integer and other inputs are cast to float64 (update kernels:
  to the dtype of the in-place arrays).
- ``out=`` arrays that share memory with an input get a temporary
  (:func:`check_result`); long CSR products are cut into row blocks
  (:func:`row_blocks`) so that Ctrl-C is seen between compiled calls
  (see docs/design/kernels-aliasing.md).
- CSR structure: ``indptr`` of length n_rows + 1, starting at 0, monotone,
  ending at nnz = len(indices) = len(data); indices in [0, n_cols). Index
  arrays: the matrix's own when both are int32 or both int64, else int32 when
  the shape and nnz fit, else int64; ``narrow=True`` (matrices validated once
  for many products) copies int64 arrays to int32 when they fit.
"""
import math
import numbers
from bisect import bisect_left

import numpy as np
import scipy.sparse as sp

from ._kernels import sparse_fast
from ._threads import get_num_threads

FLOAT_DTYPES = (np.float32, np.float64)


def check_scalar(value, name, *, min_val=None, max_val=None, include_min=True,
                 include_max=True):
    """Return ``value`` as a finite float, or raise with a message naming it."""
    if type(value) is not float:  # fast path for the common case
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__} "
                            f"{value!r}")
        value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if min_val is not None and (value < min_val or (value == min_val and not include_min)):
        op = ">=" if include_min else ">"
        raise ValueError(f"{name} must be {op} {min_val}, got {value}")
    if max_val is not None and (value > max_val or (value == max_val and not include_max)):
        op = "<=" if include_max else "<"
        raise ValueError(f"{name} must be {op} {max_val}, got {value}")
    return value


def _as_ndarray(x, name):
    if type(x) is np.ndarray and x.dtype.kind in "biuf":
        return x
    if sp.issparse(x):
        raise TypeError(f"{name} must be a dense array, got a scipy.sparse {x.format} matrix; "
                        f"use {name}.toarray() if it is small")
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if np.iscomplexobj(x):
        raise TypeError(f"{name} must be real, got complex dtype {x.dtype}")
    return x


def check_inplace(x, name, dtype=None, ndim=1):
    """Check an array a kernel updates in place; never copies."""
    if type(x) is not np.ndarray and not isinstance(x, np.ndarray):
        raise TypeError(f"{name} is updated in place and must be a numpy.ndarray, "
                        f"got {type(x).__name__}")
    flags = x.flags
    if x.dtype in FLOAT_DTYPES and (dtype is None or x.dtype == dtype) and x.ndim == ndim \
            and flags.c_contiguous and flags.writeable:
        return x  # fast path: nothing to report
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} is updated in place and must be float32 or float64, got "
                        f"{x.dtype}; convert it once with {name}.astype(np.float64)")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the other in-place arrays are "
                        f"{np.dtype(dtype)}; keep the weights and optimizer state in one dtype")
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {x.shape}")
    if not flags.c_contiguous:
        raise ValueError(f"{name} is updated in place and must be C-contiguous; "
                         f"pass np.ascontiguousarray({name}) and keep that array")
    raise ValueError(f"{name} is updated in place but is read-only")


def check_input(x, name, dtype, shape=None, ndim=None):
    """Convert an array a kernel only reads: C-contiguous, ``dtype`` (copy only if needed)."""
    x = _as_ndarray(x, name)
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {x.shape}")
    if shape is not None and x.shape != tuple(shape):
        raise ValueError(f"{name} has shape {x.shape}, expected {tuple(shape)}")
    if x.dtype == dtype and x.flags.c_contiguous:
        return x
    return np.ascontiguousarray(x, dtype=dtype)


def overlaps(a, b):
    """True if ``a`` and ``b`` share memory.

    The bounds check (``np.may_share_memory``, about 0.2 us) answers almost
    every call; the exact check runs only when the bounds overlap.
    """
    return np.may_share_memory(a, b) and np.shares_memory(a, b)


def result_dtype(*dtypes):
    """float32 only if every input is float32, else float64."""
    return np.float32 if all(np.dtype(d) == np.float32 for d in dtypes) else np.float64


def check_out(out, shape, dtype, name="out"):
    """Return a new array or check a user ``out=`` (never copied: it is written)."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    check_inplace(out, name, dtype=None, ndim=len(shape))
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}, the result is {np.dtype(dtype)}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, the result has shape {tuple(shape)}")
    return out


def check_result(out, shape, dtype, *inputs):
    """``(array to compute into, array to return)`` for an ``out=`` argument.

    A user ``out`` that shares memory with one of ``inputs`` is not written by
    the kernel: the result goes to a temporary, copied into ``out`` at the end.
    """
    if out is None:
        out = np.empty(shape, dtype=dtype)
        return out, out
    out = check_out(out, shape, dtype)
    for a in inputs:
        if overlaps(out, a):
            return np.empty(shape, dtype=dtype), out
    return out, out


def row_blocks(indptr, n_rows, per_unit, block_work, n_threads):
    """Row bounds ``[0, ..., n_rows]`` of blocks of about equal work, or None for one call.

    The work of rows ``[r0, r1)`` is ``indptr[r1] + r1 - indptr[r0] - r0`` (as
    in the kernels' thread split) times ``per_unit``; there are as many blocks
    as ``block_work * n_threads`` goes into the total, found by bisection
    (O(blocks * log(n_rows)), no pass over ``indptr``).
    """
    row_work = int(indptr[n_rows]) + n_rows
    n_blocks = min(-(-row_work * max(per_unit, 1) // (block_work * n_threads)), n_rows)
    if n_blocks <= 1:
        return None
    rows = range(n_rows + 1)
    return [0] + [bisect_left(rows, row_work * c // n_blocks, key=lambda r: int(indptr[r]) + r)
                  for c in range(1, n_blocks)] + [n_rows]


def row_block_views(bounds, indptr, nt):
    """``(r0, r1, k0, k1, indptr of the block)`` for each nonempty block.

    On several threads the block's ``indptr`` is rebased to start at 0 (a
    copy) and the values sliced at ``[k0, k1)``: the kernels split rows by
    ``indptr[r] + r``, which must start at 0 for an even split. One thread
    does no split, so the block then reads the whole arrays through a view of
    ``indptr`` (``k0 = 0``, no copy).
    """
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        if r1 > r0:
            if nt > 1:
                k0 = indptr[r0]
                yield r0, r1, k0, indptr[r1], indptr[r0:r1 + 1] - k0
            else:
                yield r0, r1, 0, None, indptr[r0:r1 + 1]


def empty_aligned(shape, dtype, align=64):
    """``np.empty`` whose data starts on an ``align``-byte boundary.

    NumPy aligns large arrays to 16 bytes only; the CSR micro-kernels load
    whole 64-byte vectors from each row of the dense operand, and an unaligned
    load straddles two cache lines (see docs/design/kernels-aligned-operand.md).
    """
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(n * dtype.itemsize + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + n * dtype.itemsize].view(dtype).reshape(shape)


def check_finite(x, name):
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinity")


class CSR:
    """Validated, kernel-ready view of a CSR matrix (arrays C-contiguous, one index dtype)."""

    __slots__ = ("data", "indices", "indptr", "shape")

    def __init__(self, data, indices, indptr, shape):
        self.data, self.indices, self.indptr, self.shape = data, indices, indptr, shape

    @property
    def nnz(self):
        return self.data.shape[0]


def check_csr(A, name="A", dtype=None, check_structure=True, narrow=False):
    """Validate a scipy CSR array/matrix and return a :class:`CSR` for the kernels.

    Public, with full documentation, as :func:`fastprox.sparse.check_csr`.

    Parameters
    ----------
    A : scipy.sparse.csr_array or csr_matrix
    dtype : float32 or float64 or None
        Cast the values to this dtype (a copy) if given, else keep float32 or
        float64 values and cast anything else to float64.
    check_structure : bool
        Check indptr monotonicity and index ranges (O(nnz), parallel). Only
        skip for matrices already validated: a malformed matrix would then be
        read out of bounds.
    narrow : bool
        Copy int64 index arrays to int32 when the shape and nnz fit (for
        matrices validated once and multiplied many times: the products read
        4 bytes less per nonzero). Otherwise A's arrays are kept when both are
        int32 or both int64.
    """
    if not sp.issparse(A):
        raise TypeError(f"{name} must be a scipy.sparse CSR array or matrix, got "
                        f"{type(A).__name__}; build one with scipy.sparse.csr_array(...)")
    if A.format != "csr":
        raise TypeError(f"{name} must be in CSR format, got {A.format!r}; convert it once "
                        f"with {name}.tocsr()")
    if len(A.shape) != 2:
        raise ValueError(f"{name} must be 2-D, got shape {A.shape}")
    n_rows, n_cols = (int(s) for s in A.shape)
    if n_rows < 0 or n_cols < 0:
        raise ValueError(f"{name} has shape {A.shape}; a shape cannot be negative")
    data, indices, indptr = A.data, A.indices, A.indptr
    for arr, what in ((data, "data"), (indices, "indices"), (indptr, "indptr")):
        if not isinstance(arr, np.ndarray):  # subclasses such as np.memmap are fine
            raise TypeError(f"{name}.{what} must be a numpy array, got {type(arr).__name__}")
        if arr.ndim != 1:
            raise ValueError(f"{name}.{what} must be a 1-D numpy array, got shape {arr.shape}")
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise TypeError(f"{name}.indices and {name}.indptr must hold integers, got dtypes "
                        f"{indices.dtype} and {indptr.dtype}")
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {data.dtype}")
    if indptr.shape[0] != n_rows + 1:
        raise ValueError(f"{name}.indptr has length {indptr.shape[0]}, expected n_rows + 1 = "
                         f"{n_rows + 1}; the matrix is malformed")
    nnz = data.shape[0]
    if indices.shape[0] != nnz:
        raise ValueError(f"{name}.indices has length {indices.shape[0]} but {name}.data has "
                         f"length {nnz}; the matrix is malformed")
    if dtype is None:
        dtype = data.dtype if data.dtype in FLOAT_DTYPES else np.float64
    if data.dtype != dtype or not data.flags.c_contiguous:
        data = np.ascontiguousarray(data, dtype=dtype)

    # One index dtype for both arrays: kept if they already agree (int32 or
    # int64), else int32 when the shape and nnz fit in it, else int64.
    fits32 = max(nnz, n_cols, n_rows) < 2**31 - 1
    if indices.dtype == indptr.dtype and indices.dtype in (np.int32, np.int64):
        idx_dtype = indices.dtype
    else:
        idx_dtype = np.int32 if fits32 else np.int64
    indptr = _as_index(indptr, idx_dtype, name, "indptr")
    indices = _as_index(indices, idx_dtype, name, "indices")
    narrow = narrow and fits32 and idx_dtype == np.int64

    if check_structure:
        _check_structure(indptr, indices, nnz, n_cols, name)
    if narrow:  # after the structure check every value is known to fit: a plain cast
        indptr = _as_index(indptr, np.int32, name, "indptr", checked=check_structure)
        indices = _as_index(indices, np.int32, name, "indices", checked=check_structure)
    return CSR(data, indices, indptr, (n_rows, n_cols))


def _check_structure(indptr, indices, nnz, n_minor, name, fmt="CSR", minor="columns"):
    """Raise ``ValueError`` unless ``indptr`` runs monotone from 0 to nnz and every index is
    in ``[0, n_minor)`` (int32 / int64 arrays of the right lengths; parallel passes)."""
    nt = get_num_threads()
    bad = sparse_fast.check_indptr_impl(indptr, nnz, nt)
    if bad >= 0:
        if bad == 0:
            msg = f"{name}.indptr[0] is {indptr[0]}, must be 0"
        elif bad == indptr.shape[0] - 1 and indptr[-1] != nnz:
            msg = f"{name}.indptr[-1] is {indptr[-1]} but the matrix stores nnz = {nnz} values"
        else:
            msg = (f"{name}.indptr is not non-decreasing: indptr[{bad}] = {indptr[bad]} < "
                   f"indptr[{bad - 1}] = {indptr[bad - 1]}")
        raise ValueError(msg + f"; the {fmt} matrix is malformed")
    bad = sparse_fast.check_indices_impl(indices, n_minor, nt)
    if bad >= 0:
        raise ValueError(f"{name}.indices[{bad}] = {indices[bad]} is out of range for "
                         f"{n_minor} {minor} (must be in [0, {n_minor})); the {fmt} matrix "
                         "is malformed")


def check_sparse_structure(X, name="X"):
    """Raise ``ValueError`` if a CSR, CSC or COO ``X`` has malformed index arrays.

    SciPy builds such matrices without a full check, and its format conversions
    as well as fastprox's compiled loops would then read out of bounds (a crash,
    or a fit on garbage). Estimators call this on sparse ``X`` before anything
    reads it (``O(nnz)``, parallel); dense input and other formats pass through.
    """
    if not sp.issparse(X) or X.format not in ("csr", "csc", "coo") or len(X.shape) != 2:
        return
    arrays = (X.data, X.row, X.col) if X.format == "coo" else (X.data, X.indices, X.indptr)
    if not all(isinstance(a, np.ndarray) and a.ndim == 1 for a in arrays) \
            or X.data.dtype.kind not in "biuf" \
            or any(a.dtype.kind not in "iu" for a in arrays[1:]):
        return  # scikit-learn's validation says what is wrong with those
    n_rows, n_cols = (int(s) for s in X.shape)
    if X.format == "coo":
        for arr, n, what in ((X.row, n_rows, "row"), (X.col, n_cols, "col")):
            arr = _as_index(arr, arr.dtype if arr.dtype in (np.int32, np.int64) else np.int64,
                            name, what)
            bad = sparse_fast.check_indices_impl(arr, n, get_num_threads())
            if bad >= 0:
                raise ValueError(f"{name}.{what}[{bad}] = {arr[bad]} is out of range for a "
                                 f"shape of {X.shape}; the COO matrix is malformed")
        return
    csr = X.format == "csr"
    (n_major, major), (n_minor, minor) = (((n_rows, "rows"), (n_cols, "columns")) if csr
                                          else ((n_cols, "columns"), (n_rows, "rows")))
    nnz = X.data.shape[0]
    if X.indptr.shape[0] != n_major + 1 or X.indices.shape[0] != nnz:
        raise ValueError(f"{name}.indptr has length {X.indptr.shape[0]} (expected {major} + 1 "
                         f"= {n_major + 1}) and {name}.indices {X.indices.shape[0]} (expected "
                         f"nnz = {nnz}); the {X.format.upper()} matrix is malformed")
    indptr, indices = (_as_index(a, a.dtype if a.dtype in (np.int32, np.int64) else np.int64,
                                 name, what)
                       for a, what in ((X.indptr, "indptr"), (X.indices, "indices")))
    _check_structure(indptr, indices, nnz, n_minor, name, X.format.upper(), minor)


def _as_index(arr, dtype, name, what, checked=False):
    if arr.dtype == dtype and arr.flags.c_contiguous:
        return arr
    if not checked and arr.dtype != dtype and not np.can_cast(arr.dtype, dtype) and arr.size:
        # a narrowing cast must not wrap a bad value around into a valid one
        info = np.iinfo(dtype)
        if arr.min() < info.min or arr.max() > info.max:
            raise ValueError(f"{name}.{what} holds values outside the {np.dtype(dtype)} range; "
                             "the CSR matrix is malformed")
    return np.ascontiguousarray(arr, dtype=dtype)
