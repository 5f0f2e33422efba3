"""The SGD training loop: epochs of compiled mini-batch updates, stopping, state.

The estimators of ``_stochastic_gradient.py`` validate the data and own the
model; this module runs the epochs on it. One epoch is one pass over the
(shuffled) rows, cut into calls of :func:`fastprox._kernels.sgd_fast.sgd_epoch`
of a few milliseconds each, so that a KeyboardInterrupt is seen promptly. The
state carried from update to update, epoch to epoch and ``partial_fit`` to
``partial_fit``, is updated in place or returned:

- the weights ``W`` (n_outputs, n_features) and intercepts ``b``;
- the update count ``t`` (plus one) that drives the learning-rate schedule;
- the cumulative L1 penalty (Tsuruoka, Tsujii & Ananiadou, 2009): ``u``, the
  total penalty a weight could have received so far, and ``q``, what each
  weight did receive.

Stopping follows scikit-learn: :func:`train` stops once the epoch's mean loss
has not improved by ``tol`` for ``n_iter_no_change`` epochs in a row, and
warns with a :class:`~sklearn.exceptions.ConvergenceWarning` if that never
happens within ``n_epochs``.

References
----------
L. Bottou, "Stochastic Gradient Descent Tricks", Neural Networks: Tricks of
the Trade, 2012 (the 'optimal' schedule's initial step).
"""
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.class_weight import compute_class_weight

from .._kernels import sgd_fast
from .._validation import check_csr

__all__ = ["SPARSE_INTERCEPT_DECAY", "class_weight_problems", "kernel_options", "optimal_init",
           "train"]

# work (stored entries x outputs) per kernel call: a few ms, so that Ctrl-C is
# seen promptly between calls while the per-call overhead stays below 1 %
_CHUNK_WORK = 4_000_000

# On CSR input the intercept step is damped by this factor, as scikit-learn
# does: the intercept moves at every sample while a sparse feature moves only
# when present, and the undamped intercept's noise leaks into the weights.
# See docs/design/sgd-sparse-intercept.md
SPARSE_INTERCEPT_DECAY = 0.01


def class_weight_problems(class_weight, classes, Y, sw):
    """Class weights as scikit-learn's SGD applies them, as per-problem sample weights.

    The binary problem (``Y`` one column of +-1) weighs each class's rows by
    its weight; one-vs-rest problem ``k`` weighs class ``k``'s rows by its
    weight and the others by 1 (scikit-learn's ``pos_weight`` / ``neg_weight``).

    Returns
    -------
    weights : ndarray of shape (n_classes,)
        ``compute_class_weight``'s expanded weights.
    problems : list of (slice, ndarray)
        The output rows of ``W`` and the sample weights each is trained with.
    """
    if Y.shape[1] == 1:
        labels = classes[(Y[:, 0] > 0).astype(int)]
    else:
        labels = classes[np.argmax(Y, axis=1)]
    cw = compute_class_weight(class_weight, classes=classes, y=labels)
    if Y.shape[1] == 1:
        return cw, [(slice(0, 1), sw * np.where(Y[:, 0] > 0, cw[1], cw[0]))]
    return cw, [(slice(k, k + 1), sw * np.where(Y[:, k] > 0, cw[k], 1.0))
                for k in range(Y.shape[1])]


def optimal_init(loss, alpha, epsilon):
    """Offset ``t0`` of the 'optimal' schedule ``eta_t = 1 / (alpha * (t0 + t - 1))``.

    Bottou's heuristic, as scikit-learn's ``_plain_sgd``: for a typical weight
    ``typw = alpha ** -0.25`` the first step is ``typw / max(1, dL(1, -typw))``
    (the signed derivative, negative for every loss here, so the step is
    ``typw``), and ``t0`` makes the schedule start there. The derivative is the
    kernel's own (:func:`fastprox._kernels.sgd_fast.loss_grad`).
    """
    typw = np.sqrt(1.0 / np.sqrt(alpha)) if alpha > 0 else 1.0
    _, dloss = sgd_fast.loss_grad(sgd_fast.LOSSES[loss], -typw, 1.0, epsilon)
    eta0 = typw / max(1.0, dloss)
    return 1.0 / (eta0 * alpha) if alpha > 0 else 1.0


def kernel_options(*, loss, epsilon, learning_rate, eta0, power_t, alpha, optimal_init,
                   l1_ratio, l1_method, fit_intercept, batch_size):
    """Keyword arguments of ``sgd_epoch`` for the estimator's (validated) parameters.

    The penalty ``alpha * (l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|^2)`` goes
    to the kernel as ``l1 = alpha * l1_ratio`` and ``l2 = alpha * (1 - l1_ratio)``.
    """
    return dict(loss=sgd_fast.LOSSES[loss], epsilon=float(epsilon),
                schedule=sgd_fast.SCHEDULES[learning_rate], eta0=float(eta0),
                power_t=float(power_t), alpha=float(alpha), optimal_init=float(optimal_init),
                l1=float(alpha * l1_ratio), l2=float(alpha * (1.0 - l1_ratio)),
                l1_method=sgd_fast.L1_METHODS[l1_method], fit_intercept=bool(fit_intercept),
                batch_size=batch_size)


def _kernel_data(X, dtype):
    """``(data, indices, indptr, n_features)`` as ``sgd_epoch`` takes ``X``."""
    if sp.issparse(X):
        # validated once per fit (structure and index range): the kernel reads blindly;
        # every epoch reads the indices again, so int64 ones get an int32 copy when they fit
        A = check_csr(X, "X", dtype=dtype, narrow=True)
        return A.data, A.indices, A.indptr, A.shape[1]
    return (np.ascontiguousarray(X, dtype=dtype), np.empty(0, np.int32), np.empty(0, np.int32),
            X.shape[1])


def _epoch(Xk, Y, sw, W, b, q, u, t, *, options, rng, shuffle):
    """One pass over the rows in mini-batches; returns (weighted mean loss, t).

    The pass is cut into calls of whole mini-batches, a few milliseconds each,
    so that a KeyboardInterrupt is seen between two of them.
    """
    data, indices, indptr, n_features = Xk
    sparse = indptr.shape[0] > 0
    n = Y.shape[0]
    order = rng.permutation(n) if shuffle else np.arange(n)
    order = order.astype(np.intp, copy=False)
    bs = options["batch_size"]
    per_row = (indptr[-1] / max(n, 1) if indptr.shape[0] else n_features) + 1.0
    chunk = max(bs, int(_CHUNK_WORK / (per_row * W.shape[0])) // bs * bs)
    decay = SPARSE_INTERCEPT_DECAY if sparse else 1.0
    total = 0.0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        loss, t = sgd_fast.sgd_epoch(data, indices, indptr, n_features, Y, sw, order[start:stop],
                                     W, b, q, u, t, intercept_decay=decay, finish=stop == n,
                                     **options)
        total += loss
        if not np.isfinite(loss):
            break
    if not (np.isfinite(total) and np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        raise ValueError("SGD diverged (non-finite weights); lower eta0, use "
                         "learning_rate='optimal' or scale the inputs")
    return total / max(float(sw.sum()), np.finfo(float).tiny), t


def train(X, Y, sw, W, b, q, u, t, *, options, n_epochs, rng, shuffle, tol, n_iter_no_change,
          verbose):
    """Run up to ``n_epochs`` epochs of SGD; ``W``, ``b``, ``q``, ``u`` updated in place.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        Of the dtype of ``W``.
    Y : ndarray of shape (n_samples, n_outputs)
        Targets, C-contiguous, of the dtype of ``W``.
    sw : ndarray of float64, shape (n_samples,)
    W, b : ndarray
        Weights (n_outputs, n_features) and intercepts (n_outputs,).
    q : ndarray of float64, shape (n_outputs, n_features)
        Cumulative-penalty record; read only with the cumulative L1 method.
    u : ndarray of float64, shape (1,)
        Cumulative L1 penalty per weight so far.
    t : float
        Update count plus one.
    options : dict
        From :func:`kernel_options`.
    n_epochs : int
    rng : numpy.random.RandomState
        Draws the row order of each epoch when ``shuffle``.
    shuffle : bool
    tol : float or None
        Stop when the epoch's mean loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs in a row; None runs every epoch, silently.
    n_iter_no_change : int
    verbose : int

    Returns
    -------
    n_iter : int
        Epochs run.
    t : float
        Update count plus one after the last update.

    Raises
    ------
    ValueError
        If the weights stopped being finite (divergence).
    """
    Xk = _kernel_data(X, W.dtype)
    if not (options["l1_method"] == sgd_fast.L1_METHODS["cumulative"] and options["l1"] > 0):
        q = np.zeros((1, 1))
    t = float(t)
    best, no_improve, n_iter = np.inf, 0, 0
    converged = False
    for epoch in range(n_epochs):
        t0 = time.perf_counter()
        loss, t = _epoch(Xk, Y, sw, W, b, q, u, t, options=options, rng=rng, shuffle=shuffle)
        n_iter += 1
        if verbose:
            print(f"-- Epoch {epoch + 1}, avg. loss {loss:.6f}, nnz {np.count_nonzero(W)}"
                  f", {time.perf_counter() - t0:.3f} s")
        if tol is not None:
            if loss > best - tol:
                no_improve += 1
            else:
                no_improve = 0
            best = min(best, loss)
            if no_improve >= n_iter_no_change:
                converged = True
                break
    if not converged and tol is not None:
        warnings.warn(f"Maximum number of iteration reached ({n_epochs}) before "
                      "convergence. Consider increasing max_iter to improve the fit.",
                      ConvergenceWarning)
    return n_iter, t
