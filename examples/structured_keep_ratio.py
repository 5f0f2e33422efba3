"""Structured pruning: keep a ratio p of each hidden layer's neurons, by importance.

Whole neurons go (a row of one matrix and a column of the next), so the
matrices shrink: a 64-64-64-10 network with p = 0.5 becomes 64-32-32-10,
stored dense. Printed: the shapes before and after, and the test accuracy
for each importance score, before and after 20 epochs of fine-tuning.
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
model = MLPClassifier((64, 64), max_iter=60, random_state=0).fit(X_train, y_train)
print("before:", [W.shape for W in model.coefs_], f"accuracy {model.score(X_test, y_test):.4f}")

p = 0.5
small = prune(model, keep_ratio=p, structured=True, method="l1")
print(f"after (keep_ratio={p}):", [W.shape for W in small.coefs_])

print(f"{'method':>9} {'pruned':>8} {'tuned':>8}")
for method in ("magnitude", "l1", "l2", "taylor", "random"):
    small = prune(model, keep_ratio=p, structured=True, method=method, random_state=0,
                  X=X_train, y=y_train)  # X, y: used by method="taylor" only
    pruned_acc = small.score(X_test, y_test)
    small.set_params(warm_start=True, max_iter=20).fit(X_train, y_train)
    print(f"{method:>9} {pruned_acc:8.4f} {small.score(X_test, y_test):8.4f}")
