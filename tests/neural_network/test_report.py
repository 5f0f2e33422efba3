import json
import pickle
import re

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastprox.neural_network import MLPClassifier
from fastprox.report import SparsityReport, layer_accounting

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def model_and_data():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    m = MLPClassifier((32, 16), max_iter=5, target_sparsity=0.8, finetune_epochs=1,
                      random_state=0).fit(X, y)
    return m, X, y


def test_accounting_rules():
    a = layer_accounting(64, 32, nnz=100, itemsize=8, index_size=4)
    assert a["dense_bytes"] == 64 * 32 * 8 + 32 * 8
    assert a["csr_bytes"] == 100 * (8 + 4) + 33 * 4 + 32 * 8
    assert a["dense_flops"] == 2 * 64 * 32 + 32
    assert a["sparse_flops"] == 2 * 100 + 32


def test_report_numbers(model_and_data):
    m, X, y = model_and_data
    r = m.sparsity_report(X[:100], y[:100], repeats=2)
    assert isinstance(r, SparsityReport)
    assert len(r.layers) == 3
    for L, layer in zip(r.layers, m.layers_):
        n_in, n_out = L["shape"]
        assert (n_in, n_out) == layer.shape
        nnz = L["nnz"]
        assert nnz == int(np.count_nonzero(layer.values)) or layer.kind == "csr"
        isz, idx = L["itemsize"], L["index_size"]
        assert isz == 8 and idx == 4
        assert L["dense_bytes"] == n_in * n_out * isz + n_out * isz
        assert L["csr_bytes"] == nnz * (isz + idx) + (n_out + 1) * idx + n_out * isz
        assert L["dense_flops"] == 2 * n_in * n_out + n_out
        assert L["sparse_flops"] == 2 * nnz + n_out
        assert L["density"] == pytest.approx(nnz / (n_in * n_out))
        for k in ("latency_dense_b1", "latency_csr_b1", "latency_dense_b256", "latency_csr_b256"):
            assert L[k] > 0
    T = r.total
    assert T["nnz"] == sum(L["nnz"] for L in r.layers)
    assert T["dense_bytes"] == sum(L["dense_bytes"] for L in r.layers)
    assert T["memory_ratio"] == pytest.approx(T["dense_bytes"] / T["stored_bytes"])
    assert 1 - T["density"] == pytest.approx(0.8, abs=1e-3)
    assert r.score == pytest.approx(m.score(X[:100], y[:100]))
    json.dumps(r.to_dict())
    text = str(r)
    assert "total" in text and "sparsity" in text
    md = r.to_markdown()
    assert md.startswith("| layer") and md.count("\n|") >= 5


# ----------------------------------------------- a report that adds up (issue 15, item 6)
from fastprox.pruning import prune  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402


def _table(text):
    """The printed table: header cells, layer rows and the total row (lists of cells)."""
    lines = text.splitlines()
    head = lines[0].split("  ")
    head = [h.strip() for h in head if h.strip()]
    rows = []
    for line in lines[2:]:
        if not line.strip() or ":" in line:
            break
        cells = line.split()
        if cells[0] == "total":  # no storage cell in the total row
            cells.insert(2, "")
        rows.append(dict(zip(head, cells)))
    return rows[:-1], rows[-1]


def _quotient_ok(a, b, printed):
    """A ratio printed with 2 decimals is the quotient of the printed a, b (rounding only)."""
    return abs(float(a) / float(b) - float(printed)) <= 0.005 + 1e-9


@pytest.fixture(scope="module")
def pruned_models(model_and_data):
    m, X, y = model_and_data
    dense = MLPClassifier((32, 16), max_iter=10, random_state=0).fit(X, y)
    return {"fit 0.8": m, "dense": dense,
            "global 0.9": prune(dense, sparsity=0.9),
            "layer 0.6": prune(dense, sparsity=0.6, scope="layer"),
            "structured": prune(dense, keep_ratio=0.5, structured=True)}


@pytest.mark.parametrize("name", ["fit 0.8", "dense", "global 0.9", "layer 0.6", "structured"])
def test_printed_totals_are_sums_and_ratios_quotients(pruned_models, model_and_data, name):
    m = pruned_models[name]
    X, y = model_and_data[1:]
    r = m.sparsity_report(X[:50], y[:50], repeats=1)
    # the numbers: totals are the sums of the rows
    for k in ("nnz", "dense_bytes", "csr_bytes", "stored_bytes", "dense_flops",
              "sparse_flops", "stored_flops"):
        assert r.total[k] == sum(L[k] for L in r.layers), k
    for L in r.layers:
        stored = "csr" if L["storage"] == "csr" else "dense"
        assert L["stored_bytes"] == L[f"{stored}_bytes"]
        assert L["stored_flops"] == L["sparse_flops" if stored == "csr" else "dense_flops"]
    # the printed text: totals are the sums of the printed rows, ratios their quotients
    text = str(r)
    rows, total = _table(text)
    assert len(rows) == len(m.layers_)
    for col in ("nnz", "FLOPs dense", "FLOPs CSR", "FLOPs stored"):
        assert int(total[col]) == sum(int(row[col]) for row in rows), col
    for col in ("dense KiB", "CSR KiB", "stored KiB", "b1 dense us", "b1 CSR us",
                "b256 dense us", "b256 CSR us"):  # one decimal each: rounding only
        assert abs(float(total[col]) - sum(float(row[col]) for row in rows)) \
            <= 0.05 * (len(rows) + 1) + 1e-9, col
    for row in rows + [total]:
        assert _quotient_ok(row["b256 dense us"], row["b256 CSR us"], row["b256 speedup"][:-1])
    num = r"([0-9.]+)"
    mem = re.search(rf"memory: {num} KiB dense \S+ -> {num} KiB as stored \({num}x smaller\); "
                    rf"{num} KiB if all CSR \({num}x smaller\)", text)
    d, s, rs, c, rc = mem.groups()
    assert _quotient_ok(d, s, rs) and _quotient_ok(d, c, rc)
    assert s == total["stored KiB"] and c == total["CSR KiB"]
    flops = re.search(rf"FLOPs/sample: (\d+) dense \S+ -> (\d+) as stored \({num}x fewer\); "
                      rf"(\d+) if all CSR \({num}x fewer\)", text)
    d, s, rs, c, rc = flops.groups()
    assert _quotient_ok(d, s, rs) and _quotient_ok(d, c, rc)
    assert s == total["FLOPs stored"] and c == total["FLOPs CSR"]
    if name != "structured":
        assert d == total["FLOPs dense"]
    for b in ("1", "256"):
        fwd = re.search(rf"batch {b} {num} us dense -> {num} us as stored \({num}x faster\)", text)
        assert _quotient_ok(*fwd.groups())
    kept = re.search(r"weights kept: (\d+) of (\d+) in \S+ \(sparsity ([0-9.]+)%\)", text)
    assert abs(100 * (1 - int(kept[1]) / int(kept[2])) - float(kept[3])) <= 0.05 + 1e-9
    md = r.to_markdown()
    assert md.count("x fewer") == 2 and md.count("\n| total |") == 1


def test_global_scope_flop_ratio_as_stored_and_all_csr(pruned_models):
    """The issue's report: a mixed dense/CSR network had its FLOP ratio from another figure."""
    dense = pruned_models["dense"]
    for s in (0.5, 0.75, 0.9):
        r = prune(dense, sparsity=s).sparsity_report(repeats=1)
        T = r.total
        assert T["flop_ratio"] == pytest.approx(T["dense_flops"] / T["stored_flops"])
        assert T["csr_flop_ratio"] == pytest.approx(T["dense_flops"] / T["sparse_flops"])
        assert T["memory_ratio"] == pytest.approx(T["dense_bytes"] / T["stored_bytes"])
        assert "as stored" in str(r) and "if all CSR" in str(r)


def test_structured_shows_both_architectures(pruned_models, model_and_data):
    X, y = model_and_data[1:]
    dense, small = pruned_models["dense"], pruned_models["structured"]
    assert [layer.shape[1] for layer in small.layers_] == [16, 8, 10]
    assert small.built_layer_sizes_ == (64, 32, 16, 10)
    r = small.sparsity_report(repeats=1)
    T = r.total
    assert T["layer_sizes"] == [64, 16, 8, 10] and T["built_layer_sizes"] == [64, 32, 16, 10]
    assert T["built_n_weights"] == 64 * 32 + 32 * 16 + 16 * 10
    assert T["sparsity"] == pytest.approx(1 - T["nnz"] / T["built_n_weights"])
    assert T["built_dense_bytes"] == dense.sparsity_report(repeats=1).total["dense_bytes"]
    assert T["memory_ratio"] > 1.5 and T["flop_ratio"] > 1.5
    text = str(r)
    assert "64-32-16-10 as built -> 64-16-8-10" in text
    assert "dense 64-32-16-10 ->" in text
    # the widths survive pickling, fine-tuning and a second structured prune
    again = pickle.loads(pickle.dumps(small))
    assert again.built_layer_sizes_ == (64, 32, 16, 10)
    again.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert again.built_layer_sizes_ == (64, 32, 16, 10)
    smaller = prune(again, keep_ratio=0.5, structured=True)
    assert smaller.built_layer_sizes_ == (64, 32, 16, 10)
    # structured pruning inside fit: the architecture it was built with
    fit = MLPClassifier((32, 16), max_iter=3, structured=True, target_sparsity=0.5,
                        finetune_epochs=1, random_state=0).fit(X, y)
    assert fit.built_layer_sizes_ == (64, 32, 16, 10)
    assert "64-32-16-10 as built -> 64-16-8-10" in str(fit.sparsity_report(repeats=1))


def test_memory_measured(pruned_models):
    m = pruned_models["global 0.9"]
    T = m.sparsity_report(repeats=1).total
    assert T["pickled_bytes"] == len(pickle.dumps(m))
    ram = T["ram_detail"]
    held = {}  # buffer address -> bytes: an array shared by two views is held once
    for layer in m.layers_:
        if layer.kind == "csr":
            arrays = (layer.data, layer.indices, layer.indptr, layer.b, layer._A.data,
                      layer._A.indices, layer._A.indptr)
        else:
            arrays = (layer.W, layer.b) + (() if layer.mask is None else (layer.mask,))
        held.update((a.__array_interface__["data"][0], a.nbytes) for a in arrays)
    assert ram["weights"] == sum(held.values())
    transposed = sum(layer._AT.data.nbytes + layer._AT.indices.nbytes + layer._AT.indptr.nbytes
                     for layer in m.layers_ if layer.kind == "csr")
    assert ram["transposed"] == transposed > 0
    assert ram["permutation"] == sum(layer._perm.nbytes for layer in m.layers_
                                     if layer.kind == "csr") > 0
    assert ram["optimizer"] == 0  # prune's copy has no optimizer state
    assert T["ram_bytes"] == sum(v for k, v in ram.items() if k != "total")
    fitted = pruned_models["dense"]  # Adam: two moments per weight and bias
    ram = fitted.sparsity_report(repeats=1).total["ram_detail"]
    assert ram["optimizer"] == 2 * ram["weights"]


@pytest.mark.parametrize("kw", [{"n_threads": 0}, {"repeats": 0}, {"repeats": -1},
                                {"n_threads": 1.5}])
def test_report_argument_errors(model_and_data, kw):
    m = model_and_data[0]
    name = next(iter(kw))
    with pytest.raises(InvalidParameterError, match=name):
        m.sparsity_report(**kw)
