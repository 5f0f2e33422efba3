"""A scikit-learn MLP, imported into fastprox, pruned to 90 % after the fact, and reported.

scikit-learn MLP -> ``from_sklearn`` (same predictions) -> ``prune(sparsity=0.9)``
(magnitude, and the random baseline) -> 30 epochs of fine-tuning with the
pattern frozen -> the sensitivity table and the savings report.
"""
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fastprox.neural_network import MLPClassifier
from fastprox.pruning import prune, sensitivity

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    sk = SkMLPClassifier((64, 64), max_iter=200, random_state=0).fit(X_train, y_train)

model = MLPClassifier.from_sklearn(sk)
print("scikit-learn accuracy      ", sk.score(X_test, y_test))
print("imported, same predictions ", (model.predict(X_test) == sk.predict(X_test)).all())

pruned = prune(model, sparsity=0.9)  # a copy: model is untouched
baseline = prune(model, sparsity=0.9, method="random", random_state=0)
print("90 % magnitude, no tuning  ", pruned.score(X_test, y_test), pruned.layer_storage_)
print("90 % random, no tuning     ", baseline.score(X_test, y_test))

pruned.set_params(warm_start=True, max_iter=30)  # fine-tune the survivors; zeros stay zero
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    pruned.fit(X_train, y_train)
print("90 % magnitude, 30 epochs  ", pruned.score(X_test, y_test), f"sparsity {pruned.sparsity_:.3f}")

print()
print(sensitivity(model, X_test, y_test))
print()
print(pruned.sparsity_report(X_test, y_test))
