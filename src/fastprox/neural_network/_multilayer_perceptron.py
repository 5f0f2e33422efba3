"""Multi-layer perceptrons trained with proximal L1, pruned, and run as CSR layers.

The estimators only: parameters, ``fit`` / ``partial_fit`` / ``predict*``,
the fitted attributes and pickling. Activations and losses are in
:mod:`._base`, the optimizers in :mod:`._stochastic_optimizers`, the training
loop (dense phase, pruning, fine-tuning) in :mod:`._training`, pruning in
:mod:`._pruning`, the layers in :mod:`._layers` and the sparsity report in
:mod:`._report`.
"""
import copy
import inspect
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils.validation import (_check_sample_weight, check_is_fitted, column_or_1d,
                                      validate_data)

from .._validation import check_sparse_structure
from .._threads import blas_limited
from ._base import output_activation
from ._auto_sparsity import search_sparsity
from . import _history
from ._fitted import FittedNetworkMixin
from ._layers import init_layers
from ._sparse_input import ACCEPT_SPARSE, as_input, transposed
from ._parameters import (DEFAULT_SPARSE_CROSSOVER, PARAMETER_CONSTRAINTS, PRUNING_DEFAULTS,
                          REGRESSOR_CONSTRAINTS, STOCHASTIC_SOLVERS)
from ._stochastic_optimizers import Optimizer
from ._targets import classifier_targets, decode_classes, regressor_targets
from ._training import Trainer, forward, training_threads

__all__ = ["MLPClassifier", "MLPRegressor", "DEFAULT_SPARSE_CROSSOVER"]

# pickles written before the package was split name the optimizer class here
_Optimizer = Optimizer

class _BaseMLP(FittedNetworkMixin, BaseEstimator):
    """Shared fit / predict machinery; see :class:`MLPClassifier` for the parameters."""

    _parameter_constraints: dict = PARAMETER_CONSTRAINTS

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, l1=0.0, group_l1=0.0, batch_size="auto",
                 learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, target_sparsity=None, prune_threshold=None,
                 pruning_schedule=PRUNING_DEFAULTS["pruning_schedule"],
                 pruning_steps=PRUNING_DEFAULTS["pruning_steps"],
                 pruning_interval=PRUNING_DEFAULTS["pruning_interval"], pruning_scope="global",
                 structured=False, finetune_epochs=PRUNING_DEFAULTS["finetune_epochs"],
                 sparse_crossover=DEFAULT_SPARSE_CROSSOVER, max_score_drop=0.005):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.l1 = l1
        self.group_l1 = group_l1
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.target_sparsity = target_sparsity
        self.prune_threshold = prune_threshold
        self.pruning_schedule = pruning_schedule
        self.pruning_steps = pruning_steps
        self.pruning_interval = pruning_interval
        self.pruning_scope = pruning_scope
        self.structured = structured
        self.finetune_epochs = finetune_epochs
        self.sparse_crossover = sparse_crossover
        self.max_score_drop = max_score_drop

    def _hidden_sizes(self):
        """``hidden_layer_sizes`` as a tuple; the checks the constraints cannot express."""
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        if any(isinstance(s, bool) or not isinstance(s, Integral) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes!r}")
        if self.target_sparsity is not None and self.prune_threshold is not None:
            raise ValueError("give target_sparsity or prune_threshold, not both")
        if self.solver not in STOCHASTIC_SOLVERS and self.group_l1 > 0:
            raise ValueError(f"group_l1={self.group_l1}: the group penalty needs the proximal "
                             f"steps of solver='adam' or solver='sgd'; solver={self.solver!r} "
                             "supports alpha (L2) and l1 (OWL-QN)")
        return sizes

    def _out(self, n_out=None):
        """Name of the output function (``out_activation_``; see ``_base.output_activation``)."""
        if n_out is None:
            n_out = self.layers_[-1].b.shape[0]
        return output_activation(self._is_clf, n_out,
                                 getattr(self, "_y_type", None) == "multilabel-indicator",
                                 getattr(self, "loss", None) == "poisson")

    # ----------------------------------------------------------------- predict
    def _predict_raw(self, X):
        check_is_fitted(self, "layers_")
        dtype = self.layers_[0].b.dtype
        # lean path for a finite float ndarray of the right width (validate_data
        # costs more than a small network's forward pass); anything else gets
        # validate_data's errors and warnings. See docs/design/mlp-trusted-paths.md.
        if not (type(X) is np.ndarray and X.ndim == 2 and X.dtype in (np.float64, np.float32)
                and X.shape[1] == self.n_features_in_ and X.shape[0] > 0
                and not hasattr(self, "feature_names_in_") and np.isfinite(X).all()):
            check_sparse_structure(X)  # before any conversion reads it
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32],
                              accept_sparse=ACCEPT_SPARSE)
        XT = transposed(as_input(X, dtype))  # sparse X stays sparse: see _sparse_input
        return forward(self.layers_, XT, self.activation, self._out()).T

    # --------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train (dense phase, pruning, fine-tuning) on ``X`` (n_samples, n_features).

        ``y``: class labels or a multilabel indicator matrix (classifier), or
        targets (n_samples[, n_outputs]) (regressor). ``sample_weight``
        (n_samples,), optional: the loss is the weighted mean (scikit-learn
        >= 1.7); with 'lbfgs' a weight of 2 is the same as a repeated row.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight)

    def _fit(self, X, y, incremental=False, classes=None, sample_weight=None):
        """Train on ``(X, y)``: ``fit`` (all phases) or, if ``incremental``, one epoch.

        ``fit`` starts from a new network unless ``warm_start``; ``partial_fit``
        continues the fitted one (weights, optimizer state, shuffling RNG,
        sample count and curves). All or nothing: a failed or interrupted call
        leaves every attribute (``n_features_in_`` and ``classes_`` included)
        as it was.
        """
        saved = dict(self.__dict__)
        try:
            return self._train(X, y, incremental, classes, sample_weight)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _train(self, X, y, incremental, classes, sample_weight):
        sizes = self._hidden_sizes()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not (hasattr(self, "layers_") and (incremental or self.warm_start))
        check_sparse_structure(X)  # before any conversion reads it
        X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32],
                             accept_sparse=ACCEPT_SPARSE, multi_output=True,
                             y_numeric=not self._is_clf)
        if self._is_clf and y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        Y = self._targets(y, first, incremental, classes)
        n_out = Y.shape[1]
        es = self.early_stopping and self.solver in STOCHASTIC_SOLVERS
        if first:
            rng = check_random_state(self.random_state)
            layers = init_layers((X.shape[1],) + sizes + (n_out,), X.dtype, rng, self.activation)
            opt, seen = Optimizer(self, layers), 0
        else:
            rng = (incremental and copy.deepcopy(getattr(self, "_partial_rng", None))) \
                or check_random_state(self.random_state)
            layers = copy.deepcopy(self.layers_)
            if layers[-1].b.shape[0] != n_out:
                raise ValueError(f"{'' if incremental else 'warm_start: '}the model has "
                                 f"{layers[-1].b.shape[0]} outputs, y needs {n_out}")
            X = as_input(X, layers[0].b.dtype)
            opt = getattr(self, "_optimizer", None)
            # partial_fit keeps the learning rate ('adaptive' divisions included), a
            # warm-start fit restarts it: scikit-learn's optimizer lives that long
            opt = (None if opt is None else opt.resume(self, layers, keep_rate=incremental)) \
                or Optimizer(self, layers)
            seen = int(self.t_)
            if incremental:  # a new optimizer of a loaded model: 'invscaling' at t_
                opt.iteration_ends(seen)
        history = _history.start(self, first, es)  # see _history: scikit-learn's bookkeeping
        n_before = 0 if history is None else len(history["loss_curve"])
        validation = held_out = None
        auto = self.target_sparsity == "auto" and not incremental  # see _auto_sparsity.py
        if es or auto:
            X, y, Y, sw, held_out = self._split(X, y, Y, sw, rng, es)
            validation = held_out if es else None
        X = as_input(X, X.dtype)  # C-contiguous, or canonical CSR (never densified)
        YT = np.ascontiguousarray(Y.T, dtype=X.dtype)
        sw = None if sw is None else np.ascontiguousarray(sw, dtype=X.dtype)
        trainer = Trainer(self, layers, opt, X, YT, rng, self._out(n_out), seen=seen,
                          history=history, validation=validation, sample_weight=sw)
        # BLAS and this thread's OpenMP; see docs/design/mlp-serial-training.md
        with blas_limited(training_threads((X.shape[1],) + sizes, trainer.batch_size),
                          openmp=True):
            if incremental:
                trainer.epoch("partial")
                trainer.check_stop()  # scikit-learn's partial_fit runs its stopping rule too
            elif auto:
                trainer, self.auto_sparsity_table_ = search_sparsity(trainer, held_out,
                                                                     self.max_score_drop)
            else:
                trainer.dense_phase()
                trainer.prune_phase()
        _history.publish(self, trainer, n_out, incremental, n_before, es)
        return self

    def _split(self, X, y, Y, sw, rng, es):
        """Training and validation parts: early stopping's (``es``) or 'auto''s.

        Early stopping splits as scikit-learn does (its RandomState, stratified
        for one output: binary labels), so the same seed holds out the same
        rows; 'auto' stratifies class labels and draws a seed from ``rng``.
        """
        if es:
            stratify, state = (Y if self._is_clf and Y.shape[1] == 1 else None), rng
        else:
            stratify = y if self._is_clf and y.ndim == 1 else None
            state = rng.randint(np.iinfo(np.int32).max)
        parts = train_test_split(X, Y, y, *([] if sw is None else [sw]),
                                 test_size=self.validation_fraction, stratify=stratify,
                                 random_state=state)
        X, X_val, Y, Y_val, y, y_val = parts[:6]
        sw, sw_val = parts[6:] if sw is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        target = y_val if self._is_clf else Y_val
        return X, y, Y, sw, (transposed(as_input(X_val, X.dtype)), target,
                             lambda out, t: self._score_output(out, t, sw_val))

    # ------------------------------------------------------------- partial_fit
    def _can_partial_fit(self):
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def _partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass of the optimizer over the block ``(X, y)``; it never prunes.

        Pruning belongs to ``fit`` (it needs the whole training run), whatever
        ``target_sparsity`` or ``prune_threshold`` say: on a pruned model
        ``partial_fit`` trains the weights that survived pruning only, the
        pattern frozen; on an unfitted one it trains the dense network, which
        a later ``fit`` with ``warm_start=True`` prunes. Early stopping and the
        convergence test are not applied (each call is one epoch, as in
        scikit-learn). The
        optimizer state (moments, step count, 'invscaling' schedule) carries
        over from call to call, pickles included.
        """
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def __getstate__(self):
        # a copy: pickling never changes the live model. The optimizer state (1-2
        # arrays per weight) travels when training may continue from it: after
        # partial_fit, or with warm_start=True; see docs/design/mlp-state.md
        state = dict(super().__getstate__())
        if not (self.warm_start or state.get("_optimizer_pickled", False)):
            state.pop("_optimizer", None)
        return state

    def __deepcopy__(self, memo):
        # an in-memory copy is the whole model, optimizer state included
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier with proximal L1, pruning and CSR layers.

    Parameters shared with :class:`sklearn.neural_network.MLPClassifier` keep
    its meaning (``hidden_layer_sizes``, ``activation``, ``solver`` 'adam',
    'sgd' with ``momentum`` / ``nesterovs_momentum``, or 'lbfgs' (L-BFGS-B
    on the whole training set, ``max_fun``; with ``l1 > 0`` OWL-QN; no
    ``group_l1``, no ``partial_fit``), ``alpha`` (L2, divided by the batch size -- the
    training set for 'lbfgs' -- as scikit-learn does), ``batch_size``,
    ``learning_rate`` ('constant', or with SGD 'invscaling' (``power_t``) and
    'adaptive'), ``learning_rate_init``, ``max_iter``, ``shuffle``,
    ``random_state``, ``tol``, ``early_stopping``, ``validation_fraction``,
    ``n_iter_no_change``, ``beta_1``, ``beta_2``, ``epsilon``, ``verbose``,
    ``warm_start``). ``y`` may be a multilabel indicator matrix (one
    logistic output per label); ``fit`` and ``partial_fit`` take
    ``sample_weight``.

    Parameters
    ----------
    l1 : float, default 0
        L1 strength on the weights (not the biases), in the per-sample mean
        objective ``mean loss + l1 * sum|w|``. Applied as a proximal step in
        the optimizer kernel (for Adam with the threshold scaled by the
        per-coordinate step; with 'lbfgs', OWL-QN), so weights reach exact zeros.
    group_l1 : float, default 0
        Group-lasso strength on hidden neurons (the incoming weight columns
        of dense hidden layers): threshold ``learning_rate_init * group_l1``
        after each step. Dead neurons are then removed by ``structured=True``.
    target_sparsity : float in [0, 1) or 'auto', optional
        Fraction of weights to prune: ``round(s * n_weights)`` weights, the
        smallest in magnitude, counted over all layers for
        ``pruning_scope='global'`` or per layer; or with ``structured=True``
        the fraction of each hidden layer's neurons. Set alone, it prunes the
        way that measured best (the defaults of ``pruning_schedule``,
        ``pruning_steps``, ``pruning_interval``, ``finetune_epochs``: gradual
        pruning over 20 events 8 epochs apart, then 100 epochs of
        fine-tuning; no L1 is added). With ``l1 = group_l1 = 0`` the fitted
        ``sparsity_`` is the target exactly (``round(s * n_weights)`` zero
        weights). With ``l1 > 0`` it is *at least* the target: weights L1 has
        zeroed are the first pruned and are not regrown, and the proximal step
        keeps zeroing weights while fine-tuning (regrowing them would undo the
        penalty asked for). ``prune_threshold`` prunes on the same schedule.
        'auto': the sparsest of 0.5, 0.7, 0.8, 0.9, 0.95, 0.98 whose score on
        a held-out ``validation_fraction`` stays within ``max_score_drop`` of
        the dense network's (gradual schedule; one dense phase and 3 pruning
        phases; the tries in ``auto_sparsity_table_``; see
        ``fastprox.neural_network._auto_sparsity``).
    max_score_drop : float >= 0, default 0.005
        With ``target_sparsity='auto'``: the validation score (accuracy, R^2)
        the pruned network may lose against the dense one.
    prune_threshold : float, optional
        Alternative to ``target_sparsity``: prune weights with ``|w| <
        prune_threshold`` (neurons whose score is below it if structured).
    pruning_schedule : {'oneshot', 'iterative', 'gradual'}, default 'gradual'
        One event after the dense phase; ``pruning_steps`` events at linearly
        increasing sparsity; or ``pruning_steps`` events on Zhu & Gupta's
        (2017) cubic schedule (large steps first). ``pruning_interval`` epochs
        are trained between events. The defaults (this one, 20 steps, 8
        epochs apart, 100 fine-tuning epochs) are the best measured on digits
        and MNIST: docs/design/mlp-pruning-defaults.md. They add about
        ``20 * 8 + 100`` epochs to a fit, mostly on CSR layers.
    pruning_steps : int, default 20
    pruning_interval : int, default 8
    pruning_scope : {'global', 'layer'}, default 'global'
    structured : bool, default False
        Remove whole hidden neurons (shrinking the dense matrices) instead of
        single weights.
    finetune_epochs : int, default 100
        Epochs trained with the final pattern frozen (only with pruning).
    sparse_crossover : float, default 0.3
        Layers sparser than this density are stored and computed as CSR.

    Attributes
    ----------
    classes_, coefs_, intercepts_, loss_, best_loss_, loss_curve_,
    validation_scores_, best_validation_score_, n_iter_, t_, n_layers_,
    n_outputs_, out_activation_, n_features_in_ : as in scikit-learn.
    layers_ : list of DenseLayer or CSRLayer
        The network as stored.
    sparse_coefs_ : list of scipy.sparse.csr_array (n_in, n_out)
    layer_storage_ : list of {'dense', 'csr'}
    sparsity_ : float
    epoch_times_, epoch_phases_ : per-epoch wall time and phase
        ('dense', 'prune', 'finetune').

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastprox.neural_network import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier((32,), max_iter=30, target_sparsity=0.8,
    ...                     random_state=0).fit(X / 16, y)  # doctest: +SKIP
    """

    _is_clf = True

    def _targets(self, y, first, incremental, classes):
        return classifier_targets(self, y, first, incremental, classes)

    def _score_output(self, out, y, sample_weight=None):
        if sample_weight is None and y.ndim == 1:
            return float(np.mean(self._decode(out) == y))
        return float(accuracy_score(y, self._decode(out), sample_weight=sample_weight))

    def _decode(self, out):
        return decode_classes(self, out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR / CSC X, never densified (_sparse_input)
        tags.classifier_tags.multi_label = True
        return tags

    @available_if(_BaseMLP._can_partial_fit)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of the optimizer over the block ``(X, y)``; never prunes.

        ``classes`` (all labels) is required on the first call. See
        ``_BaseMLP._partial_fit`` for what carries over between calls.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, classes, sample_weight)

    def predict(self, X):
        """Class labels for ``X``."""
        return self._decode(self._predict_raw(X))

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), or label probabilities if multilabel."""
        P = self._predict_raw(X)
        if P.shape[1] == 1 and getattr(self, "_y_type", None) != "multilabel-indicator":
            return np.hstack([1 - P, P])
        return P

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor with proximal L1, pruning and CSR layers.

    Same parameters and attributes as :class:`MLPClassifier` (without
    ``classes_``), and scikit-learn's ``loss``:

    loss : {'squared_error', 'poisson'}, default 'squared_error'
        'squared_error': linear output, loss ``sum of squared errors / (2 *
        n_samples)`` (summed over the outputs). 'poisson': exponential output
        (``out_activation_ = 'exp'``), half Poisson deviance ``mean(y log(y /
        p) - y + p)``; ``y`` must be non-negative. Keyword-only here, so that
        ``MLPRegressor((64,))`` keeps meaning ``hidden_layer_sizes=(64,)``
        (scikit-learn's first positional parameter is ``loss``).
    """

    _is_clf = False
    _parameter_constraints: dict = REGRESSOR_CONSTRAINTS

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error",
                 **params):
        self.loss = loss
        super().__init__(hidden_layer_sizes, activation, **params)

    # the signature scikit-learn's get_params / clone read: the base's plus ``loss``
    __init__.__signature__ = inspect.signature(_BaseMLP.__init__).replace(parameters=[
        *list(inspect.signature(_BaseMLP.__init__).parameters.values())[:3],
        inspect.Parameter("loss", inspect.Parameter.KEYWORD_ONLY, default="squared_error"),
        *list(inspect.signature(_BaseMLP.__init__).parameters.values())[3:]])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR / CSC X, never densified (_sparse_input)
        tags.target_tags.multi_output = True  # y of shape (n_samples, n_outputs) is supported
        return tags

    def _targets(self, y, first, incremental, classes):
        Y = regressor_targets(y)
        if self.loss == "poisson" and (Y < 0).any():
            raise ValueError("loss='poisson' needs non-negative targets y")
        return Y

    def _score_output(self, out, y, sample_weight=None):
        return float(r2_score(y, out[:, 0] if np.ndim(y) == 1 else out,
                              sample_weight=sample_weight))

    @available_if(_BaseMLP._can_partial_fit)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of the optimizer over the block ``(X, y)``; never prunes. returns self."""
        return self._partial_fit(X, y, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs)."""
        out = self._predict_raw(X)
        return out[:, 0] if self.n_outputs_ == 1 else out
