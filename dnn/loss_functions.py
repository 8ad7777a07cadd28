"""The per-sample losses and their gradients, on matrices: the functions training calls.

Each entry of :data:`LOSSES` is a pair ``(loss, gradient)`` taking outputs p and targets y, both (n, k) float
arrays of one dtype and one device (the functions take their array functions from p, see :mod:`dnn.devices`),
without any conversion or check:

- ``loss(p, y, **settings)`` returns the per-sample losses, shape (n,): each sums over the k outputs;
- ``gradient(p, y, **settings)`` returns d loss_i / d p_i, shape (n, k).

Per sample, summed over the outputs k:

- ``categorical_crossentropy``: -sum_k y_k log p_k
- ``binary_crossentropy``: -sum_k [y_k log p_k + (1 - y_k) log(1 - p_k)]
- ``squared_error``: (1/2) sum_k (p_k - y_k)^2
- ``huber``: sum_k h(p_k - y_k), h(r) = r^2 / 2 for |r| <= delta, else delta (|r| - delta / 2)
  (PyTorch's ``huber_loss``; delta 1 by default)
- ``absolute_error``: sum_k |p_k - y_k| ("mae"; PyTorch's ``l1_loss``)
- ``poisson``: sum_k [p_k - y_k log(p_k + 1e-8)], p the rates (PyTorch's ``poisson_nll_loss`` with
  ``log_input=False`` and its eps)
- ``binary_focal``: -sum_k [alpha y_k (1 - p_k)^gamma log p_k + (1 - alpha)(1 - y_k) p_k^gamma log(1 - p_k)]:
  the focal loss of Lin et al. (2017), -alpha_t (1 - p_t)^gamma log p_t, for every output (gamma 2 by default;
  without alpha both weights are 1)
- ``categorical_focal``: -alpha sum_k y_k (1 - p_k)^gamma log p_k, its multiclass form after a softmax

With gamma 0 and no alpha the focal losses are the cross-entropies. The cross-entropies take
``label_smoothing`` s: the targets become y (1 - s) + s / c, with c the number of classes (k for the categorical,
2 for the binary cross-entropy), as in Keras and PyTorch.

Logarithms see p clipped to [eps, 1 - eps] (the categorical cross-entropy: to at least eps), eps being the
machine epsilon of p's dtype, so every loss stays finite at p = 0 and 1; settings are Python floats, so a float32
p gives float32 losses.
"""

import numpy as np

from dnn.devices import namespace
from dnn.registry import Registry, is_function_pair

#: The eps of PyTorch's poisson_nll_loss: log(p + eps) stays finite at a rate of 0.
POISSON_EPS = 1e-8


def eps_of(p):
    """The machine epsilon of p's dtype."""
    return np.finfo(p.dtype).eps


def floored(p):
    """p raised to at least eps: all a cross-entropy needs, as log p <= 0 for p <= 1."""
    return namespace(p).maximum(p, eps_of(p))


def clipped(p):
    """p clipped to [eps, 1 - eps]."""
    return namespace(p).minimum(floored(p), 1 - eps_of(p))


def smoothed_targets(loss, y, label_smoothing):
    """The targets of a cross-entropy with label smoothing s: y (1 - s) + s / c, shape of y.

    c is the number of classes: 2 for ``binary_crossentropy`` (each output is a yes/no), k otherwise.
    """
    classes = 2 if loss == "binary_crossentropy" else y.shape[1]
    return y * (1 - label_smoothing) + label_smoothing / classes


def _categorical_crossentropy(p, y, label_smoothing=0.0):
    """Per-sample cross-entropy, -sum_k y_k log p_k."""
    if label_smoothing:
        y = smoothed_targets("categorical_crossentropy", y, label_smoothing)
    xp = namespace(p)
    return -xp.einsum("ij,ij->i", y, xp.log(floored(p)))


def _categorical_crossentropy_gradient(p, y, label_smoothing=0.0):
    """d/dp of -sum_k y_k log p_k: -y / p (p clipped as in the loss)."""
    if label_smoothing:
        y = smoothed_targets("categorical_crossentropy", y, label_smoothing)
    return -y / floored(p)


def _binary_crossentropy(p, y, label_smoothing=0.0):
    """Per-sample binary cross-entropy, -sum_k [y_k log p_k + (1 - y_k) log(1 - p_k)]."""
    if label_smoothing:
        y = smoothed_targets("binary_crossentropy", y, label_smoothing)
    xp = namespace(p)
    q = clipped(p)
    return -(y * xp.log(q) + (1 - y) * xp.log1p(-q)).sum(axis=1)


def _binary_crossentropy_gradient(p, y, label_smoothing=0.0):
    """d/dp of the binary cross-entropy: (p - y) / (p (1 - p)), p clipped."""
    if label_smoothing:
        y = smoothed_targets("binary_crossentropy", y, label_smoothing)
    q = clipped(p)
    return (q - y) / (q * (1 - q))


def _squared_error(p, y):
    """Per-sample squared error, (1/2) sum_k (p_k - y_k)^2."""
    r = p - y
    return 0.5 * namespace(r).einsum("ij,ij->i", r, r)


def _squared_error_gradient(p, y):
    """d/dp of (1/2) sum_k (p_k - y_k)^2: p - y."""
    return p - y


def _huber(p, y, delta=1.0):
    """Per-sample Huber loss, sum_k h(p_k - y_k): r^2 / 2 for |r| <= delta, else delta (|r| - delta / 2)."""
    xp = namespace(p)
    size = xp.abs(p - y)
    return xp.where(size <= delta, 0.5 * size * size, delta * (size - 0.5 * delta)).sum(axis=1)


def _huber_gradient(p, y, delta=1.0):
    """d/dp of the Huber loss: p - y clipped to [-delta, delta]."""
    return namespace(p).clip(p - y, -delta, delta)


def _absolute_error(p, y):
    """Per-sample absolute error, sum_k |p_k - y_k|."""
    return namespace(p).abs(p - y).sum(axis=1)


def _absolute_error_gradient(p, y):
    """d/dp of sum_k |p_k - y_k|: sign(p - y) (0 where p = y, as PyTorch's l1_loss)."""
    return namespace(p).sign(p - y)


def _poisson(p, y):
    """Per-sample Poisson negative log-likelihood of rates p, sum_k [p_k - y_k log(p_k + eps)] (eps 1e-8)."""
    return (p - y * namespace(p).log(p + POISSON_EPS)).sum(axis=1)


def _poisson_gradient(p, y):
    """d/dp of the Poisson loss: 1 - y / (p + eps)."""
    return 1 - y / (p + POISSON_EPS)


def _focal_weights(alpha):
    """The weights (positive, negative) of a focal loss: (alpha, 1 - alpha), or (1, 1) without alpha."""
    return (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)


def _binary_focal(p, y, gamma=2.0, alpha=None):
    """Per-sample binary focal loss, -sum_k [a1 y_k (1 - p_k)^gamma log p_k + a0 (1 - y_k) p_k^gamma log(1 - p_k)]."""
    xp = namespace(p)
    q = clipped(p)
    positive, negative = _focal_weights(alpha)
    return -(positive * y * (1 - q) ** gamma * xp.log(q) + negative * (1 - y) * q ** gamma * xp.log1p(-q)).sum(axis=1)


def _binary_focal_gradient(p, y, gamma=2.0, alpha=None):
    """d/dp of the binary focal loss, p clipped (see :func:`_focal_term_gradient` for each term)."""
    q = clipped(p)
    positive, negative = _focal_weights(alpha)
    # The negative term is the positive one at 1 - q, so its derivative is minus the positive one's there.
    return positive * y * _focal_term_gradient(q, gamma) - negative * (1 - y) * _focal_term_gradient(1 - q, gamma)


def _focal_term_gradient(q, gamma):
    """d/dq of -(1 - q)^gamma log q: gamma (1 - q)^(gamma - 1) log q - (1 - q)^gamma / q."""
    rest = 1 - q
    return gamma * rest ** (gamma - 1) * namespace(q).log(q) - rest ** gamma / q


def _categorical_focal(p, y, gamma=2.0, alpha=None):
    """Per-sample multiclass focal loss, -alpha sum_k y_k (1 - p_k)^gamma log p_k (alpha 1 when not given)."""
    xp = namespace(p)
    q = clipped(p)
    weight = 1.0 if alpha is None else alpha
    return -weight * xp.einsum("ij,ij->i", y, (1 - q) ** gamma * xp.log(q))


def _categorical_focal_gradient(p, y, gamma=2.0, alpha=None):
    """d/dp of the multiclass focal loss: alpha y_k d/dp_k [-(1 - p_k)^gamma log p_k], p clipped."""
    weight = 1.0 if alpha is None else alpha
    return weight * y * _focal_term_gradient(clipped(p), gamma)


#: The training loop's functions: matrices (n, k) in, no conversion or check.
LOSSES = {
    "categorical_crossentropy": (_categorical_crossentropy, _categorical_crossentropy_gradient),
    "binary_crossentropy": (_binary_crossentropy, _binary_crossentropy_gradient),
    "squared_error": (_squared_error, _squared_error_gradient),
    "huber": (_huber, _huber_gradient),
    "absolute_error": (_absolute_error, _absolute_error_gradient),
    "poisson": (_poisson, _poisson_gradient),
    "binary_focal": (_binary_focal, _binary_focal_gradient),
    "categorical_focal": (_categorical_focal, _categorical_focal_gradient),
}

#: Other spellings users reach for; any case, and "_", "-" or spaces, are accepted besides. "focal" after a softmax
#: output is the categorical focal loss (see :func:`dnn.loss_settings.output_loss`).
ALIASES = {
    "categorical_crossentropy": ("crossentropy", "cce", "softmax_crossentropy"),
    "binary_crossentropy": ("bce", "log_loss"),
    "squared_error": ("mse", "mean_squared_error", "quadratic", "l2"),
    "huber": ("huber_loss",),
    "absolute_error": ("mae", "mean_absolute_error", "l1"),
    "poisson": ("poisson_nll", "poisson_nll_loss"),
    "binary_focal": ("focal", "sigmoid_focal"),
    "categorical_focal": ("softmax_focal",),
}

#: Every loss by name: ``REGISTRY.get("MSE")`` is the pair of ``LOSSES["squared_error"]``.
REGISTRY = Registry("loss", LOSSES, "a pair (loss, gradient) of functions", is_function_pair, aliases=ALIASES,
                    note=" (or mse, mae, crossentropy, bce, focal...)")
