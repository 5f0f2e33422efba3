"""Dense and CSR fully connected layers working on transposed activations.

Activations flow through the network as (n_features, batch) C-contiguous
arrays: that is the layout :func:`fastprox.sparse.spmm` streams (each row of
the dense operand is contiguous in the batch), so a CSR layer never copies
its input. Dense layers use BLAS on the same layout (``W.T @ H``, a
transposed-operand GEMM, no copy).

A layer knows its forward product, its backward products and how to expose
its weights as dense (n_in, n_out) matrices (scikit-learn's ``coefs_``
layout) or as per-weight value arrays for the optimizer. Activation
functions and losses live in :mod:`._base`. The factories at the end build a
network's first layers (Glorot initialisation) and the layer that stores a
pruned pattern (CSR below the sparse crossover).
"""
import numpy as np
import scipy.sparse as sp

from .. import sparse as _sparse
from .._validation import CSR, check_csr
from . import _sparse_input


class DenseLayer:
    """Weights stored dense, ``W`` of shape (n_in, n_out), optional frozen mask."""

    kind = "dense"

    def __init__(self, W, b, mask=None):
        self.W = np.ascontiguousarray(W)
        self.b = np.ascontiguousarray(b, dtype=self.W.dtype)
        # mask is None (every weight trainable) or a float array of 0/1: pruned
        # weights get a zero gradient, so with zero optimizer state they stay 0
        self.mask = None if mask is None else np.ascontiguousarray(mask, dtype=self.W.dtype)

    @property
    def shape(self):
        """(n_in, n_out)."""
        return self.W.shape

    @property
    def nnz(self):
        return int(np.count_nonzero(self.W))

    @property
    def values(self):
        """The trainable weight array (updated in place by the optimizer)."""
        return self.W

    def forward(self, H, out=None, relu=False):
        """``W.T @ H + b`` (then ReLU if ``relu``) for ``H`` (n_in, batch), into ``out``.

        ``H`` may be a scipy.sparse matrix (sparse input ``X``, see :mod:`._sparse_input`).
        """
        if not isinstance(H, np.ndarray):
            return _sparse_input.forward(self, H, out, relu)
        Z = np.matmul(self.W.T, H, out=out)
        Z += self.b[:, None]
        if relu:
            np.maximum(Z, 0, out=Z)
        return Z

    def backward(self, delta, H_in, need_input_grad, gW=None, gb=None, d_in=None):
        """Gradients of the weights and bias, and ``W @ delta`` (before the activation derivative).

        ``gW``, ``gb``, ``d_in``: optional preallocated outputs (C-contiguous,
        the layer's dtype), reused across batches by the training loop.
        """
        if not isinstance(H_in, np.ndarray):
            return _sparse_input.backward(self, delta, H_in, need_input_grad, gW, gb)
        gW = np.matmul(H_in, delta.T, out=gW)
        if self.mask is not None:
            gW *= self.mask
        gb = np.add.reduce(delta, axis=1, out=gb)
        d_in = np.matmul(self.W, delta, out=d_in) if need_input_grad else None
        return gW, gb, d_in

    def dense(self):
        return self.W

    def sparse_coef(self):
        """The weights as a scipy CSR array of shape (n_in, n_out), exact zeros not stored."""
        return sp.csr_array(self.W)

    def to_dense(self, vals):
        """Per-weight array (W-shaped) -> dense (n_in, n_out)."""
        return vals

    def gather(self, D):
        """Dense (n_in, n_out) -> this layer's per-weight array layout."""
        return np.ascontiguousarray(D, dtype=self.W.dtype)

    def keep(self):
        """Boolean (n_in, n_out): the weights that are trainable."""
        return np.ones(self.W.shape, dtype=bool) if self.mask is None else self.mask != 0

    def __getstate__(self):
        # the 0/1 mask travels as packed bits (1/64 of a float64 copy of W)
        mask = None if self.mask is None else np.packbits(self.mask.reshape(-1) != 0)
        return {"W": self.W, "b": self.b, "mask_bits": mask}

    def __setstate__(self, state):
        state = dict(state)
        if "mask_bits" in state:
            bits = state.pop("mask_bits")
            W = state["W"]
            state["mask"] = None if bits is None else np.ascontiguousarray(
                np.unpackbits(bits, count=W.size).reshape(W.shape), dtype=W.dtype)
        self.__dict__.update(state)


class CSRLayer:
    """Weights stored as CSR of the transposed matrix, shape (n_out, n_in).

    Forward ``Z = A @ H`` with :func:`~fastprox.sparse.spmm`; weight gradient
    ``(delta @ H.T)`` sampled at the pattern with :func:`~fastprox.sparse.sddmm`
    (``2 * nnz * batch`` FLOPs); input gradient ``A.T @ delta`` with ``spmm``
    on a cached transposed CSR ``AT``. ``AT`` shares the pattern's lifetime:
    it is built once per pattern together with the permutation ``perm`` that
    maps ``A.data`` to ``AT.data``, and refreshed by one gather of ``nnz``
    values before each backward pass (cheaper than a parallel scatter
    transpose, deterministic, and ``spmm`` is the fastest kernel we have).
    """

    kind = "csr"

    def __init__(self, data, indices, indptr, shape, b):
        self.data = np.ascontiguousarray(data)
        self.indices = indices
        self.indptr = indptr
        self.shape_t = tuple(int(s) for s in shape)  # (n_out, n_in)
        self.b = np.ascontiguousarray(b, dtype=self.data.dtype)
        self._build()

    @classmethod
    def from_matrix(cls, W, b, mask=None):
        """From a dense (n_in, n_out) matrix; the pattern is ``mask`` if given, else ``W != 0``."""
        keep = (W != 0) if mask is None else np.asarray(mask, dtype=bool)
        WT = np.ascontiguousarray(W.T)
        keep_t = np.ascontiguousarray(keep.T)
        rows, cols = np.nonzero(keep_t)  # row-major order = CSR order, sorted indices
        n_out, n_in = WT.shape
        idx_dtype = np.int32
        indptr = np.zeros(n_out + 1, dtype=idx_dtype)
        np.cumsum(np.bincount(rows, minlength=n_out), out=indptr[1:])
        return cls(WT[rows, cols], cols.astype(idx_dtype), indptr, (n_out, n_in), b)

    def _build(self):
        A = sp.csr_array((self.data, self.indices, self.indptr), shape=self.shape_t)
        self._A = check_csr(A, "layer weights")  # validated once per pattern
        self._A.data = self.data  # share: the optimizer updates self.data in place
        # validated once here, so the hot paths call the kernels' trusted path
        # (check_input=False with out=): see docs/design/mlp-trusted-paths.md
        nnz = self.data.shape[0]
        P = sp.csr_array((np.arange(1, nnz + 1, dtype=np.float64), self.indices, self.indptr),
                         shape=self.shape_t).T.tocsr()
        P.sort_indices()
        # int64 (not intp): the compiled epoch (_mlp_fast) reads it as int64_t
        self._perm = (P.data - 1).astype(np.int64)
        self._AT = check_csr(sp.csr_array((self.data[self._perm], P.indices, P.indptr),
                                          shape=P.shape), "transposed layer weights")

    @property
    def shape(self):
        return (self.shape_t[1], self.shape_t[0])

    @property
    def nnz(self):
        return int(self.data.shape[0])

    @property
    def values(self):
        return self.data

    def _dense_operand(self, H, n_rows):
        if H.ndim != 2 or H.shape[0] != n_rows:
            raise ValueError(f"expected an operand with {n_rows} rows, got shape {H.shape}")
        if H.dtype != self.data.dtype or not H.flags.c_contiguous:
            H = np.ascontiguousarray(H, dtype=self.data.dtype)
        return H

    def forward(self, H, out=None, relu=False):
        """``A @ H + b`` (then ReLU if ``relu``) for ``H`` (n_in, batch), into ``out``.

        The bias and the ReLU are fused into the ``spmm`` kernel.

        A single column (batch 1, the latency case) goes through the CSR
        mat-vec kernel, which has no batch loop to set up. A scipy.sparse ``H``
        (sparse input ``X``) goes through :mod:`._sparse_input`.
        """
        if not isinstance(H, np.ndarray):
            return _sparse_input.forward(self, H, out, relu)
        A = self._A
        if H.dtype != A.data.dtype or not H.flags.c_contiguous or H.ndim != 2:
            H = self._dense_operand(H, self.shape_t[1])
        elif H.shape[0] != self.shape_t[1]:
            raise ValueError(f"expected an operand with {self.shape_t[1]} rows, got {H.shape}")
        if out is None:
            out = np.empty((self.shape_t[0], H.shape[1]), dtype=A.data.dtype)
        if H.shape[1] == 1:  # batch 1: the mat-vec kernel has no batch loop to set up
            y = _sparse.spmv(A, H.reshape(-1), out=out.reshape(-1), check_input=False)
            y += self.b
            if relu:
                np.maximum(y, 0, out=y)
        else:
            _sparse.spmm(A, H, out=out, bias=self.b, relu=relu, check_input=False)
        return out

    def backward(self, delta, H_in, need_input_grad, gW=None, gb=None, d_in=None):
        """Weight gradient at the pattern (``sddmm``), bias gradient, and ``A.T @ delta``.

        ``gW`` (nnz,), ``gb`` (n_out,), ``d_in`` (n_in, batch): optional
        preallocated C-contiguous outputs in the layer's dtype.
        """
        if not isinstance(H_in, np.ndarray):
            return _sparse_input.backward(self, delta, H_in, need_input_grad, gW, gb)
        A = self._A
        delta = self._dense_operand(delta, self.shape_t[0])
        H_in = self._dense_operand(H_in, self.shape_t[1])
        if delta.shape[1] != H_in.shape[1]:
            raise ValueError(f"delta {delta.shape} and H_in {H_in.shape} have different batches")
        if gW is None:
            gW = np.empty(A.data.shape[0], dtype=self.data.dtype)
        _sparse.sddmm(A, delta, H_in, out=gW, check_input=False)
        gb = np.add.reduce(delta, axis=1, out=gb)
        if need_input_grad:
            AT = self._AT
            np.take(self.data, self._perm, out=AT.data)
            if d_in is None:
                d_in = np.empty((self.shape_t[1], delta.shape[1]), dtype=self.data.dtype)
            _sparse.spmm(AT, delta, out=d_in, check_input=False)
        else:
            d_in = None
        return gW, gb, d_in

    def kernel_arrays(self):
        """(data, indices, indptr, b, AT.data, AT.indices, AT.indptr, perm) for ``_mlp_fast``.

        None when an index array is not int32 (the compiled paths are int32 only).
        """
        AT = self._AT
        arrays = (self.data, self.indices, self.indptr, self.b, AT.data, AT.indices,
                  AT.indptr, self._perm)
        if any(a.dtype != np.int32 for a in (arrays[1], arrays[2], arrays[5], arrays[6])):
            return None
        return arrays

    def csr(self):
        """The weights as a scipy CSR array of shape (n_out, n_in) (shares memory)."""
        return sp.csr_array((self.data, self.indices, self.indptr), shape=self.shape_t)

    def dense(self):
        return self.to_dense(self.data)

    def sparse_coef(self):
        """The weights as a scipy CSR array of shape (n_in, n_out), exact zeros not stored."""
        A = self.csr().T.tocsr()
        A.eliminate_zeros()
        return A

    def to_dense(self, vals):
        """Per-nonzero array -> dense (n_in, n_out) with zeros off the pattern."""
        return np.ascontiguousarray(
            sp.csr_array((vals, self.indices, self.indptr), shape=self.shape_t).toarray().T)

    def gather(self, D):
        """Dense (n_in, n_out) -> values at this layer's pattern (aligned with ``data``)."""
        rows = np.repeat(np.arange(self.shape_t[0]), np.diff(self.indptr))
        return np.ascontiguousarray(D.T[rows, self.indices], dtype=self.data.dtype)

    def keep(self):
        return self.to_dense(np.ones(self.nnz, dtype=bool))

    def __deepcopy__(self, memo):
        # The pattern (indices, indptr, the transposed pattern and the permutation)
        # is never written in place -- a new pattern is a new layer -- so copies
        # share it and copy the values only: a warm start or partial_fit on a
        # pruned model neither duplicates the index arrays nor re-sorts the
        # transpose (which the pickle path, below, rebuilds).
        new = object.__new__(CSRLayer)
        memo[id(self)] = new
        new.data, new.b = self.data.copy(), self.b.copy()
        new.indices, new.indptr, new.shape_t = self.indices, self.indptr, self.shape_t
        A, AT = self._A, self._AT
        new._A = CSR(new.data, A.indices, A.indptr, A.shape)
        new._AT = CSR(AT.data.copy(), AT.indices, AT.indptr, AT.shape)
        new._perm = self._perm
        return new

    def __getstate__(self):
        # Caches (validated views, transposed copy, permutation, compiled
        # network) are rebuilt on load. The index arrays are stored in the
        # narrowest unsigned type that holds them (uint8 column indices for a
        # layer of at most 256 inputs: 9 bytes per float64 nonzero instead of
        # 12) and widened back on load, so a pickle costs what the pattern needs.
        return {"data": self.data, "indices": _narrow(self.indices, self.shape_t[1]),
                "indptr": _narrow(self.indptr, self.data.shape[0] + 1),
                "index_dtype": self.indices.dtype.str, "shape_t": self.shape_t, "b": self.b}

    def __setstate__(self, state):
        state = dict(state)
        idx = np.dtype(state.pop("index_dtype", state["indices"].dtype))
        state["indices"] = np.ascontiguousarray(state["indices"], dtype=idx)
        state["indptr"] = np.ascontiguousarray(state["indptr"], dtype=idx)
        self.__dict__.update(state)
        self._build()


def _narrow(a, bound):
    """``a`` (values in [0, bound)) in the narrowest unsigned integer type that holds them."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if bound <= np.iinfo(dt).max + 1:
            return a.astype(dt)
    return a


def init_layers(sizes, dtype, rng, activation):
    """Dense layers of widths ``sizes`` (n_features, *hidden, n_outputs), scikit-learn's init.

    Glorot & Bengio (2010) uniform: weights and biases drawn from
    ``U(-r, r)``, ``r = sqrt(6 / (n_in + n_out))`` (``sqrt(2 / ...)`` for the
    logistic activation), in scikit-learn's draw order so that a seed gives
    the same start as :class:`sklearn.neural_network.MLPClassifier`.
    """
    layers = []
    factor = 2.0 if activation == "logistic" else 6.0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(factor / (n_in + n_out))
        W = rng.uniform(-bound, bound, (n_in, n_out)).astype(dtype)
        b = rng.uniform(-bound, bound, n_out).astype(dtype)
        layers.append(DenseLayer(W, b))
    return layers


def make_layer(W, b, keep, crossover):
    """Layer for weights ``W`` (n_in, n_out) restricted to ``keep``: CSR below the crossover."""
    density = np.count_nonzero(keep) / keep.size
    if density < crossover:
        return CSRLayer.from_matrix(W * keep, b, keep)
    if keep.all():
        return DenseLayer(W, b)
    return DenseLayer(W * keep, b, mask=keep)


def replace_weights(layer, W, b, crossover):
    """``layer`` with new weights ``W`` (n_in, n_out) and / or bias ``b`` (None: keep them).

    The new pattern is the old one plus the nonzeros of ``W``: a weight pruned
    in ``layer`` stays pruned where ``W`` is zero and is stored (trained)
    wherever ``W`` is not; stored as CSR below ``crossover`` density
    (:func:`make_layer`). Shapes and dtypes are the caller's to check.
    """
    b = layer.b if b is None else b
    if W is not None:
        return make_layer(W, b, layer.keep() | (W != 0), crossover)
    if layer.kind == "csr":
        return CSRLayer(layer.data, layer.indices, layer.indptr, layer.shape_t, b)
    return DenseLayer(layer.W, b, layer.mask)


def kernel_arrays(layers):
    """Per-layer arrays for the compiled paths (``mlp_fast``), or None.

    None when a layer is dense or has indices other than int32.
    """
    out = []
    for layer in layers:
        arrays = layer.kernel_arrays() if layer.kind == "csr" else None
        if arrays is None:
            return None
        out.append(arrays)
    return out


def built_widths(layers, hidden_layer_sizes, recorded=None):
    """The widths (n_features, *hidden, n_outputs) a network of ``layers`` was built with.

    Structured pruning removes hidden neurons; the architecture before it is
    ``recorded`` (kept by ``prune``) or else ``hidden_layer_sizes`` between the
    current ends, the first that could have shrunk to the current widths (as
    many layers, no width smaller now, the same ends); the current widths when
    neither fits. The reference of ``sparsity_`` and of the verbose line.
    """
    now = (int(layers[0].shape[0]),) + tuple(int(layer.shape[1]) for layer in layers)
    hidden = hidden_layer_sizes
    hidden = (hidden,) if np.ndim(hidden) == 0 else tuple(hidden)
    for sizes in (recorded, (now[0], *hidden, now[-1])):
        if sizes is not None and len(sizes) == len(now) \
                and all(int(a) >= b for a, b in zip(sizes, now)) \
                and (sizes[0], sizes[-1]) == (now[0], now[-1]):
            return tuple(int(s) for s in sizes)
    return now


def n_weights(widths):
    """Number of weights (biases excluded) of a fully connected network of these widths."""
    return sum(int(a) * int(b) for a, b in zip(widths[:-1], widths[1:]))
