# Elementwise proximal-optimizer updates shared by prox_fast.pyx (fastprox.prox)
# and mlp_fast.pyx (the compiled MLP epoch), cimported by both so that the two
# paths run the same arithmetic.
from libc.math cimport sqrt, sqrtf

from fastprox._kernels._shared cimport floating


cdef inline floating shrink(floating z, floating t) noexcept nogil:
    # z - clamp(z, -t, t): compare-and-select, vectorises, keeps NaN.
    cdef floating c = z
    if c > t:
        c = t
    if c < -t:
        c = -t
    return z - c


cdef inline floating fsqrt(floating x) noexcept nogil:
    # sqrtf for float32: sqrt() would round-trip through double and not vectorise.
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline Py_ssize_t momentum_chunk(floating* w, const floating* g, floating* vel,
                                      Py_ssize_t n, floating lr, floating mu, floating l2,
                                      floating t, bint nesterov) noexcept nogil:
    cdef Py_ssize_t i, nnz = 0
    cdef floating u, v, z
    if nesterov:
        for i in range(n):
            u = lr * (g[i] + l2 * w[i])
            v = mu * vel[i] - u
            vel[i] = v
            z = shrink(w[i] + mu * v - u, t)
            w[i] = z
            nnz += z != 0
    else:
        for i in range(n):
            v = mu * vel[i] - lr * (g[i] + l2 * w[i])
            vel[i] = v
            z = shrink(w[i] + v, t)
            w[i] = z
            nnz += z != 0
    return nnz


cdef inline Py_ssize_t adam_chunk(floating* w, const floating* g, floating* m, floating* v,
                                  Py_ssize_t n, floating lr_c1, floating c2, floating b1,
                                  floating b2, floating eps, floating lr_l1,
                                  floating l2) noexcept nogil:
    # lr_c1 = lr / (1 - b1^k); c2 = 1 / sqrt(1 - b2^k); lr_l1 = lr * l1
    cdef Py_ssize_t i, nnz = 0
    cdef floating u, mi, vi, inv, z
    cdef floating one_b1 = 1 - b1, one_b2 = 1 - b2
    for i in range(n):
        u = g[i] + l2 * w[i]
        mi = b1 * m[i] + one_b1 * u
        vi = b2 * v[i] + one_b2 * u * u
        m[i] = mi
        v[i] = vi
        inv = 1 / (fsqrt(vi) * c2 + eps)
        z = shrink(w[i] - lr_c1 * mi * inv, lr_l1 * inv)
        w[i] = z
        nnz += z != 0
    return nnz
