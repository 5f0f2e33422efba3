"""L-BFGS for logistic regression without an L1 term (L2 or no penalty).

Minimises the mean-scaled objective of ``_newton_solver`` with ``l1 = 0``,

    F(W, b) = sum_i s_i loss(x_i W.T + b, y_i) + l2/2 ||W||_F^2,

``s_i = sample_weight_i / sum(sample_weight)``, which is exactly the function
scikit-learn's ``lbfgs`` solver minimises (``LinearModelLoss`` with the loss
averaged by the sum of the sample weights and ``l2_reg_strength = 1 / (C
sum(sw))``), from the same starting point (zeros, or the warm start) with the
same ``scipy.optimize.minimize(method="L-BFGS-B")`` options (``gtol = tol``,
``ftol = 64 eps``, ``maxls = 50``) and the same parameter layout (binary
``[w, b]``; multinomial ``(K, p + 1)`` raveled in Fortran order). The
iterates are scikit-learn's up to rounding, so the fit stops where
scikit-learn's does, after as many iterations.

What is faster is one evaluation of ``F`` and its gradient (``_Evaluator``):
on binary problems with dense C-ordered ``X`` too large for the caches, one
compiled pass reads each row once for its score, its loss and its share of
``R @ X`` (scikit-learn reads ``X`` twice, by two BLAS products); otherwise
the same two products as scikit-learn around a compiled loss, without its
per-call overheads. BLAS runs on one thread. Measured in
docs/design/logistic-l2-default.md.
"""
import numpy as np
import scipy.sparse as sp
from scipy import optimize

from .._kernels import logistic_fast
from .._threads import blas_single_threaded, get_num_threads

__all__ = ["logistic_lbfgs"]


_ROWS_PER_BLOCK = 256  # fused pass: rows per block of partial gradients
_MAX_BLOCKS = 64       # ... and at most this many blocks (their buffers: K (p + 1) each)
# the fused pass (binary): on X that stays in cache the two BLAS products were as
# fast; on X streamed from memory it took 0.5-0.6x their time. Several classes:
# K dots per row lost to BLAS's products 1.5-2x (docs/design/logistic-l2-default.md)
_FUSED_MIN_BYTES = 4 << 20
_FUSED = True          # A/B switch of the measurements


class _Evaluator:
    """The loss of ``(W, b)`` (without the penalty) and its gradient.

    Binary, dense C-ordered ``X`` of 4 MiB or more: one fused pass
    (``fused_loss_grad``), each row read once for its scores and its share
    of ``R @ X``, rows cut into blocks fixed by ``n`` alone so that the sum
    does not depend on the threads. Otherwise scikit-learn's two products
    (BLAS or scipy on one thread, in ``X``'s precision as there, no copy of
    ``X``) around the loss in one compiled pass.
    """

    def __init__(self, X, datafit, K):
        n, p = X.shape
        self.y = datafit.y if K == 1 else np.zeros(1)
        self.labels = datafit.labels if K > 1 else np.zeros(1, dtype=np.intp)
        self.sw = np.ascontiguousarray(datafit.sw_n, dtype=np.float64)
        self.fused = (_FUSED and not sp.issparse(X) and X.flags.c_contiguous and n > 0
                      and K == 1 and X.nbytes >= _FUSED_MIN_BYTES)
        if self.fused:
            self.X = X
            nb = max(1, min(-(-n // _ROWS_PER_BLOCK), _MAX_BLOCKS))
            self.part = np.empty((nb, K, p + 1))
            self.zbuf = np.empty((nb, K))
            self.lossb = np.empty(nb)
            return
        # scikit-learn's products (BLAS / scipy on one thread), without its copies
        self.X = sp.csr_matrix(X) if sp.issparse(X) else X
        self.R = np.empty((K, n))

    def __call__(self, W, b):
        """``(loss, G, g_b)``: ``G = dL/dW`` of shape ``(K, p)``, ``g_b = dL/db``."""
        K, p = W.shape
        if self.fused:
            logistic_fast.fused_loss_grad(self.X, W, b, self.y, self.labels, self.sw,
                                          self.part, self.zbuf, self.lossb,
                                          get_num_threads())
            acc = self.part.sum(axis=0)  # blocks in order
            return float(self.lossb.sum()), acc[:, :p], acc[:, p]
        # float32 X: scores in float32, as scikit-learn's (one product, no copy of X)
        Z = np.ascontiguousarray(self.X @ W.T.astype(self.X.dtype), dtype=np.float64)
        Z += b
        if K == 1:
            loss = logistic_fast.binomial_loss_grad(Z[:, 0], self.y, self.sw, self.R[0])
        else:
            loss = logistic_fast.multinomial_loss_grad(Z, self.labels, self.sw, self.R)
        if sp.issparse(self.X):
            G = np.ascontiguousarray((self.X.T @ self.R.T).T)
        else:
            # BLAS in X's precision (as scikit-learn): 2-6x xt_r_dense on these shapes
            G = (self.R.astype(self.X.dtype, copy=False) @ self.X).astype(np.float64,
                                                                           copy=False)
        return loss, G, self.R.sum(axis=1)


def _objective(evaluate, K, p, l2, fit_intercept):
    """scipy's ``fun(x) -> (f, grad)`` in scikit-learn's layout: binary ``[w, b]``,
    multinomial ``(K, p + 1)`` raveled in Fortran order (intercepts last)."""
    dof = p + int(fit_intercept)

    def fun(x):
        Wf = x.reshape((K, dof), order="F")
        W = np.ascontiguousarray(Wf[:, :p])
        b = np.ascontiguousarray(Wf[:, p]) if fit_intercept else np.zeros(K)
        loss, G, g_b = evaluate(W, b)
        grad = np.empty((K, dof), order="F")
        grad[:, :p] = G + l2 * W
        if fit_intercept:
            grad[:, p] = g_b
        return loss + 0.5 * l2 * float((W * W).sum()), grad.ravel(order="F")

    return fun


def logistic_lbfgs(X, datafit, W, b, l2, *, fit_intercept=True, tol=1e-4, max_iter=100):
    """Minimise ``F(W, b)`` (module docstring) by L-BFGS from ``(W, b)``, both updated in place.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        float32 or float64, as validated by the estimator.
    datafit : _datafits.Binomial or _datafits.Multinomial
        Its ``sw_n`` must sum to one (scikit-learn's averaging).
    W : ndarray of shape (K, n_features), float64
    b : ndarray of shape (K,), float64
    l2 : float
        Penalty strength of the mean-scaled objective (0: no penalty).
    tol : float
        scikit-learn's ``gtol``: stop when every gradient component is ``<= tol``.
    max_iter : int
        scikit-learn's ``maxiter``.

    Returns
    -------
    n_iter : int
        Iterations run (scikit-learn's ``n_iter_``).
    converged : bool
        Whether every gradient component is ``<= tol`` (scikit-learn also
        accepts L-BFGS-B's stop on a stalled objective; the caller finishes
        such fits with proximal Newton).
    """
    K, p = W.shape
    fun = _objective(_Evaluator(X, datafit, K), K, p, l2, fit_intercept)
    x0 = (np.hstack([W, b[:, None]]) if fit_intercept else W).ravel(order="F")
    with blas_single_threaded():
        res = optimize.minimize(
            fun, x0, method="L-BFGS-B", jac=True,
            options={"maxiter": int(max_iter), "maxls": 50, "gtol": tol,
                     "ftol": 64 * np.finfo(float).eps})
    Wf = res.x.reshape((K, p + int(fit_intercept)), order="F")
    W[:] = Wf[:, :p]
    if fit_intercept:
        b[:] = Wf[:, p]
    # L-BFGS-B also stops when the objective stops decreasing (ftol), which at a
    # tight tol can leave the gradient above it: only the gradient test counts here
    converged = res.status == 0 and float(np.abs(res.jac).max(initial=0.0)) <= tol
    return min(int(res.nit), int(max_iter)), converged
