"""Pruning sensitivity: the score of a network pruned to each sparsity, whole and per layer.

The curve people draw before choosing how hard to prune (e.g. Han et al.
2015, fig. 6; Li et al. 2017, fig. 2): prune the trained network to each
sparsity and score it; per layer, prune that layer alone and leave the
others dense, which shows which layers tolerate pruning. With
``finetune_epochs`` each pruned copy is first trained that many epochs with
its pattern frozen (the model's own ``fit`` with ``warm_start=True``).
"""
import warnings
from numbers import Integral

from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._interop import as_fastprox
from ._posthoc import pruned_copy

__all__ = ["SensitivityTable", "sensitivity", "finetune"]


def finetune(model, X, y, epochs):
    """Train the pruned ``model`` in place for ``epochs`` epochs, its pattern frozen.

    The model's own ``fit`` with ``warm_start=True``, no pruning event and
    no stopping rule: pruned weights have a zero gradient (CSR layers do not
    store them, dense layers mask them) and a fresh optimizer state, so they
    stay exactly zero. The model keeps these parameters afterwards.
    """
    model.set_params(warm_start=True, max_iter=epochs, n_iter_no_change=epochs,
                     target_sparsity=None, prune_threshold=None, early_stopping=False,
                     verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


class SensitivityTable:
    """Scores of a network pruned to several sparsities (see :func:`fastprox.pruning.sensitivity`).

    Attributes
    ----------
    sparsities : list of float
        The requested sparsities (columns).
    baseline : float
        The unpruned model's score.
    network : list of float
        Score with the whole network pruned to each sparsity.
    achieved : list of float
        The sparsity (fraction of zero weights) of each of those networks.
    layers : dict of str -> list of float
        Score with only that layer pruned to each sparsity (empty when
        ``per_layer=False``); keys ``'layer i (n_in x n_out)'``.
    metric : str
        'accuracy' (classifier) or 'R^2' (regressor): ``model.score``.
    method : str
    finetune_epochs : int
    """

    def __init__(self, sparsities, baseline, network, achieved, layers, metric, method,
                 finetune_epochs):
        self.sparsities = list(sparsities)
        self.baseline = float(baseline)
        self.network = list(network)
        self.achieved = list(achieved)
        self.layers = dict(layers)
        self.metric = metric
        self.method = method
        self.finetune_epochs = finetune_epochs

    def to_dict(self):
        """Everything as plain Python (JSON-ready)."""
        return {"metric": self.metric, "method": self.method,
                "finetune_epochs": self.finetune_epochs, "baseline": self.baseline,
                "sparsities": list(self.sparsities), "network": list(self.network),
                "achieved_sparsity": list(self.achieved),
                "layers": {k: list(v) for k, v in self.layers.items()}}

    def to_markdown(self):
        """A Markdown table: one row per pruned part, one column per sparsity."""
        head = ["pruned", "dense"] + [f"{s:.0%}" if 100 * s == int(100 * s) else f"{s:.1%}"
                                      for s in self.sparsities]
        rows = [["whole network", self.baseline] + self.network]
        rows += [[name, self.baseline] + scores for name, scores in self.layers.items()]
        lines = [f"{self.metric} after {self.method} pruning"
                 + (f" and {self.finetune_epochs} epochs of fine-tuning"
                    if self.finetune_epochs else " (no fine-tuning)"), "",
                 "| " + " | ".join(head) + " |",
                 "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
        for name, *scores in rows:
            lines.append("| " + " | ".join([name] + [f"{v:.4f}" for v in scores]) + " |")
        lines.append("| achieved sparsity | 0 | "
                     + " | ".join(f"{a:.4f}" for a in self.achieved) + " |")
        return "\n".join(lines)

    def __str__(self):
        return self.to_markdown()

    def __repr__(self):
        return (f"SensitivityTable(metric={self.metric!r}, method={self.method!r}, "
                f"sparsities={self.sparsities}, baseline={self.baseline:.4f})")

    def plot(self, ax=None):
        """Score against sparsity: the whole network and each layer pruned alone.

        Needs matplotlib (an optional dependency, imported here).

        Returns
        -------
        matplotlib.axes.Axes
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("SensitivityTable.plot needs matplotlib, an optional "
                              "dependency of fastprox: pip install matplotlib") from exc
        if ax is None:
            _, ax = plt.subplots()
        x = [0.0] + self.sparsities
        ax.plot(x, [self.baseline] + self.network, "o-", lw=2, label="whole network")
        for name, scores in self.layers.items():
            ax.plot(x, [self.baseline] + scores, ".--", label=name)
        ax.set_xlabel("sparsity (fraction of weights pruned)")
        ax.set_ylabel(self.metric)
        ax.set_title(f"{self.method} pruning" + (f", {self.finetune_epochs} fine-tuning epochs"
                                                 if self.finetune_epochs else ""))
        ax.legend()
        return ax


def _table(model, X, y, *, sparsities, per_layer, method, finetune_epochs, scope,
           random_state, finetune_data):
    """The :class:`SensitivityTable` of the fitted fastprox MLP ``model`` (arguments checked)."""
    fit_X, fit_y = (X, y) if finetune_data is None else finetune_data

    def score(**prune_args):
        pruned = pruned_copy(model, method=method, scope=scope, random_state=random_state,
                             X=X, y=y, **prune_args)
        if finetune_epochs:
            finetune(pruned, fit_X, fit_y, finetune_epochs)
        return float(pruned.score(X, y)), pruned.sparsity_

    network, achieved = [], []
    for s in sparsities:
        sc, sp = score(sparsity=s)
        network.append(sc)
        achieved.append(float(sp))
    layers = {}
    if per_layer:
        for i, layer in enumerate(model.layers_):
            name = f"layer {i} ({layer.shape[0]} x {layer.shape[1]})"
            layers[name] = [score(sparsity=s, layers=[i])[0] for s in sparsities]
    metric = "accuracy" if is_classifier(model) else "R^2"
    return SensitivityTable(sparsities, model.score(X, y), network, achieved, layers, metric,
                            method, finetune_epochs)


@validate_params(
    {"model": "no_validation", "X": ["array-like", "sparse matrix"], "y": ["array-like"],
     "sparsities": ["array-like"], "per_layer": ["boolean"],
     "method": [StrOptions({"magnitude", "taylor", "random"})],
     "finetune_epochs": [Interval(Integral, 0, None, closed="left")],
     "scope": [StrOptions({"global", "layer"})], "random_state": ["random_state"],
     "finetune_data": [tuple, None]},
    prefer_skip_nested_validation=True)
def sensitivity(model, X, y, *, sparsities=(0.5, 0.7, 0.8, 0.9, 0.95), per_layer=True,
                method="magnitude", finetune_epochs=0, scope="global", random_state=None,
                finetune_data=None):
    """Score of the network pruned to each sparsity, whole and (``per_layer``) layer by layer.

    Parameters
    ----------
    model : fitted fastprox or scikit-learn MLPClassifier / MLPRegressor
        Not modified.
    X, y : array-like
        Data the pruned networks are scored on (``model.score``: accuracy
        or R^2), held-out data preferably.
    sparsities : sequence of float in [0, 1)
        Unstructured sparsities (see :func:`prune`), in increasing order.
    per_layer : bool, default True
        Also prune each layer alone (the others untouched) to each sparsity.
    method : {'magnitude', 'taylor', 'random'}, default 'magnitude'
        Weight criterion (:func:`prune`); 'taylor' takes its gradients on ``X, y``.
    finetune_epochs : int, default 0
        Train each pruned copy this many epochs with its pattern frozen
        before scoring (its own ``fit`` with ``warm_start=True``; one fit
        per cell of the table).
    scope : {'global', 'layer'}, default 'global'
        Ranking of the whole-network rows (see :func:`prune`).
    random_state : int, RandomState instance or None
        For ``method='random'`` (an int: the same draw at every sparsity).
    finetune_data : tuple (X_train, y_train), optional
        Data to fine-tune on (default: ``X, y`` themselves).

    Returns
    -------
    SensitivityTable
        ``.network``, ``.layers``, ``.baseline``; ``to_dict()``,
        ``to_markdown()`` (also its ``str``) and ``plot(ax=None)``
        (matplotlib, optional).
    """
    sparsities = [float(s) for s in sparsities]
    if not sparsities or any(not 0.0 <= s < 1.0 for s in sparsities):
        raise ValueError(f"sparsities must be a non-empty sequence of numbers in [0, 1), got "
                         f"{sparsities}")
    if finetune_data is not None and len(finetune_data) != 2:
        raise ValueError("finetune_data must be a tuple (X_train, y_train)")
    return _table(as_fastprox(model), X, y, sparsities=sparsities, per_layer=per_layer,
                        method=method, finetune_epochs=finetune_epochs, scope=scope,
                        random_state=random_state, finetune_data=finetune_data)
