"""Pruning criteria and schedules: magnitude masks, neuron scores, sparsity schedules.

Masks are boolean arrays, ``True`` for the weights (or neurons) that are kept.
Everything here is plain NumPy on the (small) weight matrices and runs only
at pruning events, never inside the training loop.

- Unstructured: magnitude pruning (Han et al. 2015, "Learning both weights
  and connections for efficient neural networks"), globally or per layer.
- Structured: whole hidden neurons ranked by ``||w_in||_2 * ||w_out||_2``.
- Schedules: one shot, equal steps, or Zhu & Gupta's (2017) cubic schedule
  ("To prune, or not to prune").

The public names are re-exported by :mod:`fastprox.pruning`.
"""
import numbers

import numpy as np

__all__ = ["magnitude_masks", "neuron_scores", "neuron_keep", "sparsity_schedule",
           "cubic_sparsity"]


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a real number in [0, 1), got {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def _smallest(a, n_prune):
    """Keep mask of flat ``a`` pruning exactly ``n_prune`` smallest (ties: lowest index first)."""
    keep = np.ones(a.shape[0], dtype=bool)
    if n_prune > 0:
        order = np.argsort(a, kind="stable")
        keep[order[:n_prune]] = False
    return keep


def magnitude_masks(weights, sparsity=None, threshold=None, scope="global"):
    """Magnitude-pruning masks for a list of weight matrices.

    Exactly one of ``sparsity`` and ``threshold`` must be given.

    Parameters
    ----------
    weights : list of ndarray
        Dense weight matrices (any shape).
    sparsity : float in [0, 1), optional
        Prune exactly ``round(sparsity * n)`` weights, the smallest in
        magnitude, where ``n`` is the total number of weights (``scope='global'``)
        or each matrix's size (``scope='layer'``). Ties are broken
        deterministically: among equal magnitudes the earliest (layer order,
        then row-major) are pruned first, so weights already at zero go first.
    threshold : float >= 0, optional
        Prune every weight with ``|w| < threshold`` and every exact zero.
    scope : {'global', 'layer'}, default 'global'
        Rank all weights together (layers keep what they need: small output
        layers are not starved) or each matrix on its own.

    Returns
    -------
    masks : list of ndarray of bool
        Same shapes as ``weights``; ``True`` where a weight is kept.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.pruning import magnitude_masks
    >>> magnitude_masks([np.array([[0.1, -2.0], [0.5, 0.3]])], sparsity=0.5)[0]
    array([[False,  True],
           [ True, False]])
    """
    if (sparsity is None) == (threshold is None):
        raise ValueError("give exactly one of sparsity= and threshold=")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    mags = [np.abs(np.asarray(w, dtype=np.float64)).ravel() for w in weights]
    for m in mags:
        if not np.isfinite(m).all():
            raise ValueError("weights contain NaN or infinity; cannot rank them by magnitude")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) \
                or not np.isfinite(threshold) or threshold < 0:
            raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
        return [((m >= threshold) & (m > 0)).reshape(np.shape(w)) for m, w in zip(mags, weights)]
    sparsity = _check_fraction(sparsity, "sparsity")
    if scope == "layer":
        return [_smallest(m, int(np.floor(sparsity * m.size + 0.5))).reshape(np.shape(w))
                for m, w in zip(mags, weights)]
    allm = np.concatenate(mags) if mags else np.zeros(0)
    keep = _smallest(allm, int(np.floor(sparsity * allm.size + 0.5)))
    out, start = [], 0
    for m, w in zip(mags, weights):
        out.append(keep[start:start + m.size].reshape(np.shape(w)))
        start += m.size
    return out


def neuron_scores(W_in, W_out):
    """Importance of each hidden neuron: ``||W_in[:, j]||_2 * ||W_out[j, :]||_2``.

    ``W_in`` is the (n_prev, n_hidden) matrix feeding the neurons and ``W_out``
    the (n_hidden, n_next) matrix reading them (scikit-learn's ``coefs_``
    layout). A neuron with no incoming or no outgoing weight scores 0: it
    contributes a constant at most (through its bias), which is lost.
    """
    return np.linalg.norm(W_in, axis=0) * np.linalg.norm(W_out, axis=1)


def neuron_keep(scores, fraction=None, threshold=None):
    """Keep mask over neurons: the top ``1 - fraction`` by score, or ``score >= threshold``.

    At least one neuron is kept. Ties are broken deterministically (lower index pruned first).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if threshold is not None:
        keep = (scores >= threshold) & (scores > 0)
    else:
        fraction = _check_fraction(fraction, "fraction")
        keep = _smallest(scores, int(np.floor(fraction * scores.size + 0.5)))
    if not keep.any():  # a layer without neurons disconnects the network
        keep[int(np.argmax(scores))] = True
    return keep


def cubic_sparsity(step, n_steps, final, initial=0.0):
    """Zhu & Gupta (2017) gradual schedule.

    ``s = final + (initial - final) * (1 - step / n_steps)**3``;
    ``step`` runs from 0 (sparsity ``initial``) to ``n_steps`` (``final``).
    """
    frac = min(max(step / n_steps, 0.0), 1.0)
    return final + (initial - final) * (1.0 - frac) ** 3


def sparsity_schedule(kind, final, n_steps):
    """Sparsity to reach at each pruning event.

    Parameters
    ----------
    kind : {'oneshot', 'iterative', 'gradual'}
        One event at ``final``; ``n_steps`` events at equally spaced
        sparsities; or ``n_steps`` events following the cubic schedule
        (large steps first, while the network has redundancy to spare).
    final : float in [0, 1)
    n_steps : int >= 1

    Returns
    -------
    list of float, ending at ``final``.
    """
    if kind == "oneshot":
        return [final]
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if kind == "iterative":
        return [final * k / n_steps for k in range(1, n_steps + 1)]
    if kind == "gradual":
        return [cubic_sparsity(k, n_steps, final) for k in range(1, n_steps + 1)]
    raise ValueError(f"pruning_schedule must be 'oneshot', 'iterative' or 'gradual', got {kind!r}")
