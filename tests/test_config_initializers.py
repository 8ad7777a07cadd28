"""Each layer's initializer in getConfig/fromConfig and model files; step outputs decoded by the task objects."""

import copy
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from dnn import DNN
from dnn.data import tasks
from dnn.model.layer_arrays import LayerArrays

FIXTURES = Path(__file__).parent / "fixtures"


def network(seed=3, initializers=(None, None, None)):
    model = DNN(seed=seed, dtype="float64")
    model.addInputLayer([4])
    model.addHiddenLayer([5, 6], activation=["relu", "tanh"], initializer=list(initializers[:2]))
    model.addOutputLayer([3], initializer=initializers[2])
    return model


def weights(model):
    return [model.w[layer].copy() for layer in sorted(model.w)]


def test_the_config_records_each_layers_initializer_and_the_twin_draws_the_same_weights():
    model = network(initializers=(("normal", 0.05), "xavier", "PyTorch"))
    config = model.getConfig()
    assert [layer.get("initializer") for layer in config["layers"]] == [
        None, {"name": "normal", "std": 0.05}, "glorot_uniform", "torch"]
    assert json.loads(json.dumps(config)) == config  # plain data
    twin = DNN.fromConfig(config)
    assert twin.initializers == model.initializers == [None, {"name": "normal", "std": 0.05}, "glorot_uniform",
                                                       "torch"]
    for ours, theirs in zip(weights(twin), weights(model)):
        np.testing.assert_array_equal(ours, theirs)
    # The initializers really were applied: the default network with the same seed starts elsewhere.
    assert not np.array_equal(weights(network())[0], weights(model)[0])
    assert np.count_nonzero(model.b[4]) == 3  # torch draws biases; the others start at zero
    assert np.count_nonzero(model.b[2]) == 0


def test_a_config_without_initializers_gets_the_defaults():
    model = network()
    config = model.getConfig()
    for layer in config["layers"]:
        layer.pop("initializer", None)
    twin = DNN.fromConfig(config)
    assert twin.initializers == [None, "he_normal", "glorot_uniform", "glorot_uniform"]
    for ours, theirs in zip(weights(twin), weights(model)):
        np.testing.assert_array_equal(ours, theirs)


def test_a_bad_initializer_in_a_config_is_refused():
    config = network().getConfig()
    config["layers"][1]["initializer"] = "he_normall"
    with pytest.raises(ValueError, match="unknown initializer 'he_normall'; did you mean 'he_normal'"):
        DNN.fromConfig(config)


def test_model_files_keep_the_initializers(tmp_path):
    model = network(initializers=(("normal", 0.05), "lecun_uniform", "torch"))
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    assert loaded.initializers == model.initializers
    assert loaded.getConfig() == model.getConfig()


def test_the_format_2_fixture_without_initializers_loads_with_the_defaults():
    model = DNN.importModel(FIXTURES / "model_format_v2.pkl")
    assert model.activations == [None, "tanh", "softmax"]
    assert model.initializers == [None, "glorot_uniform", "glorot_uniform"]


def test_copies_of_a_trained_model_keep_layer_checked_dicts():
    model = network()
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(12, 4)), rng.integers(0, 3, 12), epochs=1, batchSize=4, verbose=0)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert type(clone.w) is LayerArrays and type(clone.b) is LayerArrays
        with pytest.raises(ValueError, match=r"cannot set model.w\[1\]"):
            clone.w[1] = np.zeros((4, 5))
        # w and b are the views of the copy's flat parameters again, not loose copies.
        assert all(np.shares_memory(clone.w[layer], clone.state.params.flat) for layer in (2, 3, 4))
        for ours, theirs in zip(weights(clone), weights(model)):
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(("activation", "expected"), [("sigmoid", [[1, 1, 0]]), ("step", [[0, 1, 0]])])
def test_thresholds_read_off_the_pre_activations(activation, expected):
    z = np.array([[0.0, 2.0, -1.0]])
    # sigmoid(0) = 0.5 counts as yes; step(0) = 0 does not.
    np.testing.assert_array_equal(tasks.MULTILABEL.predictions(z, None, activation), expected)
    assert tasks.BINARY.predictions(z[:, :1], np.array(["no", "yes"]), activation)[0] == (
        "yes" if activation == "sigmoid" else "no")


def test_a_multiclass_step_output_gives_normalized_rows():
    model = DNN(dtype="float64")
    model.addInputLayer([2])
    model.addOutputLayer([3], activation="step")
    model.w[2] = np.array([[1.0, 1.0, -1.0], [0.0, 1.0, 1.0]])
    model.b[2] = np.zeros(3)
    x = np.array([[1.0, 0.0], [-1.0, -1.0], [1.0, 2.0]])
    # step outputs: [1, 1, 0], [0, 0, 0], [1, 1, 1]
    np.testing.assert_allclose(model.predictProba(x), [[0.5, 0.5, 0], [0, 0, 0], [1 / 3, 1 / 3, 1 / 3]])
    assert model.task is None and model.predict(x[:1])[0] == 0
