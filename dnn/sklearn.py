"""scikit-learn estimators, where users import them from (the code is in :mod:`dnn.adapters.sklearn`)."""

from dnn.adapters.sklearn import EXPECTED_FAILED_CHECKS, DNNClassifier, DNNRegressor

__all__ = ["EXPECTED_FAILED_CHECKS", "DNNClassifier", "DNNRegressor"]
