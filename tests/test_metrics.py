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


# ---------------------------------------------------------------- metrics by name


def test_metrics_by_name_hand_worked():
    true, predicted = [0, 1, 1, 2], [0, 1, 2, 2]
    assert metrics.accuracy(true, predicted) == 0.75 and metrics.error(true, predicted) == 0.25
    # precision per class 1, 1, 1/2; recall 1, 1/2, 1
    assert metrics.precision(true, predicted) == pytest.approx(2.5 / 3, rel=1e-15)
    assert metrics.recall(true, predicted) == pytest.approx(2.5 / 3, rel=1e-15)
    assert metrics.f1(true, predicted) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3, rel=1e-15)
    assert metrics.accuracy([[1, 0], [1, 1]], [[1, 0], [0, 1]]) == 0.5          # rows of labels: all right or not
    # positives score 0.8 and 0.4, negatives 0.4 and 0.1: of 4 pairs, 3 ordered and one tie
    assert metrics.roc_auc([1, 0, 1, 0], [0.8, 0.4, 0.4, 0.1]) == pytest.approx(3.5 / 4, rel=1e-15)
    # thresholds 0.8 (P 1, R 1/2), 0.4 (P 2/3, R 1), 0.1 (P 1/2, R 1): 1/2 * 1 + 1/2 * 2/3
    assert metrics.average_precision([1, 0, 1, 0], [0.8, 0.4, 0.4, 0.1]) == pytest.approx(5 / 6, rel=1e-15)
    assert metrics.log_loss([0, 1], [[0.5, 0.5], [0.2, 0.8]]) == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2)
    assert metrics.log_loss([0, 1], [0.25, 0.8]) == pytest.approx(-(np.log(0.75) + np.log(0.8)) / 2)
    assert metrics.mse([1.0, 2.0], [2.0, 0.0]) == 2.5 and metrics.mae([1.0, 2.0], [2.0, 0.0]) == 1.5
    assert metrics.r2([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]) == pytest.approx(0.5, rel=1e-15)


def test_metrics_by_name_match_scikit_learn(rng):
    sk = pytest.importorskip("sklearn.metrics")
    labels = rng.integers(0, 3, 300)
    predicted = np.where(rng.uniform(size=300) < 0.6, labels, rng.integers(0, 3, 300))
    assert metrics.accuracy(labels, predicted) == pytest.approx(sk.accuracy_score(labels, predicted), rel=1e-15)
    for name, theirs in (("precision", sk.precision_score), ("recall", sk.recall_score), ("f1", sk.f1_score)):
        expected = theirs(labels, predicted, average="macro", zero_division=0)
        assert metrics.METRICS[name][0](labels, predicted) == pytest.approx(expected, rel=1e-12), name
    binary = (labels == 1).astype(int)
    score = np.round(binary * 0.3 + rng.uniform(size=300), 1)        # rounded: many tied scores
    assert metrics.roc_auc(binary, score) == pytest.approx(sk.roc_auc_score(binary, score), rel=1e-12)
    assert metrics.average_precision(binary, score) == pytest.approx(sk.average_precision_score(binary, score),
                                                                     rel=1e-12)
    probabilities = rng.dirichlet(np.ones(3), 300)
    assert metrics.log_loss(labels, probabilities) == pytest.approx(sk.log_loss(labels, probabilities), rel=1e-12)
    y, p = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    for name, theirs in (("mse", sk.mean_squared_error), ("mae", sk.mean_absolute_error), ("r2", sk.r2_score)):
        assert metrics.METRICS[name][0](y, p) == pytest.approx(theirs(y, p), rel=1e-12), name


@pytest.mark.parametrize(("call", "message"), [
    (lambda: metrics.roc_auc([1, 1, 1], [0.1, 0.2, 0.3]), "roc_auc needs targets of two classes, both present; got 1"),
    (lambda: metrics.average_precision([0, 1], [0.1, 0.9, 0.2]),
     r"average_precision takes one score per sample, \(n,\) or \(n, 1\), for n = 2 targets; got shape \(3,\)"),
    (lambda: metrics.roc_auc([0, 1, 2], [[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]]),
     r"roc_auc: 3 targets of 3 classes for scores of shape \(3, 2\) \(one column per class, in sorted order\)"),
    (lambda: metrics.average_precision([[0, 1]], [[0.1, 0.9, 0.3]]),
     r"average_precision: labels of shape \(1, 2\) for scores of shape \(1, 3\)"),
])
def test_ranking_scores_refuse_what_they_cannot_score(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_ranking_metrics_of_several_columns_and_with_weights_match_scikit_learn(rng):
    sk = pytest.importorskip("sklearn.metrics")
    labels = rng.integers(0, 4, 400)
    scores = np.round(rng.dirichlet(np.ones(4), 400) + 0.2 * np.eye(4)[labels], 1)  # rounded: tied scores
    scores /= scores.sum(axis=1, keepdims=True)  # one-vs-rest needs rows of probabilities in scikit-learn
    weights = rng.uniform(0, 2, 400)
    weights[:20] = 0.0  # left out, as scikit-learn leaves them out
    indicator = (rng.uniform(size=(400, 3)) < 0.4).astype(int)
    label_scores = np.round(np.clip(indicator + rng.normal(0, 0.6, size=(400, 3)), 0, 1), 1)
    binary = (labels == 1).astype(int)
    for w in (None, weights):
        cases = [
            (metrics.roc_auc(labels, scores, w), sk.roc_auc_score(labels, scores, multi_class="ovr", sample_weight=w)),
            # macro over one-vs-rest columns, written out: scikit-learn before 1.3 takes no multiclass here
            (metrics.average_precision(labels, scores, w),
             np.mean([sk.average_precision_score(labels == k, scores[:, k], sample_weight=w) for k in range(4)])),
            (metrics.roc_auc(indicator, label_scores, w), sk.roc_auc_score(indicator, label_scores, sample_weight=w)),
            (metrics.average_precision(indicator, label_scores, w),
             sk.average_precision_score(indicator, label_scores, sample_weight=w)),
            (metrics.roc_auc(binary, scores[:, 1], w), sk.roc_auc_score(binary, scores[:, 1], sample_weight=w)),
            (metrics.average_precision(binary, scores[:, 1:2], w),
             sk.average_precision_score(binary, scores[:, 1], sample_weight=w)),
            (metrics.log_loss(labels, scores, w), sk.log_loss(labels, scores, sample_weight=w)),
        ]
        for ours, theirs in cases:
            assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_ranking_scores_hand_worked_with_weights_and_where_undefined():
    # positives score 0.8 (weight 2) and 0.4 (weight 1); negatives 0.4 (weight 1) and 0.1 (weight 3):
    # of the pair weights 2*1 + 2*3 + 1*1 + 1*3 = 12, ordered 2 + 6 + 3 and tied 1 (half): AUC 11.5 / 12
    positive = np.array([True, True, False, False])
    score, weight = np.array([0.8, 0.4, 0.4, 0.1]), np.array([2.0, 1.0, 1.0, 3.0])
    auc, ap = metrics.ranking_scores(positive, score, weight)
    assert auc == pytest.approx(11.5 / 12, rel=1e-15)
    # thresholds 0.8 (P 1, R 2/3), 0.4 (P 3/4, R 1), 0.1 (recall unchanged): 2/3 * 1 + 1/3 * 3/4
    assert ap == pytest.approx(2 / 3 + 1 / 4, rel=1e-15)
    auc, ap = metrics.ranking_scores(np.zeros(3, bool), score[:3])
    assert np.isnan(auc) and np.isnan(ap)  # no positives: neither is defined
    auc, ap = metrics.ranking_scores(np.ones(3, bool), score[:3])
    assert np.isnan(auc) and ap == 1.0  # no negatives: no AUC, every threshold is all right
    assert np.isnan(metrics.roc_auc([[1, 0], [1, 1]], [[0.9, 0.2], [0.8, 0.7]]))  # label 0 is always set


def test_log_loss_clips_like_scikit_learn_and_weighs_rows():
    p = np.array([[1.0, 0.0], [0.3, 0.7], [0.0, 1.0]])  # the first row's true class has probability 0
    for dtype in (np.float64, np.float32):
        probabilities = p.astype(dtype)
        # scikit-learn >= 1.3 clips at the dtype's machine epsilon (older releases at 1e-15): the formula written out
        clipped = -(np.log(np.finfo(dtype).eps) + np.log(np.float64(probabilities[1, 1])) + 0.0) / 3
        assert metrics.log_loss([1, 1, 1], probabilities) == pytest.approx(clipped, rel=1e-6)
    expected = -(2.0 * np.log(np.finfo(float).eps) + 1.0 * np.log(0.7)) / 3.0
    assert metrics.log_loss([1, 1], p[:2], sample_weight=[2.0, 1.0]) == pytest.approx(expected, rel=1e-14)


def test_every_metric_is_a_function_and_a_direction_found_by_name():
    assert metrics.REGISTRY.entries is metrics.METRICS
    assert metrics.higher_is_better("AUC") is True and metrics.higher_is_better("mean_squared_error") is False
    with pytest.raises(ValueError, match=r"unknown metric 'acuracy'; did you mean 'accuracy'\?"):
        metrics.higher_is_better("acuracy")
