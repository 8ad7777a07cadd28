import numpy as np
import pytest

from dnn.initializers import initial_weights


def test_he_for_relu_family_has_variance_two_over_fan_in():
    rng = np.random.default_rng(0)
    for activation in ("relu", "leaky_relu"):
        w, b = initial_weights(activation, 400, 300, rng, np.float32)
        assert w.shape == (400, 300) and w.dtype == np.float32
        assert w.var() == pytest.approx(2 / 400, rel=0.02)
        assert w.mean() == pytest.approx(0, abs=3 * np.sqrt(2 / 400 / w.size))
        np.testing.assert_array_equal(b, np.zeros(300))


def test_glorot_for_symmetric_activations_is_uniform_within_the_limit():
    rng = np.random.default_rng(1)
    limit = np.sqrt(6 / (400 + 200))
    for activation in ("sigmoid", "tanh", "identity", "softmax"):
        w, _ = initial_weights(activation, 400, 200, rng, np.float64)
        assert np.abs(w).max() <= limit
        assert w.var() == pytest.approx(limit**2 / 3, rel=0.02)


def test_the_same_generator_state_gives_the_same_weights():
    a, _ = initial_weights("relu", 5, 4, np.random.default_rng(3), np.float32)
    b, _ = initial_weights("relu", 5, 4, np.random.default_rng(3), np.float64)
    np.testing.assert_array_equal(a, b.astype(np.float32))
