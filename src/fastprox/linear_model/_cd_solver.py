"""Working-set coordinate descent for the quadratic datafit + elastic-net penalty.

Minimises ``1/2 ||yc - Xc w||^2 + l1 ||w||_1 + l2/2 ||w||^2`` (optionally
with ``w >= 0``). Orchestration only; the epochs run in the compiled
``cd_fast`` kernels, the design's column operations live in
``_quadratic_design.py``. The algorithm follows the working-set + Anderson
scheme of celer (Massias et al., "Celer: a fast solver for the Lasso with
dual extrapolation", ICML 2018) and skglm (Bertrand et al., "Beyond L1:
faster and better sparse models with skglm", NeurIPS 2022), with cyclic
coordinate descent (Friedman, Hastie & Tibshirani, J. Stat. Softw. 2010)
and Anderson extrapolation (Bertrand & Massias, AISTATS 2021):

1. on the *full* problem, compute the gradient, the duality gap (the same
   formula and stopping rule as scikit-learn, so ``tol`` means the same) and
   each feature's KKT violation (``_penalties.kkt_distance``);
2. keep the current support and add the worst violators, so the working set
   has ``max(min(100, p / 10), 2 * nnz, 2 * previous size)`` features
   (``_working_set``);
3. solve the problem restricted to the working set with cyclic CD, every few
   epochs trying an Anderson-extrapolated point (kept only if it lowers the
   objective), until the working set's KKT violation drops below 0.1 times
   the full problem's (:class:`_kkt_fraction_reached`);
4. repeat until the full duality gap is below ``tol * ||yc||^2``.

Dense solutions (the support holds a quarter of the features, or fills a
working set that grew, while an l2 term lets it outgrow ``n_samples``):
the working set takes every violator at once (every feature, when that is
half of them) and is solved to the full duality gap itself
(:class:`_full_gap_reached`), checked when the gap predicted from the steps
since the last check is below ``tol``.

Features outside the working set stay at zero, so each epoch touches only a
few columns of ``X`` while the full gradient costs one ``X.T @ R`` per outer
iteration -- fewer where it can be bounded from the last one
(:func:`_bounded_grad`), and none for the first, computed in the design's
pass over ``X`` for its column statistics. Up to ``_SMALL_P`` features the
problem is solved in one kernel call on the Gram form (:func:`_solve_small`).

The choices and their measurements are in docs/design/solver-*.md.
"""
import numpy as np
import scipy.sparse as sp

from .._kernels import cd_fast
from .._threads import blas_single_threaded
from ._anderson import anderson_weights
from ._datafits import enet_duality_gap, quadratic_objective
from ._penalties import kkt_distance
from ._working_set import select_violators, ws_size

__all__ = ["enet_ws_cd"]

# Anderson extrapolation depth (skglm's default) and how often to check the
# working set's KKT violation (same period: both cost about one epoch).
_K = 5
# first working-set size, growth factor per round and the inner stopping
# fraction: see docs/design/solver-working-set.md
_WS_MIN = 100
_GROW = 2
_INNER_FRACTION = 0.1
# a support this large a fraction of the (non-constant) features marks a
# dense solution: the working set then takes every violator at once and is
# solved to the full duality gap (see docs/design/solver-dense-mode.md)
_FULL_FRACTION = 0.5
# ... and when the support and violators are this large a fraction, every
# feature joins the working set (its gap is then read off the pool)
_WHOLE_FRACTION = 0.5
# up to this many features, working sets buy nothing and the whole solve is
# one kernel call on the Gram form (cd_solve_gram)
_SMALL_P = 32
# a round whose working set grew and whose support then filled 95 % of it
# also switches to the dense-solution mode, when the support can outgrow the
# dense threshold at all (l2 > 0; with l2 = 0 it is at most n_samples);
# see docs/design/solver-dense-mode.md
_SATURATED_ROUNDS = 1
_SATURATION = 0.95


def enet_ws_cd(design, yc, w, l1, l2, *, positive=False, max_iter=1000, tol=1e-4,
               anderson=True):
    """Minimise ``1/2 ||yc - Xc w||^2 + l1 ||w||_1 + l2/2 ||w||^2`` in place.

    Parameters
    ----------
    design : _quadratic_design.QuadraticDesign
    yc : ndarray, shape (n_samples,)
        Centred target (if the design is centred), dtype of the design.
    w : ndarray, shape (n_features,)
        Starting point (warm start), updated in place.
    l1, l2 : float
        Unscaled penalty strengths (``n * alpha * l1_ratio`` and
        ``n * alpha * (1 - l1_ratio)``).
    max_iter : int
        Bounds the total number of CD epochs (on working sets) and of outer
        iterations.
    tol : float
        Stop when the duality gap is ``<= tol * ||yc||^2`` (scikit-learn's rule).

    Returns
    -------
    gap : float
        Final duality gap (unscaled).
    n_epochs : int
        Total CD epochs run (on working sets).
    converged : bool
    history : list of float
        Primal objective at each outer iteration.
    """
    with blas_single_threaded(design.n_samples * design.n_features):  # fastprox._threads
        return _enet_ws_cd(design, yc, w, l1, l2, positive, max_iter, tol, anderson)


def _enet_ws_cd(design, yc, w, l1, l2, positive, max_iter, tol, anderson):
    # Python floats: a NumPy float32 alpha (one computed from float32 data) made
    # the objectives and gaps below float32 sums, too coarse to accept Anderson
    # points near tol (see docs/design/solver-dense-f32.md)
    l1, l2, tol = float(l1), float(l2), float(tol)
    dtype = design.dtype
    p = design.n_features
    R = design.init_residual(yc, w)
    sum_R = np.array([design.sum_r(R)], dtype=dtype)
    y64 = yc.astype(np.float64)
    tol_abs = tol * float(y64 @ y64)
    l1_, l2_ = dtype.type(l1), dtype.type(l2)
    if p <= _SMALL_P and l1 > 0:
        out = _solve_small(design, yc, y64, w, R, l1, l2, positive, max_iter, tol_abs, tol)
        if out is not None:
            return out
    n_epochs = 0
    history = []
    gap = np.inf
    converged = False
    prev_ws = 0
    ws_min = max(10, min(_WS_MIN, p // 10))
    active = design.norms2 > 0
    n_active = int(active.sum())
    saturated = 0
    # X.T @ R when the last round's stopping rule left it current (exact where
    # it can exceed l1, see _bounded_grad), the last exactly computed one
    # (its absolute values and residual), the last working set
    grad = ref = sub = None
    for _ in range(max(int(max_iter), 1)):
        r = design.residual(w, R)
        if grad is None and ref is not None:
            grad = _bounded_grad(design, sub, ws, R, r, ref, l1)
        if grad is None and ref is None:
            grad = design.first_grad(R)
            if grad is not None:
                ref = (np.abs(grad), r)
        if grad is None:
            grad = design.xt_r(R)
            ref = (np.abs(grad), r)
        gap = enet_duality_gap(r, y64, w, grad, l1, l2, positive)
        history.append(quadratic_objective(r, w, l1, l2))
        if gap <= tol_abs:
            converged = True
            break
        # grad = X.T @ r is minus the datafit's gradient
        scores = kkt_distance(-grad, w.astype(np.float64), l1, l2, positive)
        scores[design.norms2 == 0] = 0.0
        kkt_max = scores.max()
        support = w != 0
        nnz = int(support.sum())
        # scores become inf on the support (read again below)
        ws = select_violators(scores, support, ws_size(p, nnz, ws_min, prev_ws, _GROW))
        if ws.size == 0:
            # float rounding can leave a gap above tol with no KKT violation left
            break
        full = 2 * nnz >= _FULL_FRACTION * n_active
        if saturated >= _SATURATED_ROUNDS and (
                l2 > 0 or 2 * design.n_samples >= _FULL_FRACTION * n_active):
            full = True
        whole = False
        if full:
            # the solution is dense: every violator joins at once (all the
            # features when that is half of them) and the working set is
            # solved to the full problem's duality gap (see _full_gap_reached)
            violators = np.flatnonzero(scores > 0)  # with the support (inf)
            whole = violators.size >= _WHOLE_FRACTION * n_active
            ws = np.flatnonzero(active | (w != 0)) if whole else violators
        ws = np.sort(ws).astype(np.intp)
        grew = ws.size > prev_ws
        prev_ws = ws.size
        sub = design.working_set(ws, w, reserve=full)
        w_ws = np.ascontiguousarray(w[ws])
        if full:
            done = _full_gap_reached(design, sub, R, y64, ws, w_ws, l1, l2, positive,
                                     tol_abs, whole, gap, ref)
        else:
            done = _kkt_fraction_reached(sub, R, w_ws, l1, l2, positive,
                                         _INNER_FRACTION * kkt_max)
        n_ep, moved = _solve_subproblem(sub, w_ws, R, sum_R, l1, l2, l1_, l2_, positive,
                                        done, max_iter - n_epochs, anderson)
        n_epochs += n_ep
        w[ws] = w_ws
        grad = None
        if full:
            grad, ref = done.handoff(n_ep)
        # a support that fills a working set that grew (not one that settles
        # on the final support, near convergence)
        saturated = saturated + 1 if grew and np.count_nonzero(w_ws) >= _SATURATION * ws.size \
            else 0
        if full and done.finished:
            history.append(done.primal)
            return done.gap, n_epochs, done.gap <= tol_abs, history
        if not moved or n_epochs >= max_iter:
            # no coordinate can move any more (the gap is at the floating-point
            # floor, e.g. float32 with a tiny tol), or the epoch budget is spent
            r = design.residual(w, R)
            gap = enet_duality_gap(r, y64, w, design.xt_r(R), l1, l2, positive)
            converged = gap <= tol_abs
            break
    return gap, n_epochs, converged, history


def _bounded_grad(design, sub, ws, R, r, ref, l1):
    """``X.T @ R``, exact for ``ws`` and wherever it can reach ``l1``; None if that is costly.

    By Cauchy-Schwarz ``|x_j.r| <= |x_j.r_ref| + ||x_j|| ||r - r_ref||``
    from the last exact gradient ``ref = (|X.T @ r_ref|, r_ref)``. A
    feature outside ``ws`` (so at zero) whose bound stays below ``l1``
    neither violates its KKT condition nor sets the dual scaling of the
    gap (only values above ``l1`` do), so a stale value below ``l1`` serves
    both as well as the exact one. The working set is read from its pool,
    the few other features whose bound reaches ``l1`` from their columns of
    ``X``; with more than 2 % of the features uncertain (their strided
    columns would cost a good part of a pass), None: stream ``X`` (see
    docs/design/solver-bounded-gradient.md).
    """
    outside = np.ones(design.n_features, dtype=bool)
    outside[ws] = False
    ref_abs = ref[0]
    bound = ref_abs + design.norms * float(np.linalg.norm(r - ref[1]))
    # margin for the rounding of the computed gradients (float32 data)
    uncertain = np.flatnonzero(outside & (bound * (1 + 1e-4) > l1))
    if uncertain.size > 0.02 * design.n_features:
        return None
    grad = ref_abs.copy()  # the signs do not matter below l1
    grad[ws] = sub.xt_r(R)
    if uncertain.size:
        grad[uncertain] = design.xt_r_cols(R, uncertain)
    return grad


def _solve_small(design, yc, y64, w, R, l1, l2, positive, max_iter, tol_abs, tol):
    """All features, CD on the Gram form in one kernel call (a few dozen features).

    Returns None when the gap of the actual residual is still above
    ``tol_abs`` (rounding of the Gram form, float32): the working-set
    solver then carries on from ``w``.
    """
    ws = np.flatnonzero(design.norms2 > 0).astype(np.intp)
    n_epochs = 0
    if ws.size:
        if design.sparse:
            G, Bty = _sparse_gram(design, ws, y64)
        else:
            sub = design.working_set(ws, w)
            B = sub.pool.block[:, sub.cols].astype(np.float64)
            G, Bty = B.T @ B, B.T @ y64
        w_ws = w[ws].astype(np.float64)
        n_epochs, _ = cd_fast.cd_solve_gram(np.ascontiguousarray(G), Bty,
                                        float(y64 @ y64), w_ws, float(l1), float(l2),
                                        positive, max(int(max_iter), 1), tol_abs, tol)
        w[ws] = w_ws
        R[:] = design.init_residual(yc, w)
    r = design.residual(w, R)
    gap = enet_duality_gap(r, y64, w, design.xt_r(R), l1, l2, positive)
    if gap > tol_abs and n_epochs < max_iter:
        return None
    return gap, n_epochs, gap <= tol_abs, [quadratic_objective(r, w, l1, l2)]


def _sparse_gram(design, ws, y64):
    """``B.T @ B`` and ``B.T @ y`` for the (implicitly centred) sparse columns ``ws``.

    ``B = Xs[:, ws] - v mu[ws]^T`` with ``v`` the ones (or ``sqrt(sw)``) of the
    design; since ``Xs_j @ v = W mu_j`` (``W = v @ v``), ``B.T @ B = Xs.T @ Xs -
    W mu mu^T`` and ``B.T @ y = Xs.T @ y - mu (v @ y)``: never densified.
    """
    Xs = sp.csc_matrix((design.data.astype(np.float64), design.indices, design.indptr),
                       shape=(design.n_samples, design.n_features))[:, ws]
    G = (Xs.T @ Xs).toarray()
    Bty = np.asarray(Xs.T @ y64, dtype=np.float64)
    if design.center:
        mu = design.X_mean[ws].astype(np.float64)
        v = design.v
        W = float(design.n_samples) if v is None else float(v @ v)
        G -= W * np.outer(mu, mu)
        Bty -= mu * (float(y64.sum()) if v is None else float(v @ y64))
    return G, Bty


class _kkt_fraction_reached:
    """Stopping rule of a working-set round: its KKT violation is below ``eps``.

    Checked every ``_K`` epochs (a check costs about one epoch).
    """

    anderson_every = _K  # epochs between extrapolation trials

    def __init__(self, sub, R, w_ws, l1, l2, positive, eps):
        self.sub, self.R, self.w_ws = sub, R, w_ws
        self.l1, self.l2, self.positive, self.eps = l1, l2, positive, eps

    def due(self, epoch, dw):
        return epoch % _K == 0

    def __call__(self, epoch):
        return kkt_distance(-self.sub.xt_r(self.R), self.w_ws.astype(np.float64),
                            self.l1, self.l2, self.positive).max() <= self.eps


class _full_gap_reached:
    """Stopping rule of a working set that holds every violator: the full duality gap.

    With every feature in (``whole``), the gap needs only the working set's
    ``X.T @ R``, read from the contiguous pool; otherwise each check also
    bounds the outside features (reading ``X`` only where needed, see
    ``_bounded_grad``), and the solve ends (for a new round) once they
    violate their KKT condition well above the working set's own violation.
    A check costs about an epoch, so it comes only when the gap is
    predicted below ``tol_abs`` (see ``due``), or after ``cap`` epochs.
    ``finished``: the gap is below ``tol_abs``, or at the floating-point
    floor.
    """

    # trials cost no pass over X (see _solve_subproblem); one every 2 epochs
    # on these long solves (see docs/design/solver-anderson.md)
    anderson_every = 2

    def __init__(self, design, sub, R, y64, ws, w_ws, l1, l2, positive, tol_abs, whole,
                 gap, ref):
        self.design, self.sub, self.R, self.y64 = design, sub, R, y64
        self.ws, self.w_ws, self.whole = ws, w_ws, whole
        self.l1, self.l2, self.positive, self.tol_abs = l1, l2, positive, tol_abs
        p = design.n_features
        self.grad = np.zeros(p)
        self.w = np.zeros(p)  # the support is inside ws: zero outside
        self.gap, self.primal = gap, np.inf  # gap: at the start (epoch 0)
        self.epoch = 0
        self.dw_ref = None  # the step of the first epoch after the last check
        # outside features can start to violate: check them every _K epochs
        self.cap = 2 * _K if whole else _K
        self.best, self.best_epoch = gap, 0
        self.floor = 10 * np.finfo(w_ws.dtype).eps * float(y64 @ y64)
        self.finished = False
        if not whole:
            self.outside = np.ones(p, dtype=bool)
            self.outside[ws] = False
            # the last exactly computed full gradient (absolute values) and its
            # residual: outside features are bounded from it (see _bounded_grad)
            self.ref = ref

    def handoff(self, epoch):
        """``(X.T @ R, ref)`` for the next round.

        The gradient only if the last check came after ``epoch`` (the last
        epoch run), so that it is current; ``ref``: see ``_bounded_grad``.
        """
        if self.whole:
            return None, None
        return (self.grad if self.epoch == epoch else None), self.ref

    def due(self, epoch, dw):
        """Whether to check after ``epoch``, whose largest step was ``dw``.

        CD converges linearly and the gap shrinks as the squared distance
        to the solution, as do squared steps: the gap is predicted as
        ``gap * (dw / dw_ref) ** 2`` from the last check's gap and the step
        of the epoch after it (on dense elastic nets it put the last check
        within an epoch of the target, where extrapolating the gap's own
        rate from two checks needed three checks near it).
        """
        if self.dw_ref is None:
            self.dw_ref = dw
        return (self.gap * (dw / self.dw_ref) ** 2 <= self.tol_abs
                or epoch - self.epoch >= self.cap)

    def __call__(self, epoch):
        w64 = self.w_ws.astype(np.float64)
        w = self.w
        w[self.ws] = w64
        if self.whole:
            grad = self.grad
            grad[self.ws] = self.sub.xt_r(self.R)
            r = self.sub.residual(self.w_ws, self.R)
        else:
            r = self.design.residual(w, self.R)
            grad = _bounded_grad(self.design, self.sub, self.ws, self.R, r, self.ref, self.l1)
            if grad is None:
                grad = self.design.xt_r(self.R)
                self.ref = (np.abs(grad), r)
            self.grad = grad
        gap = enet_duality_gap(r, self.y64, w, grad, self.l1, self.l2, self.positive)
        self.primal = quadratic_objective(r, w64, self.l1, self.l2)
        self.dw_ref = None
        # a small gap that has not halved in 10 * _K epochs is at the
        # floating-point floor (float32 with a tight tol): stop there, not at
        # max_iter
        if gap <= 0.5 * self.best:
            self.best, self.best_epoch = gap, epoch
        self.gap, self.epoch = gap, epoch
        self.finished = gap <= self.tol_abs or (gap <= self.floor
                                                and epoch - self.best_epoch >= 10 * _K)
        if self.finished or self.whole:
            return self.finished
        # w is zero outside the working set
        out_max = kkt_distance(-grad[self.outside], np.zeros(int(self.outside.sum())),
                               self.l1, self.l2, self.positive).max(initial=0.0)
        if out_max == 0:
            return False
        kkt_in = kkt_distance(-grad[self.ws], w64, self.l1, self.l2, self.positive).max()
        return kkt_in <= _INNER_FRACTION * out_max


def _solve_subproblem(sub, w_ws, R, sum_R, l1, l2, l1_, l2_, positive, done, max_iter,
                      anderson):
    """CD + Anderson on one working set until ``done`` says it is solved.

    ``done.due(epochs, largest step)`` says whether to check after an epoch
    and ``done(epochs)`` checks. Anderson is tried every ``_K`` epochs.
    """
    use_anderson = anderson and w_ws.size > 1
    # the last K + 1 iterates and their residuals: R is affine in w, so the
    # extrapolated point's residual is the same combination of theirs, and a
    # trial costs no pass over the columns. Each is stored twice, in rings of
    # 2 (K + 1) rows, so that the last K + 1 (oldest first) are always the
    # contiguous rows [s, s + K] (no copy at a trial)
    m = _K + 1
    last = np.empty((2 * m, w_ws.size), dtype=np.float64)
    last_R = np.empty((2 * m, R.size + 1), dtype=np.float64)
    n_stored = 0
    epoch = 0
    moved = False
    every = done.anderson_every
    for epoch in range(max(int(max_iter), 1)):
        dw_max = sub.epoch(w_ws, R, sum_R, l1_, l2_, positive)
        if dw_max == 0:
            break
        moved = True
        if use_anderson:
            i = n_stored % m
            last[i] = w_ws
            last_R[i, :-1] = R
            last_R[i, -1] = sum_R[0]
            last[i + m] = last[i]
            last_R[i + m] = last_R[i]
            n_stored += 1
            if n_stored > _K and n_stored % every == 0:
                s = n_stored % m
                c = anderson_weights(last[s:s + m])
                if c is not None:
                    _try_extrapolated(sub, w_ws, R, sum_R, c @ last[s + 1:s + m],
                                      c @ last_R[s + 1:s + m], l1, l2, positive)
        if done.due(epoch + 1, dw_max) and done(epoch + 1):
            break
    return epoch + 1, moved


def _try_extrapolated(sub, w_ws, R, sum_R, w_acc, R_acc, l1, l2, positive):
    """Move to ``w_acc`` (residual and its sum: ``R_acc``) if that lowers the objective."""
    if positive and (w_acc < 0).any():
        return
    R_acc, sum_acc = R_acc[:-1].astype(R.dtype), R_acc[-1:].astype(R.dtype)
    if (quadratic_objective(sub.residual(w_acc, R_acc), w_acc, l1, l2)
            < quadratic_objective(sub.residual(w_ws, R), w_ws, l1, l2)):
        w_ws[:] = w_acc
        R[:] = R_acc
        sum_R[:] = sum_acc
