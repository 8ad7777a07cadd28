"""dnn.activations.register: an activation of the user's own, checked when registered, then like a built-in."""

import re

import numpy as np
import pytest

from dnn import DNN, ModelFileError
from dnn import activations as act


@pytest.fixture(autouse=True)
def unregister_afterwards():
    """Leave the activation registry as the built-ins made it (test_registry checks that)."""
    yield
    for name in [name for name in act.ACTIVATIONS if name not in act.REGISTRY.builtins]:
        del act.ACTIVATIONS[name]
        act.DERIVATIVES.pop(name, None)
        act.PRE_ACTIVATION.discard(name)


def softsign(z):
    return z / (1 + np.abs(z))


def softsign_derivative(a, grad):
    """From the output: d/dz z / (1 + |z|) = 1 / (1 + |z|)^2 = (1 - |a|)^2."""
    return grad * (1 - np.abs(a)) ** 2


def mish(z):
    return z * np.tanh(np.logaddexp(0, z))


def mish_derivative(z, grad):
    """From the pre-activation: tanh(sp) + z sech^2(sp) sigmoid(z), sp = softplus(z)."""
    t = np.tanh(np.logaddexp(0, z))
    return grad * (t + z * (1 - t * t) / (1 + np.exp(-z)))


def problem(rng, rows=30):
    return rng.normal(size=(rows, 4)), rng.integers(0, 3, rows)


def build(activation, dtype="float64", dropout=0.0):
    model = DNN(seed=0, dtype=dtype, lr=0.05)
    model.addInputLayer([4])
    model.addHiddenLayer([6, 5], activation=[activation, "tanh"], dropout=dropout)
    model.addOutputLayer([3])
    return model


@pytest.mark.parametrize(("name", "forward", "derivative", "uses"), [
    ("softsign", softsign, softsign_derivative, "output"),
    ("mish", mish, mish_derivative, "pre_activation"),
])
def test_a_registered_activation_builds_trains_checks_and_describes_itself(name, forward, derivative, uses, rng):
    assert act.register(name, forward, derivative, uses=uses) == name
    assert name in act.HIDDEN_ACTIVATIONS and act.takes_pre_activation(name) == (uses == "pre_activation")
    X, y = problem(rng)
    model = build(name.upper())  # any spelling, as for the built-ins
    assert model.activations == [None, name, "tanh", "softmax"]
    errors = model.gradientCheck(X, y)
    assert max(errors.values()) < 1e-6, errors
    before = model.w[2].copy()
    model.fit(X, y, epochs=2, batchSize=8, verbose=0)
    assert np.isfinite(model.history["loss"]).all() and not np.array_equal(model.w[2], before)
    config = model.getConfig()
    assert config["layers"][1]["activation"] == name
    assert DNN.fromConfig(config).activations == model.activations
    lines = []
    model.summary(printFn=lines.append)
    assert name in "\n".join(lines)
    # the training path (workspace, dropout) and the textbook path take the same derivative
    dropped = build(name, dropout=[0.3, 0.0])
    dropped.fit(X, y, epochs=1, batchSize=8, verbose=0)
    assert np.isfinite(dropped.history["loss"]).all()


def test_by_hand_and_float32(rng):
    act.register("softsign", softsign, softsign_derivative)
    forward, backward = act.get_activation("softsign")
    z = rng.normal(size=(3, 4)).astype(np.float32)
    out = np.empty_like(z)
    assert forward(z, out=out) is out and out.dtype == np.float32
    np.testing.assert_allclose(out, softsign(z), rtol=1e-7)
    np.testing.assert_allclose(act.DERIVATIVES["softsign"]([0.0, 1.0, -3.0]), [1.0, 0.25, 1 / 16], rtol=1e-15)
    assert backward(out, np.ones_like(out)).dtype == np.float32


def test_a_model_file_records_only_the_name(tmp_path, rng):
    act.register("softsign", softsign, softsign_derivative)
    X, y = problem(rng)
    model = build("softsign")
    model.fit(X, y, epochs=1, verbose=0)
    model.saveModel(tmp_path / "m.pkl")
    data = (tmp_path / "m.pkl").read_bytes()
    assert b"softsign" in data and b"softsign_derivative" not in data and b"test_user_activations" not in data
    np.testing.assert_array_equal(DNN.importModel(tmp_path / "m.pkl").predictProba(X), model.predictProba(X))
    del act.ACTIVATIONS["softsign"]  # a new session, before the activation is registered again
    with pytest.raises(ModelFileError, match="softsign"):
        DNN.importModel(tmp_path / "m.pkl")
    act.register("softsign", softsign, softsign_derivative)
    np.testing.assert_array_equal(DNN.importModel(tmp_path / "m.pkl").predictProba(X), model.predictProba(X))


def test_it_is_for_hidden_layers_only():
    act.register("softsign", softsign, softsign_derivative)
    model = DNN()
    model.addInputLayer([3])
    with pytest.raises(ValueError, match="softsign is not a valid output activation"):
        model.addOutputLayer([2], activation="softsign")


def test_exports_refuse_it_naming_the_layer(tmp_path):
    act.register("softsign", softsign, softsign_derivative)
    model = build("softsign")
    message = "cannot export layer 2's activation 'softsign': it is an activation of your own"
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match=f"exportONNX {message}.*ONNX has no operator"):
        model.exportONNX(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match=f"toTorch {message}.*torch.nn has no module"):
        model.toTorch()


def wrong_derivative(a, grad):
    return grad * (1 - np.abs(a))  # the square forgotten


@pytest.mark.parametrize(("arguments", "error", "message"), [
    (("softsign", softsign, wrong_derivative), ValueError,
     # the worst point: -2 / (1 + 3.1) against -2 / (1 + 3.1)^2
     r"the derivative of activation 'softsign' does not match its forward function: at z = 3\.1 with grad = -2 "
     r"it gives -0\.487805, where central differences of the forward function give grad \* f'\(z\) = -0\.118977"),
    (("mish", mish, mish_derivative), ValueError,
     "it does when given the pre-activation z instead of the output a: register it with uses='pre_activation'"),
    (("softsign", softsign, softsign_derivative, "pre_activation"), ValueError,
     "derivative\\(z, grad\\) must return grad \\* f'\\(z\\); it does when given the output a"),
    (("softsign", softsign, softsign_derivative, "input"), ValueError,
     "uses must be 'output' or 'pre_activation', got 'input'"),
    (("softsign", "softsign", softsign_derivative), TypeError, "an activation's forward is a function, got 'softsign'"),
    (("relu", softsign, softsign_derivative), ValueError, "'relu' is a built-in activation; pass replace=True"),
    (("swish2", softsign, softsign_derivative, "output", ["Swish"]), ValueError, "'Swish' already names the "
                                                                                 "activation 'silu'"),
    (("total", np.sum, softsign_derivative), ValueError,
     r"the forward function of activation 'total' returned an array of shape \(\) for one of shape \(2, 4\)"),
    (("in_place", lambda z: np.tanh(z, out=z), softsign_derivative), ValueError, "changed its input z"),
    (("log", np.log, softsign_derivative), ValueError, "gives non-finite values at z = "),
])
def test_registration_refuses_what_would_not_train(arguments, error, message):
    with np.errstate(invalid="ignore"), pytest.raises(error, match=message):
        act.register(*arguments)
    assert act.ACTIVATIONS.keys() == act.REGISTRY.builtins


def test_registering_again_replaces_and_the_uses_follow():
    act.register("mine", mish, mish_derivative, uses="pre_activation")
    assert act.takes_pre_activation("mine")
    act.register("mine", softsign, softsign_derivative)
    assert not act.takes_pre_activation("mine")
    np.testing.assert_allclose(act.get_activation("mine")[0](np.array([1.0])), [0.5])
    assert re.search(r"valid names: .*step, gelu, silu, elu, selu, softplus, mine", _unknown_hidden_message())


def _unknown_hidden_message():
    with pytest.raises(ValueError) as caught:
        act.canonical_name("nope", act.HIDDEN_ACTIVATIONS, "hidden activation")
    return str(caught.value)
