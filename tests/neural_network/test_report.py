import json

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
