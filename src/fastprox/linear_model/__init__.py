"""Sparse linear models: Lasso, ElasticNet, LogisticRegression, their paths and CV variants.

Drop-in counterparts of the scikit-learn estimators of the same names (same
objective scaling, parameters and fitted attributes), solved by working-set
coordinate descent with Anderson extrapolation (``_cd_solver.py``) and working-set
proximal Newton (``_newton_solver.py``).
"""
from ._coordinate_descent import ElasticNet, Lasso, enet_path, lasso_path
from ._cv import ElasticNetCV, LassoCV
from ._logistic import LogisticRegression
from ._logistic_cv import LogisticRegressionCV
from ._stochastic_gradient import SGDClassifier, SGDRegressor

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "LogisticRegression",
           "LogisticRegressionCV", "SGDClassifier", "SGDRegressor", "enet_path", "lasso_path"]
