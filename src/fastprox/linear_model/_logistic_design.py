"""The logistic solvers' view of the design matrix: dense Fortran-ordered or CSC, working sets.

``LogisticDesign.xt`` gives the full gradient ``R @ X`` for all classes at
once; ``subset`` gathers the working-set columns once per outer iteration
into a compact block whose methods run the compiled Newton-step kernels of
``logistic_fast`` (coordinate-descent sweeps on the quadratic model,
Hessian diagonals, ``X_ws.T @ r`` and ``X_ws @ delta``).
"""
import numpy as np
import scipy.sparse as sp

from .._kernels import logistic_fast
from .._threads import get_num_threads

__all__ = ["LogisticDesign", "csc_arrays"]


def csc_arrays(X):
    """Sparse ``X`` as CSC without duplicates, and its ``(data, indices, indptr)``
    as contiguous arrays of one index dtype (what the ``*_sparse`` kernels take)."""
    X = sp.csc_matrix(X)
    X.sum_duplicates()
    indptr, indices = X.indptr, X.indices
    if indices.dtype != indptr.dtype:
        indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
    return X, (np.ascontiguousarray(X.data), np.ascontiguousarray(indices),
               np.ascontiguousarray(indptr))


class LogisticDesign:
    """``X`` as the solver reads it: dense Fortran-ordered or CSC.

    The dtype (float32 or float64) is kept; dense ``X`` is copied once unless
    it is already Fortran-ordered, sparse ``X`` is converted to CSC (same
    dtype, never densified).
    """

    def __init__(self, X):
        self.n_samples, self.n_features = X.shape
        self.sparse = sp.issparse(X)
        if self.sparse:
            self.X, (self.data, self.indices, self.indptr) = csc_arrays(X)
        elif X.flags.f_contiguous:
            self.X = X
        else:
            # one Fortran copy: working-set columns are then contiguous runs
            # (gathered from C order, every outer iteration reads all of X)
            self.X = np.empty(X.shape, dtype=X.dtype, order="F")
            logistic_fast.to_fortran(np.ascontiguousarray(X), self.X, get_num_threads())
            X = self.X
        self.dtype = X.dtype

    def xt(self, R):
        """``R @ X`` for ``R`` of shape ``(K, n)``, float64 result ``(K, p)``."""
        out = np.empty((R.shape[0], self.n_features))
        if self.sparse:
            logistic_fast.xt_r_sparse(self.data, self.indices, self.indptr, R, out,
                                      get_num_threads())
        else:
            logistic_fast.xt_r_dense(self.X, R, out, get_num_threads())
        return out

    def subset(self, ws, center=None):
        """The columns ``ws`` (sorted ``intp`` array) as a working set.

        With ``center`` (the sample weights), dense columns are stored minus
        their weighted means (kept in ``means``; zeros otherwise): the
        multinomial Newton step moves the intercepts along, which keeps its
        coordinate descent well conditioned on uncentred features. Weighted
        means make the iterates those of the same data with rows repeated.
        """
        if self.sparse:
            return LogisticSparseWorkingSet(self.X[:, ws], self.indices.dtype)
        if center is None and ws.size == self.n_features and ws.size \
                and ws[0] == 0 and ws[-1] == ws.size - 1:
            # every column (sorted, unique): X's Fortran order is the block's C
            # order, read in place (only centring writes to the block)
            return LogisticDenseWorkingSet(self.X.T)
        Xws = np.empty((ws.size, self.n_samples), dtype=self.dtype)
        logistic_fast.gather_cols_dense(self.X, ws, Xws)
        return LogisticDenseWorkingSet(Xws, center)


class LogisticDenseWorkingSet:
    """Working-set columns gathered into a C-ordered ``(m, n)`` block (optionally centred)."""

    def __init__(self, Xws, center=None):
        self.Xws = Xws
        self.size = Xws.shape[0]
        self.means = np.zeros(self.size)
        if center is not None and Xws.shape[1] and center.sum() > 0:
            self.means = self.dot(np.ascontiguousarray(center, dtype=np.float64))
            self.means /= center.sum()
            Xws -= self.means.astype(Xws.dtype)[:, None]
            self.means = self.means.astype(Xws.dtype).astype(np.float64)

    def mn_epoch(self, active, *args):
        return logistic_fast.mn_cd_epoch(self.Xws, active, *args)

    def dot_multi(self, R):
        """``R @ Xws.T``, shape ``(K, m)``: all classes in one pass."""
        out = np.empty((R.shape[0], self.size))
        logistic_fast.xt_r_dense(self.Xws.T, R, out, get_num_threads())
        return out

    def hdiag_multi(self, Hw):
        out = np.empty((Hw.shape[0], self.size))
        logistic_fast.ws_hdiag_multi(self.Xws, Hw, out, get_num_threads())
        return out

    def dot(self, r):
        out = np.empty(self.size)
        logistic_fast.ws_dot(self.Xws, r, out)
        return out

    def axpy(self, coef, out):
        logistic_fast.ws_axpy(self.Xws, coef, out)

    def hdiag(self, h):
        out = np.empty(self.size)
        logistic_fast.ws_hdiag(self.Xws, h, out)
        return out

    def epoch(self, active, *args):
        return logistic_fast.block_cd_epoch(self.Xws, active, *args)

    def gram(self, cols, weights):
        """``[Xa diag(w) Xa.T for w in weights]``, ``Xa`` = columns ``cols`` and a row of ones."""
        Xa = np.ones((cols.size + 1, self.Xws.shape[1]))
        Xa[:-1] = self.Xws[cols]
        return [(Xa * w) @ Xa.T for w in weights]


class LogisticSparseWorkingSet:
    """Working-set columns as a CSC slice (never densified)."""

    def __init__(self, Xws, index_dtype):
        Xws.sum_duplicates()
        self.size = Xws.shape[1]
        self.data = np.ascontiguousarray(Xws.data)
        self.indices = np.ascontiguousarray(Xws.indices, dtype=index_dtype)
        self.indptr = np.ascontiguousarray(Xws.indptr, dtype=index_dtype)
        self._csc = (self.data, self.indices, self.indptr)
        self.means = np.zeros(self.size)
        self.X = Xws

    def mn_epoch(self, active, *args):
        return logistic_fast.mn_cd_epoch_sparse(*self._csc, active, *args)

    def dot_multi(self, R):
        out = np.empty((R.shape[0], self.size))
        logistic_fast.xt_r_sparse(*self._csc, R, out, get_num_threads())
        return out

    def hdiag_multi(self, Hw):
        out = np.empty((Hw.shape[0], self.size))
        logistic_fast.ws_hdiag_multi_sparse(*self._csc, Hw, out, get_num_threads())
        return out

    def dot(self, r):
        out = np.empty(self.size)
        logistic_fast.ws_dot_sparse(*self._csc, r, out)
        return out

    def axpy(self, coef, out):
        logistic_fast.ws_axpy_sparse(*self._csc, coef, out)

    def hdiag(self, h):
        out = np.empty(self.size)
        logistic_fast.ws_hdiag_sparse(*self._csc, h, out)
        return out

    def epoch(self, active, *args):
        return logistic_fast.block_cd_epoch_sparse(*self._csc, active, *args)

    def gram(self, cols, weights):
        """:meth:`LogisticDenseWorkingSet.gram`, sparse products, dense results."""
        Xa = sp.hstack([self.X[:, cols], np.ones((self.X.shape[0], 1))], format="csc",
                       dtype=np.float64)
        return [(Xa.T @ Xa.multiply(w[:, None]).tocsc()).toarray() for w in weights]
