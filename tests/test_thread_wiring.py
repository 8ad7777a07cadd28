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
    from dnn.engine import inference

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


def wide_net():
    """Products large enough for threads to pay (a 2,048-row chunk through 64 x 64 is 8 M multiply-adds)."""
    model = DNN(seed=0)
    model.addInputLayer([64])
    model.addHiddenLayer([64])
    model.addOutputLayer([3])
    return model


@pytest.mark.parametrize(("times", "best"), [({1: 0.010, 2: 0.004}, 2), ({1: 0.004, 2: 0.010}, 1)])
def test_predict_over_many_chunks_keeps_the_count_its_timing_favours(monkeypatch, times, best):
    from dnn.engine import inference
    from dnn.threads import ThreadPolicy
    from dnn.threads import policy as policy_module

    settings = []
    monkeypatch.setattr(policy_module, "set_blas_threads", settings.append)
    monkeypatch.setattr(policy_module, "get_blas_threads", lambda: ["user"])
    now = [0.0]  # the fake clock's seconds
    model = wide_net()
    policy = model._thread_policies["predict"] = ThreadPolicy(clock=lambda: now[0], cpus=lambda: 2, load=lambda: 0)
    used, original = [], inference.forward_pass

    def timed(*args, **kwargs):  # each chunk "takes" what its count's time says
        used.append(policy.current)
        now[0] += times[policy.current]
        return original(*args, **kwargs)

    monkeypatch.setattr(inference, "forward_pass", timed)
    X = np.random.default_rng(0).normal(size=(30 * 2048, 64)).astype(np.float32)
    model.predictProba(X)
    # untimed first chunk and 3 timed at each count, then the faster for the rest
    assert policy.chosen == best and used[8:] == [best] * 22
    assert model.thread_policy("predict") is policy and settings[-1] == ["user"]
    # the next call measures only the count it kept, and tries the other within the exploration budget (5 % of the
    # time), carried over from the first call: one try at most in 30 chunks (an untimed chunk and a timed one)
    used.clear()
    model.predict(X)
    assert used[:4] == [best] * 4 and used.count(3 - best) <= 2 and policy.chosen == best


def test_predict_of_one_chunk_takes_the_static_choice_and_errors_restore_blas(user_setting):
    model = wide_net()
    X = np.random.default_rng(0).normal(size=(5 * 2048, 64))
    model.predict(X[:2048])
    assert model.thread_policy("predict").chosen is None  # not timed: one chunk
    X[3 * 2048 + 5, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(X)  # raised inside the timed chunks
    assert get_blas_threads() == user_setting
    with pytest.raises(ValueError, match="work"):
        model.thread_policy("train")
