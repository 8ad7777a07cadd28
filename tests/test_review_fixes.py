"""Defects a review found, each pinned by the value it got wrong."""

import time
import tracemalloc

import numpy as np
import pytest

from dnn import DNN
from dnn.callbacks import Callback
from dnn.images import image_to_row
from dnn.threads import blas as blas_module
from dnn.threads import blas_threads, predict_threads


def blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return rng.normal(0, 3, (3, 4))[y] + rng.normal(size=(n, 4)), y


def net(**options):
    model = DNN(**{"lr": 0.1, "momentum": 0.9, "seed": 0, **options})
    model.addInputLayer([4])
    model.addHiddenLayer([6])
    model.addOutputLayer([3])
    return model


def test_a_model_whose_momentum_was_turned_off_saves_and_loads(tmp_path):
    X, y = blobs()
    model = net()
    model.fit(X, y, epochs=2, batchSize=10, verbose=0)
    model.momentum = 0.0  # the velocity is no state of plain SGD any more
    assert model.optimizer.state == {}
    model.saveModel(tmp_path / "m.pkl")
    assert DNN.importModel(tmp_path / "m.pkl").momentum == 0.0


def test_restored_epoch_belongs_to_the_last_fit():
    X, y = blobs()
    model = net()
    model.fit(X, y, epochs=4, batchSize=10, verbose=0, earlyStopping=np.inf)
    assert model.restoredEpoch is not None
    model.fit(X, y, epochs=1, batchSize=10, verbose=0)
    assert model.restoredEpoch is None


class FailsAtStart(Callback):
    def on_train_begin(self, run):
        raise RuntimeError("the user's own error")


def test_a_callback_failing_at_the_start_raises_its_own_error():
    X, y = blobs()
    with pytest.raises(RuntimeError, match="the user's own error"):
        net().fit(X, y, epochs=2, verbose=0, earlyStopping=2, callbacks=[FailsAtStart()])


def test_class_weights_may_be_numpy_numbers():
    X, y = blobs()
    plain, numpy_typed = net(), net()
    plain.fit(X, y, epochs=2, batchSize=10, verbose=0, classWeight={0: 2.0, 1: 1.0, 2: 0.5})
    numpy_typed.fit(X, y, epochs=2, batchSize=10, verbose=0,
                    classWeight={0: np.int64(2), 1: np.float32(1.0), 2: np.float64(0.5)})
    np.testing.assert_array_equal(plain.w[2], numpy_typed.w[2])


def test_a_runnable_thread_is_someone_elses_unless_dnn_just_computed(monkeypatch):
    big = (784, 256, 128, 10)
    with blas_threads(2):
        monkeypatch.setattr(blas_module, "SPIN_SECONDS", 0.0)  # long after dnn's last products
        assert predict_threads(None, 200_000, big, cpus=2, load=lambda: 1) == 1
        monkeypatch.setattr(blas_module, "SPIN_SECONDS", 60.0)
        monkeypatch.setattr(blas_module, "_LAST_USE", [time.monotonic()])  # right after them: it is our worker
        assert predict_threads(None, 200_000, big, cpus=2, load=lambda: 1) == 2


def test_a_large_photo_becomes_a_row_in_little_memory():
    photo = np.zeros((2000, 2000))
    photo[100:1900, 900:1100] = 255.0  # a "1": a bar in the middle
    tracemalloc.start()
    row = image_to_row(photo, side=28, max_value=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 200e6  # the photo itself is 32 MB; repeating its pixels 28 x 28 times took over 6 GB
    image = row.reshape(28, 28)
    assert image.max() == pytest.approx(1.0) and image[:, 0].max() == 0.0  # ink in the middle, none at the edge
