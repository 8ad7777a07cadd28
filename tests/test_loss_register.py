"""Losses of your own: dnn.losses.register checks the gradient against the loss, then models use the loss by name."""

import pickle

import numpy as np
import pytest

from dnn import DNN, ModelFileError, losses
from dnn.losses import COMPATIBLE_LOSSES, LOSSES


def log_cosh(p, y):
    """Per-sample log-cosh loss, sum_k log cosh(p_k - y_k)."""
    return np.log(np.cosh(p - y)).sum(axis=1)


def log_cosh_gradient(p, y):
    return np.tanh(p - y)


def brier(p, y):
    """Per-sample Brier score, sum_k (p_k - y_k)^2."""
    return ((p - y) ** 2).sum(axis=1)


def brier_gradient(p, y):
    return 2 * (p - y)


@pytest.fixture
def registry():
    """Whatever a test registers leaves the loss registry with it."""
    names, pairings = set(LOSSES), dict(COMPATIBLE_LOSSES)
    yield losses.REGISTRY
    for name in set(LOSSES) - names:
        del LOSSES[name]
    COMPATIBLE_LOSSES.clear()
    COMPATIBLE_LOSSES.update(pairings)


def regression(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, np.column_stack([X[:, 0] - X[:, 1], np.sin(X[:, 2])])


def build(loss, activation="identity", outputs=2, **options):
    model = DNN(seed=1, **options)
    model.addInputLayer([3])
    model.addHiddenLayer([8], activation="tanh")
    model.addOutputLayer([outputs], activation=activation, loss=loss)
    return model


def test_a_registered_loss_trains_checks_and_shows_by_name(registry, capsys):
    assert losses.register("log_cosh", log_cosh, log_cosh_gradient, aliases=("logcosh",)) == (log_cosh,
                                                                                             log_cosh_gradient)
    model = build("LogCosh", optimizer="adam", lr=0.01)
    assert model.loss == "log_cosh"
    X, y = regression()
    history = model.fit(X, y, epochs=25, batchSize=20, verbose=0)
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    errors = build("log_cosh", dtype="float64", l2=0.01).gradientCheck(X[:10], y[:10])
    assert max(errors.values()) < 1e-6, errors
    model.summary()
    assert "Loss: log_cosh" in capsys.readouterr().out
    assert model.getConfig()["loss"] == "log_cosh"
    assert DNN.fromConfig(model.getConfig()).loss == "log_cosh"
    expected = np.mean(np.log(np.cosh(model.predict(X) - y)).sum(axis=1))
    assert model.modelEvaluate(X, y)["loss"] == pytest.approx(expected, rel=1e-5)
    assert losses.mean_loss("log_cosh", np.zeros((1, 2)), np.ones((1, 2))) == pytest.approx(2 * np.log(np.cosh(1)))


def test_a_registered_loss_of_probabilities_follows_softmax_by_the_chain_rule(registry):
    losses.register("brier", brier, brier_gradient, outputs=("softmax", "sigmoid"))
    rng = np.random.default_rng(2)
    X = rng.normal(size=(12, 3))
    for activation in ("softmax", "sigmoid"):
        model = build("brier", activation=activation, outputs=3, dtype="float64")
        errors = model.gradientCheck(X, rng.integers(0, 3, 12))
        assert max(errors.values()) < 1e-6, errors
    with pytest.raises(ValueError, match=r"loss 'brier' is registered for softmax, sigmoid outputs only, not "
                                         r"identity; use one of squared_error, huber, absolute_error"):
        build("brier")


def test_a_model_file_records_the_loss_by_name_only(registry, tmp_path):
    losses.register("log_cosh", log_cosh, log_cosh_gradient)
    X, y = regression(n=40)
    model = build("log_cosh", optimizer="adam", lr=0.01)
    model.fit(X, y, epochs=2, batchSize=20, verbose=0)
    path = tmp_path / "model.dnn"
    model.saveModel(path)
    data = path.read_bytes()
    payload = pickle.loads(pickle.loads(data)["payload"])
    assert payload["config"]["loss"] == "log_cosh"
    assert b"log_cosh_gradient" not in pickle.loads(data)["payload"]  # no function in the file
    loaded = DNN.importModel(path)
    assert loaded.loss == "log_cosh"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    del LOSSES["log_cosh"]  # a new session, where the loss is not registered (yet)
    with pytest.raises(ModelFileError, match=r"unknown loss 'log_cosh'; losses of your own are registered with "
                                             r"dnn.losses.register before a model using them is built or loaded"):
        DNN.importModel(path)
    losses.register("log_cosh", log_cosh, log_cosh_gradient)
    assert DNN.importModel(path).loss == "log_cosh"


MINE = "the loss 'mine'"


@pytest.mark.parametrize(("loss", "gradient", "message"), [
    (log_cosh, lambda p, y: 1.1 * np.tanh(p - y),
     rf"the gradient of {MINE} does not match the loss: at p = .*\(relative error 0.091, at most 0.0001\)"),
    (log_cosh, lambda p, y: np.tanh(p - y) / len(p), r"does not match the loss.*not of their mean"),
    (log_cosh, lambda p, y: -np.tanh(p - y), r"does not match the loss"),
    (lambda p, y: log_cosh(p, y).mean(), log_cosh_gradient,
     rf"the loss function of {MINE} must return one finite value per sample, shape \(4,\) for p of shape \(4, 3\); "
     r"got shape \(\)"),
    (log_cosh, lambda p, y: np.tanh(p - y).sum(axis=1),
     rf"the gradient function of {MINE} must return finite values shaped like p, shape \(4, 3\)"),
    (lambda p, y: np.log(p - 1).sum(axis=1), log_cosh_gradient, r"with non-finite values"),
    (lambda p, y: p.nope, log_cosh_gradient,
     rf"calling the loss function of {MINE} on p and y of shape \(4, 3\) raised AttributeError"),
])
def test_a_gradient_that_does_not_match_its_loss_is_refused(registry, loss, gradient, message):
    with pytest.raises(ValueError, match=message), np.errstate(invalid="ignore"):
        losses.register("mine", loss, gradient)
    assert "mine" not in LOSSES and all("mine" not in names for names in COMPATIBLE_LOSSES.values())


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: losses.register("mse", log_cosh, log_cosh_gradient), ValueError,
     r"'mse' names the built-in loss 'squared_error'; register yours under another name"),
    (lambda: losses.register("Huber", log_cosh, log_cosh_gradient), ValueError, r"names the built-in loss 'huber'"),
    (lambda: losses.register("mine", log_cosh, "tanh"), TypeError, r"registered as two functions"),
    (lambda: losses.register("mine", log_cosh, log_cosh_gradient, outputs=("relu",)), ValueError,
     r"outputs names output activations, some of softmax, sigmoid, identity, step; got \('relu',\)"),
    (lambda: losses.register("mine", log_cosh, log_cosh_gradient, aliases=("mae",)), ValueError,
     r"'mae' already names the loss 'absolute_error'"),
    (lambda: losses.register(" ", log_cosh, log_cosh_gradient), ValueError, r"a loss name is a non-empty string"),
])
def test_bad_registrations_are_refused(registry, call, error, message):
    with pytest.raises(error, match=message):
        call()
    assert set(LOSSES) == set(registry.builtins)


def test_registering_again_replaces_the_loss_and_its_outputs(registry):
    losses.register("mine", brier, brier_gradient, outputs="softmax")
    losses.register("mine", log_cosh, log_cosh_gradient, outputs=("identity", "softmax"))
    assert losses.get_loss("mine") == (log_cosh, log_cosh_gradient)
    assert [name for name, names in COMPATIBLE_LOSSES.items() if "mine" in names] == ["softmax", "identity"]
    with pytest.raises(ValueError, match="the mine loss takes no settings; got 'delta'"):
        build({"name": "mine", "delta": 1.0})
