"""DNN(device="cuda") on a real NVIDIA GPU through CuPy; every test skips where CuPy or a CUDA GPU is missing.

The GPU's matrix products sum in another order than the CPU's BLAS, so results agree to rounding, not bit for bit.
In float64 one rounding is 1.1e-16 relative; a few hundred SGD steps on these small networks amplify the differences
(measured on the CPU between BLAS kernels: below 1e-12), so 1e-9 relative leaves a wide margin and still catches any
real difference in the math (a wrong formula moves weights by 1e-3 or more).
"""

import numpy as np
import pytest

from dnn import DNN

cupy = pytest.importorskip("cupy")
try:
    GPUS = cupy.cuda.runtime.getDeviceCount()
except Exception:  # CuPy installed without a CUDA driver
    GPUS = 0
pytestmark = pytest.mark.skipif(GPUS == 0, reason="no CUDA GPU")

TOLERANCE = 1e-9


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 10))
    return X, (X[:, 0] - X[:, 3] > 0).astype(int) + (X[:, 5] > 1)


def build(device, dtype="float64", **settings):
    model = DNN(lr=0.05, momentum=0.9, seed=2, dtype=dtype, device=device, **settings)
    model.addInputLayer([10])
    model.addHiddenLayer([32], activation="relu", dropout=0.2)
    model.addHiddenLayer([16], activation="gelu", normalization="batch")
    model.addOutputLayer([3], activation="softmax")
    return model


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_on_the_gpu_follows_the_cpu(data, optimizer):
    X, y = data
    cpu, gpu = build("cpu", optimizer=optimizer), build("cuda", optimizer=optimizer)
    for model in (cpu, gpu):
        model.fit(X, y, epochs=4, batchSize=32, verbose=0, validationSplit=0.2)
    assert isinstance(gpu.w[2], cupy.ndarray)
    for layer in cpu.w:
        np.testing.assert_allclose(cupy.asnumpy(gpu.w[layer]), cpu.w[layer], rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_allclose(gpu.history["loss"], cpu.history["loss"], rtol=TOLERANCE)
    np.testing.assert_allclose(gpu.predictProba(X), cpu.predictProba(X), rtol=TOLERANCE, atol=TOLERANCE)


def test_outputs_follow_the_input(data):
    X, y = data
    model = build("cuda", dtype="float32")
    model.fit(X, y, epochs=1, verbose=0)
    assert isinstance(model.predict(X), np.ndarray)
    on_gpu = model.predictProba(cupy.asarray(X))
    assert isinstance(on_gpu, cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(on_gpu), model.predictProba(X))


def test_a_gpu_model_file_loads_on_the_cpu(data, tmp_path):
    X, y = data
    model = build("cuda", optimizer="adam")
    model.fit(X, y, epochs=2, verbose=0)
    model.saveModel(tmp_path / "gpu.pkl")
    loaded = DNN.importModel(tmp_path / "gpu.pkl")
    assert loaded.device == "cpu"
    for layer in loaded.w:
        np.testing.assert_array_equal(loaded.w[layer], cupy.asnumpy(model.w[layer]))
    np.testing.assert_array_equal(loaded.optimizer.state["m"], cupy.asnumpy(model.optimizer.state["m"]))


def test_moving_back_to_the_cpu(data):
    X, y = data
    model = build("cuda")
    model.fit(X, y, epochs=1, verbose=0)
    weights = cupy.asnumpy(model.w[3])
    model.device = "cpu"
    assert isinstance(model.w[3], np.ndarray) and isinstance(model.optimizer.state["velocity"], np.ndarray)
    np.testing.assert_array_equal(model.w[3], weights)
    model.fit(X, y, epochs=1, verbose=0)  # and it trains on
