"""The compiled all-CSR MLP paths (``_mlp_fast``) against plain NumPy and the Python loop."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastprox._kernels import mlp_fast as _k
from fastprox.neural_network import CSRLayer, MLPClassifier, MLPRegressor
from fastprox.neural_network import _epochs

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TOL = {np.float64: 1e-10, np.float32: 2e-4}


def _act(Z, name):
    return {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
            "logistic": lambda z: 1 / (1 + np.exp(-z)), "identity": lambda z: z}[name](Z)


def _act_grad(H, name):
    return {"relu": lambda h: (h > 0).astype(h.dtype), "tanh": lambda h: 1 - h * h,
            "logistic": lambda h: h * (1 - h), "identity": np.ones_like}[name](H)


def _out(Z, name):
    if name == "softmax":
        E = np.exp(Z - Z.max(axis=0))
        return E / E.sum(axis=0)
    return _act(Z, name)


def _prox_update(w, g, s, t, adam, p, l1, l2):
    """Adam / momentum with the L1 prox, as documented in fastprox.prox (one array)."""
    if adam:
        u = g + l2 * w
        s[0][...] = p["b1"] * s[0] + (1 - p["b1"]) * u
        s[1][...] = p["b2"] * s[1] + (1 - p["b2"]) * u * u
        eps = p["eps"] / np.sqrt(1 - p["b2"] ** t) if p.get("sk_eps") else p["eps"]
        inv = 1 / (np.sqrt(s[1]) / np.sqrt(1 - p["b2"] ** t) + eps)
        z = w - p["lr"] / (1 - p["b1"] ** t) * s[0] * inv
        thr = p["lr"] * l1 * inv
    else:
        u = p["lr"] * (g + l2 * w)
        s[0][...] = p["mu"] * s[0] - u
        z = w + p["mu"] * s[0] - u
        thr = p["lr"] * l1
    w[...] = np.sign(z) * np.maximum(np.abs(z) - thr, 0)


def _reference_epoch(Ws, masks, bs, X, YT, order, bsz, act, out, adam, p, state, t):
    """One epoch with dense masked weights (n_out, n_in); returns (loss_sum, t)."""
    n, total = X.shape[0], 0.0
    eps = np.finfo(X.dtype).eps
    for start in range(0, n, bsz):
        idx = order[start:start + bsz]
        b = len(idx)
        acts = [X[idx].T]
        for i, (W, bias) in enumerate(zip(Ws, bs)):
            Z = W @ acts[-1] + bias[:, None]
            acts.append(_act(Z, act) if i < len(Ws) - 1 else _out(Z, out))
        P, Y = acts[-1], YT[:, idx]
        Pc = np.clip(P, eps, 1 - eps)
        if out == "identity":
            total += 0.5 * float(((P - Y) ** 2).sum())
        elif out == "softmax":
            total -= float((Y * np.log(Pc)).sum())
        else:
            total -= float((Y * np.log(Pc) + (1 - Y) * np.log(1 - Pc)).sum())
        D = (P - Y) * P.dtype.type(1.0 / b)
        t += 1
        for i in range(len(Ws) - 1, -1, -1):
            gW = (D @ acts[i].T)[masks[i]]
            gb = D.sum(axis=1)
            D_in = Ws[i].T @ D if i > 0 else None
            vals = Ws[i][masks[i]]
            _prox_update(vals, gW, state[i][0], t, adam, p, p["l1"], p["alpha"] / b)
            Ws[i][masks[i]] = vals
            _prox_update(bs[i], gb, state[i][1], t, adam, p, 0.0, 0.0)
            if i > 0:
                D = D_in * _act_grad(acts[i], act)
    return total, t


def _network(widths, density, dtype, rng, empty_row=True):
    Ws, masks, bs = [], [], []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        mask = rng.random((n_out, n_in)) < density
        mask[0, 0] = True
        if empty_row and n_out > 2:
            mask[1] = False  # a row without nonzeros
        Ws.append((rng.standard_normal((n_out, n_in)) * mask / np.sqrt(n_in)).astype(dtype))
        masks.append(mask)
        bs.append((0.1 * rng.standard_normal(n_out)).astype(dtype))
    return Ws, masks, bs


def _specs(layers, state, adam, dtype):
    empty = np.empty(0, dtype)
    out = []
    for layer, (sw, sb) in zip(layers, state):
        out.append(layer.kernel_arrays() + (
            np.empty(layer.nnz, dtype), np.empty(layer.b.shape, dtype), sw[0],
            sw[1] if adam else empty, sb[0], sb[1] if adam else empty))
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("act,out,adam,widths,n,bsz", [
    ("relu", "softmax", True, (7, 5, 3), 23, 4),          # odd shapes, partial last batch
    ("tanh", "logistic", False, (6, 9, 1), 10, 32),       # batch > n, binary output
    ("logistic", "identity", True, (5, 4, 2), 9, 9),
    ("identity", "softmax", False, (4, 3, 4, 3), 17, 5),
    ("relu", "softmax", True, (60, 200, 120, 4), 90, 40),  # big enough for 2 threads
])
@pytest.mark.parametrize("sk_eps", [False, True])  # scikit-learn's eps placement (the MLPs)
def test_train_epoch_matches_numpy_reference(dtype, n_threads, act, out, adam, widths, n, bsz,
                                             sk_eps):
    rng = np.random.default_rng(1)
    Ws, masks, bs = _network(widths, 0.4, dtype, rng)
    X = rng.standard_normal((n, widths[0])).astype(dtype)
    if out == "identity":
        YT = rng.standard_normal((widths[-1], n)).astype(dtype)
    elif out == "logistic":
        YT = (rng.random((1, n)) < 0.5).astype(dtype)
    else:
        YT = np.ascontiguousarray(np.eye(widths[-1], dtype=dtype)[:, rng.integers(0, widths[-1], n)])
    p = dict(lr=0.05, b1=0.9, b2=0.999, eps=1e-8, mu=0.9, l1=1e-3, alpha=1e-2, sk_eps=sk_eps)
    layers = [CSRLayer.from_matrix(W.T, b, m.T) for W, b, m in zip(Ws, bs, masks)]
    n_s = 2 if adam else 1
    st_k = [([np.zeros(L.nnz, dtype) for _ in range(n_s)], [np.zeros(L.b.shape, dtype)
                                                             for _ in range(n_s)])
            for L in layers]
    st_r = [([np.zeros(int(m.sum()), dtype) for _ in range(n_s)],
             [np.zeros(b.shape, dtype) for _ in range(n_s)]) for m, b in zip(masks, bs)]
    Wr, br = [W.copy() for W in Ws], [b.copy() for b in bs]
    b_max = min(bsz, n)
    t_k = t_r = 0
    for epoch in range(3):
        order = rng.permutation(n).astype(np.int64)
        acts = [np.empty(w * b_max, dtype) for w in widths]
        deltas = [np.empty(w * b_max, dtype) for w in widths[1:]]
        loss_k, t_k = _k.train_epoch_impl(
            X, YT, order, bsz, _specs(layers, st_k, adam, dtype), acts, deltas,
            np.empty(2 * b_max, dtype), _k.ACTIVATIONS[act], _k.OUTPUTS[out], adam, t_k,
            p["lr"], p["b1"], p["b2"], p["eps"], p["mu"], True, p["l1"], p["alpha"], n_threads,
            sklearn_eps=sk_eps)
        loss_r, t_r = _reference_epoch(Wr, masks, br, X, YT, order, bsz, act, out, adam, p,
                                       [(sw, sb) for sw, sb in st_r], t_r)
        assert t_k == t_r
        np.testing.assert_allclose(loss_k, loss_r, rtol=TOL[dtype] * 10)
        for L, W, b in zip(layers, Wr, br):
            np.testing.assert_allclose(L.dense().T, W, rtol=TOL[dtype] * 10,
                                       atol=TOL[dtype] * 10)
            np.testing.assert_allclose(L.b, b, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("act,out", [("relu", "softmax"), ("tanh", "logistic"),
                                     ("logistic", "identity"), ("identity", "softmax")])
@pytest.mark.parametrize("batch", [1, 3, 17, 300])
def test_csrnet_forward_matches_numpy(dtype, n_threads, act, out, batch):
    rng = np.random.default_rng(2)
    widths = (9, 130, 70, 1 if out == "logistic" else 4)
    Ws, masks, bs = _network(widths, 0.5, dtype, rng)
    layers = [CSRLayer.from_matrix(W.T, b, m.T) for W, b, m in zip(Ws, bs, masks)]
    net = _k.CSRNet([L.kernel_arrays()[:4] for L in layers], widths[0], _k.ACTIVATIONS[act],
                    _k.OUTPUTS[out])
    H = rng.standard_normal((widths[0], batch)).astype(dtype)
    ref = H
    for i, (W, b) in enumerate(zip(Ws, bs)):
        Z = W @ ref + b[:, None]
        ref = _act(Z, act) if i < len(Ws) - 1 else _out(Z, out)
    got = net.forward(H, n_threads)
    assert got.dtype == dtype and got.shape == (widths[-1], batch)
    np.testing.assert_allclose(got, ref, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)
    assert net.forward(np.empty((widths[0], 0), dtype)).shape == (widths[-1], 0)


def test_kernels_reject_bad_arrays():
    rng = np.random.default_rng(3)
    Ws, masks, bs = _network((4, 3, 2), 0.6, np.float64, rng)
    layers = [CSRLayer.from_matrix(W.T, b, m.T) for W, b, m in zip(Ws, bs, masks)]
    arrays = [L.kernel_arrays()[:4] for L in layers]
    with pytest.raises(ValueError):
        _k.CSRNet(arrays, 1, 3, 2)  # too narrow an input: indices out of range
    bad = list(arrays[0])
    bad[3] = bad[3][:1]
    with pytest.raises(ValueError):
        _k.CSRNet([tuple(bad), arrays[1]], 4, 3, 2)
    net = _k.CSRNet(arrays, 4, 3, 2)
    with pytest.raises(ValueError):
        net.forward(np.ones((3, 2)))
    with pytest.raises(ValueError):
        net.forward(np.ones((4, 2), dtype=np.float32))
    with pytest.raises(ValueError):
        net.forward(np.asfortranarray(np.ones((4, 2))))

    n = 6
    X, YT = rng.standard_normal((n, 4)), np.ascontiguousarray(np.eye(2)[:, rng.integers(0, 2, n)])
    state = [([np.zeros(L.nnz), np.zeros(L.nnz)], [np.zeros(2 if i else 3)] * 2)
             for i, L in enumerate(layers)]

    def call(order=np.arange(n), acts=None, deltas=None, specs=None, scratch=np.empty(8)):
        acts = acts if acts is not None else [np.empty(4 * 4), np.empty(3 * 4), np.empty(8)]
        deltas = deltas if deltas is not None else [np.empty(12), np.empty(8)]
        specs = specs if specs is not None else _specs(layers, state, True, np.float64)
        return _k.train_epoch_impl(X, YT, np.asarray(order, np.int64), 4, specs, acts, deltas,
                                   scratch, 3, 2, True, 0, 0.01, 0.9, 0.999, 1e-8, 0.9, True,
                                   0.0, 0.0, 1)

    call()
    with pytest.raises(ValueError, match="order"):
        call(order=[0, 1, 2, 3, 4, 6])
    with pytest.raises(ValueError, match="acts"):
        call(acts=[np.empty(4 * 4), np.empty(3 * 3), np.empty(8)])
    with pytest.raises(ValueError, match="scratch"):
        call(scratch=np.empty(3))
    specs = _specs(layers, state, True, np.float64)
    specs[1] = specs[1][:8] + (np.empty(1),) + specs[1][9:]
    with pytest.raises(ValueError, match="gW"):
        call(specs=specs)
    specs = _specs(layers, state, True, np.float64)
    perm = specs[0][7].copy()
    perm[0] = 10 ** 6
    specs[0] = specs[0][:7] + (perm,) + specs[0][8:]
    with pytest.raises(ValueError, match="permutation"):
        call(specs=specs)


@pytest.mark.parametrize("cls,solver,activation", [
    (MLPClassifier, "adam", "relu"), (MLPClassifier, "sgd", "tanh"),
    (MLPRegressor, "adam", "logistic")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_epoch_matches_python_loop(monkeypatch, cls, solver, activation, dtype):
    X, y = load_digits(return_X_y=True)
    X = (X[:400] / 16).astype(dtype)
    y = y[:400] if cls is MLPClassifier else y[:400].astype(float)
    kw = dict(hidden_layer_sizes=(16, 8), activation=activation, solver=solver, max_iter=3,
              target_sparsity=0.85, pruning_scope="layer", pruning_schedule="iterative",
              pruning_steps=2, finetune_epochs=3, l1=1e-4, batch_size=50,
              learning_rate_init=1e-2, random_state=0)
    fits = []
    for compiled in (False, True):
        monkeypatch.setattr(_epochs, "COMPILED_EPOCH", compiled)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(cls(**kw).fit(X, y))
    a, b = fits
    assert b.layer_storage_ == ["csr"] * 3
    tol = TOL[dtype] * 100
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=tol)


def test_pickle_narrows_indices_and_restores_int32():
    rng = np.random.default_rng(4)
    for n_in, narrow in ((200, np.uint8), (300, np.uint16)):
        W = rng.standard_normal((n_in, 5)) * (rng.random((n_in, 5)) < 0.2)
        layer = CSRLayer.from_matrix(W, np.zeros(5))
        assert layer.__getstate__()["indices"].dtype == narrow
        back = pickle.loads(pickle.dumps(layer))
        assert back.indices.dtype == np.int32 and back.indptr.dtype == np.int32
        np.testing.assert_array_equal(back.dense(), layer.dense())
        H = rng.standard_normal((n_in, 3))
        np.testing.assert_array_equal(back.forward(H), layer.forward(H))


def test_dense_layer_pickles_its_mask_as_bits():
    from fastprox.neural_network import DenseLayer

    rng = np.random.default_rng(5)
    for dtype in (np.float64, np.float32):
        keep = rng.random((37, 5)) < 0.5
        W = (rng.standard_normal((37, 5)) * keep).astype(dtype)
        layer = DenseLayer(W, np.ones(5), mask=keep)
        blob = pickle.dumps(layer)
        assert len(blob) < W.nbytes + 400
        back = pickle.loads(blob)
        assert back.mask.dtype == dtype
        np.testing.assert_array_equal(back.mask, layer.mask)
        np.testing.assert_array_equal(back.W, W)
        assert pickle.loads(pickle.dumps(DenseLayer(W, np.ones(5)))).mask is None
