"""The quadratic datafit's view of the design matrix: column statistics, pool, working sets.

The coordinate-descent solver (``_cd_solver.py``) minimises
``1/2 ||yc - Xc w||^2 + g(w)`` where ``Xc = X - 1 mu^T`` is ``X`` centred
by its column means ``mu`` when there is an intercept. :class:`QuadraticDesign`
gives it ``Xc.T @ r`` (full, or for a few columns), residuals, and
working-set views whose ``epoch`` runs one compiled CD pass (``cd_fast``):

- dense ``X``: :class:`DenseColumnPool` keeps contiguous, centred copies of
  the columns that working sets have held (never a copy of all of ``X``);
- sparse ``X``: CSC, centred implicitly (the kernel residual is ``yc - X w``
  and the centred one ``R + mu @ w``), never densified.

Sample weights (:func:`weighted_problem`; ``sw >= 0`` rescaled to sum to
``n``, scikit-learn's convention) turn the problem into
``1/2 ||v * yc - diag(v) Xc w||^2`` with ``v = sqrt(sw)`` and weighted
means, without a copy of ``X``: dense, the pool's copies are scaled and the
full gradient streams ``X`` against ``v * R``; sparse, ``data`` is scaled by
``v[row]`` and the centring stays implicit with ``v`` where the unweighted
design has ones (see ``QuadraticDesign``).
"""
import numpy as np
import scipy.sparse as sp
from sklearn.utils import assert_all_finite

from .._kernels import cd_fast
from .._threads import get_num_threads

__all__ = ["QuadraticDesign", "DenseColumnPool", "weighted_problem"]

_STREAM_THREADS = 1  # see docs/design/solver-blas-threads.md


def _stream_threads():
    """Threads for the passes that stream all of dense ``X`` (gradient, column stats).

    They are memory-bound and one core nearly saturates the bandwidth (see
    docs/design/solver-blas-threads.md).
    """
    return min(get_num_threads(), _STREAM_THREADS)


class QuadraticDesign:
    """The design matrix with the column operations the solver needs.

    - dense ``X`` is kept as given (C or Fortran order); the CD epochs run
      on a pool of contiguous, centred copies of the working-set columns
      (:class:`DenseColumnPool`) and the full gradient ``Xc.T @ R = X.T @ R -
      mu * sum(R)`` streams ``X`` in its own order.
    - sparse ``X`` is stored CSC and never densified; with an intercept it is
      centred *implicitly*: the kernel residual is ``yc - X w`` (uncentred
      ``X``) and the centred residual ``R + X_mean @ w`` (see ``_cd_fast.pyx``).

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (n_samples, n_features)
        float32 or float64, already validated.
    fit_intercept : bool
    y : ndarray, shape (n_samples,), optional
        A (centred) target whose ``Xc.T @ y`` the solver will need first:
        for dense ``X`` it is computed in the same pass as the column
        statistics (see ``first_grad``).
    check_finite : bool, default=False
        Raise ``ValueError`` if dense ``X`` holds NaN or inf, found from
        the column statistics (a NaN or inf makes its column's sum of
        squares non-finite; only then is ``X`` checked element by element).
    sample_weight : ndarray of shape (n_samples,), optional
        float64, ``>= 0``, summing to ``n_samples`` (see
        :func:`weighted_problem`). The design is then ``Xs = diag(v) X``
        (``v = sqrt(sw)``; sparse: a scaled copy of ``data``, same pattern;
        dense: ``X`` as given, the pool's columns and the streamed gradient
        scaled) centred by the weighted means ``mu``: column ``j`` is
        ``Xs_j - mu_j v``. Where the unweighted design uses ones, this one
        uses ``v``: the centred residual is ``R + (mu @ w) v``, the gradient
        ``Xs_j @ R - mu_j (v @ R)`` (``Xs_j @ v = W mu_j`` cancels the
        rest), ``sum_R = v @ R`` moves by ``dw W mu_j`` and the squared
        norms are ``sum(sw x_j^2) - W mu_j^2``, with ``W = sum(sw) = n``:
        the unweighted kernels run unchanged. The targets given to the
        solver are ``v * (y - y_mean)``.
    """

    def __init__(self, X, fit_intercept, y=None, check_finite=False, sample_weight=None):
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        self.center = bool(fit_intercept)
        self.v = None  # sqrt(sample_weight) (float64) of a weighted design
        if self.sparse:
            X = sp.csc_matrix(X)
            X.sum_duplicates()
            data = X.data
            if sample_weight is not None:
                self.v = np.sqrt(np.asarray(sample_weight, dtype=np.float64))
                data = (data * self.v[X.indices]).astype(self.dtype)
            self.data = np.ascontiguousarray(data)
            indptr, indices = X.indptr, X.indices
            if indices.dtype != indptr.dtype:
                indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
            self.indptr = np.ascontiguousarray(indptr)
            self.indices = np.ascontiguousarray(indices)
            sums = np.empty(self.n_features)
            sq = np.empty(self.n_features)
            cd_fast.col_stats_sparse(self.data, self.indptr, sums, sq)
            n_eff = self.n_samples
            if self.v is not None:
                # sum_i sw_i x_ij = Xs_j @ v (float64 from the scaled data)
                Xs = sp.csc_matrix((self.data, self.indices, self.indptr), shape=X.shape)
                sums = np.asarray(Xs.T @ self.v, dtype=np.float64)
                n_eff = float(np.sum(sample_weight))
            mu = sums / n_eff if fit_intercept and n_eff > 0 else np.zeros(self.n_features)
        else:
            # X is kept as given (C or F order, never copied whole): the CD
            # epochs read a pool of centred working-set columns, the full
            # gradient streams X in its own order (see DenseColumnPool)
            self.X = X
            if sample_weight is not None:
                sw = np.asarray(sample_weight, dtype=np.float64)
                self.v = np.sqrt(sw)
                with np.errstate(invalid="ignore", over="ignore"):  # NaN / inf: checked below
                    mu, sq, xty = _weighted_dense_stats(X, sw, self.center,
                                                        None if y is None else self.v * y)
                sums = mu  # for the finiteness check
            else:
                sums = np.empty(self.n_features)
                sq = np.empty(self.n_features)
                xty = None if y is None else np.empty(self.n_features)
                cd_fast.col_stats_dense(X, self.center, sums, sq, _stream_threads(),
                                        None if y is None else y.astype(np.float64), xty)
            if check_finite and not (np.isfinite(sq).all() and np.isfinite(sums).all()):
                assert_all_finite(X, input_name="X")  # scikit-learn's message
            if self.v is None:
                if fit_intercept and self.n_samples:
                    mu = X[0].astype(np.float64) + sums / self.n_samples
                    sq -= sums ** 2 / self.n_samples
                else:
                    mu = np.zeros(self.n_features)
        self.X_mean = mu.astype(self.dtype)
        # a constant column, once centred, is rounding noise: its norm is set
        # to zero so that the solver never picks it
        if self.sparse:
            norms2 = np.maximum(sq - n_eff * mu ** 2, 0.0)
            norms2[norms2 <= 1e-10 * sq] = 0.0
        else:
            norms2 = np.maximum(sq, 0.0)
            tiny = self.n_samples * (10 * np.finfo(self.dtype).eps * np.abs(mu)) ** 2
            norms2[norms2 <= tiny] = 0.0
        self.norms2 = norms2
        self.norms = np.sqrt(norms2)
        if self.sparse:
            self.norms2_k = norms2.astype(self.dtype)  # what the kernels read
        else:
            self.pool = DenseColumnPool(X, self.X_mean, norms2, self.center, self.v)
        self._first = None
        if not self.sparse and y is not None:
            if self.center:  # as in xt_r
                xty -= self.X_mean.astype(np.float64) * self.sum_r(y)
            self._first = (y.copy(), xty)

    def first_grad(self, R):
        """``xt_r(R)`` if ``R`` is the ``y`` given at construction (else None)."""
        if self._first is not None and np.array_equal(R, self._first[0]):
            return self._first[1].copy()
        return None

    def sum_r(self, R):
        """The kernel's ``sum_R``: ``sum(R)``, or ``v @ R`` for a weighted sparse design."""
        if self.v is None:
            return float(R.sum(dtype=np.float64))
        return float(self.v @ R)

    def _scaled(self, R):
        """``v * R`` in the design's dtype (``R`` unweighted): ``Xs.T @ R = X.T @ (v * R)``."""
        return R if self.v is None else (self.v * R).astype(self.dtype)

    def residual(self, w, R):
        """Residual of the centred problem, float64 (``w`` zero outside ``R``'s support)."""
        r = R.astype(np.float64)
        if self.sparse and self.center:
            shift = float(self.X_mean.astype(np.float64) @ w)
            if self.v is None:
                r += shift
            else:
                r += shift * self.v
        return r

    def init_residual(self, yc, w):
        R = yc.copy()
        nz = np.flatnonzero(w)
        if nz.size:
            sub = self.working_set(nz.astype(np.intp), w)
            sub.axpy(-w[nz].astype(self.dtype), R)
        return R

    def xt_r(self, R):
        """Centred ``X.T @ r`` (float64) from the kernel residual ``R``."""
        if self.sparse:
            out = np.empty(self.n_features, dtype=self.dtype)
            cd_fast.dot_cols_sparse(self.data, self.indices, self.indptr,
                                np.arange(self.n_features, dtype=np.intp), R, out,
                                get_num_threads())
        else:
            out = np.empty(self.n_features, dtype=self.dtype)
            cd_fast.xt_r_dense(self.X, self._scaled(R), out, _stream_threads())
        out = out.astype(np.float64)
        if self.center:
            # Xc.T R = X.T R - mu sum(R): the centred columns sum to zero. For
            # dense X, R is the centred residual, so sum(R) is ~0 and this
            # only removes rounding
            out -= self.X_mean.astype(np.float64) * self.sum_r(R)
        return out

    def xt_r_cols(self, R, cols):
        """Centred ``X[:, cols].T @ r`` (float64) from the kernel residual ``R``; few columns."""
        if self.sparse:
            out = np.empty(len(cols), dtype=self.dtype)
            cd_fast.dot_cols_sparse(self.data, self.indices, self.indptr,
                                np.ascontiguousarray(cols, dtype=np.intp), R, out, 1)
        else:
            out = self.X[:, cols].T @ self._scaled(R)
        out = out.astype(np.float64)
        if self.center:
            out -= self.X_mean[cols].astype(np.float64) * self.sum_r(R)
        return out

    def working_set(self, ws, w, reserve=False):
        """Column operations restricted to ``ws`` (``w``: the full coefficients).

        ``reserve``: the working set will keep growing (a dense solution), so
        a dense column pool that must grow is sized for every feature (the
        memory is touched only as columns arrive) rather than doubled.
        """
        if self.sparse:
            return QuadraticSparseWorkingSet(self, ws, w)
        return QuadraticDenseWorkingSet(self, ws, w, reserve)


class DenseColumnPool:
    """Contiguous (Fortran-ordered) copies of the columns the CD epochs touch.

    Columns are copied, centred, the first time a working set holds them
    and kept for the rest of the fit (working sets mostly grow), so a fit
    copies a few times its final working set rather than the whole of ``X``
    (see docs/design/solver-dense-pool.md). A Fortran-ordered ``X`` without
    intercept is used in place. The pool holds no reference to its design:
    in a reference cycle, tens of megabytes waited for the garbage collector
    after each fit.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    mu : ndarray of shape (n_features,)
        Column means subtracted from the copies (zeros without intercept).
    norms2 : ndarray of shape (n_features,)
        Squared norms of the centred columns (zero: a constant column).
    center : bool
    v : ndarray of shape (n_samples,), optional
        ``sqrt(sample_weight)``: the copies are ``v * (X_j - mu_j)``.
    """

    def __init__(self, X, mu, norms2, center, v=None):
        self.X, self.mu, self.x_norms2 = X, mu, norms2
        self.v = None if v is None else v.astype(X.dtype)[:, None]
        self.in_place = X.flags.f_contiguous and not center and v is None
        if self.in_place:
            self.block = X
            self.slot = np.arange(X.shape[1], dtype=np.intp)
            self.norms2 = norms2.astype(X.dtype)
        else:
            self.block = np.empty((X.shape[0], 0), dtype=X.dtype, order="F")
            self.slot = np.full(X.shape[1], -1, dtype=np.intp)
            self.norms2 = np.empty(0, dtype=X.dtype)
        self.size = 0

    def slots(self, ws, reserve=False):
        """Pool columns of features ``ws``, copying in those not there yet."""
        if self.in_place:
            return ws
        X = self.X
        (n, p), dtype = X.shape, X.dtype
        new = ws[self.slot[ws] < 0]
        if new.size:
            need = self.size + new.size
            if need > self.block.shape[1]:
                # a regrowth copies the whole pool into fresh memory: a pool
                # that keeps growing is sized for every feature at once
                # (see docs/design/solver-dense-pool.md)
                cap = p if reserve else min(p, max(need, 2 * self.block.shape[1], 16))
                block = np.empty((n, cap), dtype=dtype, order="F")
                block[:, :self.size] = self.block[:, :self.size]
                norms2 = np.empty(cap, dtype=dtype)
                norms2[:self.size] = self.norms2[:self.size]
                self.block, self.norms2 = block, norms2
            sq = np.empty(new.size)
            # one thread (see docs/design/solver-gather.md)
            cd_fast.gather_cols_dense(X, new, self.mu, self.block,
                                  np.arange(self.size, need, dtype=np.intp), sq,
                                  _stream_threads())
            if self.v is not None:
                block = self.block[:, self.size:need]  # contiguous columns (F order)
                block *= self.v
                sq = np.einsum("ij,ij->j", block, block, dtype=np.float64)
            # constant columns stay out of the epochs (zero norm: skipped)
            sq[self.x_norms2[new] == 0] = 0.0
            self.norms2[self.size:need] = sq
            self.slot[new] = np.arange(self.size, need)
            self.size = need
        return self.slot[ws]


# shrinking (docs/design/solver-dense-f32.md): after a full epoch, columns at zero with
# |X_j @ R| < _SHRINK * l1 sit out _SHRUNK_EPOCHS epochs (the gap checks read them all)
_SHRINK, _SHRUNK_EPOCHS = 0.8, 3


class QuadraticDenseWorkingSet:
    """Working-set view of the dense design through its pool (``reserve``: shrinking)."""

    def __init__(self, design, ws, w, reserve=False):
        self.pool = design.pool
        self.cols = self.pool.slots(ws, reserve)
        self.w = np.zeros(self.pool.block.shape[1], dtype=design.dtype)
        self.scores = np.empty(len(ws), dtype=design.dtype) if reserve else None
        self.shrunk, self.left = self.cols, 0

    def epoch(self, w_ws, R, sum_R, l1, l2, positive):
        pool, w = self.pool, self.w
        w[self.cols] = w_ws
        if self.left > 0:
            self.left -= 1
            dw = cd_fast.cd_epoch_dense(pool.block, w, R, pool.norms2, self.shrunk, l1, l2,
                                        positive)
            if dw != 0:
                w_ws[:] = w[self.cols]
                return dw
            self.left = 0  # converged on the shrunk set: a full epoch says if it is done
        dw = cd_fast.cd_epoch_dense(pool.block, w, R, pool.norms2, self.cols, l1, l2, positive,
                                    self.scores)
        w_ws[:] = w[self.cols]
        if self.scores is not None:
            keep = self.scores >= _SHRINK * l1
            if 10 * np.count_nonzero(keep) < 9 * keep.size:  # a tenth of the columns out
                self.shrunk, self.left = self.cols[keep], _SHRUNK_EPOCHS
        return dw

    def xt_r(self, R):
        out = np.empty(len(self.cols), dtype=R.dtype)
        cd_fast.dot_cols_dense(self.pool.block, self.cols, R, out)
        return out.astype(np.float64)

    def axpy(self, coef, R, sum_R=None):
        cd_fast.axpy_cols_dense(self.pool.block, self.cols,
                            np.ascontiguousarray(coef, dtype=R.dtype), R)

    def residual(self, w_ws, R):
        return R.astype(np.float64)


class QuadraticSparseWorkingSet:
    """Working-set view of the full CSC matrix (no copy); ``w`` is the full vector."""

    def __init__(self, design, ws, w):
        self.d = design
        self.ws = ws
        self.w = w
        self.norms2 = design.norms2_k
        self.mu_ws = design.X_mean[ws].astype(np.float64)

    def epoch(self, w_ws, R, sum_R, l1, l2, positive):
        d = self.d
        self.w[self.ws] = w_ws
        dw = cd_fast.cd_epoch_sparse(d.data, d.indices, d.indptr, d.X_mean, d.center, self.w, R,
                                 sum_R, self.norms2, self.ws, l1, l2, positive)
        w_ws[:] = self.w[self.ws]
        return dw

    def xt_r(self, R):
        d = self.d
        out = np.empty(len(self.ws), dtype=R.dtype)
        cd_fast.dot_cols_sparse(d.data, d.indices, d.indptr, self.ws, R, out, get_num_threads())
        out = out.astype(np.float64)
        if d.center:
            out -= self.mu_ws * d.sum_r(R)
        return out

    def axpy(self, coef, R, sum_R=None):
        d = self.d
        coef = np.ascontiguousarray(coef, dtype=R.dtype)
        cd_fast.axpy_cols_sparse(d.data, d.indices, d.indptr, self.ws, coef, R)
        if sum_R is not None:
            sum_R[0] = d.sum_r(R)

    def residual(self, w_ws, R):
        r = R.astype(np.float64)
        if self.d.center:
            shift = float(self.mu_ws @ w_ws)  # w is zero outside the working set
            if self.d.v is None:
                r += shift
            else:
                r += shift * self.d.v
        return r


def weighted_problem(X, Y, sample_weight, fit_intercept, check_finite=False):
    """The design and targets of a weighted least-squares problem.

    ``1/2 sum_i sw_i (y_i - b - x_i w)^2`` with the intercept ``b`` profiled
    out is ``1/2 ||v * (y - y_mean) - diag(v) (X - X_mean) w||^2`` (``v =
    sqrt(sw)``, weighted means); scikit-learn's ``_preprocess_data`` +
    ``_rescale_data``. Dense ``X`` is centred and scaled in a copy (an
    ``X`` is not copied (``QuadraticDesign`` with ``sample_weight``).

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,)
        float64, ``>= 0``, summing to ``n_samples``.
    fit_intercept : bool
    check_finite : bool, default=False
        See :class:`QuadraticDesign`.

    Returns
    -------
    design : QuadraticDesign
    Yc : ndarray of shape (n_samples, n_targets)
        ``v * (Y - y_mean)``, Fortran-ordered, ``X``'s dtype.
    X_mean : ndarray of shape (n_features,)
        Weighted column means (zeros without intercept), float64.
    y_mean : ndarray of shape (n_targets,)
        Weighted target means (zeros without intercept), float64.
    """
    sw = np.asarray(sample_weight, dtype=np.float64)
    v = np.sqrt(sw)[:, None]
    if fit_intercept:
        y_mean = np.average(np.asarray(Y, dtype=np.float64), axis=0, weights=sw)
    else:
        y_mean = np.zeros(Y.shape[1])
    Yc = np.asfortranarray((Y - y_mean) * v, dtype=X.dtype)
    if sp.issparse(X):
        design = QuadraticDesign(X, fit_intercept, check_finite=check_finite,
                                 sample_weight=sw)
        return design, Yc, design.X_mean.astype(np.float64), y_mean
    design = QuadraticDesign(X, fit_intercept, y=Yc[:, 0] if Yc.shape[1] else None,
                             check_finite=check_finite, sample_weight=sw)
    return design, Yc, design.X_mean.astype(np.float64), y_mean


def _weighted_dense_stats(X, sw, center, yv):
    """Weighted column means, centred weighted sums of squares and ``X.T @ yv`` of dense ``X``.

    One pass over ``X`` in blocks of rows shifted by the first row (as
    ``cd_fast.col_stats_dense``, for accuracy): each block's products in
    ``X``'s dtype (BLAS), summed over blocks in float64. ``mu`` is zero and
    the sums of squares uncentred without ``center``; ``xty`` is None
    without ``yv``.
    """
    n, p = X.shape
    dtype = X.dtype
    x0 = X[0].copy() if center and n else np.zeros(p, dtype=dtype)
    s, q = np.zeros(p), np.zeros(p)
    t = None if yv is None else np.zeros(p)
    sw_d = sw.astype(dtype)
    yv_d = None if yv is None else yv.astype(dtype)
    step = max(1, (1 << 17) // max(p, 1))  # blocks of about 1 MB (float64), in cache
    for lo in range(0, n, step):
        T = X[lo:lo + step] - x0
        wb = sw_d[lo:lo + step]
        if t is not None:
            t += yv_d[lo:lo + step] @ T
        if center:
            s += wb @ T
        T *= T
        q += wb @ T
    W = float(sw.sum())
    x0 = x0.astype(np.float64)
    d = s / W if center and W > 0 else s
    mu = x0 + d if center else s
    sq = q - W * d ** 2 if center else q
    xty = None if t is None else t + x0 * float(yv.sum())
    return mu, sq, xty
