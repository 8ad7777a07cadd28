"""Activation and loss names: any case, common aliases, and the nearest name suggested for a typo."""

import numpy as np
import pytest

from dnn import DNN
from dnn.activations import HIDDEN_ACTIVATIONS, canonical_name
from dnn.losses import canonical_name as canonical_loss


@pytest.mark.parametrize(("name", "expected"), [
    ("ReLU", "relu"), ("Relu", "relu"), ("RELU", "relu"), ("logistic", "sigmoid"), ("Sigmoid", "sigmoid"),
    ("linear", "identity"), ("lrelu", "leaky_relu"), ("LeakyReLU", "leaky_relu"), ("leaky-relu", "leaky_relu"),
    ("Tanh", "tanh"), ("Softmax", "softmax"), ("Heaviside", "step"), ("step", "step"),
])
def test_activation_aliases(name, expected):
    assert canonical_name(name) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("mse", "squared_error"), ("MSE", "squared_error"), ("mean_squared_error", "squared_error"),
    ("crossentropy", "categorical_crossentropy"), ("cross_entropy", "categorical_crossentropy"),
    ("categorical_cross_entropy", "categorical_crossentropy"), ("CategoricalCrossentropy", "categorical_crossentropy"),
    ("bce", "binary_crossentropy"), ("binary_cross_entropy", "binary_crossentropy"),
    ("squared_error", "squared_error"),
])
def test_loss_aliases(name, expected):
    assert canonical_loss(name) == expected


@pytest.mark.parametrize(("call", "message"), [
    (lambda: canonical_name("sigmod"), r"unknown activation 'sigmod'; did you mean 'sigmoid'\? valid names"),
    (lambda: canonical_name("rleu", HIDDEN_ACTIVATIONS, "hidden activation"),
     r"unknown hidden activation 'rleu'; did you mean 'relu'\?"),
    (lambda: canonical_name("xyzzy"), r"unknown activation 'xyzzy'; valid names: sigmoid"),
    (lambda: canonical_name(3), r"unknown activation 3"),
    (lambda: canonical_loss("binary_crosentropy"), r"did you mean 'binary_crossentropy'\?"),
    (lambda: canonical_loss(None), r"unknown loss None; valid names"),
])
def test_unknown_names_suggest_the_nearest(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_model_takes_aliases_and_keeps_the_canonical_names():
    model = DNN(seed=0)
    model.addInputLayer([4])
    model.addHiddenLayer([5, 3], activation=["ReLU", "Logistic"])
    model.addOutputLayer([2], activation="Linear", loss="MSE")
    assert model.activations == [None, "relu", "sigmoid", "identity"]
    assert model.loss == "squared_error"
    shown = []
    model.summary(printFn=shown.append)
    assert "| relu " in shown[0] and "Loss: squared_error" in shown[0]
    # the alias and its canonical name build the same network from the same seed
    same = DNN(seed=0)
    same.addInputLayer([4])
    same.addHiddenLayer([5, 3], activation=["relu", "sigmoid"])
    same.addOutputLayer([2], activation="identity", loss="squared_error")
    for layer in (2, 3, 4):
        np.testing.assert_array_equal(model.w[layer], same.w[layer])


@pytest.mark.parametrize("loss", ["crossentropy", "categorical_cross_entropy", "cross_entropy", "bce", "mse"])
def test_output_losses_by_alias(loss):
    model = DNN()
    model.addInputLayer([3])
    model.addOutputLayer([2], activation="softmax", loss=loss)
    assert model.loss == canonical_loss(loss)


def test_a_typo_leaves_the_model_unchanged():
    model = DNN()
    model.addInputLayer([4])
    with pytest.raises(ValueError, match=r"unknown hidden activation 'sigmod'; did you mean 'sigmoid'\?"):
        model.addHiddenLayer([3, 3], activation=["relu", "sigmod"])
    with pytest.raises(ValueError, match=r"unknown output activation 'softmx'; did you mean 'softmax'\?"):
        model.addOutputLayer([3], activation="softmx")
    with pytest.raises(ValueError, match="softmax is only available in the output layer"):
        model.addHiddenLayer([3], activation="Softmax")
    assert model.units == [4] and model.activations == [None] and dict(model.w) == {}


def test_tab_completion_shows_the_public_api_only():
    # what dir() lists is what a REPL's tab completion offers: the tutorial's methods and the documented attributes,
    # none of the helpers the model's parts call on each other
    model = DNN(seed=0)
    model.addInputLayer([2])
    model.addOutputLayer([2])
    public = {name for name in dir(model) if not name.startswith("_")}
    assert {"encode_targets", "require_network", "checked_parameters"}.isdisjoint(public)
    assert public == {
        "activations", "addHiddenLayer", "addInputLayer", "addOutputLayer", "b", "backPropagation", "beta", "beta1",
        "beta2", "gamma", "running_mean", "running_var",
        "classes", "clipNorm", "clipValue", "dataFormatConversion", "decay", "drawConfusionMatrix",
        "drawConvergenceCurve", "drawDigits",
        "device", "drawHistory", "drawWeights", "dropout", "dtype", "epochs", "epsilon", "exportONNX", "feature_mean",
        "feature_names", "feature_scale", "fit", "forwardPropagation", "fromConfig", "fromTorch", "getConfig",
        "gradientCheck", "history", "importModel", "initializers", "l1", "l2", "layerOutputs", "layers", "loss", "lr",
        "lrFind", "modelEvaluate", "momentum", "nesterov", "optimizer", "parameterRecord", "predict",
        "predictLogProba", "predictProba", "restoredEpoch", "saveModel", "seed", "standardize", "state",
        "stoppedEarly", "summary", "task", "thread_policy", "threads", "toTorch", "units", "w",
    }
