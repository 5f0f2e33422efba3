"""Targets of the MLPs: labels and values encoded for training, outputs decoded, as scikit-learn.

Classifier (``MLPClassifier``), as scikit-learn's ``LabelBinarizer``:

- binary labels: one output unit, target ``y == classes_[1]`` (logistic output);
- multiclass labels: one unit per class, one-hot targets (softmax output);
- a multilabel indicator matrix (n_samples, n_labels): one logistic unit
  per label, ``classes_ = arange(n_labels)``; ``predict`` thresholds the
  probabilities at 0.5 and returns an indicator matrix.

Regressor: the targets as a float (n_samples, n_outputs) matrix.

The rules for the classes of a refit are scikit-learn's: a cold ``fit``
finds them again, a ``warm_start`` fit needs the same set of classes,
``partial_fit`` needs ``classes`` on its first call and labels within
``classes_`` afterwards.
"""
import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

__all__ = ["classifier_targets", "decode_classes", "regressor_targets"]


def _multilabel(y):
    return y.ndim == 2 and type_of_target(y) == "multilabel-indicator"


def _set_classes(est, y):
    """``classes_`` and the kind of target (``_y_type``) from the labels ``y``."""
    check_classification_targets(y)  # 'Unknown label type' for object / float labels
    if _multilabel(y):
        est.classes_ = np.arange(y.shape[1])
        est._y_type = "multilabel-indicator"
        return
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"MLPClassifier supports binary, multiclass and multilabel-indicator "
                         f"targets, got {kind!r}")
    est.classes_ = np.unique(y)
    if est.classes_.shape[0] < 2:
        raise ValueError(f"y has only one class ({est.classes_[0]!r}); a classifier "
                         "needs samples of at least 2 classes")
    est._y_type = kind


def _y_type(est):
    # models pickled before multilabel support have no _y_type
    return getattr(est, "_y_type", "binary" if len(est.classes_) == 2 else "multiclass")


def _partial_fit_classes(est, y, first, classes):
    """scikit-learn's ``_check_partial_fit_first_call``: set or check ``classes_``."""
    if first and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit")
    if classes is None:
        return
    if _multilabel(y):
        classes = np.arange(y.shape[1])
    classes = unique_labels(np.asarray(classes))
    if not first:
        if not np.array_equal(classes, est.classes_):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                             f"partial_fit, was: {est.classes_!r}")
        return
    if classes.shape[0] < 2:
        raise ValueError("classes must hold at least 2 classes")
    est.classes_ = classes
    est._y_type = ("multilabel-indicator" if _multilabel(y)
                   else "binary" if classes.shape[0] == 2 else "multiclass")


def classifier_targets(est, y, first, incremental, classes=None):
    """Encoded targets (n_samples, n_outputs) of the labels ``y``; sets ``classes_`` if first.

    Parameters
    ----------
    est : MLPClassifier
    y : ndarray (n_samples,) or (n_samples, n_labels)
    first : bool
        Whether the network is new (``classes_`` is set from ``y`` / ``classes``).
    incremental : bool
        ``partial_fit``: ``classes`` is required on the first call.
    classes : array-like, optional
    """
    if incremental:
        _partial_fit_classes(est, y, first, classes)
    elif first:
        _set_classes(est, y)
    if _y_type(est) == "multilabel-indicator":
        if not _multilabel(y) or y.shape[1] != est.classes_.shape[0]:
            raise ValueError(f"the model was fitted on a multilabel indicator matrix of "
                             f"{est.classes_.shape[0]} labels; y is not one")
        return np.asarray(y, dtype=np.float64)
    if _multilabel(y) or y.ndim != 1:
        raise ValueError("the model was fitted on class labels; y is an indicator matrix")
    if not first:
        labels = unique_labels(y)
        if est.warm_start and not incremental:
            if set(labels) != set(est.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {est.classes_}, `y` has {labels}")
        elif len(np.setdiff1d(labels, est.classes_, assume_unique=True)):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                             f"{est.classes_}. 'y' has {labels}.")
    if est.classes_.shape[0] == 2:
        return (y == est.classes_[1]).astype(np.float64)[:, None]
    return (y[:, None] == est.classes_[None, :]).astype(np.float64)


def decode_classes(est, out):
    """Labels (or a multilabel indicator matrix) from the network's output (n, n_outputs)."""
    if _y_type(est) == "multilabel-indicator":
        return (out > 0.5).astype(est.classes_.dtype)
    if out.shape[1] == 1:
        return est.classes_[(out[:, 0] > 0.5).astype(int)]
    return est.classes_[np.argmax(out, axis=1)]


def regressor_targets(y):
    """The targets as float64 (n_samples, n_outputs)."""
    y = np.asarray(y, dtype=np.float64)
    return y[:, None] if y.ndim == 1 else y
