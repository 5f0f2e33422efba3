"""Compiled training epoch and forward pass of an MLP whose layers are all CSR.

Why a whole epoch in one call: a pruned 64x64 layer's products take a few
microseconds, less than the Python around them (one kernel call, a NumPy
elementwise pass, a bias reduction and an optimizer call per layer and per
batch, each a few microseconds). Here one call runs every batch of an epoch
with the GIL released: gather the batch, forward (``spmm`` with bias and ReLU
fused), output and loss, backward (``sddmm`` for the weight gradient, bias
row sums, ``spmm`` on the cached transpose for the input gradient, activation
derivative) and the fused Adam / momentum proximal update of the nonzeros.

The arithmetic is that of the Python path (``neural_network/_epochs.py``,
``fastprox.prox.adam_step`` / ``momentum_step`` and the CSR kernels of
``csr_kernels.h``, which this module compiles in too), in the same order,
so the two paths agree up to the rounding of ``exp`` / ``log`` / ``tanh`` and
of the loss sum. With ``sklearn_eps`` (the MLPs) Adam's epsilon is
scikit-learn's (``eps / sqrt(1 - beta2**t)`` added to ``sqrt(v_hat)``),
computed in the same operations as the Python path's ``adam_eps``.

Everything the loops index is checked with the GIL held before they run
(sizes, ``indptr`` endpoints and monotonicity, index and permutation ranges,
sample order); the loops never raise.
"""
from cython.parallel cimport prange
from libc.math cimport exp, expf, log, logf, pow, sqrt, sqrtf, tanh, tanhf
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport free, malloc

from fastprox._kernels._prox_updates cimport adam_chunk, momentum_chunk, shrink
from fastprox._kernels._shared cimport (
    floating, row_split, team_size, n_parts, thread_policy, fpk_team_report, fpk_now,
    fpk_part_start, fpk_part_end,
    fpk_sddmm_d_i32, fpk_sddmm_f_i32, fpk_spmm_d_i32, fpk_spmm_f_i32, fpk_spmv_d_i32,
    fpk_spmv_f_i32,
)

import numpy as np



# activation / output codes; the Python wrapper maps names through ACTIVATIONS / OUTPUTS
cdef enum:
    ACT_IDENTITY = 0
    ACT_LOGISTIC = 1
    ACT_TANH = 2
    ACT_RELU = 3
    OUT_IDENTITY = 0
    OUT_LOGISTIC = 1
    OUT_SOFTMAX = 2

ACTIVATIONS = {"identity": ACT_IDENTITY, "logistic": ACT_LOGISTIC, "tanh": ACT_TANH,
               "relu": ACT_RELU}
OUTPUTS = {"identity": OUT_IDENTITY, "logistic": OUT_LOGISTIC, "softmax": OUT_SOFTMAX}


cdef struct Layer:
    # float or double arrays, cast in the fused functions
    void* data
    void* bias
    void* data_t
    void* gW
    void* gb
    void* s0   # Adam first moment / momentum velocity, per nonzero
    void* s1   # Adam second moment (unused with momentum)
    void* sb0  # the same for the bias
    void* sb1
    const int32_t* ind
    const int32_t* ptr
    const int32_t* ind_t
    const int32_t* ptr_t
    const int64_t* perm  # data_t[k] = data[perm[k]]
    Py_ssize_t n_in, n_out, nnz


cdef struct Optim:
    bint adam
    bint nesterov
    bint sklearn_eps  # Adam's eps added to sqrt(v) (scikit-learn), not to sqrt(v_hat)
    double lr, beta1, beta2, eps, momentum, l1, alpha




# --------------------------------------------------------------------------
# products (row ranges split over threads, each output row by one thread)
# --------------------------------------------------------------------------

cdef inline void _spmv_bias(const floating* data, const int32_t* ind, const int32_t* ptr,
                            const floating* x, floating* y, Py_ssize_t r0, Py_ssize_t r1,
                            const floating* bias, int relu) noexcept nogil:
    cdef Py_ssize_t r
    if floating is double:
        fpk_spmv_d_i32(data, ind, ptr, x, y, r0, r1)
    else:
        fpk_spmv_f_i32(data, ind, ptr, x, y, r0, r1)
    for r in range(r0, r1):
        if bias != NULL:
            y[r] = y[r] + bias[r]
        if relu and y[r] < 0:
            y[r] = 0


cdef void _spmm(const floating* data, const int32_t* ind, const int32_t* ptr, Py_ssize_t n_rows,
                const floating* X, floating* Y, Py_ssize_t b, const floating* bias, int relu,
                int n_threads) noexcept nogil:
    cdef int nt = team_size((ptr[n_rows] + n_rows) * b, n_threads), nc = n_parts(nt)
    cdef Py_ssize_t c
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if n_rows == 0 or b == 0:
        return
    tmark[0] = 0
    if b == 1:
        # batch 1 (latency): the mat-vec kernel keeps several accumulators per
        # row; spmm's scalar column tail is one dependent chain per row
        # (see docs/design/kernels-mlp-batch1.md)
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            _spmv_bias(data, ind, ptr, X, Y, row_split(ptr, n_rows, c, nc),
                       row_split(ptr, n_rows, c + 1, nc), bias, relu)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])
        return
    for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
        tp = fpk_part_start()
        if floating is double:
            fpk_spmm_d_i32(data, ind, ptr, X, Y, b, row_split(ptr, n_rows, c, nc),
                           row_split(ptr, n_rows, c + 1, nc), bias, relu)
        else:
            fpk_spmm_f_i32(data, ind, ptr, X, Y, b, row_split(ptr, n_rows, c, nc),
                           row_split(ptr, n_rows, c + 1, nc), bias, relu)
        fpk_part_end(tmark, tp)
    fpk_team_report(nt, t0, tmark[0])


cdef void _sddmm(const int32_t* ind, const int32_t* ptr, Py_ssize_t n_rows, const floating* U,
                 const floating* V, Py_ssize_t d, floating* out, int n_threads) noexcept nogil:
    cdef int nt = team_size((ptr[n_rows] + n_rows) * d, n_threads), nc = n_parts(nt)
    cdef Py_ssize_t c
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if ptr[n_rows] == 0:
        return
    tmark[0] = 0
    for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
        tp = fpk_part_start()
        if floating is double:
            fpk_sddmm_d_i32(ind, ptr, U, V, d, out, row_split(ptr, n_rows, c, nc),
                            row_split(ptr, n_rows, c + 1, nc))
        else:
            fpk_sddmm_f_i32(ind, ptr, U, V, d, out, row_split(ptr, n_rows, c, nc),
                            row_split(ptr, n_rows, c + 1, nc))
        fpk_part_end(tmark, tp)
    fpk_team_report(nt, t0, tmark[0])


# --------------------------------------------------------------------------
# elementwise pieces
# --------------------------------------------------------------------------



cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating _log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef void _step(floating* w, const floating* g, floating* s0, floating* s1, Py_ssize_t n,
                const Optim* o, int64_t t, double l1, double l2, int n_threads) noexcept nogil:
    """One optimizer update of ``n`` values, in parts handed out to an adaptive team."""
    cdef int nt = team_size(n, n_threads), nc = n_parts(nt)
    cdef Py_ssize_t c, lo, hi
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    cdef floating lr_c1 = o.lr / (1.0 - pow(o.beta1, <double>t))
    cdef floating c2 = 1.0 / sqrt(1.0 - pow(o.beta2, <double>t))
    # sklearn_eps: scikit-learn's epsilon, added to sqrt(v) and not to sqrt(v_hat),
    # the same double as neural_network's adam_eps (docs/design/mlp-warm-start.md)
    cdef floating feps = o.eps / sqrt(1.0 - pow(o.beta2, <double>t)) if o.sklearn_eps \
        else o.eps
    cdef floating b1 = o.beta1, b2 = o.beta2, lr_l1 = o.lr * l1, fl2 = l2
    cdef floating flr = o.lr, mu = o.momentum
    if n == 0:
        return
    tmark[0] = 0
    for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
        tp = fpk_part_start()
        lo = n * c // nc
        hi = n * (c + 1) // nc
        if o.adam:
            adam_chunk(w + lo, g + lo, s0 + lo, s1 + lo, hi - lo, lr_c1, c2, b1, b2, feps,
                        lr_l1, fl2)
        else:
            momentum_chunk(w + lo, g + lo, s0 + lo, hi - lo, flr, mu, fl2, lr_l1, o.nesterov)
        fpk_part_end(tmark, tp)
    fpk_team_report(nt, t0, tmark[0])


cdef void _activate(floating* Z, Py_ssize_t n, int activation) noexcept nogil:
    """Hidden activation other than ReLU (fused into spmm), in place."""
    cdef Py_ssize_t i
    if activation == ACT_TANH:
        for i in range(n):
            if floating is float:
                Z[i] = tanhf(Z[i])
            else:
                Z[i] = tanh(Z[i])
    elif activation == ACT_LOGISTIC:
        for i in range(n):
            Z[i] = 1 / (1 + _exp(-Z[i]))


cdef void _derivative(floating* D, const floating* H, Py_ssize_t n,
                      int activation) noexcept nogil:
    """``D *= f'(z)`` from the activation's output ``H = f(z)``."""
    cdef Py_ssize_t i
    if activation == ACT_RELU:
        for i in range(n):
            # a multiply by 0/1 (not a select) keeps a NaN delta visible
            D[i] = D[i] * (1 if H[i] > 0 else 0)
    elif activation == ACT_TANH:
        for i in range(n):
            D[i] = D[i] * (1 - H[i] * H[i])
    elif activation == ACT_LOGISTIC:
        for i in range(n):
            D[i] = D[i] * (H[i] * (1 - H[i]))


cdef void _output(floating* Z, Py_ssize_t n_out, Py_ssize_t b, int output,
                  floating* colmax, floating* colsum) noexcept nogil:
    """Output function on ``Z`` (n_out, b) in place: softmax over each column, or logistic."""
    cdef Py_ssize_t r, c
    cdef floating* z
    if output == OUT_LOGISTIC:
        for c in range(n_out * b):
            Z[c] = 1 / (1 + _exp(-Z[c]))
    elif output == OUT_SOFTMAX:
        # row by row so that the inner loops run along contiguous memory
        for c in range(b):
            colmax[c] = Z[c]
        for r in range(1, n_out):
            z = Z + r * b
            for c in range(b):
                if z[c] > colmax[c]:
                    colmax[c] = z[c]
        for c in range(b):
            colsum[c] = 0
        for r in range(n_out):
            z = Z + r * b
            for c in range(b):
                z[c] = _exp(z[c] - colmax[c])
                colsum[c] += z[c]
        for r in range(n_out):
            z = Z + r * b
            for c in range(b):
                z[c] = z[c] / colsum[c]


cdef double _loss_delta(floating* P, floating* D, const floating* YT, Py_ssize_t n_samples,
                        const int64_t* order, Py_ssize_t n_out, Py_ssize_t b,
                        int output) noexcept nogil:
    """Summed batch loss, and ``D = (P - Y) / b`` (the output error of the mean loss)."""
    cdef Py_ssize_t r, c
    cdef floating y, p, pc, inv_b = 1.0 / b
    cdef floating eps, one_eps
    cdef double loss = 0
    if floating is float:
        eps = 1.1920928955078125e-07
    else:
        eps = 2.220446049250313e-16
    one_eps = 1 - eps
    for r in range(n_out):
        for c in range(b):
            y = YT[r * n_samples + order[c]]
            p = P[r * b + c]
            D[r * b + c] = (p - y) * inv_b
            if output == OUT_IDENTITY:
                loss += 0.5 * (p - y) * (p - y)
            else:
                pc = eps if p < eps else (one_eps if p > one_eps else p)
                if output == OUT_SOFTMAX:
                    loss -= y * _log(pc)
                else:
                    loss -= y * _log(pc) + (1 - y) * _log(1 - pc)
    return loss


cdef void _gather(const floating* X, Py_ssize_t n_features, const int64_t* order, Py_ssize_t b,
                  floating* A) noexcept nogil:
    """``A[j, c] = X[order[c], j]``: the batch, transposed (features x batch)."""
    cdef Py_ssize_t c0, c1, c, j
    cdef const floating* row
    # 8 samples at a time: the reads stream 8 rows, the writes fill 8-value runs
    c0 = 0
    while c0 < b:
        c1 = c0 + 8 if c0 + 8 < b else b
        for c in range(c0, c1):
            row = X + order[c] * n_features
            for j in range(n_features):
                A[j * b + c] = row[j]
        c0 = c1


cdef void _row_sums(const floating* D, Py_ssize_t n_rows, Py_ssize_t b,
                    floating* out) noexcept nogil:
    """``out[r] = sum(D[r, :b])`` with 8 interleaved partial sums (vectorises)."""
    cdef Py_ssize_t r, c, m
    cdef floating s[8]
    cdef floating tot
    cdef const floating* d
    m = b - b % 8
    for r in range(n_rows):
        d = D + r * b
        for c in range(8):
            s[c] = 0
        c = 0
        while c < m:
            s[0] += d[c]
            s[1] += d[c + 1]
            s[2] += d[c + 2]
            s[3] += d[c + 3]
            s[4] += d[c + 4]
            s[5] += d[c + 5]
            s[6] += d[c + 6]
            s[7] += d[c + 7]
            c += 8
        tot = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
        for c in range(m, b):
            tot += d[c]
        out[r] = tot


# --------------------------------------------------------------------------
# the epoch
# --------------------------------------------------------------------------

cdef double _epoch(const floating* X, Py_ssize_t n, Py_ssize_t n_features, const floating* YT,
                   const int64_t* order, Py_ssize_t batch_size, Layer* L, Py_ssize_t n_layers,
                   floating** A, floating** D, floating* scratch, int activation, int output,
                   const Optim* o, int64_t* step, int n_threads,
                   double half_alpha, double data_scale) noexcept nogil:
    cdef Py_ssize_t start, b, i, k, last = n_layers - 1
    cdef double total = 0, sq
    cdef const floating* w
    cdef int relu = activation == ACT_RELU
    cdef Layer* ly
    cdef floating* dt
    cdef const floating* dv
    start = 0
    while start < n:
        b = batch_size if start + batch_size <= n else n - start
        _gather(X, n_features, order + start, b, A[0])
        for i in range(n_layers):
            ly = &L[i]
            _spmm(<floating*>ly.data, ly.ind, ly.ptr, ly.n_out, A[i], A[i + 1], b,
                  <floating*>ly.bias, relu if i < last else 0, n_threads)
            if i < last and not relu:
                _activate(A[i + 1], ly.n_out * b, activation)
        _output(A[n_layers], L[last].n_out, b, output, scratch, scratch + b)
        total += data_scale * _loss_delta(A[n_layers], D[last], YT, n, order + start,
                                          L[last].n_out, b, output)
        if half_alpha > 0:
            # scikit-learn's batch loss: the L2 term of the weights the batch starts from
            sq = 0
            for i in range(n_layers):
                w = <floating*>L[i].data
                for k in range(L[i].nnz):
                    sq += <double>w[k] * w[k]
            total += half_alpha * sq
        step[0] += 1
        for i in range(last, -1, -1):
            ly = &L[i]
            _sddmm(ly.ind, ly.ptr, ly.n_out, D[i], A[i], b, <floating*>ly.gW, n_threads)
            _row_sums(D[i], ly.n_out, b, <floating*>ly.gb)
            if i > 0:
                # the transpose's values follow the (not yet updated) weights
                dt = <floating*>ly.data_t
                dv = <floating*>ly.data
                for k in range(ly.nnz):
                    dt[k] = dv[ly.perm[k]]
                _spmm(dt, ly.ind_t, ly.ptr_t, ly.n_in, D[i], D[i - 1], b, NULL, 0, n_threads)
            # scikit-learn's L2: alpha * W / batch in the gradient; none on the bias
            _step(<floating*>ly.data, <floating*>ly.gW, <floating*>ly.s0, <floating*>ly.s1,
                  ly.nnz, o, step[0], o.l1, o.alpha / b, n_threads)
            _step(<floating*>ly.bias, <floating*>ly.gb, <floating*>ly.sb0, <floating*>ly.sb1,
                  ly.n_out, o, step[0], 0.0, 0.0, n_threads)
            if i > 0:
                _derivative(D[i - 1], A[i], ly.n_in * b, activation)
        start += b
    return total


cdef object _check_pattern(const int32_t[::1] indices, const int32_t[::1] indptr,
                           Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t nnz, str name):
    cdef Py_ssize_t r, k
    if indptr.shape[0] != n_rows + 1 or indices.shape[0] != nnz:
        raise ValueError(f"{name}: indptr / indices have the wrong length")
    if indptr[0] != 0 or indptr[n_rows] != nnz:
        raise ValueError(f"{name}: indptr does not run from 0 to nnz")
    for r in range(n_rows):
        if indptr[r + 1] < indptr[r]:
            raise ValueError(f"{name}: indptr is not monotone")
    for k in range(nnz):
        if indices[k] < 0 or indices[k] >= n_cols:
            raise ValueError(f"{name}: column index out of range")


cdef floating* _ptr(floating[::1] a, Py_ssize_t size, str name) except NULL:
    """Pointer to ``a`` after checking it holds at least ``size`` values."""
    if a.shape[0] < size:
        raise ValueError(f"{name}: {a.shape[0]} values, need {size}")
    # an empty array's buffer pointer is still valid (never read through)
    return &a[0]


cdef int _fill_layers(Layer* L, list layers, floating[::1] proto, Py_ssize_t n_in0,
                      bint adam) except -1:
    """Check every array of ``layers`` (see train_epoch_impl) and record pointers in ``L``."""
    cdef Py_ssize_t i, k, n_in = n_in0, n_out, nnz
    cdef floating[::1] data, data_t, bias, gW, gb, s0, s1, sb0, sb1
    cdef const int32_t[::1] ind, ptr, ind_t, ptr_t
    cdef const int64_t[::1] perm
    for i in range(len(layers)):
        (data, ind, ptr, bias, data_t, ind_t, ptr_t, perm, gW, gb, s0, s1, sb0,
         sb1) = layers[i]
        nnz = data.shape[0]
        n_out = ptr.shape[0] - 1
        if n_out < 1:
            raise ValueError(f"layer {i}: no outputs")
        _check_pattern(ind, ptr, n_out, n_in, nnz, f"layer {i}")
        _check_pattern(ind_t, ptr_t, n_in, n_out, nnz, f"layer {i} transpose")
        if data_t.shape[0] != nnz or perm.shape[0] != nnz:
            raise ValueError(f"layer {i}: transpose values / permutation have the wrong length")
        for k in range(nnz):
            if perm[k] < 0 or perm[k] >= nnz:
                raise ValueError(f"layer {i}: permutation out of range")
        L[i].n_in, L[i].n_out, L[i].nnz = n_in, n_out, nnz
        L[i].ind = &ind[0]
        L[i].ptr = &ptr[0]
        L[i].ind_t = &ind_t[0]
        L[i].ptr_t = &ptr_t[0]
        L[i].perm = &perm[0]
        L[i].data = _ptr(data, nnz, "data")
        L[i].data_t = _ptr(data_t, nnz, "data_t")
        L[i].bias = _ptr(bias, n_out, "bias")
        L[i].gW = _ptr(gW, nnz, "gW")
        L[i].gb = _ptr(gb, n_out, "gb")
        L[i].s0 = _ptr(s0, nnz, "optimizer state")
        L[i].sb0 = _ptr(sb0, n_out, "optimizer state")
        L[i].s1 = _ptr(s1, nnz if adam else 0, "optimizer state")
        L[i].sb1 = _ptr(sb1, n_out if adam else 0, "optimizer state")
        n_in = n_out
    return 0


def train_epoch_impl(const floating[:, ::1] X, const floating[:, ::1] YT,
                     const int64_t[::1] order, Py_ssize_t batch_size, list layers,
                     list acts, list deltas, floating[::1] scratch, int activation, int output,
                     bint adam, int64_t step, double lr, double beta1, double beta2, double eps,
                     double momentum, bint nesterovs_momentum, double l1, double alpha,
                     int n_threads, bint sklearn_eps=False, bint l2_loss=False):
    """One epoch of mini-batch training of an all-CSR network; see the module docstring.

    ``order``: the sample order (a permutation of ``range(n)``); the batches
    are its consecutive runs of ``batch_size``. ``layers``: per layer the
    tuple (data, indices, indptr, bias, data_t, indices_t, indptr_t, perm, gW,
    gb, s0, s1, sb0, sb1) -- the CSR weights (n_out, n_in), their transpose
    with ``data_t = data[perm]``, gradient buffers and optimizer state (``s1``
    / ``sb1`` may be empty for momentum). ``acts[i]`` (>= width_i * batch
    values) and ``deltas[i]`` (>= n_out_i * batch): workspaces; ``scratch`` >=
    2 * batch values. Weights, biases and state are updated in place.
    ``sklearn_eps``: Adam adds ``eps / sqrt(1 - beta2**t)`` to ``sqrt(v_hat)``
    (scikit-learn's ``AdamOptimizer``, what the MLPs use) instead of ``eps``
    (Kingma & Ba, ``fastprox.prox.adam_step``'s formula). With ``l2_loss``
    each batch adds ``alpha / 2 * ||w||^2`` of the weights it starts from to
    the sum (scikit-learn's ``loss_`` times ``n``: its batch losses carry the
    L2 term over the batch size and are weighted by it; its squared error is
    the mean over the outputs, not their sum).

    Returns
    -------
    (loss_sum, step) : the summed loss of the batches (with ``l2_loss``, their
    L2 terms; never the L1 term) and the optimizer step count after the epoch.
    """
    cdef Py_ssize_t n = X.shape[0], n_features = X.shape[1], n_layers = len(layers)
    cdef Py_ssize_t i, bmax, width, k
    cdef Layer* L = NULL
    cdef floating** A = NULL
    cdef floating** D = NULL
    cdef floating[::1] buf
    cdef Optim o
    cdef double total = 0
    cdef floating* sp
    if n_layers < 1 or len(acts) != n_layers + 1 or len(deltas) != n_layers:
        raise ValueError("layers, acts and deltas do not match")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if YT.shape[1] != n or order.shape[0] != n:
        raise ValueError("X, YT and order disagree on the number of samples")
    for k in range(n):
        if order[k] < 0 or order[k] >= n:
            raise ValueError("order holds an index out of range")
    if n == 0 or n_features == 0:
        raise ValueError("X must have samples and features")
    bmax = batch_size if batch_size < n else n
    sp = _ptr(scratch, 2 * bmax, "scratch")
    o.adam, o.nesterov, o.sklearn_eps = adam, nesterovs_momentum, sklearn_eps
    o.lr, o.beta1, o.beta2, o.eps = lr, beta1, beta2, eps
    o.momentum, o.l1, o.alpha = momentum, l1, alpha
    try:
        L = <Layer*>malloc(n_layers * sizeof(Layer))
        A = <floating**>malloc((n_layers + 1) * sizeof(floating*))
        D = <floating**>malloc(n_layers * sizeof(floating*))
        if L == NULL or A == NULL or D == NULL:
            raise MemoryError()
        _fill_layers(L, layers, scratch, n_features, adam)
        if L[n_layers - 1].n_out != YT.shape[0]:
            raise ValueError("the last layer's outputs and YT's rows differ")
        for i in range(n_layers + 1):
            width = n_features if i == 0 else L[i - 1].n_out
            buf = acts[i]
            A[i] = _ptr(buf, width * bmax, f"acts[{i}]")
        for i in range(n_layers):
            buf = deltas[i]
            D[i] = _ptr(buf, L[i].n_out * bmax, f"deltas[{i}]")
        with nogil:
            total = _epoch(&X[0, 0], n, n_features, &YT[0, 0], &order[0], batch_size, L,
                           n_layers, A, D, sp, activation, output, &o, &step, n_threads,
                           0.5 * alpha if l2_loss else 0.0,
                           1.0 / YT.shape[0] if l2_loss and output == OUT_IDENTITY else 1.0)
    finally:
        free(L)
        free(A)
        free(D)
    return total, step


cdef class CSRNet:
    """Forward pass of an all-CSR network, its arrays checked once at construction.

    Parameters
    ----------
    layers : list of tuple
        Per layer (data, indices, indptr, bias): CSR weights of shape (n_out,
        n_in), int32 indices, C-contiguous and of one float dtype.
    n_in : int
        Width of the input.
    activation, output : int
        Hidden activation code (``ACT_*``) and output function (``OUT_*``).

    Notes
    -----
    The object keeps references to the arrays and pointers into them: the
    weights may change in place (training) but must not be reallocated.
    A batch-1 call costs one Python call instead of several per layer.
    """
    cdef Layer* L
    cdef Py_ssize_t n_layers, n_in, n_out, width_sum
    cdef int activation, output
    cdef bint is_double
    cdef object refs
    cdef object dtype

    def __cinit__(self, list layers, Py_ssize_t n_in, int activation, int output):
        cdef Py_ssize_t i
        self.L = NULL
        self.n_layers = len(layers)
        if self.n_layers < 1:
            raise ValueError("no layers")
        self.refs = [tuple(np.asarray(a) for a in t) for t in layers]
        self.dtype = self.refs[0][0].dtype
        if self.dtype != np.float64 and self.dtype != np.float32:
            raise ValueError("weights must be float32 or float64")
        self.is_double = self.dtype == np.float64
        self.L = <Layer*>malloc(self.n_layers * sizeof(Layer))
        if self.L == NULL:
            raise MemoryError()
        self.n_in, self.activation, self.output = n_in, activation, output
        self.width_sum = 0
        for i in range(self.n_layers):
            if self.is_double:
                self._fill[double](i, self.refs[i], n_in)
            else:
                self._fill[float](i, self.refs[i], n_in)
            n_in = self.L[i].n_out
            self.width_sum += n_in
        self.n_out = n_in

    cdef int _fill(self, Py_ssize_t i, tuple arrays, Py_ssize_t n_in,
                   floating dummy=0) except -1:
        cdef const floating[::1] data, bias
        cdef const int32_t[::1] ind, ptr
        data, ind, ptr, bias = arrays
        nnz = data.shape[0]
        n_out = ptr.shape[0] - 1
        if n_out < 1:
            raise ValueError(f"layer {i}: no outputs")
        if bias.shape[0] != n_out:
            raise ValueError(f"layer {i}: bias of the wrong length")
        _check_pattern(ind, ptr, n_out, n_in, nnz, f"layer {i}")
        self.L[i].n_in, self.L[i].n_out, self.L[i].nnz = n_in, n_out, nnz
        self.L[i].data = <void*>&data[0]
        self.L[i].bias = <void*>&bias[0]
        self.L[i].ind = &ind[0]
        self.L[i].ptr = &ptr[0]
        return 0

    def __dealloc__(self):
        free(self.L)

    def forward(self, H, int n_threads=1):
        """Network output (n_out, batch) for ``H`` (n_in, batch), C-contiguous, the weights' dtype."""
        if type(H) is not np.ndarray or H.dtype != self.dtype or H.ndim != 2 \
                or H.shape[0] != self.n_in or not H.flags.c_contiguous:
            raise ValueError(f"expected a C-contiguous {self.dtype} array with {self.n_in} rows")
        b = H.shape[1]
        out = np.empty((self.n_out, b), dtype=self.dtype)
        if b == 0:
            return out
        work = np.empty((self.width_sum - self.n_out + 2) * b, dtype=self.dtype)
        if self.is_double:
            self._run[double](H, out, work, n_threads)
        else:
            self._run[float](H, out, work, n_threads)
        return out

    cdef void _run(self, const floating[:, ::1] H, floating[:, ::1] out, floating[::1] work,
                   int n_threads) noexcept:
        cdef Py_ssize_t b = H.shape[1], i, last = self.n_layers - 1
        cdef const floating* src = &H[0, 0]
        cdef floating* dst = &work[0]
        cdef floating* scratch = &work[(self.width_sum - self.n_out) * b]
        cdef Layer* ly
        cdef int relu = self.activation == ACT_RELU
        with nogil:
            for i in range(self.n_layers):
                ly = &self.L[i]
                if i == last:
                    dst = &out[0, 0]
                _spmm(<floating*>ly.data, ly.ind, ly.ptr, ly.n_out, src, dst, b,
                      <floating*>ly.bias, relu if i < last else 0, n_threads)
                if i < last and not relu:
                    _activate(dst, ly.n_out * b, self.activation)
                src = dst
                dst = dst + ly.n_out * b
            _output(&out[0, 0], self.n_out, b, self.output, scratch, scratch + b)


def _thread_policy(int parts_per_thread, bint adaptive):
    """Set this module's parts per thread and adaptive team; return the old pair."""
    return thread_policy(parts_per_thread, adaptive)
