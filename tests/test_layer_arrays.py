"""Inside the network: w and b refuse keys that are no layer; layerOutputs after forwardPropagation."""

import copy
import pickle

import numpy as np
import pytest

from dnn import DNN
from dnn.model.layer_arrays import LayerArrays


def textbook_network():
    """The 3-layer network of "Deep Learning from Scratch" 3.4.3, weights set by hand."""
    model = DNN(dtype="float64")
    model.addInputLayer([2])
    model.addHiddenLayer([3, 2], activation="sigmoid")
    model.addOutputLayer([2], activation="identity")
    model.w[2] = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]])
    model.b[2] = np.array([0.1, 0.2, 0.3])
    model.w[3] = np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]])
    model.b[3] = np.array([0.1, 0.2])
    model.w[4] = np.array([[0.1, 0.3], [0.2, 0.4]])
    model.b[4] = np.array([0.1, 0.2])
    return model


def test_layer_outputs_of_the_textbook_forward_pass():
    model = textbook_network()
    x = np.array([[1.0, 0.5]])
    output = model.forwardPropagation(x)
    np.testing.assert_allclose(output, [[0.31682708, 0.69627909]], atol=1e-8)
    a1 = 1 / (1 + np.exp(-(x @ model.w[2] + model.b[2])))
    a2 = 1 / (1 + np.exp(-(a1 @ model.w[3] + model.b[3])))
    outputs = model.layerOutputs
    assert sorted(outputs) == [1, 2, 3, 4]
    np.testing.assert_array_equal(outputs[1], x)
    np.testing.assert_allclose(outputs[2], a1, rtol=1e-15)
    np.testing.assert_allclose(outputs[3], a2, rtol=1e-15)
    np.testing.assert_array_equal(outputs[4], output)


def test_layer_outputs_before_any_forward_pass_and_read_only():
    model = textbook_network()
    with pytest.raises(KeyError, match=r"model.layerOutputs\[2\]: .*call forwardPropagation\(X\) first"):
        model.layerOutputs[2]
    model.forwardPropagation(np.ones((3, 2)))
    with pytest.raises(KeyError, match=r"holds the outputs of layers 1..4"):
        model.layerOutputs[5]
    with pytest.raises(ValueError, match="read-only"):
        model.layerOutputs[2] = np.zeros((3, 3))


@pytest.mark.parametrize(("key", "name"), [(1, "w"), ("W1", "w"), (5, "b"), ("b2", "b"), (True, "w")])
def test_keys_that_are_no_layer_are_refused(key, name):
    model = textbook_network()
    store = getattr(model, name)
    before = dict(store)
    with pytest.raises(ValueError, match=rf"cannot set model.{name}\[{key!r}\]: .*layers 2..4 \(layer 1, the input "
                                         rf"layer, has none\).*model.{name}\[2\]"):
        store[key] = np.zeros(3)
    with pytest.raises(ValueError, match="cannot set"):
        store.update({key: np.zeros(3)})
    assert dict(store) == before


def test_setting_a_layer_by_hand_is_used():
    model = textbook_network()
    model.w[np.int64(4)] = np.zeros((2, 2))
    model.w |= {3: np.zeros((3, 2))}
    np.testing.assert_allclose(model.forwardPropagation(np.ones((1, 2))), [[0.1, 0.2]])
    with pytest.raises(ValueError, match="keeps one entry per layer"):
        del model.w[2]
    with pytest.raises(ValueError, match="keeps one entry per layer"):
        model.b.pop(2)


def test_missing_keys_name_the_layers():
    model = textbook_network()
    with pytest.raises(KeyError, match=r"model.w\[1\]: model.w holds the weights of layers 2..4"):
        model.w[1]
    assert model.w.get(1) is None  # get stays a dict's get


def test_pickle_and_copies_keep_the_checks():
    model = textbook_network()
    for clone in (pickle.loads(pickle.dumps(model.w)), copy.deepcopy(model.w), copy.copy(model.w)):
        assert type(clone) is LayerArrays and sorted(clone) == [2, 3, 4]
        np.testing.assert_array_equal(clone[3], model.w[3])
        with pytest.raises(ValueError, match="cannot set"):
            clone[1] = 0
    copied = copy.deepcopy(model)
    np.testing.assert_array_equal(copied.forwardPropagation(np.ones((1, 2))), model.forwardPropagation(np.ones((1, 2))))


def test_an_empty_model_says_to_add_layers():
    model = DNN()
    with pytest.raises(ValueError, match=r"model.w has no layers yet: add the layers first"):
        model.w[2] = np.zeros((2, 2))
