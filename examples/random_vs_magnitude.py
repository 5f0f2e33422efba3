"""Random pruning, the baseline, against magnitude pruning at several sparsities.

The same trained (64, 64) MLP is pruned unstructured to each sparsity by
|w| (globally) and by choosing the weights at random (three seeds, averaged);
printed: the test accuracy of each, without fine-tuning and after 10 epochs
of fine-tuning with the pattern frozen.
"""
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastprox.neural_network import MLPClassifier
from fastprox.pruning import prune

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, random_state=0)
model = MLPClassifier((64, 64), max_iter=60, random_state=0).fit(X_train, y_train)
print(f"dense: accuracy {model.score(X_test, y_test):.4f}")


def scores(**kw):
    """Test accuracy of the pruned copy, untuned and after 10 epochs."""
    pruned = prune(model, **kw)
    before = pruned.score(X_test, y_test)
    pruned.set_params(warm_start=True, max_iter=10).fit(X_train, y_train)
    return before, pruned.score(X_test, y_test)


print(f"{'sparsity':>8} {'magnitude':>10} {'random':>8} {'mag tuned':>10} {'rnd tuned':>10}")
for s in (0.5, 0.7, 0.8, 0.9, 0.95):
    mag = scores(sparsity=s)
    rnd = np.mean([scores(sparsity=s, method="random", random_state=k) for k in range(3)], 0)
    print(f"{s:8.2f} {mag[0]:10.4f} {rnd[0]:8.4f} {mag[1]:10.4f} {rnd[1]:10.4f}")
