"""Fused proximal updates: gradient step, weight decay and L1 soft-threshold in one pass.

All functions work on float32 or float64 arrays, release the GIL, and use the
OpenMP threads given by :func:`fastprox.get_num_threads` for arrays larger than
a few tens of thousands of elements (smaller ones run on the calling thread).

Arrays updated in place (``w``, ``velocity``, ``m``, ``v``) must be
C-contiguous, writeable and share one dtype; they are never copied (a copy
would silently drop the update), so anything else raises. Gradients are read
only: they are cast to the weights' dtype and made contiguous if needed.
Weights may be any shape; they are updated element-wise.

Overlapping arrays (see docs/design/kernels-aliasing.md): ``grad`` must not
share memory with an array the update writes (``w``, ``velocity``, ``m``,
``v``), nor the state arrays with ``w`` or one another (ValueError naming
them: the update reads and writes them element by element, so an overlap
would feed values written in this step back into it). ``soft_threshold`` may
write in place (``out=x``); an ``out`` that overlaps ``x`` in any other way is
computed from a copy of ``x``, as NumPy does for ufuncs. The unchecked paths
(``check_input=False``) check none of this: the caller guarantees it.

NaN and infinity propagate (a NaN gradient gives a NaN weight, never a silent
zero), so a diverging optimisation stays visible to the caller.
"""
import numpy as np

from ._kernels import prox_fast, specialised
from ._threads import get_num_threads
from ._validation import check_inplace, check_input, check_out, check_scalar, overlaps


_MAX_STEP = 2**63 - 1  # the kernel's int64 step counter

__all__ = ["soft_threshold", "sgd_step", "momentum_step", "adam_step", "group_soft_threshold"]


def _flat(x, name, dtype=None):
    """In-place array of any shape -> its 1-D C-contiguous view."""
    if isinstance(x, np.ndarray) and x.ndim != 1:
        check_inplace(x, name, dtype=dtype, ndim=x.ndim)
        return x.reshape(-1)
    return check_inplace(x, name, dtype=dtype, ndim=1)


def _grad(grad, w, name="grad"):
    g = check_input(grad, name, w.dtype)
    if g.shape != w.shape:
        raise ValueError(f"{name} has shape {g.shape}, the weights have shape {w.shape}")
    return g.reshape(-1)


def _same(arr, name, w, w_flat):
    a = _flat(arr, name, dtype=w.dtype)
    if a.shape != w_flat.shape:
        raise ValueError(f"{name} has {a.size} elements, the weights have {w_flat.size}")
    if np.shares_memory(a, w_flat):
        raise ValueError(f"{name} must not share memory with w")
    return a


def _check_arrays(w, grad, *states):
    """Validated flat views ``(w, [state, ...], grad)`` of an in-place update.

    ``states`` are ``(name, array)`` pairs of optimizer state, each of ``w``'s
    dtype and size, overlapping neither ``w`` nor one another.
    """
    wf = _flat(w, "w")
    flat = [_same(arr, name, w, wf) for name, arr in states]
    for i, (name, _) in enumerate(states):
        for j in range(i + 1, len(states)):
            if np.shares_memory(flat[i], flat[j]):
                raise ValueError(f"{name} and {states[j][0]} must not share memory")
    g = _grad(grad, w)
    # the kernels read grad[i] while writing w[i] and the state: any overlap,
    # even grad being w itself, is refused as for the state (bounds check first)
    if np.may_share_memory(g, wf):
        _refuse_overlap(g, wf, "w")
    for (name, _), arr in zip(states, flat):
        if np.may_share_memory(g, arr):
            _refuse_overlap(g, arr, name)
    return wf, flat, g


def _refuse_overlap(g, arr, name):
    if np.shares_memory(g, arr):
        raise ValueError(f"grad must not share memory with {name}, which the step updates "
                         f"in place; pass a copy ({name}.copy()) if that is meant")


def _same_start(a, b):
    """Same first byte: two C-contiguous arrays of one shape and dtype are then one."""
    return a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


def _check_penalties(l1, l2):
    return check_scalar(l1, "l1", min_val=0.0), check_scalar(l2, "l2", min_val=0.0)


def soft_threshold(x, t, out=None):
    """Soft-threshold (the proximal operator of ``t * ||x||_1``).

    Parameters
    ----------
    x : array_like
        Input values; float32 stays float32, everything else becomes float64.
    t : float
        Threshold, ``t >= 0``.
    out : ndarray, optional
        C-contiguous array of ``x``'s shape and result dtype to write into; may
        be ``x`` itself (or another view of exactly its memory) for an in-place
        update; an ``out`` that overlaps ``x`` otherwise is computed from a copy
        of ``x`` (the kernel writes ``out[i]`` right after reading ``x[i]``).

    Returns
    -------
    out : ndarray
        ``sign(x) * max(|x| - t, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.prox import soft_threshold
    >>> soft_threshold(np.array([-2.0, 0.5, 3.0]), 1.0)
    array([-1.,  0.,  2.])
    """
    t = check_scalar(t, "t", min_val=0.0)
    if isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64):
        dtype = x.dtype
    else:
        dtype = np.float64
    xa = check_input(x, "x", dtype)
    if out is None:
        out = np.empty(xa.shape, dtype=dtype)
    else:
        out = check_out(out, xa.shape, dtype)
        if out is not xa and overlaps(out, xa) and not _same_start(out, xa):
            xa = xa.copy()  # a shifted overlap: read x before any of it is written
    kernel = specialised(prox_fast.soft_threshold_impl, dtype)
    kernel(xa.reshape(-1), out.reshape(-1), t, get_num_threads())
    return out


def sgd_step(w, grad, lr, l1=0.0, l2=0.0, *, check_input=True):
    """Proximal SGD step in place: ``w <- prox_{lr*l1}(w - lr * (grad + l2 * w))``.

    Parameters
    ----------
    w : ndarray of float32 or float64
        Weights, C-contiguous; updated in place.
    grad : array_like
        Gradient of the smooth loss at ``w``, same number of elements; must not
        share memory with ``w`` (ValueError; unchecked with ``check_input=False``).
    lr : float
        Step size, ``lr >= 0``.
    l1, l2 : float, default 0
        L1 strength (soft-threshold at ``lr * l1``) and L2 strength (weight
        decay ``l2 * w`` added to the gradient), both ``>= 0``.
    check_input : bool, default True
        Validate arrays and scalars. Training loops that already hold
        C-contiguous arrays of one float dtype and the right sizes, and
        validated hyper-parameters, may pass False to skip the checks (a few
        microseconds per call, which matter for small layers); wrong input is
        then undefined behaviour.

    Returns
    -------
    nnz : int
        Number of nonzero weights after the step (counted in the same pass).

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.prox import sgd_step
    >>> w = np.array([1.0, -0.05, 0.3])
    >>> sgd_step(w, np.array([0.0, 0.0, 0.0]), lr=0.1, l1=1.0)
    2
    >>> w
    array([0.9, 0. , 0.2])
    """
    if not check_input:
        kernel = specialised(prox_fast.sgd_step_impl, w.dtype)
        return kernel(w.reshape(-1), grad.reshape(-1), lr, l1, l2, get_num_threads())
    wf, _, g = _check_arrays(w, grad)
    lr = check_scalar(lr, "lr", min_val=0.0)
    l1, l2 = _check_penalties(l1, l2)
    return specialised(prox_fast.sgd_step_impl, wf.dtype)(wf, g, lr, l1, l2, get_num_threads())


def momentum_step(w, grad, velocity, lr, momentum=0.9, l1=0.0, l2=0.0, nesterov=False, *,
                  check_input=True):
    """Proximal momentum SGD step in place (scikit-learn's MLP convention).

    With ``u = lr * (grad + l2 * w)``: ``velocity <- momentum * velocity - u``,
    then ``w <- prox_{lr*l1}(w + velocity)``, or with ``nesterov=True``
    ``w <- prox_{lr*l1}(w + momentum * velocity - u)``.

    Parameters
    ----------
    w, velocity : ndarray of float32 or float64
        Weights and velocity (same dtype and size, C-contiguous); updated in place.
    grad : array_like
        Gradient of the smooth loss at ``w``; shares no memory with the arrays
        updated in place (ValueError).
    lr : float
        Step size, ``lr >= 0``.
    momentum : float, default 0.9
        In ``[0, 1)``.
    l1, l2 : float, default 0
        L1 and L2 strengths, ``>= 0``.
    nesterov : bool, default False
        Use Nesterov's look-ahead form.
    check_input : bool, default True
        Validate arrays and scalars; see :func:`sgd_step` for the unchecked path.

    Returns
    -------
    nnz : int
        Number of nonzero weights after the step; ``velocity`` holds the new velocity.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.prox import momentum_step
    >>> w, velocity = np.array([1.0, -0.05, 0.3]), np.zeros(3)
    >>> momentum_step(w, np.array([0.5, 0.0, -1.0]), velocity, lr=0.1, l1=1.0)
    2
    >>> w, velocity
    (array([0.85, 0.  , 0.3 ]), array([-0.05,  0.  ,  0.1 ]))
    """
    if not check_input:
        return specialised(prox_fast.momentum_step_impl, w.dtype)(
            w.reshape(-1), grad.reshape(-1), velocity.reshape(-1), lr, momentum, l1, l2,
            bool(nesterov), get_num_threads())
    wf, (vf,), g = _check_arrays(w, grad, ("velocity", velocity))
    lr = check_scalar(lr, "lr", min_val=0.0)
    momentum = check_scalar(momentum, "momentum", min_val=0.0, max_val=1.0, include_max=False)
    l1, l2 = _check_penalties(l1, l2)
    kernel = specialised(prox_fast.momentum_step_impl, wf.dtype)
    return kernel(wf, g, vf, lr, momentum, l1, l2, bool(nesterov), get_num_threads())


def adam_step(w, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, l1=0.0, l2=0.0,
              *, check_input=True):
    """Proximal Adam step in place: moments, bias correction, step and L1 prox in one pass.

    With ``u = grad + l2 * w`` (L2 as a gradient term, as in Adam, not AdamW):
    ``m <- beta1 m + (1 - beta1) u``, ``v <- beta2 v + (1 - beta2) u**2``,
    ``d = sqrt(v / (1 - beta2**step)) + eps`` and
    ``w <- prox_{lr*l1/d}(w - lr * m / (1 - beta1**step) / d)``.

    The L1 threshold is divided by ``d`` coordinate by coordinate: Adam's step
    on coordinate ``i`` is ``lr / d_i``, and the proximal step of
    ``lr * l1 * |w_i|`` in Adam's metric is the soft-threshold at
    ``lr * l1 / d_i`` (Yun et al., 2021, "Adaptive proximal gradient methods
    for structured neural networks"). A fixed threshold ``lr * l1`` would zero
    coordinates with small adaptive steps regardless of their gradient and
    barely touch those with large steps.

    Parameters
    ----------
    w, m, v : ndarray of float32 or float64
        Weights, first and second moments (same dtype and size, C-contiguous,
        not overlapping); updated in place. Start ``m`` and ``v`` at zero.
    grad : array_like
        Gradient of the smooth loss at ``w``; shares no memory with the arrays
        updated in place (ValueError).
    step : int
        1-based step number, for the bias correction, in ``[1, 2**63 - 1]``.
    lr : float, default 1e-3
    beta1, beta2 : float, default 0.9, 0.999
        In ``[0, 1)``.
    eps : float, default 1e-8
        ``> 0``.
    l1, l2 : float, default 0
        ``>= 0``.
    check_input : bool, default True
        Validate arrays and scalars; see :func:`sgd_step` for the unchecked path.

    Returns
    -------
    nnz : int
        Number of nonzero weights after the step; ``m`` and ``v`` hold the new moments.

    Examples
    --------
    At the first step Adam moves every coordinate with a nonzero gradient by
    about ``lr``:

    >>> import numpy as np
    >>> from fastprox.prox import adam_step
    >>> w, m, v = np.array([1.0, -0.05, 0.3]), np.zeros(3), np.zeros(3)
    >>> adam_step(w, np.array([0.5, 0.0, -1.0]), m, v, step=1, lr=0.1)
    3
    >>> w
    array([ 0.9 , -0.05,  0.4 ])
    """
    if not check_input:
        return specialised(prox_fast.adam_step_impl, w.dtype)(
            w.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1), step, lr, beta1,
            beta2, eps, l1, l2, get_num_threads())
    wf, (mf, vf), g = _check_arrays(w, grad, ("m", m), ("v", v))
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not \
            1 <= step <= _MAX_STEP:
        raise ValueError("step must be an integer in [1, 2**63 - 1] (1 for the first update), "
                         f"got {step!r}")
    lr = check_scalar(lr, "lr", min_val=0.0)
    beta1 = check_scalar(beta1, "beta1", min_val=0.0, max_val=1.0, include_max=False)
    beta2 = check_scalar(beta2, "beta2", min_val=0.0, max_val=1.0, include_max=False)
    eps = check_scalar(eps, "eps", min_val=0.0, include_min=False)
    l1, l2 = _check_penalties(l1, l2)
    kernel = specialised(prox_fast.adam_step_impl, wf.dtype)
    return kernel(wf, g, mf, vf, int(step), lr, beta1, beta2, eps, l1, l2, get_num_threads())


def group_soft_threshold(W, t, axis=0):
    """Group soft-threshold in place: ``group <- group * max(1 - t / ||group||_2, 0)``.

    Parameters
    ----------
    W : ndarray of float32 or float64, shape (n_rows, n_cols)
        C-contiguous; updated in place.
    t : float
        Threshold, ``t >= 0`` (``lr * group_l1`` for a proximal step).
    axis : {0, 1}, default 0
        Axis along which the group norm is taken, as in
        ``np.linalg.norm(W, axis=axis)``: ``axis=0`` makes each *column* a
        group (a neuron of a layer stored (n_in, n_out), scikit-learn's
        ``coefs_`` layout); ``axis=1`` makes each row a group. An int
        (``1.0`` or ``True`` raise TypeError).

    Returns
    -------
    alive : ndarray of bool
        Which groups are nonzero after the step.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.prox import group_soft_threshold
    >>> W = np.array([[3.0, 0.1], [4.0, 0.1]])  # column norms 5 and 0.14
    >>> group_soft_threshold(W, 1.0)
    array([ True, False])
    >>> W
    array([[2.4, 0. ],
           [3.2, 0. ]])
    """
    W = check_inplace(W, "W", ndim=2)
    t = check_scalar(t, "t", min_val=0.0)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be the int 0 (column groups) or 1 (row groups), got "
                        f"{type(axis).__name__} {axis!r}")
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (column groups) or 1 (row groups), got {axis!r}")
    n_groups = W.shape[1] if axis == 0 else W.shape[0]
    norms = np.empty(W.shape[1] if axis == 0 else 0, dtype=np.float64)
    alive = np.zeros(n_groups, dtype=np.intp)
    kernel = specialised(prox_fast.group_soft_threshold_impl, W.dtype)
    kernel(W, t, axis, norms, alive, get_num_threads())
    return alive.astype(bool)
