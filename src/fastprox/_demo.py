"""``python -m fastprox demo``: train a pruned MLP on scikit-learn's digits and print the savings."""
import time
import warnings


def run_demo(quick=False):
    """Train a (64, 64) MLP to >= 90 % weight sparsity on ``load_digits`` and print the report.

    Dense phase with a small proximal L1, gradual (cubic) magnitude pruning to
    90 % per layer, fine-tuning with the pattern frozen; the pruned layers run
    as CSR. Uses only data bundled with scikit-learn (no download).

    Parameters
    ----------
    quick : bool, default False
        A few epochs only (a smoke test: accuracy is then not meaningful).

    Returns
    -------
    int
        0 (the exit status of the command).
    """
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from . import get_num_threads
    from .neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2,
                                                        random_state=0)
    params = dict(hidden_layer_sizes=(64, 64), learning_rate_init=3e-3, batch_size=64,
                  l1=1e-4, target_sparsity=0.9, pruning_schedule="gradual",
                  pruning_scope="layer", pruning_steps=10, pruning_interval=3,
                  max_iter=60, finetune_epochs=30, random_state=0)
    if quick:
        params.update(max_iter=3, pruning_steps=2, pruning_interval=1, finetune_epochs=1)
    model = MLPClassifier(**params)
    print(f"fastprox demo: MLP {X.shape[1]}-64-64-10 on digits ({X_train.shape[0]} train / "
          f"{X_test.shape[0]} test), {get_num_threads()} thread(s)")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0
    acc = model.score(X_test, y_test)
    print(f"trained in {fit_s:.2f} s ({model.n_iter_} epochs); weight sparsity "
          f"{model.sparsity_:.1%}; layers stored as {model.layer_storage_}")
    print(f"test accuracy: {acc:.4f}")
    print()
    print(model.sparsity_report(X_test, y_test, repeats=3 if quick else None))
    return 0
