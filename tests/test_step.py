"""The step activation: perceptrons with weights set by hand, and a clear refusal to train one."""

import numpy as np
import pytest

from dnn import DNN

GATE_INPUTS = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)


def perceptron(w, b):
    model = DNN()
    model.addInputLayer([2])
    model.addOutputLayer([1], activation="step")
    model.w[2], model.b[2] = np.array(w, float).reshape(2, 1), np.array([b], float)
    return model


@pytest.mark.parametrize(("w", "b", "truth"), [
    # Weights and biases of "Deep Learning from Scratch", chapter 2.
    ((0.5, 0.5), -0.7, [0, 0, 0, 1]),    # AND
    ((-0.5, -0.5), 0.7, [1, 1, 1, 0]),   # NAND
    ((0.5, 0.5), -0.2, [0, 1, 1, 1]),    # OR
])
def test_gates_with_hand_set_weights(w, b, truth):
    model = perceptron(w, b)
    assert model.loss == "squared_error"
    np.testing.assert_array_equal(model.forwardPropagation(GATE_INPUTS), np.array(truth, float)[:, None])
    np.testing.assert_array_equal(model.predict(GATE_INPUTS), truth)
    result = model.modelEvaluate(GATE_INPUTS, truth, verbose=0)
    assert result["accuracy"] == 1.0 and result["loss"] == 0.0


def test_xor_with_a_hidden_step_layer():
    model = DNN()
    model.addInputLayer([2])
    model.addHiddenLayer([2], activation="step")
    model.addOutputLayer([1], activation="step")
    model.w[2] = np.array([[-0.5, 0.5], [-0.5, 0.5]])   # NAND and OR
    model.b[2] = np.array([0.7, -0.2])
    model.w[3], model.b[3] = np.array([[0.5], [0.5]]), np.array([-0.7])  # AND of the two
    np.testing.assert_array_equal(model.predict(GATE_INPUTS), [0, 1, 1, 0])
    np.testing.assert_array_equal(model.forwardPropagation(GATE_INPUTS)[:, 0], [0, 1, 1, 0])
    np.testing.assert_array_equal(model.layerOutputs[2], [[1, 0], [1, 1], [1, 1], [0, 1]])


def test_step_of_zero_is_zero_in_forward_and_predict():
    model = perceptron((0.0, 0.0), 0.0)
    assert model.forwardPropagation(GATE_INPUTS[:1])[0, 0] == 0.0
    assert model.predict(GATE_INPUTS[:1])[0] == 0


@pytest.mark.parametrize("layers", [("step", "sigmoid"), ("relu", "step")])
def test_training_a_step_network_is_refused(layers):
    hidden, output = layers
    model = DNN(seed=0)
    model.addInputLayer([2])
    model.addHiddenLayer([3], activation=hidden)
    model.addOutputLayer([1], activation=output)
    before = [w.copy() for w in model.w.values()]
    layer = 2 if hidden == "step" else 3
    with pytest.raises(ValueError, match=f"layer {layer} uses the step activation, whose derivative is 0"):
        model.fit(GATE_INPUTS, [0, 0, 0, 1], epochs=1, verbose=0)
    for a, b in zip(model.w.values(), before):
        np.testing.assert_array_equal(a, b)
    assert model.history == {} and model.task is None


def test_a_step_output_takes_only_squared_error():
    model = DNN()
    model.addInputLayer([2])
    with pytest.raises(ValueError, match="use one of squared_error"):
        model.addOutputLayer([1], activation="step", loss="bce")
