"""Make scikit-learn's names resolve to fastprox's drop-in estimators.

``patch_sklearn()`` replaces attributes of ``sklearn.linear_model`` and of the
submodules scripts import from (``sklearn.linear_model._coordinate_descent``),
so that code run *afterwards* gets fastprox's classes from an unchanged
``from sklearn.linear_model import Lasso``. It is reversible
(``unpatch_sklearn()``) and idempotent. Names bound before the patch (an
earlier ``from sklearn.linear_model import Lasso``) keep scikit-learn's object:
patch first, as with any monkey-patch.

Only names whose fastprox counterpart takes the same parameters, minimises the
same objective and exposes the same fitted attributes are patched; a
combination fastprox does not accelerate runs scikit-learn's own fit inside
the fastprox estimator (see the README's table), so a patched script never
meets an error scikit-learn would not raise. ``LogisticRegression``,
``LogisticRegressionCV`` and the SGD estimators are patched in
``sklearn.linear_model`` only: scikit-learn's private modules (whose own code
builds ``LogisticRegression``, e.g. for a ``LogisticRegressionCV`` run through
fastprox's fallback) are left as they are.
"""
import importlib

__all__ = ["patch_sklearn", "unpatch_sklearn", "sklearn_is_patched", "PATCHABLE"]

#: scikit-learn name -> fastprox module holding the faithful equivalent
PATCHABLE = {
    "Lasso": "fastprox.linear_model",
    "ElasticNet": "fastprox.linear_model",
    "LassoCV": "fastprox.linear_model",
    "ElasticNetCV": "fastprox.linear_model",
    "lasso_path": "fastprox.linear_model",
    "enet_path": "fastprox.linear_model",
    "LogisticRegression": "fastprox.linear_model",
    "LogisticRegressionCV": "fastprox.linear_model",
    "SGDClassifier": "fastprox.linear_model",
    "SGDRegressor": "fastprox.linear_model",
}

# modules scripts import these names from (a name is patched where the module has it)
_MODULES = ("sklearn.linear_model", "sklearn.linear_model._coordinate_descent")
# names patched in the public module only
_PUBLIC_ONLY = {"LogisticRegression", "LogisticRegressionCV", "SGDClassifier",
                "SGDRegressor"}

# (module, name) -> scikit-learn's original object, while patched
_ORIGINALS = {}


def patch_sklearn(names=None, *, verbose=False):
    """Point scikit-learn's estimator names at fastprox's equivalents.

    Parameters
    ----------
    names : iterable of str, optional
        Subset of :data:`PATCHABLE` to patch (default: all of them).
    verbose : bool, default=False
        Print each patched name.

    Returns
    -------
    patched : list of str
        The names now resolving to fastprox.

    Raises
    ------
    ValueError
        For a name fastprox has no faithful equivalent of.

    Examples
    --------
    >>> import fastprox
    >>> fastprox.patch_sklearn()  # doctest: +ELLIPSIS
    [...'Lasso'...]
    >>> from sklearn.linear_model import Lasso
    >>> Lasso.__module__.startswith('fastprox')
    True
    >>> fastprox.unpatch_sklearn()
    >>> from sklearn.linear_model import Lasso
    >>> Lasso.__module__.startswith('sklearn')
    True
    """
    names = list(PATCHABLE) if names is None else list(names)
    unknown = [n for n in names if n not in PATCHABLE]
    if unknown:
        raise ValueError(f"fastprox has no drop-in equivalent of {unknown}; patchable names "
                         f"are {sorted(PATCHABLE)}")
    for modname in _MODULES:
        module = importlib.import_module(modname)
        for name in names:
            if not hasattr(module, name) or (name in _PUBLIC_ONLY
                                             and modname != "sklearn.linear_model"):
                continue
            replacement = getattr(importlib.import_module(PATCHABLE[name]), name)
            # record scikit-learn's object once: patching twice must not
            # record fastprox's class as "the original"
            _ORIGINALS.setdefault((modname, name), getattr(module, name))
            setattr(module, name, replacement)
            if verbose:
                print(f"fastprox: {modname}.{name} -> {PATCHABLE[name]}.{name}")
    return sorted({name for (_, name) in _ORIGINALS})


def unpatch_sklearn(names=None):
    """Restore scikit-learn's own objects (all patched names, or ``names``)."""
    for (modname, name), original in list(_ORIGINALS.items()):
        if names is not None and name not in names:
            continue
        setattr(importlib.import_module(modname), name, original)
        del _ORIGINALS[(modname, name)]


def sklearn_is_patched(name=None):
    """Whether ``name`` (default: any name) currently resolves to fastprox."""
    return any(name is None or n == name for (_, n) in _ORIGINALS)
