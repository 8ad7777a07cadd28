"""Losses, their gradients, and the delta of the output layer.

Convention, used everywhere in dnn: a loss is the mean over samples of a
per-sample loss, and the per-sample loss sums over the outputs. With sample
weights s_i the mean becomes (1/n) sum_i s_i loss_i.

Every loss is a pair ``(loss, gradient)`` in :data:`LOSSES`:

- ``loss(p, y)`` returns the per-sample losses, shape (n,);
- ``gradient(p, y)`` returns d loss_i / d p_i, shape (n, k).

Both take predictions ``p`` and targets ``y`` of shape (n, k). Logarithms see
``p`` clipped to [eps, 1 - eps] (cross-entropy: to at least eps), eps being
the machine epsilon of p's dtype, so every loss stays finite at p = 0 and 1.
"""

import numpy as np

from dnn.activations import get_activation


def _eps(p):
    return np.finfo(p.dtype).eps


def _floored(p):
    """p raised to at least eps: all a cross-entropy needs, as log p <= 0 for p <= 1."""
    return np.maximum(p, _eps(p))


def _clipped(p):
    return np.minimum(_floored(p), 1 - _eps(p))


def categorical_crossentropy(p, y):
    """Per-sample cross-entropy, -sum_k y_k log p_k."""
    return -np.einsum("ij,ij->i", y, np.log(_floored(p)))


def categorical_crossentropy_gradient(p, y):
    """d/dp of -sum_k y_k log p_k: -y / p (p clipped as in the loss)."""
    return -y / _floored(p)


def binary_crossentropy(p, y):
    """Per-sample binary cross-entropy, -sum_k [y_k log p_k + (1 - y_k) log(1 - p_k)]."""
    q = _clipped(p)
    return -(y * np.log(q) + (1 - y) * np.log1p(-q)).sum(axis=1)


def binary_crossentropy_gradient(p, y):
    """d/dp of the binary cross-entropy: (p - y) / (p (1 - p)), p clipped."""
    q = _clipped(p)
    return (q - y) / (q * (1 - q))


def squared_error(p, y):
    """Per-sample squared error, (1/2) sum_k (p_k - y_k)^2."""
    r = p - y
    return 0.5 * np.einsum("ij,ij->i", r, r)


def squared_error_gradient(p, y):
    """d/dp of (1/2) sum_k (p_k - y_k)^2: p - y."""
    return p - y


LOSSES = {
    "categorical_crossentropy": (categorical_crossentropy, categorical_crossentropy_gradient),
    "binary_crossentropy": (binary_crossentropy, binary_crossentropy_gradient),
    "squared_error": (squared_error, squared_error_gradient),
}

#: The loss an output activation gets when none is named.
DEFAULT_LOSS = {
    "softmax": "categorical_crossentropy",
    "sigmoid": "binary_crossentropy",
    "identity": "squared_error",
}

#: Losses that only make sense on probabilities refuse the identity output.
COMPATIBLE_LOSSES = {
    "softmax": ("categorical_crossentropy", "binary_crossentropy", "squared_error"),
    "sigmoid": ("binary_crossentropy", "categorical_crossentropy", "squared_error"),
    "identity": ("squared_error",),
}

#: Canonical pairs: the delta at the output pre-activation is exactly p - y.
FUSED_PAIRS = frozenset(DEFAULT_LOSS.items())


def get_loss(name):
    """Return the ``(loss, gradient)`` pair registered under ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a registered loss; the message lists the valid names.
    """
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(LOSSES))
        raise ValueError(f"unknown loss {name!r}; valid names: {valid}") from None


def summed_loss(loss, p, y, sample_weight=None):
    """sum_i s_i loss_i of outputs ``p`` for targets ``y`` (s_i = 1 without weights), a float."""
    if sample_weight is None and loss == "categorical_crossentropy":
        # One dot product over the whole batch instead of per-row sums: the
        # training loop's common case, and on small batches the calls are the cost.
        return -float(np.vdot(y, np.log(_floored(p))))
    per_sample = get_loss(loss)[0](p, y)
    return float(per_sample.sum() if sample_weight is None else per_sample @ sample_weight)


def mean_loss(loss, p, y, sample_weight=None):
    """The loss of outputs ``p`` for targets ``y``: (1/n) sum_i s_i loss_i, a float."""
    return summed_loss(loss, p, y, sample_weight) / len(p)


def l2_penalty(weights, l2):
    """The L2 term added to the loss: (l2 / 2) sum_l ||W_l||^2 (biases excluded)."""
    return 0.5 * l2 * sum(float(np.vdot(w, w)) for w in weights)


def add_l2_gradient(grad_w, weights, coefficient):
    """grad_w[l] += coefficient * W_l, the gradient of the L2 term (times lr for SGD)."""
    for g, w in zip(grad_w, weights):
        g += coefficient * w


def objective(loss, p, y, weights, l2):
    """What training minimizes and reports: the mean loss plus the L2 term, a float."""
    return mean_loss(loss, p, y) + l2_penalty(weights, l2)


def output_delta(activation, loss, p, y, scale, out=None):
    """Gradient of ``sum_i scale_i * loss_i`` with respect to the output pre-activations.

    Parameters
    ----------
    activation, loss : str
        Names of the output activation and the loss.
    p, y : ndarray, shape (n, k)
        Output of the network and targets.
    scale : float or ndarray of shape (n, 1)
        1/n gives the gradient of the mean loss; s_i/n of the weighted mean.
        A caller may fold further constant factors (a learning rate) in here.
    out : ndarray, shape (n, k), optional
        Where to write the result.

    Returns
    -------
    ndarray, shape (n, k)
    """
    if (activation, loss) in FUSED_PAIRS:
        # The activation's Jacobian cancels the loss gradient's denominator.
        delta = np.subtract(p, y, out=out)
    else:
        grad = get_loss(loss)[1](p, y)
        delta = get_activation(activation)[1](p, grad, out=out)
    delta *= scale
    return delta
