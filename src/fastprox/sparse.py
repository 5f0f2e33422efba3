"""CSR kernels taking scipy.sparse CSR arrays and matrices directly.

Every function validates the matrix structure before entering compiled code
(``indptr`` monotone from 0 to nnz, indices in range), so a malformed matrix
raises ``ValueError`` instead of crashing. That check reads the index arrays
once, in parallel (``O(nnz)``, a fraction of a mat-vec; see
``docs/design/kernels-csr-validation.md``); code that calls a kernel many
times on one matrix can validate it once with :func:`check_csr` and pass the
result with ``check_input=False``.

Values are float32 or float64 (other dtypes become float64); a float32 matrix
with a float64 operand computes in float64 (a copy of the float32 side), as
SciPy does. Indices are int32 or int64. Dense operands are made C-contiguous
(a copy if needed). ``out=`` arrays must already have the result's shape and
dtype and be C-contiguous; they are never copied. NaN and infinity propagate
as in ``A @ x``.

Rows are split across threads by work (nonzeros), and every output value is
computed by one thread in a fixed order, so results do not depend on the
thread count.

An ``out=`` that shares memory with an input (the dense operand, ``bias``,
the matrix's arrays) is computed into a temporary, then copied into ``out``,
as NumPy does for ufuncs. Products longer than about 10-50 ms (``spmv``,
``spmm``, ``sddmm``) run as compiled calls over row blocks, so that Ctrl-C is
seen between two, with the same bits as one call. The trusted path
(``check_input=False`` with a :class:`CSR` and ``out=``) is one call and
checks no overlap: the caller guarantees none (see
``docs/design/kernels-aliasing.md``).
"""
import numpy as np
import scipy.sparse as sp

from ._csr_prune import prune_to_csr
from ._kernels import sparse_fast, specialised
from ._threads import get_num_threads
from ._validation import (CSR, FLOAT_DTYPES, _as_ndarray, empty_aligned, overlaps,
                          result_dtype)
from ._validation import check_result as _result
from ._validation import row_block_views as _blocks
from ._validation import row_blocks as _row_blocks
from ._validation import check_csr as _check_csr
from ._validation import check_input as _check_dense

_NO_BIAS = {np.dtype(np.float32): np.empty(0, np.float32),
            np.dtype(np.float64): np.empty(0, np.float64)}

# Work per thread ((nnz + rows) x batch or dot length) of one compiled call, 10-50 ms: longer
# products run in row blocks so Ctrl-C is seen between them (docs/design/kernels-aliasing.md)
_SPMV_BLOCK, _SPMM_BLOCK, _SDDMM_BLOCK = 1 << 26, 1 << 28, 1 << 27

__all__ = ["check_csr", "spmv", "spmv_t", "spmm", "sddmm", "prune_to_csr"]


def check_csr(A, name="A", dtype=None, check_structure=True, index_dtype="smallest"):
    """Validate a CSR matrix once and return a kernel-ready view of it.

    The functions of this module validate their CSR argument on every call.
    A loop that multiplies by one matrix many times validates it once here
    and passes the result with ``check_input=False`` (and an ``out=`` array):
    the calls then skip every Python-side check.

    It also prepares the matrix for many products, as inspector-executor
    libraries do [1]_: int64 index arrays become int32 copies when they fit, so
    a product reads 4 bytes less per nonzero (``spmv`` of 1e6 x 1e3 at 1 %,
    float64: about 0.8x the time), for 4 bytes per nonzero of memory.

    Parameters
    ----------
    A : scipy.sparse CSR array or matrix, shape (n_rows, n_cols)
    name : str, default "A"
        Name used in error messages.
    dtype : {numpy.float32, numpy.float64}, optional
        Cast the values to this dtype (a copy) if given; by default float32
        and float64 values are kept and anything else becomes float64.
    check_structure : bool, default True
        Check the structure: ``indptr`` of length ``n_rows + 1``, from 0,
        non-decreasing, ending at nnz; indices in ``[0, n_cols)``
        (``O(nnz)``, parallel). Skip it only for a matrix validated before:
        a malformed matrix is then read out of bounds.
    index_dtype : {"smallest", "keep"}, default "smallest"
        "smallest": int32 indices when the shape and nnz fit, else int64.
        "keep": ``A``'s own index arrays if both are int32 or both int64 (no
        copy), else as "smallest". Products give the same bits either way.

    Returns
    -------
    csr : CSR
        A validated view with attributes ``data``, ``indices``, ``indptr``
        (C-contiguous, one index dtype, see ``index_dtype``), ``shape`` and
        ``nnz``. It shares memory with ``A`` where no conversion was needed;
        do not modify ``A`` while using it.

    Raises
    ------
    TypeError
        If ``A`` is not a scipy.sparse matrix in CSR format, or its values or
        indices are not real numbers / integers.
    ValueError
        If the structure is malformed (``indptr`` of the wrong length, not
        starting at 0, decreasing or not ending at nnz; an index out of range),
        or ``index_dtype`` is neither "smallest" nor "keep".

    See Also
    --------
    scipy.sparse.csr_array.check_format : SciPy's own structural check.

    References
    ----------
    .. [1] Intel, "oneMKL Developer Reference", ``mkl_sparse_optimize``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from fastprox.sparse import check_csr, spmv
    >>> A = check_csr(sp.csr_array(np.array([[1.0, 0, 2], [0, 3, 0]])))
    >>> A.shape, A.nnz
    ((2, 3), 3)
    >>> y = np.empty(2)
    >>> for _ in range(3):  # no validation inside the loop
    ...     _ = spmv(A, np.ones(3), out=y, check_input=False)
    >>> y
    array([3., 3.])
    >>> bad = sp.csr_array((np.ones(1), np.array([5]), np.array([0, 1])), shape=(1, 3))
    >>> check_csr(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: A.indices[0] = 5 is out of range for 3 columns ...
    """
    if not isinstance(index_dtype, str) or index_dtype not in ("smallest", "keep"):
        raise ValueError(f"index_dtype must be 'smallest' or 'keep', got {index_dtype!r}")
    return _check_csr(A, name, dtype=dtype, check_structure=check_structure,
                      narrow=index_dtype == "smallest")


def _prepare(A, other_dtype, check_input_):
    """Validated CSR (or a pre-validated CSR passed through) + working dtype."""
    if isinstance(A, CSR):
        dtype = result_dtype(A.data.dtype, other_dtype)
        if A.data.dtype != dtype:
            A = CSR(A.data.astype(dtype), A.indices, A.indptr, A.shape)
        return A, dtype
    data = A.data if sp.issparse(A) else None  # check_csr says what is wrong with it
    a_dtype = data.dtype if isinstance(data, np.ndarray) and data.dtype in FLOAT_DTYPES \
        else np.float64
    dtype = result_dtype(a_dtype, other_dtype)
    return _check_csr(A, "A", dtype=dtype, check_structure=check_input_), dtype


def _aligned_copy(X):
    Y = empty_aligned(X.shape, X.dtype)
    np.copyto(Y, X)
    return Y


def _trusted(A, out, check_input):
    """True for the caller-validated fast path: a :class:`CSR` from :func:`check_csr`, an
    ``out`` array, and ``check_input=False``. Only the compiled code's dtype and
    contiguity checks remain; shapes are the caller's responsibility."""
    return not check_input and out is not None and type(A) is CSR


def _spmv_blocks(kernel, A, x, out, nt):
    bounds = _row_blocks(A.indptr, A.shape[0], 1, _SPMV_BLOCK, nt)
    if bounds is None:
        return kernel(A.data, A.indices, A.indptr, x, out, nt)
    for r0, r1, k0, k1, ptr in _blocks(bounds, A.indptr, nt):
        kernel(A.data[k0:k1], A.indices[k0:k1], ptr, x, out[r0:r1], nt)


def _spmm_blocks(kernel, A, X, out, bias, relu, nt):
    bounds = _row_blocks(A.indptr, A.shape[0], out.shape[1], _SPMM_BLOCK, nt)
    if bounds is None:
        return kernel(A.data, A.indices, A.indptr, X, out, bias, relu, nt)
    for r0, r1, k0, k1, ptr in _blocks(bounds, A.indptr, nt):
        kernel(A.data[k0:k1], A.indices[k0:k1], ptr, X, out[r0:r1],
               bias[r0:r1] if bias.shape[0] else bias, relu, nt)


def _sddmm_blocks(kernel, P, U, V, out, nt):
    bounds = _row_blocks(P.indptr, P.shape[0], U.shape[1], _SDDMM_BLOCK, nt)
    if bounds is None:
        return kernel(P.indices, P.indptr, U, V, out, nt)
    for r0, r1, k0, k1, ptr in _blocks(bounds, P.indptr, nt):
        kernel(P.indices[k0:k1], ptr, U[r0:r1], V, out[k0:k1], nt)


def _float_dtype(x):
    x = _as_ndarray(x, "x")
    return x, (x.dtype if x.dtype in FLOAT_DTYPES else np.float64)


def spmv(A, x, out=None, *, check_input=True):
    """Sparse matrix times vector, ``y = A @ x``.

    Parameters
    ----------
    A : scipy.sparse CSR array or matrix, shape (n_rows, n_cols)
    x : array_like, shape (n_cols,)
    out : ndarray, shape (n_rows,), optional
        Where to write the result; may overlap ``x`` (then via a temporary).
    check_input : bool, default True
        Validate the CSR structure. Pass False only for a matrix you have
        already validated: a malformed one would be read out of bounds. With
        ``check_input=False``, an ``A`` returned by :func:`check_csr` and an
        ``out=`` array, every
        other check is skipped too (the fast path of training loops): operands
        must then be C-contiguous, of ``A``'s dtype and of matching shapes.

    Returns
    -------
    y : ndarray, shape (n_rows,)

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from fastprox.sparse import spmv
    >>> A = sp.csr_array(np.array([[1.0, 0, 2], [0, 3, 0]]))
    >>> spmv(A, np.array([1.0, 1.0, 1.0]))
    array([3., 3.])
    """
    if _trusted(A, out, check_input):
        kernel = specialised(sparse_fast.spmv_impl, A.data.dtype, A.indices.dtype)
        kernel(A.data, A.indices, A.indptr, x, out, get_num_threads())
        return out
    x, xd = _float_dtype(x)
    A, dtype = _prepare(A, xd, check_input)
    x = _check_vector(x, A.shape[1], dtype, "x", "n_cols")
    res, out = _result(out, (A.shape[0],), dtype, x, A.data, A.indices, A.indptr)
    kernel = specialised(sparse_fast.spmv_impl, dtype, A.indices.dtype)
    _spmv_blocks(kernel, A, x, res, get_num_threads())
    if res is not out:
        np.copyto(out, res)
    return out


def _check_vector(x, n, dtype, name, what):
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {x.shape}")
    if x.shape[0] != n:
        raise ValueError(f"{name} has length {x.shape[0]}, but A has {what} = {n}")
    return _check_dense(x, name, dtype)


def _n_parts(A):
    """Number of row parts for spmv_t: a function of the matrix only (determinism)."""
    n_rows, n_cols = A.shape
    parts = min(32, max(1, (A.nnz + n_rows) // 65536))
    # cap the extra buffers at about the size of the matrix values (or 1M entries)
    cap = 1 + max(A.nnz, 1 << 20) // max(n_cols, 1)
    return max(1, min(parts, cap))


def spmv_t(A, x, out=None, *, check_input=True):
    """Transposed product ``y = A.T @ x``, parallel and deterministic.

    Rows of ``A`` are split into a number of parts that depends on the matrix
    only (not on the thread count); each part accumulates into its own buffer
    of length n_cols and the buffers are summed in a fixed order, so the
    result is bit-identical with any number of threads. Memory cost: up to
    31 temporary vectors of length n_cols, capped at about the size of the
    matrix values.

    Parameters
    ----------
    A : scipy.sparse CSR array or matrix, shape (n_rows, n_cols)
    x : array_like, shape (n_rows,)
    out : ndarray, shape (n_cols,), optional
        Where to write ``A.T @ x``; may overlap ``x`` (then via a temporary).
    check_input : bool, default True
        See :func:`spmv`.

    Returns
    -------
    y : ndarray, shape (n_cols,)
        ``A.T @ x``, bit-identical for any thread count.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from fastprox.sparse import spmv_t
    >>> A = sp.csr_array(np.array([[1.0, 0, 2], [0, 3, 0]]))
    >>> spmv_t(A, np.array([1.0, 1.0]))
    array([1., 3., 2.])
    """
    x, xd = _float_dtype(x)
    A, dtype = _prepare(A, xd, check_input)
    x = _check_vector(x, A.shape[0], dtype, "x", "n_rows")
    res, out = _result(out, (A.shape[1],), dtype, x, A.data, A.indices, A.indptr)
    parts = _n_parts(A)
    buffers = np.empty((parts - 1, A.shape[1]), dtype=dtype)
    kernel = specialised(sparse_fast.spmv_t_impl, dtype, A.indices.dtype)
    kernel(A.data, A.indices, A.indptr, x, res, buffers, get_num_threads())
    if res is not out:
        np.copyto(out, res)
    return out


def spmm(A, X, out=None, *, bias=None, relu=False, check_input=True):
    """Sparse times dense matrix, ``Y = A @ X`` (the forward pass of a pruned layer).

    With ``bias`` and ``relu`` it computes a whole pruned layer,
    ``Y = max(A @ X + bias[:, None], 0)``, in the same pass: each output
    starts from its bias and the ReLU is applied as the tile leaves the
    registers, instead of two more passes over ``Y``.

    Parameters
    ----------
    A : scipy.sparse CSR array or matrix, shape (n_out, n_in)
        The pruned weights, one row per output unit.
    X : array_like, shape (n_in, batch)
        The dense operand with the *batch along the rows*: each row ``X[j]``
        is contiguous, so the inner loop streams batch values through vector
        registers. Activations kept as (batch, n_in) can be passed as
        ``H.T`` (a copy is then made to get this layout; keep activations
        transposed to avoid it).
    out : ndarray, shape (n_out, batch), optional
        C-contiguous; may overlap ``X`` or ``bias`` (then via a temporary).
    bias : array_like, shape (n_out,), optional
        Added to every column of the product.
    relu : bool, default False
        Apply ``max(., 0)`` to the result (NaN stays NaN).
    check_input : bool, default True
        See :func:`spmv`; on the trusted path ``bias`` must be None or a
        C-contiguous array of ``A``'s dtype.

    Returns
    -------
    Y : ndarray, shape (n_out, batch)

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from fastprox.sparse import spmm
    >>> A = sp.csr_array(np.array([[1.0, 0, 2], [0, 3, 0]]))
    >>> spmm(A, np.ones((3, 2)), bias=np.array([-4.0, 0.0]), relu=True)
    array([[0., 0.],
           [3., 3.]])
    """
    if _trusted(A, out, check_input):
        specialised(sparse_fast.spmm_impl, A.data.dtype, A.indices.dtype)(
            A.data, A.indices, A.indptr, X, out, _NO_BIAS[A.data.dtype] if bias is None else bias,
            bool(relu), get_num_threads())
        return out
    X, xd = _float_dtype(X)
    A, dtype = _prepare(A, xd, check_input)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_in, batch), got shape {X.shape}; use spmv for a vector")
    if X.shape[0] != A.shape[1]:
        raise ValueError(f"X has {X.shape[0]} rows but A has n_cols = {A.shape[1]}; X must be "
                         "(n_in, batch)")
    X = _check_dense(X, "X", dtype)
    if X.ctypes.data % 64 and X.shape[1] * X.itemsize % 64 == 0 and X.shape[1] >= 128 \
            and A.nnz >= 8 * X.shape[0]:
        # Vector-aligned rows make every tile load hit one cache line; the copy
        # (n_in x batch) is cheap next to the product (nnz x batch) once rows
        # hold several nonzeros per column of X on average
        # (see docs/design/kernels-aligned-operand.md).
        X = _aligned_copy(X)
    res, out = _result(out, (A.shape[0], X.shape[1]), dtype, X, A.data, A.indices, A.indptr)
    if bias is None:
        bias = _NO_BIAS[np.dtype(dtype)]
    else:
        bias = _check_dense(bias, "bias", dtype, shape=(A.shape[0],))
        if res is out and overlaps(out, bias):
            res = np.empty_like(out)
    kernel = specialised(sparse_fast.spmm_impl, dtype, A.indices.dtype)
    _spmm_blocks(kernel, A, X, res, bias, bool(relu), get_num_threads())
    if res is not out:
        np.copyto(out, res)
    return out


def sddmm(pattern, U, V, out=None, *, check_input=True):
    """Sampled dense-dense product: ``(U @ V.T)[i, j]`` at each nonzero ``(i, j)`` of ``pattern``.

    This is the weight gradient of a pruned layer: with the output errors
    ``U`` (n_out, batch) and the inputs ``V`` (n_in, batch), the gradient of
    the surviving weights costs ``2 * nnz * batch`` FLOPs instead of
    ``2 * n_out * n_in * batch`` for the dense ``U @ V.T``.

    Parameters
    ----------
    pattern : scipy.sparse CSR array or matrix, shape (m, n)
        Only its structure is used.
    U : array_like, shape (m, d)
    V : array_like, shape (n, d)
    out : ndarray, shape (nnz,), optional
        Where to write the sampled values; may overlap ``U``/``V`` (via a temporary).
    check_input : bool, default True
        See :func:`spmv`.

    Returns
    -------
    values : ndarray, shape (nnz,)
        Aligned with ``pattern.indices`` / ``pattern.data``; build a matrix
        with ``csr_array((values, pattern.indices, pattern.indptr), pattern.shape)``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from fastprox.sparse import sddmm
    >>> P = sp.csr_array(np.array([[1.0, 0, 1], [0, 1, 0]]))
    >>> U, V = np.eye(2), np.array([[1.0, 2], [3, 4], [5, 6]])
    >>> sddmm(P, U, V)  # (U @ V.T)[0, 0], [0, 2], [1, 1]
    array([1., 5., 4.])
    """
    if _trusted(pattern, out, check_input):
        try:
            kernel = specialised(sparse_fast.sddmm_impl, pattern.indices.dtype, out.dtype)
        except KeyError:
            raise TypeError(f"out has dtype {out.dtype}; sddmm computes in float32 or "
                            "float64") from None
        kernel(pattern.indices, pattern.indptr, U, V, out, get_num_threads())
        return out
    U, ud = _float_dtype(U)
    V = _as_ndarray(V, "V")
    vd = V.dtype if V.dtype in FLOAT_DTYPES else np.float64
    dtype = result_dtype(ud, vd)
    if isinstance(pattern, CSR):
        P = pattern
    else:
        P = _check_csr(pattern, "pattern", dtype=None, check_structure=check_input)
    m, n = P.shape
    if U.ndim != 2 or V.ndim != 2:
        raise ValueError(f"U and V must be 2-D, got shapes {U.shape} and {V.shape}")
    if U.shape[0] != m or V.shape[0] != n or U.shape[1] != V.shape[1]:
        raise ValueError(f"U must be ({m}, d) and V ({n}, d) for a pattern of shape {P.shape}; "
                         f"got U {U.shape} and V {V.shape}")
    U = _check_dense(U, "U", dtype)
    V = _check_dense(V, "V", dtype)
    res, out = _result(out, (P.nnz,), dtype, U, V, P.indices, P.indptr)
    kernel = specialised(sparse_fast.sddmm_impl, P.indices.dtype, dtype)
    _sddmm_blocks(kernel, P, U, V, res, get_num_threads())
    if res is not out:
        np.copyto(out, res)
    return out
