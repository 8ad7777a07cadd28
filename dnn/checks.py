"""Small checks of user arguments, shared by the modules that validate input."""

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


def check_number(value, name, low=None, high=None, low_inclusive=True):
    """Raise ValueError unless ``value`` is a finite real number in [low, high) (or (low, high))."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value!r}")
    if high is not None and value >= high:
        raise ValueError(f"{name} must be < {high}, got {value!r}")
