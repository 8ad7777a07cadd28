import numpy as np
import pytest

from dnn import metrics
from dnn.data.tasks import get_task


def test_count_correct_hand_worked():
    p = np.array([[0.6, 0.4], [0.2, 0.8], [0.9, 0.1]])
    t = np.eye(2)[[0, 0, 0]]
    assert get_task("multiclass").count_correct(p, t) == 2
    assert get_task("binary").count_correct(np.array([[0.7], [0.2]]), np.array([[1.0], [1.0]])) == 1
    multilabel = np.array([[0.7, 0.2], [0.6, 0.6]])
    assert get_task("multilabel").count_correct(multilabel, np.array([[1.0, 0.0], [1.0, 0.0]])) == 1
    assert get_task("regression").count_correct(p, t) == 0


def test_confusion_and_scores_match_scikit_learn(rng):
    sk = pytest.importorskip("sklearn.metrics")
    true = rng.integers(0, 4, 200)
    predicted = np.where(rng.uniform(size=200) < 0.7, true, rng.integers(0, 4, 200))
    predicted[predicted == 3] = 2  # class 3 is never predicted: precision must be 0, not NaN
    confusion = metrics.confusion_matrix(true, predicted, 4)
    np.testing.assert_array_equal(confusion, sk.confusion_matrix(true, predicted, labels=range(4)))
    precision, recall, f1, support = metrics.precision_recall_f1(confusion)
    expected = sk.precision_recall_fscore_support(true, predicted, labels=range(4), zero_division=0)
    for ours, theirs in zip((precision, recall, f1, support), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_regression_scores_match_scikit_learn(rng):
    sk = pytest.importorskip("sklearn.metrics")
    y = rng.normal(size=(50, 2))
    p = y + rng.normal(0, 0.3, size=(50, 2))
    scores = metrics.regression_scores(p, y)
    assert scores["mse"] == pytest.approx(sk.mean_squared_error(y, p), rel=1e-12)
    assert scores["mae"] == pytest.approx(sk.mean_absolute_error(y, p), rel=1e-12)
    assert scores["r2"] == pytest.approx(sk.r2_score(y, p), rel=1e-12)


def test_multilabel_scores_are_per_label_and_match_scikit_learn(rng):
    sk = pytest.importorskip("sklearn.metrics")
    targets = (rng.uniform(size=(100, 3)) > 0.5).astype(float)
    outputs = np.clip(targets + rng.normal(0, 0.4, size=(100, 3)), 0, 1)
    result = get_task("multilabel").scores(outputs, targets, np.arange(3))
    predicted = (outputs >= 0.5).astype(int)
    precision, recall, f1, support = sk.precision_recall_fscore_support(targets.astype(int), predicted,
                                                                        zero_division=0)
    assert list(result["precision"].values()) == pytest.approx(precision.tolist(), rel=1e-12)
    assert list(result["recall"].values()) == pytest.approx(recall.tolist(), rel=1e-12)
    assert list(result["f1"].values()) == pytest.approx(f1.tolist(), rel=1e-12)
    assert list(result["support"].values()) == support.tolist()
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(targets.astype(int), predicted), rel=1e-12)
    assert "confusion_matrix" not in result
