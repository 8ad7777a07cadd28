"""Losses, their gradients, and the delta of the output layer.

Convention, used everywhere in dnn: a loss is the mean over samples of a
per-sample loss, and the per-sample loss sums over the outputs. With sample
weights s_i the mean becomes (1/n) sum_i s_i loss_i. Squared error is
(1/2) sum_k (p_k - y_k)^2 per sample: "mse" names it too, but it is half the
squared error summed over the outputs, not a mean over them.

By hand, every loss takes one sample or a batch::

    categorical_crossentropy([0.1, 0.7, 0.2], 1)               # one sample, label 1: -log 0.7
    categorical_crossentropy([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]], [1, 0])   # the mean over 2 samples
    squared_error([0.6, 0.9], [0, 1])                          # (1/2)(0.36 + 0.01)

A vector p is one sample with k outputs (n samples of one output: a column
(n, 1)); y holds one-hot rows (or any targets) shaped like p, or integer
labels, one per sample. They return the mean loss, a float
(``per_sample=True``: the losses of the samples); ``<loss>_gradient`` gives
d loss_i / d p_i, shaped like p. A cross-entropy refuses values of p outside
[0, 1]: those are logits, which must go through softmax or sigmoid first.

Training uses the pairs ``(loss, gradient)`` of :data:`LOSSES`, on matrices
of shape (n, k) without any of these conversions or checks:

- ``loss(p, y)`` returns the per-sample losses, shape (n,);
- ``gradient(p, y)`` returns d loss_i / d p_i, shape (n, k).

Logarithms see ``p`` clipped to [eps, 1 - eps] (cross-entropy: to at least
eps), eps being the machine epsilon of p's dtype, so every loss stays finite
at p = 0 and 1.
"""

import numpy as np

from dnn.activations import get_activation
from dnn.registry import Registry, is_function_pair


def _eps(p):
    return np.finfo(p.dtype).eps


def _floored(p):
    """p raised to at least eps: all a cross-entropy needs, as log p <= 0 for p <= 1."""
    return np.maximum(p, _eps(p))


def _clipped(p):
    return np.minimum(_floored(p), 1 - _eps(p))


def _categorical_crossentropy(p, y):
    """Per-sample cross-entropy, -sum_k y_k log p_k."""
    return -np.einsum("ij,ij->i", y, np.log(_floored(p)))


def _categorical_crossentropy_gradient(p, y):
    """d/dp of -sum_k y_k log p_k: -y / p (p clipped as in the loss)."""
    return -y / _floored(p)


def _binary_crossentropy(p, y):
    """Per-sample binary cross-entropy, -sum_k [y_k log p_k + (1 - y_k) log(1 - p_k)]."""
    q = _clipped(p)
    return -(y * np.log(q) + (1 - y) * np.log1p(-q)).sum(axis=1)


def _binary_crossentropy_gradient(p, y):
    """d/dp of the binary cross-entropy: (p - y) / (p (1 - p)), p clipped."""
    q = _clipped(p)
    return (q - y) / (q * (1 - q))


def _squared_error(p, y):
    """Per-sample squared error, (1/2) sum_k (p_k - y_k)^2."""
    r = p - y
    return 0.5 * np.einsum("ij,ij->i", r, r)


def _squared_error_gradient(p, y):
    """d/dp of (1/2) sum_k (p_k - y_k)^2: p - y."""
    return p - y


# ------------------------------------------------------------------ by hand


def _by_hand(name, p, y):
    """``p`` and ``y`` as (n, k) matrices of p's float dtype, and whether p was one sample."""
    try:
        p = np.asarray(p)
        p = p if p.dtype.kind == "f" else p.astype(np.float64)
        y = np.asarray(y)
    except (TypeError, ValueError):
        raise ValueError(f"{name} takes numbers: p and y must be numbers, lists or arrays") from None
    if p.ndim not in (1, 2):
        raise ValueError(f"{name}: p must be one sample (a vector of k outputs) or a batch (n, k), "
                         f"got shape {p.shape}")
    single = p.ndim == 1
    if y.ndim == p.ndim - 1:
        y = _from_labels(name, y, p.shape[-1])
    if y.shape != p.shape:
        raise ValueError(f"{name}: y has shape {y.shape} but p has {p.shape}; give one-hot rows shaped like p "
                         f"or one integer label per sample")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{name}: y must be numeric, got dtype {y.dtype}")
    if not (np.isfinite(p).all() and np.isfinite(y).all()):
        raise ValueError(f"{name}: p and y must be finite")
    if name != "squared_error" and p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError(f"{name} takes probabilities in [0, 1], but p holds values from {p.min():g} to "
                         f"{p.max():g}: these look like logits (pre-activations); pass them through "
                         f"{'softmax' if name == 'categorical_crossentropy' else 'sigmoid'} first")
    y = y.astype(p.dtype)
    return (p[None, :], y[None, :]) if single else (p, y)


def _from_labels(name, labels, k):
    """Targets from one label per sample: the value itself for one output, else one-hot rows."""
    if k == 1:
        return labels[..., None]
    if labels.dtype.kind not in "biu" and not (labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
        raise ValueError(f"{name}: labels must be integers 0..{k - 1}, got {labels.reshape(-1)[:5]!r}")
    if labels.size and (labels.min() < 0 or labels.max() > k - 1):
        raise ValueError(f"{name}: labels must be in 0..{k - 1} for {k} outputs, got values from "
                         f"{labels.min()} to {labels.max()}")
    return np.eye(k)[labels.astype(np.intp)]


def _reduced(per_sample, single, keep):
    if keep:
        return float(per_sample[0]) if single else per_sample
    return float(per_sample.mean())


def _gradient_by_hand(name, p, y):
    q, t = _by_hand(name, p, y)
    grad = LOSSES[name][1](q, t)
    return grad[0] if np.ndim(p) == 1 else grad


def categorical_crossentropy(p, y, per_sample=False):
    """Cross-entropy, -sum_k y_k log p_k per sample; the mean over samples (``per_sample``: each sample's).

    Parameters
    ----------
    p : array-like, shape (k,) for one sample or (n, k)
        Probabilities (softmax outputs), in [0, 1].
    y : array-like, shaped like p (one-hot rows), or integer labels: a number
        for one sample, (n,) for a batch.
    per_sample : bool
        Return the loss of every sample, shape (n,), instead of their mean.
    """
    q, t = _by_hand("categorical_crossentropy", p, y)
    return _reduced(_categorical_crossentropy(q, t), np.ndim(p) == 1, per_sample)


def categorical_crossentropy_gradient(p, y):
    """d loss_i / d p_i of the cross-entropy, -y / p, shaped like p (p, y as in categorical_crossentropy)."""
    return _gradient_by_hand("categorical_crossentropy", p, y)


def binary_crossentropy(p, y, per_sample=False):
    """Binary cross-entropy, -sum_k [y_k log p_k + (1 - y_k) log(1 - p_k)] per sample; the mean over samples.

    ``p`` holds probabilities (sigmoid outputs) in [0, 1]: a vector of k
    outputs of one sample, or (n, k); n samples of one output are a column
    (n, 1) with y as n labels 0/1. ``y`` as in categorical_crossentropy.
    """
    q, t = _by_hand("binary_crossentropy", p, y)
    return _reduced(_binary_crossentropy(q, t), np.ndim(p) == 1, per_sample)


def binary_crossentropy_gradient(p, y):
    """d loss_i / d p_i of the binary cross-entropy, (p - y) / (p (1 - p)), shaped like p."""
    return _gradient_by_hand("binary_crossentropy", p, y)


def squared_error(p, y, per_sample=False):
    """Squared error, (1/2) sum_k (p_k - y_k)^2 per sample; the mean over samples ("mse" names this loss).

    ``p``: outputs, a vector of one sample or (n, k); ``y`` as in
    categorical_crossentropy (with one output, y may be n plain values).
    """
    q, t = _by_hand("squared_error", p, y)
    return _reduced(_squared_error(q, t), np.ndim(p) == 1, per_sample)


def squared_error_gradient(p, y):
    """d loss_i / d p_i of the squared error, p - y, shaped like p."""
    return _gradient_by_hand("squared_error", p, y)


#: The training loop's functions: matrices (n, k) in, no conversion or check.
LOSSES = {
    "categorical_crossentropy": (_categorical_crossentropy, _categorical_crossentropy_gradient),
    "binary_crossentropy": (_binary_crossentropy, _binary_crossentropy_gradient),
    "squared_error": (_squared_error, _squared_error_gradient),
}

#: The loss an output activation gets when none is named.
DEFAULT_LOSS = {
    "softmax": "categorical_crossentropy",
    "sigmoid": "binary_crossentropy",
    "identity": "squared_error",
    "step": "squared_error",
}

#: Losses that only make sense on probabilities refuse the identity output.
COMPATIBLE_LOSSES = {
    "softmax": ("categorical_crossentropy", "binary_crossentropy", "squared_error"),
    "sigmoid": ("binary_crossentropy", "categorical_crossentropy", "squared_error"),
    "identity": ("squared_error",),
    # step's outputs are 0 or 1 and it is never trained: the loss only scores a hand-set network.
    "step": ("squared_error",),
}

#: Canonical pairs: the delta at the output pre-activation is exactly p - y.
FUSED_PAIRS = frozenset(pair for pair in DEFAULT_LOSS.items() if pair[0] != "step")


#: Other spellings users reach for; any case, and "_", "-" or spaces, are accepted besides.
ALIASES = {
    "categorical_crossentropy": ("crossentropy", "cce", "softmax_crossentropy"),
    "binary_crossentropy": ("bce", "log_loss"),
    "squared_error": ("mse", "mean_squared_error", "quadratic", "l2"),
}

#: Every loss by name: ``REGISTRY.get("MSE")`` is the pair of ``LOSSES["squared_error"]``.
REGISTRY = Registry("loss", LOSSES, "a pair (loss, gradient) of functions", is_function_pair, aliases=ALIASES,
                    note=" (or mse, crossentropy, bce...)")


def canonical_name(name):
    """The registry name of a loss, from any case or common alias.

    "mse", "mean_squared_error" give "squared_error" (dnn's (1/2) sum over the
    outputs, mean over samples); "crossentropy", "cross_entropy",
    "categorical_cross_entropy", "CCE" give "categorical_crossentropy";
    "bce", "binary_cross_entropy" give "binary_crossentropy".

    Raises
    ------
    ValueError
        For an unknown name, suggesting the nearest one and listing the valid names.
    """
    return REGISTRY.canonical(name)


def get_loss(name):
    """Return the ``(loss, gradient)`` pair registered under ``name`` (or an alias of it).

    Raises
    ------
    ValueError
        If ``name`` is not a registered loss; the message suggests the nearest
        name and lists the valid ones.
    """
    return REGISTRY.get(name)


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
