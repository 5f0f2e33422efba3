"""The training loop of the MLPs and their forward pass.

``fit`` runs three phases on one :class:`Trainer`:

1. **dense phase** -- up to ``max_iter`` epochs of mini-batch Adam or SGD
   with L2 (``alpha``), proximal L1 (``l1``) and group L1 on hidden neurons
   (``group_l1``); stops on ``tol`` / ``n_iter_no_change`` like scikit-learn,
   on the training loss or (``early_stopping``) the validation score. With
   ``solver='lbfgs'``, up to ``max_iter`` iterations of L-BFGS-B on the
   whole training set (:mod:`._lbfgs`; OWL-QN with ``l1 > 0``, :mod:`._owlqn`);
2. **pruning phase** (with ``target_sparsity`` or ``prune_threshold``) --
   the events of ``pruning_schedule`` (see :mod:`._pruning`), with
   ``pruning_interval`` epochs trained between events on the frozen pattern;
3. **fine-tuning** -- ``finetune_epochs`` epochs with the final pattern frozen.

With ``lbfgs`` an "epoch" of phases 2 and 3 is one L-BFGS-B iteration on the
stored nonzeros (one run per stretch between pruning events).

``partial_fit`` runs one epoch on the same :class:`Trainer`, continuing the
recorded history. A layer whose density falls below ``sparse_crossover`` is
stored and computed as CSR from then on (see :mod:`._layers`).
"""
import time
import warnings
import weakref

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._kernels import mlp_fast
from .._threads import get_num_threads
from ._base import activate, output
from ._epochs import run_epoch
from ._layers import built_widths, kernel_arrays, n_weights
from ._lbfgs import Objective, run_lbfgs
from ._owlqn import run_owlqn
from ._sparse_input import transposed
from ._pruning import compact, prune_neurons, prune_weights, pruning_events

__all__ = ["SERIAL_TRAINING_WORK", "Trainer", "batch_size", "csr_net", "forward",
           "training_threads"]

#: Largest layer product (n_in * n_out * batch multiply-adds) trained on one
#: thread: waking a thread team costs more than these products gain.
#: See docs/design/mlp-serial-training.md.
SERIAL_TRAINING_WORK = 2**26


def training_threads(widths, batch):
    """Thread limit (BLAS and OpenMP) for training layers of these widths: 1 or None (no limit)."""
    work = max([a * b for a, b in zip(widths[:-1], widths[1:])], default=1) * batch
    return 1 if work < SERIAL_TRAINING_WORK else None


def batch_size(est, n_samples):
    """Mini-batch size: ``min(200, n_samples)`` for 'auto', else ``min(batch_size, n_samples)``."""
    return min(200 if est.batch_size == "auto" else est.batch_size, n_samples)


def csr_net(layers, activation, out):
    """Compiled forward pass of an all-CSR network (one call for all layers), or None.

    Cached on the first layer, keyed by the layer objects (weak references)
    and the functions: layers are replaced, never reallocated, when the
    pattern changes, and the cache does not travel with pickles or copies.
    """
    if layers[0].kind != "csr" or out not in mlp_fast.OUTPUTS:
        return None
    key = (activation, out)
    cached = getattr(layers[0], "_net", None)
    if cached is not None and cached[1] == key and len(cached[0]) == len(layers) \
            and all(r() is layer for r, layer in zip(cached[0], layers)):
        return cached[2]
    arrays = kernel_arrays(layers)
    if arrays is None:
        return None
    net = mlp_fast.CSRNet([a[:4] for a in arrays], layers[0].shape[0],
                          mlp_fast.ACTIVATIONS[activation], mlp_fast.OUTPUTS[out])
    layers[0]._net = (tuple(weakref.ref(layer) for layer in layers), key, net)
    return net


def forward(layers, H, activation, out):
    """Output of the network ``layers`` for the transposed input ``H`` (n_features, n).

    Parameters
    ----------
    layers : list of DenseLayer or CSRLayer
    H : ndarray (n_features, n) or scipy.sparse matrix
        Not modified. Sparse: the transposed sparse input (see :mod:`._sparse_input`).
    activation : {'identity', 'logistic', 'tanh', 'relu'}
        Hidden activation.
    out : {'identity', 'logistic', 'softmax'}
        Output function (:func:`._base.output_activation`).

    Returns
    -------
    ndarray (n_outputs, n)
    """
    net = csr_net(layers, activation, out)
    if net is not None and isinstance(H, np.ndarray) and H.dtype == layers[0].b.dtype \
            and H.flags.c_contiguous:
        return net.forward(H, get_num_threads())
    last = len(layers) - 1
    relu = activation == "relu"
    for i, layer in enumerate(layers):
        hidden = i < last
        H = layer.forward(H, relu=hidden and relu)
        if hidden and not relu:
            activate(H, activation)
    return output(H, out)


class Trainer:
    """One training run of ``est``'s network: the layers, their optimizer and the history.

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor
        Hyper-parameters, validated by its ``fit`` / ``partial_fit``.
    layers : list of DenseLayer or CSRLayer
        Trained in place; pruning replaces them (see :attr:`layers`).
    opt : Optimizer
    X : ndarray (n_samples, n_features), C-contiguous
    YT : ndarray (n_outputs, n_samples)
        Encoded targets, transposed, in X's dtype.
    rng : numpy.random.RandomState
    out : {'identity', 'logistic', 'softmax'}
    seen : int
        Samples seen before this run (the 'invscaling' schedule counts on).
    history : dict, optional
        The record to continue (warm start, partial_fit): ``loss_curve``,
        ``epoch_times``, ``epoch_phases``, ``validation_scores`` and the
        stopping rule's ``stop`` state (see :mod:`._history`).
    validation : tuple, optional
        ``(XT_val, y_val, score)`` for early stopping: ``score(output, y_val)``.
    sample_weight : ndarray (n_samples,), optional
        Weights of the training samples, in X's dtype.
    """

    def __init__(self, est, layers, opt, X, YT, rng, out, seen=0, history=None,
                 validation=None, sample_weight=None):
        self.est, self.layers, self.opt = est, layers, opt
        self.X, self.YT, self.rng, self.out = X, YT, rng, out
        self.sample_weight = sample_weight
        self.diverged = False
        self.n = X.shape[0]
        # the verbose line's sparsity counts against the network as built (as sparsity_)
        self.n_built = n_weights(built_widths(layers, est.hidden_layer_sizes,
                                              getattr(est, "_built_layer_sizes", None)))
        self.order = np.arange(self.n)  # the sample order, reshuffled each epoch
        self.batch_size = batch_size(est, self.n)
        self.seen = seen
        history = history or {}
        self.loss_curve = history.get("loss_curve", [])
        self.epoch_times = history.get("epoch_times", [])
        self.epoch_phases = history.get("epoch_phases", [])
        self.validation_scores = history.get("validation_scores", [])
        # scikit-learn's stopping rule: best training loss / validation score so
        # far and the epochs without a tol gain, carried over warm starts
        self.stop = dict(history.get("stop", {"best_loss": np.inf, "best_val": -np.inf,
                                              "no_improve": 0}))
        self.validation = validation
        self.n_iter = 0  # epochs (L-BFGS-B iterations) of this run: scikit-learn's n_iter_

    def epoch(self, phase):
        """Train one epoch; record its loss, time, phase (and validation score)."""
        est = self.est
        t0 = time.perf_counter()
        if est.shuffle:
            # scikit-learn shuffles the previous epoch's order again (its
            # ``sample_idx = shuffle(sample_idx)``; the same draws as a permutation)
            self.order = self.order[self.rng.permutation(self.n)]
        loss = run_epoch(est, self.layers, self.opt, self.X, self.YT, self.batch_size,
                         self.order if est.shuffle else None, self.out, self.sample_weight)
        self.epoch_times.append(time.perf_counter() - t0)
        self.epoch_phases.append(phase)
        self.n_iter += 1
        self.seen += self.n
        self.opt.iteration_ends(self.seen)
        if not np.isfinite(loss) and phase == "dense" and self.validation is not None:
            # scikit-learn: no error with early stopping; the best weights come back
            self.diverged = True
            self.loss_curve.append(loss)
            self.validation_scores.append(np.nan)
            return
        if not np.isfinite(loss):
            call = "partial_fit" if phase == "partial" else "fit"
            raise ValueError(
                f"training diverged at epoch {len(self.loss_curve) + 1} (loss is {loss}); "
                "lower learning_rate_init or scale the inputs. The model was left as it "
                f"was before {call}.")
        self.loss_curve.append(loss)
        if est.verbose and phase != "partial":  # partial_fit stays silent
            nnz = sum(int(np.count_nonzero(layer.values)) for layer in self.layers)
            print(f"Iteration {len(self.loss_curve)}, loss = {loss:.8f}, sparsity = "
                  f"{1 - nnz / self.n_built:.4f} ({phase})")
        if self.validation is not None:
            XT_val, y_val, score = self.validation
            pred = forward(self.layers, XT_val, est.activation, self.out).T
            self.validation_scores.append(score(pred, y_val))

    def lbfgs(self, phase, max_iter):
        """Up to ``max_iter`` L-BFGS-B iterations on the stored values; one record each."""
        est = self.est
        objective = Objective(self.layers, transposed(self.X), self.YT,
                              self.sample_weight, est.activation, self.out, est.alpha)
        verbose = bool(est.verbose)
        with warnings.catch_warnings():
            if phase != "dense":  # a pruning stretch or fine-tuning runs its count by design
                warnings.simplefilter("ignore", ConvergenceWarning)
            if est.l1 > 0:  # orthant-wise: exact zeros, see _owlqn
                losses, times, n_iter = run_owlqn(objective, est.l1, max_iter, est.max_fun,
                                                  est.tol, verbose)
            else:
                losses, times, n_iter = run_lbfgs(objective, max_iter, est.max_fun, est.tol,
                                                  verbose)
        if not np.isfinite(losses[-1]):
            raise ValueError(
                "Solver produced non-finite parameter weights (lbfgs: the loss is "
                f"{losses[-1]}). The input data may contain large values and need to be "
                "preprocessed. The model was left as it was before fit.")
        self.loss_curve.extend(losses)
        self.epoch_times.extend(times)
        self.epoch_phases.extend([phase] * len(losses))  # the start's loss if no iteration
        self.n_iter += n_iter
        return n_iter

    def dense_phase(self):
        """Up to ``max_iter`` epochs until the stopping rule; the best weights if early stopping."""
        est = self.est
        if est.solver == "lbfgs":
            self.lbfgs("dense", est.max_iter)
            return
        best = None
        if self.validation is not None:
            # what a fit that diverges before its first finite score keeps, and what a
            # warm start that never beats best_validation_score_ keeps (scikit-learn's too)
            best = [(layer.values.copy(), layer.b.copy()) for layer in self.layers]
        converged = False
        for _ in range(est.max_iter):
            self.epoch("dense")
            if self.diverged:
                warnings.warn(f"training diverged at epoch {len(self.loss_curve)} (loss is "
                              f"{self.loss_curve[-1]}); the weights of the best validation "
                              "score were kept. Lower learning_rate_init or scale the inputs.",
                              ConvergenceWarning)
                self.opt.reset()
                converged = True
                break
            stop, improved = self.check_stop()
            if improved:
                best = [(layer.values.copy(), layer.b.copy()) for layer in self.layers]
            if stop:
                converged = True
                break
        if not converged and est.max_iter > 0:
            warnings.warn(f"Stochastic optimizer: maximum iterations ({est.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning)
        if best is not None:
            for layer, (v, b) in zip(self.layers, best):
                layer.values[...] = v
                layer.b[...] = b

    def check_stop(self):
        """scikit-learn's rule after an epoch: ``(stop, improved)``.

        Stop after ``n_iter_no_change`` epochs without a ``tol`` gain on the
        training loss or (early stopping) the validation score, unless SGD's
        'adaptive' rate can still be divided; ``improved``: a new best
        validation score (its weights are the ones to keep).
        """
        est, state = self.est, self.stop
        improved = False
        if self.validation is not None:
            score = self.validation_scores[-1]
            if score < state["best_val"] + est.tol:
                state["no_improve"] += 1
            else:
                state["no_improve"] = 0
            if score > state["best_val"]:
                state["best_val"] = score
                improved = True
        else:
            loss = self.loss_curve[-1]
            if loss > state["best_loss"] - est.tol:
                state["no_improve"] += 1
            else:
                state["no_improve"] = 0
            state["best_loss"] = min(state["best_loss"], loss)
        if state["no_improve"] > est.n_iter_no_change:
            if est.verbose:
                print(f"No improvement for {est.n_iter_no_change} consecutive epochs.")
            if self.opt.trigger_stopping():
                return True, improved
            state["no_improve"] = 0
        return False, improved

    def prune_phase(self):
        """Pruning events with training in between, fine-tuning, then CSR for sparse layers."""
        est = self.est
        crossover = est.sparse_crossover
        pruning = est.target_sparsity is not None or est.prune_threshold is not None
        if pruning and est.structured and len(self.layers) < 2:
            warnings.warn("structured pruning removes hidden neurons and this network has no "
                          "hidden layer: nothing pruned", UserWarning, stacklevel=4)
            pruning = False
        if pruning:
            events = pruning_events(est)
            # structured fractions count against the hidden widths this fit started with
            n_hidden0 = [layer.shape[1] for layer in self.layers[:-1]]
            for k, s in enumerate(events):
                if est.structured:
                    self.layers = prune_neurons(self.layers, self.opt, s,
                                                threshold=est.prune_threshold,
                                                n_hidden0=n_hidden0, crossover=crossover)
                else:
                    self.layers = prune_weights(self.layers, self.opt, s,
                                                threshold=est.prune_threshold,
                                                scope=est.pruning_scope, crossover=crossover)
                if k < len(events) - 1:
                    self._train("prune", est.pruning_interval)
            self._train("finetune", est.finetune_epochs)
        self.layers = compact(self.layers, self.opt, crossover)

    def _train(self, phase, count):
        """``count`` epochs (or L-BFGS-B iterations) of ``phase`` on the current pattern."""
        if self.est.solver == "lbfgs":
            if count > 0:
                self.lbfgs(phase, count)
            return
        for _ in range(count):
            self.epoch(phase)
