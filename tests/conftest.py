import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def central_difference(f, x, h=1e-6):
    """Independent reference: d f / d x for every entry of the float64 array x (two-point formula)."""
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = f(x)
        x[i] = original - h
        minus = f(x)
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
    return grad


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
