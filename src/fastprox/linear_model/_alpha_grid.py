"""The automatic alpha grid of the elastic-net paths, shared by ``enet_path`` and the CV estimators.

``alpha_max`` is the smallest ``alpha`` whose solution is all zeros,
``||Xc.T yc||_inf / (n l1_ratio)`` (``_penalties.alpha_max_from_grad``); the
grid runs geometrically from it down to ``eps * alpha_max`` (Friedman,
Hastie & Tibshirani, J. Stat. Softw. 2010, section 2.5), as scikit-learn's
``sklearn.linear_model._coordinate_descent._alpha_grid``, including its
degenerate case: when ``alpha_max`` is at float64 resolution (``y``
constant, or ``X`` tiny) every alpha is that resolution.
"""
import numpy as np

from ._penalties import alpha_max_from_grad

__all__ = ["alpha_max", "alpha_grid"]


def alpha_max(design, yc, l1_ratio):
    """Smallest alpha with an all-zero solution: ``||Xc.T yc||_inf / (n * l1_ratio)``.

    Parameters
    ----------
    design : _quadratic_design.QuadraticDesign
    yc : ndarray of shape (n_samples,)
        The target, centred if the design is.
    l1_ratio : float

    Returns
    -------
    alpha_max : float
        ``inf`` for ``l1_ratio == 0``.
    """
    if l1_ratio == 0:
        return np.inf
    return alpha_max_from_grad(design.xt_r(yc), design.n_samples, l1_ratio)


def alpha_grid(design, yc, l1_ratio, eps, n_alphas):
    """``n_alphas`` values from ``alpha_max`` down to ``eps * alpha_max``, decreasing.

    Parameters
    ----------
    design : _quadratic_design.QuadraticDesign
    yc : ndarray of shape (n_samples,)
    l1_ratio : float
        In ``(0, 1]``.
    eps : float
    n_alphas : int

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)

    Raises
    ------
    ValueError
        For ``l1_ratio == 0``: ``alpha_max`` is infinite, the grid must be
        given explicitly.
    """
    a_max = alpha_max(design, yc, l1_ratio)
    if not np.isfinite(a_max):
        raise ValueError("l1_ratio=0 needs an explicit alphas grid (alpha_max is infinite)")
    resolution = np.finfo(np.float64).resolution
    if a_max <= resolution:
        return np.full(n_alphas, resolution)
    return np.geomspace(a_max, a_max * eps, num=n_alphas)
