"""SGDRegressor and SGDClassifier: compiled mini-batch SGD with an L1 penalty that zeroes.

Same objective and parameter meaning as scikit-learn's SGD estimators::

    (1/n) sum_i sw_i * L(y_i, x_i @ w + b)
        + alpha * (l1_ratio * ||w||_1 + (1 - l1_ratio)/2 * ||w||_2^2)

Each update takes a (mini-batch) gradient step with the L2 part as weight
decay, then applies the L1 part in one of two ways (``l1_method``):

- ``'cumulative'`` (default, scikit-learn's rule): the cumulative penalty of
  Tsuruoka, Tsujii & Ananiadou (2009). ``u`` is the total L1 penalty a weight
  could have received so far (sum of ``eta_t * alpha * l1_ratio``) and ``q_j``
  what ``w_j`` actually received; after the gradient step each weight the
  batch touches is pulled toward zero by its pending penalty, never across it.
  Because a weight at zero keeps accumulating penalty it must overcome, noisy
  per-sample gradients do not keep weights off zero: it finds Lasso's
  support, like scikit-learn.
- ``'prox'``: the proximal step ``w <- soft_threshold(w, eta * alpha * l1_ratio)``.
  Also exact zeros, but with a decaying step the threshold ``eta_t * alpha``
  is far smaller than the per-sample gradient noise, so at ``batch_size=1``
  most weights stay (slightly) nonzero; it zeroes well only with large
  batches or a constant step (figures: docs/design/sgd-l1-method.md).

The epochs run in a compiled kernel (``fastprox._kernels.sgd_fast``, GIL
released; the loop around it is ``_sgd_training.train``) over dense rows or
CSR rows; a CSR row costs O(its nonzeros): the L2 decay is
a scale factor on ``w`` and the prox owed by features a row does not touch is
paid lazily. The intercept is not penalised. Updates use mini-batches of
``batch_size`` samples (the gradient is the weighted mean over the batch);
the learning-rate schedules count ``t`` in updates, so ``batch_size=1``
reproduces scikit-learn's schedule, and with ``shuffle=False`` on dense data
scikit-learn's iterates (to rounding).

References
----------
Y. Tsuruoka, J. Tsujii and S. Ananiadou, "Stochastic gradient descent training
for L1-regularized log-linear models with cumulative penalty", ACL 2009.
"""
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.linear_model import SGDClassifier as _SkSGDClassifier
from sklearn.linear_model import SGDRegressor as _SkSGDRegressor
from sklearn.linear_model._base import SparseCoefMixin
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._validation import check_sparse_structure
from .._kernels import sgd_fast
from ._sgd_sklearn import BALANCED_PARTIAL_FIT, run_sklearn, sgd_constraints, sklearn_reason
from ._sgd_training import class_weight_problems, kernel_options, optimal_init, train

__all__ = ["SGDClassifier", "SGDRegressor"]

# the l1_ratio each penalty means (None: the l1_ratio parameter)
_PENALTIES = {"l2": 0.0, "l1": 1.0, "elasticnet": None}


class _BaseSGD(SparseCoefMixin, BaseEstimator):
    """Shared model and fit orchestration; subclasses define the targets and losses."""

    # the installed scikit-learn's constraints (every value it accepts; those
    # the kernel does not run go to scikit-learn's SGD, _sgd_sklearn.py), plus
    # ours: eta0 may be 0 with the 'optimal' schedule, which ignores it
    _OUR_CONSTRAINTS: dict = {
        "eta0": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "l1_method": [StrOptions(set(sgd_fast.L1_METHODS))],
    }

    def _store_params(self, arguments):
        """Keep the constructor's ``arguments`` (its ``locals()``) unchanged, as attributes."""
        for name in self._get_param_names():
            setattr(self, name, arguments[name])

    def _check_relations(self):
        """Checks between parameters the constraints cannot state; returns the l1 ratio."""
        if self.learning_rate == "optimal" and self.alpha == 0:
            raise ValueError("alpha must be > 0 since learning_rate is 'optimal'. alpha is "
                             "used to compute the optimal learning rate (step size "
                             "1 / (alpha * (t + t0))).")
        if self.learning_rate != "optimal" and self.eta0 <= 0:
            # scikit-learn's constraint and message (it also refuses 0 for 'optimal',
            # which ignores eta0: we accept that)
            raise InvalidParameterError(
                f"The 'eta0' parameter of {type(self).__name__} must be a float in the range "
                f"(0.0, inf). Got {self.eta0!r} instead.")
        ratio = _PENALTIES[self.penalty]
        return self.l1_ratio if ratio is None else ratio

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit for up to ``max_iter`` epochs; returns self.

        ``coef_init`` / ``intercept_init`` (starting coefficients) run
        scikit-learn's SGD, as do the options listed in ``_sgd_sklearn``.
        """
        return self._fit_common(X, y, sample_weight, partial=False, coef_init=coef_init,
                                intercept_init=intercept_init)

    def _fit_common(self, X, y, sample_weight, *, partial, classes=None, **inits):
        # Work on copies and publish at the end: an exception or a
        # KeyboardInterrupt anywhere below leaves the previous fit (or no fit)
        # exactly as it was.
        saved = dict(self.__dict__)
        try:
            reason = sklearn_reason(self, sgd_fast.SCHEDULES, self._losses, **inits)
            if reason is not None:
                kwargs = {"sample_weight": sample_weight}
                if partial and self._is_clf:
                    kwargs["classes"] = classes
                elif not partial:
                    kwargs.update(inits)
                return run_sklearn(self, self._sklearn_class, "partial_fit" if partial
                                   else "fit", reason, X, y, **kwargs)
            self.__dict__.pop("_sk_model", None)
            self._fit_unsafe(X, y, sample_weight, partial=partial, classes=classes)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        return self

    def _fit_unsafe(self, X, y, sample_weight, *, partial, classes):
        self._l1_ratio_ = self._check_relations()
        first = not hasattr(self, "coef_") or (not partial and not self.warm_start)
        if not first and sp.issparse(self.coef_):  # after sparsify()
            self.densify()
        check_sparse_structure(X)  # before any conversion reads it
        X, y = validate_data(self, X, y, reset=first, accept_sparse="csr",
                             dtype=[np.float64, np.float32], order="C",
                             y_numeric=not self._is_clf)
        sw = np.ascontiguousarray(_check_sample_weight(sample_weight, X, dtype=np.float64))
        Y = self._targets(y, first, classes, partial)
        n_out = Y.shape[1]
        if first:
            self._allocate(X.shape[1], n_out, X.dtype)
            self._reset_l1_state()
        elif self._W.shape != (n_out, X.shape[1]):
            raise ValueError(f"The model has coef_ of shape {self.coef_.shape}; this data "
                             f"needs {n_out} x {X.shape[1]} weights")
        else:
            self.coef_, self.intercept_ = self.coef_.copy(), self.intercept_.copy()
            if not partial or getattr(self, "_l1_q", None) is None \
                    or self._l1_q.shape != self._W.shape:
                self._reset_l1_state()
            else:  # partial_fit carries the cumulative penalty on, like fit's next epoch
                self._l1_q = self._l1_q.copy()
            # warm start / partial_fit on data of another dtype: keep the model's dtype
            X = X.astype(self.coef_.dtype, copy=False)
        Y = np.ascontiguousarray(Y, dtype=self.coef_.dtype)
        self._train(X, Y, sw, partial=partial)

    def _allocate(self, n_features, n_out, dtype):
        self.coef_ = np.zeros((n_out, n_features), dtype=dtype)
        self.intercept_ = np.zeros(n_out, dtype=dtype)
        self.t_ = 1.0
        self._optimal_init = optimal_init(self.loss, self.alpha, self.epsilon)
        self._partial_rng = None

    def _reset_l1_state(self):
        """Start the cumulative penalty afresh (each fit, as scikit-learn does)."""
        self._l1_u = 0.0
        self._l1_q = np.zeros(self._W.shape, dtype=np.float64)

    def _train(self, X, Y, sw, *, partial):
        if not partial:  # fit: reproducible from random_state
            rng = check_random_state(self.random_state)
        else:  # partial_fit: one stream across the blocks, so they are not all shuffled alike
            rng = getattr(self, "_partial_rng", None)
            if rng is None:
                rng = self._partial_rng = check_random_state(self.random_state)
        options = kernel_options(
            loss=self.loss, epsilon=self.epsilon, learning_rate=self.learning_rate,
            eta0=self.eta0, power_t=self.power_t, alpha=self.alpha,
            optimal_init=self._optimal_init, l1_ratio=self._l1_ratio_,
            l1_method=self.l1_method, fit_intercept=self.fit_intercept,
            batch_size=self.batch_size)
        runs = self._weighted_problems(Y, sw)
        if runs is None:  # every output row on the same weights: one joint training
            runs = [(slice(None), sw)]
        state = rng.get_state()
        results = []
        for rows, sw_k in runs:
            # one-vs-rest problems with their own class weights train one by one,
            # each from the same schedule position and shuffling stream
            rng.set_state(state)
            u = np.array([self._l1_u], dtype=np.float64)
            results.append(train(
                X, np.ascontiguousarray(Y[:, rows]), sw_k, self._W[rows], self.intercept_[rows],
                self._l1_q[rows], u, self.t_, options=options,
                n_epochs=1 if partial else self.max_iter, rng=rng, shuffle=self.shuffle,
                tol=None if partial else self.tol, n_iter_no_change=self.n_iter_no_change,
                verbose=self.verbose) + (float(u[0]),))
        self.n_iter_, self.t_, self._l1_u = max(results)

    def _weighted_problems(self, Y, sw):
        """``[(rows, sample_weight), ...]`` per output rows, or None (one joint problem)."""
        return None

    # ----------------------------------------------------------- prediction
    @property
    def _W(self):
        """``coef_`` as a 2-D (n_outputs, n_features) view, updated in place."""
        return self.coef_.reshape(self.intercept_.shape[0], -1)

    @property
    def sparse_coef_(self):
        """``coef_`` as a scipy CSR matrix."""
        check_is_fitted(self)
        return sp.csr_matrix(self.coef_)

    def _raw(self, X):
        check_is_fitted(self)
        check_sparse_structure(X)  # before any conversion reads it
        X = validate_data(self, X, reset=False, accept_sparse="csr",
                          dtype=[np.float64, np.float32])
        W = self.coef_ if sp.issparse(self.coef_) else self._W  # sparsify()'d or dense
        P = X @ W.T
        return (P.toarray() if sp.issparse(P) else np.asarray(P)) + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class SGDRegressor(RegressorMixin, _BaseSGD):
    """Linear regression by mini-batch SGD (L1 / L2 / elastic net), compiled epochs.

    Minimises ``(1/n) sum_i L(y_i, x_i @ w + b) + alpha * R(w)`` with
    ``R(w) = l1_ratio * ||w||_1 + (1 - l1_ratio) / 2 * ||w||_2^2`` (scikit-learn's
    scaling; ``penalty='l1'`` is ``l1_ratio=1``, ``'l2'`` is ``l1_ratio=0``).
    The L1 part is applied by the cumulative penalty (default, scikit-learn's
    rule) or a proximal step (``l1_method``); both give exact zeros, the first
    far more of them at ``batch_size=1`` (see the module docstring).

    Parameters
    ----------
    loss : {'squared_error', 'huber', 'epsilon_insensitive', \
'squared_epsilon_insensitive'}, default='squared_error'
        ``squared_error`` is ``0.5 * (y - p)**2``; the others as in scikit-learn.
    penalty : {'l2', 'l1', 'elasticnet'}, default='l2'
    alpha : float, default=0.0001
        Penalty strength.
    l1_ratio : float, default=0.15
        Elastic-net mixing, used only with ``penalty='elasticnet'``.
    fit_intercept : bool, default=True
    max_iter : int, default=1000
        Maximum number of epochs of :meth:`fit`.
    tol : float or None, default=1e-3
        Stop when the epoch's mean loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs in a row. None: run ``max_iter`` epochs.
    shuffle : bool, default=True
    verbose : int, default=0
    epsilon : float, default=0.1
        Threshold of the 'huber' and 'epsilon_insensitive' losses.
    random_state : int, RandomState or None
        Seeds the shuffling.
    learning_rate : {'invscaling', 'constant', 'optimal'}, default='invscaling'
        ``eta0``, ``eta0 / t**power_t`` or ``1 / (alpha * (t + t0))`` (Bottou's t0),
        with ``t`` the update count.
    eta0 : float, default=0.01
    power_t : float, default=0.25
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
        scikit-learn's early stopping on a held-out fraction (runs its SGD).
    n_iter_no_change : int, default=5
    warm_start : bool, default=False
        Reuse ``coef_``/``intercept_`` and the schedule's ``t_`` in :meth:`fit`.
    average : bool or int, default=False
        scikit-learn's averaged SGD (runs its SGD).
    batch_size : int, default=1
        Samples per update (the gradient is their weighted mean; the schedule's
        ``t`` counts updates). 1 is scikit-learn's algorithm.
    l1_method : {'cumulative', 'prox'}, default='cumulative'
        How the L1 part is applied after each gradient step. 'cumulative': the
        cumulative penalty of Tsuruoka, Tsujii & Ananiadou (2009), as
        scikit-learn: each weight the update touches is pulled toward zero by
        the total penalty it could have received so far minus what it did
        receive, never across zero. 'prox': soft-threshold at ``eta * alpha *
        l1_ratio``; it zeroes a weight only while its (mini-batch) gradient
        stays below ``alpha * l1_ratio``, so with per-sample noise it leaves
        most weights slightly nonzero unless batches are large (16-256) or the
        step constant (see docs/design/sgd-l1-method.md).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : ndarray of shape (1,)
    n_iter_ : int
        Epochs run by the last fit / partial_fit.
    t_ : float
        Number of updates done plus one (drives the learning-rate schedule).

    Notes
    -----
    Each epoch runs in compiled code without the GIL, over dense rows or CSR
    rows (O(nonzeros) per row: the L2 decay is a scale factor and the L1 owed
    by untouched features is paid lazily). On CSR input the intercept step is
    damped by 0.01, as in scikit-learn. With ``shuffle=False`` and
    ``batch_size=1`` on dense data the iterates equal scikit-learn's to
    rounding. :meth:`partial_fit` carries the cumulative penalty across calls,
    so blocks fed in order reproduce :meth:`fit`'s epochs; a fit that raises
    (divergence, Ctrl-C) leaves the previous model untouched.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.linear_model import SGDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 10))
    >>> y = 3 * X[:, 0] + 0.1 * rng.standard_normal(200)
    >>> reg = SGDRegressor(penalty='l1', alpha=0.2, batch_size=16, learning_rate='constant',
    ...                    random_state=0).fit(X, y)
    >>> int(np.count_nonzero(reg.coef_))
    1
    """
    _is_clf = False
    _sklearn_class = _SkSGDRegressor
    _losses = sgd_fast.REGRESSION_LOSSES
    _parameter_constraints: dict = sgd_constraints(_SkSGDRegressor,
                                                   _BaseSGD._OUR_CONSTRAINTS)

    def __init__(self, loss="squared_error", *, penalty="l2", alpha=0.0001, l1_ratio=0.15,
                 fit_intercept=True, max_iter=1000, tol=1e-3, shuffle=True, verbose=0,
                 epsilon=0.1, random_state=None, learning_rate="invscaling", eta0=0.01,
                 power_t=0.25, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=5, warm_start=False, average=False, batch_size=1,
                 l1_method="cumulative"):
        self._store_params(locals())

    def _targets(self, y, first, classes, partial):
        return np.asarray(y, dtype=np.float64).reshape(-1, 1)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of SGD over the block ``(X, y)``; returns self."""
        return self._fit_common(X, y, sample_weight, partial=True)

    def _allocate(self, n_features, n_out, dtype):
        super()._allocate(n_features, n_out, dtype)
        self.coef_ = self.coef_.reshape(-1)

    def predict(self, X):
        """Predicted values, shape (n_samples,)."""
        return self._raw(X).ravel()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


class SGDClassifier(ClassifierMixin, _BaseSGD):
    """Linear classifier by mini-batch SGD (compiled epochs); one-vs-rest for multiclass.

    Same objective as :class:`SGDRegressor` with targets ``y in {-1, +1}`` per
    class and a classification loss. Binary problems have one weight row,
    ``K > 2`` classes ``K`` rows trained one-vs-rest (all rows in one update:
    the problems are separable, so this equals ``K`` independent fits).

    Parameters
    ----------
    loss : {'hinge', 'log_loss', 'modified_huber', 'squared_hinge', 'perceptron', \
'squared_error'}, default='hinge'
        As in scikit-learn (hinge and perceptron step at the margin too).
    penalty, alpha, l1_ratio, fit_intercept, max_iter, tol, shuffle, verbose,
    epsilon, random_state, early_stopping, validation_fraction, n_iter_no_change,
    warm_start, average, batch_size, l1_method :
        As in :class:`SGDRegressor`.
    n_jobs : int or None, default=None
        Accepted for scikit-learn's signature; the compiled epochs use the
        OpenMP threads (``OMP_NUM_THREADS``, threadpoolctl), one-vs-rest rows
        in one pass.
    class_weight : dict, 'balanced' or None, default=None
        As scikit-learn: the binary problem weighs each class's rows by its
        weight; with ``K > 2`` classes, problem ``k`` weighs class ``k``'s rows
        by its weight and the others by 1 (the problems then train one by one).
    learning_rate : {'optimal', 'constant', 'invscaling'}, default='optimal'
    eta0 : float, default=0.01
    power_t : float, default=0.5

    Attributes
    ----------
    classes_ : ndarray
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_iter_, t_ : as in :class:`SGDRegressor`

    Notes
    -----
    Options the compiled epochs do not cover (``average``, ``early_stopping``,
    ``penalty=None``, the 'adaptive' / 'pa1' / 'pa2' schedules, the regression
    losses, ``coef_init`` / ``intercept_init``) run scikit-learn's SGD with the
    same parameters (``fastprox.linear_model._sgd_sklearn``; one DEBUG record on
    the ``fastprox`` logger).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fastprox.linear_model import SGDClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SGDClassifier(loss='log_loss', penalty='l1', random_state=0).fit(X, y)
    >>> clf.coef_.shape
    (3, 4)
    """
    _is_clf = True
    _sklearn_class = _SkSGDClassifier
    _losses = sgd_fast.CLASSIFICATION_LOSSES
    _parameter_constraints: dict = sgd_constraints(_SkSGDClassifier,
                                                   _BaseSGD._OUR_CONSTRAINTS)

    def __init__(self, loss="hinge", *, penalty="l2", alpha=0.0001, l1_ratio=0.15,
                 fit_intercept=True, max_iter=1000, tol=1e-3, shuffle=True, verbose=0,
                 epsilon=0.1, n_jobs=None, random_state=None, learning_rate="optimal",
                 eta0=0.01, power_t=0.5, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=5, class_weight=None, warm_start=False, average=False,
                 batch_size=1, l1_method="cumulative"):
        self._store_params(locals())

    def _targets(self, y, first, classes, partial):
        check_classification_targets(y)
        if partial:
            if first or not hasattr(self, "classes_"):
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit")
                self.classes_ = unique_labels(classes)
            elif classes is not None and not np.array_equal(unique_labels(classes),
                                                            self.classes_):
                raise ValueError(f"classes={classes!r} is not the same as on the first call "
                                 f"to partial_fit ({self.classes_!r})")
            if not np.all(np.isin(unique_labels(y), self.classes_)):
                raise ValueError(f"y has labels not in classes {self.classes_!r}")
        elif first:
            self.classes_ = unique_labels(y)
        elif not np.all(np.isin(unique_labels(y), self.classes_)):
            raise ValueError(f"warm_start: y has labels not in classes_ {self.classes_!r}")
        if len(self.classes_) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got "
                             f"{len(self.classes_)} class")
        if len(self.classes_) == 2:
            return np.where(y == self.classes_[1], 1.0, -1.0).reshape(-1, 1)
        return np.where(y[:, None] == self.classes_[None, :], 1.0, -1.0)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over the block ``(X, y)``; ``classes`` is required on the first call."""
        if not hasattr(self, "classes_") and self.class_weight == "balanced":
            raise ValueError(BALANCED_PARTIAL_FIT)
        return self._fit_common(X, y, sample_weight, partial=True, classes=classes)

    def _weighted_problems(self, Y, sw):
        if self.class_weight is None:
            return None
        self._expanded_class_weight, runs = class_weight_problems(self.class_weight,
                                                                  self.classes_, Y, sw)
        return runs

    def decision_function(self, X):
        """Signed scores, shape (n_samples,) for binary, (n_samples, n_classes) else."""
        P = self._raw(X)
        return P.ravel() if P.shape[1] == 1 else P

    def predict(self, X):
        """Predicted class labels."""
        P = self._raw(X)
        idx = (P[:, 0] > 0).astype(int) if P.shape[1] == 1 else P.argmax(axis=1)
        return self.classes_[idx]

    @available_if(lambda self: self.loss in ("log_loss", "modified_huber"))
    def predict_proba(self, X):
        """Class probabilities, as scikit-learn: OvR rows renormalised.

        ``loss='log_loss'``: the logistic function of each score;
        ``'modified_huber'``: ``(clip(score, -1, 1) + 1) / 2`` (Zhang, ICML 2004,
        appendix B), uniform where every class gets zero.
        """
        raw = self._raw(X)
        if self.loss == "log_loss":
            P = 1.0 / (1.0 + np.exp(-raw))
        else:
            P = (np.clip(raw, -1.0, 1.0) + 1.0) / 2.0
        if P.shape[1] == 1:
            return np.hstack([1.0 - P, P])
        s = P.sum(axis=1, keepdims=True)
        return np.divide(P, s, out=np.full_like(P, 1.0 / P.shape[1]), where=s > 0)

    @available_if(lambda self: self.loss in ("log_loss", "modified_huber"))
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))
