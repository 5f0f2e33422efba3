"""Activations, their derivatives, output functions and losses of the MLPs.

Plain NumPy maths on transposed activations ``Z`` of shape (n_units, batch),
in place where the training loop hands over its own buffers (scikit-learn's
``sklearn/neural_network/_base.py`` plays the same role there).

Hidden activations ``f``: ``identity``, ``logistic`` (``1 / (1 + exp(-z))``),
``tanh`` and ``relu`` (``max(z, 0)``). Output functions: ``identity``
(regression), ``exp`` (Poisson regression), ``logistic`` (binary
classification with one output unit, or one unit per label for multilabel)
and ``softmax`` (multiclass). Losses, with ``P`` the network output and ``Y``
the encoded targets (sums over outputs and samples):

- squared error, ``sum((P - Y)**2) / (2 n)`` (regressor);
- half Poisson deviance, ``sum(Y log(Y / P) - Y + P) / n`` (``loss='poisson'``);
- log-loss, ``-sum(Y log P + (1 - Y) log(1 - P)) / n`` (logistic) or
  ``-sum(Y log P) / n`` (softmax), with ``P`` clipped to ``[eps, 1 - eps]``.

With sample weights ``s`` the mean over samples becomes ``sum_i s_i l_i /
sum(s)``. The gradient of each loss with respect to the pre-activation of the
output layer is ``(P - Y) / n`` (the canonical link), so the training loop
needs no output derivative.
"""
import numpy as np
from scipy.special import expit, xlogy

__all__ = ["ACTIVATIONS", "activate", "derivative", "softmax", "output", "output_activation",
           "loss", "batch_loss", "sample_losses"]

#: Hidden-layer activations, as scikit-learn names them.
ACTIVATIONS = ("identity", "logistic", "tanh", "relu")


def activate(Z, name):
    """Apply the hidden activation ``name`` to ``Z`` in place and return it."""
    if name == "relu":
        np.maximum(Z, 0, out=Z)
    elif name == "tanh":
        np.tanh(Z, out=Z)
    elif name == "logistic":
        expit(Z, out=Z)
    return Z


def derivative(delta, H, name, mask=None):
    """``delta *= f'(z)`` written with the activation's output ``H = f(z)``.

    ``relu``: ``f' = [H > 0]``; ``tanh``: ``1 - H**2``; ``logistic``:
    ``H (1 - H)``; ``identity``: 1. ``mask``: optional boolean scratch of H's
    shape (relu), so the training loop does not allocate one per batch.
    """
    if name == "relu":
        # a multiply by the 0/1 mask, faster than boolean indexing
        # (see docs/design/mlp-python-epoch.md)
        np.multiply(delta, np.greater(H, 0, out=mask), out=delta)
    elif name == "tanh":
        delta *= 1 - H * H
    elif name == "logistic":
        delta *= H * (1 - H)
    return delta


def softmax(Z):
    """Column-wise softmax of ``Z`` (n_classes, batch) in place, shifted by the column max."""
    Z -= Z.max(axis=0)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=0)
    return Z


def output_activation(is_classifier, n_outputs, multilabel=False, poisson=False):
    """Name of the output function, as scikit-learn's ``out_activation_``.

    'identity' (regressor), 'exp' (Poisson regressor), 'logistic' (one unit,
    or multilabel) or 'softmax'.
    """
    if not is_classifier:
        return "exp" if poisson else "identity"
    return "logistic" if n_outputs == 1 or multilabel else "softmax"


def output(Z, name):
    """Apply the output function ``name`` (see :func:`output_activation`) to ``Z`` in place."""
    if name == "logistic":
        return expit(Z, out=Z)
    if name == "softmax":
        return softmax(Z)
    if name == "exp":
        return np.exp(Z, out=Z)
    return Z


def loss(Y, P, name):
    """Mean loss of outputs ``P`` against targets ``Y`` (both (n_outputs, n)).

    ``name`` is the output function: squared error for 'identity', half
    Poisson deviance for 'exp', log-loss otherwise.
    """
    if name == "identity":
        d = P - Y
        return float((d * d).sum() / (2 * P.shape[1]))
    if name == "exp":
        return float(sample_losses(Y, P, name).sum() / P.shape[1])
    eps = np.finfo(P.dtype).eps
    Pc = np.clip(P, eps, 1 - eps)
    if name == "logistic":
        return float(-(Y * np.log(Pc) + (1 - Y) * np.log(1 - Pc)).sum() / P.shape[1])
    return float(-(Y * np.log(Pc)).sum() / P.shape[1])


def sample_losses(Y, P, name):
    """Loss of each sample (column) of ``P`` against ``Y``, summed over the outputs: (n,)."""
    if name == "identity":
        d = P - Y
        return 0.5 * (d * d).sum(axis=0)
    if name == "exp":
        return (xlogy(Y, Y / P) - Y + P).sum(axis=0)
    eps = np.finfo(P.dtype).eps
    Pc = np.clip(P, eps, 1 - eps)
    if name == "logistic":
        return -(xlogy(Y, Pc) + xlogy(1 - Y, 1 - Pc)).sum(axis=0)
    return -xlogy(Y, Pc).sum(axis=0)


def batch_loss(Y, P, tmp, name, weights=None):
    """Summed (not mean) loss of a batch; ``tmp`` is scratch of P's shape.

    ``weights`` (batch,): the sum is ``sum_i weights_i * loss_i``.
    """
    if weights is not None:
        return float(np.dot(sample_losses(Y, P, name), weights))
    if name == "identity":
        np.subtract(P, Y, out=tmp)
        return 0.5 * float(np.vdot(tmp, tmp))
    if name == "exp":
        return float(sample_losses(Y, P, name).sum())
    if name == "logistic":
        return loss(Y, P, name) * P.shape[1]
    eps = np.finfo(P.dtype).eps
    np.clip(P, eps, 1 - eps, out=tmp)
    np.log(tmp, out=tmp)
    return -float(np.vdot(Y, tmp))
