"""Training history of the MLPs across calls: scikit-learn's warm-start and partial_fit bookkeeping.

As scikit-learn 1.9.1 (``BaseMultilayerPerceptron._initialize``,
``_fit_stochastic``, ``_update_no_improvement_count``):

- a new network (a cold ``fit``, the first ``partial_fit``) starts from
  ``loss_curve_ = []``, ``_no_improvement_count = 0``, ``t_ = 0`` and
  ``best_loss_ = inf`` -- or, with ``early_stopping``, ``validation_scores_
  = []``, ``best_validation_score_ = -inf`` and ``best_loss_ = None``;
- a ``warm_start`` fit and every ``partial_fit`` continue them:
  ``loss_curve_`` and ``validation_scores_`` grow, ``best_loss_``,
  ``best_validation_score_`` and the no-improvement count carry over into
  the stopping rule (so a fit that stopped on ``n_iter_no_change`` and is
  warm-started without improving stops after one epoch, as scikit-learn's),
  ``t_`` keeps counting samples;
- ``n_iter_`` is the number of epochs of the latest call (1 for
  ``partial_fit``; L-BFGS-B iterations with 'lbfgs', 0 when it starts at a
  minimum).

fastprox's additions follow the same rule: ``epoch_times_`` and
``epoch_phases_`` run parallel to ``loss_curve_``; the epochs of the pruning
and fine-tuning phases are part of the curve and of ``n_iter_`` (they do not
take part in the stopping rule); with ``solver='lbfgs'`` (scikit-learn keeps
no curve for it) the curve has one entry per iteration (the starting loss
when a run makes none). See
docs/design/mlp-warm-start.md.
"""
import numpy as np

__all__ = ["publish", "start"]


def _new_stop():
    return {"best_loss": np.inf, "best_val": -np.inf, "no_improve": 0}


def start(est, first, early_stopping):
    """The history a training run continues: ``None`` for a new network, else a dict.

    Keys: ``loss_curve``, ``epoch_times``, ``epoch_phases``,
    ``validation_scores`` (lists) and ``stop`` (``best_loss``, ``best_val``,
    ``no_improve``: the state of the stopping rule). A model fitted without
    early stopping and refitted with it starts the validation record afresh
    (scikit-learn fails there).
    """
    if first:
        return None
    curve = list(getattr(est, "loss_curve_", None) or [])
    times = list(getattr(est, "epoch_times_", []))
    phases = list(getattr(est, "epoch_phases_", []))
    stop = _new_stop()
    stop["no_improve"] = int(getattr(est, "_no_improvement_count", 0))
    best_loss = getattr(est, "best_loss_", None)
    if best_loss is not None:
        stop["best_loss"] = float(best_loss)
    scores = getattr(est, "validation_scores_", None)
    if early_stopping and scores is not None:
        scores = list(scores)
        best_val = getattr(est, "best_validation_score_", None)
        stop["best_val"] = -np.inf if best_val is None else float(best_val)
    else:
        scores = []
    if len(times) != len(curve) or len(phases) != len(curve):  # pickles of older versions
        times, phases = [np.nan] * len(curve), ["dense"] * len(curve)
    return {"loss_curve": curve, "epoch_times": times, "epoch_phases": phases,
            "validation_scores": scores, "stop": stop}


def publish(est, trainer, n_out, incremental, n_before, early_stopping):
    """Set ``est``'s fitted attributes from a finished training run.

    ``n_before``: the length of the loss curve the run continued;
    ``early_stopping``: whether it scored a validation split.
    """
    curve = trainer.loss_curve
    est.layers_ = trainer.layers
    est.loss_curve_ = curve
    est.loss_ = curve[-1]
    stop = trainer.stop
    if early_stopping:
        est.best_loss_ = None
        est.validation_scores_ = trainer.validation_scores
        est.best_validation_score_ = stop["best_val"]
    else:
        # the stopping rule's best, and the pruning / lbfgs epochs that run outside it
        est.best_loss_ = float(min([stop["best_loss"], *curve[n_before:]]))
        est.validation_scores_ = None
        est.best_validation_score_ = None
    est._no_improvement_count = int(stop["no_improve"])
    est.n_iter_ = trainer.n_iter
    est.t_ = trainer.seen
    est._optimizer = trainer.opt.detached()
    est.n_layers_ = len(trainer.layers) + 1
    est.n_outputs_ = n_out
    est.out_activation_ = trainer.out
    est.epoch_times_ = np.array(trainer.epoch_times)
    est.epoch_phases_ = trainer.epoch_phases
    if incremental:
        # the next block (often in another process: dask) continues the
        # shuffling sequence and needs the optimizer state in the pickle
        est._partial_rng = trainer.rng
        est._optimizer_pickled = True
