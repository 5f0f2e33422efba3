"""Memory and FLOP accounting and measured latency of a pruned network.

Accounting rules, per layer of shape (in, out) with ``nnz``
stored weights, value size ``itemsize`` and index size ``index_size``:

- dense: ``2 * in * out`` FLOPs per sample, ``in * out * itemsize`` bytes;
- CSR: ``2 * nnz`` FLOPs per sample, ``nnz * (itemsize + index_size) +
  (out + 1) * index_size`` bytes;
- biases counted in both: ``out`` FLOPs (the add) and ``out * itemsize`` bytes.

For a layer stored dense, ``nnz`` counts its nonzero weights and the CSR
column says what it would cost as CSR with int32 indices. Latencies are
measured (best of several timed rounds of the same forward pass, not
derived from FLOPs): each layer alone as dense and as CSR, and the whole
network all-dense vs as stored.
"""
import json
import time

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from .._threads import blas_limited, get_num_threads
from ._base import activate
from ._layers import CSRLayer, DenseLayer
from ._training import forward

__all__ = ["SparsityReport", "sparsity_report", "layer_accounting"]


def layer_accounting(n_in, n_out, nnz, itemsize, index_size=4):
    """Bytes and FLOPs per sample of one layer, dense and CSR (biases included in both)."""
    bias_bytes = n_out * itemsize
    return {
        "dense_bytes": n_in * n_out * itemsize + bias_bytes,
        "csr_bytes": nnz * (itemsize + index_size) + (n_out + 1) * index_size + bias_bytes,
        "dense_flops": 2 * n_in * n_out + n_out,
        "sparse_flops": 2 * nnz + n_out,
    }


def _time(fn, repeats):
    """Best per-call seconds over 5 rounds of ``repeats`` calls (auto: ~10 ms per round)."""
    fn()
    if repeats is None:
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-7)
        repeats = int(min(max(0.01 / one, 1), 10000))
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeats)
    return best


class SparsityReport:
    """Per-layer and total accounting of a fitted network (see :func:`sparsity_report`).

    Attributes
    ----------
    layers : list of dict
        One per layer: ``shape`` (in, out), ``storage``, ``nnz``, ``density``,
        ``dense_bytes``, ``csr_bytes``, ``dense_flops``, ``sparse_flops``,
        ``latency_dense_b1``, ``latency_csr_b1``, ``latency_dense_b256``,
        ``latency_csr_b256`` (seconds).
    total : dict
        Sums, ``stored_bytes`` (as the model is stored), ratios, and the
        whole-network latencies ``latency_dense_*`` (all layers dense) vs
        ``latency_stored_*`` (as stored).
    score : float or None
        The model's score on the data passed to ``sparsity_report``.
    """

    def __init__(self, layers, total, score=None, meta=None):
        self.layers = layers
        self.total = total
        self.score = score
        self.meta = meta or {}

    def to_dict(self):
        """Plain JSON-serialisable dict."""
        return {"layers": self.layers, "total": self.total, "score": self.score,
                "meta": self.meta}

    def to_json(self, **kw):
        return json.dumps(self.to_dict(), **kw)

    def _rows(self):
        head = ["layer", "shape", "storage", "nnz", "density", "dense KiB", "CSR KiB",
                "FLOPs dense", "FLOPs sparse", "b1 dense us", "b1 CSR us", "b256 dense us",
                "b256 CSR us", "b256 speedup"]
        rows = []
        for i, L in enumerate(self.layers):
            rows.append([str(i), f"{L['shape'][0]}x{L['shape'][1]}", L["storage"],
                         str(L["nnz"]), f"{L['density']:.3f}",
                         f"{L['dense_bytes'] / 1024:.1f}", f"{L['csr_bytes'] / 1024:.1f}",
                         str(L["dense_flops"]), str(L["sparse_flops"]),
                         f"{L['latency_dense_b1'] * 1e6:.1f}", f"{L['latency_csr_b1'] * 1e6:.1f}",
                         f"{L['latency_dense_b256'] * 1e6:.1f}",
                         f"{L['latency_csr_b256'] * 1e6:.1f}",
                         f"{L['latency_dense_b256'] / L['latency_csr_b256']:.2f}x"])
        T = self.total
        rows.append(["total", "", "stored", str(T["nnz"]), f"{T['density']:.3f}",
                     f"{T['dense_bytes'] / 1024:.1f}", f"{T['csr_bytes'] / 1024:.1f}",
                     str(T["dense_flops"]), str(T["sparse_flops"]),
                     f"{T['latency_dense_b1'] * 1e6:.1f}", f"{T['latency_stored_b1'] * 1e6:.1f}",
                     f"{T['latency_dense_b256'] * 1e6:.1f}",
                     f"{T['latency_stored_b256'] * 1e6:.1f}",
                     f"{T['latency_dense_b256'] / T['latency_stored_b256']:.2f}x"])
        return head, rows

    def _summary(self):
        T = self.total
        s = (f"weights kept: {T['nnz']} of {T['n_weights']} (sparsity {1 - T['density']:.1%}); "
             f"memory {T['dense_bytes'] / 1024:.1f} KiB dense -> {T['stored_bytes'] / 1024:.1f} "
             f"KiB stored ({T['memory_ratio']:.1f}x smaller); FLOPs/sample "
             f"{T['dense_flops']} -> {T['sparse_flops']} ({T['flop_ratio']:.1f}x fewer); "
             f"forward at batch 256 {T['latency_dense_b256'] / T['latency_stored_b256']:.2f}x "
             f"faster (measured)")
        if self.score is not None:
            s += f"; score {self.score:.4f}"
        return s

    def __str__(self):
        head, rows = self._rows()
        widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(head)]
        line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
        out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
        return "\n".join(out + [self._summary()])

    __repr__ = __str__

    def to_markdown(self):
        head, rows = self._rows()
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out + ["", self._summary()])


def sparsity_report(model, X=None, y=None, *, repeats=None, n_threads=1, seed=0):
    """Build the :class:`SparsityReport` of a fitted MLP (see ``model.sparsity_report``).

    Latencies are timed with BLAS and OpenMP both limited to ``n_threads``
    (default 1: the same budget for both paths; with more, libgomp's spinning
    team and OpenBLAS's threads compete for the cores and small products get
    slower, not faster). ``None`` keeps the current limits.
    """
    check_is_fitted(model, "layers_")
    if X is not None:  # scikit-learn's input errors (feature count, NaN, ...)
        X = validate_data(model, X, reset=False, dtype=[np.float64, np.float32])
    with blas_limited(n_threads, openmp=True):
        return _sparsity_report(model, X, y, repeats, n_threads, seed)


def _sparsity_report(model, X, y, repeats, n_threads, seed):
    layers = model.layers_
    activation = model.activation
    out = model.out_activation_
    dtype = layers[0].b.dtype
    itemsize = np.dtype(dtype).itemsize
    n_in0 = layers[0].shape[0]
    if X is not None:
        X = np.asarray(X, dtype=dtype)
        reps = -(-256 // X.shape[0])
        X256 = np.tile(X, (reps, 1))[:256]
    else:
        X256 = np.random.default_rng(seed).standard_normal((256, n_in0)).astype(dtype)
    H256 = np.ascontiguousarray(X256.T)
    dense_layers = [DenseLayer(layer.dense(), layer.b) for layer in layers]
    csr_layers = [layer if layer.kind == "csr" else CSRLayer.from_matrix(layer.dense(), layer.b)
                  for layer in layers]

    rows = []
    H = H256
    for i, layer in enumerate(layers):
        n_in, n_out = layer.shape
        nnz = layer.nnz
        index_size = layer.indices.dtype.itemsize if layer.kind == "csr" else 4
        acc = layer_accounting(n_in, n_out, nnz, itemsize, index_size)
        H1 = np.ascontiguousarray(H[:, :1])
        d, c = dense_layers[i], csr_layers[i]
        row = {"shape": [int(n_in), int(n_out)], "storage": layer.kind, "nnz": int(nnz),
               "density": nnz / (n_in * n_out), "itemsize": itemsize, "index_size": index_size,
               **acc,
               "latency_dense_b1": _time(lambda: d.forward(H1), repeats),
               "latency_csr_b1": _time(lambda: c.forward(H1), repeats),
               "latency_dense_b256": _time(lambda: d.forward(H), repeats),
               "latency_csr_b256": _time(lambda: c.forward(H), repeats)}
        rows.append(row)
        H = d.forward(H)
        if i < len(layers) - 1:
            activate(H, activation)

    keys = ("dense_bytes", "csr_bytes", "dense_flops", "sparse_flops", "nnz")
    total = {k: int(sum(r[k] for r in rows)) for k in keys}
    total["n_weights"] = int(sum(r["shape"][0] * r["shape"][1] for r in rows))
    total["density"] = total["nnz"] / total["n_weights"]
    total["stored_bytes"] = int(sum(r["csr_bytes"] if r["storage"] == "csr" else r["dense_bytes"]
                                    for r in rows))
    total["stored_flops"] = int(sum(r["sparse_flops"] if r["storage"] == "csr"
                                    else r["dense_flops"] for r in rows))
    total["memory_ratio"] = total["dense_bytes"] / total["stored_bytes"]
    total["flop_ratio"] = total["dense_flops"] / total["stored_flops"]
    H1 = np.ascontiguousarray(H256[:, :1])
    for name, H_, net in (("dense_b1", H1, dense_layers), ("stored_b1", H1, layers),
                          ("dense_b256", H256, dense_layers), ("stored_b256", H256, layers)):
        total["latency_" + name] = _time(lambda: forward(net, H_, activation, out), repeats)
    score = float(model.score(X, y)) if X is not None and y is not None else None
    meta = {"dtype": np.dtype(dtype).name, "threads": get_num_threads(),
            "timing_threads": n_threads,
            "model": type(model).__name__}
    return SparsityReport(rows, total, score, meta)
