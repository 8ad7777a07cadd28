"""Models with each loss and its settings: gradients through the network, training, summary, config and files."""

import pickle

import numpy as np
import pytest

from dnn import DNN, ModelFileError
from dnn.files import persistence

#: (output activation, loss spec, what model.loss stores): every new loss and setting, after each output it follows.
CASES = [
    ("identity", "huber", {"name": "huber", "delta": 1.0}),
    ("identity", {"name": "huber", "delta": 0.5}, {"name": "huber", "delta": 0.5}),
    ("identity", "mae", "absolute_error"),
    ("sigmoid", "poisson", "poisson"),
    ("softmax", "poisson", "poisson"),
    ("sigmoid", {"name": "focal", "alpha": 0.25}, {"name": "binary_focal", "gamma": 2.0, "alpha": 0.25}),
    ("softmax", "focal", {"name": "categorical_focal", "gamma": 2.0}),
    ("softmax", {"name": "focal", "gamma": 0.5, "alpha": 0.5},
     {"name": "categorical_focal", "gamma": 0.5, "alpha": 0.5}),
    ("softmax", {"name": "cce", "label_smoothing": 0.1}, {"name": "categorical_crossentropy", "label_smoothing": 0.1}),
    ("sigmoid", {"name": "bce", "label_smoothing": 0.2}, {"name": "binary_crossentropy", "label_smoothing": 0.2}),
    # the cross-entropies with smoothing after the other output: the generic chain rule instead of the fused delta
    ("sigmoid", {"name": "cce", "label_smoothing": 0.1}, {"name": "categorical_crossentropy", "label_smoothing": 0.1}),
    ("softmax", {"name": "bce", "label_smoothing": 0.1}, {"name": "binary_crossentropy", "label_smoothing": 0.1}),
]
IDS = [f"{activation}-{stored if isinstance(stored, str) else '-'.join(map(str, stored.values()))}"
       for activation, _, stored in CASES]


def build(activation, loss, outputs=3, **options):
    model = DNN(seed=3, **options)
    model.addInputLayer([4])
    model.addHiddenLayer([6, 5], activation="tanh")
    model.addOutputLayer([outputs], activation=activation, loss=loss)
    return model


def targets(activation, rng, n, outputs=3):
    return rng.normal(0, 1.5, (n, outputs)) if activation == "identity" else rng.integers(0, outputs, n)


@pytest.mark.parametrize(("activation", "loss", "stored"), CASES, ids=IDS)
def test_the_model_keeps_the_stored_loss(activation, loss, stored):
    model = build(activation, loss)
    assert model.loss == stored
    config = model.getConfig()
    assert config["loss"] == stored
    assert DNN.fromConfig(config).loss == stored
    assert pickle.loads(pickle.dumps(model)).loss == stored


@pytest.mark.parametrize(("activation", "loss", "stored"), CASES, ids=IDS)
def test_gradient_check_through_the_network(activation, loss, stored):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(12, 4))
    model = build(activation, loss, dtype="float64", l2=0.01)
    errors = model.gradientCheck(X, targets(activation, rng, 12))
    assert set(errors) == {"w2", "b2", "w3", "b3", "w4", "b4"}
    assert max(errors.values()) < 1e-6, errors


def toy_problem(activation, rng, n=240):
    """Three well separated classes (one-hot or labels), or a smooth function of X for a regression."""
    X = rng.normal(size=(n, 4))
    if activation == "identity":
        return X, np.column_stack([X[:, 0] + 0.5 * X[:, 1], np.sin(X[:, 2]), X[:, 3] * X[:, 0]])
    labels = rng.integers(0, 3, n)
    X[:, 0] += 2.5 * labels
    X[:, 1] -= 2.5 * (labels == 1)
    return X, labels


@pytest.mark.parametrize(("activation", "loss", "stored"), CASES, ids=IDS)
def test_a_model_trains_with_the_loss(activation, loss, stored):
    rng = np.random.default_rng(0)
    X, y = toy_problem(activation, rng)
    model = build(activation, loss, optimizer="adam", lr=0.01)
    history = model.fit(X, y, epochs=30, batchSize=32, verbose=0)
    assert history["loss"][-1] < 0.6 * history["loss"][0], history["loss"]
    # a cross-entropy after sigmoids only raises the true class's output: the others are never pushed down
    name = stored if isinstance(stored, str) else stored["name"]
    if activation != "identity" and (activation, name) != ("sigmoid", "categorical_crossentropy"):
        assert history["accuracy"][-1] > 0.9


@pytest.mark.parametrize(("activation", "loss", "stored"), CASES, ids=IDS)
def test_saved_and_loaded_with_its_settings(activation, loss, stored, tmp_path):
    rng = np.random.default_rng(1)
    X, y = toy_problem(activation, rng, n=60)
    model = build(activation, loss, optimizer="adam", lr=0.01)
    model.fit(X, y, epochs=2, batchSize=20, verbose=0)
    path = tmp_path / "model.dnn"
    model.saveModel(path)
    loaded = DNN.importModel(path)
    assert loaded.loss == stored
    assert loaded.getConfig() == model.getConfig()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.modelEvaluate(X, y)["loss"] == model.modelEvaluate(X, y)["loss"]
    # and training continues exactly as it would have
    model.fit(X, y, epochs=1, batchSize=20, verbose=0)
    loaded.fit(X, y, epochs=1, batchSize=20, verbose=0)
    np.testing.assert_array_equal(loaded.w[4], model.w[4])


def test_the_file_holds_the_loss_as_plain_data(tmp_path):
    model = build("identity", {"name": "huber", "delta": 0.25})
    path = tmp_path / "model.dnn"
    model.saveModel(path)
    payload = pickle.loads(pickle.loads(path.read_bytes())["payload"])  # our own file: plain pickle may read it
    assert payload["config"]["loss"] == {"name": "huber", "delta": 0.25}


@pytest.mark.parametrize(("activation", "loss", "shown"), [
    ("identity", {"name": "huber", "delta": 0.5}, "Loss: huber (delta 0.5)"),
    ("identity", "huber", "Loss: huber (delta 1)"),
    ("softmax", "focal", "Loss: categorical_focal (gamma 2)"),
    ("sigmoid", {"name": "focal", "alpha": 0.25}, "Loss: binary_focal (gamma 2, alpha 0.25)"),
    ("softmax", {"name": "cce", "label_smoothing": 0.1}, "Loss: categorical_crossentropy (label_smoothing 0.1)"),
    ("identity", "mae", "Loss: absolute_error"),
    ("softmax", "poisson", "Loss: poisson"),
])
def test_summary_shows_the_loss_and_its_settings(activation, loss, shown):
    lines = []
    build(activation, loss).summary(printFn=lines.append)
    assert shown in lines[0].splitlines()


def test_the_config_is_a_copy_of_the_settings():
    model = build("identity", {"name": "huber", "delta": 0.5})
    model.getConfig()["loss"]["delta"] = 100.0
    assert model.loss == {"name": "huber", "delta": 0.5}


def test_the_original_losses_are_stored_as_names_as_before():
    for activation, loss in (("softmax", None), ("sigmoid", None), ("identity", "mse"),
                             ("softmax", {"name": "crossentropy", "label_smoothing": 0.0})):
        stored = build(activation, loss).getConfig()["loss"]
        assert isinstance(stored, str)


def test_a_file_with_a_bad_setting_is_refused(tmp_path):
    model = build("identity", {"name": "huber", "delta": 0.5})
    payload = persistence.to_payload(model)
    payload["config"]["loss"] = {"name": "huber", "delta": -1.0}
    path = tmp_path / "bad.dnn"
    path.write_bytes(persistence.file_bytes(payload))
    with pytest.raises(ModelFileError, match=r"delta \(of the huber loss\) must be > 0"):
        DNN.importModel(path)
