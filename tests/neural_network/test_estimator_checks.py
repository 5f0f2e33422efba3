"""scikit-learn's estimator checks on the MLPs, dense and with pruned CSR layers.

Fast settings (one small hidden layer, 50 epochs at a higher learning rate)
keep the whole set within a few seconds; they are still enough for the
accuracy / R^2 thresholds of ``check_classifiers_train`` and
``check_regressors_train``. The pruned variants store every layer as CSR
(``sparse_crossover=0.9`` above the 50 % density left by pruning), so fit,
predict, pickling and cloning are checked on the sparse path too; the
'lbfgs' variants check the quasi-Newton solver (sample weights included).

No check is expected to fail: none is skipped or marked.
"""
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastprox.neural_network import MLPClassifier, MLPRegressor

_FAST = dict(hidden_layer_sizes=(10,), max_iter=50, learning_rate_init=0.01, random_state=0)
_PRUNED = dict(_FAST, target_sparsity=0.5, finetune_epochs=5, sparse_crossover=0.9)
_LBFGS = dict(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=100, random_state=0)

ESTIMATORS = [
    MLPClassifier(**_FAST),
    MLPRegressor(**_FAST),
    MLPClassifier(**_PRUNED),
    MLPRegressor(**_PRUNED),
    MLPClassifier(**_LBFGS),
    MLPRegressor(**_LBFGS),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        # 50 epochs rarely meet tol; the checks are about the API, not convergence
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
