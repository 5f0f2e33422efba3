"""Pruning a trained network after the fact: a pruned copy, the argument untouched.

What :func:`fastprox.pruning.prune` runs once its arguments are checked.
Two kinds of pruning, each with its criteria (``method``):

- **unstructured** (single weights): ``'magnitude'`` (``|w|``, Han et al.
  2015), ``'taylor'`` (``(w * dL/dw)**2`` summed over mini-batches of ``X, y``:
  the first-order change of the loss when ``w`` is zeroed; Molchanov et
  al. 2019, "Importance estimation for neural network pruning") and
  ``'random'`` (uniformly random weights: the baseline the literature
  compares criteria against, e.g. Blalock et al. 2020, "What is the state of
  neural network pruning?");
- **structured** (whole hidden neurons, the matrices shrink): ``'magnitude'``
  (``||w_in||_2 * ||w_out||_2``, the score ``fit(structured=True)`` uses),
  ``'l1'`` (``sum |w_in| + sum |w_out|``, Li et al. 2017, "Pruning filters
  for efficient ConvNets"), ``'l2'`` (``sqrt(sum w_in**2 + sum w_out**2)``),
  ``'taylor'`` (``(sum_n a_n * dL/da_n)**2`` summed over mini-batches, the
  first-order change of the loss when the neuron's activation ``a`` is
  removed; Molchanov et al. 2017, "Pruning convolutional neural networks
  for resource efficient inference", and 2019) and ``'random'``.

Weights already pruned stay pruned and are counted in the sparsity (they
rank first). Layers are rebuilt with :func:`._layers.make_layer`: CSR below
the model's ``sparse_crossover`` density, dense with their zeros frozen
otherwise, so that fine-tuning (``warm_start`` or ``partial_fit``) trains
the surviving weights only.
"""
import copy
import warnings
from numbers import Real

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_sparse_structure
from ._base import activate, derivative, output
from ._layers import make_layer
from ._interop import as_fastprox
from ._masks import magnitude_masks, neuron_keep, neuron_scores
from ._sparse_input import ACCEPT_SPARSE, as_input, transposed

__all__ = ["WEIGHT_METHODS", "NEURON_METHODS", "TAYLOR_BATCH", "prune", "pruned_copy",
           "taylor_scores", "drop_neurons"]

#: Criteria for single weights and for whole neurons.
WEIGHT_METHODS = ("magnitude", "taylor", "random")
NEURON_METHODS = ("magnitude", "l1", "l2", "taylor", "random")
#: Mini-batch over which the Taylor terms are taken before squaring.
TAYLOR_BATCH = 32


def _copy(model):
    """A deep copy of the fitted ``model`` without its optimizer state (it no longer fits)."""
    new = model.__class__.__new__(model.__class__)
    new.__dict__.update(copy.deepcopy({k: v for k, v in model.__dict__.items()
                                       if k != "_optimizer"}))
    # a new model for the stopping rule: the unpruned network's best loss and
    # no-improvement count would end a warm-start fine-tuning after one epoch
    new._no_improvement_count = 0
    if getattr(new, "best_loss_", None) is not None:
        new.best_loss_ = np.inf
    if getattr(new, "best_validation_score_", None) is not None:
        new.best_validation_score_ = -np.inf
    return new


def _targets(model, y, n):
    """Encoded targets (n_outputs, n) of ``y`` for the model's output layer."""
    if is_classifier(model):
        classes = model.classes_
        if not np.isin(y, classes).all():
            raise ValueError(f"y has labels the model does not know (classes_ = {classes!r})")
        if classes.shape[0] == 2 and model.layers_[-1].b.shape[0] == 1:
            return (y == classes[1]).astype(np.float64)[None, :]
        return (y[None, :] == classes[:, None]).astype(np.float64)
    return np.asarray(y, dtype=np.float64).reshape(n, -1).T


def _backward(model, Ws, XT, Y):
    """Mean-loss gradients ``dL/dW`` per layer and ``sum_n a_n dL/da_n`` per hidden neuron."""
    layers, last = model.layers_, len(Ws) - 1
    acts = [XT]
    for i, (W, layer) in enumerate(zip(Ws, layers)):
        Z = np.asarray(W.T @ acts[-1]) + layer.b.astype(np.float64)[:, None]
        acts.append(activate(Z, model.activation) if i < last else output(Z, model._out()))
    # canonical link: dL/dZ_out = (P - Y) / n for each output / loss pair of the MLPs
    delta = (acts[-1] - Y) / XT.shape[1]
    grads, neuron_terms = [None] * len(Ws), [None] * last
    for i in range(last, -1, -1):
        grads[i] = np.asarray(acts[i] @ delta.T)  # acts[0] may be sparse X.T
        if i > 0:
            dH = Ws[i] @ delta
            neuron_terms[i - 1] = (acts[i] * dH).sum(axis=1)
            delta = derivative(dH, acts[i], model.activation)
    return grads, neuron_terms


def taylor_scores(model, X, y, batch_size=TAYLOR_BATCH):
    """First-order Taylor importances on ``(X, y)``, accumulated over mini-batches.

    Molchanov et al. (2019), "Importance estimation for neural network
    pruning": the change of the loss when a weight (a neuron) is removed is
    ``w * dL/dw`` (``sum_n a_n dL/da_n``) to first order; its square is
    summed over mini-batches, because on a trained network the gradient of
    the whole training set is close to zero and its sign varies by batch.

    Returns
    -------
    weight_scores : list of ndarray (n_in, n_out)
        ``sum_batches (w * dL_b/dw)**2`` per layer.
    neuron_scores : list of ndarray (n_hidden,)
        ``sum_batches (sum_{n in b} a_n dL_b/da_n)**2`` per hidden layer.
    """
    check_sparse_structure(X)  # before any conversion reads it
    X, y = validate_data(model, X, y, reset=False, dtype=[np.float64, np.float32],
                         accept_sparse=ACCEPT_SPARSE, multi_output=not is_classifier(model),
                         y_numeric=not is_classifier(model))
    XT = transposed(as_input(X, np.float64))  # sparse X stays sparse
    Y = _targets(model, y, X.shape[0])
    Ws = [layer.dense().astype(np.float64) for layer in model.layers_]
    w_scores = [np.zeros_like(W) for W in Ws]
    n_scores = [np.zeros(W.shape[1]) for W in Ws[:-1]]
    for start in range(0, X.shape[0], batch_size):
        sl = slice(start, start + batch_size)
        grads, terms = _backward(model, Ws, XT[:, sl], Y[:, sl])
        for acc, W, g in zip(w_scores, Ws, grads):
            acc += (W * g) ** 2
        for acc, t in zip(n_scores, terms):
            acc += t ** 2
    return w_scores, n_scores


def _weight_scores(method, Ws, keeps, rng, grads):
    """Scores to rank weights by (pruned weights score 0, so they go first)."""
    if method == "magnitude":
        return Ws
    if method == "taylor":
        return grads
    return [np.where(k, 1.0 + rng.random_sample(k.shape), 0.0) for k in keeps]


def _neuron_scores(method, W_in, W_out, rng, taylor):
    if method == "magnitude":
        return neuron_scores(W_in, W_out)
    if method == "l1":
        return np.abs(W_in).sum(axis=0) + np.abs(W_out).sum(axis=1)
    if method == "l2":
        return np.sqrt((W_in ** 2).sum(axis=0) + (W_out ** 2).sum(axis=1))
    if method == "taylor":
        return taylor
    return 1.0 + rng.random_sample(W_in.shape[1])


def drop_neurons(layer_in, layer_out, cols, crossover):
    """The two layers around a hidden layer keeping only its neurons ``cols``.

    Returns ``(new_in, new_out, keep_in, keep_out)``: the new layers (CSR
    below ``crossover``) and their trainable patterns.
    """
    k_in = layer_in.keep()[:, cols]
    k_out = layer_out.keep()[cols]
    new_in = make_layer(layer_in.dense()[:, cols], layer_in.b[cols], k_in, crossover)
    new_out = make_layer(layer_out.dense()[cols], layer_out.b, k_out, crossover)
    return new_in, new_out, k_in, k_out



def _prune_weights(layers, idx, *, sparsity, threshold, method, scope, rng, grads, crossover):
    layers = list(layers)
    Ws = [layers[i].dense() for i in idx]
    keeps = [layers[i].keep() for i in idx]
    scores = _weight_scores(method, Ws, keeps, rng, grads and [grads[i] for i in idx])
    if threshold is not None:
        masks = magnitude_masks(scores, threshold=threshold)
    else:
        masks = magnitude_masks(scores, sparsity=sparsity, scope=scope)
    for i, W, m, k in zip(idx, Ws, masks, keeps):
        layers[i] = make_layer(W, layers[i].b, m & k, crossover)
    return layers


def _prune_neurons(layers, idx, *, sparsity, threshold, method, rng, taylor, crossover):
    layers = list(layers)
    for i in idx:
        W_in, W_out = layers[i].dense(), layers[i + 1].dense()
        scores = _neuron_scores(method, W_in, W_out, rng, taylor and taylor[i])
        if threshold is not None:
            alive = neuron_keep(scores, threshold=threshold)
        else:
            alive = neuron_keep(scores, fraction=sparsity)
        if not alive.all():
            layers[i], layers[i + 1], _, _ = drop_neurons(layers[i], layers[i + 1],
                                                          np.flatnonzero(alive), crossover)
    return layers


def pruned_copy(model, *, sparsity=None, threshold=None, structured=False, method="magnitude",
                scope="global", random_state=None, X=None, y=None, layers=None):
    """A pruned copy of the fitted fastprox MLP ``model`` (see :func:`fastprox.pruning.prune`).

    Arguments are those of :func:`fastprox.pruning.prune` after its checks
    (``keep_ratio`` turned into ``sparsity = 1 - keep_ratio``), plus
    ``layers``: the indices of the layers (``structured``: of the hidden
    layers) to prune, all by default.
    """
    check_is_fitted(model, "layers_")
    methods = NEURON_METHODS if structured else WEIGHT_METHODS
    if method not in methods:
        kind = "structured (neuron)" if structured else "unstructured (weight)"
        raise ValueError(f"method={method!r} is not a criterion for {kind} pruning; use one "
                         f"of {methods}")
    if threshold is not None and method == "random":
        raise ValueError("method='random' prunes a number of weights: give sparsity or "
                         "keep_ratio, not threshold")
    if method == "taylor" and (X is None or y is None):
        raise ValueError("method='taylor' needs data: pass X and y")
    new = _copy(model)
    n_layers = len(new.layers_)
    if structured and n_layers < 2:
        warnings.warn("structured pruning removes hidden neurons and this network has no "
                      "hidden layer: nothing pruned", UserWarning, stacklevel=3)
        return new
    grads = taylor = None
    if method == "taylor":
        grads, taylor = taylor_scores(model, X, y)
    rng = check_random_state(random_state)
    crossover = new.sparse_crossover
    if structured:
        new._built_layer_sizes = model.built_layer_sizes_  # the report's dense reference
        idx = range(n_layers - 1) if layers is None else layers
        new.layers_ = _prune_neurons(new.layers_, idx, sparsity=sparsity, threshold=threshold,
                                     method=method, rng=rng, taylor=taylor, crossover=crossover)
    else:
        idx = range(n_layers) if layers is None else layers
        new.layers_ = _prune_weights(new.layers_, list(idx), sparsity=sparsity,
                                     threshold=threshold, method=method, scope=scope, rng=rng,
                                     grads=grads, crossover=crossover)
    return new


@validate_params(
    {"model": "no_validation", "sparsity": [Interval(Real, 0, 1, closed="left"), None],
     "threshold": [Interval(Real, 0, None, closed="left"), None],
     "keep_ratio": [Interval(Real, 0, 1, closed="right"), None], "structured": ["boolean"],
     "method": [StrOptions(set(NEURON_METHODS))], "scope": [StrOptions({"global", "layer"})],
     "random_state": ["random_state"], "X": ["array-like", "sparse matrix", None],
     "y": ["array-like", None]},
    prefer_skip_nested_validation=True)
def prune(model, *, sparsity=None, threshold=None, keep_ratio=None, structured=False,
          method="magnitude", scope="global", random_state=None, X=None, y=None):
    """A pruned copy of a trained network; ``model`` itself is not modified.

    Parameters
    ----------
    model : fitted fastprox or scikit-learn MLPClassifier / MLPRegressor
        A scikit-learn model is imported first (``from_sklearn``: same
        predictions), so the result is always a fastprox model.
    sparsity : float in [0, 1), optional
        Fraction to prune: of the weights (exactly ``round(sparsity * n)``,
        weights already zero counted first), or with ``structured=True`` of
        each hidden layer's neurons.
    threshold : float >= 0, optional
        Prune what scores below it: weights with ``|w| < threshold``
        (``method='magnitude'``), or neurons / weights whose importance is
        below it.
    keep_ratio : float in (0, 1], optional
        Fraction to keep: ``sparsity = 1 - keep_ratio`` (each hidden layer
        of ``n`` neurons keeps ``n - round((1 - keep_ratio) * n)``, at least 1).
        Give exactly one of ``sparsity``, ``threshold`` and ``keep_ratio``.
    structured : bool, default False
        Remove whole hidden neurons (the dense matrices shrink) instead of
        single weights. Each hidden layer is ranked on its own (``scope``
        does not apply); a network without a hidden layer is returned
        unpruned with a warning.
    method : str, default 'magnitude'
        Weights: 'magnitude' (``|w|``), 'taylor' (``|w * dL/dw|`` on ``X,
        y``) or 'random'. Neurons: 'magnitude' (``||w_in||_2 *
        ||w_out||_2``), 'l1', 'l2' (norms of the neuron's incoming and
        outgoing weights), 'taylor' (``|sum_n a_n dL/da_n|`` on ``X, y``) or
        'random'. See ``fastprox.neural_network._posthoc`` for references.
    scope : {'global', 'layer'}, default 'global'
        Unstructured: rank all weights together or each layer on its own.
    random_state : int, RandomState instance or None
        For ``method='random'``.
    X, y : array-like, optional
        Data for ``method='taylor'`` (the training set or a sample of it).

    Returns
    -------
    pruned : fastprox MLPClassifier or MLPRegressor
        With the same parameters, a new ``layers_`` (CSR below
        ``sparse_crossover``) and no optimizer state; fine-tune it with
        ``warm_start=True`` (or ``partial_fit``): pruned weights stay zero.
        Its stopping record starts afresh (``best_loss_`` inf, no-improvement
        count 0; ``loss_curve_`` kept), so a warm-start fine-tuning of a
        converged network runs its ``max_iter`` epochs.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neural_network import MLPClassifier
    >>> from fastprox.pruning import prune
    >>> X, y = load_digits(return_X_y=True)
    >>> sk = MLPClassifier((64,), max_iter=50, random_state=0).fit(X / 16, y)  # doctest: +SKIP
    >>> small = prune(sk, sparsity=0.9)  # doctest: +SKIP
    >>> small.layer_storage_  # doctest: +SKIP
    ['csr', 'csr']
    """
    given = [name for name, v in (("sparsity", sparsity), ("threshold", threshold),
                                  ("keep_ratio", keep_ratio)) if v is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of sparsity=, threshold= and keep_ratio=" +
                         (f" (got {' and '.join(given)})" if given else ""))
    if keep_ratio is not None:
        sparsity = 1.0 - keep_ratio
    return pruned_copy(as_fastprox(model), sparsity=sparsity, threshold=threshold,
                       structured=structured, method=method, scope=scope,
                       random_state=random_state, X=X, y=y)
