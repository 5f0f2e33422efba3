"""fastprox.prox against plain NumPy references."""
import numpy as np
import pytest

import fastprox
from fastprox import prox

from conftest import TOL

# Sizes: empty, tiny, odd, and above the serial threshold (parallel path).
SIZES = [0, 1, 7, 1001, 100_003]


def ref_soft(z, t):
    return np.sign(z) * np.maximum(np.abs(z) - t, 0)


def ref_sgd(w, g, lr, l1, l2):
    return ref_soft(w - lr * (g + l2 * w), lr * l1)


def ref_momentum(w, g, vel, lr, mu, l1, l2, nesterov):
    u = lr * (g + l2 * w)
    vel = mu * vel - u
    z = w + mu * vel - u if nesterov else w + vel
    return ref_soft(z, lr * l1), vel


def ref_adam(w, g, m, v, k, lr, b1, b2, eps, l1, l2):
    u = g + l2 * w
    m = b1 * m + (1 - b1) * u
    v = b2 * v + (1 - b2) * u * u
    d = np.sqrt(v / (1 - b2**k)) + eps
    z = w - lr * (m / (1 - b1**k)) / d
    return ref_soft(z, lr * l1 / d), m, v


def data(rng, n, dtype, scale=1.0):
    return (scale * rng.standard_normal(n)).astype(dtype)


@pytest.mark.parametrize("n", SIZES)
def test_soft_threshold(rng, dtype, n_threads, n):
    x = data(rng, n, dtype)
    out = prox.soft_threshold(x, 0.5)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, ref_soft(x, dtype(0.5)))
    # in place, through out=
    y = x.copy()
    assert prox.soft_threshold(y, 0.5, out=y) is y
    np.testing.assert_array_equal(y, out)


def test_soft_threshold_2d_and_lists():
    x = np.arange(-6.0, 6.0).reshape(3, 4)
    np.testing.assert_array_equal(prox.soft_threshold(x, 2.0), ref_soft(x, 2.0))
    np.testing.assert_array_equal(prox.soft_threshold([-3, 1, 4], 2), [-1.0, 0.0, 2.0])


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.3, 0.0), (0.3, 0.1)])
def test_sgd_step(rng, dtype, n_threads, n, l1, l2):
    w, g = data(rng, n, dtype), data(rng, n, dtype)
    expected = ref_sgd(w.astype(np.float64), g.astype(np.float64), 0.5, l1, l2)
    nnz = prox.sgd_step(w, g, lr=0.5, l1=l1, l2=l2)
    np.testing.assert_allclose(w, expected, **TOL[dtype])
    assert nnz == np.count_nonzero(w)
    if l1 > 0 and n > 100:
        assert nnz < n  # the L1 step produced exact zeros


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_step(rng, dtype, n_threads, n, nesterov):
    w, g, vel = data(rng, n, dtype), data(rng, n, dtype), data(rng, n, dtype, 0.1)
    exp_w, exp_v = ref_momentum(*(a.astype(np.float64) for a in (w, g, vel)), 0.1, 0.9, 0.5,
                                0.01, nesterov)
    nnz = prox.momentum_step(w, g, vel, lr=0.1, momentum=0.9, l1=0.5, l2=0.01,
                             nesterov=nesterov)
    np.testing.assert_allclose(vel, exp_v, **TOL[dtype])
    np.testing.assert_allclose(w, exp_w, **TOL[dtype])
    assert nnz == np.count_nonzero(w)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("step", [1, 10])
def test_adam_step(rng, dtype, n_threads, n, step):
    w, g = data(rng, n, dtype), data(rng, n, dtype)
    m, v = data(rng, n, dtype, 0.1), np.abs(data(rng, n, dtype, 0.1))
    exp = ref_adam(*(a.astype(np.float64) for a in (w, g, m, v)), step, 0.01, 0.9, 0.999, 1e-8,
                   0.05, 0.01)
    nnz = prox.adam_step(w, g, m, v, step, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, l1=0.05,
                         l2=0.01)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for got, want in zip((w, m, v), exp):
        np.testing.assert_allclose(got, want, **tol)
    assert nnz == np.count_nonzero(w)


def test_adam_l1_threshold_scales_with_step():
    # Both coordinates get the same normalised step (m/sqrt(v) is equal), but
    # the threshold lr*l1/d is larger where d is small.
    w = np.array([0.02, 0.02])
    g = np.array([1e-2, 1.0])
    m, v = np.zeros(2), np.zeros(2)
    prox.adam_step(w, g, m, v, 1, lr=0.001, eps=1e-12, l1=5.0)
    # d = |g|: threshold 0.5 on coordinate 0 (zeroed), 0.005 on coordinate 1
    assert w[0] == 0.0
    np.testing.assert_allclose(w[1], 0.02 - 0.001 - 0.005)


def test_updates_bit_identical_across_threads(rng):
    n = 300_001
    w0, g = rng.standard_normal(n), rng.standard_normal(n)
    results = []
    for nt in (1, 2):
        old = fastprox.set_num_threads(nt)
        try:
            w, m, v = w0.copy(), np.zeros(n), np.zeros(n)
            prox.sgd_step(w, g, 0.1, 0.05, 0.01)
            prox.adam_step(w, g, m, v, 3, 0.01, l1=0.01)
            results.append((w, m, v))
        finally:
            fastprox.set_num_threads(old)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_multidimensional_weights(rng):
    w = rng.standard_normal((30, 40))
    g = rng.standard_normal((30, 40))
    expected = ref_sgd(w, g, 0.1, 1.0, 0.0)
    prox.sgd_step(w, g, 0.1, l1=1.0)
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-15)


def test_nan_propagates():
    w = np.array([1.0, 2.0, 3.0])
    prox.sgd_step(w, np.array([np.nan, 0.0, np.inf]), lr=0.1, l1=1.0)
    assert np.isnan(w[0]) and np.isinf(w[2])
    out = prox.soft_threshold(np.array([np.nan, 0.1]), 1.0)
    assert np.isnan(out[0]) and out[1] == 0


def test_grad_cast_and_noncontiguous(rng):
    w = rng.standard_normal(10).astype(np.float32)
    g64 = rng.standard_normal(20)[::2]  # float64, strided: cast + copied (read only)
    expected = ref_sgd(w.astype(np.float64), g64.astype(np.float32).astype(np.float64), 0.1, 0, 0)
    prox.sgd_step(w, g64, 0.1)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, expected, rtol=1e-6)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (1, 1), (7, 13), (300, 257)])
def test_group_soft_threshold(rng, dtype, n_threads, axis, shape):
    W = rng.standard_normal(shape).astype(dtype)
    W[:, :2] *= 0.01 if shape[1] >= 2 else 1  # some weak columns
    W64 = W.astype(np.float64)
    norms = np.linalg.norm(W64, axis=axis, keepdims=True)
    t = 0.5 * np.median(norms) if norms.size else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = W64 * np.maximum(1 - t / norms, 0)
    alive = prox.group_soft_threshold(W, t, axis=axis)
    np.testing.assert_allclose(W, expected, **TOL[dtype])
    assert alive.dtype == bool
    np.testing.assert_array_equal(alive, np.linalg.norm(expected, axis=axis) > 0)


def test_group_soft_threshold_kills_weak_neurons():
    W = np.array([[3.0, 0.1], [4.0, 0.1]])
    alive = prox.group_soft_threshold(W, 1.0, axis=0)
    np.testing.assert_array_equal(alive, [True, False])
    np.testing.assert_allclose(W[:, 0], [3.0 * 0.8, 4.0 * 0.8])
    assert np.all(W[:, 1] == 0)


# ---------------------------------------------------------------- bad input


def test_inplace_arrays_are_never_copied():
    w = np.ones(20)[::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        prox.sgd_step(w, np.ones(10), 0.1)
    with pytest.raises(TypeError, match="float32 or float64"):
        prox.sgd_step(np.ones(5, dtype=np.int64), np.ones(5), 0.1)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        prox.sgd_step([1.0, 2.0], [1.0, 2.0], 0.1)
    ro = np.ones(5)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        prox.sgd_step(ro, np.ones(5), 0.1)


def test_shape_and_dtype_mismatch():
    w = np.ones(5)
    with pytest.raises(ValueError, match="shape"):
        prox.sgd_step(w, np.ones(6), 0.1)
    with pytest.raises(ValueError, match="elements"):
        prox.adam_step(w, np.ones(5), np.zeros(4), np.zeros(5), 1)
    with pytest.raises(TypeError, match="dtype"):
        prox.adam_step(w, np.ones(5), np.zeros(5, np.float32), np.zeros(5), 1)
    m = np.zeros(5)
    with pytest.raises(ValueError, match="share memory"):
        prox.adam_step(w, np.ones(5), m, m, 1)
    with pytest.raises(ValueError, match="share memory"):
        prox.momentum_step(w, np.ones(5), w, 0.1)
    with pytest.raises(TypeError, match="real numbers"):
        prox.sgd_step(w, np.array(["a"] * 5), 0.1)
    with pytest.raises(TypeError, match="complex"):
        prox.sgd_step(w, np.ones(5, dtype=complex), 0.1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(lr=-1.0), "lr must be >= 0"),
    (dict(lr=np.nan), "lr must be finite"),
    (dict(lr=0.1, l1=-0.1), "l1 must be >= 0"),
    (dict(lr=0.1, l2=np.inf), "l2 must be finite"),
    (dict(lr="0.1"), "lr must be a real number"),
])
def test_bad_scalars(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        prox.sgd_step(np.ones(3), np.ones(3), **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(step=0), "step"), (dict(step=1.5), "step"), (dict(step=1, beta1=1.0), "beta1"),
    (dict(step=1, beta2=-0.1), "beta2"), (dict(step=1, eps=0.0), "eps"),
])
def test_bad_adam_scalars(kwargs, match):
    with pytest.raises(ValueError, match=match):
        prox.adam_step(np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), **kwargs)


def test_bad_group_args():
    with pytest.raises(ValueError, match="axis"):
        prox.group_soft_threshold(np.ones((2, 2)), 0.1, axis=2)
    with pytest.raises(ValueError, match="2-D"):
        prox.group_soft_threshold(np.ones(4), 0.1)
    with pytest.raises(ValueError, match="t must be >= 0"):
        prox.group_soft_threshold(np.ones((2, 2)), -0.1)


def test_unchecked_fast_path_matches_checked(rng):
    w0, g = rng.standard_normal(501), rng.standard_normal(501)
    results = []
    for check in (True, False):
        w, m, v, vel = w0.copy(), np.zeros(501), np.zeros(501), np.zeros(501)
        prox.sgd_step(w, g, 0.1, 0.01, 0.01, check_input=check)
        prox.momentum_step(w, g, vel, 0.1, 0.9, 0.01, 0.0, True, check_input=check)
        prox.adam_step(w, g, m, v, 2, 0.01, 0.9, 0.999, 1e-8, 0.01, 0.0, check_input=check)
        results.append((w, m, v, vel))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
