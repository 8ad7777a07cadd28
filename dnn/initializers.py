"""Weight initialization chosen from the layer's activation.

He (2015) for the ReLU family keeps the variance of activations constant
through rectifiers; Glorot (2010) does the same for symmetric activations.
Draws are made in float64 and then cast, so a float32 and a float64 model
built with the same seed start from the same weights up to rounding.
"""

import numpy as np

HE_ACTIVATIONS = frozenset({"relu", "leaky_relu"})


def he_normal(fan_in, fan_out, rng, dtype):
    """Weights ~ N(0, 2 / fan_in), shape (fan_in, fan_out)."""
    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype)


def glorot_uniform(fan_in, fan_out, rng, dtype):
    """Weights ~ U(-r, r) with r = sqrt(6 / (fan_in + fan_out)), shape (fan_in, fan_out)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype)


def initial_weights(activation, fan_in, fan_out, rng, dtype):
    """Weights and zero biases for a layer with the given activation.

    Returns
    -------
    w : ndarray, shape (fan_in, fan_out)
    b : ndarray, shape (fan_out,)
    """
    draw = he_normal if activation in HE_ACTIVATIONS else glorot_uniform
    return draw(fan_in, fan_out, rng, dtype), np.zeros(fan_out, dtype=dtype)
