"""Exact Newton step on the support, for a proximal Newton solve that stalls.

The proximal Newton steps of ``_newton_solver`` solve their quadratic model
by coordinate descent, stopped at a fixed multiple of the working set's
target violation. At weak regularisation (``C >= 100``) the model's Hessian
is ill conditioned (condition ~1e7 on ``make_classification(300, 30)`` at
``C = 1e4``), the step's starting violation is already below the CD
threshold, every Newton step shrinks to one CD sweep, and CD converges
linearly at a rate close to one (see docs/design/logistic-newton.md,
"Large C").

When the caller sees that stall (:class:`StallWatch`), it takes this step
instead: a Newton step of the problem restricted to an orthant, as in Andrew
& Gao's OWL-QN ("Scalable training of L1-regularized log-linear models",
ICML 2007), solved by a primal active-set method (Nocedal & Wright,
"Numerical Optimization", 2nd ed., ch. 16.5):

* the free coordinates are the nonzero ones and the zero ones whose KKT
  condition fails (all of them without an L1 term); their signs ``sigma``
  are those of the coefficients, or of ``-gradient`` for a zero one;
* on the orthant the penalty is smooth, ``l1 sigma . w + l2/2 ||w||^2``;
  the model's minimiser on the free coordinates comes from the explicit
  Hessian ``X_S^T H X_S + l2 I`` (intercepts as free coordinates), by an
  eigendecomposition: where the Hessian is singular (pure L1 on collinear
  columns, the softmax's common shift) the model is linear and the step
  follows that ray;
* the step walks towards that minimiser until a free coordinate reaches
  zero, fixes it there and solves again, so the final point stays in the
  orthant; a backtracking line search on the true objective follows.

The caller then resumes CD steps, which let the support change.
"""
import numpy as np

from .._threads import blas_single_threaded
from ._penalties import enet_value

__all__ = ["support_newton_step", "StallWatch"]

_MAX_DIM = 2000      # unknowns of the explicit Newton system (32 MB)
_FREE_FLOPS = 2e7    # an exact step this cheap needs no stall work to pay for it
_STALL_RATIO = 0.5
_STALL_ROUNDS = 3
_MAX_BACKTRACK = 30
_MAX_FACES = 50
_RCOND = 1e-11


def _psd_solve(A, rhs):
    """Minimum-norm least-squares solution of ``A x = rhs`` and the part of ``rhs`` in ker ``A``.

    ``A`` is symmetric positive semi-definite. The second result is ``None``
    when ``rhs`` lies in the range of ``A`` (to rounding); otherwise the model
    ``x . A x / 2 - rhs . x`` decreases without bound along it (a ray).
    """
    evals, evecs = np.linalg.eigh(A)
    top = max(float(evals.max(initial=0.0)), 0.0)
    pos = evals > _RCOND * top
    coef = evecs.T @ rhs
    x = evecs[:, pos] @ (coef[pos] / evals[pos])
    ray = evecs[:, ~pos] @ coef[~pos]
    if np.linalg.norm(ray) <= 1e-9 * np.linalg.norm(rhs):
        return x, None
    return x, ray


class StallWatch:
    """Watches the rounds of a working-set solve and says when to take the exact step.

    ``exact(v)`` is called with each round's starting violation ``v``. A round
    is slow when ``v`` is above ``_STALL_RATIO`` times the previous round's;
    after ``_STALL_ROUNDS`` slow rounds in a row the next round takes the
    exact step, if its cost (flops of assembling and decomposing the
    Hessian, estimated) is below ``_FREE_FLOPS`` or below the work of the
    slow rounds since the last exact step (so a stall at most doubles the
    work), and never twice in a row (CD rounds in between let the support
    change). Ordinary fits converge superlinearly and rarely trigger it.
    """

    def __init__(self, sub, K, n):
        m = sub.size
        nnz = sub.data.size if hasattr(sub, "data") else n * m
        dim = K * (m + 1)
        self.cost = K * K * (nnz + n) * (nnz + n) / max(n, 1) + 4.0 * dim ** 3
        self.round_cost = 8.0 * K * (nnz + n)
        self.possible = dim <= _MAX_DIM
        self.spent = 0.0
        self.prev = np.inf
        self.slow = 0
        self.last = False

    def exact(self, v):
        self.slow = self.slow + 1 if v > _STALL_RATIO * self.prev else 0
        self.prev = v
        if self.slow:
            self.spent += self.round_cost
        self.last = (self.possible and self.slow >= _STALL_ROUNDS and not self.last
                     and (self.cost <= _FREE_FLOPS or self.cost <= self.spent))
        if self.last:
            self.spent = 0.0
        return self.last


def _free_coordinates(W, G, l1, l2):
    """Free coordinates (bool, shape of ``W``) and their signs (see module docstring)."""
    if l1 == 0:
        return np.ones(W.shape, dtype=bool), np.zeros(W.shape)
    g = G + l2 * W
    sigma = np.sign(W)
    zero = W == 0
    sigma[zero] = -np.sign(g[zero])
    free = ~zero | (np.abs(g) > l1)
    return free, sigma


def support_newton_step(*args):
    """:func:`_support_newton_step`, BLAS single-threaded (small dense algebra; see
    docs/design/kernels-blas-single-threaded.md)."""
    with blas_single_threaded():
        return _support_newton_step(*args)


def _support_newton_step(sub, datafit, Z, W, b, G, g_b, P, Q, l1, l2, fit_intercept):
    """Projected Newton step on the free coordinates; ``W``, ``b``, ``Z`` updated in place.

    Parameters
    ----------
    sub : working set of ``_logistic_design`` (columns possibly centred, ``sub.means``)
    datafit : _datafits.Binomial or _datafits.Multinomial
    Z : ndarray of shape (K, n)
        Scores ``W (X_ws - means) + b'`` with ``b' = b + W @ means``.
    W : ndarray of shape (K, m)
        Working-set coefficients.
    b : ndarray of shape (K,)
    G, g_b : ndarray of shape (K, m) and (K,)
        Datafit gradient in the working set's (centred) coordinates.
    P, Q : ndarray of shape (K, n)
        Hessian weights: block ``(k, l)`` of the datafit Hessian has sample
        weights ``Q_k (delta_kl - P_l)`` (binary: ``P = 0``, ``Q = h``).
    l1, l2 : float
    fit_intercept : bool

    Returns
    -------
    decrease : float
        Decrease of the objective; 0.0 when no step was taken.
    """
    K, m = W.shape
    free, sigma = _free_coordinates(W, G, l1, l2)
    cols = np.flatnonzero(free.any(axis=0))
    if cols.size == 0 and not fit_intercept:
        return 0.0
    c = cols.size + 1  # columns + the intercept
    pairs = [(k, l) for k in range(K) for l in range(k, K)]  # H is symmetric
    blocks = sub.gram(cols, [Q[k] * ((k == l) - P[l]) for k, l in pairs])
    H = np.empty((K * c, K * c))
    for (k, l), block in zip(pairs, blocks):
        H[k * c:(k + 1) * c, l * c:(l + 1) * c] = block
        H[l * c:(l + 1) * c, k * c:(k + 1) * c] = block.T
    grad = np.zeros((K, c))
    grad[:, :-1] = (G + l2 * W + l1 * sigma)[:, cols]
    grad[:, -1] = g_b
    keep = np.zeros((K, c), dtype=bool)
    keep[:, :-1] = free[:, cols]
    keep[:, -1] = fit_intercept
    diag = np.zeros((K, c))
    diag[:, :-1] = l2
    H += np.diag(diag.ravel())
    g = grad.ravel()
    w0 = np.zeros((K, c))
    w0[:, :-1] = W[:, cols]
    w0 = w0.ravel()
    sig = np.zeros((K, c))
    sig[:, :-1] = sigma[:, cols]
    sig = sig.ravel()
    keep = keep.ravel()
    # primal active-set method on the Newton model (Nocedal & Wright, ch. 16.5):
    # from the current point, the model's minimiser on the free coordinates;
    # walk towards it until a free coordinate reaches zero, fix it there, repeat
    step = np.zeros(K * c)
    for _ in range(_MAX_FACES):
        rhs = -(g + H @ step)[keep]
        x, ray = _psd_solve(H[np.ix_(keep, keep)], rhs)
        if ray is not None and l1 == 0:
            return 0.0  # unbounded model without L1: leave it to the CD steps
        d = np.zeros(K * c)
        d[keep] = x if ray is None else ray  # a ray: the model is linear along it
        limit = 1.0 if ray is None else np.inf
        idx = np.flatnonzero(keep & (sig * d < 0)) if l1 > 0 else np.zeros(0, dtype=int)
        dist = np.maximum(sig[idx] * (w0[idx] + step[idx]), 0.0) / np.abs(d[idx])
        tau = min(limit, float(dist.min(initial=np.inf)))
        if not np.isfinite(tau):
            return 0.0
        step += tau * d
        if tau >= limit:
            break
        hit = idx[dist <= tau * (1 + 1e-12)]
        step[hit] = -w0[hit]
        keep[hit] = False
    step = step.reshape(K, c)
    D = np.zeros((K, m))
    D[:, cols] = step[:, :-1]
    db = step[:, -1]
    f0 = datafit.value(Z) + enet_value(W, l1, l2)
    slope_g = G + l2 * W + l1 * sigma  # derivative of the orthant's smooth objective
    t = 1.0
    for _ in range(_MAX_BACKTRACK):
        W_t = W + t * D
        if l1 > 0:
            W_t[W_t * sigma < 0] = 0.0  # rounding: never cross zero
        dW = W_t - W
        U = np.repeat((t * db).reshape(K, 1), Z.shape[1], axis=1)
        for k in range(K):
            sub.axpy(dW[k], U[k])
        f1 = datafit.value(Z + U) + enet_value(W_t, l1, l2)
        slope = float((slope_g * dW).sum() + t * (g_b @ db))
        if f1 <= f0 + 1e-4 * min(slope, 0.0) and f1 < f0:
            W[...] = W_t
            b += t * db - dW @ sub.means
            Z += U
            return f0 - f1
        t *= 0.5
    return 0.0
