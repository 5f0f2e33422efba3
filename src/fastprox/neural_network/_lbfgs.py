"""``solver='lbfgs'``: L-BFGS-B (scipy) on the flat vector of the network's trainable values.

The objective and its gradient are scikit-learn's (``BaseMultilayerPerceptron.
_loss_grad_lbfgs``): with ``P`` the output for the whole training set, ``s``
the sample weights (all 1 by default) and ``W`` the weights (not the biases),

    f = sum_i s_i loss_i / sum(s) + alpha / (2 sum(s)) * ||W||^2,
    grad_W = (H^T (s * (P - Y)) + alpha W) / sum(s),

with ``loss_i`` scikit-learn's: the squared error of the ``identity`` output
is averaged over the outputs (its ``squared_loss``), while the gradient sums
them -- scikit-learn's pair, kept so that L-BFGS takes its steps (both have
the same minimiser). Repeating a row is the same as giving it weight 2, and the L2 term is
scikit-learn's ``alpha * W / n`` of a full batch -- the convention of
``adam`` / ``sgd`` here with the batch being the training set. The vector
holds the weights of each layer, then the biases (scikit-learn's order):
every weight of a dense layer, only the trainable ones of a masked dense
layer and only the stored nonzeros of a CSR layer, so a pruned pattern
stays pruned. With ``l1 > 0`` the same objective runs under OWL-QN
(:mod:`._owlqn`); ``group_l1`` needs the proximal steps of the stochastic
solvers and the estimator refuses it (see docs/design/mlp-lbfgs.md).

Reference: R. H. Byrd, P. Lu, J. Nocedal and C. Zhu (1995), "A limited
memory algorithm for bound constrained optimization", SIAM J. Sci. Comput.
16(5); :func:`scipy.optimize.minimize` with ``method='L-BFGS-B'``.
"""
import time

import numpy as np
import scipy.optimize
from sklearn.utils.optimize import _check_optimize_result

from ._base import activate, derivative, output, sample_losses

__all__ = ["Objective", "run_lbfgs"]


class Objective:
    """Loss and gradient of the network ``layers`` on ``(X, Y)`` as functions of a flat vector.

    Parameters
    ----------
    layers : list of DenseLayer or CSRLayer
        Written in place by :meth:`unpack` (and so by every evaluation).
    XT : ndarray (n_features, n_samples)
    YT : ndarray (n_outputs, n_samples)
    sample_weight : ndarray (n_samples,) or None
    activation : str
        Hidden activation.
    out : {'identity', 'exp', 'logistic', 'softmax'}
    alpha : float
        L2 strength (scikit-learn's ``alpha``).
    """

    def __init__(self, layers, XT, YT, sample_weight, activation, out, alpha):
        self.layers, self.XT, self.YT = layers, XT, YT
        self.sw = sample_weight
        self.sw_sum = float(XT.shape[1] if sample_weight is None else sample_weight.sum())
        self.activation, self.out, self.alpha = activation, out, float(alpha)
        # trainable positions of masked dense layers; None: every value
        self.sel = [None if layer.kind == "csr" or getattr(layer, "mask", None) is None
                    else np.flatnonzero(layer.mask.reshape(-1)) for layer in layers]
        sizes = [layer.values.size if s is None else s.size for layer, s in
                 zip(layers, self.sel)] + [layer.b.size for layer in layers]
        self.bounds = np.concatenate([[0], np.cumsum(sizes)])
        self.last = None  # (x, f) of the latest evaluation

    def pack(self):
        """The current values as one float64 vector."""
        parts = [layer.values.reshape(-1) if s is None else layer.values.reshape(-1)[s]
                 for layer, s in zip(self.layers, self.sel)]
        parts += [layer.b for layer in self.layers]
        return np.concatenate(parts).astype(np.float64)

    def unpack(self, x):
        """Write the vector ``x`` into the layers (cast to their dtype)."""
        k = len(self.layers)
        for i, (layer, s) in enumerate(zip(self.layers, self.sel)):
            v = x[self.bounds[i]:self.bounds[i + 1]]
            if s is None:
                layer.values.reshape(-1)[...] = v
            else:
                layer.values.reshape(-1)[s] = v
            layer.b[...] = x[self.bounds[k + i]:self.bounds[k + i + 1]]

    def __call__(self, x):
        """``(f(x), grad f(x))``, both in float64."""
        self.unpack(x)
        layers, last = self.layers, len(self.layers) - 1
        acts = [self.XT]
        for i, layer in enumerate(layers):
            fuse = i < last and self.activation == "relu"
            Z = layer.forward(acts[i], relu=fuse)
            if i == last:
                output(Z, self.out)
            elif not fuse:
                activate(Z, self.activation)
            acts.append(Z)
        P = acts[-1]
        losses = sample_losses(self.YT, P, self.out)
        data = losses.sum() if self.sw is None else losses @ self.sw
        if self.out == "identity":
            data = data / self.YT.shape[0]  # mean over the outputs (squared_loss)
        sq = sum(float(layer.values.reshape(-1) @ layer.values.reshape(-1)) for layer in layers)
        f = float(data / self.sw_sum + 0.5 * self.alpha * sq / self.sw_sum)
        delta = P - self.YT
        if self.sw is not None:
            delta *= self.sw
        grads_w, grads_b = [None] * len(layers), [None] * len(layers)
        for i in range(last, -1, -1):
            gW, gb, d_in = layers[i].backward(delta, acts[i], i > 0)
            gW = (gW + self.alpha * layers[i].values) / self.sw_sum
            grads_w[i] = gW.reshape(-1) if self.sel[i] is None else gW.reshape(-1)[self.sel[i]]
            grads_b[i] = gb / self.sw_sum
            if i > 0:
                delta = derivative(d_in, acts[i], self.activation)
        g = np.concatenate(grads_w + grads_b).astype(np.float64)
        self.last = (x.copy(), f)
        return f, g

    def value_at(self, x):
        """f(x), from the latest evaluation when it was at ``x``."""
        if self.last is not None and np.array_equal(self.last[0], x):
            return self.last[1]
        return self(x)[0]


def run_lbfgs(objective, max_iter, max_fun, tol, verbose=False):
    """Minimise ``objective`` from the layers' current values; the layers end at the minimiser.

    Parameters
    ----------
    objective : Objective
    max_iter, max_fun : int
        L-BFGS-B's ``maxiter`` and ``maxfun`` (scikit-learn's ``max_iter``, ``max_fun``).
    tol : float
        L-BFGS-B's ``gtol`` (scikit-learn passes ``tol``).
    verbose : bool
        Print the loss of each iteration.

    Returns
    -------
    losses : list of float
        The objective after each iteration (the start's if there was none).
    times : list of float
        Wall time of each iteration (seconds).
    n_iter : int
        scikit-learn's ``n_iter_`` (a ConvergenceWarning if the limits stopped it).
    """
    losses, times = [], []
    clock = [time.perf_counter()]

    def record(xk):
        losses.append(objective.value_at(xk))
        now = time.perf_counter()
        times.append(now - clock[0])
        clock[0] = now
        if verbose:
            print(f"Iteration {len(losses)}, loss = {losses[-1]:.8f} (lbfgs)")

    res = scipy.optimize.minimize(
        objective, objective.pack(), method="L-BFGS-B", jac=True, callback=record,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    n_iter = _check_optimize_result("lbfgs", res, max_iter)
    objective.unpack(res.x)
    if not losses:  # converged at the start: no iteration
        losses.append(float(res.fun))
        times.append(time.perf_counter() - clock[0])
    return losses, times, n_iter
