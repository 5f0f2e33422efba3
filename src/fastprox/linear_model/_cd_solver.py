"""Working-set coordinate descent for the quadratic datafit + elastic-net penalty.

Orchestration only; the epochs run in the compiled ``_cd_fast`` kernels. The
algorithm follows the working-set + Anderson scheme of celer (Massias et al.,
"Celer: a fast solver for the Lasso with dual extrapolation", ICML 2018) and
skglm (Bertrand et al., "Beyond L1: faster and better sparse models with
skglm", NeurIPS 2022):

1. on the *full* problem, compute the gradient, the duality gap (the same
   formula and stopping rule as scikit-learn, so ``tol`` means the same) and
   each feature's KKT violation (distance of ``-grad_j`` to the
   subdifferential of the penalty);
2. keep the current support and add the worst violators, so the working set
   has ``max(min(100, p / 10), 2 * nnz, 2 * previous size)`` features;
3. solve the problem restricted to the working set with cyclic CD, every few
   epochs trying an Anderson-extrapolated point (kept only if it lowers the
   objective), until the working set's KKT violation drops below 0.1 times
   the full problem's;
4. repeat until the full duality gap is below ``tol * ||y||^2``.

Once the support holds a quarter of the features, or fills a working set
that grew, while an l2 term lets it outgrow ``n_samples`` (a dense
solution, e.g. an elastic net with a small alpha), doubling the working set
only adds rounds: the working set then takes every violator at once (every
feature, when that is half of them) and is solved to the full duality gap
itself, checked when the gap predicted from the steps since the last check
is below ``tol`` (see ``_full_gap_reached.due``).

Features outside the working set stay at zero, so each epoch touches only a
few columns of ``X`` while the full gradient costs one ``X.T @ R`` per outer
iteration -- fewer where it can be bounded from the last one
(``_bounded_grad``), and none for the first, computed in the design's pass
over ``X`` for its column statistics.

Choices measured on the issue-3 cases (tol 1e-6, 2-core Zen4 shared with
other jobs; ``bench/bench_lasso.py``):

- a full ``X.T @ R`` (80 MB) costs 15-20 working-set epochs, so outer rounds
  are what to save: starting at 100 features and at least doubling each
  round, with the inner KKT fraction at 0.1 instead of skglm's 0.3, took
  the correlated 1000 x 10000 case from 13 / 15 / 25 rounds (alpha_max / 10,
  100, 1000) to 6 / 9 / 16 and dense 1000 x 5000 from 5 to 3;
- that pass runs on one thread (see ``_stream_threads``) and dense ``X`` is
  never copied whole (see ``_DensePool``): together 0.31 -> 0.05 s on dense
  1000 x 5000 at alpha_max / 10;
- up to 32 features the problem is solved in one kernel call on the Gram
  form (``cd_solve_gram``), where Python overhead dominated;
- the switch to every feature (above) took the dense 1000 x 5000 elastic
  net (l1_ratio 0.5, 3638 of 5000 nonzeros at alpha_max / 100) from 55 to
  41 epochs and 7 to 6 rounds; at alpha_max / 10 (1639 nonzeros) taking
  only the violators (1639 features, not 5000) and scheduling the gap
  checks (3 epochs, not 5) cut the fit by 15-20 %. Switching at the first
  round instead lost on every other case, and working sets of every
  violator at alpha_max / 100 kept gaining features: 2-3 rounds of 11-16
  epochs against one of 16;
- what such dense fits cost on the bench machine (a 2-core VM) is mostly
  first touch of memory, not arithmetic: a fresh 2 MiB huge page took about
  5 ms, so the 40 MB column pool cost 30-180 ms depending on which pages the
  process had freed recently (scikit-learn's copy of ``X`` pays the same).
  Pools in 2 MiB chunks, one block reserved up front, a CD kernel reading
  C-ordered ``X`` in place (8-line panels with a panel Gram, no copy: 2.5x
  slower epochs, strided rows) were all tried; none won on every case;
- solving a working set that holds every violator to the target gap (rather
  than a KKT fraction) was tried and dropped: the support kept changing and
  epochs tripled at alpha_max / 1000;
- the dense elastic net (l1_ratio 0.5, 1000 x 5000) against scikit-learn in
  ``bench_lasso.py`` went 0.75 / 1.07 (float64, alpha_max / 10, 100) and
  0.62 / 0.72 (float32) to 1.4 / 1.35 and 1.2 / 1.0 from: the switch after
  one filled working set, Anderson trials that combine stored residuals
  (no pass over the columns; every 2 epochs in the dense mode), gap checks
  timed by the step ratio, bounded gradients, the first gradient fused into
  the column statistics, and a float32 gather and column statistics no
  longer latency-bound;
- on the 2-core VM a second thread took 5-10 ms to join an OpenMP region,
  so the solver's passes over dense ``X`` (gather included) run on one
  thread. The likely cause, found later on the sparse path, was OpenBLAS
  workers spinning after the solver's own threaded BLAS calls, now avoided
  (``fastprox._threads.blas_single_threaded``); two threads for these
  passes were not measured again since.
"""
import numpy as np
import scipy.sparse as sp
from sklearn.utils import assert_all_finite

from .._kernels import cd_fast
from .._threads import blas_single_threaded, get_num_threads


# Anderson extrapolation depth (skglm's default) and how often to check the
# working set's KKT violation (same period: both cost about one epoch).
_K = 5
_WS_MIN = 100
_GROW = 2
_INNER_FRACTION = 0.1
_STREAM_THREADS = 1
# a support this large a fraction of the (non-constant) features marks a
# dense solution: the working set then takes every violator at once and is
# solved to the full duality gap (see enet_ws_cd, _full_gap_reached)
_FULL_FRACTION = 0.5
# ... and when the support and violators are this large a fraction, every
# feature joins the working set (its gap is then read off the pool)
_WHOLE_FRACTION = 0.5
# up to this many features, working sets buy nothing and the whole solve is
# one kernel call on the Gram form (cd_solve_gram)
_SMALL_P = 32
# a round whose working set grew and whose support then filled 95 % of it
# also switches to the dense-solution mode, when the support can outgrow the
# dense threshold at all (l2 > 0; with l2 = 0 it is at most n_samples):
# dense elastic net 1000 x 5000 at alpha_max / 10, 6 -> 4 rounds (f64 29 ->
# 25 ms), sparse 20000 x 50000 at alpha_max / 100 (11830 nonzeros) 6.6x ->
# 11x scikit-learn; float32 at alpha_max / 100 lost 2 ms (32 epochs, not 31)
_SATURATED_ROUNDS = 1
_SATURATION = 0.95


def _stream_threads():
    """Threads for the passes that stream all of dense ``X`` (gradient, column stats).

    They are memory-bound, and one core nearly saturates the bandwidth:
    measured on the 2-core bench machine (1000 x 10000 float64, other jobs
    on the second core), a ``X.T @ R`` took 4 ms on one thread and 12-18 ms
    on two. More threads only pay where more memory channels are.
    """
    return min(get_num_threads(), _STREAM_THREADS)


class QuadraticDesign:
    """The design matrix with the column operations the solver needs.

    - dense ``X`` is kept as given (C or Fortran order); the CD epochs run
      on a pool of contiguous, centred copies of the working-set columns
      (:class:`_DensePool`) and the full gradient ``Xc.T @ R = X.T @ R -
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
    """

    def __init__(self, X, fit_intercept, y=None, check_finite=False):
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        self.center = bool(fit_intercept)
        if self.sparse:
            X = sp.csc_matrix(X)
            X.sum_duplicates()
            self.data = np.ascontiguousarray(X.data)
            indptr, indices = X.indptr, X.indices
            if indices.dtype != indptr.dtype:
                indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
            self.indptr = np.ascontiguousarray(indptr)
            self.indices = np.ascontiguousarray(indices)
            sums = np.empty(self.n_features)
            sq = np.empty(self.n_features)
            cd_fast.col_stats_sparse(self.data, self.indptr, sums, sq)
            mu = sums / self.n_samples if fit_intercept and self.n_samples \
                else np.zeros(self.n_features)
        else:
            # X is kept as given (C or F order, never copied whole): the CD
            # epochs read a pool of centred working-set columns, the full
            # gradient streams X in its own order (see _DensePool)
            self.X = X
            sums = np.empty(self.n_features)
            sq = np.empty(self.n_features)
            xty = None if y is None else np.empty(self.n_features)
            cd_fast.col_stats_dense(X, self.center, sums, sq, _stream_threads(),
                                None if y is None else y.astype(np.float64), xty)
            if check_finite and not (np.isfinite(sq).all() and np.isfinite(sums).all()):
                assert_all_finite(X, input_name="X")  # scikit-learn's message
            if fit_intercept and self.n_samples:
                mu = X[0].astype(np.float64) + sums / self.n_samples
                sq -= sums ** 2 / self.n_samples
            else:
                mu = np.zeros(self.n_features)
        self.X_mean = mu.astype(self.dtype)
        # a constant column, once centred, is rounding noise: its norm is set
        # to zero so that the solver never picks it
        if self.sparse:
            norms2 = np.maximum(sq - self.n_samples * mu ** 2, 0.0)
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
            self.pool = _DensePool(X, self.X_mean, norms2, self.center)
        self._first = None
        if not self.sparse and y is not None:
            if self.center:  # as in xt_r
                xty -= self.X_mean.astype(np.float64) * float(y.sum(dtype=np.float64))
            self._first = (y.copy(), xty)

    def first_grad(self, R):
        """``xt_r(R)`` if ``R`` is the ``y`` given at construction (else None)."""
        if self._first is not None and np.array_equal(R, self._first[0]):
            return self._first[1].copy()
        return None

    def residual(self, w, R):
        """Residual of the centred problem, float64 (``w`` zero outside ``R``'s support)."""
        r = R.astype(np.float64)
        if self.sparse and self.center:
            r += float(self.X_mean.astype(np.float64) @ w)
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
            cd_fast.xt_r_dense(self.X, R, out, _stream_threads())
        out = out.astype(np.float64)
        if self.center:
            # Xc.T R = X.T R - mu sum(R): the centred columns sum to zero. For
            # dense X, R is the centred residual, so sum(R) is ~0 and this
            # only removes rounding
            out -= self.X_mean.astype(np.float64) * float(R.sum(dtype=np.float64))
        return out

    def xt_r_cols(self, R, cols):
        """Centred ``X[:, cols].T @ r`` (float64) from the kernel residual ``R``; few columns."""
        if self.sparse:
            out = np.empty(len(cols), dtype=self.dtype)
            cd_fast.dot_cols_sparse(self.data, self.indices, self.indptr,
                                np.ascontiguousarray(cols, dtype=np.intp), R, out, 1)
        else:
            out = self.X[:, cols].T @ R
        out = out.astype(np.float64)
        if self.center:
            out -= self.X_mean[cols].astype(np.float64) * float(R.sum(dtype=np.float64))
        return out

    def working_set(self, ws, w, reserve=False):
        """Column operations restricted to ``ws`` (``w``: the full coefficients).

        ``reserve``: the working set will keep growing (a dense solution), so
        a dense column pool that must grow is sized for every feature (the
        memory is touched only as columns arrive) rather than doubled.
        """
        if self.sparse:
            return _SparseWorkingSet(self, ws, w)
        return _DenseWorkingSet(self, ws, w, reserve)


class _DensePool:
    """Contiguous (Fortran-ordered) copies of the columns the CD epochs touch.

    Columns are copied, centred, the first time a working set holds them
    and kept for the rest of the fit (working sets mostly grow), so a fit
    copies a few times its final working set rather than the whole of ``X``
    (centring ``X`` in a copy took 30-140 ms on 1000 x 10000, more than a
    whole scikit-learn fit at alpha_max / 10). A Fortran-ordered ``X``
    without intercept is used in place. The pool holds no reference to its
    design: in a reference cycle, tens of megabytes waited for the garbage
    collector after each fit.
    """

    def __init__(self, X, mu, norms2, center):
        self.X, self.mu, self.x_norms2 = X, mu, norms2
        self.in_place = X.flags.f_contiguous and not center
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
                # a regrowth copies the whole pool into fresh memory (first
                # touch costs more than the copy on the bench VM): 1000 x 5000
                # float64 elastic net at alpha_max / 10 grew 1752 -> 3504
                # columns for a last few features, 14-18 -> 6 ms of gathers
                cap = p if reserve else min(p, max(need, 2 * self.block.shape[1], 16))
                block = np.empty((n, cap), dtype=dtype, order="F")
                block[:, :self.size] = self.block[:, :self.size]
                norms2 = np.empty(cap, dtype=dtype)
                norms2[:self.size] = self.norms2[:self.size]
                self.block, self.norms2 = block, norms2
            sq = np.empty(new.size)
            # one thread: two gathered 1000 x 5000 hot in 4.5 ms instead of
            # 11 (float32), but on the 2-core bench VM the second thread's
            # core was often idle and took 5-10 ms to wake, so the gather of
            # 1550 float64 columns took 10-15 ms instead of 3 (5 on one)
            cd_fast.gather_cols_dense(X, new, self.mu, self.block,
                                  np.arange(self.size, need, dtype=np.intp), sq,
                                  _stream_threads())
            # constant columns stay out of the epochs (zero norm: skipped)
            sq[self.x_norms2[new] == 0] = 0.0
            self.norms2[self.size:need] = sq
            self.slot[new] = np.arange(self.size, need)
            self.size = need
        return self.slot[ws]


class _DenseWorkingSet:
    """Working-set view of the dense design through its column pool."""

    def __init__(self, design, ws, w, reserve=False):
        self.pool = design.pool
        self.cols = self.pool.slots(ws, reserve)
        self.w = np.zeros(self.pool.block.shape[1], dtype=design.dtype)

    def epoch(self, w_ws, R, sum_R, l1, l2, positive):
        pool = self.pool
        self.w[self.cols] = w_ws
        dw = cd_fast.cd_epoch_dense(pool.block, self.w, R, pool.norms2, self.cols, l1, l2,
                                positive)
        w_ws[:] = self.w[self.cols]
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


class _SparseWorkingSet:
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
            out -= self.mu_ws * float(R.sum(dtype=np.float64))
        return out

    def axpy(self, coef, R, sum_R=None):
        d = self.d
        coef = np.ascontiguousarray(coef, dtype=R.dtype)
        cd_fast.axpy_cols_sparse(d.data, d.indices, d.indptr, self.ws, coef, R)
        if sum_R is not None:
            sum_R[0] = R.sum(dtype=np.float64)

    def residual(self, w_ws, R):
        r = R.astype(np.float64)
        if self.d.center:
            r += float(self.mu_ws @ w_ws)  # w is zero outside the working set
        return r


def primal(r, w, l1, l2):
    """Unscaled objective ``1/2 ||r||^2 + l1 ||w||_1 + l2/2 ||w||^2`` in float64."""
    w = w.astype(np.float64, copy=False)
    return 0.5 * float(r @ r) + l1 * float(np.abs(w).sum()) + 0.5 * l2 * float(w @ w)


def duality_gap(r, y, w, grad, l1, l2, positive):
    """scikit-learn's duality gap for the unscaled elastic net (``gap_enet``).

    ``grad = X.T @ r``; dual point ``theta = r * min(1, l1 / ||X.T r - l2 w||_inf)``.
    """
    w = w.astype(np.float64, copy=False)
    R_norm2 = float(r @ r)
    w_norm2 = float(w @ w)
    if l1 == 0:
        if l2 == 0:  # least squares: no dual, use the first-order condition
            return float(grad @ grad)
        # ridge: sklearn's formulation B
        return R_norm2 + 0.5 * l2 * w_norm2 - float(r @ y) + float(grad @ grad) / (2 * l2)
    XtA = grad - l2 * w
    dual_norm = XtA.max() if positive else np.abs(XtA).max()
    scale = l1 / dual_norm if dual_norm > l1 else 1.0
    p_obj = 0.5 * (R_norm2 + l2 * w_norm2) + l1 * float(np.abs(w).sum())
    d_obj = -0.5 * scale ** 2 * (R_norm2 + l2 * w_norm2) + scale * float(r @ y)
    return p_obj - d_obj


def kkt_violation(grad, w, l1, l2, positive):
    """Distance of ``-grad_j`` of the smooth part to ``l1 * d|w_j|`` (per feature)."""
    g = grad - l2 * w  # minus the gradient of the smooth part, X_j.r - l2 w_j
    out = np.empty_like(g)
    zero = w == 0
    if positive:
        out[zero] = np.maximum(g[zero] - l1, 0.0)
    else:
        out[zero] = np.maximum(np.abs(g[zero]) - l1, 0.0)
    nz = ~zero
    out[nz] = np.abs(g[nz] - l1 * np.sign(w[nz]))
    return out


def _anderson(iterates):
    """Weights ``c`` (summing to one) extrapolating the last ``K + 1`` iterates (rows).

    The extrapolated point is ``c @ iterates[1:]``; None if ill-posed.
    """
    U = np.diff(iterates, axis=0)
    C = U @ U.T
    try:
        z = np.linalg.solve(C, np.ones(C.shape[0]))
    except np.linalg.LinAlgError:
        return None
    s = z.sum()
    if not np.isfinite(s) or s == 0:
        return None
    return z / s


def enet_ws_cd(design, yc, w, l1, l2, *, positive=False, max_iter=1000, tol=1e-4,
               anderson=True):
    """Minimise ``1/2 ||yc - Xc w||^2 + l1 ||w||_1 + l2/2 ||w||^2`` in place.

    Parameters
    ----------
    design : QuadraticDesign
    yc : ndarray, shape (n_samples,)
        Centred target (if the design is centred), dtype of the design.
    w : ndarray, shape (n_features,)
        Starting point (warm start), updated in place.
    l1, l2 : float
        Unscaled penalty strengths (``n * alpha * l1_ratio`` and
        ``n * alpha * (1 - l1_ratio)``).
    max_iter : int
        Bounds the total number of CD epochs (on working sets) and of outer
        iterations.
    tol : float
        Stop when the duality gap is ``<= tol * ||yc||^2`` (scikit-learn's rule).

    Returns
    -------
    gap : float
        Final duality gap (unscaled).
    n_epochs : int
        Total CD epochs run (on working sets).
    converged : bool
    history : list of float
        Primal objective at each outer iteration.
    """
    with blas_single_threaded():  # see fastprox._threads
        return _enet_ws_cd(design, yc, w, l1, l2, positive, max_iter, tol, anderson)


def _enet_ws_cd(design, yc, w, l1, l2, positive, max_iter, tol, anderson):
    dtype = design.dtype
    p = design.n_features
    R = design.init_residual(yc, w)
    sum_R = np.array([R.sum(dtype=np.float64)], dtype=dtype)
    y64 = yc.astype(np.float64)
    tol_abs = tol * float(y64 @ y64)
    l1_, l2_ = dtype.type(l1), dtype.type(l2)
    if not design.sparse and p <= _SMALL_P and l1 > 0:
        out = _solve_small(design, yc, y64, w, R, l1, l2, positive, max_iter, tol_abs, tol)
        if out is not None:
            return out
    n_epochs = 0
    history = []
    gap = np.inf
    converged = False
    prev_ws = 0
    ws_min = max(10, min(_WS_MIN, p // 10))
    active = design.norms2 > 0
    n_active = int(active.sum())
    saturated = 0
    # X.T @ R when the last round's stopping rule left it current (exact where
    # it can exceed l1, see _bounded_grad), the last exactly computed one
    # (its absolute values and residual), the last working set
    grad = ref = sub = None
    for _ in range(max(int(max_iter), 1)):
        r = design.residual(w, R)
        if grad is None and ref is not None:
            grad = _bounded_grad(design, sub, ws, R, r, ref, l1)
        if grad is None and ref is None:
            grad = design.first_grad(R)
            if grad is not None:
                ref = (np.abs(grad), r)
        if grad is None:
            grad = design.xt_r(R)
            ref = (np.abs(grad), r)
        gap = duality_gap(r, y64, w, grad, l1, l2, positive)
        history.append(primal(r, w, l1, l2))
        if gap <= tol_abs:
            converged = True
            break
        scores = kkt_violation(grad, w.astype(np.float64), l1, l2, positive)
        scores[design.norms2 == 0] = 0.0
        kkt_max = scores.max()
        support = w != 0
        nnz = int(support.sum())
        ws_size = min(p, max(ws_min, 2 * nnz, int(_GROW * prev_ws)))
        scores[support] = np.inf
        # never pad with features that satisfy KKT at 0; partition only the
        # violators (argpartition over all p features cost ~1 ms a round)
        ws = np.flatnonzero(scores > 0)
        if ws.size > ws_size:
            ws = ws[np.argpartition(scores[ws], ws.size - ws_size)[ws.size - ws_size:]]
        if ws.size == 0:
            # float rounding can leave a gap above tol with no KKT violation left
            break
        full = 2 * nnz >= _FULL_FRACTION * n_active
        if saturated >= _SATURATED_ROUNDS and (
                l2 > 0 or 2 * design.n_samples >= _FULL_FRACTION * n_active):
            full = True
        whole = False
        if full:
            # the solution is dense: every violator joins at once (all the
            # features when that is half of them) and the working set is
            # solved to the full problem's duality gap (see _full_gap_reached)
            violators = np.flatnonzero(scores > 0)  # with the support (inf)
            whole = violators.size >= _WHOLE_FRACTION * n_active
            ws = np.flatnonzero(active | (w != 0)) if whole else violators
        ws = np.sort(ws).astype(np.intp)
        grew = ws.size > prev_ws
        prev_ws = ws.size
        sub = design.working_set(ws, w, reserve=full)
        w_ws = np.ascontiguousarray(w[ws])
        if full:
            done = _full_gap_reached(design, sub, R, y64, ws, w_ws, l1, l2, positive,
                                     tol_abs, whole, gap, ref)
        else:
            done = _kkt_fraction_reached(sub, R, w_ws, l1, l2, positive,
                                         _INNER_FRACTION * kkt_max)
        n_ep, moved = _solve_subproblem(sub, w_ws, R, sum_R, l1, l2, l1_, l2_, positive,
                                        done, max_iter - n_epochs, anderson)
        n_epochs += n_ep
        w[ws] = w_ws
        grad = None
        if full:
            grad, ref = done.handoff(n_ep)
        # a support that fills a working set that grew (not one that settles
        # on the final support, near convergence)
        saturated = saturated + 1 if grew and np.count_nonzero(w_ws) >= _SATURATION * ws.size \
            else 0
        if full and done.finished:
            history.append(done.primal)
            return done.gap, n_epochs, done.gap <= tol_abs, history
        if not moved or n_epochs >= max_iter:
            # no coordinate can move any more (the gap is at the floating-point
            # floor, e.g. float32 with a tiny tol), or the epoch budget is spent
            r = design.residual(w, R)
            gap = duality_gap(r, y64, w, design.xt_r(R), l1, l2, positive)
            converged = gap <= tol_abs
            break
    return gap, n_epochs, converged, history


def _bounded_grad(design, sub, ws, R, r, ref, l1):
    """``X.T @ R``, exact for ``ws`` and wherever it can reach ``l1``; None if that is costly.

    By Cauchy-Schwarz ``|x_j.r| <= |x_j.r_ref| + ||x_j|| ||r - r_ref||``
    from the last exact gradient ``ref = (|X.T @ r_ref|, r_ref)``. A
    feature outside ``ws`` (so at zero) whose bound stays below ``l1``
    neither violates its KKT condition nor sets the dual scaling of the
    gap (only values above ``l1`` do), so a stale value below ``l1`` serves
    both as well as the exact one. The working set is read from its pool,
    the few other features whose bound reaches ``l1`` from their columns of
    ``X``; with more than 2 % of the features uncertain (their strided
    columns would cost a good part of a pass), None: stream ``X``. Near
    convergence of the dense elastic net at alpha_max / 10 (1000 x 5000),
    0-11 of 3361 outside features were uncertain: two of six passes over
    ``X`` saved.
    """
    outside = np.ones(design.n_features, dtype=bool)
    outside[ws] = False
    ref_abs = ref[0]
    bound = ref_abs + design.norms * float(np.linalg.norm(r - ref[1]))
    # margin for the rounding of the computed gradients (float32 data)
    uncertain = np.flatnonzero(outside & (bound * (1 + 1e-4) > l1))
    if uncertain.size > 0.02 * design.n_features:
        return None
    grad = ref_abs.copy()  # the signs do not matter below l1
    grad[ws] = sub.xt_r(R)
    if uncertain.size:
        grad[uncertain] = design.xt_r_cols(R, uncertain)
    return grad


def _solve_small(design, yc, y64, w, R, l1, l2, positive, max_iter, tol_abs, tol):
    """All features, CD on the Gram form in one kernel call (a few dozen features).

    Returns None when the gap of the actual residual is still above
    ``tol_abs`` (rounding of the Gram form, float32): the working-set
    solver then carries on from ``w``.
    """
    ws = np.flatnonzero(design.norms2 > 0).astype(np.intp)
    n_epochs = 0
    if ws.size:
        sub = design.working_set(ws, w)
        B = sub.pool.block[:, sub.cols].astype(np.float64)
        w_ws = w[ws].astype(np.float64)
        n_epochs, _ = cd_fast.cd_solve_gram(np.ascontiguousarray(B.T @ B), B.T @ y64,
                                        float(y64 @ y64), w_ws, float(l1), float(l2),
                                        positive, max(int(max_iter), 1), tol_abs, tol)
        w[ws] = w_ws
        R[:] = design.init_residual(yc, w)
    r = design.residual(w, R)
    gap = duality_gap(r, y64, w, design.xt_r(R), l1, l2, positive)
    if gap > tol_abs and n_epochs < max_iter:
        return None
    return gap, n_epochs, gap <= tol_abs, [primal(r, w, l1, l2)]


class _kkt_fraction_reached:
    """Stopping rule of a working-set round: its KKT violation is below ``eps``.

    Checked every ``_K`` epochs (a check costs about one epoch).
    """

    anderson_every = _K  # epochs between extrapolation trials

    def __init__(self, sub, R, w_ws, l1, l2, positive, eps):
        self.sub, self.R, self.w_ws = sub, R, w_ws
        self.l1, self.l2, self.positive, self.eps = l1, l2, positive, eps

    def due(self, epoch, dw):
        return epoch % _K == 0

    def __call__(self, epoch):
        return kkt_violation(self.sub.xt_r(self.R), self.w_ws.astype(np.float64),
                             self.l1, self.l2, self.positive).max() <= self.eps


class _full_gap_reached:
    """Stopping rule of a working set that holds every violator: the full duality gap.

    With every feature in (``whole``), the gap needs only the working set's
    ``X.T @ R``, read from the contiguous pool; otherwise each check also
    bounds the outside features (reading ``X`` only where needed, see
    ``_bounded_grad``), and the solve ends (for a new round) once they
    violate their KKT condition well above the working set's own violation.
    A check costs about an epoch, so it comes only when the gap is
    predicted below ``tol_abs`` (see ``due``), or after ``cap`` epochs.
    ``finished``: the gap is below ``tol_abs``, or at the floating-point
    floor.
    """

    # trials cost no pass over X (see _solve_subproblem), and on these long
    # solves one every 2 epochs (over the last _K + 1) instead of 5 cut the
    # dense elastic net 1000 x 5000 at alpha_max / 100 from 32 to 28 epochs
    # (float32; 25 -> 24 float64); on the working-set rounds of the
    # correlated cases it was mixed (+8 % to -10 % epochs)
    anderson_every = 2

    def __init__(self, design, sub, R, y64, ws, w_ws, l1, l2, positive, tol_abs, whole,
                 gap, ref):
        self.design, self.sub, self.R, self.y64 = design, sub, R, y64
        self.ws, self.w_ws, self.whole = ws, w_ws, whole
        self.l1, self.l2, self.positive, self.tol_abs = l1, l2, positive, tol_abs
        p = design.n_features
        self.grad = np.zeros(p)
        self.w = np.zeros(p)  # the support is inside ws: zero outside
        self.gap, self.primal = gap, np.inf  # gap: at the start (epoch 0)
        self.epoch = 0
        self.dw_ref = None  # the step of the first epoch after the last check
        # outside features can start to violate: check them every _K epochs
        self.cap = 2 * _K if whole else _K
        self.best, self.best_epoch = gap, 0
        self.floor = 10 * np.finfo(w_ws.dtype).eps * float(y64 @ y64)
        self.finished = False
        if not whole:
            self.outside = np.ones(p, dtype=bool)
            self.outside[ws] = False
            # the last exactly computed full gradient (absolute values) and its
            # residual: outside features are bounded from it (see _bounded_grad)
            self.ref = ref

    def handoff(self, epoch):
        """``(X.T @ R, ref)`` for the next round.

        The gradient only if the last check came after ``epoch`` (the last
        epoch run), so that it is current; ``ref``: see ``_bounded_grad``.
        """
        if self.whole:
            return None, None
        return (self.grad if self.epoch == epoch else None), self.ref

    def due(self, epoch, dw):
        """Whether to check after ``epoch``, whose largest step was ``dw``.

        CD converges linearly and the gap shrinks as the squared distance
        to the solution, as do squared steps: the gap is predicted as
        ``gap * (dw / dw_ref) ** 2`` from the last check's gap and the step
        of the epoch after it (on dense elastic nets it put the last check
        within an epoch of the target, where extrapolating the gap's own
        rate from two checks needed three checks near it).
        """
        if self.dw_ref is None:
            self.dw_ref = dw
        return (self.gap * (dw / self.dw_ref) ** 2 <= self.tol_abs
                or epoch - self.epoch >= self.cap)

    def __call__(self, epoch):
        w64 = self.w_ws.astype(np.float64)
        w = self.w
        w[self.ws] = w64
        if self.whole:
            grad = self.grad
            grad[self.ws] = self.sub.xt_r(self.R)
            r = self.sub.residual(self.w_ws, self.R)
        else:
            r = self.design.residual(w, self.R)
            grad = _bounded_grad(self.design, self.sub, self.ws, self.R, r, self.ref, self.l1)
            if grad is None:
                grad = self.design.xt_r(self.R)
                self.ref = (np.abs(grad), r)
            self.grad = grad
        gap = duality_gap(r, self.y64, w, grad, self.l1, self.l2, self.positive)
        self.primal = primal(r, w64, self.l1, self.l2)
        self.dw_ref = None
        # a small gap that has not halved in 10 * _K epochs is at the
        # floating-point floor (float32 with a tight tol): stop there, not at
        # max_iter
        if gap <= 0.5 * self.best:
            self.best, self.best_epoch = gap, epoch
        self.gap, self.epoch = gap, epoch
        self.finished = gap <= self.tol_abs or (gap <= self.floor
                                                and epoch - self.best_epoch >= 10 * _K)
        if self.finished or self.whole:
            return self.finished
        # w is zero outside the working set
        out_max = kkt_violation(grad[self.outside], np.zeros(int(self.outside.sum())),
                                self.l1, self.l2, self.positive).max(initial=0.0)
        if out_max == 0:
            return False
        kkt_in = kkt_violation(grad[self.ws], w64, self.l1, self.l2, self.positive).max()
        return kkt_in <= _INNER_FRACTION * out_max


def _solve_subproblem(sub, w_ws, R, sum_R, l1, l2, l1_, l2_, positive, done, max_iter,
                      anderson):
    """CD + Anderson on one working set until ``done`` says it is solved.

    ``done.due(epochs, largest step)`` says whether to check after an epoch
    and ``done(epochs)`` checks. Anderson is tried every ``_K`` epochs.
    """
    use_anderson = anderson and w_ws.size > 1
    # the last K + 1 iterates and their residuals: R is affine in w, so the
    # extrapolated point's residual is the same combination of theirs, and a
    # trial costs no pass over the columns
    last = np.empty((_K + 1, w_ws.size), dtype=np.float64)
    last_R = np.empty((_K + 1, R.size + 1), dtype=np.float64)
    n_stored = 0
    epoch = 0
    moved = False
    every = done.anderson_every
    for epoch in range(max(int(max_iter), 1)):
        dw_max = sub.epoch(w_ws, R, sum_R, l1_, l2_, positive)
        if dw_max == 0:
            break
        moved = True
        if use_anderson:
            last[n_stored % (_K + 1)] = w_ws
            last_R[n_stored % (_K + 1), :-1] = R
            last_R[n_stored % (_K + 1), -1] = sum_R[0]
            n_stored += 1
            if n_stored > _K and n_stored % every == 0:
                order = np.arange(n_stored, n_stored + _K + 1) % (_K + 1)
                c = _anderson(last[order])
                if c is not None:
                    _try_extrapolated(sub, w_ws, R, sum_R, c @ last[order[1:]],
                                      c @ last_R[order[1:]], l1, l2, positive)
        if done.due(epoch + 1, dw_max) and done(epoch + 1):
            break
    return epoch + 1, moved


def _try_extrapolated(sub, w_ws, R, sum_R, w_acc, R_acc, l1, l2, positive):
    """Move to ``w_acc`` (residual and its sum: ``R_acc``) if that lowers the objective."""
    if positive and (w_acc < 0).any():
        return
    R_acc, sum_acc = R_acc[:-1].astype(R.dtype), R_acc[-1:].astype(R.dtype)
    if (primal(sub.residual(w_acc, R_acc), w_acc, l1, l2)
            < primal(sub.residual(w_ws, R), w_ws, l1, l2)):
        w_ws[:] = w_acc
        R[:] = R_acc
        sum_R[:] = sum_acc
