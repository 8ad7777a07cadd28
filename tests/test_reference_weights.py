"""Training is bit-identical to the loop it replaced: same seed, data and settings, same weights to the last bit."""

import numpy as np
import pytest

from tests.fixtures.reference_models import RECIPES, data, flat_weights

REFERENCE = np.load(__file__.replace("test_reference_weights.py", "fixtures/reference_weights.npz"))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_weights_equal_the_reference_bit_for_bit(name):
    X, y = data()
    weights = flat_weights(RECIPES[name](X, y))
    expected = REFERENCE[name]
    assert weights.dtype == expected.dtype
    np.testing.assert_array_equal(weights, expected)
