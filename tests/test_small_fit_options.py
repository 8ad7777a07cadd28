"""Issue 12, item 11: never-stopping patience, the default batch size, weighted evaluation, log-probabilities."""

import math
import warnings

import numpy as np
import pytest

from dnn import DNN
from dnn.losses import get_loss


def network(output=3, activation="softmax", features=4, **options):
    model = DNN(**{"lr": 0.1, "seed": 0, "dtype": "float64", **options})
    model.addInputLayer([features])
    model.addHiddenLayer([6], activation="tanh")
    model.addOutputLayer([output], activation=activation)
    return model


def blobs(n=60, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return rng.normal(0, 2, (classes, 4))[y] + rng.normal(size=(n, 4)), y


@pytest.mark.parametrize("never", [np.inf, math.inf])
def test_infinite_patience_never_stops(never):
    X, y = blobs()
    model = network(lr=5.0)  # a rate large enough that the loss goes up and down
    history = model.fit(X, y, epochs=30, batchSize=10, verbose=0, earlyStopping=never, minDelta=10.0)
    assert len(history["loss"]) == 30 and model.stoppedEarly is None


def test_the_default_batch_size_is_clipped_silently_and_a_chosen_one_with_a_warning():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 0, 0, 1])
    model = network(output=1, activation="sigmoid", features=2)
    quiet = network(output=1, activation="sigmoid", features=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y, epochs=3, verbose=0)
    with pytest.warns(UserWarning, match="batchSize 30 is larger than the 4 training samples"):
        quiet.fit(X, y, epochs=3, batchSize=30, verbose=0)
    np.testing.assert_array_equal(model.w[2], quiet.w[2])  # both ran one batch of 4 per epoch


def test_model_evaluate_with_sample_weights():
    X, y = blobs(n=40)
    model = network(l2=0.01)
    model.fit(X, y, epochs=2, batchSize=8, verbose=0)
    weights = np.random.default_rng(1).uniform(0, 3, 40)
    p = model.forwardPropagation(X)
    per_sample = get_loss("categorical_crossentropy")[0](p, np.eye(3)[y])
    l2_term = 0.005 * sum(float((model.w[layer] ** 2).sum()) for layer in (2, 3))
    result = model.modelEvaluate(X, y, verbose=0, sampleWeight=weights)
    assert result["loss"] == pytest.approx(per_sample @ weights / 40 + l2_term, rel=1e-12)
    correct = p.argmax(axis=1) == y
    assert result["accuracy"] == pytest.approx(weights[correct].sum() / weights.sum(), rel=1e-12)
    with pytest.raises(ValueError, match="sampleWeight must have one weight per sample"):
        model.modelEvaluate(X, y, verbose=0, sampleWeight=weights[:3])


def test_training_loss_equals_weighted_evaluation_before_the_update():
    X, y = blobs(n=30)
    weights = np.linspace(0.2, 2, 30)
    model = network()
    before = model.modelEvaluate(X, y, verbose=0, sampleWeight=weights)["loss"]
    history = model.fit(X, y, epochs=1, batchSize=30, verbose=0, sampleWeight=weights)
    assert history["loss"][0] == pytest.approx(before, rel=1e-12)


@pytest.mark.parametrize(("output", "activation", "labels"), [
    (3, "softmax", None), (1, "sigmoid", "binary"), (3, "sigmoid", None), (3, "sigmoid", "multilabel")])
def test_log_proba_is_the_log_of_proba(output, activation, labels):
    X, y = blobs()
    if labels == "binary":
        y = (y > 0).astype(int)
    elif labels == "multilabel":
        y = np.column_stack([y == 0, y > 0, y == 2]).astype(int)
    model = network(output=output, activation=activation)
    model.fit(X, y, epochs=2, batchSize=10, verbose=0)
    np.testing.assert_allclose(model.predictLogProba(X), np.log(model.predictProba(X)), rtol=1e-10, atol=1e-12)


def test_log_proba_stays_finite_where_the_probability_underflows():
    model = network(output=1, activation="sigmoid", features=1)
    model.w[2][...] = 0
    model.b[2][...] = 1.0  # hidden units output tanh(1)
    model.w[3][...] = 200.0
    model.b[3][...] = 0
    z = 200.0 * 6 * np.tanh(1.0)  # the output pre-activation, about 914: sigmoid(z) is 1 in float64
    log_proba = model.predictLogProba(np.zeros((1, 1)))
    assert model.predictProba(np.zeros((1, 1)))[0, 0] == 0.0
    # log(1 - sigmoid(z)) = -z - log(1 + exp(-z)) = -z to within exp(-z)
    assert log_proba[0, 0] == pytest.approx(-z, rel=1e-12)
    assert log_proba[0, 1] == pytest.approx(-math.exp(-z), abs=1e-300)


def test_log_proba_refuses_regression():
    with pytest.raises(ValueError, match="predictLogProba is for classifiers"):
        network(output=1, activation="identity").predictLogProba(np.zeros((2, 4)))
