"""Multi-layer perceptrons trained with proximal L1, pruned, and run as CSR layers.

Training pipeline (``fit``):

1. **dense phase** -- up to ``max_iter`` epochs of mini-batch Adam or SGD
   with L2 (``alpha``, scikit-learn's scaling), L1 (``l1``, a proximal step
   fused into the optimizer kernel, so weights reach exact zeros) and group
   L1 on hidden neurons (``group_l1``); stops early on ``tol`` /
   ``n_iter_no_change`` like scikit-learn.
2. **pruning phase** (if ``target_sparsity`` or ``prune_threshold``) --
   magnitude pruning (or neuron removal with ``structured=True``) following
   ``pruning_schedule``; between events the pattern is frozen and training
   goes on for ``pruning_interval`` epochs.
3. **fine-tuning** -- ``finetune_epochs`` epochs with the final pattern frozen.

A layer whose density falls below ``sparse_crossover`` is stored and computed
in CSR from then on (forward ``spmm``, weight gradient ``sddmm``, input
gradient ``spmm`` on a cached transpose, optimizer state per nonzero); the
fitted model keeps it so: inference, pickles and ``sparse_coefs_`` are sparse.
Once every layer is CSR, an epoch is one call to the compiled ``_mlp_fast``
kernel (forward, backward and the proximal optimizer update of every batch,
without the GIL) and a forward pass is one call for the whole network: at
these sizes the per-layer Python and NumPy calls cost more than the products.
"""
import copy
import numbers
import time
import warnings
import weakref

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from .._kernels import mlp_fast
from .. import prox as _prox
from .. import pruning as _pruning
from .._threads import get_num_threads
from .._validation import empty_aligned
from ._layers import CSRLayer, DenseLayer

__all__ = ["MLPClassifier", "MLPRegressor", "DEFAULT_SPARSE_CROSSOVER"]

#: Density below which a pruned layer is stored and computed as CSR. The CSR
#: product streams ``nnz * (itemsize + 4)`` bytes plus an index-driven gather
#: of the input rows, against a BLAS GEMM on ``in * out`` values; on the
#: development machine CSR wins below about a third of the entries.
DEFAULT_SPARSE_CROSSOVER = 0.3

_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")


#: Train epochs of all-CSR networks with the compiled epoch (``_mlp_fast``);
#: False runs the per-layer Python loop (kept as the reference the tests compare with).
_COMPILED_EPOCH = True


#: Largest layer product (n_in * n_out * batch multiply-adds) trained on one
#: thread. Threads pay off only for products far beyond those of an MLP
#: mini-batch: waking and syncing a team costs more than a product of a few
#: million FLOPs, and on a loaded machine a descheduled team member stalls
#: every barrier. Measured on the shared 2-core development machine (load
#: 4-6): an MNIST 784-64-64-10 epoch at batch 128 took 210 ms on one thread
#: and 4.3 s with two (OpenBLAS and OpenMP); 784-300-100-10 0.74 s vs 6.9 s.
#: (Threaded BLAS makes scikit-learn's epochs as slow there.)
SERIAL_TRAINING_WORK = 2**26


def _training_threads(widths, batch):
    """Thread limit (BLAS and OpenMP) for training layers of these widths: 1 or None (no limit)."""
    work = max([a * b for a, b in zip(widths[:-1], widths[1:])], default=1) * batch
    return 1 if work < SERIAL_TRAINING_WORK else None


def _kernel_arrays(layers):
    """Per-layer arrays for the compiled paths, or None if a layer is dense / not int32."""
    out = []
    for layer in layers:
        arrays = layer.kernel_arrays() if layer.kind == "csr" else None
        if arrays is None:
            return None
        out.append(arrays)
    return out


def _activate(Z, name):
    if name == "relu":
        np.maximum(Z, 0, out=Z)
    elif name == "tanh":
        np.tanh(Z, out=Z)
    elif name == "logistic":
        expit(Z, out=Z)
    return Z


def _derivative(delta, H, name, mask=None):
    """``delta *= f'(z)`` written with the activation's output ``H = f(z)``.

    ``mask``: optional boolean scratch of H's shape (relu), so the training
    loop does not allocate one per batch.
    """
    if name == "relu":
        # a multiply by the 0/1 mask: a third of the time of boolean indexing
        np.multiply(delta, np.greater(H, 0, out=mask), out=delta)
    elif name == "tanh":
        delta *= 1 - H * H
    elif name == "logistic":
        delta *= H * (1 - H)
    return delta


def _softmax(Z):
    Z -= Z.max(axis=0)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=0)
    return Z


class _Optimizer:
    """Adam or momentum-SGD state, one set of arrays per layer (per nonzero for CSR layers)."""

    def __init__(self, est, layers):
        self.solver = est.solver
        self.lr = est.learning_rate_init
        self.est = est
        self.t = 0
        self.state = [self._new(layer) for layer in layers]

    def resume(self, est, layers):
        """A copy of this state for a warm-started fit of ``est``, or None if it does not fit.

        Moments and the step count carry over; the learning rate restarts at
        ``learning_rate_init`` (scikit-learn restarts its schedule too).
        """
        if self.solver != est.solver or len(self.state) != len(layers):
            return None
        for (ws, bs), layer in zip(self.state, layers):
            if ws[0].shape != layer.values.shape or bs[0].shape != layer.b.shape \
                    or ws[0].dtype != layer.values.dtype:
                return None
        new = copy.copy(self)
        new.est, new.lr = est, est.learning_rate_init
        new.state = [([w.copy() for w in ws], [b.copy() for b in bs]) for ws, bs in self.state]
        return new

    def detached(self):
        """This state without the estimator reference (kept on the fitted model)."""
        new = copy.copy(self)
        new.est = None
        return new

    def iteration_ends(self, samples_seen):
        """scikit-learn's 'invscaling': ``lr = learning_rate_init / (t + 1) ** power_t`` (SGD)."""
        est = self.est
        if self.solver == "sgd" and est.learning_rate == "invscaling":
            self.lr = float(est.learning_rate_init) / (samples_seen + 1) ** est.power_t

    def trigger_stopping(self):
        """On a plateau: stop, or with SGD and 'adaptive' divide the rate by 5 until 1e-6."""
        if self.solver != "sgd" or self.est.learning_rate != "adaptive" or self.lr <= 1e-6:
            return True
        self.lr /= 5.0
        if self.est.verbose:
            print(f"Setting learning rate to {self.lr:f}")
        return False

    def _new(self, layer):
        n = 2 if self.solver == "adam" else 1
        return ([np.zeros_like(layer.values) for _ in range(n)],
                [np.zeros_like(layer.b) for _ in range(n)])

    def remap(self, i, old, new, keep=None, cols=None, rows=None):
        """Carry layer ``i``'s state from ``old`` to ``new`` through dense (n_in, n_out) arrays."""
        ws, bs = self.state[i]
        new_ws = []
        for s in ws:
            D = old.to_dense(s)
            if rows is not None:
                D = D[rows]
            if cols is not None:
                D = D[:, cols]
            if keep is not None:
                D = D * keep
            new_ws.append(new.gather(D))
        new_bs = [np.ascontiguousarray(s[cols]) if cols is not None else s for s in bs]
        self.state[i] = (new_ws, new_bs)

    def step(self, i, layer, gW, gb, batch):
        est = self.est
        ws, bs = self.state[i]
        # scikit-learn's MLP: L2 term alpha * W / n_samples in the batch gradient
        l2 = est.alpha / batch
        # Hyper-parameters were validated in fit and the state arrays are built
        # here with the layer's sizes and dtype, so the per-call checks (a few
        # microseconds, comparable to a small layer's whole update) are skipped.
        # The training loop hands over C-contiguous gradients in the layer's
        # dtype and value layout (its preallocated buffers).
        if gW.size != layer.values.size or gb.size != layer.b.size:
            raise RuntimeError("internal error: gradient and weight sizes differ")
        lr, l1 = float(self.lr), float(est.l1)
        if self.solver == "adam":
            b1, b2, eps = float(est.beta_1), float(est.beta_2), float(est.epsilon)
            _prox.adam_step(layer.values, gW, ws[0], ws[1], self.t, lr, b1, b2, eps, l1, l2,
                            check_input=False)
            _prox.adam_step(layer.b, gb, bs[0], bs[1], self.t, lr, b1, b2, eps, 0.0, 0.0,
                            check_input=False)
        else:
            mu, nest = float(est.momentum), bool(est.nesterovs_momentum)
            _prox.momentum_step(layer.values, gW, ws[0], lr, mu, l1, l2, nest, check_input=False)
            _prox.momentum_step(layer.b, gb, bs[0], lr, mu, 0.0, 0.0, nest, check_input=False)


def _make_layer(W, b, keep, crossover):
    """Layer for weights ``W`` (n_in, n_out) restricted to ``keep``: CSR below the crossover."""
    density = np.count_nonzero(keep) / keep.size
    if density < crossover:
        return CSRLayer.from_matrix(W * keep, b, keep)
    if keep.all():
        return DenseLayer(W, b)
    return DenseLayer(W * keep, b, mask=keep)


class _BaseMLP(BaseEstimator):
    """Shared fit / predict machinery; see :class:`MLPClassifier` for the parameters."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, l1=0.0, group_l1=0.0, batch_size="auto",
                 learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 target_sparsity=None, prune_threshold=None, pruning_schedule="oneshot",
                 pruning_steps=10, pruning_interval=1, pruning_scope="global",
                 structured=False, finetune_epochs=10,
                 sparse_crossover=DEFAULT_SPARSE_CROSSOVER):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.l1 = l1
        self.group_l1 = group_l1
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.target_sparsity = target_sparsity
        self.prune_threshold = prune_threshold
        self.pruning_schedule = pruning_schedule
        self.pruning_steps = pruning_steps
        self.pruning_interval = pruning_interval
        self.pruning_scope = pruning_scope
        self.structured = structured
        self.finetune_epochs = finetune_epochs
        self.sparse_crossover = sparse_crossover

    # ------------------------------------------------------------------ checks
    def _validate_params(self):
        def real(name, lo=None, hi=None, lo_open=False, hi_open=False):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
                raise ValueError(f"{name} must be a finite real number, got {v!r}")
            if lo is not None and (v < lo or (lo_open and v == lo)):
                raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {v}")
            if hi is not None and (v > hi or (hi_open and v == hi)):
                raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {v}")

        def integer(name, lo):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")

        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        sizes = tuple(sizes)
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1
               for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {self.activation!r}")
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"solver must be 'adam' or 'sgd', got {self.solver!r}")
        for name in ("alpha", "l1", "group_l1", "tol"):
            real(name, lo=0.0)
        real("learning_rate_init", lo=0.0, lo_open=True)
        real("power_t", lo=0.0)
        if self.learning_rate not in ("constant", "invscaling", "adaptive"):
            raise ValueError("learning_rate must be 'constant', 'invscaling' or 'adaptive', "
                             f"got {self.learning_rate!r}")
        real("momentum", lo=0.0, hi=1.0, hi_open=True)
        real("beta_1", lo=0.0, hi=1.0, hi_open=True)
        real("beta_2", lo=0.0, hi=1.0, hi_open=True)
        real("epsilon", lo=0.0, lo_open=True)
        real("validation_fraction", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        real("sparse_crossover", lo=0.0, hi=1.0)
        integer("max_iter", 1)
        integer("n_iter_no_change", 1)
        integer("pruning_steps", 1)
        integer("pruning_interval", 0)
        integer("finetune_epochs", 0)
        if self.batch_size != "auto":
            integer("batch_size", 1)
        if self.target_sparsity is not None:
            real("target_sparsity", lo=0.0, hi=1.0, hi_open=True)
        if self.prune_threshold is not None:
            real("prune_threshold", lo=0.0)
        if self.target_sparsity is not None and self.prune_threshold is not None:
            raise ValueError("give target_sparsity or prune_threshold, not both")
        if self.pruning_schedule not in ("oneshot", "iterative", "gradual"):
            raise ValueError("pruning_schedule must be 'oneshot', 'iterative' or 'gradual', "
                             f"got {self.pruning_schedule!r}")
        if self.pruning_scope not in ("global", "layer"):
            raise ValueError(f"pruning_scope must be 'global' or 'layer', got "
                             f"{self.pruning_scope!r}")
        return sizes

    # ------------------------------------------------------------- computation
    def _forward(self, H, layers=None):
        """Output of the network for transposed input ``H`` (n_features, n)."""
        layers = self.layers_ if layers is None else layers
        net = self._csr_net(layers)
        if net is not None and H.dtype == layers[0].b.dtype and H.flags.c_contiguous:
            return net.forward(H, get_num_threads())
        last = len(layers) - 1
        relu = self.activation == "relu"
        for i, layer in enumerate(layers):
            hidden = i < last
            H = layer.forward(H, relu=hidden and relu)
            if hidden and not relu:
                _activate(H, self.activation)
        return self._output(H)

    def _out_code(self, n_out):
        if not self._is_clf:
            return "identity"
        return "logistic" if n_out == 1 else "softmax"

    def _csr_net(self, layers):
        """Compiled forward pass of an all-CSR network (one call for all layers), or None.

        Cached on the first layer, keyed by the layer objects (weak references)
        and the functions: layers are replaced, never reallocated, when the
        pattern changes, and the cache does not travel with pickles or copies.
        """
        if layers[0].kind != "csr":
            return None
        key = (self.activation, self._out_code(layers[-1].b.shape[0]))
        cached = getattr(layers[0], "_net", None)
        if cached is not None and cached[1] == key and len(cached[0]) == len(layers) \
                and all(r() is layer for r, layer in zip(cached[0], layers)):
            return cached[2]
        arrays = _kernel_arrays(layers)
        if arrays is None:
            return None
        net = mlp_fast.CSRNet([a[:4] for a in arrays], layers[0].shape[0],
                          mlp_fast.ACTIVATIONS[key[0]], mlp_fast.OUTPUTS[key[1]])
        layers[0]._net = (tuple(weakref.ref(layer) for layer in layers), key, net)
        return net

    def _predict_raw(self, X):
        check_is_fitted(self, "layers_")
        dtype = self.layers_[0].b.dtype
        # Lean path for the common case (a float ndarray of the right width,
        # model fitted without feature names): validate_data costs about
        # 100 us, several times a small network's whole batch-1 forward pass.
        # Anything else, including non-finite values, goes through
        # validate_data and gets its errors and warnings.
        if not (type(X) is np.ndarray and X.ndim == 2 and X.dtype in (np.float64, np.float32)
                and X.shape[1] == self.n_features_in_ and X.shape[0] > 0
                and not hasattr(self, "feature_names_in_") and np.isfinite(X).all()):
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32],
                              accept_sparse=False)
        XT = np.ascontiguousarray(X.T, dtype=dtype)
        return self._forward(XT).T

    def _init_layers(self, sizes, dtype, rng):
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            # Glorot uniform (He/Glorot factor 2 for logistic), as scikit-learn
            factor = 2.0 if self.activation == "logistic" else 6.0
            bound = np.sqrt(factor / (n_in + n_out))
            W = rng.uniform(-bound, bound, (n_in, n_out)).astype(dtype)
            b = rng.uniform(-bound, bound, n_out).astype(dtype)
            layers.append(DenseLayer(W, b))
        return layers

    def _workspace(self, layers, b, dtype):
        """Per-batch-size buffers, allocated once per epoch instead of once per batch.

        ``acts[i]`` is layer ``i``'s input (``acts[0]`` the batch of X),
        ``deltas[i]`` the error at layer ``i``'s output, ``gW`` / ``gb`` the
        gradients in each layer's value layout, ``masks`` scratch booleans
        for the activation derivative.
        """
        widths = [layers[0].shape[0]] + [layer.shape[1] for layer in layers]
        # 64-byte aligned: the CSR kernels load whole vectors from their rows
        acts = [empty_aligned((w, b), dtype) for w in widths]
        deltas = [empty_aligned((w, b), dtype) for w in widths[1:]]
        gW = [np.empty(layer.values.shape, dtype=dtype) for layer in layers]
        gb = [np.empty(layer.b.shape, dtype=dtype) for layer in layers]
        masks = [np.empty((w, b), dtype=bool) for w in widths[1:-1]]
        return {"acts": acts, "deltas": deltas, "gW": gW, "gb": gb, "masks": masks,
                "Y": np.empty((widths[-1], b), dtype=dtype),
                "rows": np.empty((b, widths[0]), dtype=dtype),
                "tmp": np.empty((widths[-1], b), dtype=dtype)}

    def _run_epoch(self, layers, opt, X, YT, batch_size, rng):
        """One pass over ``X`` (n_samples, n_features), C-contiguous; returns the mean loss."""
        n = X.shape[0]
        idx = rng.permutation(n) if self.shuffle else None
        arrays = _kernel_arrays(layers) if _COMPILED_EPOCH else None
        if arrays is not None:
            total = self._epoch_compiled(layers, arrays, opt, X, YT, batch_size, idx)
        else:
            total = self._epoch_python(layers, opt, X, YT, batch_size, idx)
        loss = total / n
        pen = 0.0
        for layer in layers:
            v = layer.values.reshape(-1)
            pen += 0.5 * self.alpha * float(v @ v) / min(batch_size, n)
            pen += self.l1 * float(np.abs(v).sum())
        return loss + pen

    def _epoch_compiled(self, layers, arrays, opt, X, YT, batch_size, idx):
        """Summed loss of one epoch of an all-CSR network, in one call to ``_mlp_fast``.

        Same arithmetic as :meth:`_epoch_python` (see ``_mlp_fast.pyx``); the
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
        est = self
        total, opt.t = mlp_fast.train_epoch_impl(
            X, YT, order, batch_size, specs, acts, deltas, np.empty(2 * b, dtype),
            mlp_fast.ACTIVATIONS[self.activation], mlp_fast.OUTPUTS[self._out_code(YT.shape[0])], adam,
            opt.t, float(opt.lr), float(est.beta_1), float(est.beta_2), float(est.epsilon),
            float(est.momentum), bool(est.nesterovs_momentum), float(est.l1), float(est.alpha),
            get_num_threads())
        return total

    def _epoch_python(self, layers, opt, X, YT, batch_size, idx):
        """Summed loss of one epoch, layer by layer through the layers' kernels."""
        n = X.shape[0]
        last = len(layers) - 1
        total = 0.0
        group_t = self.learning_rate_init * self.group_l1
        activation = self.activation
        dtype = X.dtype
        spaces = {}
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            b = stop - start
            ws = spaces.get(b)
            if ws is None:
                ws = spaces[b] = self._workspace(layers, b, dtype)
            acts, deltas, Yb = ws["acts"], ws["deltas"], ws["Y"]
            if idx is None:
                acts[0][...] = X[start:stop].T
                Yb[...] = YT[:, start:stop]
            else:
                sl = idx[start:stop]
                # gather whole rows, then one transposed copy: a column gather
                # from X.T touches a cache line per value (2x slower on MNIST)
                np.take(X, sl, axis=0, out=ws["rows"])
                acts[0][...] = ws["rows"].T
                np.take(YT, sl, axis=1, out=Yb)
            for i, layer in enumerate(layers):
                # the ReLU of a hidden layer is fused into its forward pass
                fuse = i < last and activation == "relu"
                Z = layer.forward(acts[i], out=acts[i + 1], relu=fuse)
                if i == last:
                    self._output(Z)
                elif not fuse:
                    _activate(Z, activation)
            P = acts[-1]
            total += self._batch_loss(Yb, P, ws["tmp"])
            delta = np.subtract(P, Yb, out=deltas[last])
            delta *= 1.0 / b
            opt.t += 1
            for i in range(last, -1, -1):
                layer = layers[i]
                gW, gb, d_in = layer.backward(deltas[i], acts[i], i > 0, gW=ws["gW"][i],
                                              gb=ws["gb"][i], d_in=deltas[i - 1] if i else None)
                opt.step(i, layer, gW, gb, b)
                if group_t > 0 and i < last and layer.kind == "dense":
                    _prox.group_soft_threshold(layer.W, group_t, axis=0)
                if i > 0:
                    _derivative(d_in, acts[i], activation, ws["masks"][i - 1])
        return total

    def _score_val(self, layers, XT_val, y_val):
        out = self._forward(XT_val, layers).T
        return self._score_output(out, y_val)

    # ------------------------------------------------------------------- pruning
    def _prune_weights(self, layers, opt, sparsity):
        Ws = [layer.dense() for layer in layers]
        old_keep = [layer.keep() for layer in layers]
        if sparsity is not None:
            masks = _pruning.magnitude_masks(Ws, sparsity=sparsity, scope=self.pruning_scope)
        else:
            masks = _pruning.magnitude_masks(Ws, threshold=self.prune_threshold)
        new_layers = []
        for i, (layer, W, m, k) in enumerate(zip(layers, Ws, masks, old_keep)):
            keep = m & k
            new = _make_layer(W, layer.b, keep, self.sparse_crossover)
            opt.remap(i, layer, new, keep=keep)
            new_layers.append(new)
        return new_layers

    def _prune_neurons(self, layers, opt, fraction):
        layers = list(layers)
        for i in range(len(layers) - 1):
            W_in, W_out = layers[i].dense(), layers[i + 1].dense()
            scores = _pruning.neuron_scores(W_in, W_out)
            if fraction is not None:
                # fraction of the neurons the layer was built with, so repeated events compound
                n0 = self._n_hidden0[i]
                cur = W_in.shape[1]
                target_keep = max(1, int(np.floor((1 - fraction) * n0 + 0.5)))
                frac_now = 1.0 - min(target_keep, cur) / cur
                alive = _pruning.neuron_keep(scores, fraction=frac_now)
            else:
                alive = _pruning.neuron_keep(scores, threshold=self.prune_threshold)
            if alive.all():
                continue
            cols = np.flatnonzero(alive)
            old_in, old_out = layers[i], layers[i + 1]
            k_in = old_in.keep()[:, cols]
            k_out = old_out.keep()[cols]
            new_in = _make_layer(W_in[:, cols], old_in.b[cols], k_in, self.sparse_crossover)
            new_out = _make_layer(W_out[cols], old_out.b, k_out, self.sparse_crossover)
            opt.remap(i, old_in, new_in, keep=k_in, cols=cols)
            opt.remap(i + 1, old_out, new_out, keep=k_out, rows=cols)
            layers[i], layers[i + 1] = new_in, new_out
        return layers

    def _compact(self, layers, opt):
        """Store dense layers whose exact zeros (from L1) put them below the crossover as CSR."""
        out = []
        for i, layer in enumerate(layers):
            if layer.kind == "dense":
                keep = layer.W != 0
                if layer.mask is not None:
                    keep |= layer.mask != 0
                if np.count_nonzero(keep) / keep.size < self.sparse_crossover:
                    new = CSRLayer.from_matrix(layer.W, layer.b, keep)
                    opt.remap(i, layer, new, keep=keep)  # kept for warm_start
                    layer = new
            out.append(layer)
        return out

    # ----------------------------------------------------------------------- fit
    def _fit(self, X, y):
        sizes = self._validate_params()
        first = not (self.warm_start and hasattr(self, "layers_"))
        X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32],
                             multi_output=self._multi_output, y_numeric=not self._is_clf)
        widths = (X.shape[1],) + sizes
        batch = 200 if self.batch_size == "auto" else self.batch_size
        with threadpool_limits(_training_threads(widths, batch)):
            return self._fit_impl(X, y, sizes, first)

    def _fit_impl(self, X, y, sizes, first):
        Y = self._encode_y(y, first)
        dtype = X.dtype
        rng = check_random_state(self.random_state)
        n_out = Y.shape[1]
        if first:
            layers = self._init_layers((X.shape[1],) + sizes + (n_out,), dtype, rng)
        else:
            layers = copy.deepcopy(self.layers_)
            if layers[-1].b.shape[0] != n_out:
                raise ValueError(f"warm_start: the model has {layers[-1].b.shape[0]} outputs, "
                                 f"y needs {n_out}")
        self._n_hidden0 = [layer.shape[1] for layer in layers[:-1]]

        if self.early_stopping:
            stratify = y if self._is_clf else None
            X, X_val, Y, y_val = train_test_split(
                X, Y if not self._is_clf else y, test_size=self.validation_fraction,
                random_state=rng.randint(np.iinfo(np.int32).max), stratify=stratify)
            if self._is_clf:
                Y = self._encode_y(Y, False)
            XT_val = np.ascontiguousarray(X_val.T)
        X = np.ascontiguousarray(X)
        YT = np.ascontiguousarray(Y.T, dtype=dtype)
        n = X.shape[0]
        batch_size = min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)

        opt = None
        if not first and getattr(self, "_optimizer", None) is not None:
            opt = self._optimizer.resume(self, layers)
        if opt is None:
            opt = _Optimizer(self, layers)
        # samples seen, for 'invscaling'; carries over warm-started fits as in scikit-learn
        seen = [0 if first else int(getattr(self, "t_", 0))]
        loss_curve, val_scores, epoch_times, epoch_phases = [], [], [], []
        state = {"best_loss": np.inf, "best_val": -np.inf, "no_improve": 0, "best": None}

        def epoch(phase):
            t0 = time.perf_counter()
            loss = self._run_epoch(layers, opt, X, YT, batch_size, rng)
            epoch_times.append(time.perf_counter() - t0)
            epoch_phases.append(phase)
            seen[0] += n
            opt.iteration_ends(seen[0])
            if not np.isfinite(loss):
                raise ValueError(
                    f"training diverged at epoch {len(loss_curve) + 1} (loss is {loss}); "
                    "lower learning_rate_init or scale the inputs. The model was left as it "
                    "was before fit.")
            loss_curve.append(loss)
            if self.verbose:
                print(f"Iteration {len(loss_curve)}, loss = {loss:.8f} ({phase})")
            if self.early_stopping:
                val_scores.append(self._score_val(layers, XT_val, y_val))

        converged = False
        for _ in range(self.max_iter):
            epoch("dense")
            if self._check_stop(state, loss_curve, val_scores, layers, opt):
                converged = True
                break
        if not converged and self.max_iter > 0:
            warnings.warn(f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning)
        if self.early_stopping and state["best"] is not None:
            for layer, (v, b) in zip(layers, state["best"]):
                layer.values[...] = v
                layer.b[...] = b

        pruning = self.target_sparsity is not None or self.prune_threshold is not None
        if pruning:
            if self.target_sparsity is not None:
                events = _pruning.sparsity_schedule(self.pruning_schedule, self.target_sparsity,
                                                    self.pruning_steps)
            else:
                events = [None] * (1 if self.pruning_schedule == "oneshot"
                                   else self.pruning_steps)
            for k, s in enumerate(events):
                if self.structured:
                    layers = self._prune_neurons(layers, opt, s)
                else:
                    layers = self._prune_weights(layers, opt, s)
                if k < len(events) - 1:
                    for _ in range(self.pruning_interval):
                        epoch("prune")
            for _ in range(self.finetune_epochs):
                epoch("finetune")
        layers = self._compact(layers, opt)

        # everything succeeded: publish the new state
        self.layers_ = layers
        self.loss_curve_ = loss_curve
        self.loss_ = loss_curve[-1]
        self.best_loss_ = None if self.early_stopping else float(np.min(loss_curve))
        self.validation_scores_ = val_scores if self.early_stopping else None
        self.best_validation_score_ = (max(val_scores) if self.early_stopping else None)
        self.n_iter_ = len(loss_curve)
        self.t_ = seen[0]
        self._optimizer = opt.detached()
        self.n_layers_ = len(layers) + 1
        self.n_outputs_ = n_out
        self.out_activation_ = self._out_name
        self.epoch_times_ = np.array(epoch_times)
        self.epoch_phases_ = epoch_phases
        return self

    def _check_stop(self, state, loss_curve, val_scores, layers, opt):
        if self.early_stopping:
            score = val_scores[-1]
            if score < state["best_val"] + self.tol:
                state["no_improve"] += 1
            else:
                state["no_improve"] = 0
            if score > state["best_val"]:
                state["best_val"] = score
                state["best"] = [(layer.values.copy(), layer.b.copy()) for layer in layers]
        else:
            loss = loss_curve[-1]
            if loss > state["best_loss"] - self.tol:
                state["no_improve"] += 1
            else:
                state["no_improve"] = 0
            state["best_loss"] = min(state["best_loss"], loss)
        if state["no_improve"] > self.n_iter_no_change:
            if self.verbose:
                print(f"No improvement for {self.n_iter_no_change} consecutive epochs.")
            if opt.trigger_stopping():
                return True
            state["no_improve"] = 0
        return False

    # ---------------------------------------------------------- partial_fit
    def _can_partial_fit(self):
        if self.target_sparsity is not None or self.prune_threshold is not None:
            raise AttributeError("partial_fit is not available with pruning (target_sparsity / "
                                 "prune_threshold set): it trains the dense network only; "
                                 "pruning needs fit")
        return True

    def _partial_fit(self, X, y, classes=None):
        """One pass of the optimizer over the block ``(X, y)``, dense phase only.

        Pruning belongs to ``fit`` (it needs the whole training run): with
        ``target_sparsity`` or ``prune_threshold`` set this raises. Early
        stopping and the convergence test are not applied (each call is one
        epoch, as in scikit-learn). The optimizer state (moments, step count,
        'invscaling' schedule) carries over from call to call, pickles included.
        """
        if self.target_sparsity is not None or self.prune_threshold is not None:
            raise ValueError("partial_fit trains the dense network only; pruning "
                             "(target_sparsity / prune_threshold) needs fit. Train with "
                             "partial_fit, then set target_sparsity and call fit with "
                             "warm_start=True to prune and fine-tune.")
        saved = dict(self.__dict__)
        try:  # publish all or nothing, as fit does
            self._partial_fit_unsafe(X, y, classes)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        return self

    def _partial_fit_unsafe(self, X, y, classes):
        sizes = self._validate_params()
        first = not hasattr(self, "layers_")
        X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32],
                             multi_output=self._multi_output, y_numeric=not self._is_clf)
        if self._is_clf:
            if first and classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            if classes is not None:
                classes = np.unique(np.asarray(classes))
                if not first and not np.array_equal(classes, self.classes_):
                    raise ValueError(f"classes={classes!r} is not the same as on the first "
                                     f"call to partial_fit ({self.classes_!r})")
                if classes.shape[0] < 2:
                    raise ValueError("classes must hold at least 2 classes")
                self.classes_ = classes
            if not np.isin(y, self.classes_).all():
                raise ValueError(f"y has labels not in classes {self.classes_!r}")
            Y = self._encode_y(y, False)
        else:
            Y = self._encode_y(y, first)
        if first:
            rng = check_random_state(self.random_state)
            layers = self._init_layers((X.shape[1],) + sizes + (Y.shape[1],), X.dtype, rng)
            self._n_hidden0 = [layer.shape[1] for layer in layers[:-1]]
            opt = _Optimizer(self, layers)
            seen, loss_curve, times, phases = 0, [], [], []
        else:
            rng = getattr(self, "_partial_rng", None) or check_random_state(self.random_state)
            layers = copy.deepcopy(self.layers_)
            if layers[-1].b.shape[0] != Y.shape[1]:
                raise ValueError(f"the model has {layers[-1].b.shape[0]} outputs, y needs "
                                 f"{Y.shape[1]}")
            X = X.astype(layers[0].b.dtype, copy=False)
            opt = getattr(self, "_optimizer", None)
            opt = None if opt is None else opt.resume(self, layers)
            if opt is None:
                opt = _Optimizer(self, layers)
            seen = int(self.t_)
            opt.iteration_ends(seen)  # resume() restarted the rate; put the schedule back
            loss_curve, times = list(self.loss_curve_), list(self.epoch_times_)
            phases = list(self.epoch_phases_)
        X = np.ascontiguousarray(X)
        YT = np.ascontiguousarray(Y.T, dtype=X.dtype)
        n = X.shape[0]
        batch_size = min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)
        widths = (X.shape[1],) + sizes
        t0 = time.perf_counter()
        with threadpool_limits(_training_threads(widths, batch_size)):
            loss = self._run_epoch(layers, opt, X, YT, batch_size, rng)
        if not np.isfinite(loss):
            raise ValueError(f"training diverged (loss is {loss}); lower learning_rate_init "
                             "or scale the inputs. The model was left as it was before.")
        opt.iteration_ends(seen + n)
        self._partial_rng = rng
        self.layers_ = layers
        self.loss_curve_ = loss_curve + [loss]
        self.loss_ = loss
        self.best_loss_ = float(np.min(self.loss_curve_))
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.n_iter_ = len(self.loss_curve_)
        self.t_ = seen + n
        self._optimizer = opt.detached()
        self._optimizer_pickled = True
        self.n_layers_ = len(layers) + 1
        self.n_outputs_ = Y.shape[1]
        self.out_activation_ = self._out_name
        self.epoch_times_ = np.array(times + [time.perf_counter() - t0])
        self.epoch_phases_ = phases + ["partial"]

    def __getstate__(self):
        # the optimizer state (1-2 arrays per weight) only serves warm_start
        # within a session; pickles keep the model alone -- except after
        # partial_fit, whose next block (often in another process: dask) needs it
        state = super().__getstate__()
        if not state.get("_optimizer_pickled", False):
            state.pop("_optimizer", None)
        return state

    # --------------------------------------------------------------- exports
    @property
    def coefs_(self):
        """list of ndarray (n_in, n_out): the weights as dense matrices (scikit-learn layout).

        Built on access for CSR layers; use :attr:`sparse_coefs_` to keep them sparse.
        """
        check_is_fitted(self, "layers_")
        return [layer.dense() for layer in self.layers_]

    @property
    def intercepts_(self):
        """list of ndarray (n_out,): the biases."""
        check_is_fitted(self, "layers_")
        return [layer.b for layer in self.layers_]

    @property
    def sparse_coefs_(self):
        """list of scipy.sparse.csr_array (n_in, n_out): the weights, exact zeros not stored."""
        check_is_fitted(self, "layers_")
        out = []
        for layer in self.layers_:
            if layer.kind == "csr":
                A = layer.csr().T.tocsr()
                A.eliminate_zeros()
            else:
                A = sp.csr_array(layer.W)
            out.append(A)
        return out

    @property
    def layer_storage_(self):
        """list of str: 'dense' or 'csr' for each layer."""
        check_is_fitted(self, "layers_")
        return [layer.kind for layer in self.layers_]

    @property
    def sparsity_(self):
        """Fraction of weights (biases excluded) that are exactly zero or not stored."""
        check_is_fitted(self, "layers_")
        total = sum(int(np.prod(layer.shape)) for layer in self.layers_)
        nnz = sum(int(np.count_nonzero(layer.values)) for layer in self.layers_)
        return 1.0 - nnz / total

    def sparsity_report(self, X=None, y=None, *, repeats=None, n_threads=1):
        """Memory, FLOP and measured latency accounting, dense vs CSR, per layer.

        Parameters
        ----------
        X, y : array_like, optional
            Data for the model score printed in the report (and the inputs the
            latency is measured on; random inputs otherwise).
        repeats : int, optional
            Timing repetitions (default: enough for about 10 ms per round).
        n_threads : int or None, default 1
            BLAS and OpenMP threads while timing (None: current limits).

        Returns
        -------
        fastprox.report.SparsityReport
        """
        from ..report import sparsity_report

        return sparsity_report(self, X, y, repeats=repeats, n_threads=n_threads)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier with proximal L1, pruning and CSR layers.

    Parameters shared with :class:`sklearn.neural_network.MLPClassifier` keep
    its meaning (``hidden_layer_sizes``, ``activation``, ``solver`` 'adam' or
    'sgd' with ``momentum`` / ``nesterovs_momentum``, ``alpha`` (L2, divided
    by the batch size as scikit-learn does), ``batch_size``,
    ``learning_rate`` ('constant', or with SGD 'invscaling' (``power_t``) and
    'adaptive'), ``learning_rate_init``, ``max_iter``, ``shuffle``,
    ``random_state``, ``tol``, ``early_stopping``, ``validation_fraction``,
    ``n_iter_no_change``, ``beta_1``, ``beta_2``, ``epsilon``, ``verbose``,
    ``warm_start``).

    Parameters
    ----------
    l1 : float, default 0
        L1 strength on the weights (not the biases), in the per-sample mean
        objective ``mean loss + l1 * sum|w|``. Applied as a proximal step in
        the optimizer kernel (for Adam with the threshold scaled by the
        per-coordinate step), so weights reach exact zeros.
    group_l1 : float, default 0
        Group-lasso strength on hidden neurons (the incoming weight columns
        of dense hidden layers): threshold ``learning_rate_init * group_l1``
        after each step. Dead neurons are then removed by ``structured=True``.
    target_sparsity : float in [0, 1), optional
        Fraction of weights to prune (exactly ``round(s * n_weights)`` weights,
        counted over all layers for ``pruning_scope='global'`` or per layer),
        or with ``structured=True`` the fraction of each hidden layer's neurons.
    prune_threshold : float, optional
        Alternative to ``target_sparsity``: prune weights with ``|w| <
        prune_threshold`` (neurons whose score is below it if structured).
    pruning_schedule : {'oneshot', 'iterative', 'gradual'}, default 'oneshot'
        One event after the dense phase; ``pruning_steps`` events at linearly
        increasing sparsity; or ``pruning_steps`` events on Zhu & Gupta's
        cubic schedule. ``pruning_interval`` epochs are trained between events.
    pruning_steps : int, default 10
    pruning_interval : int, default 1
    pruning_scope : {'global', 'layer'}, default 'global'
    structured : bool, default False
        Remove whole hidden neurons (shrinking the dense matrices) instead of
        single weights.
    finetune_epochs : int, default 10
        Epochs trained with the final pattern frozen (only with pruning).
    sparse_crossover : float, default 0.3
        Layers sparser than this density are stored and computed as CSR.

    Attributes
    ----------
    classes_, coefs_, intercepts_, loss_, best_loss_, loss_curve_,
    validation_scores_, best_validation_score_, n_iter_, t_, n_layers_,
    n_outputs_, out_activation_, n_features_in_ : as in scikit-learn.
    layers_ : list of DenseLayer or CSRLayer
        The network as stored.
    sparse_coefs_ : list of scipy.sparse.csr_array (n_in, n_out)
    layer_storage_ : list of {'dense', 'csr'}
    sparsity_ : float
    epoch_times_, epoch_phases_ : per-epoch wall time and phase
        ('dense', 'prune', 'finetune').

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastprox.neural_network import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier((32,), max_iter=30, target_sparsity=0.8,
    ...                     random_state=0).fit(X / 16, y)  # doctest: +SKIP
    """

    _is_clf = True
    _multi_output = False
    _out_name = "softmax"

    def _encode_y(self, y, reset):
        if reset:
            check_classification_targets(y)  # 'Unknown label type' for object / float labels
            kind = type_of_target(y)
            if kind not in ("binary", "multiclass"):
                raise ValueError(f"MLPClassifier supports binary and multiclass targets, got "
                                 f"{kind!r}")
            self.classes_ = np.unique(y)
            if self.classes_.shape[0] < 2:
                raise ValueError(f"y has only one class ({self.classes_[0]!r}); a classifier "
                                 "needs samples of at least 2 classes")
        elif not np.isin(y, self.classes_).all():
            raise ValueError("y contains classes not seen in the first fit (warm_start)")
        if self.classes_.shape[0] == 2:
            return (y == self.classes_[1]).astype(np.float64)[:, None]
        return (y[:, None] == self.classes_[None, :]).astype(np.float64)

    @property
    def _binary(self):
        return self.classes_.shape[0] == 2

    def _output(self, Z):
        if Z.shape[0] == 1:
            return expit(Z, out=Z)
        return _softmax(Z)

    def _loss(self, Y, P):
        eps = np.finfo(P.dtype).eps
        Pc = np.clip(P, eps, 1 - eps)
        if P.shape[0] == 1:
            return float(-(Y * np.log(Pc) + (1 - Y) * np.log(1 - Pc)).sum() / P.shape[1])
        return float(-(Y * np.log(Pc)).sum() / P.shape[1])

    def _batch_loss(self, Y, P, tmp):
        """Summed (not mean) log-loss of a batch; ``tmp`` is scratch of P's shape."""
        if P.shape[0] == 1:
            return self._loss(Y, P) * P.shape[1]
        eps = np.finfo(P.dtype).eps
        np.clip(P, eps, 1 - eps, out=tmp)
        np.log(tmp, out=tmp)
        return -float(np.vdot(Y, tmp))

    def _score_output(self, out, y):
        return float(np.mean(self._decode(out) == y))

    def _decode(self, out):
        if out.shape[1] == 1:
            return self.classes_[(out[:, 0] > 0.5).astype(int)]
        return self.classes_[np.argmax(out, axis=1)]

    def fit(self, X, y):
        """Train (dense phase, pruning, fine-tuning) on ``X`` (n_samples, n_features), labels ``y``.

        Returns
        -------
        self
        """
        return self._fit(X, y)

    @available_if(_BaseMLP._can_partial_fit)
    def partial_fit(self, X, y, classes=None):
        """One epoch of the optimizer over the block ``(X, y)`` (dense phase only).

        ``classes`` (all labels) is required on the first call. See
        ``_BaseMLP._partial_fit`` for what carries over between calls.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, classes)

    def predict(self, X):
        """Class labels for ``X``."""
        return self._decode(self._predict_raw(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        P = self._predict_raw(X)
        if P.shape[1] == 1:
            return np.hstack([1 - P, P])
        return P

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor (squared loss) with proximal L1, pruning and CSR layers.

    Same parameters and attributes as :class:`MLPClassifier` (without
    ``classes_``); the output layer is linear and the loss
    ``sum of squared errors / (2 * n_samples)``.
    """

    _is_clf = False
    _multi_output = True
    _out_name = "identity"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y of shape (n_samples, n_outputs) is supported
        return tags

    def _encode_y(self, y, reset):
        y = np.asarray(y, dtype=np.float64)
        return y[:, None] if y.ndim == 1 else y

    def _output(self, Z):
        return Z

    def _loss(self, Y, P):
        d = P - Y
        return float((d * d).sum() / (2 * P.shape[1]))

    def _batch_loss(self, Y, P, tmp):
        """Summed (not mean) squared loss of a batch; ``tmp`` is scratch of P's shape."""
        np.subtract(P, Y, out=tmp)
        return 0.5 * float(np.vdot(tmp, tmp))

    def _score_output(self, out, y):
        from sklearn.metrics import r2_score

        return float(r2_score(y, out[:, 0] if np.ndim(y) == 1 else out))

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and targets ``y`` (n_samples,) or (n_samples, n_outputs)."""
        return self._fit(X, y)

    @available_if(_BaseMLP._can_partial_fit)
    def partial_fit(self, X, y):
        """One epoch of the optimizer over the block ``(X, y)`` (dense phase only); returns self."""
        return self._partial_fit(X, y)

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs)."""
        out = self._predict_raw(X)
        return out[:, 0] if self.n_outputs_ == 1 else out
