"""modelEvaluate works chunk by chunk: bounded memory on a memmap, the same figures as whole-array formulas."""

import tracemalloc

import numpy as np
import pytest

from dnn import DNN, metrics


def classifier(features=20):
    model = DNN(lr=0.1, seed=0)
    model.addInputLayer([features])
    model.addHiddenLayer([16])
    model.addOutputLayer([10])
    return model


def test_evaluating_a_million_row_memmap_holds_no_full_matrices(tmp_path):
    n, features = 1_000_000, 20
    rng = np.random.default_rng(0)
    path = tmp_path / "rows.f32"
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, features))
    for start in range(0, n, 100_000):
        X[start:start + 100_000] = rng.normal(size=(100_000, features))
    y = rng.integers(0, 10, n)
    model = classifier(features)
    model.fit(X[:2000], y[:2000], epochs=1, batchSize=100, verbose=0)
    tracemalloc.start()
    result = model.modelEvaluate(X, y, verbose=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB"  # the outputs and one-hot targets alone would be 80 MB
    assert result["confusion_matrix"].sum() == n


def test_chunked_figures_equal_whole_array_formulas():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(5000, 20)), rng.integers(0, 10, 5000)
    model = classifier()
    model.fit(X, y, epochs=2, batchSize=50, verbose=0)
    result = model.modelEvaluate(X, y, verbose=0)
    p = model.predictProba(X).astype(np.float64)
    expected_loss = -np.mean(np.log(p[np.arange(len(y)), y]))
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert result["accuracy"] == np.mean(model.predict(X) == y)
    np.testing.assert_array_equal(result["confusion_matrix"], metrics.confusion_matrix(y, model.predict(X), 10))


def test_regression_sums_equal_the_array_formula():
    rng = np.random.default_rng(2)
    y = rng.normal(5, 2, size=(7000, 3))
    y[:, 2] = 4.0  # a constant target column
    p = y + rng.normal(0, 0.5, size=y.shape)
    sums = metrics.RegressionSums()
    for start in range(0, len(y), 2048):
        sums.add(p[start:start + 2048], y[start:start + 2048])
    streamed, whole = sums.result(), metrics.regression_scores(p, y)
    for key in ("mse", "mae", "r2"):
        assert streamed[key] == pytest.approx(whole[key], rel=1e-10)
