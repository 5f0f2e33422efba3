"""``target_sparsity='auto'``: the sparsest network that keeps the dense network's score.

The search, run by ``fit`` on the split that ``early_stopping`` uses (a
fraction ``validation_fraction`` of the training set held out, stratified for
class labels; the network trains on the rest):

1. the dense phase runs **once**; its validation score ``s_dense`` is the
   reference;
2. a rung ``s`` of the sparsity ladder (:data:`SPARSITY_LADDER`) is tried on
   a copy of the dense network (weights, optimizer state and shuffling RNG
   copied): the pruning phase to ``s`` with Zhu & Gupta's gradual schedule
   (``pruning_steps`` events ``pruning_interval`` epochs apart, then
   ``finetune_epochs``), then its validation score ``s_val``; the rung
   *passes* if ``s_dense - s_val <= max_score_drop``;
3. the rungs are searched by bisection (the score falls as the sparsity
   rises), so that the sparsest passing rung is found in
   ``ceil(log2(len(ladder) + 1))`` = 3 tries for the 6 rungs, next to a
   failing sparser rung when one exists.

Cost: one dense phase plus 3 pruning phases of ``pruning_steps *
pruning_interval + finetune_epochs`` epochs each; the chosen copy is the fitted
model (it is not trained again), so the search costs two pruning phases more
than a fit with that ``target_sparsity``. If no rung passes, the dense network
is kept (with a warning). Reference: Zhu & Gupta (2017), "To prune, or not to
prune: exploring the efficacy of pruning for model compression".
"""
import copy
import warnings

from ._training import forward

__all__ = ["SPARSITY_LADDER", "search_sparsity"]

#: Sparsities tried by ``target_sparsity='auto'`` (bisection: 3 of them are trained).
SPARSITY_LADDER = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


class _Rung:
    """The estimator's parameters, but pruning to ``sparsity`` on the gradual schedule."""

    def __init__(self, est, sparsity):
        self._est = est
        self.target_sparsity = sparsity
        self.prune_threshold = None
        self.pruning_schedule = "gradual"

    def __getattr__(self, name):
        return getattr(self._est, name)


def _branch(trainer, sparsity):
    """A copy of ``trainer`` after its dense phase, pruned to ``sparsity`` and fine-tuned."""
    new = copy.copy(trainer)
    new.est = _Rung(trainer.est, sparsity)
    new.layers = copy.deepcopy(trainer.layers)
    new.opt = copy.copy(trainer.opt)
    new.opt.state = [([w.copy() for w in ws], [b.copy() for b in bs])
                     for ws, bs in trainer.opt.state]
    new.rng = copy.deepcopy(trainer.rng)
    new.loss_curve, new.epoch_times = list(trainer.loss_curve), list(trainer.epoch_times)
    new.epoch_phases = list(trainer.epoch_phases)
    new.validation_scores = list(trainer.validation_scores)
    new.stop = dict(trainer.stop)
    new.prune_phase()
    return new


def _score(trainer, held_out):
    XT_val, y_val, score = held_out
    est = trainer.est
    return float(score(forward(trainer.layers, XT_val, est.activation, trainer.out).T, y_val))


def search_sparsity(trainer, held_out, max_score_drop, ladder=SPARSITY_LADDER):
    """Train ``trainer``'s dense phase, then find the sparsest rung within ``max_score_drop``.

    Parameters
    ----------
    trainer : Trainer
        Set up by ``fit`` on the training part of the split.
    held_out : tuple
        ``(XT_val, y_val, score)``: the held-out part and ``score(output, y_val)``.
    max_score_drop : float
        Largest accepted ``dense score - pruned score`` on the held-out part.
    ladder : sequence of float
        Increasing sparsities to search.

    Returns
    -------
    chosen : Trainer
        The trainer of the chosen network (pruned and fine-tuned, or the dense one).
    table : dict of lists
        One entry per network trained, by increasing sparsity, dense first:
        ``sparsity``, ``validation_score``, ``score_drop``, ``within_drop``,
        ``epochs`` (trained for it after the dense phase, the dense phase's
        own for the dense row) and ``chosen``.
    """
    n_dense0 = len(trainer.loss_curve)
    trainer.dense_phase()
    n_dense = len(trainer.loss_curve)
    dense_score = _score(trainer, held_out)
    tried = {0.0: (dense_score, n_dense - n_dense0)}
    lo, hi, best = -1, len(ladder), None
    while hi - lo > 1:  # invariant: rung lo passes (-1: dense), rung hi fails (n: none)
        mid = (lo + hi) // 2
        branch = _branch(trainer, float(ladder[mid]))
        score = _score(branch, held_out)
        tried[float(ladder[mid])] = (score, len(branch.loss_curve) - n_dense)
        if dense_score - score <= max_score_drop:
            lo, best = mid, branch
        else:
            hi = mid
    if best is None:
        warnings.warn(f"target_sparsity='auto': every sparsity tried ({min(ladder)} and up) "
                      f"lost more than max_score_drop={max_score_drop} of the validation "
                      f"score {dense_score:.4f}; the dense network is kept", UserWarning,
                      stacklevel=4)
        best = _branch(trainer, None)  # no pruning: only the storage of L1's zeros
    chosen = float(ladder[lo]) if lo >= 0 else 0.0
    table = {k: [] for k in ("sparsity", "validation_score", "score_drop", "within_drop",
                             "epochs", "chosen")}
    for s in sorted(tried):
        score, epochs = tried[s]
        for key, value in (("sparsity", s), ("validation_score", score),
                           ("score_drop", dense_score - score),
                           ("within_drop", dense_score - score <= max_score_drop),
                           ("epochs", epochs), ("chosen", s == chosen)):
            table[key].append(value)
    return best, table
