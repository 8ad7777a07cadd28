"""DNN(threads=...) in fit and predict: the count is honoured and the user's BLAS setting always comes back."""

import numpy as np
import pytest

from dnn import DNN
from dnn.callbacks import Callback
from dnn.threads import get_blas_threads, set_blas_threads


def net(threads=None):
    model = DNN(lr=0.05, momentum=0.9, seed=0, threads=threads)
    model.addInputLayer([20])
    model.addHiddenLayer([64])
    model.addOutputLayer([3])
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 20)), rng.integers(0, 3, 300)


class SeeThreads(Callback):
    def __init__(self, fail_at=None):
        self.seen, self.fail_at = set(), fail_at

    def on_batch_end(self, run, batch, logs):
        self.seen.update(get_blas_threads())
        if batch == self.fail_at:
            raise RuntimeError("stop here")


@pytest.fixture
def user_setting():
    """A BLAS setting of the user's own, different from what dnn would pick, restored after the test."""
    before = get_blas_threads()
    set_blas_threads(3)
    yield [3] * len(before)
    set_blas_threads(before)


def test_a_pinned_count_is_used_in_fit_and_the_users_setting_comes_back(user_setting):
    X, y = data()
    seen = SeeThreads()
    net(threads=1).fit(X, y, epochs=2, batchSize=32, verbose=0, callbacks=[seen])
    assert seen.seen == {1}
    assert get_blas_threads() == user_setting


def test_the_setting_comes_back_after_an_exception_inside_fit(user_setting):
    X, y = data()
    for threads in (None, 2):
        with pytest.raises(RuntimeError, match="stop here"):
            net(threads=threads).fit(X, y, epochs=2, batchSize=32, verbose=0, callbacks=[SeeThreads(fail_at=3)])
        assert get_blas_threads() == user_setting


def test_predict_uses_the_pinned_count_and_restores(user_setting, monkeypatch):
    from dnn import inference

    X, y = data()
    model = net(threads=1)
    model.fit(X, y, epochs=1, batchSize=32, verbose=0)
    seen = []
    original = inference.forward_pass

    def spy(*args, **kwargs):
        seen.extend(get_blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(inference, "forward_pass", spy)
    model.predict(X)
    model.predictProba(X)
    assert set(seen) == {1} and get_blas_threads() == user_setting


def test_pinned_reruns_are_bit_identical_and_threads_is_checked():
    X, y = data()
    runs = [net(threads=1), net(threads=1)]
    for model in runs:
        model.fit(X, y, epochs=3, batchSize=16, verbose=0)
    for layer in (2, 3):
        np.testing.assert_array_equal(runs[0].w[layer], runs[1].w[layer])
    with pytest.raises(ValueError, match="threads"):
        net(threads=0)
    model = net()
    with pytest.raises(ValueError, match="threads"):
        model.threads = "all"
    model.threads = 2
    assert model.thread_policy().threads == 2 and model.getConfig()["threads"] == 2
