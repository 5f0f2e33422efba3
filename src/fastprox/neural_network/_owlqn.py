"""``solver='lbfgs'`` with ``l1 > 0``: OWL-QN on the flat vector of the network's values.

Minimises ``F(x) = f(x) + l1 * sum_{i in weights} |x_i|`` with ``f`` the smooth
objective of :class:`._lbfgs.Objective` (mean loss + L2; the biases are not
penalised) by the orthant-wise limited-memory quasi-Newton method of Andrew &
Gao (2007), "Scalable training of L1-regularized log-linear models" (ICML):

- the *pseudo-gradient* ``pg`` is the gradient of ``F`` where ``x_i != 0``
  and, at ``x_i = 0``, the one-sided derivative that decreases ``F`` (0 when
  neither does: ``|g_i| <= l1``);
- the L-BFGS direction (two-loop recursion on the smooth gradients' pairs)
  for ``-pg``, with every coordinate whose sign disagrees with ``-pg`` set to 0;
- a backtracking line search in which each trial point is projected onto the
  orthant of the current point (``sign(x_i)``, or ``sign(-pg_i)`` at 0):
  coordinates that would cross zero stop at zero, so weights reach exact zeros.

Stopping as L-BFGS-B's in scikit-learn: ``max|pg| <= tol`` (``gtol``), a
relative decrease of ``F`` below ``ftol = 2.2e-9`` (scipy's default), or the
``max_iter`` / ``max_fun`` limits (with scikit-learn's ConvergenceWarning).
"""
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

__all__ = ["run_owlqn"]

_FTOL = 2.220446049250313e-09  # scipy L-BFGS-B's default factr * eps
_MEMORY = 10  # scipy's maxcor


def pseudo_gradient(x, g, lam):
    """The pseudo-gradient of ``f + sum(lam * |x|)`` at ``x`` (``g`` the gradient of ``f``)."""
    pg = g + lam * np.sign(x)
    zero = x == 0
    right, left = g + lam, g - lam  # one-sided derivatives at 0
    pg[zero] = np.where(right[zero] < 0, right[zero], np.where(left[zero] > 0, left[zero], 0.0))
    return pg


def _direction(pg, S, Y):
    """L-BFGS two-loop recursion: an approximation of ``-H^{-1} pg``."""
    q = -pg.copy()
    alphas = []
    for s, y in zip(reversed(S), reversed(Y)):
        a = (s @ q) / (y @ s)
        q -= a * y
        alphas.append(a)
    if S:
        q *= (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
    for (s, y), a in zip(zip(S, Y), reversed(alphas)):
        q += (a - (y @ q) / (y @ s)) * s
    return q


def run_owlqn(objective, l1, max_iter, max_fun, tol, verbose=False):
    """Minimise ``objective`` + ``l1`` * |weights|_1 from the layers' current values.

    Same contract as :func:`._lbfgs.run_lbfgs`: the layers end at the
    minimiser; returns ``(losses, times, n_iter)`` with ``losses`` the
    penalised objective ``F`` after each iteration.
    """
    x = objective.pack()
    lam = np.zeros_like(x)
    lam[:objective.bounds[len(objective.layers)]] = l1  # weights first, then biases
    f, g = objective(x)
    F = f + float(lam @ np.abs(x))
    n_fun, n_iter = 1, 0
    S, Y = [], []
    losses, times = [], []
    clock = time.perf_counter()
    status = "max_iter"
    while n_iter < max_iter:
        pg = pseudo_gradient(x, g, lam)
        if np.max(np.abs(pg), initial=0.0) <= tol:
            status = "converged"
            break
        d = _direction(pg, S, Y)
        d[d * pg >= 0] = 0.0  # keep the coordinates that descend along -pg
        if not d @ pg < 0:  # not a descent direction: restart from steepest descent
            S, Y = [], []
            d = -pg
        orthant = np.where(x != 0, np.sign(x), -np.sign(pg))
        step = 1.0 if S else 1.0 / max(np.linalg.norm(pg), 1.0)
        while True:
            x_new = x + step * d
            x_new[np.sign(x_new) != orthant] = 0.0
            f_new, g_new = objective(x_new)
            F_new = f_new + float(lam @ np.abs(x_new))
            n_fun += 1
            if F_new <= F + 1e-4 * float(pg @ (x_new - x)) or n_fun >= max_fun or step < 1e-20:
                break
            step *= 0.5
        if not F_new <= F:  # the search failed: keep x (as L-BFGS-B's ABNORMAL exit)
            status = "line_search"
            break
        s, y = x_new - x, g_new - g
        if s @ y > 1e-10 * (y @ y):
            S.append(s)
            Y.append(y)
            if len(S) > _MEMORY:
                S.pop(0)
                Y.pop(0)
        decrease = (F - F_new) / max(abs(F), abs(F_new), 1.0)
        x, f, g, F = x_new, f_new, g_new, F_new
        n_iter += 1
        losses.append(F)
        now = time.perf_counter()
        times.append(now - clock)
        clock = now
        if verbose:
            print(f"Iteration {n_iter}, loss = {F:.8f} (lbfgs, OWL-QN)")
        if decrease <= _FTOL:
            status = "converged"
            break
        if n_fun >= max_fun:
            status = "max_fun"
            break
    objective.unpack(x)
    if status in ("max_iter", "max_fun", "line_search"):
        warnings.warn(f"lbfgs (OWL-QN, l1 > 0) failed to converge after {n_iter} iteration(s) "
                      f"({status.replace('_', ' ')}). Increase the number of iterations "
                      "(max_iter) or scale the data.", ConvergenceWarning, stacklevel=4)
    if not losses:  # converged at the start: no iteration
        losses.append(F)
        times.append(time.perf_counter() - clock)
    return losses, times, n_iter
