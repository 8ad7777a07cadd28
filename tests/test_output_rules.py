"""One threshold rule for binary predictions and evaluation; log-probabilities as an exact log-softmax."""

import numpy as np
import pytest

from dnn import DNN


def binary_model_with_pre_activation(z):
    """A 1-1 sigmoid network whose pre-activation is exactly ``z`` (float32) for every row."""
    model = DNN(seed=0)
    model.addInputLayer([1])
    model.addOutputLayer([1], activation="sigmoid")
    model.w[2] = np.zeros((1, 1))
    model.b[2] = np.array([z])
    return model


@pytest.mark.parametrize("z", [-1e-8, -2e-8, 1e-8, 0.0])
def test_predict_and_evaluate_agree_where_the_probability_rounds_to_one_half(z):
    model = binary_model_with_pre_activation(z)
    X = np.zeros((3, 1))
    p = model.predictProba(X)[:, 1]
    assert p[0] == np.float32(0.5)                          # float32 sigmoid(z) rounds to exactly 0.5 here
    predicted = model.predict(X)
    assert (predicted == 1).all()                           # p >= 0.5: the second class, as evaluation decides
    assert model.modelEvaluate(X, np.ones(3, dtype=int), verbose=0)["accuracy"] == 1.0


def test_predict_and_evaluate_agree_on_either_side_of_the_threshold():
    model = binary_model_with_pre_activation(-1e-3)         # p = 0.49975: clearly below
    X = np.zeros((2, 1))
    assert (model.predict(X) == 0).all()
    assert model.modelEvaluate(X, np.zeros(2, dtype=int), verbose=0)["accuracy"] == 1.0


def softmax_model(weights):
    """An input-output softmax network with integer weights: its pre-activations X @ W are exact in float32."""
    model = DNN(seed=0)
    model.addInputLayer([weights.shape[0]])
    model.addOutputLayer([weights.shape[1]], activation="softmax")
    model.w[2] = weights
    model.b[2] = np.zeros(weights.shape[1])
    return model


def exact_log_softmax(z):
    """Reference in float64 from exact pre-activations: log p_k = (z_k - m) - log(1 + s), s the sum of the other
    rows' exp(z_j - m); for s < 1e-4 log(1 + s) is its series s - s^2/2 + s^3/3 (error below s^4 / 4, 1e-16 s),
    which float64's log(1 + s) would round to 0 for s below 1e-16."""
    shifted = z - z.max(axis=1, keepdims=True)
    terms = np.exp(shifted)
    terms[np.arange(len(z)), z.argmax(axis=1)] = 0               # the largest term, exp(0) = 1, apart
    others = terms.sum(axis=1, keepdims=True)
    log1p = np.where(others < 1e-4, others - others**2 / 2 + others**3 / 3, np.log(1 + others))
    return shifted - log1p


def test_log_probabilities_are_the_exact_log_softmax_to_float32_rounding():
    rng = np.random.default_rng(0)
    weights = rng.integers(-3, 4, size=(6, 5)).astype(float)
    X = rng.integers(-4, 5, size=(200, 6)).astype(float)
    X[:20] *= 40                                            # extreme logits: probabilities below 1e-38 and near 1
    model = softmax_model(weights)
    expected = exact_log_softmax(X @ weights)               # integers: exactly the float32 products
    got = model.predictLogProba(X)
    assert got.dtype == np.float32 and np.isfinite(got).all()
    # relative to the value, down to float32's smallest normal number (below it float32 keeps fewer digits)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=np.finfo(np.float32).tiny)
    # probabilities within 1e-6 of 1, whose tiny logarithms log(1 + s) would round to 0
    assert ((expected > -1e-6) & (expected < 0)).any()


def test_log_probabilities_agree_with_the_log_of_the_probabilities_where_both_are_exact_enough():
    rng = np.random.default_rng(1)
    weights = rng.integers(-2, 3, size=(4, 3)).astype(float)
    X = rng.integers(-3, 4, size=(500, 4)).astype(float)
    model = softmax_model(weights)
    p, log_p = model.predictProba(X), model.predictLogProba(X)
    # away from 1, log(p) is as exact as p (relative error of log p <= eps / |log p|)
    usable = (p > 1e-30) & (p < 0.5)
    np.testing.assert_allclose(log_p[usable], np.log(p[usable].astype(np.float64)), rtol=1e-6)
