"""Working-set selection shared by the coordinate-descent and proximal Newton solvers.

A working-set solver (Johnson & Guestrin, "Blitz", ICML 2015; Massias et
al., "Celer", ICML 2018; Bertrand et al., "skglm", NeurIPS 2022) solves the
problem restricted to a few features, then checks the full problem's KKT
conditions and grows the set with the worst violators. The rule here: keep
the support, fill up to ``max(ws_min, 2 * nnz, grow * previous size)``
features with the largest KKT violations, never padding with features that
already satisfy their condition at zero.
"""
import numpy as np

__all__ = ["ws_size", "select_violators"]


def ws_size(n_features, nnz, ws_min, prev_size=0, grow=2):
    """Size of the next working set: ``min(p, max(ws_min, 2 nnz, int(grow * prev_size)))``."""
    return min(n_features, max(ws_min, 2 * nnz, int(grow * prev_size)))


def select_violators(scores, support, size):
    """Indices (unsorted) of the support and the worst violators, ``size`` at most.

    Parameters
    ----------
    scores : ndarray of shape (n_features,), float64
        KKT violations (see ``_penalties.kkt_distance``); set to ``inf`` on
        the support **in place**, so that the support is always kept.
    support : ndarray of bool, shape (n_features,)
    size : int

    Returns
    -------
    ws : ndarray of int
        Features with a positive score, the ``size`` largest if there are
        more; only the violators are partitioned (see
        docs/design/solver-working-set.md).
    """
    scores[support] = np.inf
    ws = np.flatnonzero(scores > 0)
    if ws.size > size:
        ws = ws[np.argpartition(scores[ws], ws.size - size)[ws.size - size:]]
    return ws
