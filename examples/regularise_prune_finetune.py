"""Regularise -> prune -> fine-tune, with the test accuracy at each stage.

1. train with an L1 penalty (``l1=``), which drives many weights towards 0;
2. prune the smallest 90 % of the weights by magnitude (layers go CSR);
3. fine-tune the survivors, the pattern frozen (pruned weights stay 0).
The same three stages without L1 are printed beside it: the penalty is what
lets the network survive the one-shot prune.
"""
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastprox.neural_network import MLPClassifier
from fastprox.pruning import prune

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, random_state=0)

print(f"{'l1':>7} {'trained':>8} {'pruned 90%':>11} {'fine-tuned':>11} {'sparsity':>9}  storage")
for l1 in (0.0, 1e-3):
    model = MLPClassifier((64, 64), l1=l1, learning_rate_init=3e-3, max_iter=80,
                          random_state=0).fit(X_train, y_train)
    trained = model.score(X_test, y_test)
    pruned = prune(model, sparsity=0.9)
    after_prune = pruned.score(X_test, y_test)
    pruned.set_params(l1=0.0, warm_start=True, max_iter=20).fit(X_train, y_train)
    print(f"{l1:7g} {trained:8.4f} {after_prune:11.4f} {pruned.score(X_test, y_test):11.4f} "
          f"{pruned.sparsity_:9.3f}  {','.join(pruned.layer_storage_)}")
