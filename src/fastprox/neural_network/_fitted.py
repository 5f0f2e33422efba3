"""The fitted network as users see it: scikit-learn's weight attributes and the sparsity views.

:class:`FittedNetworkMixin` gives an estimator that stores its network as
``layers_`` (a list of :class:`~._layers.DenseLayer` / :class:`~._layers.CSRLayer`)
scikit-learn's ``coefs_`` / ``intercepts_`` (settable), the sparse views
``sparse_coefs_``, ``layer_storage_`` and ``sparsity_``, and
:meth:`~FittedNetworkMixin.sparsity_report`; through
:class:`~._interop.ImportWeightsMixin`, the constructors ``from_sklearn`` and
``from_weights``.
"""
import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ._interop import ImportWeightsMixin
from ._layers import built_widths, n_weights, replace_weights
from ._report import sparsity_report

__all__ = ["FittedNetworkMixin"]


def _check_assigned(name, arrays, shapes, dtype):
    """Copies of the arrays assigned to ``name``, in ``dtype``; ValueError naming the layer."""
    arrays = list(arrays)
    if len(arrays) != len(shapes):
        raise ValueError(f"{name} needs {len(shapes)} arrays (one per layer), got {len(arrays)}")
    out = []
    for i, (a, shape) in enumerate(zip(arrays, shapes)):
        a = np.array(a, dtype=dtype)
        if a.shape != tuple(shape):
            raise ValueError(f"{name}[{i}] (layer {i}) has shape {a.shape}, the layer needs "
                             f"{tuple(shape)}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name}[{i}] (layer {i}) must be finite (it has NaN or inf)")
        out.append(a)
    return out


class FittedNetworkMixin(ImportWeightsMixin):
    """Views of ``self.layers_`` (raise ``NotFittedError`` before fit); weights settable.

    Fitted models are also built from trained weights: ``from_sklearn``,
    ``from_weights`` (:class:`._interop.ImportWeightsMixin`).
    """

    def _fitted_layers(self):
        check_is_fitted(self, "layers_")
        return self.layers_

    @property
    def coefs_(self):
        """list of ndarray (n_in, n_out): the weights as dense matrices (scikit-learn layout).

        Built on access for CSR layers; use :attr:`sparse_coefs_` to keep them sparse.

        Settable (to load, edit or transplant weights): a list of one array per
        layer, of the layer's shape, finite, cast to the model's dtype and
        copied. A pruned layer keeps its pattern where the new array is zero
        and stores every nonzero of it: assigning a dense array to a pruned
        layer keeps it pruned only where that array is zero (``model.coefs_ =
        model.coefs_`` changes nothing). A layer is stored as CSR while its
        pattern is sparser than ``sparse_crossover``. The widths cannot change
        (refit for that). A ValueError naming the layer leaves the model as it was.
        """
        return [layer.dense() for layer in self._fitted_layers()]

    @coefs_.setter
    def coefs_(self, coefs):
        layers = self._fitted_layers()
        coefs = _check_assigned("coefs_", coefs, [layer.shape for layer in layers],
                                layers[0].b.dtype)
        self.layers_ = [replace_weights(layer, W, None, self.sparse_crossover)
                        for layer, W in zip(layers, coefs)]

    @property
    def intercepts_(self):
        """list of ndarray (n_out,): the biases.

        Settable: one finite array of shape (n_out,) per layer (see :attr:`coefs_`).
        """
        return [layer.b for layer in self._fitted_layers()]

    @intercepts_.setter
    def intercepts_(self, intercepts):
        layers = self._fitted_layers()
        intercepts = _check_assigned("intercepts_", intercepts,
                                     [layer.b.shape for layer in layers], layers[0].b.dtype)
        self.layers_ = [replace_weights(layer, None, b, self.sparse_crossover)
                        for layer, b in zip(layers, intercepts)]

    @property
    def sparsity_(self):
        """Fraction of the weights of the network as built that are zero, not stored or removed.

        ``1 - nonzero weights / weights of the architecture the network was
        built with`` (:attr:`built_layer_sizes_`; biases excluded): a neuron
        removed by structured pruning counts with all its weights, so a
        784-64-64-10 network shrunk to 784-32-32-10 is about 50 % sparse, not
        0 %. Without structured pruning this is the fraction of the current
        weights that are zero (the two agree). :meth:`sparsity_report` prints
        both architectures.
        """
        layers = self._fitted_layers()
        nnz = sum(int(np.count_nonzero(layer.values)) for layer in layers)
        return 1.0 - nnz / n_weights(self.built_layer_sizes_)

    @property
    def built_layer_sizes_(self):
        """tuple of int: the widths (n_features, *hidden, n_outputs) the network was built with.

        Structured pruning removes hidden neurons (``fit(structured=True)``,
        ``prune(structured=True)``); this is the architecture before it, the
        dense reference of :meth:`sparsity_report`. Recorded by ``prune``;
        for a network trained here, ``hidden_layer_sizes``; the current widths
        when neither fits them (a width can only shrink).
        """
        return built_widths(self._fitted_layers(), self.hidden_layer_sizes,
                            getattr(self, "_built_layer_sizes", None))

    @property
    def sparse_coefs_(self):
        """list of scipy.sparse.csr_array (n_in, n_out): the weights, exact zeros not stored.

        In the orientation of :attr:`coefs_`; a CSR layer computes with the
        transpose, (n_out, n_in), which it stores: :attr:`kernel_coefs_`.
        """
        return [layer.sparse_coef() for layer in self._fitted_layers()]

    @property
    def kernel_coefs_(self):
        """list of scipy.sparse.csr_array (n_out, n_in): the weights in kernel orientation.

        The transpose of :attr:`sparse_coefs_` (exact zeros not stored, a
        copy), the operand :func:`fastprox.sparse.spmm` takes with the batch
        along the columns: ``spmm(model.kernel_coefs_[i], H, bias=b)`` is
        layer ``i``'s ``W.T @ H + b`` for ``H`` (n_in, batch), i.e. ``(X @ W +
        b).T`` for ``H = X.T``. A CSR layer stores exactly this matrix.
        """
        out = []
        for layer in self._fitted_layers():
            A = layer.csr().copy() if layer.kind == "csr" else \
                sp.csr_array(np.ascontiguousarray(layer.W.T))
            A.eliminate_zeros()
            out.append(A)
        return out

    @property
    def layer_storage_(self):
        """list of str: 'dense' or 'csr' for each layer."""
        return [layer.kind for layer in self._fitted_layers()]

    def sparsity_report(self, X=None, y=None, *, repeats=None, n_threads=1):
        """Memory, FLOP and measured latency accounting, dense vs CSR, per layer.

        Parameters
        ----------
        X, y : array_like, optional
            Data for the model score printed in the report (and the inputs the
            latency is measured on; random inputs otherwise).
        repeats : int >= 1, optional
            Timing repetitions (default: enough for about 10 ms per round).
        n_threads : int >= 1 or None, default 1
            BLAS and OpenMP threads while timing (None: current limits).

        The table has one row per layer (dense, CSR and stored figures) and
        their sums; the summary compares the dense network as built
        (:attr:`built_layer_sizes_`) with the network as stored and with all
        layers CSR, gives the measured pickle size and arrays held in RAM,
        and the whole forward pass timed dense vs as stored. Every ratio is
        the quotient of the two figures printed beside it.

        Returns
        -------
        fastprox.report.SparsityReport
        """
        return sparsity_report(self, X, y, repeats=repeats, n_threads=n_threads)
