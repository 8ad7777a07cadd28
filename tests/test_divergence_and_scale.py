"""Issue 12, items 6 and 7: the last update of a fit is checked, and inputs too large to train on are named."""

import re
import warnings

import numpy as np
import pytest

from dnn import DNN, TrainingDivergedError


def one_weight(dtype="float32"):
    """y = w x + b with w = 1, b = 0 set by hand, at the largest learning rate a model takes (1000)."""
    model = DNN(lr=1000.0, dtype=dtype)
    model.addInputLayer([1])
    model.addOutputLayer([1], activation="identity")
    model.w[2] = np.array([[1.0]])
    model.b[2] = np.array([0.0])
    return model


# x = 1e18 and y = -1e19: the output 1e18 misses by 1.1e19, a loss of 6e37 (finite in float32); the update of w is
# lr * 1.1e19 * 1e18 = 1.1e40, beyond float32 (3.4e38) but not float64.
X_HUGE, Y_HUGE = np.array([[1e18]]), np.array([-1e19])


def test_an_update_to_infinite_weights_in_the_last_batch_is_divergence():
    """The loss before the update is finite; the update makes w -inf in float32. It used to return normally."""
    model = one_weight()
    with pytest.raises(TrainingDivergedError, match="the update of epoch 1, batch 1 made the weights"):
        model.fit(X_HUGE, Y_HUGE, epochs=1, verbose=0)
    assert model.w[2][0, 0] == 1.0 and model.b[2][0] == 0.0  # the weights before that update
    assert model.epochs == 0 and model.history == {}


def test_a_large_but_finite_update_is_not_divergence():
    """In float64 the same update is finite, and so are the outputs and the loss after it: training returns."""
    model = one_weight("float64")
    history = model.fit(X_HUGE, Y_HUGE, epochs=1, verbose=0)
    assert history["loss"] == [0.5 * 1.1e19**2]
    np.testing.assert_allclose(model.w[2][0, 0], 1 - 1000 * 1.1e19 * 1e18, rtol=1e-15)
    np.testing.assert_allclose(model.b[2][0], -1000 * 1.1e19, rtol=1e-15)


def blobs(scale):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    return X * scale, (X[:, 0] > 0).astype(int)


def classifier(**options):
    model = DNN(seed=0, **options)
    model.addInputLayer([2])
    model.addHiddenLayer([4])
    model.addOutputLayer([2])
    return model


def test_features_too_large_for_float32_training_are_named():
    X, y = blobs(1e30)
    largest = np.abs(X).max()
    model = classifier()
    with pytest.raises(ValueError, match=re.escape(f"X has values as large as {largest:.3g}; features beyond 1.84e+19 "
                                                   "overflow float32 in training: rescale the features, or fit with "
                                                   "standardize=True")):
        model.fit(X, y, epochs=1, verbose=0)
    assert model.epochs == 0
    # standardized, the same data trains: its mean and scale are taken in float64
    history = classifier(standardize=True).fit(X, y, epochs=2, verbose=0)
    assert np.isfinite(history["loss"]).all()


def test_features_beyond_the_float32_range_are_named_without_a_numpy_warning():
    X, y = blobs(1e300)
    row = int(np.argmax(np.isfinite(X).all(axis=1)))  # every row overflows float32; the first is named
    message = re.escape(f"X has values as large as {np.abs(X[row]).max():.3g} (row {row}), beyond the range of "
                        f"float32 (largest 3.4e+38): rescale the features, or use dtype='float64'")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=message):
            classifier().fit(X, y, epochs=1, verbose=0)
        with pytest.raises(ValueError, match=message):
            classifier().predict(X)
    with pytest.raises(ValueError, match=re.escape("features beyond 1.34e+154 overflow float64 in training: "
                                                   "rescale the features") + "$"):
        classifier(dtype="float64").fit(X, y, epochs=1, verbose=0)


def test_values_below_the_limit_are_accepted():
    X, y = blobs(1.0)
    X[0, 0] = 1.8e19  # just under sqrt(float32 max) = 1.844e19
    model = classifier(standardize=True)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.epochs == 1
