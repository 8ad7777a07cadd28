"""Initializers against their formulas, by statistics with tolerances from the sample size, and against PyTorch."""

import numpy as np
import pytest

from dnn import DNN
from dnn.initializers import INITIALIZERS, canonical, draw, initial_weights

FAN_IN, FAN_OUT = 400, 300
N = FAN_IN * FAN_OUT

# name: (kind, standard deviation of the weights), from the published formulas
FORMULAS = {
    "he_normal": ("normal", np.sqrt(2 / FAN_IN)),
    "he_uniform": ("uniform", np.sqrt(6 / FAN_IN)),
    "glorot_normal": ("normal", np.sqrt(2 / (FAN_IN + FAN_OUT))),
    "glorot_uniform": ("uniform", np.sqrt(6 / (FAN_IN + FAN_OUT))),
    "lecun_normal": ("normal", np.sqrt(1 / FAN_IN)),
    "lecun_uniform": ("uniform", np.sqrt(3 / FAN_IN)),
    "torch": ("uniform", 1 / np.sqrt(FAN_IN)),
    "normal": ("normal", 0.01),
}


def check_distribution(w, kind, scale, count):
    """Mean, standard deviation and range of ``count`` draws against the formula, within 5 standard errors."""
    if kind == "uniform":
        limit, std, kurtosis = scale, scale / np.sqrt(3), 9 / 5
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() >= limit * (1 - 10 / count)  # the largest of `count` draws nears the limit
    else:
        std, kurtosis = scale, 3.0
        # about 4.55% of normal draws lie beyond 2 standard deviations, none of a uniform's
        beyond = np.mean(np.abs(w) > 2 * std)
        assert beyond == pytest.approx(0.0455, abs=5 * np.sqrt(0.0455 * 0.9545 / count))
    assert abs(w.mean()) <= 5 * std / np.sqrt(count)
    # the relative standard error of a sample variance is sqrt((kurtosis - 1) / n)
    assert w.var() == pytest.approx(std**2, rel=5 * np.sqrt((kurtosis - 1) / count))


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_weights_follow_the_formula(name):
    kind, scale = FORMULAS[name]
    w, b = draw(canonical(name), FAN_IN, FAN_OUT, np.random.default_rng(0), np.float64)
    assert w.shape == (FAN_IN, FAN_OUT) and b.shape == (FAN_OUT,)
    check_distribution(w, kind, scale, N)
    if name != "torch":
        np.testing.assert_array_equal(b, 0)


def test_torch_biases_are_uniform_within_one_over_sqrt_fan_in():
    _, b = draw("torch", 30, 20000, np.random.default_rng(1), np.float64)
    check_distribution(b, "uniform", 1 / np.sqrt(30), len(b))


def test_normal_with_a_given_standard_deviation():
    for spec in (("normal", 0.05), {"name": "normal", "std": 0.05}, {"name": "Gaussian", "std": 0.05}):
        assert canonical(spec) == {"name": "normal", "std": 0.05}
        w, _ = draw(canonical(spec), FAN_IN, FAN_OUT, np.random.default_rng(2), np.float32)
        check_distribution(w.astype(np.float64), "normal", 0.05, N)


def test_torch_matches_pytorch_nn_linear():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    layer = torch.nn.Linear(FAN_IN, 2000)
    theirs_w = layer.weight.detach().numpy().astype(np.float64)
    theirs_b = layer.bias.detach().numpy().astype(np.float64)
    ours_w, ours_b = draw("torch", FAN_IN, 2000, np.random.default_rng(3), np.float64)
    # the same bounds: both reach, and never pass, 1 / sqrt(fan_in)
    for ours, theirs in ((ours_w, theirs_w), (ours_b, theirs_b)):
        assert np.abs(ours).max() <= 1 / np.sqrt(FAN_IN) and np.abs(theirs).max() <= 1 / np.sqrt(FAN_IN) * (1 + 1e-6)
        assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=0.01)
    # the same spread: standard deviations agree within 5 combined standard errors
    tolerance = 5 * np.sqrt(2 * (9 / 5 - 1) / theirs_w.size) / 2
    assert ours_w.std() == pytest.approx(theirs_w.std(), rel=tolerance)
    assert ours_b.std() == pytest.approx(theirs_b.std(), rel=5 * np.sqrt(2 * 0.8 / 2000) / 2)


def test_default_is_unchanged_he_for_relu_glorot_otherwise():
    rng = np.random.default_rng(0)
    for activation in ("relu", "leaky_relu"):
        w, b = initial_weights(activation, 400, 300, rng, np.float32)
        assert w.dtype == np.float32
        assert w.var() == pytest.approx(2 / 400, rel=0.02)
        np.testing.assert_array_equal(b, np.zeros(300))
    for activation in ("sigmoid", "tanh", "identity", "softmax", "step"):
        w, _ = initial_weights(activation, 400, 200, rng, np.float64)
        assert np.abs(w).max() <= np.sqrt(6 / 600)
        assert w.var() == pytest.approx(6 / 600 / 3, rel=0.02)


def test_the_default_draws_exactly_what_its_named_initializer_draws():
    # The default picks an initializer by activation; naming it gives the same bits from the same seed.
    default, named = DNN(seed=7), DNN(seed=7)
    for model, inits in ((default, (None, None)), (named, ("he_normal", "glorot_uniform"))):
        model.addInputLayer([6])
        model.addHiddenLayer([5], activation="relu", initializer=inits[0])
        model.addOutputLayer([3], initializer=inits[1])
    assert default.initializers == named.initializers == [None, "he_normal", "glorot_uniform"]
    for layer in (2, 3):
        np.testing.assert_array_equal(default.w[layer], named.w[layer])
    # the old formula, written out: N(0, 2 / fan_in) from the same generator
    expected = (np.random.default_rng(7).standard_normal((6, 5)) * np.sqrt(2 / 6)).astype(np.float32)
    np.testing.assert_array_equal(default.w[2], expected)


def test_the_same_generator_state_gives_the_same_weights_in_both_dtypes():
    for name in INITIALIZERS:
        a, _ = initial_weights("relu", 5, 4, np.random.default_rng(3), np.float32, name)
        b, _ = initial_weights("relu", 5, 4, np.random.default_rng(3), np.float64, name)
        np.testing.assert_array_equal(a, b.astype(np.float32))


def test_per_layer_initializers_and_aliases():
    model = DNN(seed=0)
    model.addInputLayer([4])
    model.addHiddenLayer([3, 3], activation="tanh", initializer=["Xavier_Normal", ("normal", 0.1)])
    model.addOutputLayer([2], initializer="PyTorch")
    assert model.initializers == [None, "glorot_normal", {"name": "normal", "std": 0.1}, "torch"]
    assert np.abs(model.b[4]).max() > 0  # torch draws biases


@pytest.mark.parametrize(("initializer", "message"), [
    ("he_normall", r"unknown initializer 'he_normall'; did you mean 'he_normal'\?"),
    (("normal", -1.0), "must be a positive number, got -1.0"),
    ({"name": "he_normal", "std": 1.0}, "takes no standard deviation"),
    ({"std": 1.0}, r"\{'name': 'normal', 'std': 0.01\}"),
    (["he_normal"], "one per layer: 2 layers but 1 initializers"),
])
def test_bad_initializers_leave_the_model_unchanged(initializer, message):
    model = DNN(seed=0)
    model.addInputLayer([4])
    state = model.state.rng.bit_generator.state
    with pytest.raises(ValueError, match=message):
        model.addHiddenLayer([3, 3], initializer=initializer)
    assert model.units == [4] and model.initializers == [None] and model.state.rng.bit_generator.state == state
