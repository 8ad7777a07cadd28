"""A stalled network is reported once, with the likely cause; a learning one never is."""

import warnings

import pytest

from dnn import DNN, TrainingStalledWarning
from tests.test_inputs import phone_prices


def phone_net(activation, **options):
    model = DNN(lr=0.05, momentum=0.9, seed=0, **options)
    model.addInputLayer([8])
    model.addHiddenLayer([32, 16], activation=activation)
    model.addOutputLayer([4])
    return model


def test_dead_relus_on_unscaled_features_are_reported_once_with_the_fix():
    frame, price = phone_prices()
    model = phone_net("relu")
    with pytest.warns(TrainingStalledWarning) as caught:
        model.fit(frame, price, epochs=10, batchSize=32, verbose=0)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "every unit of hidden layers 2, 3 outputs 0" in message and "standardize=True" in message
    # the network really learned nothing: the accuracy of guessing, from four balanced classes
    assert model.history["accuracy"][-1] < 0.3


def test_a_loss_stuck_at_the_class_frequencies_is_reported():
    frame, price = phone_prices()
    model = phone_net("tanh")
    # ln 4 = 1.3863: the cross-entropy of four balanced classes
    with pytest.warns(TrainingStalledWarning, match=r"stayed at 1\.3863, the loss of only knowing the class "
                                                    r"frequencies, for the last \d+ epochs"):
        model.fit(frame, price, epochs=10, batchSize=32, verbose=0)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_no_warning_when_the_network_learns(activation):
    frame, price = phone_prices()
    model = phone_net(activation, standardize=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingStalledWarning)
        model.fit(frame, price, epochs=10, batchSize=32, verbose=0)
    assert model.history["accuracy"][-1] > 0.9


def test_raw_mnist_pixels_are_reported():
    """MNIST on raw 0-255 pixels with relu: all but a unit or two die in the first epoch, accuracy stays at chance."""
    from pathlib import Path

    import numpy as np

    from dnn.datasets import load_mnist

    folder = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    if not folder.exists():
        pytest.skip("the MNIST test set is not in ../shared/data/mnist")
    X, y = load_mnist(folder)
    model = DNN(lr=0.05, momentum=0.9, seed=0, threads=1)
    model.addInputLayer([784])
    model.addHiddenLayer([256, 128])
    model.addOutputLayer([10])
    with pytest.warns(TrainingStalledWarning, match="hidden layer"):
        model.fit(X[:3000].astype(np.float32), y[:3000], epochs=3, batchSize=64, verbose=0)
    assert model.history["accuracy"][-1] < 0.2
