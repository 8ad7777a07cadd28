"""Batch and layer normalization: the math against PyTorch's modules and central differences, and the model around it.

Tolerances: in float64 the formulas here and PyTorch's differ only in the order of their sums (a few ulps on
values of order 1, relative 1e-13 at most on these sizes); the issue asks for 1e-6 relative, checked with 1e-10.
"""

import math

import numpy as np
import pytest

from dnn import DNN, ModelFileError, TrainingDivergedError
from dnn.activations import HIDDEN_ACTIVATIONS
from dnn.normalization import (
    BATCH_STATISTICS,
    EPSILON,
    INFERENCE,
    MOMENTUM,
    TRAIN,
    Normalization,
    normalize,
    normalize_backward,
)

RTOL = 1e-10


def arrays(kind, units, rng):
    """A Normalization with random gamma and beta (and running statistics for batch), float64."""
    scale, shift = rng.normal(1.0, 0.3, units), rng.normal(0.0, 0.3, units)
    if kind == "layer":
        return Normalization(kind, scale, shift)
    return Normalization(kind, scale, shift, rng.normal(size=units), rng.uniform(0.5, 2.0, units))


def torch_module(torch, kind, norm, training):
    units = len(norm.scale)
    module = (torch.nn.BatchNorm1d(units, eps=EPSILON, momentum=MOMENTUM) if kind == "batch"
              else torch.nn.LayerNorm(units, eps=EPSILON)).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(norm.scale))
        module.bias.copy_(torch.from_numpy(norm.shift))
        if kind == "batch":
            module.running_mean.copy_(torch.from_numpy(norm.running_mean))
            module.running_var.copy_(torch.from_numpy(norm.running_var))
    return module.train(training)


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("training", [True, False])
def test_forward_backward_and_running_statistics_equal_torch(kind, training, rng):
    torch = pytest.importorskip("torch")
    z = rng.normal(2.0, 3.0, (7, 5))
    upstream = rng.normal(size=(7, 5))  # dL/dy
    norm = arrays(kind, 5, rng)
    module = torch_module(torch, kind, norm, training)
    z_torch = torch.from_numpy(z.copy()).requires_grad_(True)
    y_torch = module(z_torch)
    y_torch.backward(torch.from_numpy(upstream))

    y, kept = normalize(norm, z.copy(), None, TRAIN if training else INFERENCE)
    np.testing.assert_allclose(y, y_torch.detach().numpy(), rtol=RTOL, atol=1e-12)
    delta, grad_scale, grad_shift = normalize_backward(norm, kept, upstream.copy())
    np.testing.assert_allclose(delta, z_torch.grad.numpy(), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(grad_scale, module.weight.grad.numpy(), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(grad_shift, module.bias.grad.numpy(), rtol=RTOL, atol=1e-12)
    if kind == "batch":  # running statistics moved in training (the variance unbiased), kept at inference
        np.testing.assert_allclose(norm.running_mean, module.running_mean.numpy(), rtol=RTOL)
        np.testing.assert_allclose(norm.running_var, module.running_var.numpy(), rtol=RTOL)


def test_batch_statistics_mode_leaves_the_running_statistics_alone(rng):
    norm = arrays("batch", 4, rng)
    mean, var = norm.running_mean.copy(), norm.running_var.copy()
    normalize(norm, rng.normal(size=(6, 4)), None, BATCH_STATISTICS)
    assert np.array_equal(norm.running_mean, mean) and np.array_equal(norm.running_var, var)


def test_inference_by_hand(rng):
    """A one-unit batch-normalized layer, worked by hand: y = gamma (z - mean) / sqrt(var + eps) + beta."""
    model = DNN(dtype="float64")
    model.addInputLayer([1])
    model.addHiddenLayer([1], activation="identity", normalization="batch")
    model.addOutputLayer([1], activation="identity")
    model.w = {2: [[2.0]], 3: [[1.0]]}
    model.b = {2: [1.0], 3: [0.0]}
    model.gamma[2], model.beta[2] = [3.0], [-1.0]
    model.running_mean[2], model.running_var[2] = [5.0], [4.0 - EPSILON]
    # z = 2 * 4 + 1 = 9; (9 - 5) / 2 = 2; 3 * 2 - 1 = 5
    assert model.predict(np.array([[4.0]]))[0] == pytest.approx(5.0, rel=1e-15)
    assert model.forwardPropagation(np.array([[4.0]]))[0, 0] == pytest.approx(5.0, rel=1e-15)


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("activation", sorted(set(HIDDEN_ACTIVATIONS) - {"step"}))
def test_gradient_check_of_every_hidden_activation_with_each_normalization(kind, activation, rng):
    X, y = rng.normal(size=(9, 4)), rng.integers(0, 3, 9)
    model = DNN(seed=3, dtype="float64", l2=0.01, l1=0.001)
    model.addInputLayer([4])
    model.addHiddenLayer([5, 3], activation=activation, normalization=[kind, None])
    model.addOutputLayer([3])
    before = model.state.params.buffers.copy()
    errors = model.gradientCheck(X, y)
    assert {"gamma2", "beta2"} <= set(errors) and "gamma3" not in errors
    assert max(errors.values()) < 1e-6, errors
    assert np.array_equal(model.state.params.buffers, before)  # the check used batch statistics only


def table(rng, rows=256):
    X = rng.normal(size=(rows, 6)) * [1, 10, 100, 1, 1, 0.1]
    return X, (X[:, 0] + X[:, 1] / 10 > 0).astype(int)


def normalized_model(seed=0, **options):
    model = DNN(seed=seed, optimizer="adam", lr=0.01, **options)
    model.addInputLayer([6])
    model.addHiddenLayer([8, 4], activation=["relu", "gelu"], normalization=["batch", "layer"], dropout=[0.1, 0])
    model.addOutputLayer([2])
    return model


def test_training_moves_the_running_statistics_towards_the_data(rng):
    X, y = table(rng)
    model = normalized_model(standardize=False)
    model.fit(X, y, epochs=8, batchSize=16, verbose=0)
    # after 128 steps of momentum 0.1 the running mean is the recent batches' mean of z = X w + b
    z = X @ model.w[2] + model.b[2]
    np.testing.assert_allclose(model.running_mean[2], z.mean(axis=0), rtol=0.2, atol=0.2 * z.std(axis=0).max())
    assert set(model.running_mean) == {2} and set(model.gamma) == {2, 3}


def test_predictions_use_the_running_statistics_and_layer_statistics_of_each_row(rng):
    """The trained network computed by hand in float64 (math.erf for gelu): predictProba to float32 rounding."""
    X, y = table(rng)
    model = normalized_model(standardize=False)
    model.fit(X, y, epochs=2, batchSize=16, verbose=0)
    w, b, gamma, beta = ({k: v.astype(np.float64) for k, v in getattr(model, name).items()}
                         for name in ("w", "b", "gamma", "beta"))
    z = X @ w[2] + b[2]
    z = (z - model.running_mean[2]) / np.sqrt(model.running_var[2].astype(np.float64) + EPSILON)
    a = np.maximum(gamma[2] * z + beta[2], 0)
    z = a @ w[3] + b[3]
    z = (z - z.mean(axis=1, keepdims=True)) / np.sqrt(z.var(axis=1, keepdims=True) + EPSILON)
    z = gamma[3] * z + beta[3]
    a = z * 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    z = a @ w[4] + b[4]
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(model.predictProba(X), expected / expected.sum(axis=1, keepdims=True), atol=2e-6)


def test_files_keep_every_array_and_training_continues_identically(rng, tmp_path):
    X, y = table(rng)
    model = normalized_model()
    model.fit(X, y, epochs=3, batchSize=16, verbose=0)
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    assert loaded.getConfig() == model.getConfig()
    assert [layer.normalization for layer in loaded.layers] == [None, "batch", "layer", None]
    for name in ("w", "b", "gamma", "beta", "running_mean", "running_var"):
        original, copy = getattr(model, name), getattr(loaded, name)
        assert set(original) == set(copy) and all(np.array_equal(original[k], copy[k]) for k in original)
    model.fit(X, y, epochs=2, batchSize=16, verbose=0)
    loaded.fit(X, y, epochs=2, batchSize=16, verbose=0)
    assert np.array_equal(model.state.params.flat, loaded.state.params.flat)
    assert np.array_equal(model.state.params.buffers, loaded.state.params.buffers)


def test_a_file_without_its_running_statistics_or_with_negative_variances_is_refused(rng, tmp_path):
    from dnn.files import persistence

    model = normalized_model()
    model.fit(*table(rng), epochs=1, batchSize=16, verbose=0)
    payload = persistence.to_payload(model)
    del payload["normalization"]["running_var"]
    (tmp_path / "a.pkl").write_bytes(persistence.file_bytes(payload))
    with pytest.raises(ModelFileError, match=r"running_var must hold layers \[2\], as config.layers declares"):
        DNN.importModel(tmp_path / "a.pkl")
    payload = persistence.to_payload(model)
    payload["normalization"]["running_var"][2] = -np.ones(8, np.float32)
    (tmp_path / "b.pkl").write_bytes(persistence.file_bytes(payload))
    with pytest.raises(ModelFileError, match=r"running_var\[2\] holds negative variances"):
        DNN.importModel(tmp_path / "b.pkl")


def test_assigning_arrays_is_checked(rng):
    model = normalized_model()
    before = model.state.params.buffers.copy()
    with pytest.raises(ValueError, match=r"model.running_var\[2\] must hold variances, numbers >= 0"):
        model.running_var[2] = -np.ones(8)
    with pytest.raises(ValueError, match=r"model.running_mean holds the running means of layer 2"):
        model.running_mean[3] = np.zeros(4)
    with pytest.raises(ValueError, match=r"model.gamma\[3\] must have shape \(4,\), got \(8,\)"):
        model.gamma[3] = np.ones(8)
    assert np.array_equal(model.state.params.buffers, before)


def test_config_round_trip_builds_the_same_network():
    model = normalized_model(seed=5)
    twin = DNN.fromConfig(model.getConfig())
    assert twin.layers == model.layers
    assert np.array_equal(twin.state.params.flat, model.state.params.flat)
    assert np.array_equal(twin.state.params.buffers, model.state.params.buffers)


def test_summary_counts_gamma_and_beta_as_torch_counts_parameters():
    torch = pytest.importorskip("torch")
    model = normalized_model()
    lines = []
    model.summary(printFn=lines.append)
    reference = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 4),
                                    torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    assert f"Total parameters: {sum(p.numel() for p in reference.parameters())}" in lines[0]
    assert "| Normalization |" in lines[0]


def test_lr_find_leaves_the_running_statistics_as_they_were(rng):
    X, y = table(rng)
    model = normalized_model()
    model.fit(X, y, epochs=1, batchSize=16, verbose=0)
    before = model.state.params.buffers.copy()
    model.lrFind(X, y, steps=20)
    assert np.array_equal(model.state.params.buffers, before)


def test_divergence_puts_back_the_running_statistics_of_the_last_good_state():
    """A regression whose update overflows float32: the failed batch's forward pass moved the running statistics
    before the overflow was found; the rollback puts them back with the weights."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    model = DNN(lr=1000.0, seed=0)
    model.addInputLayer([2])
    model.addHiddenLayer([3], activation="identity", normalization="batch")
    model.addOutputLayer([1], activation="identity")
    flat, buffers = model.state.params.flat.copy(), model.state.params.buffers.copy()
    with pytest.raises(TrainingDivergedError):
        model.fit(X, np.full(8, -1e19), epochs=1, batchSize=8, verbose=0)
    assert np.array_equal(model.state.params.flat, flat)
    assert np.array_equal(model.state.params.buffers, buffers)


def test_same_machine_reruns_are_bit_identical(rng):
    X, y = table(rng)
    first, second = normalized_model(seed=7), normalized_model(seed=7)
    first.fit(X, y, epochs=2, batchSize=30, verbose=0)  # 256 rows: a last batch of 16
    second.fit(X, y, epochs=2, batchSize=30, verbose=0)
    assert np.array_equal(first.predictProba(X), second.predictProba(X))


def test_one_training_step_equals_torch(rng):
    """One SGD step on one batch, float64: weights, gamma, beta and running statistics as PyTorch's."""
    torch = pytest.importorskip("torch")
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 2, 10)
    model = DNN(seed=0, dtype="float64", lr=0.1)
    model.addInputLayer([3])
    model.addHiddenLayer([4, 4], activation=["tanh", "relu"], normalization=["batch", "layer"])
    model.addOutputLayer([2])
    model.gamma[2], model.beta[3] = rng.normal(1, 0.2, 4), rng.normal(0, 0.2, 4)
    layers = [torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Tanh(), torch.nn.Linear(4, 4),
              torch.nn.LayerNorm(4), torch.nn.ReLU(), torch.nn.Linear(4, 2)]
    net = torch.nn.Sequential(*layers).double()
    with torch.no_grad():
        for linear, layer in zip(layers[0::3], (2, 3, 4)):
            linear.weight.copy_(torch.from_numpy(model.w[layer].T.copy()))
            linear.bias.copy_(torch.from_numpy(model.b[layer].copy()))
        for norm, layer in ((layers[1], 2), (layers[4], 3)):
            norm.weight.copy_(torch.from_numpy(model.gamma[layer].copy()))
            norm.bias.copy_(torch.from_numpy(model.beta[layer].copy()))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
    loss.backward()
    optimizer.step()
    model.fit(X, y, epochs=1, batchSize=10, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.w[2], layers[0].weight.detach().numpy().T, rtol=1e-10)
    np.testing.assert_allclose(model.gamma[2], layers[1].weight.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.beta[3], layers[4].bias.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.running_var[2], layers[1].running_var.numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.w[4], layers[6].weight.detach().numpy().T, rtol=1e-10)


def test_one_row_batches_are_refused_and_a_last_row_alone_leaves_the_running_statistics(rng):
    X, y = table(rng, rows=33)
    model = normalized_model()
    before = model.state.params.flat.copy()
    with pytest.raises(ValueError, match="batch normalization needs at least 2 rows per batch"):
        model.fit(X, y, epochs=1, batchSize=1, verbose=0)
    assert np.array_equal(model.state.params.flat, before)
    norm = Normalization("batch", np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))
    normalize(norm, rng.normal(size=(1, 3)), None, TRAIN)  # as the 33rd row of batches of 32
    assert np.array_equal(norm.running_mean, np.zeros(3)) and np.array_equal(norm.running_var, np.ones(3))


def test_files_of_normalized_networks_are_format_3_so_that_older_readers_refuse_them(rng, tmp_path):
    """A reader of format 2 ignores what it does not know: it would load the network without its normalization."""
    import pickle

    normalized, plain = normalized_model(), DNN(seed=0)
    plain.addInputLayer([6])
    plain.addOutputLayer([2])
    for model, version in ((normalized, 3), (plain, 2)):
        model.saveModel(tmp_path / "m.pkl")
        assert pickle.loads((tmp_path / "m.pkl").read_bytes())["format_version"] == version


@pytest.mark.parametrize("value, message", [(["batch"], "normalization must be None, 'batch' or 'layer'"),
                                            ("group", "normalization must be None, 'batch' or 'layer', got 'group'")])
def test_a_file_with_an_unknown_normalization_is_refused_naming_it(value, message, tmp_path):
    from dnn.files import persistence

    payload = persistence.to_payload(normalized_model())
    payload["config"]["layers"][1]["normalization"] = value
    (tmp_path / "m.pkl").write_bytes(persistence.file_bytes(payload))
    with pytest.raises(ModelFileError, match=message):
        DNN.importModel(tmp_path / "m.pkl")


def test_normalization_is_refused_on_the_input_and_output_layers():
    config = normalized_model().getConfig()
    for index in (0, -1):
        changed = {**config, "layers": [dict(layer) for layer in config["layers"]]}
        changed["layers"][index]["normalization"] = "batch"
        with pytest.raises(ValueError, match="normalization is for hidden layers only"):
            DNN.fromConfig(changed)
