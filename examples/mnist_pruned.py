"""784 -> 64 -> 64 -> 10 on MNIST: train, prune 90 % by magnitude, fine-tune, report.

Reads the MNIST test set (10,000 images) from ``../shared/data/mnist`` next to
the project root, or the directory given as the first argument; it never
downloads. The split is the benchmark protocol of that directory's README
(pixels / 255, ``train_test_split(test_size=0.2, random_state=0, stratify=y)``).

    python examples/mnist_pruned.py [/path/to/mnist]
"""
import gzip
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastprox.neural_network import MLPClassifier
from fastprox.pruning import prune

data = Path(sys.argv[1] if len(sys.argv) > 1
            else Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist")
images, labels = data / "t10k-images-idx3-ubyte.gz", data / "t10k-labels-idx1-ubyte.gz"
if not (images.is_file() and labels.is_file()):
    sys.exit(f"MNIST not found: {images} and {labels} are needed (IDX format, gzip); "
             "this example does not download data. Pass the directory as an argument.")
with gzip.open(images) as f:
    X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784) / 255.0
with gzip.open(labels) as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0,
                                                    stratify=y)
warnings.simplefilter("ignore", ConvergenceWarning)

model = MLPClassifier((64, 64), l1=1e-5, batch_size=128, max_iter=30, random_state=0)
model.fit(X_train, y_train)
print(f"dense 784-64-64-10: accuracy {model.score(X_test, y_test):.4f}")
pruned = prune(model, sparsity=0.9)
print(f"pruned to 90 %:     accuracy {pruned.score(X_test, y_test):.4f} "
      f"(storage {','.join(pruned.layer_storage_)})")
pruned.set_params(warm_start=True, max_iter=10).fit(X_train, y_train)
print(f"after 10 epochs:    accuracy {pruned.score(X_test, y_test):.4f} "
      f"(sparsity {pruned.sparsity_:.3f})")
print()
print(pruned.sparsity_report(X_test[:256], y_test[:256]))
