"""The choice of ``C`` / ``l1_ratio`` and the fitted attributes of ``LogisticRegressionCV``.

:func:`publish` takes the per-(fold, ``l1_ratio``) results of
``_logistic_cv_path.fold_path`` and does what scikit-learn's
``LogisticRegressionCV.fit`` (>= 1.8) does after its parallel loop, in the
same order and with the same shapes: the best grid point by the sum of the
fold scores (``refit=True``, then a refit on all the data) or each fold's
best point (``refit=False``, coefficients averaged), then ``C_``,
``l1_ratio_``, ``coefs_paths_``, ``scores_``, ``n_iter_`` in the legacy or
the new layout (``use_legacy_attributes``).
"""
import numpy as np

__all__ = ["publish"]


def publish(est, results, Cs, folds, l1_ratios, l1_ratios_, penalty, refit, legacy):
    """Set ``est``'s fitted attributes as scikit-learn's ``LogisticRegressionCV.fit`` does.

    Parameters
    ----------
    est : the estimator (``classes_``, ``n_features_in_`` already set)
    results : list of (coefs, scores, n_iter)
        One per fold and ``l1_ratio`` (folds outer), from ``fold_path``.
    Cs : ndarray, the grid of ``C``
    folds : list of (train, test)
    l1_ratios : the user's grid, None if not given
    l1_ratios_ : the grid searched (``[None]`` without elastic net)
    penalty : str, scikit-learn's resolved penalty
    refit : callable ``refit(C, l1_ratio, coef_init) -> w`` or None
        The fit on all the data (``w``: intercept last, 1-D for two classes);
        None for ``refit=False``.
    legacy : bool, ``use_legacy_attributes``
    """
    n_features = est.n_features_in_
    n_folds, n_l1, n_cs = len(folds), len(l1_ratios_), len(Cs)
    is_binary = len(est.classes_) == 2
    n_classes = 1 if is_binary else len(est.classes_)
    labels = est.classes_[1:] if is_binary else est.classes_
    coefs_paths, scores, n_iter_ = (np.array(r) for r in zip(*results))
    est.Cs_ = Cs
    if is_binary:
        coefs_paths = np.reshape(coefs_paths, (n_folds, n_l1, n_cs, -1))
        coefs_paths = np.swapaxes(coefs_paths, 1, 2)[None, ...]
    else:
        coefs_paths = np.reshape(coefs_paths, (n_folds, n_l1, n_cs, n_classes, -1))
        coefs_paths = np.moveaxis(coefs_paths, (0, 1, 3), (1, 3, 0))
    est.n_iter_ = np.swapaxes(np.reshape(n_iter_, (n_folds, n_l1, n_cs)), 1, 2)[None, ...]
    scores = np.swapaxes(np.reshape(scores, (n_folds, n_l1, n_cs)), 1, 2)[None, ...]
    scores = np.tile(scores, (n_classes, 1, 1, 1))
    est.scores_ = dict(zip(labels, scores))
    est.coefs_paths_ = dict(zip(labels, coefs_paths))
    scores = est.scores_[labels[0]]  # the same for every class
    if refit is not None:
        w, C_, l1_ratio_ = _refit(coefs_paths, scores, Cs, l1_ratios_, refit, is_binary)
    else:
        w, C_, l1_ratio_ = _average(coefs_paths, scores, Cs, l1_ratios_, penalty, is_binary)
    est.intercept_ = np.zeros(n_classes)
    if is_binary:
        est.coef_ = w[:, :n_features] if w.ndim == 2 else w[:n_features][None, :]
        if est.fit_intercept:
            est.intercept_[0] = w[0, -1] if w.ndim == 2 else w[-1]
        est.C_, est.l1_ratio_ = np.asarray([C_]), np.asarray([l1_ratio_])
    else:
        est.coef_ = w[:, :n_features]
        if est.fit_intercept:
            est.intercept_ = w[:, -1]
        est.C_ = np.asarray(np.tile([C_], n_classes))
        est.l1_ratio_ = np.asarray(np.tile([l1_ratio_], n_classes))
    est.l1_ratios_ = np.asarray(l1_ratios_)
    if l1_ratios is None:  # no elastic-net grid: drop the l1_ratios axis
        for cls in est.coefs_paths_:
            est.coefs_paths_[cls] = est.coefs_paths_[cls][:, :, 0, :]
            est.scores_[cls] = est.scores_[cls][:, :, 0]
        est.n_iter_ = est.n_iter_[:, :, :, 0]
    if not legacy:
        _new_layout(est, n_folds, n_cs, n_classes, l1_ratios)


def _refit(coefs_paths, scores, Cs, l1_ratios_, refit, is_binary):
    """Best mean score over the folds; refit there from the folds' mean coefficients."""
    scores_sum = scores.sum(axis=0)  # (n_cs, n_l1_ratios)
    best = np.unravel_index(np.argmax(scores_sum), scores_sum.shape)
    C_, l1_ratio_ = Cs[best[0]], l1_ratios_[best[1]]
    if is_binary:
        coef_init = np.mean(coefs_paths[0, :, best[0], best[1], :], axis=0)
    else:
        coef_init = np.mean(coefs_paths[:, :, best[0], best[1], :], axis=1)
    return refit(C_, l1_ratio_, coef_init), C_, l1_ratio_


def _average(coefs_paths, scores, Cs, l1_ratios_, penalty, is_binary):
    """Each fold's best grid point; the mean of those coefficients, ``C`` and ``l1_ratio``."""
    n_folds, n_cs, n_l1 = scores.shape
    best = np.unravel_index(np.argmax(scores.reshape(n_folds, -1), axis=1), (n_cs, n_l1))
    best = np.asarray(list(zip(*best)))  # (n_folds, 2): index of C, of l1_ratio
    if is_binary:
        w = np.mean([coefs_paths[0, i, c, r, :] for i, (c, r) in enumerate(best)], axis=0)
    else:
        w = np.mean([coefs_paths[:, i, c, r, :] for i, (c, r) in enumerate(best)], axis=0)
    C_ = np.mean(Cs[best[:, 0]])
    l1_ratio_ = (np.mean(np.asarray(l1_ratios_)[best[:, 1]]) if penalty == "elasticnet"
                 else 0.0)
    return w, C_, l1_ratio_


def _new_layout(est, n_folds, n_cs, n_classes, l1_ratios):
    """scikit-learn's ``use_legacy_attributes=False`` attributes (floats and plain arrays)."""
    n_dof = est.n_features_in_ + int(est.fit_intercept)
    est.C_ = float(est.C_[0])
    paths = np.concatenate(list(est.coefs_paths_.values()))
    scores = next(iter(est.scores_.values()))  # the same for every class
    n_iter = est.n_iter_[0]
    if l1_ratios is None:
        paths = paths.reshape(n_classes, n_folds, n_cs, 1, n_dof)
        scores = scores.reshape(n_folds, n_cs, 1)
        n_iter = n_iter.reshape(n_folds, n_cs, 1)
        est.l1_ratio_ = 1.0 if est.penalty == "l1" else 0.0
    else:
        est.l1_ratio_ = float(est.l1_ratio_[0])
        paths = paths.reshape(n_classes, n_folds, n_cs, len(est.l1_ratios_), n_dof)
    # (n_classes, n_folds, n_cs, n_l1, n_dof) -> (n_folds, n_l1, n_cs, n_classes, n_dof)
    est.coefs_paths_ = np.moveaxis(paths, (0, 1, 3), (3, 0, 1))
    est.scores_ = np.moveaxis(scores, (1, 2), (2, 1))
    est.n_iter_ = np.moveaxis(n_iter, (1, 2), (2, 1))
