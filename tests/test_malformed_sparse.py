"""Every estimator refuses a malformed sparse X with a clear ValueError.

SciPy builds CSR / CSC / COO matrices without checking their index arrays in full;
its conversions (``tocsc``, ``tocsr``), scikit-learn's solvers and fastprox's compiled
loops then read out of bounds: a segfault, or a fit on garbage. The estimators check
the structure before anything reads it, on fastprox's path and on the scikit-learn
fallbacks alike. Each case runs in a child process, so that a crash fails one test
instead of the whole run.
"""
import os
import subprocess
import sys

import pytest

CHILD = """
import sys, warnings
import numpy as np, scipy.sparse as sp
warnings.filterwarnings("ignore")
from fastprox.linear_model import (ElasticNet, Lasso, LassoCV, LogisticRegression,
                                   LogisticRegressionCV, SGDClassifier, SGDRegressor, lasso_path)
from fastprox.neural_network import MLPClassifier
name, fmt, defect = sys.argv[1:4]
rng = np.random.default_rng(0)
D = rng.standard_normal((40, 6))
D[D < 0.3] = 0
A = {"csr": sp.csr_array, "csc": sp.csc_array, "coo": sp.coo_array}[fmt](D)
good = sp.csr_array(D)
if defect == "index":
    (A.row if fmt == "coo" else A.indices)[3] = 10**6
else:  # indptr not monotone
    A.indptr[2], A.indptr[3] = A.indptr[3], A.indptr[2] - 1
y, yc = np.arange(40.0), np.arange(40) % 2
fits = {
    "Lasso": lambda: Lasso(alpha=0.01).fit(A, y),
    "ElasticNet": lambda: ElasticNet(alpha=0.01).fit(A, y),
    "LassoCV": lambda: LassoCV(cv=3).fit(A, y),
    "lasso_path": lambda: lasso_path(A, y),
    "LogisticRegression": lambda: LogisticRegression().fit(A, yc),
    "LogisticRegression saga": lambda: LogisticRegression(solver="saga").fit(A, yc),
    "LogisticRegressionCV": lambda: LogisticRegressionCV(Cs=3, cv=3).fit(A, yc),
    "SGDClassifier": lambda: SGDClassifier().fit(A, yc),
    "SGDRegressor huber": lambda: SGDRegressor(loss="huber").fit(A, y),
    "MLPClassifier": lambda: MLPClassifier(max_iter=3).fit(A, yc),
    # a model fitted on a sound matrix, then asked about a malformed one
    "Lasso predict": lambda: Lasso(alpha=0.01).fit(good, y).predict(A),
    "LogisticRegression predict": lambda: LogisticRegression().fit(good, yc).predict_proba(A),
    "SGDClassifier predict": lambda: SGDClassifier().fit(good, yc).predict(A),
    "MLPClassifier predict": lambda: MLPClassifier(max_iter=3).fit(good, yc).predict(A),
}
try:
    fits[name]()
except ValueError as e:
    print("ValueError:", e)
    sys.exit(0 if "malformed" in str(e) else 3)
sys.exit(4)  # fitted without noticing
"""

ESTIMATORS = ["Lasso", "ElasticNet", "LassoCV", "lasso_path", "LogisticRegression",
              "LogisticRegression saga", "LogisticRegressionCV", "SGDClassifier",
              "SGDRegressor huber", "MLPClassifier", "Lasso predict", "LogisticRegression predict",
              "SGDClassifier predict", "MLPClassifier predict"]
CASES = [(f, d) for f in ("csr", "csc") for d in ("index", "indptr")] + [("coo", "index")]


@pytest.mark.parametrize("fmt,defect", CASES, ids=[f"{f}-{d}" for f, d in CASES])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_malformed_sparse_X_raises(name, fmt, defect):
    res = subprocess.run([sys.executable, "-c", CHILD, name, fmt, defect],
                         capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.abspath(__file__)))
    assert res.returncode == 0, (
        f"return code {res.returncode} (negative: killed by signal {-res.returncode}; 3: a "
        f"ValueError without 'malformed'; 4: no error)\n{res.stdout[-2000:]}\n"
        f"{res.stderr[-2000:]}")
