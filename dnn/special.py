"""The error function and the standard normal distribution function without scipy, to float64 accuracy.

numpy has no erf, scipy is not a dependency of dnn, and ``math.erf`` takes one
number at a time. These functions take arrays of any shape and float dtype and
compute in float64 (a float32 array is converted block by block and its
result rounded once), returning the dtype they were given. They take their
array functions from the arrays they are given (:func:`dnn.devices.namespace`),
so a GPU's arrays are computed on the GPU.

Method, for x >= 0 (erf is odd, erfc(-x) = 2 - erfc(x)):

- x < 0.5: erf(x) = x P(x^2), P a polynomial of degree 8; erfc = 1 - erf.
- x >= 0.5: erfc(x) = exp(-x^2) Q(t) / (x + 4), t = (x - 4) / (x + 4), Q a
  polynomial of degree 20; erf = 1 - erfc. exp(-x^2) is exp(-h^2) exp(-(x - h)(x + h))
  with h the leading 24 bits of x, so that h^2 is exact and the rounding of
  x^2 does not cost digits where exp(-x^2) is small. Beyond x = 28, erfc
  underflows to 0.

The cut at 0.5 is where erf and erfc are both about 1/2, so neither 1 - erf nor
1 - erfc cancels. P and Q are Chebyshev approximations, made with
``mpmath.chebyfit(f, interval, n)`` at 50 digits, of erf(sqrt s) / sqrt s on
s in [0, 1/4] (n = 9) and of (x + 4) exp(x^2) erfc(x) as a function of t on
x in [0.5, 28] (n = 21); their own errors are below 5e-18.

erf, erfc and normal_cdf are within 5 units in the last place of float64 of
the exact values, erfc and normal_cdf relative to their value however small
it is, down to the subnormal range (tests/test_special.py checks this against
mpmath). Phi is computed from z itself, not from a rounded z / sqrt 2.
"""

import numpy as np

from dnn.devices import namespace, on_host

#: Below it, erf comes from its series; above, erfc from exp(-x^2) times a polynomial.
_SERIES_LIMIT = 0.5
#: erfc(28) is below the smallest subnormal float64: beyond it, erfc is 0 and erf is 1.
_UNDERFLOW = 28.0
#: Centre of the map t = (x - c) / (x + c) of [0.5, 28] into [-0.78, 0.75].
_CENTRE = 4.0
_SQRT_HALF = 0.70710678118654752440

#: erf(x) / x as a polynomial in x^2 on [0, 1/4], highest degree first.
_SERIES = (1.4725865480556744e-06, -1.4845849259707869e-05, 0.00012053335124353741, -0.0008548297753674966,
           0.00522397737302147, -0.026866170632887928, 0.11283791670925353, -0.37612638903183476,
           1.1283791670955126)

#: (x + 4) exp(x^2) erfc(x) as a polynomial in t = (x - 4) / (x + 4), highest degree first.
_TAIL = (-1.2185353685536206e-08, 1.3059841727915475e-09, 1.1961073479185885e-07, -7.607667692408377e-08,
         -8.42745799746254e-07, 1.4245426226253717e-06, 4.6928323467048835e-06, -1.8861010506078698e-05,
         -3.634719940103964e-06, 0.00017681284288357567, -0.0004550527641517621, -0.00028095886786081776,
         0.00611205566427478, -0.026370053340279025, 0.07638151490879747, -0.17401093723992553,
         0.3308515878780263, -0.5408538313132356, 0.773208702265237, -0.976548729080882, 1.095995661000491)

#: Elements computed at a time on the host: every temporary stays in cache, and allocating it stays cheap.
_BLOCK = 4096


def _polynomial(coefficients, t):
    """sum_k c_k t^(n-k) by Horner's rule, in one new array."""
    result = t * coefficients[0]
    result += coefficients[1]
    for c in coefficients[2:]:
        result *= t
        result += c
    return result


def _erf_series(x):
    """erf(x) for |x| < 0.5."""
    result = _polynomial(_SERIES, x * x)
    result *= x
    return result


def _erfc_tail(y, xp, half=False):
    """erfc(x) for x >= 0.5 (NaN stays NaN), x being y, or y / sqrt 2 with ``half``.

    The exponent x^2 is (h^2 + (y - h)(y + h)) (halved with ``half``), h the
    leading 24 bits of y: h^2 is exact, so the digits that a rounded x^2
    would cost exp(-x^2) in the tail are kept; with ``half``, x^2 = y^2 / 2 is
    taken from y itself, so the rounding of y / sqrt 2 costs none either.
    """
    scale, square = (_SQRT_HALF, -0.5) if half else (1.0, -1.0)
    y = xp.minimum(y, _UNDERFLOW / scale)
    x = y * scale
    shifted = x + _CENTRE
    t = x - _CENTRE
    t /= shifted
    result = _polynomial(_TAIL, t)
    result /= shifted
    h = y.astype(np.float32).astype(np.float64)
    low = y - h
    low *= y + h
    low *= square
    result *= xp.exp(low, out=low)
    h *= h
    h *= square
    result *= xp.exp(h, out=h)
    return result


def _erfc_block(x, xp):
    """erfc of a float64 block, ``xp`` its array module."""
    series = xp.abs(x) < _SERIES_LIMIT
    result = xp.empty_like(x)
    result[series] = 1.0 - _erf_series(x[series])
    outer = x[~series]
    value = _erfc_tail(xp.abs(outer), xp)
    negative = outer < 0
    value[negative] = 2.0 - value[negative]
    result[~series] = value
    return result


def _erf_block(x, xp):
    """erf of a float64 block, ``xp`` its array module."""
    series = xp.abs(x) < _SERIES_LIMIT
    result = xp.empty_like(x)
    result[series] = _erf_series(x[series])
    outer = x[~series]
    result[~series] = xp.copysign(1.0 - _erfc_tail(xp.abs(outer), xp), outer)
    return result


def _normal_cdf_block(z, xp):
    """Phi of a float64 block (``xp`` its array module): (1 + erf(z / sqrt 2)) / 2 near 0, erfc(-z / sqrt 2) / 2
    in the tails."""
    series = xp.abs(z) < _SERIES_LIMIT / _SQRT_HALF
    result = xp.empty_like(z)
    near = _erf_series(z[series] * _SQRT_HALF)
    near += 1.0
    result[series] = near
    outer = z[~series]
    value = _erfc_tail(xp.abs(outer), xp, half=True)
    positive = outer > 0
    value[positive] = 2.0 - value[positive]
    result[~series] = value
    result *= 0.5
    return result


def _blockwise(block_function, x, out):
    """``block_function`` applied to ``x`` in float64 blocks, written into ``out`` (a new array if None).

    ``x`` is a number, a list or an array of any device; the blocks are computed where ``x`` lives. Off the host
    the whole of ``x`` is one block: cache blocking buys a GPU nothing, and every block costs it some forty
    kernel launches.
    """
    if on_host(x):
        x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    xp = namespace(x)
    if out is None:
        out = xp.empty(x.shape, x.dtype)
    elif not out.flags.c_contiguous or out.shape != x.shape:
        raise ValueError(f"out must be a C-contiguous array of shape {x.shape}, got shape {out.shape}")
    source, target = x.reshape(-1), out.reshape(-1)
    size = _BLOCK if xp is np else max(source.size, 1)
    for start in range(0, source.size, size):
        block = source[start:start + size].astype(np.float64, copy=False)
        target[start:start + size] = block_function(block, xp)
    return out


def erf(x, out=None):
    """Error function, erf(x) = 2 / sqrt(pi) * integral from 0 to x of exp(-t^2) dt, elementwise.

    Parameters
    ----------
    x : array_like of float, any shape
    out : ndarray, optional
        A C-contiguous array shaped like ``x`` to write into; it may be ``x``.

    Returns
    -------
    ndarray
        In the dtype of ``x`` (integers give float64).
    """
    return _blockwise(_erf_block, x, out)


def erfc(x, out=None):
    """Complementary error function, erfc(x) = 1 - erf(x), accurate relative to itself in the far tail.

    Parameters and return as for :func:`erf`.
    """
    return _blockwise(_erfc_block, x, out)


def normal_cdf(z, out=None):
    """Standard normal distribution function, Phi(z) = (1 + erf(z / sqrt 2)) / 2, elementwise.

    Computed as erfc(-z / sqrt 2) / 2, so that Phi(-10) = 7.6e-24 keeps its
    digits where 1 + erf(z / sqrt 2) would give 0. Parameters and return as
    for :func:`erf`.
    """
    return _blockwise(_normal_cdf_block, z, out)
