"""Memory and FLOP accounting, measured memory and latency of a pruned network.

Accounting rules, per layer of shape (in, out) with ``nnz``
stored weights, value size ``itemsize`` and index size ``index_size``:

- dense: ``2 * in * out`` FLOPs per sample, ``in * out * itemsize`` bytes;
- CSR: ``2 * nnz`` FLOPs per sample, ``nnz * (itemsize + index_size) +
  (out + 1) * index_size`` bytes;
- biases counted in both: ``out`` FLOPs (the add) and ``out * itemsize`` bytes.

Each layer has three figures of each kind: *dense*, *CSR* (what it would
cost as CSR with its index size, int32 for a dense layer) and *stored* (the
one of the two the layer is stored as); the totals are the sums of the rows.
The network's reference is the dense network **as built**: the widths before
structured pruning removed neurons (``built_layer_sizes_``), so that a
784-64-64-10 network shrunk to 784-32-32-10 is compared with what it was.

Two memory figures are measured, not derived: the pickle (``len(pickle.dumps
(model))``, what is stored on disk) and the arrays the model holds in RAM
while predicting (weights, biases, masks; for CSR layers also the transposed
copy and the permutation used by the backward pass; the optimizer state kept
for warm starts), each array counted once. Latencies are measured (best of
five timed rounds of the same forward pass): each layer alone as dense and as
CSR, and the whole network (activations included) all-dense vs as stored.
Every ratio printed is the quotient of the two figures printed beside it.
"""
import json
import pickle
import time
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_sparse_structure
from .._threads import blas_limited, get_num_threads
from ._base import activate
from ._layers import CSRLayer, DenseLayer
from ._sparse_input import ACCEPT_SPARSE, as_input, column, repeat_rows, transposed
from ._training import forward

__all__ = ["SparsityReport", "sparsity_report", "layer_accounting", "held_arrays"]

KIB = 1024


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


def _arrays_of(obj):
    """The ndarrays an attribute value holds (a CSR matrix: its data, indices, indptr)."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if sp.issparse(obj) or all(hasattr(obj, k) for k in ("data", "indices", "indptr")):
        return [obj.data, obj.indices, obj.indptr]  # scipy's CSR or the kernels' view
    if isinstance(obj, (list, tuple)):
        return [a for o in obj for a in _arrays_of(o)]
    return []


def held_arrays(model):
    """Bytes of the arrays ``model`` holds in RAM, by role, each buffer counted once.

    Returns a dict: ``weights`` (values, indices, index pointers, biases,
    masks), ``transposed`` (a CSR layer's transposed copy for the backward
    pass), ``permutation`` (its map from the layer's values to the copy's),
    ``optimizer`` (moments kept for warm starts and ``partial_fit``) and
    ``total``.
    """
    seen, out = set(), {"weights": 0, "transposed": 0, "permutation": 0, "optimizer": 0}

    def add(role, arrays):
        for a in arrays:
            key = (a.__array_interface__["data"][0], a.nbytes)
            if a.nbytes and key not in seen:
                seen.add(key)
                out[role] += int(a.nbytes)

    for layer in model.layers_:
        for name, value in vars(layer).items():
            role = {"_AT": "transposed", "_perm": "permutation"}.get(name, "weights")
            if name != "_net":  # the compiled network's cache references the same arrays
                add(role, _arrays_of(value))
    opt = getattr(model, "_optimizer", None)
    if opt is not None:
        add("optimizer", _arrays_of(getattr(opt, "state", [])))
    out["total"] = sum(out.values())
    return out


def _kib(n):
    return f"{n / KIB:.1f}"


def _us(seconds):
    return f"{seconds * 1e6:.1f}"


def _ratio(a, b):
    """``a / b`` of two printed figures (strings), printed: a ratio a reader can recompute."""
    a, b = float(a), float(b)
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def _widths(sizes):
    return "-".join(str(int(s)) for s in sizes)


class SparsityReport:
    """Per-layer and total accounting of a fitted network (see :func:`sparsity_report`).

    ``str(report)`` is a table (one row per layer, then ``total``: the sum of
    the rows) and a summary; ``to_markdown()`` the same in Markdown. Each
    ratio printed is the quotient of the two figures printed beside it.

    Attributes
    ----------
    layers : list of dict
        One per layer: ``shape`` (in, out), ``storage``, ``nnz``, ``density``,
        ``dense_bytes``, ``csr_bytes``, ``stored_bytes``, ``dense_flops``,
        ``sparse_flops``, ``stored_flops``, ``latency_dense_b1``,
        ``latency_csr_b1``, ``latency_dense_b256``, ``latency_csr_b256``
        (seconds, the layer alone).
    total : dict
        Sums of the rows (``nnz``, ``*_bytes``, ``*_flops``); ``n_weights``
        and ``density`` of the network as it is; ``layer_sizes`` and
        ``built_layer_sizes`` (the widths before structured pruning),
        ``built_n_weights``, ``built_dense_bytes``, ``built_dense_flops`` and
        ``sparsity`` (against the network as built); ``memory_ratio`` and
        ``flop_ratio`` (dense as built / as stored), ``csr_memory_ratio`` and
        ``csr_flop_ratio`` (dense as built / all layers CSR);
        ``pickled_bytes`` and ``ram_bytes`` (measured, with ``ram_detail`` by
        role, see :func:`held_arrays`); whole-network forward latencies
        ``latency_dense_*`` (all layers dense) and ``latency_stored_*``.
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

    _HEAD = ["layer", "shape", "storage", "nnz", "density", "dense KiB", "CSR KiB",
             "stored KiB", "FLOPs dense", "FLOPs CSR", "FLOPs stored", "b1 dense us",
             "b1 CSR us", "b256 dense us", "b256 CSR us", "b256 speedup"]

    def _rows(self):
        rows = []
        for i, L in enumerate(self.layers):
            cells = [str(i), f"{L['shape'][0]}x{L['shape'][1]}", L["storage"], str(L["nnz"]),
                     f"{L['density']:.3f}", _kib(L["dense_bytes"]), _kib(L["csr_bytes"]),
                     _kib(L["stored_bytes"]), str(L["dense_flops"]), str(L["sparse_flops"]),
                     str(L["stored_flops"]), _us(L["latency_dense_b1"]),
                     _us(L["latency_csr_b1"]), _us(L["latency_dense_b256"]),
                     _us(L["latency_csr_b256"])]
            rows.append(cells + [_ratio(cells[13], cells[14])])
        T = self.total
        lat = {k: sum(L[k] for L in self.layers)
               for k in ("latency_dense_b1", "latency_csr_b1", "latency_dense_b256",
                         "latency_csr_b256")}
        cells = ["total", _widths(T["layer_sizes"]), "", str(T["nnz"]), f"{T['density']:.3f}",
                 _kib(T["dense_bytes"]), _kib(T["csr_bytes"]), _kib(T["stored_bytes"]),
                 str(T["dense_flops"]), str(T["sparse_flops"]), str(T["stored_flops"]),
                 _us(lat["latency_dense_b1"]), _us(lat["latency_csr_b1"]),
                 _us(lat["latency_dense_b256"]), _us(lat["latency_csr_b256"])]
        rows.append(cells + [_ratio(cells[13], cells[14])])
        return list(self._HEAD), rows

    def _summary(self):
        """The summary lines; each ratio is computed from the printed figures beside it."""
        T = self.total
        built, now = _widths(T["built_layer_sizes"]), _widths(T["layer_sizes"])
        lines = []
        if built != now:
            lines.append(f"architecture: {built} as built -> {now} (hidden neurons "
                         f"{sum(T['built_layer_sizes'][1:-1])} -> {sum(T['layer_sizes'][1:-1])})")
        else:
            lines.append(f"architecture: {now}")
        lines.append(f"weights kept: {T['nnz']} of {T['built_n_weights']} in {built} "
                     f"(sparsity {T['sparsity']:.1%})")
        d, s, c = _kib(T["built_dense_bytes"]), _kib(T["stored_bytes"]), _kib(T["csr_bytes"])
        lines.append(f"memory: {d} KiB dense {built} -> {s} KiB as stored "
                     f"({_ratio(d, s)} smaller); {c} KiB if all CSR ({_ratio(d, c)} smaller)")
        d, s, c = (str(T["built_dense_flops"]), str(T["stored_flops"]), str(T["sparse_flops"]))
        lines.append(f"FLOPs/sample: {d} dense {built} -> {s} as stored ({_ratio(d, s)} "
                     f"fewer); {c} if all CSR ({_ratio(d, c)} fewer)")
        ram = T["ram_detail"]
        lines.append(f"memory measured: {_kib(T['pickled_bytes'])} KiB pickled; "
                     f"{_kib(T['ram_bytes'])} KiB of arrays in RAM while predicting "
                     f"(weights {_kib(ram['weights'])}, transposed copies "
                     f"{_kib(ram['transposed'])}, permutations {_kib(ram['permutation'])}, "
                     f"optimizer state {_kib(ram['optimizer'])})")
        parts = []
        for b in ("1", "256"):
            d, s = _us(T[f"latency_dense_b{b}"]), _us(T[f"latency_stored_b{b}"])
            parts.append(f"batch {b} {d} us dense -> {s} us as stored ({_ratio(d, s)} faster)")
        lines.append(f"forward of the whole network {now} (measured): " + "; ".join(parts))
        if self.score is not None:
            lines.append(f"score: {self.score:.4f}")
        return lines

    def __str__(self):
        head, rows = self._rows()
        widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(head)]
        line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
        out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
        return "\n".join(out + self._summary())

    __repr__ = __str__

    def to_markdown(self):
        head, rows = self._rows()
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out + [""] + [f"- {s}" for s in self._summary()])


@validate_params(
    {"model": "no_validation", "X": ["array-like", "sparse matrix", None],
     "y": ["array-like", None],
     "repeats": [Interval(Integral, 1, None, closed="left"), None],
     "n_threads": [Interval(Integral, 1, None, closed="left"), None],
     "seed": ["random_state"]},
    prefer_skip_nested_validation=True)
def sparsity_report(model, X=None, y=None, *, repeats=None, n_threads=1, seed=0):
    """Build the :class:`SparsityReport` of a fitted MLP (see ``model.sparsity_report``).

    Parameters
    ----------
    model : fitted fastprox MLPClassifier or MLPRegressor
    X, y : array-like, optional
        Inputs the latencies are measured on (random inputs otherwise) and
        data for the score.
    repeats : int >= 1, optional
        Calls per timed round (default: about 10 ms per round).
    n_threads : int >= 1 or None, default 1
        BLAS and OpenMP threads while timing (default 1: the same budget for
        both paths; with more, libgomp's spinning team and OpenBLAS's threads
        compete for the cores and small products get slower, not faster).
        ``None`` keeps the current limits.
    seed : int, default 0
        Seed of the random inputs.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        ``repeats`` or ``n_threads`` below 1 (a ValueError).
    """
    check_is_fitted(model, "layers_")
    if X is not None:  # scikit-learn's input errors (feature count, NaN, ...)
        check_sparse_structure(X)  # before any conversion reads it
        X = validate_data(model, X, reset=False, dtype=[np.float64, np.float32],
                          accept_sparse=ACCEPT_SPARSE)
    with blas_limited(n_threads, openmp=True):
        return _sparsity_report(model, X, y, repeats, n_threads, seed)


def _layer_row(layer, itemsize, H, dense, csr, repeats):
    n_in, n_out = layer.shape
    nnz = layer.nnz
    index_size = layer.indices.dtype.itemsize if layer.kind == "csr" else 4
    acc = layer_accounting(n_in, n_out, nnz, itemsize, index_size)
    is_csr = layer.kind == "csr"
    H1 = column(H)
    return {"shape": [int(n_in), int(n_out)], "storage": layer.kind, "nnz": int(nnz),
            "density": nnz / (n_in * n_out), "itemsize": itemsize, "index_size": index_size,
            **acc, "stored_bytes": acc["csr_bytes" if is_csr else "dense_bytes"],
            "stored_flops": acc["sparse_flops" if is_csr else "dense_flops"],
            "latency_dense_b1": _time(lambda: dense.forward(H1), repeats),
            "latency_csr_b1": _time(lambda: csr.forward(H1), repeats),
            "latency_dense_b256": _time(lambda: dense.forward(H), repeats),
            "latency_csr_b256": _time(lambda: csr.forward(H), repeats)}


def _built_totals(total, built, itemsize):
    """The network as built (before structured pruning): weights, dense bytes and FLOPs."""
    pairs = list(zip(built[:-1], built[1:]))
    dense = [layer_accounting(a, b, 0, itemsize) for a, b in pairs]
    total["built_layer_sizes"] = [int(s) for s in built]
    total["built_n_weights"] = int(sum(a * b for a, b in pairs))
    total["built_dense_bytes"] = int(sum(d["dense_bytes"] for d in dense))
    total["built_dense_flops"] = int(sum(d["dense_flops"] for d in dense))
    total["sparsity"] = 1.0 - total["nnz"] / total["built_n_weights"]
    total["memory_ratio"] = total["built_dense_bytes"] / total["stored_bytes"]
    total["flop_ratio"] = total["built_dense_flops"] / total["stored_flops"]
    total["csr_memory_ratio"] = total["built_dense_bytes"] / total["csr_bytes"]
    total["csr_flop_ratio"] = total["built_dense_flops"] / total["sparse_flops"]


def _sparsity_report(model, X, y, repeats, n_threads, seed):
    layers = model.layers_
    activation = model.activation
    out = model.out_activation_
    dtype = layers[0].b.dtype
    itemsize = np.dtype(dtype).itemsize
    n_in0 = layers[0].shape[0]
    if X is not None:
        X256 = repeat_rows(as_input(X, dtype), 256)  # sparse X stays sparse
    else:
        X256 = np.random.default_rng(seed).standard_normal((256, n_in0)).astype(dtype)
    H256 = transposed(X256)
    dense_layers = [DenseLayer(layer.dense(), layer.b) for layer in layers]
    csr_layers = [layer if layer.kind == "csr" else CSRLayer.from_matrix(layer.dense(), layer.b)
                  for layer in layers]

    rows = []
    H = H256
    for i, layer in enumerate(layers):
        rows.append(_layer_row(layer, itemsize, H, dense_layers[i], csr_layers[i], repeats))
        H = dense_layers[i].forward(H)
        if i < len(layers) - 1:
            activate(H, activation)

    keys = ("dense_bytes", "csr_bytes", "stored_bytes", "dense_flops", "sparse_flops",
            "stored_flops", "nnz")
    total = {k: int(sum(r[k] for r in rows)) for k in keys}
    total["layer_sizes"] = [int(n_in0)] + [r["shape"][1] for r in rows]
    total["n_weights"] = int(sum(r["shape"][0] * r["shape"][1] for r in rows))
    total["density"] = total["nnz"] / total["n_weights"]
    _built_totals(total, model.built_layer_sizes_, itemsize)
    total["pickled_bytes"] = len(pickle.dumps(model))
    total["ram_detail"] = held_arrays(model)
    total["ram_bytes"] = total["ram_detail"]["total"]
    H1 = column(H256)
    for name, H_, net in (("dense_b1", H1, dense_layers), ("stored_b1", H1, layers),
                          ("dense_b256", H256, dense_layers), ("stored_b256", H256, layers)):
        total["latency_" + name] = _time(lambda: forward(net, H_, activation, out), repeats)
    score = float(model.score(X, y)) if X is not None and y is not None else None
    meta = {"dtype": np.dtype(dtype).name, "threads": get_num_threads(),
            "timing_threads": n_threads,
            "model": type(model).__name__}
    return SparsityReport(rows, total, score, meta)
