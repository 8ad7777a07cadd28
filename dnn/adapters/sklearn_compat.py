"""What the scikit-learn estimators need to work across scikit-learn releases, and the checks they fail by design."""

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # older releases: the estimator's own method
    def validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

#: Why the estimators are not equivalent under sample weights (the reason given for the checks below).
NOT_EQUIVALENT = ("mini-batch training is not equivalent to removing rows of weight 0 or repeating rows of weight k "
                   "to rtol 1e-7: the rows fill different mini-batches in a different shuffled order, a batch's "
                   "loss is divided by its row count (not its total weight), the standardization counts every row "
                   "once, and the default dtype is float32")

#: scikit-learn's estimator checks that these estimators fail by design, with the reason: pass it to
#: ``sklearn.utils.estimator_checks.check_estimator(estimator, expected_failed_checks=EXPECTED_FAILED_CHECKS)``
#: (scikit-learn >= 1.6; older releases read it from the estimators' tags).
EXPECTED_FAILED_CHECKS = {"check_sample_weight_equivalence_on_dense_data": NOT_EQUIVALENT}
