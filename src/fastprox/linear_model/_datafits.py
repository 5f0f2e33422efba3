"""Datafits: the quadratic objective and duality gap, the binomial and multinomial log-losses.

- quadratic ``1/2 ||y - X w||^2`` with the elastic net: :func:`quadratic_objective`
  and :func:`enet_duality_gap` (scikit-learn's ``gap_enet``, so ``tol`` means
  the same; Friedman, Hastie & Tibshirani, J. Stat. Softw. 2010);
- :class:`Binomial` and :class:`Multinomial`: ``sum_i s_i loss(z_i, y_i)``
  with sample weights ``s_i`` (the proximal Newton solver's datafits, in the
  style of skglm's ``datafits``; Bertrand et al., NeurIPS 2022).
"""
import numpy as np
from scipy.special import expit

__all__ = ["Binomial", "Multinomial", "enet_duality_gap", "quadratic_objective", "wsum"]


def quadratic_objective(r, w, l1, l2):
    """Unscaled objective ``1/2 ||r||^2 + l1 ||w||_1 + l2/2 ||w||^2`` in float64.

    Written out rather than ``datafit + _penalties.enet_value``: this
    summation order (``w @ w``) is the one the solver's results were
    validated with.
    """
    w = w.astype(np.float64, copy=False)
    return 0.5 * float(r @ r) + l1 * float(np.abs(w).sum()) + 0.5 * l2 * float(w @ w)


def enet_duality_gap(r, y, w, grad, l1, l2, positive):
    """scikit-learn's duality gap for the unscaled elastic net (``gap_enet``).

    ``grad = X.T @ r``; dual point ``theta = r * min(1, l1 / ||X.T r - l2 w||_inf)``.
    """
    w = w.astype(np.float64, copy=False)
    R_norm2 = float(r @ r)
    w_norm2 = float(w @ w)
    if l1 == 0:
        if l2 == 0:  # least squares: no dual, use the first-order condition
            return float(grad @ grad)
        # ridge: sklearn's formulation B
        return R_norm2 + 0.5 * l2 * w_norm2 - float(r @ y) + float(grad @ grad) / (2 * l2)
    XtA = grad - l2 * w
    dual_norm = XtA.max() if positive else np.abs(XtA).max()
    scale = l1 / dual_norm if dual_norm > l1 else 1.0
    p_obj = 0.5 * (R_norm2 + l2 * w_norm2) + l1 * float(np.abs(w).sum())
    d_obj = -0.5 * scale ** 2 * (R_norm2 + l2 * w_norm2) + scale * float(r @ y)
    return p_obj - d_obj


class Binomial:
    """Binary log-loss ``log(1 + exp(-y z))``, ``y`` in {-1, +1}; one block.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels in {-1, +1}.
    sw_n : ndarray of shape (n_samples,)
        Sample weights divided by ``n`` (``1 / n`` unweighted).
    """

    n_blocks = 1

    def __init__(self, y, sw_n):
        self.y = np.asarray(y, dtype=np.float64)
        self.sw_n = sw_n

    def value(self, Z):
        return wsum(np.logaddexp(0.0, -self.y * Z[0]), self.sw_n)

    def value_block(self, Z, k, zk):
        return wsum(np.logaddexp(0.0, -self.y * zk), self.sw_n)

    def grad_hess(self, Z):
        """``d F / d Z`` and the Hessian diagonal, both of shape ``(1, n)``."""
        s = expit(-self.y * Z[0])
        return (-self.y * s * self.sw_n)[None], (s * (1.0 - s) * self.sw_n)[None]


class Multinomial:
    """Multinomial log-loss ``logsumexp(z) - z_y``; one block per class.

    ``z`` holds the ``K`` class scores of a sample, ``y`` its class code.
    """

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
        return wsum(self._lse(Z) - Z[self.labels, self._rows], self.sw_n)

    def proba(self, Z):
        return np.exp(Z - self._lse(Z))

    def grad_hess(self, Z):
        """``d F / d Z`` and the diagonal of the per-class Hessian blocks, ``(K, n)``."""
        P = self.proba(Z)
        H = P * (1.0 - P) * self.sw_n
        P[self.labels, self._rows] -= 1.0
        P *= self.sw_n
        return P, H


def wsum(a, w):
    """``sum(a * w)`` without BLAS (OpenBLAS threads a long ``ddot``; see
    docs/design/logistic-newton.md)."""
    return float(np.multiply(a, w).sum())
