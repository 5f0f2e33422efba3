"""Working-set proximal Newton for the binary logistic datafit + elastic net.

Minimises (``y_i`` in {-1, +1})

    F(w, b) = 1/n sum_i log(1 + exp(-y_i (x_i w + b)))
              + l1 ||w||_1 + l2/2 ||w||^2

which is scikit-learn's ``C sum_i logloss + l1_ratio ||w||_1
+ (1 - l1_ratio)/2 ||w||^2`` divided by ``C n`` (so ``l1 = l1_ratio / (C n)``
and ``l2 = (1 - l1_ratio) / (C n)``): same minimiser, gradients of order one.

The scheme is skglm's ``ProxNewton`` (Bertrand et al., NeurIPS 2022) and, for
the inner loop, glmnet's (Friedman, Hastie & Tibshirani, JSS 2010):

1. full gradient ``X.T @ r`` and each feature's KKT violation; stop when the
   largest (intercept included) is ``<= tol``;
2. working set: the support plus the worst violators, ``max(10, 2 nnz)``
   features (doubling while the support grows);
3. on the working set, proximal Newton steps: a few CD epochs on the
   weighted quadratic model (kernels ``wcd_epoch_*`` in ``_cd_fast.pyx``),
   then a backtracking line search on the true objective, until the working
   set's violation is below a fraction of the full one.

``raw = X w + b`` is kept up to date incrementally, so ``X`` is read in full
only once per outer iteration.
"""
import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log1p

from .. import _dispatch
from .._threads import get_num_threads

_cd = _dispatch.load("_cd_fast")

_WS_MIN = 10
_INNER_FRACTION = 0.3
_MAX_CD_EPOCHS = 20
_MAX_BACKTRACK = 30


def _logloss(z):
    """Mean-free ``log(1 + exp(-z))`` elementwise, stable for any ``z``."""
    return np.logaddexp(0.0, -z)


class LogisticDesign:
    """Column access to ``X``: Fortran-ordered dense (one copy at most) or CSC."""

    def __init__(self, X):
        self.n_samples, self.n_features = X.shape
        self.sparse = sp.issparse(X)
        if self.sparse:
            X = sp.csc_matrix(X, dtype=np.float64)
            X.sum_duplicates()
            indptr, indices = X.indptr, X.indices
            if indices.dtype != indptr.dtype:
                indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
            self.data = np.ascontiguousarray(X.data)
            self.indices = np.ascontiguousarray(indices)
            self.indptr = np.ascontiguousarray(indptr)
            self.all = np.arange(self.n_features, dtype=np.intp)
        else:
            X = np.asarray(X, dtype=np.float64)
            if X.flags.f_contiguous:
                self.X = X
            else:
                self.X = np.empty(X.shape, order="F")
                _cd.center_to_fortran(np.ascontiguousarray(X), np.zeros(X.shape[1]), self.X,
                                      get_num_threads())

    def xt(self, r):
        """``X.T @ r``."""
        out = np.empty(self.n_features)
        if self.sparse:
            _cd.dot_cols_sparse(self.data, self.indices, self.indptr, self.all, r, out,
                                get_num_threads())
        else:
            _cd.xt_r_dense(self.X, r, out, get_num_threads())
        return out

    def xt_ws(self, ws, r):
        out = np.empty(len(ws))
        if self.sparse:
            _cd.dot_cols_sparse(self.data, self.indices, self.indptr, ws, r, out,
                                get_num_threads())
        else:
            _cd.dot_cols_dense(self.X, ws, r, out)
        return out

    def x_ws(self, ws, coef, out):
        """``out += X[:, ws] @ coef``."""
        if self.sparse:
            _cd.axpy_cols_sparse(self.data, self.indices, self.indptr, ws, coef, out)
        else:
            _cd.axpy_cols_dense(self.X, ws, coef, out)

    def hdiag(self, ws, h):
        out = np.empty(len(ws))
        if self.sparse:
            _cd.weighted_sq_norms_sparse(self.data, self.indices, self.indptr, ws, h, out)
        else:
            _cd.weighted_sq_norms_dense(self.X, ws, h, out)
        return out

    def epoch(self, ws, grad, hdiag, w, delta, h, v, state, l1, l2, fit_intercept):
        if self.sparse:
            return _cd.wcd_epoch_sparse(self.data, self.indices, self.indptr, ws, grad, hdiag,
                                        w, delta, h, v, state, l1, l2, fit_intercept)
        return _cd.wcd_epoch_dense(self.X, ws, grad, hdiag, w, delta, h, v, state, l1, l2,
                                   fit_intercept)


def _penalty(w, l1, l2):
    return l1 * float(np.abs(w).sum()) + 0.5 * l2 * float(w @ w)


def _kkt(grad, w, l1, l2):
    """Distance of ``-(grad + l2 w)`` to ``l1 * d|w|`` per feature."""
    g = grad + l2 * w
    out = np.maximum(np.abs(g) - l1, 0.0)
    nz = w != 0
    out[nz] = np.abs(g[nz] + l1 * np.sign(w[nz]))
    return out


def logistic_ws_newton(design, y, w, b, l1, l2, *, fit_intercept=True, tol=1e-4,
                       max_iter=100, sample_weight=None):
    """Minimise ``F(w, b)`` (module docstring) from ``(w, b)``; ``w`` updated in place.

    Parameters
    ----------
    design : LogisticDesign
    y : ndarray of shape (n_samples,), values in {-1.0, +1.0}
    w : ndarray of shape (n_features,), float64
    b : float
    l1, l2 : float
        Penalty strengths of the mean-scaled objective.
    tol : float
        Stop when every KKT violation (gradient units) is ``<= tol``.
    max_iter : int
        Bound on the number of outer (full-gradient) iterations; the proximal
        Newton steps are bounded by ``10 * max_iter`` in total.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights of the per-sample losses (the mean becomes a weighted sum / n).

    Returns
    -------
    b : float
    n_iter : int
        Outer iterations run.
    converged : bool
    history : list of float
        Objective at each outer iteration.
    """
    n, p = design.n_samples, design.n_features
    sw_n = (np.full(n, 1.0 / n) if sample_weight is None
            else np.asarray(sample_weight, dtype=np.float64) / n)
    raw = np.full(n, float(b))
    nz0 = np.flatnonzero(w)
    if nz0.size:
        design.x_ws(nz0.astype(np.intp), w[nz0].copy(), raw)
    history = []
    converged = False
    newton_budget = 10 * max(int(max_iter), 1)
    it = 0
    for it in range(1, max(int(max_iter), 1) + 1):
        yz = y * raw
        history.append(float(_logloss(yz) @ sw_n) + _penalty(w, l1, l2))
        r = -y * expit(-yz) * sw_n                   # d loss / d raw
        grad = design.xt(r)
        viol = _kkt(grad, w, l1, l2)
        viol_b = abs(float(r.sum())) if fit_intercept else 0.0
        vmax = max(float(viol.max()) if p else 0.0, viol_b)
        if vmax <= tol:
            converged = True
            break
        support = w != 0
        ws_size = min(p, max(_WS_MIN, 2 * int(support.sum())))
        scores = viol.copy()
        scores[support] = np.inf
        if ws_size < p:
            ws = np.argpartition(scores, p - ws_size)[p - ws_size:]
            ws = ws[scores[ws] > 0]
        else:
            ws = np.flatnonzero(scores > 0)
        ws = np.sort(ws).astype(np.intp)
        b, n_newton = _newton_on_ws(design, y, sw_n, ws, w, b, raw, l1, l2, fit_intercept,
                                    max(tol, _INNER_FRACTION * vmax), newton_budget)
        newton_budget -= n_newton
        if newton_budget <= 0 or n_newton == 0:
            # budget spent, or no step could decrease the objective (the
            # violation is at the floating-point floor for this tol)
            break
    return b, it, converged, history


def _newton_on_ws(design, y, sw_n, ws, w, b, raw, l1, l2, fit_intercept, eps_in, budget):
    """Proximal Newton steps on ``ws`` until its violation is ``<= eps_in``."""
    n = design.n_samples
    w_ws = np.ascontiguousarray(w[ws])
    steps = 0
    while steps < budget:
        yz = y * raw
        s = expit(-yz)
        r = -y * s * sw_n
        grad = design.xt_ws(ws, r)
        g_b = float(r.sum()) if fit_intercept else 0.0
        viol = _kkt(grad, w_ws, l1, l2)
        if max(float(viol.max()) if ws.size else 0.0, abs(g_b)) <= eps_in:
            break
        steps += 1
        h = s * (1.0 - s) * sw_n
        hdiag = design.hdiag(ws, h)
        delta = np.zeros(ws.size)
        v = np.zeros(n)
        state = np.array([0.0, g_b, float(h.sum())])
        for _ in range(_MAX_CD_EPOCHS):
            crit = design.epoch(ws, grad, hdiag, w_ws, delta, h, v, state, l1, l2,
                                fit_intercept)
            if crit <= 1e-2 * eps_in * eps_in:
                break
        db = state[0]
        # X delta + delta_b, then backtracking (Armijo on the composite model,
        # Tseng & Yun 2009)
        u = np.full(n, db)
        nzd = np.flatnonzero(delta)
        if nzd.size:
            design.x_ws(ws[nzd], delta[nzd].copy(), u)
        f0 = float(_logloss(yz) @ sw_n)
        pen0 = _penalty(w_ws, l1, l2)
        model_decr = float(grad @ delta) + g_b * db + _penalty(w_ws + delta, l1, l2) - pen0
        if model_decr >= 0 and not nzd.size and db == 0:
            break
        t = 1.0
        for _ in range(_MAX_BACKTRACK):
            f1 = float(_logloss(y * (raw + t * u)) @ sw_n)
            pen1 = _penalty(w_ws + t * delta, l1, l2)
            if f1 + pen1 <= f0 + pen0 + 1e-4 * t * min(model_decr, 0.0):
                break
            t *= 0.5
        else:
            steps -= 1  # no decrease possible at this precision
            break
        w_ws += t * delta
        b += t * db
        raw += t * u
    w[ws] = w_ws
    return b, steps
