"""Train a 90 %-sparse MLP on digits, export the CSR weights and print the savings."""
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from fastprox.neural_network import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2, random_state=0)
clf = MLPClassifier((64, 64), l1=1e-4, learning_rate_init=3e-3, batch_size=64, max_iter=60,
                    target_sparsity=0.9, pruning_schedule="gradual", pruning_scope="layer",
                    pruning_interval=3, finetune_epochs=30, random_state=0)
clf.fit(X_train, y_train)
print("test accuracy", clf.score(X_test, y_test))
for A in clf.sparse_coefs_:  # scipy CSR, (n_in, n_out) like coefs_
    print(A.shape, A.nnz)
print(clf.sparsity_report(X_test, y_test))
