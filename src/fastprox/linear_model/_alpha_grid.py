"""The automatic alpha grid of the elastic-net paths, shared by ``enet_path`` and the CV estimators.

``alpha_max`` is the smallest ``alpha`` whose solution is all zeros,
``||Xc.T yc||_inf / (n l1_ratio)`` (``_penalties.alpha_max_from_grad``); the
grid runs geometrically from it down to ``eps * alpha_max`` (Friedman,
Hastie & Tibshirani, J. Stat. Softw. 2010, section 2.5), as scikit-learn's
``sklearn.linear_model._coordinate_descent._alpha_grid``, including its
degenerate case: when ``alpha_max`` is at float64 resolution (``y``
constant, or ``X`` tiny) every alpha is that resolution. With ``positive``,
where the installed scikit-learn does so (1.8+), only positive correlations
count: ``max(0, max(Xc.T yc)) / (n l1_ratio)``.
"""
import inspect

import numpy as np
from sklearn.linear_model import _coordinate_descent as _sk_cd

from ._penalties import alpha_max_from_grad

__all__ = ["alpha_max", "alpha_grid"]

#: the installed scikit-learn's grid uses positive correlations only under ``positive=True``
POSITIVE_GRID = "positive" in inspect.signature(_sk_cd._alpha_grid).parameters


def alpha_max(design, yc, l1_ratio, positive=False, xy=None):
    """Smallest alpha with an all-zero solution: ``||Xc.T yc||_inf / (n * l1_ratio)``.

    Parameters
    ----------
    design : _quadratic_design.QuadraticDesign
    yc : ndarray of shape (n_samples,)
        The target, centred if the design is.
    l1_ratio : float
    positive : bool, default=False
    xy : ndarray of shape (n_features,), default=None
        ``Xc.T @ yc`` when known (``enet_path``'s ``Xy``).

    Returns
    -------
    alpha_max : float
        ``inf`` for ``l1_ratio == 0``.
    """
    if l1_ratio == 0:
        return np.inf
    grad = design.xt_r(yc) if xy is None else np.asarray(xy, dtype=np.float64).ravel()
    if positive and POSITIVE_GRID:
        grad = np.maximum(grad, 0.0)
    return alpha_max_from_grad(grad, design.n_samples, l1_ratio)


def alpha_grid(design, yc, l1_ratio, eps, n_alphas, positive=False, xy=None):
    """``n_alphas`` values from ``alpha_max`` down to ``eps * alpha_max``, decreasing.

    Parameters
    ----------
    design : _quadratic_design.QuadraticDesign
    yc : ndarray of shape (n_samples,)
    l1_ratio : float
        In ``(0, 1]``.
    eps : float
    n_alphas : int
    positive, xy : see :func:`alpha_max`

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)

    Raises
    ------
    ValueError
        For ``l1_ratio == 0``: ``alpha_max`` is infinite, the grid must be
        given explicitly.
    """
    a_max = alpha_max(design, yc, l1_ratio, positive, xy)
    if not np.isfinite(a_max):
        raise ValueError("l1_ratio=0 needs an explicit alphas grid (alpha_max is infinite)")
    resolution = np.finfo(np.float64).resolution
    if a_max <= resolution:
        return np.full(n_alphas, resolution)
    return np.geomspace(a_max, a_max * eps, num=n_alphas)
