"""dnn.engine.evaluation: the one loop behind fit's validation figures and modelEvaluate's loss and accuracy."""

import math

import numpy as np
import pytest

from dnn import DNN
from dnn.data.tasks import BINARY, MULTICLASS, REGRESSION
from dnn.engine.evaluation import evaluate_chunks, mean_loss


def chunked(outputs, size):
    return ((start, min(start + size, len(outputs)), outputs[start:start + size])
            for start in range(0, len(outputs), size))


# three rows, two classes, worked by hand: cross-entropy -log p of each row's class
OUTPUTS = np.array([[0.8, 0.2], [0.4, 0.6], [0.9, 0.1]])
TARGETS = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
LOSSES = [-math.log(0.8), -math.log(0.4), -math.log(0.1)]  # only the first row is correct


@pytest.mark.parametrize("size", [1, 2, 3])
def test_sums_the_loss_and_counts_the_correct_rows_over_chunks_of_any_size(size):
    loss_sum, correct = evaluate_chunks(chunked(OUTPUTS, size), TARGETS, "categorical_crossentropy", MULTICLASS)
    assert loss_sum == pytest.approx(sum(LOSSES), rel=1e-12)
    assert correct == 1 and isinstance(correct, int)


def test_weights_weigh_the_loss_and_the_correct_rows():
    weights = np.array([2.0, 0.5, 1.0])
    loss_sum, correct = evaluate_chunks(chunked(OUTPUTS, 2), TARGETS, "categorical_crossentropy", MULTICLASS,
                                        weights=weights)
    assert loss_sum == pytest.approx(2.0 * LOSSES[0] + 0.5 * LOSSES[1] + LOSSES[2], rel=1e-12)
    assert correct == 2.0


def test_labels_are_encoded_chunk_by_chunk_and_the_scorer_sees_every_chunk():
    labels = np.array([0, 0, 1])
    seen = []

    def encode(rows):
        seen.append(len(rows))
        return np.eye(2)[rows]

    scorer = MULTICLASS.scorer(np.arange(2))
    loss_sum, correct = evaluate_chunks(chunked(OUTPUTS, 2), labels, "categorical_crossentropy", MULTICLASS,
                                        encode=encode, scorer=scorer, count_correct=False)
    assert seen == [2, 1] and correct == 0
    assert loss_sum == pytest.approx(sum(LOSSES), rel=1e-12)
    assert scorer.result(np.arange(2))["confusion_matrix"].tolist() == [[1, 1], [1, 0]]


def test_regression_counts_no_correct_rows():
    p, t = np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])
    loss_sum, correct = evaluate_chunks(chunked(p, 1), t, "squared_error", REGRESSION)
    assert loss_sum == pytest.approx(0.5 * 1 + 0.5 * 4) and correct == 0


def test_mean_loss_adds_the_l2_penalty_of_the_weights():
    weights = [np.array([[1.0, 2.0]]), np.array([[3.0]])]
    assert mean_loss(6.0, 3, weights, 0.1) == pytest.approx(2.0 + 0.05 * 14)


def test_fit_validation_loss_equals_model_evaluate_on_the_same_rows():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = DNN(lr=0.1, seed=0, l2=0.01)
    model.addInputLayer([3])
    model.addHiddenLayer([5])
    model.addOutputLayer([1], activation="sigmoid")
    model.fit(X[:80], y[:80], epochs=3, batchSize=20, verbose=0, validationData=(X[80:], y[80:]))
    assert model.task is BINARY
    evaluation = model.modelEvaluate(X[80:], y[80:], verbose=0)
    assert model.history["val_loss"][-1] == pytest.approx(evaluation["loss"], rel=1e-6)
    assert model.history["val_accuracy"][-1] == evaluation["accuracy"]
