"""Sparse input ``X`` (scipy.sparse CSR or CSC) for the MLPs, never densified.

scikit-learn's MLPs accept ``X`` as a CSR or CSC matrix (``accept_sparse=
["csr", "csc"]``) and so do ours: ``fit``, ``partial_fit``, ``predict*``,
``score``, the sparsity report and the post-hoc tools. Only the first layer
sees ``X``; its output is dense, so the rest of the network runs as usual.

The training loop keeps activations transposed, (n_in, batch); a sparse
batch travels the same way, as ``H = X_b.T`` (the CSC view of the CSR rows
``X_b``, no copy). With ``W`` the first layer's (n_in, n_out) weights,
``A = W.T`` its CSR (n_out, n_in) if pruned, and ``delta`` (n_out, batch)
the error at its output:

- forward, dense layer: ``Z = (X_b @ W).T + b`` with :func:`fastprox.sparse.spmm`
  (``X_b`` is the CSR operand, ``W`` the dense one);
- forward, CSR layer: ``Z = A @ H + b``, a sparse-sparse product (scipy),
  stored dense (the output is dense anyway);
- weight gradient ``G = H @ delta.T`` (n_in, n_out), a sparse-dense product
  (scipy, ``2 nnz(X_b) n_out`` FLOPs), kept whole for a dense layer and
  sampled at the pattern for a CSR layer;
- the input gradient is never needed (nothing trains below ``X``).

With sparse ``X`` the compiled all-CSR epoch and forward pass (which read a
dense ``X``) give way to the per-layer loop. See docs/design/mlp-sparse-input.md.
"""
import numpy as np
import scipy.sparse as sp

from .. import sparse as _sparse

__all__ = ["ACCEPT_SPARSE", "as_input", "column", "forward", "backward", "repeat_rows",
           "transposed"]

#: What ``validate_data`` accepts (scikit-learn's MLPs: the same).
ACCEPT_SPARSE = ["csr", "csc"]


def as_input(X, dtype):
    """``X`` in ``dtype``: a C-contiguous array, or canonical CSR (sorted, no duplicates).

    The user's matrix is not modified: a copy is made only where a cast, a
    format change or canonicalisation is needed.
    """
    if not sp.issparse(X):
        return np.ascontiguousarray(X, dtype=dtype)
    X = X.tocsr().astype(dtype, copy=False)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def transposed(X):
    """The transposed input (n_features, n): a C-contiguous copy, or a CSC view of CSR ``X``."""
    return X.T if sp.issparse(X) else np.ascontiguousarray(X.T)


def column(H, j=0):
    """Column ``j`` of a transposed input, as an (n_features, 1) operand."""
    return H[:, j:j + 1] if sp.issparse(H) else np.ascontiguousarray(H[:, j:j + 1])


def repeat_rows(X, n):
    """The first ``n`` rows of ``X`` repeated as often as needed (dense or sparse)."""
    reps = -(-n // X.shape[0])
    if sp.issparse(X):
        return sp.vstack([X] * reps, format="csr")[:n]
    return np.tile(X, (reps, 1))[:n]


def forward(layer, H, out=None, relu=False):
    """``W.T @ H + b`` (then ReLU if ``relu``) for a sparse ``H`` (n_in, batch), dense result."""
    n_in, n_out = layer.shape
    if H.shape[0] != n_in:
        raise ValueError(f"expected an operand with {n_in} rows, got shape {H.shape}")
    dtype = layer.b.dtype
    if layer.kind == "dense":
        Z = _sparse.spmm(H.T.tocsr(), layer.W).T  # (X_b @ W).T
    else:
        Z = (layer.csr() @ H).toarray()
    if out is None:
        out = np.empty((n_out, H.shape[1]), dtype=dtype)
    np.add(Z, layer.b[:, None], out=out, casting="unsafe")
    if relu:
        np.maximum(out, 0, out=out)
    return out


def backward(layer, delta, H, need_input_grad, gW=None, gb=None):
    """Weight and bias gradients of a layer whose input ``H`` (n_in, batch) is sparse.

    The gradient has the layer's value layout: (n_in, n_out) for a dense
    layer (zero where a mask freezes a weight), one entry per stored nonzero
    for a CSR layer.
    """
    if need_input_grad:
        raise RuntimeError("internal error: no layer below a sparse input")
    dtype = layer.b.dtype
    G = np.asarray(H @ delta.T)  # (n_in, n_out), sparse-dense
    if layer.kind == "dense":
        if gW is None:
            gW = np.empty(layer.W.shape, dtype=dtype)
        np.copyto(gW, G, casting="unsafe")
        if layer.mask is not None:
            gW *= layer.mask
    else:
        rows = np.repeat(np.arange(layer.shape_t[0]), np.diff(layer.indptr))
        vals = G[layer.indices, rows]
        if gW is None:
            gW = np.ascontiguousarray(vals, dtype=dtype)
        else:
            gW[...] = vals
    gb = np.add.reduce(delta, axis=1, out=gb)
    return gW, gb, None
