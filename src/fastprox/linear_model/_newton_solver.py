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
   into a compact array (``_logistic_design.py``, kernels ``logistic_fast``);
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
classes for L1); block coordinate descent over classes, glmnet's choice,
converged too slowly (see docs/design/logistic-newton.md).

``Z`` is kept up to date incrementally, so ``X`` is read in full only twice
per outer iteration (gradient and gather).
"""
import numpy as np

from ._datafits import wsum
from ._newton_support import StallWatch, support_newton_step
from ._penalties import enet_shift, enet_value, kkt_distance
from ._working_set import select_violators, ws_size


_WS_MIN = 10
_INNER_FRACTION = 0.3
_MAX_CD_EPOCHS = 20
# CD sweeps of a Newton step stop when the model's violation is below this
# multiple of the step's target violation (see docs/design/logistic-newton.md)
_CD_FRACTION_BINARY = 3.0
_CD_FRACTION_MULTI = 0.3
_MAX_BACKTRACK = 30
_PINV_RCOND = 1e-10

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
    c = enet_shift(V, l1, l2)
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


def _intercept_pinv(A):
    """Pseudo-inverse of the intercepts' Hessian block, blind to the common shift.

    ``A`` is singular along ``(1, ..., 1)`` (the softmax ignores a common shift
    of the intercepts), and nearly so wherever a class's probabilities are all
    tiny (weak regularisation). Rounding leaves eigenvalues of ~1e-18 there,
    which a default pseudo-inverse keeps when the largest is ~1e-3: the intercept
    step then grew to 1e13 along the shift and the CD sweeps diverged (digits,
    pure L1, C=10). Eigenvalues below ``1e-10`` of the largest are dropped and
    the common shift is projected out.
    """
    evals, evecs = np.linalg.eigh(A)
    keep = evals > _PINV_RCOND * max(float(evals.max(initial=0.0)), 0.0)
    V = evecs[:, keep]
    V = V - V.mean(axis=0)
    return (V / evals[keep]) @ V.T


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


def logistic_ws_newton(design, datafit, W, b, l1, l2, *, fit_intercept=True, tol=1e-4,
                       max_iter=100):
    """Minimise ``F(W, b)`` (module docstring) from ``(W, b)``, both updated in place.

    Parameters
    ----------
    design : _logistic_design.LogisticDesign
    datafit : _datafits.Binomial or _datafits.Multinomial
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
        history.append(datafit.value(Z) + enet_value(W, l1, l2))
        R, _ = datafit.grad_hess(Z)
        viol = kkt_distance(design.xt(R), W, l1, l2)
        viol_b = float(np.abs(R.sum(axis=1)).max()) if fit_intercept else 0.0
        vmax = max(float(viol.max()) if p else 0.0, viol_b)
        if vmax <= tol:
            converged = True
            break
        support = (W != 0).any(axis=0)
        ws = select_violators(viol.max(axis=0), support,
                              ws_size(p, int(support.sum()), _WS_MIN))
        ws = np.sort(ws).astype(np.intp)
        W_ws = np.ascontiguousarray(W[:, ws])
        eps_in = max(tol, _INNER_FRACTION * vmax)
        if K == 1:
            rounds = _newton_on_ws(design.subset(ws), datafit, Z, W_ws, b, l1, l2,
                                   fit_intercept, eps_in, budget)
        else:
            rounds = _mn_newton_on_ws(design.subset(
                ws, center=datafit.sw_n if fit_intercept else None), datafit, Z,
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
    stall = StallWatch(sub, 1, Z.shape[1])
    while steps < budget:
        R, H = datafit.grad_hess(Z)
        r, h = R[0], H[0]
        grad = sub.dot(r)
        g_b = float(r.sum()) if fit_intercept else 0.0
        viol = kkt_distance(grad, W_ws[0], l1, l2)
        vmax = max(float(viol.max()) if sub.size else 0.0, abs(g_b))
        if vmax <= eps_in:
            break
        steps += 1
        if stall.exact(vmax) and support_newton_step(
                sub, datafit, Z, W_ws, b, grad[None], np.array([g_b]), np.zeros_like(H), H,
                l1, l2, fit_intercept) > 0:
            continue
        f = datafit.value(Z) + enet_value(W_ws, l1, l2)
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
    pen0 = enet_value(w, l1, l2)
    model_decr = wsum(grad, delta) + g_b * db + enet_value(w + delta, l1, l2) - pen0
    # backtracking, Armijo on the composite model (Tseng & Yun 2009)
    t = 1.0
    for _ in range(_MAX_BACKTRACK):
        f1 = datafit.value_block(Z, k, Z[k] + t * u) + enet_value(w + t * delta, l1, l2)
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
    stall = StallWatch(sub, K, n)
    while steps < budget:
        P = datafit.proba(Z)
        sw_n = datafit.sw_n
        R = P.copy()
        R[datafit.labels, datafit._rows] -= 1.0
        R *= sw_n
        g_b = R.sum(axis=1) if fit_intercept else np.zeros(K)
        G = sub.dot_multi(R)  # gradient in the centred coordinates
        viol = kkt_distance(G + np.outer(g_b, sub.means), W_ws, l1, l2)
        vmax = max(float(viol.max()) if m else 0.0, float(np.abs(g_b).max()))
        if vmax <= eps_in:
            break
        steps += 1
        Q = P * sw_n
        if stall.exact(vmax) and support_newton_step(sub, datafit, Z, W_ws, b, G, g_b, P, Q,
                                                     l1, l2, fit_intercept) > 0:
            continue
        hdiag = sub.hdiag_multi(Q * (1.0 - P))
        D = np.zeros((K, m))
        U = np.zeros((K, n))
        a = np.zeros(n)
        db = np.zeros(K)
        if fit_intercept:
            # intercept block of the Hessian, singular along (1, ..., 1)
            A = np.diag(Q.sum(axis=1)) - np.einsum("kn,ln->kl", Q, P)
            A_pinv = _intercept_pinv(A)
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
        pen0 = enet_value(W_ws, l1, l2)
        model_decr = wsum(G, D) + float(g_b @ db) + enet_value(W_ws + D, l1, l2) - pen0
        t = 1.0
        for _ in range(_MAX_BACKTRACK):
            f1 = datafit.value(Z + t * U) + enet_value(W_ws + t * D, l1, l2)
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
