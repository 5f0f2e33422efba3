"""The MLPs' parameter constraints (scikit-learn's ``_parameter_constraints``) and defaults.

scikit-learn's constraints for the parameters it shares, where our range is
the same; ``momentum < 1``, ``validation_fraction > 0`` are the ranges this
implementation has always accepted. The pruning parameters are fastprox's.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions

from ._base import ACTIVATIONS

__all__ = ["DEFAULT_SPARSE_CROSSOVER", "PARAMETER_CONSTRAINTS", "PRUNING_DEFAULTS",
           "REGRESSOR_CONSTRAINTS", "STOCHASTIC_SOLVERS"]

#: Density below which a pruned layer is stored and computed as CSR
#: (see docs/design/mlp-sparse-crossover.md).
DEFAULT_SPARSE_CROSSOVER = 0.3

#: What ``target_sparsity`` (or ``prune_threshold``) alone prunes with: Zhu & Gupta's
#: gradual schedule over 20 events 8 epochs apart, then 100 epochs of fine-tuning, no
#: automatic L1 (it did not win measurably); see docs/design/mlp-pruning-defaults.md.
PRUNING_DEFAULTS = {"pruning_schedule": "gradual", "pruning_steps": 20, "pruning_interval": 8,
                    "finetune_epochs": 100}

#: Solvers with mini-batches, ``partial_fit`` and the proximal L1 steps.
STOCHASTIC_SOLVERS = ("adam", "sgd")

_REAL_GE0 = [Interval(Real, 0, None, closed="left")]
_INT_GE1 = [Interval(Integral, 1, None, closed="left")]

PARAMETER_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "solver": [StrOptions({"sgd", "adam", "lbfgs"})],
    "alpha": _REAL_GE0,
    "l1": _REAL_GE0,
    "group_l1": _REAL_GE0,
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": _REAL_GE0,
    "max_iter": _INT_GE1,
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": _REAL_GE0,
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": _INT_GE1,
    "target_sparsity": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"}), None],
    "prune_threshold": [Interval(Real, 0, None, closed="left"), None],
    "pruning_schedule": [StrOptions({"oneshot", "iterative", "gradual"})],
    "pruning_steps": _INT_GE1,
    "pruning_interval": [Interval(Integral, 0, None, closed="left")],
    "pruning_scope": [StrOptions({"global", "layer"})],
    "structured": ["boolean"],
    "finetune_epochs": [Interval(Integral, 0, None, closed="left")],
    "sparse_crossover": [Interval(Real, 0, 1, closed="both")],
    "max_score_drop": _REAL_GE0,
}

REGRESSOR_CONSTRAINTS = {**PARAMETER_CONSTRAINTS,
                         "loss": [StrOptions({"squared_error", "poisson"})]}
