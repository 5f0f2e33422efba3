"""One epoch of mini-batch training: the compiled all-CSR epoch and the per-layer Python epoch.

Both compute, for each mini-batch of ``b`` samples (in ``order`` when
shuffling): the forward pass ``H_{i+1} = f(W_i^T H_i + b_i)`` on transposed
activations, the output error ``delta = (P - Y) / b``, the backward pass
``gW_i = H_i delta_i^T``, ``gb_i = sum(delta_i)``, ``delta_{i-1} = f'(z)
* (W_i delta_i)``, and the optimizer step of each layer from the last to the
first (see :mod:`._stochastic_optimizers`). The returned loss is scikit-learn's
``loss_``: each batch's loss ``L_k`` -- its mean data loss plus ``alpha / (2
b_k) * ||w_k||^2`` with ``w_k`` the weights the batch starts from -- weighted by
its size, ``sum_k b_k L_k / n`` (so a short last batch counts its L2 term as
scikit-learn's does), plus ``l1 * ||w||_1`` at the epoch's end. The squared
error is averaged over the outputs as scikit-learn's ``squared_loss`` does (its
gradient, and so ours, is that of their sum).

With sample weights ``s`` (scikit-learn >= 1.7), a batch's error is
``delta = s * (P - Y) / sum(s_batch)`` and its L2 term ``alpha * w /
sum(s_batch)``: the gradient of the batch's weighted mean loss ``L_k =
(sum_i s_i l_i + alpha / 2 * ||w_k||^2) / sum(s_batch)``, and the returned
loss is again ``sum_k b_k L_k / n`` (scikit-learn's accumulation).

A network whose layers are all CSR (int32 indices) runs the whole epoch in
one call to :func:`fastprox._kernels.mlp_fast.train_epoch_impl`, without the
GIL; any other network, or a sparse ``X`` (CSR rows, never densified: see
:mod:`._sparse_input`), goes layer by layer through the layers' kernels.
"""
import numpy as np

from .. import prox as _prox
from .._kernels import mlp_fast
from .._threads import get_num_threads
from .._validation import empty_aligned
from ._base import activate, batch_loss, derivative, output
from ._layers import kernel_arrays

__all__ = ["COMPILED_EPOCH", "run_epoch"]

#: Train all-CSR networks with the compiled epoch; False runs the per-layer
#: loop (the reference the tests compare it with). See docs/design/mlp-compiled-epoch.md.
COMPILED_EPOCH = True


def run_epoch(est, layers, opt, X, YT, batch_size, order, out, sample_weight=None):
    """One pass over ``X`` (n_samples, n_features), C-contiguous; returns the mean loss.

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor
        Hyper-parameters (``shuffle``, ``alpha``, ``l1``, ``group_l1``, ``activation``...).
    layers : list of DenseLayer or CSRLayer
        Updated in place.
    opt : Optimizer
    X : ndarray (n_samples, n_features) or scipy.sparse CSR
    YT : ndarray (n_outputs, n_samples)
        Encoded targets, transposed, in X's dtype.
    batch_size : int
        At most ``n_samples``.
    order : ndarray of int (n_samples,) or None
        The epoch's sample order (None: ``X``'s own, no shuffling).
    out : {'identity', 'exp', 'logistic', 'softmax'}
        Output function (and so the loss, see :mod:`._base`).
    sample_weight : ndarray (n_samples,), optional
        Weights of the samples (None: all 1, the unweighted arithmetic).
    """
    n = X.shape[0]
    idx = order
    # the compiled epoch knows the unweighted losses of mlp_fast.OUTPUTS
    arrays = kernel_arrays(layers) if COMPILED_EPOCH and sample_weight is None \
        and out in mlp_fast.OUTPUTS and isinstance(X, np.ndarray) else None
    if arrays is not None:
        total = _epoch_compiled(est, layers, arrays, opt, X, YT, batch_size, idx, out)
    else:
        total = _epoch_python(est, layers, opt, X, YT, batch_size, idx, out, sample_weight)
    pen = 0.0
    if est.l1 > 0:
        for layer in layers:
            pen += est.l1 * float(np.abs(layer.values).sum())
    if not np.isfinite(_squared_norm(layers) + sum(float(ly.b @ ly.b) for ly in layers)):
        return float("nan")  # the last step diverged: the batches' losses did not see it
    return total / n + pen


def _squared_norm(layers):
    """``||w||^2`` over the layers' weights (scikit-learn's L2 ``values``; no biases)."""
    sq = 0.0
    for layer in layers:
        v = layer.values.reshape(-1)
        sq += float(v @ v)
    return sq


def _epoch_compiled(est, layers, arrays, opt, X, YT, batch_size, idx, out):
    """Summed loss of one epoch of an all-CSR network, in one call to ``mlp_fast``.

    Same arithmetic as :func:`_epoch_python` (see ``mlp_fast.pyx``); the
    kernel checks every array it indexes before releasing the GIL.
    """
    n = X.shape[0]
    dtype = X.dtype
    b = min(batch_size, n)
    order = np.arange(n, dtype=np.int64) if idx is None else idx.astype(np.int64, copy=False)
    widths = [layers[0].shape[0]] + [layer.shape[1] for layer in layers]
    # 64-byte aligned: the CSR kernels load whole vectors from their rows
    acts = [empty_aligned((w * b,), dtype) for w in widths]
    deltas = [empty_aligned((w * b,), dtype) for w in widths[1:]]
    empty = np.empty(0, dtype=dtype)
    adam = opt.solver == "adam"
    specs = []
    for a, layer, (ws, bs) in zip(arrays, layers, opt.state):
        specs.append(a + (np.empty(layer.nnz, dtype), np.empty(layer.b.shape, dtype),
                          ws[0], ws[1] if adam else empty, bs[0], bs[1] if adam else empty))
    total, opt.t = mlp_fast.train_epoch_impl(
        X, YT, order, batch_size, specs, acts, deltas, np.empty(2 * b, dtype),
        mlp_fast.ACTIVATIONS[est.activation], mlp_fast.OUTPUTS[out], adam,
        opt.t, float(opt.lr), float(est.beta_1), float(est.beta_2), float(est.epsilon),
        float(est.momentum), bool(est.nesterovs_momentum), float(est.l1), float(est.alpha),
        get_num_threads(), sklearn_eps=True, l2_loss=True)
    return total


def _workspace(layers, b, dtype, sparse=False):
    """Per-batch-size buffers, allocated once per epoch instead of once per batch.

    ``acts[i]`` is layer ``i``'s input (``acts[0]`` the batch of X),
    ``deltas[i]`` the error at layer ``i``'s output, ``gW`` / ``gb`` the
    gradients in each layer's value layout, ``masks`` scratch booleans
    for the activation derivative. With a ``sparse`` X, ``acts[0]`` is the
    batch itself (no buffer).
    """
    widths = [layers[0].shape[0]] + [layer.shape[1] for layer in layers]
    # 64-byte aligned: the CSR kernels load whole vectors from their rows
    acts = [None if sparse and i == 0 else empty_aligned((w, b), dtype)
            for i, w in enumerate(widths)]
    deltas = [empty_aligned((w, b), dtype) for w in widths[1:]]
    gW = [np.empty(layer.values.shape, dtype=dtype) for layer in layers]
    gb = [np.empty(layer.b.shape, dtype=dtype) for layer in layers]
    masks = [np.empty((w, b), dtype=bool) for w in widths[1:-1]]
    return {"acts": acts, "deltas": deltas, "gW": gW, "gb": gb, "masks": masks,
            "Y": np.empty((widths[-1], b), dtype=dtype),
            "rows": None if sparse else np.empty((b, widths[0]), dtype=dtype),
            "tmp": np.empty((widths[-1], b), dtype=dtype)}


def _epoch_python(est, layers, opt, X, YT, batch_size, idx, out, sample_weight=None):
    """``sum_k b_k L_k`` of one epoch (see the module docstring), layer by layer."""
    n = X.shape[0]
    last = len(layers) - 1
    total = 0.0
    half_alpha = 0.5 * est.alpha
    group_t = est.learning_rate_init * est.group_l1
    activation = est.activation
    dtype = X.dtype
    sparse = not isinstance(X, np.ndarray)
    spaces = {}
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        b = stop - start
        ws = spaces.get(b)
        if ws is None:
            ws = spaces[b] = _workspace(layers, b, dtype, sparse)
        acts, deltas, Yb = ws["acts"], ws["deltas"], ws["Y"]
        if sparse:  # the batch's CSR rows, transposed (a CSC view): see _sparse_input
            sl = slice(start, stop) if idx is None else idx[start:stop]
            acts[0] = X[sl].T
            if idx is None:
                Yb[...] = YT[:, sl]
            else:
                np.take(YT, sl, axis=1, out=Yb)
            wb = None if sample_weight is None else sample_weight[sl]
        elif idx is None:
            acts[0][...] = X[start:stop].T
            Yb[...] = YT[:, start:stop]
            wb = None if sample_weight is None else sample_weight[start:stop]
        else:
            sl = idx[start:stop]
            # whole rows, then one transposed copy: see docs/design/mlp-python-epoch.md
            np.take(X, sl, axis=0, out=ws["rows"])
            acts[0][...] = ws["rows"].T
            np.take(YT, sl, axis=1, out=Yb)
            wb = None if sample_weight is None else sample_weight[sl]
        for i, layer in enumerate(layers):
            # the ReLU of a hidden layer is fused into its forward pass
            fuse = i < last and activation == "relu"
            Z = layer.forward(acts[i], out=acts[i + 1], relu=fuse)
            if i == last:
                output(Z, out)
            elif not fuse:
                activate(Z, activation)
        P = acts[-1]
        # the batch's summed loss with its L2 term on the weights it starts from
        loss_b = batch_loss(Yb, P, ws["tmp"], out, wb)
        if out == "identity":
            loss_b /= Yb.shape[0]  # scikit-learn's squared error: the mean over the outputs
        if half_alpha > 0:
            loss_b += half_alpha * _squared_norm(layers)
        delta = np.subtract(P, Yb, out=deltas[last])
        if wb is None:
            total += loss_b
            delta *= 1.0 / b
        else:
            sw = float(wb.sum())  # the batch's weight: gradient of its weighted mean loss
            if sw == 0:  # only zero weights: nothing to learn from (no step, no L2 decay)
                continue
            total += loss_b * (b / sw)  # scikit-learn: its weighted mean times b
            b = sw
            delta *= (wb / b).astype(dtype, copy=False)
        opt.t += 1
        for i in range(last, -1, -1):
            layer = layers[i]
            gW, gb, d_in = layer.backward(deltas[i], acts[i], i > 0, gW=ws["gW"][i],
                                          gb=ws["gb"][i], d_in=deltas[i - 1] if i else None)
            opt.step(i, layer, gW, gb, b)
            if group_t > 0 and i < last and layer.kind == "dense":
                _prox.group_soft_threshold(layer.W, group_t, axis=0)
            if i > 0:
                derivative(d_in, acts[i], activation, ws["masks"][i - 1])
    return total
