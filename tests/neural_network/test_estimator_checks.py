"""scikit-learn's estimator checks on the MLPs, dense and with pruned CSR layers.

Fast settings (one small hidden layer, 50 epochs at a higher learning rate)
keep the whole set within a few seconds; they are still enough for the
accuracy / R^2 thresholds of ``check_classifiers_train`` and
``check_regressors_train``. The pruned variants store every layer as CSR
(``sparse_crossover=0.9`` above the 50 % density left by pruning), so fit,
predict, pickling and cloning are checked on the sparse path too; the
'lbfgs' variants check the quasi-Newton solver (sample weights included).

No check is expected to fail: none is skipped or marked. The sample-weight
checks (``check_sample_weight_equivalence_on_dense_data`` / ``_on_sparse_data``
and the shape / list / pandas ones) run on every variant: ``fit`` takes
``sample_weight`` and the sparse input tag is set. They pass for the
stochastic solvers too, because the checks' 15 rows (and their repetitions)
fit in one 'auto' batch: the gradient of the weighted mean loss is then the
repeated rows' gradient. With batches smaller than the data, repeating a row
changes the batches and no stochastic solver can pass them; scikit-learn runs
them on its own MLPs with ``solver='lbfgs'`` (classifier) and ``solver='sgd',
tol=1e-2`` (regressor) (``PER_ESTIMATOR_CHECK_PARAMS`` in
``sklearn/utils/_test_common/instance_generator.py``): those variants are here
too, and ``test_sample_weight_checks_run`` makes sure the checks are collected.
"""
import functools
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (_yield_all_checks, parametrize_with_checks,
                                            check_sample_weight_equivalence_on_dense_data,
                                            check_sample_weight_equivalence_on_sparse_data)

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
    MLPClassifier(**_LBFGS, l1=1e-4),  # OWL-QN
    MLPRegressor(**_LBFGS, l1=1e-4),
]
# scikit-learn's check parameters for its own MLPs' sample-weight equivalence
SKLEARN_WEIGHT_PARAMS = [MLPClassifier(solver="lbfgs", max_iter=100),
                         MLPRegressor(solver="sgd", tol=1e-2, random_state=42, max_iter=100)]

_WEIGHT_CHECKS = {"check_sample_weight_equivalence_on_dense_data",
                  "check_sample_weight_equivalence_on_sparse_data", "check_sample_weights_shape",
                  "check_sample_weights_list", "check_sample_weights_not_overwritten",
                  "check_estimator_sparse_array", "check_estimator_sparse_matrix"}


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        # 50 epochs rarely meet tol; the checks are about the API, not convergence
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_sample_weight_checks_run(estimator):
    names = {(c.func if isinstance(c, functools.partial) else c).__name__
             for c in _yield_all_checks(estimator, legacy=True)}
    assert _WEIGHT_CHECKS <= names


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("estimator", SKLEARN_WEIGHT_PARAMS, ids=repr)
def test_sample_weight_equivalence_with_sklearn_check_params(estimator, sparse):
    check = check_sample_weight_equivalence_on_sparse_data if sparse else \
        check_sample_weight_equivalence_on_dense_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("params", [dict(solver="adam", batch_size=4),
                                    dict(solver="sgd", batch_size=4)])
def test_minibatch_weights_are_not_repetitions(cls, params):
    # with batches smaller than the data, repeated rows change the batches: the
    # equivalence cannot hold for a stochastic solver (nor does it for scikit-learn's)
    est = cls(hidden_layer_sizes=(10,), max_iter=50, learning_rate_init=0.01,
              random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for check in (check_sample_weight_equivalence_on_dense_data,
                      check_sample_weight_equivalence_on_sparse_data):
            with pytest.raises(AssertionError, match="not equivalent"):
                check(cls.__name__, est)


def test_batch_of_zero_weights_is_skipped():
    # a mini-batch whose weights are all zero has no weighted mean loss: no step
    # (it used to divide by zero); the rest trains as if its rows were removed
    rng = np.random.RandomState(0)
    X, y = rng.rand(20, 5), rng.randint(0, 2, 20)
    sw = np.r_[np.zeros(4), np.ones(16)]
    kw = dict(hidden_layer_sizes=(4,), solver="sgd", batch_size=4, shuffle=False, max_iter=3,
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**kw).fit(X, y, sample_weight=sw)
        b = MLPClassifier(**kw).fit(X[4:], y[4:])
    for ca, cb in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(ca, cb, rtol=1e-12)
