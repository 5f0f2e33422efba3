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
   has ``max(10, 2 * nnz)`` features;
3. solve the problem restricted to the working set with cyclic CD, every few
   epochs trying an Anderson-extrapolated point (kept only if it lowers the
   objective), until the working set's KKT violation drops below a fraction
   of the full problem's;
4. repeat until the full duality gap is below ``tol * ||y||^2``.

Features outside the working set stay at zero, so each epoch touches only a
few columns of ``X`` while the full gradient costs one ``X.T @ R`` per outer
iteration.
"""
import numpy as np
import scipy.sparse as sp

from .. import _dispatch
from .._threads import get_num_threads

_cd = _dispatch.load("_cd_fast")

# Anderson extrapolation depth (skglm's default) and how often to check the
# working set's KKT violation (same period: both cost about one epoch).
_K = 5
_WS_MIN = 10
_INNER_FRACTION = 0.3


class QuadraticDesign:
    """The design matrix with the column operations the solver needs.

    Dense ``X`` is stored Fortran-ordered and, with an intercept, explicitly
    centred (one copy, as scikit-learn does). Sparse ``X`` is stored CSC and
    centred implicitly (see ``_cd_fast.pyx``): the kernel residual ``R`` is
    ``yc - X w`` and the centred problem's residual is ``R + mu @ w``.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (n_samples, n_features)
        float32 or float64, already validated.
    fit_intercept : bool
    """

    def __init__(self, X, fit_intercept):
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        if self.sparse:
            X = sp.csc_matrix(X)
            X.sum_duplicates()
            self.data = np.ascontiguousarray(X.data)
            self.indptr = X.indptr
            self.indices = X.indices
            if self.indices.dtype != self.indptr.dtype:
                self.indices = self.indices.astype(np.int64)
                self.indptr = self.indptr.astype(np.int64)
            self.indptr = np.ascontiguousarray(self.indptr)
            self.indices = np.ascontiguousarray(self.indices)
            sq = np.asarray(X.multiply(X).sum(axis=0), dtype=np.float64).ravel()
            if fit_intercept:
                mu = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
                # clip: cancellation can leave a tiny negative for constant columns
                norms2 = np.maximum(sq - self.n_samples * mu ** 2, 0.0)
                norms2[norms2 <= 1e-12 * np.maximum(sq, 1e-300)] = 0.0
            else:
                mu = np.zeros(self.n_features)
                norms2 = sq
            self.X_mean = mu.astype(self.dtype)
            self.center = bool(fit_intercept)
        else:
            if fit_intercept:
                self.X_mean = X.mean(axis=0, dtype=np.float64).astype(self.dtype)
                X = np.asfortranarray(X - self.X_mean)
            else:
                self.X_mean = np.zeros(self.n_features, dtype=self.dtype)
                X = np.asfortranarray(X)
            self.X = X
            norms2 = np.einsum("ij,ij->j", X, X, dtype=np.float64)
            # a constant column, once centred, holds only rounding noise: zero it
            tiny = self.n_samples * (10 * np.finfo(self.dtype).eps
                                     * np.abs(self.X_mean.astype(np.float64))) ** 2
            norms2[norms2 <= tiny] = 0.0
            self.center = False
        self.norms2 = norms2.astype(self.dtype)

    # --- residuals ------------------------------------------------------
    def residual(self, w, R):
        """Residual of the centred problem, float64."""
        r = R.astype(np.float64)
        if self.sparse and self.center:
            r += float(self.X_mean.astype(np.float64) @ w)
        return r

    def init_residual(self, yc, w):
        R = yc.copy()
        nz = np.flatnonzero(w)
        if nz.size:
            self.axpy(nz, -w[nz], R)
        return R

    def axpy(self, ws, coef, R):
        """``R += X[:, ws] @ coef`` (uncentred columns for sparse ``X``)."""
        ws = np.ascontiguousarray(ws, dtype=np.intp)
        coef = np.ascontiguousarray(coef, dtype=self.dtype)
        if self.sparse:
            _cd.axpy_cols_sparse(self.data, self.indices, self.indptr, ws, coef, R)
        else:
            _cd.axpy_cols_dense(self.X, ws, coef, R)

    # --- gradients ------------------------------------------------------
    def xt_r(self, R, ws=None):
        """Centred ``X[:, ws].T @ r`` (float64) from the kernel residual ``R``."""
        if not self.sparse:
            if ws is None:
                return (self.X.T @ R).astype(np.float64)
            out = np.empty(len(ws), dtype=self.dtype)
            _cd.dot_cols_dense(self.X, ws, R, out)
            return out.astype(np.float64)
        cols = np.arange(self.n_features, dtype=np.intp) if ws is None else ws
        out = np.empty(len(cols), dtype=self.dtype)
        _cd.dot_cols_sparse(self.data, self.indices, self.indptr, cols, R, out,
                            get_num_threads())
        out = out.astype(np.float64)
        if self.center:
            # the constant shift of the residual cancels against the centred column
            out -= self.X_mean[cols].astype(np.float64) * float(R.sum(dtype=np.float64))
        return out

    def epoch(self, ws, w, R, sum_R, l1, l2, positive):
        if self.sparse:
            return _cd.cd_epoch_sparse(self.data, self.indices, self.indptr, self.X_mean,
                                       self.center, w, R, sum_R, self.norms2, ws, l1, l2,
                                       positive)
        return _cd.cd_epoch_dense(self.X, w, R, self.norms2, ws, l1, l2, positive)


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
    """Extrapolate from the last ``K + 1`` iterates (rows); None if ill-posed."""
    U = np.diff(iterates, axis=0)
    C = U @ U.T
    try:
        z = np.linalg.solve(C, np.ones(C.shape[0]))
    except np.linalg.LinAlgError:
        return None
    s = z.sum()
    if not np.isfinite(s) or s == 0:
        return None
    c = z / s
    return c @ iterates[1:]


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
        Bounds both the number of outer iterations and the epochs spent on
        one working-set subproblem.
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
    dtype = design.dtype
    p = design.n_features
    R = design.init_residual(yc, w)
    sum_R = np.array([R.sum(dtype=np.float64)], dtype=dtype)
    y64 = yc.astype(np.float64)
    tol_abs = tol * float(y64 @ y64)
    l1_, l2_ = dtype.type(l1), dtype.type(l2)
    n_epochs = 0
    history = []
    gap = np.inf
    converged = False
    for _ in range(max(int(max_iter), 1)):
        r = design.residual(w, R)
        grad = design.xt_r(R)
        gap = duality_gap(r, y64, w, grad, l1, l2, positive)
        history.append(primal(r, w, l1, l2))
        if gap <= tol_abs:
            converged = True
            break
        scores = kkt_violation(grad, w.astype(np.float64), l1, l2, positive)
        scores[design.norms2 == 0] = 0.0
        kkt_max = scores.max()
        support = w != 0
        ws_size = min(p, max(_WS_MIN, 2 * int(support.sum())))
        scores[support] = np.inf
        if ws_size < p:
            ws = np.argpartition(scores, p - ws_size)[p - ws_size:]
            ws = ws[scores[ws] > 0]  # never pad with features that satisfy KKT at 0
        else:
            ws = np.flatnonzero(scores > 0)
        if ws.size == 0:
            # float rounding can leave a gap above tol with no KKT violation left
            break
        ws = np.sort(ws).astype(np.intp)
        eps_in = _INNER_FRACTION * kkt_max
        use_anderson = anderson and ws.size > 1
        last = np.empty((_K + 1, ws.size), dtype=np.float64)
        n_stored = 0
        for epoch in range(max(int(max_iter), 1)):
            dw_max = design.epoch(ws, w, R, sum_R, l1_, l2_, positive)
            n_epochs += 1
            if dw_max == 0:
                break
            if use_anderson:
                last[n_stored % (_K + 1)] = w[ws]
                n_stored += 1
            if (epoch + 1) % _K:
                continue
            if use_anderson and n_stored >= _K + 1:
                order = np.arange(n_stored, n_stored + _K + 1) % (_K + 1)
                w_acc = _anderson(last[order])
                if w_acc is not None and (not positive or (w_acc >= 0).all()):
                    _try_extrapolated(design, ws, w, R, sum_R, w_acc, l1, l2)
            g_ws = design.xt_r(R, ws)
            if kkt_violation(g_ws, w[ws].astype(np.float64), l1, l2, positive).max() <= eps_in:
                break
    return gap, n_epochs, converged, history


def _try_extrapolated(design, ws, w, R, sum_R, w_acc, l1, l2):
    """Move to ``w_acc`` on the working set if that lowers the objective."""
    w_ws = w[ws].astype(np.float64)
    delta = w_acc - w_ws
    R_acc = R.copy()
    design.axpy(ws, -delta, R_acc)
    w_new = w.copy()
    w_new[ws] = w_acc
    if (primal(design.residual(w_new, R_acc), w_new, l1, l2)
            < primal(design.residual(w, R), w, l1, l2)):
        w[ws] = w_acc
        R[:] = R_acc
        if design.sparse and design.center:
            sum_R[0] = R.sum(dtype=np.float64)
