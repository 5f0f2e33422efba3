"""Magnitude pruning with a threshold: remove every weight with |w| < theta.

Train a (64, 64) MLP on digits, then for a few thresholds theta print the
sparsity it gives, the test accuracy (no fine-tuning) and how each layer is
stored (a layer sparser than ``sparse_crossover`` runs as CSR).
"""
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastprox.neural_network import MLPClassifier
from fastprox.pruning import prune

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model = MLPClassifier((64, 64), max_iter=60, random_state=0).fit(X_train, y_train)
print(f"dense: accuracy {model.score(X_test, y_test):.4f}")

print(f"{'theta':>6} {'sparsity':>9} {'accuracy':>9}  storage")
for theta in (0.01, 0.05, 0.1, 0.2, 0.3):
    pruned = prune(model, threshold=theta)  # a copy: model is untouched
    print(f"{theta:6.2f} {pruned.sparsity_:9.3f} {pruned.score(X_test, y_test):9.4f}  "
          f"{','.join(pruned.layer_storage_)}")
