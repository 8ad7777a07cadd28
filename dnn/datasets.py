"""Data sets for examples and tests."""

import numpy as np


def load_digits():
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images).

    Returns
    -------
    X : ndarray of float64, shape (1797, 64)
        Grey levels 0..16, one row per image.
    y : ndarray of int64, shape (1797,)
        The digit 0..9.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError("load_digits needs scikit-learn, which bundles the digits: "
                          "pip install scikit-learn (or pip install 'dnn[digits]')") from None
    data = sklearn_digits()
    return data.data.astype(np.float64), data.target.astype(np.int64)
