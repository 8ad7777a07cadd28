"""toTorch / fromTorch / exportONNX: the exported networks compute what the dnn model computes."""

import re

import numpy as np
import pytest

from dnn import DNN

torch = pytest.importorskip("torch")


def trained(rng, output="softmax", units=3, hidden=("relu", "leaky_relu", "tanh", "sigmoid", "identity"),
            dtype="float32", standardize=True, n=120, features=5, dropout=0.0):
    X = rng.normal(loc=3.0, scale=[1, 10, 100, 0.1, 5][:features], size=(n, features))
    if output == "identity":
        y = X @ rng.normal(size=(features, units))
    elif units == 1:
        y = (X[:, 0] > 3).astype(int)
    else:
        y = rng.integers(0, units, size=n)
    model = DNN(lr=0.01, seed=0, dtype=dtype, standardize=standardize)
    model.addInputLayer([features])
    model.addHiddenLayer([7] * len(hidden), activation=list(hidden), dropout=dropout)
    model.addOutputLayer([units], activation=output)
    model.fit(X, y, epochs=3, batchSize=16, verbose=0)
    return model, X, y


def torch_outputs(sequential, X, dtype):
    with torch.no_grad():
        return sequential(torch.tensor(X, dtype=getattr(torch, dtype))).numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_softmax_classifier_equals_predict_proba(rng, dtype):
    model, X, _ = trained(rng, dtype=dtype)
    sequential = model.toTorch()
    kinds = [type(m).__name__ for m in sequential]
    assert kinds == ["Standardize", "Linear", "ReLU", "Linear", "LeakyReLU", "Linear", "Tanh", "Linear", "Sigmoid",
                     "Linear", "Identity", "Linear", "Softmax"]
    assert sequential[4].negative_slope == 0.01
    out = torch_outputs(sequential, X, dtype)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, model.predictProba(X), rtol=0, atol=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.filterwarnings("ignore::dnn.TrainingStalledWarning")  # 3 epochs: about the export, not the fit
def test_torch_binary_and_regression_outputs(rng):
    model, X, _ = trained(rng, output="sigmoid", units=1)
    np.testing.assert_allclose(torch_outputs(model.toTorch(), X, "float32")[:, 0], model.predictProba(X)[:, 1],
                               rtol=0, atol=1e-6)
    model, X, _ = trained(rng, output="identity", units=2, standardize=False)
    assert type(model.toTorch()[0]).__name__ == "Linear"
    np.testing.assert_allclose(torch_outputs(model.toTorch(), X, "float32"), model.predict(X), rtol=1e-6, atol=1e-5)


def test_linear_layer_holds_the_transposed_weights(rng):
    model, _, _ = trained(rng, standardize=False)
    linear = model.toTorch()[0]
    np.testing.assert_array_equal(linear.weight.detach().numpy(), model.w[2].T)
    np.testing.assert_array_equal(linear.bias.detach().numpy(), model.b[2])


def test_from_torch_round_trip_keeps_weights_and_standardization(rng):
    model, X, _ = trained(rng)
    back = DNN.fromTorch(model.toTorch(), lr=0.5)
    assert back.units == model.units and back.activations == model.activations and back.lr == 0.5
    for layer in range(2, len(model.units) + 1):
        np.testing.assert_array_equal(back.w[layer], model.w[layer])
        np.testing.assert_array_equal(back.b[layer], model.b[layer])
    np.testing.assert_array_equal(back.feature_mean, model.feature_mean)
    np.testing.assert_array_equal(back.predictProba(X), model.predictProba(X))


def test_from_torch_takes_a_network_built_in_torch(rng):
    nn = torch.nn
    torch.manual_seed(0)
    sequential = nn.Sequential(nn.Linear(4, 6, dtype=torch.float64), nn.Tanh(), nn.Dropout(0.3),
                               nn.Linear(6, 5, bias=False, dtype=torch.float64), nn.Linear(5, 3, dtype=torch.float64),
                               nn.Softmax(dim=-1))
    sequential.eval()
    model = DNN.fromTorch(sequential)
    assert model.dtype == np.float64 and model.units == [4, 6, 5, 3] and model.dropout == [0.0, 0.3, 0.0, 0.0]
    assert model.activations == [None, "tanh", "identity", "softmax"]
    np.testing.assert_array_equal(model.b[3], np.zeros(5))
    X = rng.normal(size=(9, 4))
    np.testing.assert_allclose(model.predictProba(X), torch_outputs(sequential, X, "float64"), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("modules", "message"), [
    (lambda nn: [nn.Linear(3, 4), nn.Mish(), nn.Linear(4, 2)], "module 1 (Mish) is not supported"),
    (lambda nn: [nn.Linear(3, 4), nn.GELU(approximate="tanh"), nn.Linear(4, 2)], "GELU(approximate='tanh')"),
    (lambda nn: [nn.Linear(3, 4), nn.ELU(alpha=0.5), nn.Linear(4, 2)], "ELU(alpha=0.5); dnn's elu has alpha 1.0"),
    (lambda nn: [nn.Linear(3, 4), nn.Softplus(beta=2), nn.Linear(4, 2)], "Softplus(beta=2"),
    (lambda nn: [nn.Linear(3, 4), nn.Softplus(threshold=5), nn.Linear(4, 2)], "threshold=5"),
    (lambda nn: [nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 2)], "LeakyReLU(0.2)"),
    (lambda nn: [nn.Linear(3, 2), nn.Softmax(dim=0)], "Softmax(dim=0)"),
    (lambda nn: [nn.ReLU(), nn.Linear(3, 2)], "comes before any Linear"),
    (lambda nn: [nn.Linear(3, 4), nn.ReLU(), nn.Tanh(), nn.Linear(4, 2)], "second activation"),
    (lambda nn: [nn.Linear(3, 4), nn.Linear(5, 2)], "takes 5 inputs"),
    (lambda nn: [nn.Conv1d(1, 1, 3)], "Conv1d"),
    (lambda nn: [nn.Linear(3, 4), nn.Softmax(dim=1), nn.Linear(4, 2)], "softmax is only available in the output"),
    (lambda nn: [nn.Dropout(0.2), nn.Linear(3, 2)], "module 0 (Dropout) comes before any Linear"),
    (lambda nn: [nn.Linear(3, 4), nn.Dropout(0.2), nn.ReLU(), nn.Linear(4, 2)], "module 2 (ReLU) follows a Dropout"),
    (lambda nn: [nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.2), nn.Dropout(0.1), nn.Linear(4, 2)],
     "module 3 (Dropout) follows a Dropout"),
    (lambda nn: [nn.Linear(3, 2), nn.Softmax(dim=1), nn.Dropout(0.2)], "module 2 (Dropout) follows the output layer"),
    (lambda nn: [nn.Linear(3, 4), nn.ReLU(), nn.Dropout(1.0), nn.Linear(4, 2)], "dropout must be < 1"),
])
def test_from_torch_names_what_it_cannot_take(modules, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        DNN.fromTorch(torch.nn.Sequential(*modules(torch.nn)))


def test_from_torch_rejects_other_objects():
    with pytest.raises(ValueError, match=r"takes a torch\.nn\.Sequential, got Linear"):
        DNN.fromTorch(torch.nn.Linear(2, 2))


def test_exported_sequential_pickles_with_its_standardization(rng, tmp_path):
    model, X, _ = trained(rng)
    torch.save(model.toTorch(), tmp_path / "net.pt")
    loaded = torch.load(tmp_path / "net.pt", weights_only=False)
    np.testing.assert_allclose(torch_outputs(loaded, X, "float32"), model.predictProba(X), rtol=0, atol=1e-6)


def test_dropout_becomes_torch_dropout_after_the_activation_and_comes_back(rng):
    model, X, _ = trained(rng, hidden=("relu", "tanh", "sigmoid"), dropout=[0.5, 0.0, 0.25])
    sequential = model.toTorch()
    kinds = [type(m).__name__ for m in sequential]
    assert kinds == ["Standardize", "Linear", "ReLU", "Dropout", "Linear", "Tanh", "Linear", "Sigmoid", "Dropout",
                     "Linear", "Softmax"]
    assert (sequential[3].p, sequential[8].p) == (0.5, 0.25)
    # Evaluation mode switches dropout off, as dnn's predictions do; training mode drops units (outputs change).
    sequential.eval()
    np.testing.assert_allclose(torch_outputs(sequential, X, "float32"), model.predictProba(X), rtol=0, atol=1e-6)
    sequential.train()
    assert not np.allclose(torch_outputs(sequential, X, "float32"), model.predictProba(X), atol=1e-3)
    back = DNN.fromTorch(sequential)
    assert back.dropout == model.dropout == [0.0, 0.5, 0.0, 0.25, 0.0]


NEW = ("gelu", "silu", "elu", "selu", "softplus")


@pytest.mark.filterwarnings("ignore::dnn.TrainingStalledWarning")  # 3 epochs: about the export, not the fit
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_new_activations_equal_predict_proba_and_come_back(rng, dtype):
    model, X, _ = trained(rng, hidden=NEW, dtype=dtype)
    sequential = model.toTorch()
    kinds = [type(m).__name__ for m in sequential]
    assert kinds == ["Standardize", "Linear", "GELU", "Linear", "SiLU", "Linear", "ELU", "Linear", "SELU", "Linear",
                     "Softplus", "Linear", "Softmax"]
    assert sequential[2].approximate == "none" and sequential[6].alpha == 1.0
    X = np.concatenate([X, X * 30])  # pre-activations far into the tails
    out = torch_outputs(sequential, X, dtype)
    np.testing.assert_allclose(out, model.predictProba(X), rtol=0, atol=1e-5 if dtype == "float32" else 1e-12)
    back = DNN.fromTorch(sequential)
    assert back.activations == model.activations
    np.testing.assert_array_equal(back.predictProba(X), model.predictProba(X))


def test_to_torch_refuses_a_step_layer_naming_it():
    model = DNN(seed=0)
    model.addInputLayer([3])
    model.addHiddenLayer([4, 4], activation=["relu", "step"])
    model.addOutputLayer([2])
    with pytest.raises(ValueError, match=r"toTorch cannot export layer 3's activation 'step': torch\.nn has no module"):
        model.toTorch()
