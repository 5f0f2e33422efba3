"""Working-set proximal Newton for binary and multinomial logistic regression.

Minimises, with scores ``Z = W X.T + b`` of shape ``(K, n)``,

    F(W, b) = sum_i s_i loss(Z[:, i], y_i) + l1 ||W||_1 + l2/2 ||W||_F^2

with ``s_i = sample_weight_i / n`` (``1 / n`` unweighted) and ``loss`` the
binomial log-loss (``K = 1``, ``y`` in {-1, +1}) or the multinomial one
(``K`` classes, ``logsumexp(z) - z_y``). That is scikit-learn's ``C sum_i
loss + l1_ratio ||W||_1 + (1 - l1_ratio)/2 ||W||^2`` divided by ``C n`` (so
``l1 = l1_ratio / (C n)``, ``l2 = (1 - l1_ratio) / (C n)``): same minimiser,
gradients of order one.

The scheme is skglm's ``ProxNewton`` (Bertrand et al., NeurIPS 2022) with
glmnet's inner loop (Friedman, Hastie & Tibshirani, JSS 2010):

1. full gradient ``R X`` (``R`` = d loss / d Z) and each coefficient's KKT
   violation; stop when the largest (intercepts included) is ``<= tol``;
2. working set: the features that are nonzero in any class, plus the worst
   violators, ``max(10, 2 * n_support)`` features, their columns gathered once
   into a compact array (kernels in ``_logistic_fast.pyx``);
3. on the working set, proximal Newton steps -- CD sweeps on the quadratic
   model (glmnet's active-set cycling), then a backtracking line search on
   the true objective -- until the working set's violation is below a
   fraction of the full one.

Binary: the unpenalised intercept is minimised out of the model in closed
form (implicit centring by the Hessian-weighted means). Multinomial: the
model uses the exact softmax Hessian over all classes at once, at the cost
per coordinate of the binary case (``mn_cd_epoch``); the intercepts are a
K-dimensional block solved exactly after each sweep, the working-set columns
are centred (conditioning), and each feature's coefficients are shifted
along the softmax's null direction to the penalty's minimum (median of the
classes for L1). Block coordinate descent over classes, glmnet's choice,
converged linearly here: hundreds of rounds on 3 classes.

``Z`` is kept up to date incrementally, so ``X`` is read in full only twice
per outer iteration (gradient and gather).
"""
import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from .._kernels import logistic_fast
from .._threads import get_num_threads


_WS_MIN = 10
_INNER_FRACTION = 0.3
_MAX_CD_EPOCHS = 20
# CD sweeps of a Newton step stop when the model's violation is below this
# multiple of the step's target violation (measured: binary 20000 x 2000
# needed 110 sweeps at 3.0, 215 at 0.3; 3 classes: 26 Newton steps and 495
# sweeps at 0.3, 54 steps and 297 sweeps at 3.0, similar cost; digits better at 0.3)
_CD_FRACTION_BINARY = 3.0
_CD_FRACTION_MULTI = 0.3
_MAX_BACKTRACK = 30


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
            X = sp.csc_matrix(X)
            X.sum_duplicates()
            indptr, indices = X.indptr, X.indices
            if indices.dtype != indptr.dtype:
                indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
            self.X = X
            self.data = np.ascontiguousarray(X.data)
            self.indices = np.ascontiguousarray(indices)
            self.indptr = np.ascontiguousarray(indptr)
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
            logistic_fast.xt_r_sparse(self.data, self.indices, self.indptr, R, out, get_num_threads())
        else:
            logistic_fast.xt_r_dense(self.X, R, out, get_num_threads())
        return out

    def subset(self, ws, center=False):
        """The columns ``ws`` (sorted ``intp`` array) as a working set.

        With ``center``, dense columns are stored minus their means (kept in
        ``means``; zeros otherwise): the multinomial Newton step moves the
        intercepts along, which keeps its coordinate descent well conditioned
        on uncentred features.
        """
        if self.sparse:
            return _SparseWorkingSet(self.X[:, ws], self.indices.dtype)
        Xws = np.empty((ws.size, self.n_samples), dtype=self.dtype)
        logistic_fast.gather_cols_dense(self.X, ws, Xws)
        return _DenseWorkingSet(Xws, center)


class _DenseWorkingSet:
    def __init__(self, Xws, center=False):
        self.Xws = Xws
        self.size = Xws.shape[0]
        self.means = np.zeros(self.size)
        if center and Xws.shape[1]:
            self.means = Xws.mean(axis=1, dtype=np.float64)
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


class _SparseWorkingSet:
    def __init__(self, Xws, index_dtype):
        Xws.sum_duplicates()
        self.size = Xws.shape[1]
        self.data = np.ascontiguousarray(Xws.data)
        self.indices = np.ascontiguousarray(Xws.indices, dtype=index_dtype)
        self.indptr = np.ascontiguousarray(Xws.indptr, dtype=index_dtype)
        self._csc = (self.data, self.indices, self.indptr)
        self.means = np.zeros(self.size)

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


class Binomial:
    """Binary log-loss ``log(1 + exp(-y z))``, ``y`` in {-1, +1}; one block."""

    n_blocks = 1

    def __init__(self, y, sw_n):
        self.y = np.asarray(y, dtype=np.float64)
        self.sw_n = sw_n

    def value(self, Z):
        return _wsum(np.logaddexp(0.0, -self.y * Z[0]), self.sw_n)

    def value_block(self, Z, k, zk):
        return _wsum(np.logaddexp(0.0, -self.y * zk), self.sw_n)

    def grad_hess(self, Z):
        """``d F / d Z`` and the Hessian diagonal, both of shape ``(1, n)``."""
        s = expit(-self.y * Z[0])
        return (-self.y * s * self.sw_n)[None], (s * (1.0 - s) * self.sw_n)[None]


class Multinomial:
    """Multinomial log-loss ``logsumexp(z) - z_y``; one block per class."""

    def __init__(self, labels, n_classes, sw_n):
        self.labels = np.asarray(labels, dtype=np.intp)
        self.n_blocks = int(n_classes)
        self.sw_n = sw_n
        self._rows = np.arange(self.labels.size)

    @staticmethod
    def _lse(Z):
        m = Z.max(axis=0)
        return m + np.log(np.exp(Z - m).sum(axis=0))

    def value(self, Z):
        return _wsum(self._lse(Z) - Z[self.labels, self._rows], self.sw_n)

    def proba(self, Z):
        return np.exp(Z - self._lse(Z))

    def grad_hess(self, Z):
        """``d F / d Z`` and the diagonal of the per-class Hessian blocks, ``(K, n)``."""
        P = self.proba(Z)
        H = P * (1.0 - P) * self.sw_n
        P[self.labels, self._rows] -= 1.0
        P *= self.sw_n
        return P, H


def _penalty_shift(V, l1, l2):
    """Per column ``j``, ``argmin_c l1 sum_k |V[k, j] + c| + l2/2 sum_k (V[k, j] + c)^2``."""
    if l2 == 0.0:
        return -np.median(V, axis=0)  # any point between the two middle values
    # the derivative is nondecreasing in c with its root in [-max V, -min V]:
    # bisection, vectorised over the columns
    lo, hi = -V.max(axis=0), -V.min(axis=0)
    for _ in range(60):
        c = 0.5 * (lo + hi)
        d = l1 * np.sign(V + c).sum(axis=0) + l2 * (V + c).sum(axis=0)
        pos = d > 0
        hi = np.where(pos, c, hi)
        lo = np.where(pos, lo, c)
    return 0.5 * (lo + hi)


def _shift_along_null_space(sub, W_ws, D, U, a, l1, l2):
    """Move each feature's coefficients by a common ``c_j`` to minimise the penalty.

    The softmax ignores a shift of all classes' coefficients of a feature by
    the same amount (``H_i 1 = 0`` and the gradients sum to zero over the
    classes), so the Newton model changes only through the penalty. Coordinate
    descent, one class at a time, would crawl along that flat valley (the
    violation fell ~1 % per Newton step on 3 classes); one exact move per
    sweep jumps to its bottom (a median of the coefficients for pure L1).
    """
    V = W_ws + D
    c = _penalty_shift(V, l1, l2)
    pen = l1 * np.abs(V).sum(axis=0) + 0.5 * l2 * (V * V).sum(axis=0)
    new = l1 * np.abs(V + c).sum(axis=0) + 0.5 * l2 * ((V + c) ** 2).sum(axis=0)
    c = np.where(new < pen, c, 0.0)  # only strict improvements (ties: stay)
    if not c.any():
        return
    D += c
    s = np.zeros(U.shape[1])
    sub.axpy(c, s)
    U += s           # same for every class: the softmax does not change
    a += s           # a = P . U and the probabilities sum to one


class _Sweeps:
    """Which coordinates the next CD epoch visits (glmnet's active-set cycling).

    After a sweep over the whole working set, sweep only the coefficients
    that are nonzero until they settle, then the whole set again to confirm;
    stop when the largest KKT violation of the Newton model met in a whole
    sweep is ``<= thr`` (a step-size rule stopped early on correlated
    columns, where every move is small but the model is far from solved). At most
    ``_MAX_CD_EPOCHS`` whole sweeps and as many partial ones.
    """

    def __init__(self, m, thr):
        self.all = np.arange(m, dtype=np.intp)
        self.active = self.all
        self.thr = thr
        self.full_left = _MAX_CD_EPOCHS
        self.partial_left = _MAX_CD_EPOCHS
        self.finished = False

    def more(self):
        return not self.finished

    def done(self, crit, coef):
        full = self.active is self.all
        if full:
            self.full_left -= 1
            if crit <= self.thr or self.full_left <= 0:
                self.finished = True
                return
            nz = np.flatnonzero(coef.reshape(-1, self.all.size).any(axis=0))
            if nz.size < self.all.size and self.partial_left > 0:
                self.active = nz
        else:
            self.partial_left -= 1
            if crit <= self.thr or self.partial_left <= 0:
                self.active = self.all


def _wsum(a, w):
    """``sum(a * w)`` without BLAS: OpenBLAS threads ``ddot`` on long vectors,
    and on the shared 2-core machine a 20000-long dot then took 7 ms instead
    of 0.02 ms (it was a fifth of a binary fit)."""
    return float(np.multiply(a, w).sum())


def _penalty(w, l1, l2):
    return l1 * float(np.abs(w).sum()) + 0.5 * l2 * float(np.square(w).sum())


def _kkt(grad, w, l1, l2):
    """Distance of ``-(grad + l2 w)`` to ``l1 * d|w|``, elementwise."""
    g = grad + l2 * w
    return np.where(w != 0, np.abs(g + l1 * np.sign(w)), np.maximum(np.abs(g) - l1, 0.0))


def logistic_ws_newton(design, datafit, W, b, l1, l2, *, fit_intercept=True, tol=1e-4,
                       max_iter=100):
    """Minimise ``F(W, b)`` (module docstring) from ``(W, b)``, both updated in place.

    Parameters
    ----------
    design : LogisticDesign
    datafit : Binomial or Multinomial
    W : ndarray of shape (K, n_features), float64, C-contiguous
    b : ndarray of shape (K,), float64
    l1, l2 : float
        Penalty strengths of the mean-scaled objective.
    tol : float
        Stop when every KKT violation (gradient units) is ``<= tol``.
    max_iter : int
        Bound on the number of outer (full-gradient) iterations; the rounds of
        proximal Newton steps are bounded by ``10 * max_iter`` in total.

    Returns
    -------
    n_iter : int
        Outer iterations run.
    converged : bool
    history : list of float
        Objective at each outer iteration.
    """
    n, p = design.n_samples, design.n_features
    K = datafit.n_blocks
    Z = np.repeat(b.reshape(K, 1), n, axis=1)
    nz0 = np.flatnonzero((W != 0).any(axis=0))
    if nz0.size:
        sub = design.subset(nz0.astype(np.intp))
        for k in range(K):
            sub.axpy(np.ascontiguousarray(W[k, nz0]), Z[k])
    history = []
    converged = False
    budget = 10 * max(int(max_iter), 1)
    it = 0
    for it in range(1, max(int(max_iter), 1) + 1):
        history.append(datafit.value(Z) + _penalty(W, l1, l2))
        R, _ = datafit.grad_hess(Z)
        viol = _kkt(design.xt(R), W, l1, l2)
        viol_b = float(np.abs(R.sum(axis=1)).max()) if fit_intercept else 0.0
        vmax = max(float(viol.max()) if p else 0.0, viol_b)
        if vmax <= tol:
            converged = True
            break
        scores = viol.max(axis=0)
        support = (W != 0).any(axis=0)
        ws_size = min(p, max(_WS_MIN, 2 * int(support.sum())))
        scores[support] = np.inf
        if ws_size < p:
            ws = np.argpartition(scores, p - ws_size)[p - ws_size:]
            ws = ws[scores[ws] > 0]
        else:
            ws = np.flatnonzero(scores > 0)
        ws = np.sort(ws).astype(np.intp)
        W_ws = np.ascontiguousarray(W[:, ws])
        eps_in = max(tol, _INNER_FRACTION * vmax)
        if K == 1:
            rounds = _newton_on_ws(design.subset(ws), datafit, Z, W_ws, b, l1, l2,
                                   fit_intercept, eps_in, budget)
        else:
            rounds = _mn_newton_on_ws(design.subset(ws, center=fit_intercept), datafit, Z,
                                      W_ws, b, l1, l2, fit_intercept, eps_in, budget)
        W[:, ws] = W_ws
        budget -= rounds
        if budget <= 0 or rounds == 0:
            # budget spent, or no step could decrease the objective (the
            # violation is at the floating-point floor for this tol)
            break
    return it, converged, history


def _newton_on_ws(sub, datafit, Z, W_ws, b, l1, l2, fit_intercept, eps_in, budget):
    """Binary proximal Newton steps on the working set until its violation is ``<= eps_in``."""
    steps = 0
    while steps < budget:
        R, H = datafit.grad_hess(Z)
        r, h = R[0], H[0]
        grad = sub.dot(r)
        g_b = float(r.sum()) if fit_intercept else 0.0
        viol = _kkt(grad, W_ws[0], l1, l2)
        if max(float(viol.max()) if sub.size else 0.0, abs(g_b)) <= eps_in:
            break
        steps += 1
        f = datafit.value(Z) + _penalty(W_ws, l1, l2)
        if _block_step(sub, datafit, Z, 0, W_ws[0], b, r, h, grad, g_b, l1, l2,
                       fit_intercept, eps_in) <= 1e-15 * f:
            # no decrease possible at this precision: the violation left is
            # rounding noise in the gradient
            steps -= 1
            break
    return steps


def _block_step(sub, datafit, Z, k, w, b, r, h, grad, g_b, l1, l2, fit_intercept, eps_in):
    """One proximal Newton step on block ``k`` (``w``, ``b[k]``, ``Z[k]`` in place).

    Returns the decrease of the objective (0.0 if no step was taken).
    """
    n = Z.shape[1]
    hdiag = sub.hdiag(h)
    H = float(h.sum())
    if fit_intercept and H > 0:
        # intercept minimised out: columns centred by their h-weighted means
        # (see _logistic_fast.pyx)
        mu = sub.dot(h) / H
        hdiag = np.maximum(hdiag - H * mu * mu, 0.0)
        grad_c = grad - g_b * mu
    else:
        mu = np.zeros(sub.size)
        grad_c = grad
    hmu = H * mu
    delta = np.zeros(sub.size)
    v = np.zeros(n)
    s = np.zeros(1)
    sweeps = _Sweeps(sub.size, _CD_FRACTION_BINARY * eps_in)
    while sweeps.more():
        sweeps.done(sub.epoch(sweeps.active, grad_c, hdiag, mu, hmu, w, delta, h, v, s, l1, l2),
                    w + delta)
    db = -g_b / H - s[0] if fit_intercept and H > 0 else 0.0
    if db == 0 and not delta.any():
        return 0.0
    u = np.full(n, db)
    sub.axpy(delta, u)
    f0 = datafit.value(Z)
    pen0 = _penalty(w, l1, l2)
    model_decr = _wsum(grad, delta) + g_b * db + _penalty(w + delta, l1, l2) - pen0
    # backtracking, Armijo on the composite model (Tseng & Yun 2009)
    t = 1.0
    for _ in range(_MAX_BACKTRACK):
        f1 = datafit.value_block(Z, k, Z[k] + t * u) + _penalty(w + t * delta, l1, l2)
        if f1 <= f0 + pen0 + 1e-4 * t * min(model_decr, 0.0):
            break
        t *= 0.5
    else:
        return 0.0
    w += t * delta
    b[k] += t * db
    Z[k] += t * u
    return f0 + pen0 - f1


def _mn_newton_on_ws(sub, datafit, Z, W_ws, b, l1, l2, fit_intercept, eps_in, budget):
    """Multinomial proximal Newton steps, all classes jointly, until violation ``<= eps_in``.

    The subproblem uses the exact softmax Hessian (kernel ``mn_cd_epoch``).
    When ``sub`` holds centred columns (``sub.means``), the step is taken in
    coordinates ``(Delta, delta_b')`` with ``Z += Delta (X - means) + delta_b'``,
    i.e. the intercepts move by ``delta_b' - Delta @ means``.
    """
    K, n = Z.shape
    m = sub.size
    steps = 0
    while steps < budget:
        P = datafit.proba(Z)
        sw_n = datafit.sw_n
        R = P.copy()
        R[datafit.labels, datafit._rows] -= 1.0
        R *= sw_n
        g_b = R.sum(axis=1) if fit_intercept else np.zeros(K)
        G = sub.dot_multi(R)  # gradient in the centred coordinates
        viol = _kkt(G + np.outer(g_b, sub.means), W_ws, l1, l2)
        vmax = max(float(viol.max()) if m else 0.0, float(np.abs(g_b).max()))
        if vmax <= eps_in:
            break
        steps += 1
        Q = P * sw_n
        hdiag = sub.hdiag_multi(Q * (1.0 - P))
        D = np.zeros((K, m))
        U = np.zeros((K, n))
        a = np.zeros(n)
        db = np.zeros(K)
        if fit_intercept:
            # intercept block of the Hessian, singular along (1, ..., 1)
            A = np.diag(Q.sum(axis=1)) - np.einsum("kn,ln->kl", Q, P)
            A_pinv = np.linalg.pinv(A, hermitian=True)
        sweeps = _Sweeps(m, _CD_FRACTION_MULTI * eps_in)
        while sweeps.more():
            crit = sub.mn_epoch(sweeps.active, G, hdiag, W_ws, D, P, Q, U, a, l1, l2)
            if fit_intercept:
                deriv = g_b + (Q * (U - a)).sum(axis=1)
                step = -A_pinv @ deriv
                db += step
                U += step[:, None]
                a += np.einsum("k,kn->n", step, P)
                crit = max(crit, float(np.abs(deriv).max()))
            if l1 > 0 and m:
                _shift_along_null_space(sub, W_ws, D, U, a, l1, l2)
            sweeps.done(crit, W_ws + D)
        if not D.any() and not db.any():
            steps -= 1
            break
        f0 = datafit.value(Z)
        pen0 = _penalty(W_ws, l1, l2)
        model_decr = _wsum(G, D) + float(g_b @ db) + _penalty(W_ws + D, l1, l2) - pen0
        t = 1.0
        for _ in range(_MAX_BACKTRACK):
            f1 = datafit.value(Z + t * U) + _penalty(W_ws + t * D, l1, l2)
            if f1 <= f0 + pen0 + 1e-4 * t * min(model_decr, 0.0):
                break
            t *= 0.5
        else:
            steps -= 1  # no decrease possible at this precision
            break
        W_ws += t * D
        b += t * (db - D @ sub.means)
        Z += t * U
        if f0 + pen0 - f1 <= 1e-15 * (f0 + pen0):
            break  # rounding floor
    return steps
