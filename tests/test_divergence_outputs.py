"""fit never returns normally with a model whose outputs or loss are infinite: the last update is checked too."""

import numpy as np
import pytest

from dnn import DNN, TrainingDivergedError


def regression_model(lr):
    model = DNN(lr=lr, seed=0, threads=1)
    model.addInputLayer([1])
    model.addOutputLayer([1], activation="identity")
    return model


def test_an_update_that_leaves_finite_weights_but_infinite_outputs_is_divergence():
    # Features of 1e18 (below the 1.8e19 that check_scale refuses in float32) and lr 1: the one update moves the
    # weight to about -5e36, finite, but 5e36 * 1e18 overflows float32. The batch's loss was computed before it.
    X = np.array([[1e18], [2e18], [-1e18], [1.5e18]])
    model = regression_model(lr=1.0)
    start = model.w[2].copy()
    with pytest.raises(TrainingDivergedError, match=r"update of epoch 1, batch 1 made the weights, or the network's "
                                                    r"outputs or loss, infinite or NaN"):
        model.fit(X, X[:, 0] * 3, epochs=1, batchSize=4, verbose=0)
    np.testing.assert_array_equal(model.w[2], start)             # back at the start of the fit
    assert model.epochs == 0 and np.isfinite(model.predict(X)).all()


def test_validation_rows_whose_loss_overflows_are_divergence_too():
    # The training rows (about 1) stay finite after the update to w = 1e18; a validation row of 1.8e19 then gives
    # an output of 1.8e37, finite, whose square overflows float32: val_loss was returned as inf before.
    X = np.array([[1.0], [2.0], [-1.0], [1.5]])
    model = regression_model(lr=0.5)
    start = model.w[2].copy()
    with pytest.raises(TrainingDivergedError, match="made the weights, or the network's outputs or loss"):
        model.fit(X, X[:, 0] * 1e18, epochs=1, batchSize=4, verbose=0,
                  validationData=(np.array([[1.8e19], [-1.8e19]]), np.zeros(2)))
    np.testing.assert_array_equal(model.w[2], start)
    assert model.history.get("val_loss", []) == []
