"""Optimizer state of the MLPs: Adam or momentum SGD, with the proximal L1 step fused in.

(With ``solver='lbfgs'`` an :class:`Optimizer` holds no arrays: pruning and
warm starts pass it along unchanged; the quasi-Newton memory lives in scipy
for one run, see :mod:`._lbfgs`.)

One set of state arrays per layer, in the layer's value layout (dense
(n_in, n_out) or one entry per stored nonzero of a CSR layer). A step is one
call to :func:`fastprox.prox.adam_step` or :func:`fastprox.prox.momentum_step`
per weight array and bias, with scikit-learn's L2 convention (``alpha *
w / batch`` added to the gradient), scikit-learn's Adam epsilon
(:func:`adam_eps`) and ``l1`` as the proximal threshold
(Duchi & Singer 2009, "Efficient online and batch learning using forward
backward splitting"; for Adam scaled by the per-coordinate step).

The learning-rate schedules follow scikit-learn's ``SGDOptimizer``:
'constant', 'invscaling' (``lr = learning_rate_init / (t + 1)**power_t``
with ``t`` the samples seen) and 'adaptive' (divide by 5 on a plateau).
"""
import copy
import math

import numpy as np

from .. import prox as _prox

__all__ = ["Optimizer", "adam_eps"]


def adam_eps(eps, beta2, t):
    """The epsilon to pass to :func:`fastprox.prox.adam_step` for scikit-learn's Adam step.

    scikit-learn's ``AdamOptimizer`` folds both bias corrections into the rate,
    ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``, and steps by ``-lr_t
    * m / (sqrt(v) + eps)``: in the bias-corrected form of ``adam_step``
    (Kingma & Ba), ``-lr * m_hat / (sqrt(v_hat) + eps / sqrt(1 - beta2**t))``.
    Weights whose gradient is about ``eps`` (inputs that are always zero, with
    ``alpha > 0``) move very differently under the two placements, so the MLPs
    use scikit-learn's. The compiled epoch (``mlp_fast._step``) computes the
    same double in the same operations: the two paths stay bit-identical.

    Parameters
    ----------
    eps, beta2 : float
        The estimator's ``epsilon`` and ``beta_2``.
    t : int
        The 1-based step number.

    Returns
    -------
    float
        ``eps / sqrt(1 - beta2**t)``.
    """
    return eps / math.sqrt(1.0 - beta2 ** t)


class Optimizer:
    """Adam or momentum-SGD state, one set of arrays per layer (per nonzero for CSR layers).

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor
        The estimator whose hyper-parameters (``solver``, ``learning_rate_init``,
        ``alpha``, ``l1``, ``beta_1``, ...) the steps read; validated by its fit.
    layers : list of DenseLayer or CSRLayer
        The network; zero state is allocated for each layer's values and bias.
    """

    def __init__(self, est, layers):
        self.solver = est.solver
        self.lr = est.learning_rate_init
        self.est = est
        self.t = 0
        self.state = [self._new(layer) for layer in layers]

    def resume(self, est, layers, keep_rate=False):
        """A copy of this state for a warm-started fit of ``est``, or None if it does not fit.

        Moments and the step count carry over; the learning rate restarts at
        ``learning_rate_init`` (scikit-learn's warm-start fit restarts its
        schedule too) unless ``keep_rate`` (``partial_fit``: scikit-learn's
        optimizer and its rate live on from call to call).
        """
        if self.solver != est.solver or len(self.state) != len(layers):
            return None
        for (ws, bs), layer in zip(self.state, layers):
            if ws and (ws[0].shape != layer.values.shape or bs[0].shape != layer.b.shape
                       or ws[0].dtype != layer.values.dtype):
                return None
        new = copy.copy(self)
        new.est = est
        if not keep_rate:
            new.lr = est.learning_rate_init
        new.state = [([w.copy() for w in ws], [b.copy() for b in bs]) for ws, bs in self.state]
        return new

    def detached(self):
        """This state without the estimator reference (kept on the fitted model)."""
        new = copy.copy(self)
        new.est = None
        return new

    def iteration_ends(self, samples_seen):
        """scikit-learn's 'invscaling': ``lr = learning_rate_init / (t + 1) ** power_t`` (SGD)."""
        est = self.est
        if self.solver == "sgd" and est.learning_rate == "invscaling":
            self.lr = float(est.learning_rate_init) / (samples_seen + 1) ** est.power_t

    def trigger_stopping(self):
        """On a plateau: stop, or with SGD and 'adaptive' divide the rate by 5 until 1e-6."""
        if self.solver != "sgd" or self.est.learning_rate != "adaptive" or self.lr <= 1e-6:
            return True
        self.lr /= 5.0
        if self.est.verbose:
            print(f"Setting learning rate to {self.lr:f}")
        return False

    def reset(self):
        """Zero every moment (after a diverged epoch left them non-finite); the step count stays."""
        for ws, bs in self.state:
            for s in ws + bs:
                s[...] = 0

    def _new(self, layer):
        # 'lbfgs' keeps no per-weight state here (scipy holds its own)
        n = {"adam": 2, "sgd": 1}.get(self.solver, 0)
        return ([np.zeros_like(layer.values) for _ in range(n)],
                [np.zeros_like(layer.b) for _ in range(n)])

    def remap(self, i, old, new, keep=None, cols=None, rows=None):
        """Carry layer ``i``'s state from ``old`` to ``new`` through dense (n_in, n_out) arrays.

        ``rows`` / ``cols`` select the kept inputs / neurons (structured
        pruning), ``keep`` zeroes the state of pruned weights.
        """
        ws, bs = self.state[i]
        new_ws = []
        for s in ws:
            D = old.to_dense(s)
            if rows is not None:
                D = D[rows]
            if cols is not None:
                D = D[:, cols]
            if keep is not None:
                D = D * keep
            new_ws.append(new.gather(D))
        new_bs = [np.ascontiguousarray(s[cols]) if cols is not None else s for s in bs]
        self.state[i] = (new_ws, new_bs)

    def step(self, i, layer, gW, gb, batch):
        """One update of layer ``i`` from the gradients ``gW``, ``gb`` of the batch's mean loss."""
        est = self.est
        ws, bs = self.state[i]
        # scikit-learn's MLP: L2 term alpha * W / n_samples in the batch gradient
        l2 = est.alpha / batch
        # trusted path (check_input=False): parameters validated by fit, state and
        # gradients in the layer's layout and dtype; see docs/design/mlp-trusted-paths.md
        if gW.size != layer.values.size or gb.size != layer.b.size:
            raise RuntimeError("internal error: gradient and weight sizes differ")
        lr, l1 = float(self.lr), float(est.l1)
        if self.solver == "adam":
            b1, b2 = float(est.beta_1), float(est.beta_2)
            eps = adam_eps(float(est.epsilon), b2, self.t)
            _prox.adam_step(layer.values, gW, ws[0], ws[1], self.t, lr, b1, b2, eps, l1, l2,
                            check_input=False)
            _prox.adam_step(layer.b, gb, bs[0], bs[1], self.t, lr, b1, b2, eps, 0.0, 0.0,
                            check_input=False)
        else:
            mu, nest = float(est.momentum), bool(est.nesterovs_momentum)
            _prox.momentum_step(layer.values, gW, ws[0], lr, mu, l1, l2, nest, check_input=False)
            _prox.momentum_step(layer.b, gb, bs[0], lr, mu, 0.0, 0.0, nest, check_input=False)
