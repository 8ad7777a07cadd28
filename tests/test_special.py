"""dnn.special: erf, erfc and the normal distribution function in numpy, checked against mpmath and math.erf."""

import math

import numpy as np
import pytest

from dnn.special import erf, erfc, normal_cdf

#: Largest error allowed, in units in the last place of the exact value (what the module docstring states).
ULPS = 5


def sample(rng):
    """Points over the whole range: near 0, around the cut at 0.5, the tails, tiny and subnormal-bound values."""
    return np.concatenate([rng.uniform(-1, 1, 1500), rng.uniform(-6, 6, 1500), rng.uniform(-27, 27, 1000),
                           np.linspace(0.49, 0.51, 101), -np.linspace(0.49, 0.51, 101),
                           10 ** rng.uniform(-300, -1, 200), np.linspace(20, 26.5, 101), [0.0, 0.5, -0.5, 1.0, 28.0]])


def ulps(given, exact):
    """|given - exact| in units of the last place of exact (normal float64 values only)."""
    return np.abs(given - exact) / np.spacing(np.abs(exact))


@pytest.mark.parametrize(("function", "name"), [(erf, "erf"), (erfc, "erfc"), (normal_cdf, "ncdf")])
def test_within_a_few_ulps_of_mpmath(function, name, rng):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    x = sample(rng) * (math.sqrt(2) if name == "ncdf" else 1)
    exact = np.array([float(getattr(mpmath, name)(mpmath.mpf(float(v)))) for v in x])
    normal = np.abs(exact) >= np.finfo(np.float64).tiny
    assert normal.sum() > 4000
    error = ulps(function(x), exact)[normal]
    assert error.max() <= ULPS, (x[normal][np.argmax(error)], error.max())
    assert error.mean() < 0.6


def test_agrees_with_math_erf_to_the_last_digits(rng):
    x = rng.normal(0, 3, 3000)
    np.testing.assert_allclose(erf(x), [math.erf(v) for v in x], rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(erfc(x), [math.erfc(v) for v in x], rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(normal_cdf(x), [math.erfc(-v / math.sqrt(2)) / 2 for v in x], rtol=1e-13)


def test_tails_keep_their_relative_accuracy():
    # erfc(10) and Phi(-10), where 1 - erf and 1 + erf give 0
    # the exact values from mpmath at 30 digits
    assert erfc(np.array(10.0)) == pytest.approx(2.08848758376254475700e-45, rel=1e-15, abs=0)
    assert normal_cdf(np.array(-10.0)) == pytest.approx(7.61985302416052606597e-24, rel=1e-15, abs=0)
    assert normal_cdf(np.array(-37.5)) == pytest.approx(4.60535300958195484383e-308, rel=1e-14, abs=0)


def test_special_values_shapes_and_dtypes():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-320])
    np.testing.assert_array_equal(erf(x)[1:5], [1.0, -1.0, 0.0, 0.0])
    np.testing.assert_array_equal(erfc(x)[1:4], [0.0, 2.0, 1.0])
    np.testing.assert_array_equal(normal_cdf(x)[1:4], [1.0, 0.0, 0.5])
    assert np.isnan(erf(x)[0]) and np.isnan(erfc(x)[0]) and np.isnan(normal_cdf(x)[0])
    assert np.signbit(erf(x)[4])
    matrix = np.linspace(-3, 3, 6 * 5000).reshape(6, 5000).astype(np.float32)  # several blocks
    result = normal_cdf(matrix)
    assert result.dtype == np.float32 and result.shape == matrix.shape
    np.testing.assert_allclose(result, normal_cdf(matrix.astype(np.float64)), rtol=6e-8)
    assert erf(3).dtype == np.float64 and erf(np.float64(0.5)).shape == ()
    np.testing.assert_array_equal(erf(matrix.T), erf(matrix).T)  # a non-contiguous input


def test_out_may_be_the_input():
    x = np.linspace(-4, 4, 9)
    expected = erf(x)
    assert erf(x, out=x) is x
    np.testing.assert_array_equal(x, expected)
    with pytest.raises(ValueError, match="C-contiguous array of shape"):
        erf(np.zeros((3, 4)), out=np.zeros((4, 3)).T)
