"""Anderson extrapolation of a fixed-point sequence (Bertrand & Massias 2021).

Given the last ``K + 1`` iterates ``w_0 .. w_K`` of a linearly convergent
method (here coordinate-descent epochs), with differences ``U = [w_1 - w_0,
..., w_K - w_{K-1}]``, the extrapolated point is ``sum_k c_k w_k`` with
``c = z / sum(z)``, ``(U U^T) z = 1`` (Anderson, J. ACM 1965; Bertrand &
Massias, "Anderson acceleration of coordinate descent", AISTATS 2021; as in
skglm's ``utils/anderson.py``). Solvers try the point and keep it only if it
lowers the objective, so a poor extrapolation costs one evaluation.
"""
import numpy as np

__all__ = ["anderson_weights"]


def anderson_weights(iterates):
    """Weights ``c`` (summing to one) extrapolating the last ``K + 1`` iterates (rows).

    Parameters
    ----------
    iterates : ndarray of shape (K + 1, n), float64
        Oldest first.

    Returns
    -------
    c : ndarray of shape (K,) or None
        The extrapolated point is ``c @ iterates[1:]``; None when the
        system is singular or the weights do not normalise.
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
