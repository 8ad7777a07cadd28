"""A layer is one object: model.layers, the lists read off it, and the config built from it."""

import dataclasses

import numpy as np
import pytest

from dnn import DNN
from dnn.model.layers import Layer


def network():
    model = DNN(seed=0)
    model.addInputLayer([4])
    model.addHiddenLayer([6, 5], activation=["ReLU", "tanh"], dropout=[0.25, 0.0],
                         initializer=[("normal", 0.05), None])
    model.addOutputLayer([3], activation="softmax")
    return model


def test_the_model_is_its_list_of_layers():
    model = network()
    assert model.layers == (
        Layer("input", 4),
        Layer("hidden", 6, "relu", 0.25, {"name": "normal", "std": 0.05}),
        Layer("hidden", 5, "tanh", 0.0, "glorot_uniform"),  # the default for tanh
        Layer("output", 3, "softmax", 0.0, "glorot_uniform"),
    )
    assert model.units == [4, 6, 5, 3]
    assert model.activations == [None, "relu", "tanh", "softmax"]
    assert model.dropout == [0.0, 0.25, 0.0, 0.0]
    assert model.initializers == [None, {"name": "normal", "std": 0.05}, "glorot_uniform", "glorot_uniform"]
    assert [w.shape for w in model.state.params.weights] == [(4, 6), (6, 5), (5, 3)]


@pytest.mark.parametrize("name", ["units", "activations", "dropout", "initializers"])
def test_the_lists_are_read_only(name):
    model = network()
    before = getattr(model, name)
    with pytest.raises(AttributeError, match=rf"model.{name} is read off model.layers and cannot be assigned"):
        setattr(model, name, [])
    getattr(model, name).append("changed")  # a new list on every read
    assert getattr(model, name) == before


def test_layers_cannot_be_changed_behind_the_store():
    model = network()
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.layers[1].units = 7
    with pytest.raises(AttributeError):
        model.layers.append(Layer("hidden", 2, "relu"))


def test_the_config_is_the_layers_configs_in_the_layout_of_before():
    model = network()
    config = model.getConfig()
    assert config["layers"] == [
        {"units": 4},
        {"units": 6, "activation": "relu", "dropout": 0.25, "initializer": {"name": "normal", "std": 0.05}},
        {"units": 5, "activation": "tanh", "dropout": 0.0, "initializer": "glorot_uniform"},
        {"units": 3, "activation": "softmax", "dropout": 0.0, "initializer": "glorot_uniform"},
    ]
    config["layers"][1]["initializer"]["std"] = 1.0  # a copy: the layer keeps its own
    assert model.layers[1].initializer == {"name": "normal", "std": 0.05}
    twin = DNN.fromConfig(model.getConfig())
    assert twin.layers == model.layers
    for layer in (2, 3, 4):
        np.testing.assert_array_equal(twin.w[layer], model.w[layer])


def test_a_layer_from_a_config_is_checked_as_add_layer_checks_it():
    assert Layer.from_config({"units": 3, "activation": "Logistic"}, "hidden") == Layer("hidden", 3, "sigmoid", 0.0,
                                                                                        "glorot_uniform")
    with pytest.raises(ValueError, match=r"dropout must be < 1, got 1\.5"):
        Layer.from_config({"units": 3, "activation": "relu", "dropout": 1.5}, "hidden")
    with pytest.raises(ValueError, match="a softmax output needs at least 2 units"):
        Layer.from_config({"units": 1, "activation": "softmax"}, "output")


def test_a_layer_declares_its_parameters():
    layer = Layer.output([3], activation="identity")
    assert layer.parameter_shapes(5) == {"w": (5, 3), "b": (3,)}
    values = layer.initial_parameters(5, np.random.default_rng(0), np.float64)
    w, b = values["w"], values["b"]
    limit = np.sqrt(6.0 / (5 + 3))  # glorot uniform
    assert w.shape == (5, 3) and b.shape == (3,) and np.all(np.abs(w) <= limit) and not b.any()


@pytest.mark.parametrize("kind, names", [("batch", {"gamma", "beta", "running_mean", "running_var"}),
                                         ("layer", {"gamma", "beta"})])
def test_a_normalized_layer_declares_its_scale_shift_and_running_statistics(kind, names):
    (layer,) = Layer.hidden([4], normalization=kind)
    assert layer.parameter_shapes(5) == {"w": (5, 4), "b": (4,), **{name: (4,) for name in names}}
    values = layer.initial_parameters(5, np.random.default_rng(0), np.float32)
    for name in names:  # as torch starts BatchNorm1d and LayerNorm: scale and variance 1, shift and mean 0
        expected = 1.0 if name in ("gamma", "running_var") else 0.0
        assert values[name].dtype == np.float32 and np.all(values[name] == expected)
    assert layer.config()["normalization"] == kind
    assert Layer.from_config(layer.config(), "hidden") == layer


def test_a_normalization_that_is_not_batch_or_layer_is_refused():
    with pytest.raises(ValueError, match="normalization must be None, 'batch' or 'layer', got 'group'"):
        Layer.hidden([4, 3], normalization=["batch", "group"])
