"""Block-by-block and distributed training: partial_fit, dask-ml Incremental, joblib's dask backend.

The partial_fit tests need nothing beyond the test extras; the dask tests are
skipped when dask.distributed / dask_ml are absent (``pip install
".[distributed]"``). One in-process LocalCluster (2 workers x 1 thread) serves
the whole module: ``processes=False`` starts in well under a second and is
the reliable choice on a shared 2-core machine; the estimators still travel
through pickling between the client and the workers' tasks.
"""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

from fastprox.linear_model import SGDClassifier, SGDRegressor
from fastprox.neural_network import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0), y


# ------------------------------------------------------------ MLP partial_fit
def test_mlp_partial_fit_blocks_train_like_fit(digits):
    X, y = digits
    kw = dict(hidden_layer_sizes=(32,), random_state=0, learning_rate_init=0.01)
    inc = MLPClassifier(**kw)
    for _ in range(5):
        for i in range(0, len(y), 300):
            inc.partial_fit(X[i:i + 300], y[i:i + 300], classes=np.unique(y))
    full = MLPClassifier(max_iter=5, **kw).fit(X, y)
    # n_iter_ counts the latest call (1 for partial_fit), as scikit-learn
    assert inc.n_iter_ == 1 and len(inc.loss_curve_) == 5 * 6 and inc.t_ == 5 * len(y)
    assert inc.score(X, y) >= full.score(X, y) - 0.03
    assert inc.epoch_phases_ == ["partial"] * len(inc.loss_curve_)


def test_mlp_partial_fit_state_survives_pickling(digits):
    """The optimizer state and RNG travel with the model (dask pickles it between blocks)."""
    X, y = digits
    kw = dict(hidden_layer_sizes=(16,), random_state=0)
    a, b = MLPClassifier(**kw), MLPClassifier(**kw)
    classes = np.unique(y)
    for i in range(0, 900, 300):
        a.partial_fit(X[i:i + 300], y[i:i + 300], classes=classes)
        b.partial_fit(X[i:i + 300], y[i:i + 300], classes=classes)
        b = pickle.loads(pickle.dumps(b))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    # a model from fit still pickles without its optimizer state
    fitted = MLPClassifier(max_iter=2, **kw).fit(X, y)
    assert "_optimizer" not in pickle.loads(pickle.dumps(fitted)).__dict__


def test_mlp_partial_fit_classes_and_errors(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))  # a block may lack classes
    assert clf.predict_proba(X).shape == (len(y), 10)
    before = [layer.values.copy() for layer in clf.layers_]
    with pytest.raises(ValueError, match="not the same"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError):
        clf.partial_fit(X[:, :10], y)  # wrong width: the model is left untouched
    for layer, v in zip(clf.layers_, before):
        np.testing.assert_array_equal(layer.values, v)
    assert clf.n_iter_ == 1
    # partial_fit never prunes (pruning needs the full fit): with target_sparsity
    # set it trains the dense network, which a warm-started fit then prunes
    dense = MLPClassifier((8,), target_sparsity=0.5, random_state=0)
    dense.partial_fit(X, y, classes=np.arange(10))
    assert dense.sparsity_ < 0.05


def test_mlp_regressor_partial_fit():
    X, y = make_regression(400, 10, noise=1.0, random_state=0)
    y = y / y.std()
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    for _ in range(40):
        reg.partial_fit(X, y)
    assert reg.score(X, y) > 0.9
    assert reg.predict(X).shape == (400,)


# ------------------------------------------------------------------- dask
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("dask.distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                           dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _incremental():
    pytest.importorskip("dask_ml")
    import dask.array as da
    from dask_ml.wrappers import Incremental
    return da, Incremental


@pytest.mark.parametrize("est", [
    SGDClassifier(loss="log_loss", penalty="l1", alpha=1e-3, random_state=0),
    MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0),
], ids=["sgd", "mlp"])
def test_incremental_classifier(client, est):
    da, Incremental = _incremental()
    X, y = make_classification(2000, 20, n_informative=5, class_sep=2.0, random_state=0)
    Xd, yd = da.from_array(X, chunks=500), da.from_array(y, chunks=500)
    inc = Incremental(est, scoring="accuracy", shuffle_blocks=False)
    for _ in range(3):  # each fit is one pass over the blocks, continuing the model
        inc.partial_fit(Xd, yd, classes=[0, 1])
    assert type(inc.estimator_).__module__.startswith("fastprox.")
    assert inc.score(Xd, yd) > 0.85
    # same blocks in the same order, by hand: identical model
    ref = pickle.loads(pickle.dumps(est))
    for _ in range(3):
        for i in range(0, 2000, 500):
            ref.partial_fit(X[i:i + 500], y[i:i + 500], classes=[0, 1])
    np.testing.assert_array_equal(inc.estimator_.predict(X), ref.predict(X))


def test_incremental_finetunes_a_pruned_mlp(client):
    # prune in memory, fine-tune block by block: the zeros stay zeros
    from fastprox.pruning import prune
    da, Incremental = _incremental()
    X, y = make_classification(2000, 20, n_informative=5, class_sep=2.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPClassifier((32,), max_iter=30, random_state=0).fit(X[:500], y[:500])
    pruned = prune(dense, sparsity=0.9)
    zeros = [W == 0 for W in pruned.coefs_]
    inc = Incremental(pruned, scoring="accuracy", shuffle_blocks=False)
    inc.estimator_ = pruned  # continue this model (Incremental would start from a clone)
    inc.partial_fit(da.from_array(X, chunks=500), da.from_array(y, chunks=500), classes=[0, 1])
    model = inc.estimator_
    assert all(np.all(W[z] == 0) for W, z in zip(model.coefs_, zeros))
    assert model.sparsity_ == pytest.approx(0.9, abs=1e-3)
    assert model.score(X, y) > 0.8


def test_incremental_sgd_regressor_l1(client):
    da, Incremental = _incremental()
    X, y = make_regression(2000, 30, n_informative=5, noise=1.0, random_state=0)
    y = y / y.std()
    Xd, yd = da.from_array(X, chunks=400), da.from_array(y, chunks=400)
    inc = Incremental(SGDRegressor(penalty="l1", alpha=0.05, batch_size=32,
                                   learning_rate="constant", random_state=0))
    for _ in range(5):
        inc.partial_fit(Xd, yd)
    # dask_ml's own r2_score (what Incremental.score uses for regressors) fails on
    # dask 2026.8 ("cannot broadcast shape (nan,)"): score the fitted model locally
    assert inc.estimator_.score(X, y) > 0.95
    assert np.sum(inc.estimator_.coef_ == 0) >= 12  # of 25 noise features: exact zeros from the prox


def test_grid_search_on_dask_joblib_backend(client):
    import joblib
    from dask.distributed import get_task_stream
    from sklearn.model_selection import GridSearchCV, cross_val_score

    from fastprox.linear_model import Lasso

    Xd, yd = load_digits(return_X_y=True)
    X, y = make_regression(300, 50, n_informative=8, noise=2.0, random_state=0)
    grid = {"alpha": [0.1, 1.0, 10.0]}
    serial = GridSearchCV(Lasso(), grid, cv=3).fit(X, y)
    with get_task_stream(client) as ts, joblib.parallel_backend("dask"):
        dist = GridSearchCV(Lasso(), grid, cv=3, n_jobs=-1).fit(X, y)
        scores = cross_val_score(
            MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, learning_rate_init=0.01,
                          random_state=0),
            Xd / 16.0, yd, cv=3, n_jobs=-1)
    assert len(ts.data) > 0  # the fits ran as tasks on the cluster
    assert dist.best_params_ == serial.best_params_
    np.testing.assert_allclose(dist.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"])
    np.testing.assert_allclose(dist.best_estimator_.coef_, serial.best_estimator_.coef_)
    assert scores.shape == (3,) and scores.min() > 0.8
