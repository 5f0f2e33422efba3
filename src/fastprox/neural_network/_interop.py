"""Trained weights from elsewhere: a fitted scikit-learn MLP, or arrays from any framework.

:class:`ImportWeightsMixin` gives both MLP estimators two constructors of a
*fitted* model (``n_features_in_``, ``n_outputs_``, ``out_activation_``,
``classes_`` for a classifier, and empty training curves) that predicts,
scores, reports, prunes (:func:`fastprox.pruning.prune`) and continues
training (``warm_start=True`` or ``partial_fit``):

- :meth:`~ImportWeightsMixin.from_sklearn`: a fitted
  :class:`sklearn.neural_network.MLPClassifier` / ``MLPRegressor``, with the
  same predictions (the same products in the same order: equal to rounding);
- :meth:`~ImportWeightsMixin.from_weights`: weight and bias arrays, e.g. a
  PyTorch ``state_dict`` or Keras ``get_weights()`` converted to NumPy.

Layout. fastprox and scikit-learn store a layer's weights as an
``(n_in, n_out)`` matrix ``W`` and compute ``h @ W + b``; so does a Keras
``Dense`` kernel. PyTorch's ``nn.Linear.weight`` is ``(n_out, n_in)`` and
computes ``h @ weight.T + bias``: pass ``layout="out_in"`` and the matrices
are transposed on import. Exact zeros are pruned weights: a layer sparser
than ``sparse_crossover`` is stored and computed as CSR, and the zeros of a
layer kept dense stay zero when training continues (a masked pruning done
in another framework runs sparse here).
"""
import numpy as np
from sklearn.base import is_classifier
from sklearn.utils._param_validation import (InvalidParameterError,
                                             validate_parameter_constraints)
from sklearn.utils.validation import check_is_fitted

from ._base import ACTIVATIONS
from ._layers import make_layer

__all__ = ["ImportWeightsMixin", "check_weights", "as_fastprox"]

_LAYOUTS = ("in_out", "out_in")


def check_weights(coefs, intercepts, layout="in_out"):
    """Weight matrices in (n_in, n_out) layout and biases, checked to chain; copies.

    Raises a ValueError naming the first layer whose shape does not fit. The
    dtype is float32 when every array is float32, float64 otherwise.
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'in_out' ((n_in, n_out): scikit-learn, Keras) or "
                         f"'out_in' ((n_out, n_in): PyTorch), got {layout!r}")
    coefs = [np.asarray(W) for W in coefs]
    intercepts = [np.asarray(b) for b in intercepts]
    if not coefs:
        raise ValueError("coefs is empty: a network needs at least one layer")
    if len(coefs) != len(intercepts):
        raise ValueError(f"got {len(coefs)} weight matrices and {len(intercepts)} bias "
                         "vectors; give one of each per layer")
    arrays = coefs + intercepts
    for a in arrays:
        if a.dtype.kind not in "fiu":
            raise ValueError(f"weights must be real numbers, got an array of dtype {a.dtype}")
    dtype = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
    Ws, bs = [], []
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        if W.ndim != 2:
            raise ValueError(f"coefs[{i}] (layer {i}) must be a 2-d matrix, got shape {W.shape}")
        W = W.T if layout == "out_in" else W
        if b.shape != (W.shape[1],):
            raise ValueError(f"intercepts[{i}] (layer {i}) has shape {b.shape}, the layer has "
                             f"{W.shape[1]} outputs: expected ({W.shape[1]},)" +
                             _layout_hint(layout, coefs[i].shape, b.shape))
        if Ws and Ws[-1].shape[1] != W.shape[0]:
            raise ValueError(f"coefs[{i}] (layer {i}) takes {W.shape[0]} inputs but layer "
                             f"{i - 1} has {Ws[-1].shape[1]} outputs (layout={layout!r}: "
                             f"{'(n_out, n_in)' if layout == 'out_in' else '(n_in, n_out)'})")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(f"layer {i} has NaN or infinite weights")
        Ws.append(np.array(W, dtype=dtype, order="C"))
        bs.append(np.array(b, dtype=dtype))
    return Ws, bs


def _layout_hint(layout, shape, b_shape):
    flipped = shape[1] if layout == "out_in" else shape[0]
    if b_shape == (flipped,):
        other = "in_out" if layout == "out_in" else "out_in"
        return f"; the matrix fits layout={other!r}"
    return ""


def _valid_params(est_cls, params):
    """The entries of ``params`` that ``est_cls`` accepts (its own constraints decide)."""
    constraints = est_cls._parameter_constraints
    names = est_cls().get_params()
    out = {}
    for name, value in params.items():
        if name not in names:
            continue
        if name in constraints:
            try:
                validate_parameter_constraints({name: constraints[name]}, {name: value},
                                               caller_name=est_cls.__name__)
            except InvalidParameterError:
                continue
        out[name] = value
    return out


#: fastprox's own MLP estimator classes, by "is a classifier" (filled as they are defined)
_ESTIMATORS = {}


def as_fastprox(model):
    """``model`` if it is a fastprox MLP; a fitted scikit-learn MLP imported; else TypeError."""
    if isinstance(model, ImportWeightsMixin):
        return model
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if isinstance(model, (MLPClassifier, MLPRegressor)):
        return _ESTIMATORS[is_classifier(model)].from_sklearn(model)
    raise TypeError("model must be a fitted fastprox or scikit-learn MLPClassifier / "
                    f"MLPRegressor, got {type(model).__name__}")


class ImportWeightsMixin:
    """``from_sklearn`` and ``from_weights``: fitted models from trained weights."""

    def __init_subclass__(cls, **kwargs):
        # the estimators register themselves, so that code below them converts
        # scikit-learn models without importing the estimator module
        super().__init_subclass__(**kwargs)
        if "_is_clf" in vars(cls) and cls.__module__.startswith("fastprox."):
            _ESTIMATORS.setdefault(bool(cls._is_clf), cls)

    @classmethod
    def _from_layers(cls, Ws, bs, *, activation, params, classes=None):
        params = dict(params)
        params["hidden_layer_sizes"] = tuple(int(W.shape[1]) for W in Ws[:-1])
        params["activation"] = activation
        model = cls(**params)
        crossover = model.sparse_crossover
        model.layers_ = [make_layer(W, b, W != 0, crossover) for W, b in zip(Ws, bs)]
        n_out = int(bs[-1].shape[0])
        if classes is not None:
            model.classes_ = classes
        model.n_features_in_ = int(Ws[0].shape[0])
        model.n_outputs_ = n_out
        model.n_layers_ = len(Ws) + 1
        model.out_activation_ = model._out()
        # trained elsewhere: no training history here
        model.n_iter_, model.t_ = 0, 0
        model.loss_curve_, model.loss_, model.best_loss_ = [], None, None
        model.validation_scores_, model.best_validation_score_ = None, None
        model.epoch_times_, model.epoch_phases_ = np.array([]), []
        return model

    @classmethod
    def from_weights(cls, coefs, intercepts, *, activation="relu", classes=None,
                     layout="in_out", **params):
        """A fitted model computing with the given weights.

        Parameters
        ----------
        coefs : list of array-like
            One weight matrix per layer, input layer first: ``(n_in, n_out)``
            (``layout='in_out'``: scikit-learn's ``coefs_``, Keras kernels) or
            ``(n_out, n_in)`` (``layout='out_in'``: PyTorch ``Linear.weight``).
            Consecutive layers must chain (ValueError naming the layer).
        intercepts : list of array-like
            One bias vector ``(n_out,)`` per layer.
        activation : {'identity', 'logistic', 'tanh', 'relu'}, default 'relu'
            Hidden activation. The last layer gives the pre-activation
            (logits): fastprox applies the output function itself
            (identity for a regressor; logistic for one output unit, softmax
            for several, for a classifier).
        classes : array-like, optional
            Classifier only: the labels of the output units (default
            ``0 .. n_out - 1``, or ``[0, 1]`` for a single unit). Two units
            (a two-logit softmax, as PyTorch binary classifiers often end)
            become one logistic unit with weights ``w1 - w0`` and bias
            ``b1 - b0``: the same probabilities (``softmax(z)[1] =
            expit(z1 - z0)``) in scikit-learn's binary layout.
        layout : {'in_out', 'out_in'}, default 'in_out'
        **params
            Estimator parameters (e.g. ``sparse_crossover``, or those used
            to continue training).

        Returns
        -------
        model : fitted estimator of this class
        """
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        Ws, bs = check_weights(coefs, intercepts, layout)
        n_out = Ws[-1].shape[1]
        if not cls._is_clf:
            if classes is not None:
                raise ValueError(f"classes is for classifiers; {cls.__name__} predicts values")
            return cls._from_layers(Ws, bs, activation=activation, params=params)
        if classes is None:
            classes = np.arange(max(n_out, 2))
        classes = np.asarray(classes)
        if classes.ndim != 1 or np.unique(classes).shape[0] != classes.shape[0]:
            raise ValueError("classes must be a 1-d array of distinct labels")
        if classes.shape[0] != max(n_out, 2):
            raise ValueError(f"the last layer has {n_out} output units, which fits "
                             f"{max(n_out, 2)} classes; got {classes.shape[0]} classes")
        order = np.argsort(classes, kind="stable")  # classes_ is sorted, as after fit
        if n_out == 2:
            Ws[-1] = np.ascontiguousarray(Ws[-1][:, 1:] - Ws[-1][:, :1])
            bs[-1] = bs[-1][1:] - bs[-1][:1]
            if order[0] != 0:  # labels given in decreasing order: flip the unit
                Ws[-1], bs[-1] = -Ws[-1], -bs[-1]
        elif n_out > 2:
            Ws[-1] = np.ascontiguousarray(Ws[-1][:, order])
            bs[-1] = np.ascontiguousarray(bs[-1][order])
        elif order[0] != 0:
            Ws[-1], bs[-1] = -Ws[-1], -bs[-1]
        return cls._from_layers(Ws, bs, activation=activation, params=params,
                                classes=classes[order])

    @classmethod
    def from_sklearn(cls, est, **params):
        """The fastprox model of a fitted scikit-learn MLP: same weights, same predictions.

        Parameters
        ----------
        est : sklearn.neural_network.MLPClassifier or MLPRegressor, fitted
            Of the same kind as this class. Its parameters that fastprox
            accepts are copied (so that training can continue the same way);
            its ``n_iter_``, ``t_`` and loss curve too.
        **params
            Parameters to set on the new model (override the copied ones).

        Returns
        -------
        model : fitted estimator of this class
        """
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        if not isinstance(est, (MLPClassifier, MLPRegressor)):
            raise TypeError(f"from_sklearn takes a scikit-learn MLPClassifier or MLPRegressor, "
                            f"got {type(est).__name__}")
        if is_classifier(est) != cls._is_clf:
            raise TypeError(f"{cls.__name__}.from_sklearn needs a scikit-learn "
                            f"{'MLPClassifier' if cls._is_clf else 'MLPRegressor'}, got "
                            f"{type(est).__name__}")
        check_is_fitted(est, "coefs_")
        params = {**_valid_params(cls, est.get_params()), **params}
        Ws, bs = check_weights(est.coefs_, est.intercepts_)
        model = cls._from_layers(Ws, bs, activation=est.activation, params=params,
                                 classes=getattr(est, "classes_", None))
        if model.out_activation_ != est.out_activation_:
            raise ValueError(f"this scikit-learn model's output function is "
                             f"{est.out_activation_!r}; {cls.__name__} would apply "
                             f"{model.out_activation_!r} (e.g. multilabel targets or a loss "
                             "fastprox does not train): not imported")
        for name in ("feature_names_in_", "n_iter_", "t_", "loss_", "best_loss_",
                     "validation_scores_", "best_validation_score_", "_no_improvement_count"):
            if hasattr(est, name):
                setattr(model, name, getattr(est, name))
        model.loss_curve_ = list(getattr(est, "loss_curve_", []))
        return model

