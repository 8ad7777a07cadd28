"""Small checks of user arguments, shared by the modules that validate input."""

import decimal
import math
import numbers

import numpy as np


def is_int(value):
    """True for Python and numpy integers, False for booleans."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def positive_int(value, name):
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_float(value):
    """``value`` as a finite Python float, or None when it is not a finite real number.

    Fractions, Decimals and numpy scalars are converted here, at the boundary,
    so nothing below ever mixes them with float arrays (a Fraction times a
    float32 array is an object array; a Decimal cannot be added to a float).
    Booleans are not numbers here.
    """
    if not isinstance(value, (numbers.Real, decimal.Decimal)) or isinstance(value, (bool, np.bool_)):
        return None
    try:
        value = float(value)
    except (ValueError, OverflowError, ArithmeticError):  # a signaling NaN, an integer beyond float range
        return None
    return value if math.isfinite(value) else None


def check_number(value, name, low=None, high=None, low_inclusive=True):
    """``value`` as a float; ValueError unless it is a finite real number in [low, high) (or (low, high)).

    Callers keep the returned float, not the value they passed (see :func:`as_float`).
    """
    number = as_float(value)
    if number is None:
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (number < low or (number == low and not low_inclusive)):
        raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value!r}")
    if high is not None and number >= high:
        raise ValueError(f"{name} must be < {high}, got {value!r}")
    return number


def layer_sizes(units, method):
    """Layer sizes from ``units`` (an int or a list of positive ints) for the error messages of ``method``."""
    sizes = [units] if is_int(units) else units
    if not isinstance(sizes, (list, tuple)) or not sizes:
        raise ValueError(f"{method} takes a list of layer sizes such as [32]; got {units!r}")
    for size in sizes:
        if not is_int(size) or size < 1:
            raise ValueError(f"{method}: units must be positive integers, got {size!r}")
    return [int(s) for s in sizes]


def per_layer(value, count, what):
    """``value`` for each of ``count`` layers: one value for all, or a list or tuple of one per layer."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * count
    if len(values) != count:
        raise ValueError(f"give one {what}, or one per layer: {count} layers but {len(values)} {what}s")
    return values
