"""scikit-learn's own fit, for the combinations fastprox does not accelerate.

A fastprox estimator accepts every parameter its scikit-learn namesake
accepts. Where fastprox's solvers do not cover a combination (an explicit
``solver`` of ``LogisticRegression``, a negative ``sample_weight`` in
``Lasso``, ...), :func:`fit_with_sklearn` runs the scikit-learn class with the
same parameters and copies its fitted attributes (the public names ending in
``_``) onto the fastprox estimator, which then predicts with them. Each such
fit logs one DEBUG record on the ``fastprox`` logger saying which path ran;
see the README's table of accelerated options.
"""
import logging

from .._validation import check_sparse_structure

__all__ = ["fit_with_sklearn", "path_with_sklearn", "sklearn_params", "copy_fitted", "logger"]

#: the package logger: ``logging.getLogger("fastprox").setLevel(logging.DEBUG)``
#: shows which fits ran scikit-learn's path
logger = logging.getLogger("fastprox")


def _fitted_names(obj):
    return [k for k in vars(obj) if k.endswith("_") and not k.startswith("_")]


def sklearn_params(estimator, sk_class):
    """``estimator``'s parameters that ``sk_class`` (scikit-learn's, not a patched name) takes."""
    if sk_class.__module__.startswith("fastprox"):  # a patched name caught at import
        raise RuntimeError(f"fastprox's fallback needs scikit-learn's class, got {sk_class}")
    accepted = set(sk_class._get_param_names())
    return {k: v for k, v in estimator.get_params(deep=False).items() if k in accepted}


def copy_fitted(model, estimator):
    """``model``'s fitted attributes onto ``estimator``, dropping those ``model`` lacks."""
    for name in _fitted_names(estimator):
        if not hasattr(model, name):  # a previous fit's attribute this path does not set
            delattr(estimator, name)
    for name in _fitted_names(model):
        setattr(estimator, name, getattr(model, name))


def fit_with_sklearn(estimator, sk_class, reason, X, y, params=None, **fit_params):
    """Fit ``sk_class`` with ``estimator``'s parameters; copy its fitted attributes back.

    Parameters
    ----------
    estimator : fastprox estimator
        Its ``get_params(deep=False)``, restricted to the names ``sk_class``
        accepts, build the scikit-learn model. With ``warm_start`` its current
        fitted attributes seed the scikit-learn model.
    sk_class : type
        The scikit-learn estimator class.
    reason : str
        Why fastprox's solver does not run (logged).
    X, y : the training data, as given to ``fit``
    params : dict, optional
        Parameters overriding or translating ``estimator``'s (e.g. a renamed
        one in the installed scikit-learn).
    **fit_params : passed to ``sk_class.fit`` (``sample_weight``, ...)

    Returns
    -------
    estimator : the fastprox estimator, fitted
    """
    kwargs = sklearn_params(estimator, sk_class)
    kwargs.update(params or {})
    model = sk_class(**kwargs)
    if kwargs.get("warm_start"):
        for name in _fitted_names(estimator):
            setattr(model, name, getattr(estimator, name))
    logger.debug("%s.fit runs scikit-learn's %s.%s: %s", type(estimator).__name__,
                 sk_class.__module__, sk_class.__name__, reason)
    check_sparse_structure(X)  # scikit-learn's own fit would read a malformed X
    model.fit(X, y, **fit_params)
    copy_fitted(model, estimator)
    return estimator


def path_with_sklearn(sk_path, reason, *args, **kwargs):
    """Run scikit-learn's path function ``sk_path`` (one DEBUG record saying why)."""
    if sk_path.__module__.startswith("fastprox"):  # a patched name caught at import
        raise RuntimeError(f"fastprox's fallback needs scikit-learn's function, got {sk_path}")
    logger.debug("%s runs scikit-learn's: %s", sk_path.__name__, reason)
    return sk_path(*args, **kwargs)
