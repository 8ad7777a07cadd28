"""Issue 12, item 8: hyperparameters given as Fraction, Decimal or numpy scalars become floats at the boundary."""

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from dnn import DNN
from dnn.checks import check_number


def network(**options):
    model = DNN(seed=3, **options)
    model.addInputLayer([3])
    model.addHiddenLayer([5])
    model.addOutputLayer([2])
    return model


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.mark.parametrize("kind", [Fraction, Decimal, np.float64])
def test_exact_numbers_train_exactly_like_their_floats(kind, tmp_path):
    def number(text):
        return kind(text) if kind is not Fraction else Fraction(text)

    X, y = data()
    exact = network(lr=number("0.125"), momentum=number("0.5"), l2=number("0.0625"), decay=number("0.25"))
    plain = network(lr=0.125, momentum=0.5, l2=0.0625, decay=0.25)
    for model in (exact, plain):
        model.fit(X, y, epochs=4, batchSize=8, verbose=0, validationSplit=number("0.25"), earlyStopping=3,
                  minDelta=number("0.0625"))
    for layer in (2, 3):
        np.testing.assert_array_equal(exact.w[layer], plain.w[layer])
    assert exact.getConfig() == plain.getConfig()
    assert all(type(exact.getConfig()[key]) is float for key in ("lr", "decay", "l2"))
    exact.saveModel(tmp_path / "m.pkl")  # the file format accepts only plain numbers: it must be floats
    np.testing.assert_array_equal(DNN.importModel(tmp_path / "m.pkl").w[2], plain.w[2])


def test_an_exact_l2_assigned_later_is_converted():
    model = network()
    model.l2 = Fraction(1, 8)
    assert type(model.l2) is float and model.l2 == 0.125
    with pytest.raises(ValueError, match="l2 must be a finite number"):
        model.l2 = "0.1"
    assert model.l2 == 0.125


@pytest.mark.parametrize(("value", "message"), [
    (Decimal("sNaN"), "momentum must be a finite number"),
    (Decimal("NaN"), "momentum must be a finite number"),
    (Fraction(10**400, 3), "momentum must be a finite number"),
    (10**400, "momentum must be a finite number"),
    (complex(0.1, 0), "momentum must be a finite number"),
    (Fraction(1, 1), "momentum must be < 1"),
])
def test_numbers_that_are_no_finite_float_are_refused(value, message):
    with pytest.raises(ValueError, match=message):
        DNN(momentum=value)


def test_check_number_returns_the_float():
    assert check_number(Fraction(1, 3), "x") == 1 / 3
    assert type(check_number(Decimal("2.5"), "x", low=0)) is float
    assert type(check_number(np.float32(0.5), "x")) is float
