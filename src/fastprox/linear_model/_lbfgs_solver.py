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

What is faster is one evaluation of ``F`` and its gradient: the scores by
one BLAS product on one thread (no copy of ``X``), the loss and its
derivatives in the scores in one compiled pass (``binomial_loss_grad``,
``multinomial_loss_grad``), and ``R @ X`` for all classes at once by the
Newton solver's gradient kernel (``xt_r_dense`` / ``xt_r_sparse``). Measured
in docs/design/logistic-l2-default.md.
"""
import numpy as np
import scipy.sparse as sp
from scipy import optimize

from .._kernels import logistic_fast
from .._threads import blas_single_threaded, get_num_threads
from ._logistic_design import csc_arrays

__all__ = ["logistic_lbfgs"]


class _Scores:
    """``X`` for the two products of an evaluation: ``X @ W.T`` and ``R @ X``.

    Dense float64 ``X`` is used as given (any order); dense float32 ``X`` is
    read by the kernels as it is for ``R @ X`` and through one float64 copy
    for the scores (a mixed-precision BLAS product would copy ``X`` at every
    evaluation). Sparse ``X`` is CSC for the kernel and CSR for the scores.
    """

    def __init__(self, X):
        self.sparse = sp.issparse(X)
        if self.sparse:
            csc, self._csc = csc_arrays(X)
            self._left = sp.csr_matrix(csc)
        else:
            self.X = X
            self._left = X if X.dtype == np.float64 else X.astype(np.float64)
        self.n_features = X.shape[1]

    def scores(self, Wt):
        """``X @ Wt`` for ``Wt`` of shape ``(p,)`` or ``(p, K)``; float64, C-ordered."""
        return np.ascontiguousarray(self._left @ Wt)

    def xt(self, R):
        """``R @ X`` for ``R`` of shape ``(K, n)``, C-ordered float64; result ``(K, p)``."""
        out = np.empty((R.shape[0], self.n_features))
        if self.sparse:
            logistic_fast.xt_r_sparse(*self._csc, R, out, get_num_threads())
        else:
            logistic_fast.xt_r_dense(self.X, R, out, get_num_threads())
        return out


def _binary_fun(scores, y, sw_n, l2, fit_intercept):
    p = scores.n_features
    g = np.empty(y.size)

    def fun(x):
        w = x[:p]
        z = scores.scores(w)
        if fit_intercept:
            z += x[p]
        loss = logistic_fast.binomial_loss_grad(z, y, sw_n, g)
        grad = np.empty_like(x)
        grad[:p] = scores.xt(g[None])[0] + l2 * w
        if fit_intercept:
            grad[p] = g.sum()
        return loss + 0.5 * l2 * float(np.dot(w, w)), grad

    return fun


def _multinomial_fun(scores, labels, K, sw_n, l2, fit_intercept):
    p = scores.n_features
    dof = p + int(fit_intercept)
    G = np.empty((K, labels.size))

    def fun(x):
        Wf = x.reshape((K, dof), order="F")
        W = Wf[:, :p]
        Z = scores.scores(W.T)
        if fit_intercept:
            Z += Wf[:, p]
        loss = logistic_fast.multinomial_loss_grad(Z, labels, sw_n, G)
        grad = np.empty((K, dof), order="F")
        grad[:, :p] = scores.xt(G) + l2 * W
        if fit_intercept:
            grad[:, p] = G.sum(axis=1)
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
    scores = _Scores(X)
    sw_n = np.ascontiguousarray(datafit.sw_n, dtype=np.float64)
    if K == 1:
        fun = _binary_fun(scores, datafit.y, sw_n, l2, fit_intercept)
        x0 = np.concatenate([W[0], b[:1]]) if fit_intercept else W[0].copy()
    else:
        fun = _multinomial_fun(scores, datafit.labels, K, sw_n, l2, fit_intercept)
        x0 = (np.hstack([W, b[:, None]]) if fit_intercept else W).ravel(order="F")
    with blas_single_threaded():
        res = optimize.minimize(
            fun, x0, method="L-BFGS-B", jac=True,
            options={"maxiter": int(max_iter), "maxls": 50, "gtol": tol,
                     "ftol": 64 * np.finfo(float).eps})
    if K == 1:
        W[0] = res.x[:p]
        if fit_intercept:
            b[0] = res.x[p]
    else:
        Wf = res.x.reshape((K, p + int(fit_intercept)), order="F")
        W[:] = Wf[:, :p]
        if fit_intercept:
            b[:] = Wf[:, p]
    # L-BFGS-B also stops when the objective stops decreasing (ftol), which at a
    # tight tol can leave the gradient above it: only the gradient test counts here
    converged = res.status == 0 and float(np.abs(res.jac).max(initial=0.0)) <= tol
    return min(int(res.nit), int(max_iter)), converged
