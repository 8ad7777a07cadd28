"""A pickled or deep-copied model trains exactly like the original (its weights stay views of one flat array)."""

import copy
import pickle

import numpy as np
import pytest


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_copy_continues_training_like_the_original(rng, duplicate):
    from dnn import DNN

    X = rng.normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    model = DNN(lr=0.5, momentum=0.9, seed=0)
    model.addInputLayer([3])
    model.addOutputLayer([2])
    model.fit(X, y, epochs=1, verbose=0)
    twin = duplicate(model)
    before = twin.w[2].copy()
    model.fit(X, y, epochs=3, verbose=0)
    twin.fit(X, y, epochs=3, verbose=0)
    assert not np.array_equal(twin.w[2], before)
    np.testing.assert_array_equal(twin.w[2], model.w[2])
    np.testing.assert_array_equal(twin.predictProba(X), model.predictProba(X))
