"""The mini-batch loop: batches, memmaps, bounded memory."""

import tracemalloc

import numpy as np
import pytest

from dnn import DNN
from dnn.engine.batches import TrainingData, _block_shuffled


def classifier(features, seed=0, **options):
    model = DNN(**{"lr": 0.1, "momentum": 0.9, "seed": seed, **options})
    model.addInputLayer([features])
    model.addHiddenLayer([16])
    model.addOutputLayer([2])
    return model


def separable(n, features, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(dtype)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def test_block_shuffle_is_a_permutation_visiting_contiguous_blocks():
    rng = np.random.default_rng(0)
    order = _block_shuffled(rng, 1000, 128)
    assert sorted(order.tolist()) == list(range(1000))
    blocks = order // 128
    # each block's rows come together, in one run
    assert len(np.flatnonzero(np.diff(blocks))) == len(np.unique(blocks)) - 1
    assert not np.array_equal(order, np.arange(1000))


def test_gather_copies_the_requested_rows_and_standardizes():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    t = np.eye(10, dtype=np.float32)
    data = TrainingData(x, t, mean=np.array([1.0, 1.0], np.float32), scale=np.array([2.0, 2.0], np.float32))
    xb, tb, sb = np.empty((3, 2), np.float32), np.empty((3, 10), np.float32), np.empty((3, 1), np.float32)
    data.gather(np.array([7, 0, 3]), xb, tb, sb)
    np.testing.assert_array_equal(xb, (x[[7, 0, 3]] - 1) / 2)
    np.testing.assert_array_equal(tb, t[[7, 0, 3]])


def test_fit_on_a_memmap_uses_bounded_memory_and_learns(tmp_path):
    n, features = 100_000, 100
    X, y = separable(n, features)
    path = tmp_path / "rows.f32"
    data = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    data[:] = X
    data.flush()
    del data
    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    model = classifier(features)
    tracemalloc.start()
    model.fit(mapped, y, epochs=1, batchSize=100, verbose=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < X.nbytes / 4, f"fit on a {X.nbytes >> 20} MB memmap allocated {peak >> 20} MB"
    assert model.history["accuracy"][-1] > 0.95
    np.testing.assert_array_equal(model.predict(mapped), model.predict(X))


def test_fit_on_a_uint8_memmap_converts_batch_by_batch(tmp_path):
    """With one batch per epoch the row order cannot matter: uint8 memmap and float32 array train alike."""
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, size=(3000, 20), dtype=np.uint8)
    y = (X[:, 0] > 127).astype(int)
    path = tmp_path / "pixels.u8"
    mapped = np.memmap(path, dtype=np.uint8, mode="w+", shape=X.shape)
    mapped[:] = X
    from_file, in_memory = classifier(20, lr=1e-4), classifier(20, lr=1e-4)
    from_file.fit(mapped, y, epochs=3, batchSize=3000, verbose=0)
    in_memory.fit(X.astype(np.float32), y, epochs=3, batchSize=3000, verbose=0)
    for layer in (2, 3):
        np.testing.assert_allclose(from_file.w[layer], in_memory.w[layer], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(from_file.predictProba(mapped), in_memory.predictProba(X), rtol=1e-4)


def test_predict_on_a_memmap_uses_bounded_memory(tmp_path):
    n, features = 200_000, 50
    path = tmp_path / "rows.f32"
    mapped = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, features))
    mapped[:] = 0.5
    model = classifier(features)
    tracemalloc.start()
    labels = model.predict(mapped)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(labels) == n
    assert peak - labels.nbytes < n * features * 4 / 8


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_no_float64_temporaries_in_float32_training(dtype, monkeypatch):
    """Every array the loop hands to the update has the model's dtype."""
    from dnn import optimizers

    seen = set()
    original = optimizers.SGD.update

    def spy(self, param, grad, lr):
        seen.update(a.dtype for a in [param, grad, *self.state.values()])
        return original(self, param, grad, lr)

    monkeypatch.setattr(optimizers.SGD, "update", spy)
    X, y = separable(200, 4, dtype=np.float64)
    model = classifier(4, dtype=dtype, l2=0.01)
    model.fit(X, y, epochs=1, batchSize=32, verbose=0)
    assert seen == {np.dtype(dtype)}
