"""When the SGD estimators run scikit-learn's own SGD, and how.

fastprox's compiled epochs cover the penalties, losses and schedules its
kernel implements (``sgd_fast``). scikit-learn's SGD estimators accept more:
``average``, ``early_stopping``, ``penalty=None``, the
'adaptive' / 'pa1' / 'pa2' schedules, the classifier's regression losses, and
``coef_init`` / ``intercept_init`` in ``fit``. Those fits run scikit-learn's
class with the same parameters (:func:`sklearn_reason` says when); the
fitted attributes are copied back and the scikit-learn model is kept, so a
following ``partial_fit`` continues it. fastprox's own parameters
(``batch_size``, ``l1_method``) have no meaning there: set to anything but
their defaults they make such a fit raise rather than silently ignore them.
"""
import numpy as np

from .._validation import check_sparse_structure
from ._fallback import copy_fitted, logger, sklearn_params

__all__ = ["sklearn_reason", "run_sklearn", "sgd_constraints", "BALANCED_PARTIAL_FIT"]

# scikit-learn's message, word for word
BALANCED_PARTIAL_FIT = (
    "class_weight 'balanced' is not supported for partial_fit. In order to use 'balanced' "
    "weights, use compute_class_weight('balanced', classes=classes, y=y). In place of y you "
    "can use a large enough sample of the full training set target to properly estimate the "
    "class frequency distributions. Pass the resulting weights as the class_weight "
    "parameter.")

# fastprox's own parameters and their defaults (the scikit-learn path has neither)
_OURS = {"batch_size": 1, "l1_method": "cumulative"}


def sgd_constraints(sk_class, ours):
    """scikit-learn's constraints for ``sk_class`` (installed version), with ``ours`` on top."""
    return {**sk_class._parameter_constraints, **ours}


def sklearn_reason(est, schedules, losses, *, coef_init=None, intercept_init=None):
    """Why ``est`` (an SGD estimator) must run scikit-learn's SGD, or None."""
    reasons = []
    if est.penalty is None:
        reasons.append("penalty=None")
    elif est.penalty == "elasticnet" and est.l1_ratio is None:
        reasons.append("l1_ratio=None")
    if est.learning_rate not in schedules:
        reasons.append(f"learning_rate={est.learning_rate!r}")
    if est.loss not in losses:
        reasons.append(f"loss={est.loss!r}")
    if est.average is not False and est.average != 0:
        reasons.append(f"average={est.average!r}")
    if est.early_stopping:
        reasons.append("early_stopping=True")
    if coef_init is not None or intercept_init is not None:
        reasons.append("coef_init / intercept_init")
    if not reasons:
        return None
    reason = ", ".join(reasons)
    changed = [f"{k}={getattr(est, k)!r}" for k, v in _OURS.items() if getattr(est, k) != v]
    if changed:
        raise ValueError(f"{type(est).__name__} with {reason} runs scikit-learn's SGD, "
                         f"which has no {' / '.join(changed)}: leave "
                         f"{' and '.join(_OURS)} at their defaults")
    return reason


def _seed(model, est):
    """Start ``model`` from ``est``'s current coefficients (fastprox's previous fit)."""
    coef = np.asarray(est.coef_, dtype=np.float64)
    if coef.ndim == 2 and model.__class__.__name__.endswith("Regressor"):
        coef = coef.ravel()
    model.coef_, model.intercept_ = coef.copy(), np.asarray(est.intercept_, np.float64).copy()
    model.t_ = float(getattr(est, "t_", 1.0))
    if hasattr(est, "classes_"):
        model.classes_ = est.classes_
    if model.average:
        model._standard_coef, model._standard_intercept = model.coef_, model.intercept_
        model._average_coef = np.zeros_like(model.coef_)
        model._average_intercept = np.zeros_like(model.intercept_)


def run_sklearn(est, sk_class, method, reason, X, y, **kwargs):
    """``sk_class(**params).<method>(X, y, **kwargs)``; its fitted attributes onto ``est``.

    ``partial_fit`` continues the scikit-learn model an earlier fallback fit
    kept (same parameters), or starts one from ``est``'s coefficients; ``fit``
    starts afresh unless ``warm_start``, as scikit-learn does.
    """
    params = sklearn_params(est, sk_class)
    model = getattr(est, "_sk_model", None)
    if model is None or model.get_params(deep=False) != params:
        model = sk_class(**params)
        if hasattr(est, "coef_") and (method == "partial_fit" or est.warm_start):
            _seed(model, est)
    elif method == "fit" and not est.warm_start:
        model = sk_class(**params)
    logger.debug("%s.%s runs scikit-learn's %s: %s", type(est).__name__, method,
                 sk_class.__name__, reason)
    check_sparse_structure(X)  # scikit-learn's own fit would read a malformed X
    getattr(model, method)(X, y, **kwargs)
    copy_fitted(model, est)
    est._sk_model = model
    return est
