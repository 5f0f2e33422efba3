"""Fused proximal update kernels.

Each public ``*_impl`` function makes one pass over memory: it reads the
weights, the gradient (and the optimizer state), applies the step and the L1
soft-threshold, writes back, and counts the nonzeros it left. Arrays are
validated by ``fastprox.prox`` before they get here: same length, C-contiguous,
same floating dtype; the kernels never raise.

The soft-threshold is written as ``z - clamp(z, -t, t)``. That form is a
compare-and-select that gcc vectorises, it gives exactly ``z - t`` / ``z + t``
outside the dead zone (so it matches ``sign(z) * max(|z| - t, 0)`` bit for bit)
and it propagates NaN instead of hiding it.

Work is split into parts (several per thread, handed out dynamically, with an
adaptive team: see ``_shared.pxd`` and docs/design/kernels-threads.md); each
element is computed by the same code whatever the split. Below ``SERIAL_WORK``
elements the loop runs on the calling thread only: waking the OpenMP team costs
more than the whole update of a small layer.
"""
from cython.parallel cimport prange
from libc.math cimport sqrt, pow
from libc.stdint cimport int64_t

from fastprox._kernels._prox_updates cimport adam_chunk, momentum_chunk, shrink
from fastprox._kernels._shared cimport (
    floating, team_size, n_parts, thread_policy, fpk_team_report, fpk_now,
    fpk_part_start, fpk_part_end,
)




# --------------------------------------------------------------------------
# soft_threshold
# --------------------------------------------------------------------------

cdef Py_ssize_t _soft_threshold_chunk(const floating* x, floating* out, Py_ssize_t n,
                                      floating t) noexcept nogil:
    cdef Py_ssize_t i, nnz = 0
    cdef floating z
    for i in range(n):
        z = shrink(x[i], t)
        out[i] = z
        nnz += z != 0
    return nnz


def soft_threshold_impl(const floating[::1] x, floating[::1] out, double t, int n_threads):
    cdef Py_ssize_t n = x.shape[0], c, lo, hi, nnz = 0
    cdef int nt = team_size(n, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0, tmark[1]  # start; this thread's part time
    if n == 0:
        return 0
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            lo = n * c // nc
            hi = n * (c + 1) // nc
            nnz += _soft_threshold_chunk(&x[lo], &out[lo], hi - lo, <floating>t)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])
    return nnz


# --------------------------------------------------------------------------
# sgd_step:  w <- prox_{lr*l1}(w - lr * (g + l2 * w))
# --------------------------------------------------------------------------

cdef Py_ssize_t _sgd_chunk(floating* w, const floating* g, Py_ssize_t n, floating lr,
                           floating decay, floating t) noexcept nogil:
    # decay = 1 - lr*l2, so w - lr*(g + l2*w) = decay*w - lr*g.
    cdef Py_ssize_t i, nnz = 0
    cdef floating z
    for i in range(n):
        z = shrink(decay * w[i] - lr * g[i], t)
        w[i] = z
        nnz += z != 0
    return nnz


def sgd_step_impl(floating[::1] w, const floating[::1] g, double lr, double l1, double l2,
                  int n_threads):
    cdef Py_ssize_t n = w.shape[0], c, lo, hi, nnz = 0
    cdef int nt = team_size(n, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0, tmark[1]  # start; this thread's part time
    cdef floating flr = lr, decay = 1.0 - lr * l2, t = lr * l1
    if n == 0:
        return 0
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            lo = n * c // nc
            hi = n * (c + 1) // nc
            nnz += _sgd_chunk(&w[lo], &g[lo], hi - lo, flr, decay, t)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])
    return nnz


# --------------------------------------------------------------------------
# momentum_step (heavy-ball or Nesterov, scikit-learn's MLP convention)
#   u = g + l2*w ; v <- mu*v - lr*u ; w <- prox_{lr*l1}(w + v)          (heavy ball)
#                                     w <- prox_{lr*l1}(w + mu*v - lr*u) (Nesterov)
# (the loop, momentum_chunk, is in _prox_updates.pxd, shared with mlp_fast)
# --------------------------------------------------------------------------

def momentum_step_impl(floating[::1] w, const floating[::1] g, floating[::1] vel, double lr,
                       double momentum, double l1, double l2, bint nesterov, int n_threads):
    cdef Py_ssize_t n = w.shape[0], c, lo, hi, nnz = 0
    cdef int nt = team_size(n, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0, tmark[1]  # start; this thread's part time
    cdef floating flr = lr, mu = momentum, fl2 = l2, t = lr * l1
    if n == 0:
        return 0
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            lo = n * c // nc
            hi = n * (c + 1) // nc
            nnz += momentum_chunk(&w[lo], &g[lo], &vel[lo], hi - lo, flr, mu, fl2, t, nesterov)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])
    return nnz


# --------------------------------------------------------------------------
# adam_step (Kingma & Ba, Algorithm 1, with a proximal L1 step)
#   u = g + l2*w ; m <- b1*m + (1-b1)*u ; v <- b2*v + (1-b2)*u^2
#   d_i = sqrt(v_i / (1-b2^k)) + eps                  (per-coordinate metric)
#   w <- prox_{lr*l1/d_i}(w - lr * m / (1-b1^k) / d_i)
# The L1 threshold is divided by d_i because Adam's step on coordinate i is
# lr/d_i: the prox of lr*l1*|w_i| in Adam's diagonal metric diag(d)/lr is the
# soft-threshold at lr*l1/d_i. A fixed threshold lr*l1 would shrink coordinates
# with small steps much harder than their step moves them (they would die
# first whatever their gradient), and coordinates with large steps barely.
# (the loop, adam_chunk, is in _prox_updates.pxd, shared with mlp_fast)
# --------------------------------------------------------------------------

def adam_step_impl(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
                   int64_t step, double lr, double beta1, double beta2, double eps,
                   double l1, double l2, int n_threads):
    cdef Py_ssize_t n = w.shape[0], c, lo, hi, nnz = 0
    cdef int nt = team_size(n, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0, tmark[1]  # start; this thread's part time
    cdef floating lr_c1 = lr / (1.0 - pow(beta1, <double>step))
    cdef floating c2 = 1.0 / sqrt(1.0 - pow(beta2, <double>step))
    cdef floating b1 = beta1, b2 = beta2, feps = eps, lr_l1 = lr * l1, fl2 = l2
    if n == 0:
        return 0
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            lo = n * c // nc
            hi = n * (c + 1) // nc
            nnz += adam_chunk(&w[lo], &g[lo], &m[lo], &v[lo], hi - lo, lr_c1, c2, b1, b2,
                               feps, lr_l1, fl2)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])
    return nnz


# --------------------------------------------------------------------------
# group_soft_threshold: W <- W * max(1 - t / ||group||_2, 0), groups = rows or columns
# --------------------------------------------------------------------------

cdef void _row_groups(floating* W, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_cols, double t,
                      Py_ssize_t* alive) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef double s, scale
    cdef floating* row
    for r in range(r0, r1):
        row = W + r * n_cols
        s = 0
        for j in range(n_cols):
            s += <double>row[j] * row[j]
        s = sqrt(s)
        scale = 1 - t / s if s > t else 0.0
        if s != s:  # NaN in the group: leave it NaN
            scale = 1.0
        alive[r] = scale != 0
        for j in range(n_cols):
            row[j] = <floating>(row[j] * scale)


cdef void _col_groups(floating* W, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t c0,
                      Py_ssize_t c1, double t, double* norms, Py_ssize_t* alive) noexcept nogil:
    # Accumulate squared column norms row by row (contiguous reads), then scale.
    cdef Py_ssize_t r, j
    cdef double s
    cdef floating* row
    for j in range(c0, c1):
        norms[j] = 0
    for r in range(n_rows):
        row = W + r * n_cols
        for j in range(c0, c1):
            norms[j] += <double>row[j] * row[j]
    for j in range(c0, c1):
        s = sqrt(norms[j])
        norms[j] = 1 - t / s if s > t else 0.0
        if s != s:
            norms[j] = 1.0
        alive[j] = norms[j] != 0
    for r in range(n_rows):
        row = W + r * n_cols
        for j in range(c0, c1):
            row[j] = <floating>(row[j] * norms[j])


def group_soft_threshold_impl(floating[:, ::1] W, double t, int axis, double[::1] norms,
                              Py_ssize_t[::1] alive, int n_threads):
    """axis=1: groups are rows; axis=0: groups are columns (norm taken along ``axis``)."""
    cdef Py_ssize_t n_rows = W.shape[0], n_cols = W.shape[1], c, lo, hi, n_groups
    cdef int nt, nc
    cdef double t0 = fpk_now(), tp = 0, tmark[1]  # start; this thread's part time
    if n_rows == 0 or n_cols == 0:
        return
    n_groups = n_rows if axis == 1 else n_cols
    nt = team_size(n_rows * n_cols, n_threads)
    nc = n_parts(nt)
    if nc > n_groups:
        nc = <int>n_groups
    if nt > nc:
        nt = nc
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            lo = n_groups * c // nc
            hi = n_groups * (c + 1) // nc
            if axis == 1:
                _row_groups(&W[0, 0], lo, hi, n_cols, t, &alive[0])
            else:
                _col_groups(&W[0, 0], n_rows, n_cols, lo, hi, t, &norms[0], &alive[0])
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])



def _thread_policy(int parts_per_thread, bint adaptive):
    """Set this module's parts per thread and adaptive team; return the old pair."""
    return thread_policy(parts_per_thread, adaptive)
