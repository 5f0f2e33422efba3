"""The elastic-net penalty, shared by the coordinate-descent and proximal Newton solvers.

Both solvers minimise ``F(w) + g(w)`` with a smooth datafit ``F`` and

    g(w) = l1 ||w||_1 + l2/2 ||w||_2^2    (+ the indicator of w >= 0 if ``positive``)

(Friedman, Hastie & Tibshirani, "Regularization paths for generalized linear
models via coordinate descent", J. Stat. Softw. 33, 2010). What the solvers
need from ``g`` in Python is written here once, in the style of skglm's
penalty objects (Bertrand et al., "Beyond L1: faster and better sparse models
with skglm", NeurIPS 2022): its value, the distance of ``-grad F`` to its
subdifferential (the KKT violation that ranks features for the working sets
of Massias et al., "Celer: a fast solver for the Lasso with dual
extrapolation", ICML 2018), the smallest penalty with an all-zero solution,
and the exact minimisation of ``g`` along a common shift (the multinomial
null direction). Its proximal operator, the soft-threshold
``prox(z) = sign(z) max(|z| - l1 / L, 0) / (1 + l2 / L)``, is applied inside
the compiled epochs (``cd_fast``, ``logistic_fast``); the public one is
:func:`fastprox.prox.soft_threshold`.

Arrays may have any shape (the multinomial solver passes ``(K, p)``).
"""
import numpy as np

__all__ = ["enet_value", "kkt_distance", "alpha_max_from_grad", "enet_shift"]


def enet_value(w, l1, l2):
    """Penalty value ``l1 ||w||_1 + l2/2 ||w||_2^2`` (float).

    Parameters
    ----------
    w : ndarray
        Coefficients, any shape (summed over all entries).
    l1, l2 : float
        Penalty strengths.

    Returns
    -------
    value : float
    """
    return l1 * float(np.abs(w).sum()) + 0.5 * l2 * float(np.square(w).sum())


def kkt_distance(grad, w, l1, l2, positive=False):
    """Per coefficient, the distance of ``-grad`` to the subdifferential of ``g`` at ``w``.

    ``dist_j = |grad_j + l2 w_j + l1 sign(w_j)|`` where ``w_j != 0``, else
    ``max(|grad_j| - l1, 0)`` (``max(-grad_j - l1, 0)`` with ``positive``):
    zero exactly where the optimality condition ``-grad_j in d g(w_j)``
    holds (skglm's ``subdiff_distance``; celer's feature score).

    Parameters
    ----------
    grad : ndarray
        Gradient of the datafit at ``w`` (for the quadratic datafit
        ``1/2 ||y - X w||^2``, ``-X.T @ r``), float64.
    w : ndarray, same shape as ``grad``
    l1, l2 : float
    positive : bool, default=False
        ``g`` includes the constraint ``w >= 0``.

    Returns
    -------
    dist : ndarray, same shape as ``grad``
    """
    g = grad + l2 * w
    out = np.empty_like(g)
    zero = w == 0
    if positive:
        out[zero] = np.maximum(-g[zero] - l1, 0.0)
    else:
        out[zero] = np.maximum(np.abs(g[zero]) - l1, 0.0)
    nz = ~zero
    out[nz] = np.abs(g[nz] + l1 * np.sign(w[nz]))
    return out


def alpha_max_from_grad(grad, n_samples, l1_ratio):
    """Smallest ``alpha`` whose elastic-net solution is zero: ``||grad||_inf / (n l1_ratio)``.

    With the scikit-learn scaling ``l1 = n alpha l1_ratio`` and ``grad =
    X.T @ y`` (centred when there is an intercept), ``w = 0`` satisfies
    ``kkt_distance(-grad, 0, l1, l2) == 0`` exactly when ``l1 >= ||grad||_inf``.
    ``inf`` for ``l1_ratio == 0`` (a ridge solution is never zero), ``0.0``
    without features.
    """
    if l1_ratio == 0:
        return np.inf
    return float(np.abs(grad).max()) / (n_samples * l1_ratio) if grad.size else 0.0


def enet_shift(V, l1, l2):
    """Per column ``j``, ``argmin_c l1 sum_k |V[k, j] + c| + l2/2 sum_k (V[k, j] + c)^2``.

    The penalty minimised along a common shift of a column (the softmax's
    null direction): a median of the column for pure L1 (any point between
    the two middle values), else the root of the nondecreasing, piecewise
    linear derivative ``d(c) = l1 sum_k sign(V[k] + c) + l2 (sum_k V[k] + K c)``.
    With the breakpoints ``u = sort(-V)``, ``d`` is linear between them; the
    root lies on the piece after the last breakpoint where ``d`` (from the
    right) is negative, and is that piece's root clipped to it (a breakpoint
    where ``d`` jumps over zero). Exact, vectorised over the columns.
    """
    if l2 == 0.0:
        return -np.median(V, axis=0)
    K = V.shape[0]
    U = np.sort(-V, axis=0)
    S = V.sum(axis=0)
    # d just right of each breakpoint: j + 1 of the K terms are positive there
    D = l1 * (2.0 * np.arange(1, K + 1) - K)[:, None] + l2 * (S + K * U)
    J = (D < 0).sum(axis=0)
    c = -(l1 * (2.0 * J - K) + l2 * S) / (l2 * K)
    cols = np.arange(V.shape[1])
    lo = np.where(J > 0, U[np.maximum(J - 1, 0), cols], -np.inf)
    hi = np.where(J < K, U[np.minimum(J, K - 1), cols], np.inf)
    return np.clip(c, lo, hi)
