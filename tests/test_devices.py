"""dnn.devices and DNN(device=...): one engine for numpy and other array libraries.

The "strict" device (tests/fixtures/strict_device.py) holds numpy arrays that numpy itself refuses, as CuPy's are
refused: a model there computes with numpy's own functions reached through the arrays' namespace, so every result
must equal the CPU model's bit for bit, and any numpy call the engine makes directly on its arrays raises.
"""

import math
import sys
import types

import numpy as np
import pytest

from dnn import DNN, devices
from dnn.callbacks import Callback
from dnn.schedules import OneCycle
from tests.fixtures.strict_device import NAME, StrictArray, strict_device, unwrap

STRICT = strict_device()

ROWS, FEATURES = 120, 6


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
    labels = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8)
    return X, labels


def build(device, hidden=("relu", "tanh"), output="softmax", units=3, dropout=0.0, normalization=None, **settings):
    model = DNN(**{"lr": 0.05, "seed": 7, **settings}, device=device)
    model.addInputLayer([FEATURES])
    for activation in hidden:
        model.addHiddenLayer([9], activation=activation, dropout=dropout, normalization=normalization)
    model.addOutputLayer([units], activation=output)
    return model


def assert_same_models(cpu, strict):
    assert {key: values for key, values in cpu.history.items() if key != "time"} == \
        {key: values for key, values in strict.history.items() if key != "time"}
    for name in ("w", "b", "gamma", "beta", "running_mean", "running_var"):
        mine, theirs = getattr(cpu, name), getattr(strict, name)
        for layer in mine:
            assert type(theirs[layer]) is (np.ndarray if strict.device == "cpu" else StrictArray)
            assert np.array_equal(mine[layer], unwrap(theirs[layer])), (name, layer)
    for key, value in cpu.optimizer.state.items():
        other = strict.optimizer.state[key]
        assert np.array_equal(value, unwrap(other)) if isinstance(value, np.ndarray) else value == other


def assert_same_evaluations(mine, theirs):
    assert mine.keys() == theirs.keys()
    for key, value in mine.items():
        assert np.array_equal(value, theirs[key]) if isinstance(value, np.ndarray) else value == theirs[key], key


def fit_both(data, fit_options=None, **build_options):
    X, y = data
    cpu, strict = build("cpu", **build_options), build(NAME, **build_options)
    for model in (cpu, strict):
        model.fit(X, y, epochs=3, batchSize=16, verbose=0, **(fit_options or {}))
    assert_same_models(cpu, strict)
    return cpu, strict


# ---------------------------------------------------------------- the registry


def test_unknown_device_names_the_known_ones():
    with pytest.raises(ValueError, match=r"device must be one of \['cpu', 'cuda', 'strict'\], got 'gpu0'"):
        DNN(device="gpu0")


def test_cuda_without_cupy_names_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    with pytest.raises(ImportError, match="device='cuda' needs CuPy, which is not installed: pip install cupy"):
        DNN(device="cuda")


def test_cuda_without_a_gpu_says_so(monkeypatch):
    def no_gpu():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_gpu))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    model = build("cpu")
    with pytest.raises(RuntimeError, match="needs a CUDA GPU and its driver; CuPy found none: cudaErrorNoDevice"):
        model.device = "cuda"
    assert model.device == "cpu" and isinstance(model.w[2], np.ndarray)  # nothing moved


def test_namespace_and_conversions():
    array = STRICT.asarray(np.arange(6.0).reshape(2, 3))
    assert devices.namespace(np.zeros(2)) is np and devices.namespace(array) is STRICT.xp
    assert devices.device_of(array) is STRICT and devices.device_of(1.5) is devices.CPU
    assert np.array_equal(devices.to_numpy(array), np.arange(6.0).reshape(2, 3))
    assert devices.to_numpy([1, 2]).tolist() == [1, 2]
    assert devices.is_array(array) and devices.is_array(np.zeros(1)) and not devices.is_array(2.0)
    assert not devices.on_host(array) and devices.on_host(np.zeros(1))
    with pytest.raises(TypeError, match="expected a numpy or CuPy array, got list"):
        devices.device_of([1, 2])
    with pytest.raises(ValueError, match="'cpu' is numpy's"):
        devices.register(devices.Device("cpu", np, np.ndarray, np.asarray, np.asarray))


def test_the_strict_device_refuses_numpy():
    # the proof below rests on this: numpy cannot compute on these arrays without their namespace
    array = STRICT.asarray(np.ones((2, 2)))
    for call in (lambda: np.exp(array), lambda: np.asarray(array), lambda: np.ones(2) + array,
                 lambda: array @ np.ones((2, 2)), lambda: np.matmul(array, array), lambda: np.zeros_like(array)):
        with pytest.raises(TypeError):
            call()


# ---------------------------------------------------------------- training and predicting, bit for bit


@pytest.mark.parametrize("hidden", [("relu", "tanh"), ("sigmoid", "leaky_relu"), ("gelu", "silu"), ("elu", "selu"),
                                    ("softplus", "identity")])
def test_fit_on_the_strict_device_equals_the_cpu(data, hidden):
    fit_both(data, hidden=hidden)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad"])
def test_every_optimizer(data, optimizer):
    fit_both(data, optimizer=optimizer)


def test_momentum_penalties_clipping_dropout(data):
    fit_both(data, momentum=0.9, nesterov=True, l2=1e-3, l1=1e-4, clipNorm=0.5, clipValue=0.2, dropout=0.3)


@pytest.mark.parametrize("normalization", ["batch", "layer"])
def test_normalization(data, normalization):
    fit_both(data, normalization=normalization, fit_options={"validationSplit": 0.25})


@pytest.mark.parametrize("output, units, target", [("sigmoid", 1, "binary"), ("sigmoid", 3, "multilabel"),
                                                   ("identity", 2, "regression")])
def test_other_outputs(data, output, units, target):
    X, labels = data
    y = {"binary": labels > 0, "multilabel": np.eye(3)[labels] + np.eye(3)[(labels + 1) % 3],
         "regression": X[:, :2] * 2.0 + 1.0}[target]
    cpu, strict = fit_both((X, y), output=output, units=units)
    for method in ("predict", "predictProba") if target != "regression" else ("predict",):
        assert np.array_equal(getattr(cpu, method)(X), getattr(strict, method)(X))


def test_fit_options(data):
    X, y = data
    options = {"validationData": (X[:30], y[:30]), "standardize": True, "classWeight": "balanced",
               "parameterList": [("w", 2, 1, 1), ("b", 3, 2)], "recordEvery": "batch", "earlyStopping": 1,
               "restoreBest": True, "metrics": ["f1", "roc_auc"], "shuffle": True}
    cpu, strict = fit_both(data, options)
    assert cpu.parameterRecord == strict.parameterRecord and len(cpu.parameterRecord[("w", 2, 1, 1)]) > 3


def test_sample_weights_and_a_schedule_per_step(data):
    weights = np.linspace(0.5, 2.0, ROWS)
    fit_both(data, {"sampleWeight": weights}, lr=OneCycle(0.1, total_steps=24))


def test_a_memmap_stays_on_the_host(data, tmp_path):
    X, y = data
    stored = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float64, shape=X.shape)
    stored[:] = X
    fit_both((stored, y))


def test_a_stream(data, tmp_path):
    from dnn import streams

    X, y = data
    path = tmp_path / "rows.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=",".join([*"abcdef", "y"]), comments="")
    cpu, strict = build("cpu"), build(NAME)
    for model in (cpu, strict):
        model.fit(streams.csv(path, target="y", chunk_rows=25), epochs=2, batchSize=16, verbose=0,
                  validationSplit=0.2)
    assert_same_models(cpu, strict)
    assert_same_evaluations(cpu.modelEvaluate(streams.csv(path, target="y"), verbose=0),
                            strict.modelEvaluate(streams.csv(path, target="y"), verbose=0))


def test_predictions_evaluation_and_the_textbook_methods(data):
    X, y = data
    cpu, strict = fit_both(data)
    for method in ("predict", "predictProba", "predictLogProba"):
        mine, theirs = getattr(cpu, method)(X), getattr(strict, method)(X)
        assert isinstance(theirs, np.ndarray) and np.array_equal(mine, theirs)
    on_device = strict.predictProba(STRICT.asarray(X))  # an input on the device gives outputs there
    assert isinstance(on_device, StrictArray) and np.array_equal(unwrap(on_device), cpu.predictProba(X))
    assert_same_evaluations(cpu.modelEvaluate(X, y, verbose=0), strict.modelEvaluate(STRICT.asarray(X), y, verbose=0))
    assert cpu.gradientCheck(X[:10], y[:10]) == strict.gradientCheck(X[:10], y[:10])
    assert np.array_equal(cpu.forwardPropagation(X[:5]), strict.forwardPropagation(X[:5]))
    mine, theirs = cpu.backPropagation(y[:5]), strict.backPropagation(y[:5])
    assert all(np.array_equal(mine[0][layer], theirs[0][layer]) for layer in mine[0])


def test_lr_find(data):
    X, y = data
    cpu, strict = build("cpu"), build(NAME)
    found = [model.lrFind(X, y, batchSize=16, steps=20) for model in (cpu, strict)]
    assert np.array_equal(found[0].losses, found[1].losses) and len(found[0].losses) > 5
    assert found[0].suggestion == found[1].suggestion


def test_device_arrays_as_training_input(data):
    X, y = data
    cpu, strict = build("cpu"), build(NAME)
    cpu.fit(X, y, epochs=2, batchSize=16, verbose=0)
    strict.fit(STRICT.asarray(X), STRICT.asarray(y), epochs=2, batchSize=16, verbose=0)
    assert_same_models(cpu, strict)


# ---------------------------------------------------------------- moving, saving, the thread policy


def test_moving_a_model_keeps_its_state_and_training_goes_on_alike(data):
    X, y = data
    cpu, moved = build("cpu", optimizer="adam"), build("cpu", optimizer="adam")
    for model in (cpu, moved):
        model.fit(X, y, epochs=2, batchSize=16, verbose=0)
    moved.device = NAME
    assert moved.device == NAME and isinstance(moved.optimizer.state["m"], StrictArray)
    for model in (cpu, moved):
        model.fit(X, y, epochs=2, batchSize=16, verbose=0)
    assert_same_models(cpu, moved)
    moved.device = "cpu"
    assert isinstance(moved.w[2], np.ndarray) and np.array_equal(moved.w[2], cpu.w[2])


def test_assigning_weights_on_a_device(data):
    model = build(NAME)
    model.w[2] = np.full((FEATURES, 9), 0.25)
    model.b[2] = STRICT.asarray(np.ones(9))
    assert np.array_equal(unwrap(model.w[2]), np.full((FEATURES, 9), 0.25, np.float32))
    assert np.array_equal(unwrap(model.b[2]), np.ones(9, np.float32))
    with pytest.raises(ValueError, match=r"model.w\[2\] must have shape \(6, 9\), got \(2, 2\)"):
        model.w[2] = STRICT.asarray(np.ones((2, 2)))


def test_files_hold_numpy_and_load_anywhere(data, tmp_path):
    cpu, strict = fit_both(data, optimizer="adam")
    cpu.saveModel(tmp_path / "cpu.pkl")
    strict.saveModel(tmp_path / "strict.pkl")
    loaded = DNN.importModel(tmp_path / "strict.pkl")
    assert loaded.device == "cpu" and isinstance(loaded.optimizer.state["v"], np.ndarray)
    assert_same_models(DNN.importModel(tmp_path / "cpu.pkl"), loaded)  # the files differ only in the epochs' times


def test_exports_read_a_host_copy(data):
    torch = pytest.importorskip("torch")
    cpu, strict = fit_both(data)
    X = torch.from_numpy(data[0])
    assert torch.equal(cpu.toTorch()(X), strict.toTorch()(X))
    assert strict.device == NAME  # the model itself stays


def test_no_thread_policy_on_a_device(data, monkeypatch):
    from dnn.threads import ThreadPolicy

    def refuse(*args, **kwargs):
        raise AssertionError("the BLAS thread policy ran for a model on a device")

    for hook in ("on_train_begin", "on_batch_begin", "on_batch_end", "each"):
        monkeypatch.setattr(ThreadPolicy, hook, refuse)
    model = build(NAME)
    X, y = data
    model.fit(X, y, epochs=1, batchSize=16, verbose=0)
    assert math.isfinite(model.history["loss"][0])
    model.predict(np.repeat(X, 200, axis=0))


def test_the_summary_names_the_device():
    lines = []
    build(NAME).summary(printFn=lines.append)
    assert "dtype: float32, device strict\n" in lines[0]
    build("cpu").summary(printFn=lines.append)
    assert "dtype: float32\n" in lines[1]


def test_callbacks_see_device_arrays(data):
    seen = []

    class Watch(Callback):
        def on_epoch_end(self, run, epoch, logs):
            seen.append(type(run.model.w[2]))

    X, y = data
    build(NAME).fit(X, y, epochs=1, batchSize=16, verbose=0, callbacks=[Watch()])
    assert seen == [StrictArray]


def test_the_scikit_learn_estimators_take_a_device(data):
    pytest.importorskip("sklearn")
    from dnn.sklearn import DNNClassifier

    X, y = data
    cpu, strict = (DNNClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=0, device=device).fit(X, y)
                   for device in ("cpu", NAME))
    assert strict.model_.device == NAME
    assert np.array_equal(cpu.predict_proba(X), strict.predict_proba(X))
