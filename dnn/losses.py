"""Losses, their gradients, and the delta of the output layer.

Convention, used everywhere in dnn: a loss is the mean over samples of a
per-sample loss, and the per-sample loss sums over the outputs. With sample
weights s_i the mean becomes (1/n) sum_i s_i loss_i. Squared error is
(1/2) sum_k (p_k - y_k)^2 per sample: "mse" names it too, but it is half the
squared error summed over the outputs, not a mean over them; "mae" names
absolute_error, sum_k |p_k - y_k|, likewise. PyTorch's reduction="sum" divided
by n is dnn's loss; its default reduction="mean" divides by n k instead.

The losses, per sample (formulas and settings in :mod:`dnn.loss_functions`):
categorical_crossentropy and binary_crossentropy (with ``label_smoothing``),
squared_error, huber (``delta``), absolute_error, poisson (of rates p, as
PyTorch's ``poisson_nll_loss(log_input=False)``), binary_focal and
categorical_focal (``gamma``, ``alpha``; Lin et al. 2017).

By hand, every loss takes one sample or a batch::

    categorical_crossentropy([0.1, 0.7, 0.2], 1)               # one sample, label 1: -log 0.7
    categorical_crossentropy([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]], [1, 0])   # the mean over 2 samples
    squared_error([0.6, 0.9], [0, 1])                          # (1/2)(0.36 + 0.01)
    huber([0.6, 3.0], [0, 1], delta=0.5)                       # 0.18 + 0.875

A vector p is one sample with k outputs (n samples of one output: a column
(n, 1)); y holds one-hot rows (or any targets) shaped like p, or integer
labels, one per sample. They return the mean loss, a float
(``per_sample=True``: the losses of the samples); ``<loss>_gradient`` gives
d loss_i / d p_i, shaped like p. A cross-entropy or focal loss refuses values
of p outside [0, 1]: those are logits, which must go through softmax or
sigmoid first; poisson refuses negative rates.

Training uses the pairs ``(loss, gradient)`` of :data:`LOSSES` on matrices
(n, k), without these conversions or checks, and names a loss as plain data:
a name, or a dict of its name and settings such as ``{"name": "huber",
"delta": 0.5}`` (see :mod:`dnn.loss_settings`, which also decides which
losses follow which output activation). :func:`register` adds a loss of your
own, checked numerically.
"""

import numpy as np

from dnn.activations import get_activation
from dnn.devices import namespace
from dnn.loss_functions import ALIASES, LOSSES, POISSON_EPS, REGISTRY, floored, smoothed_targets
from dnn.loss_settings import (
    COMPATIBLE_LOSSES,
    DEFAULT_LOSS,
    FUSED_PAIRS,
    SETTINGS,
    canonical,
    functions,
    output_loss,
    parts,
    register,
)

__all__ = [
    "ALIASES", "COMPATIBLE_LOSSES", "DEFAULT_LOSS", "FUSED_PAIRS", "LOSSES", "POISSON_EPS", "REGISTRY", "SETTINGS",
    "absolute_error", "absolute_error_gradient", "add_l2_gradient", "binary_crossentropy",
    "binary_crossentropy_gradient", "binary_focal", "binary_focal_gradient", "canonical", "canonical_name",
    "categorical_crossentropy", "categorical_crossentropy_gradient", "categorical_focal", "categorical_focal_gradient",
    "get_loss", "huber", "huber_gradient", "l2_penalty", "mean_loss", "objective", "output_delta", "output_loss",
    "poisson", "poisson_gradient", "register", "squared_error", "squared_error_gradient", "summed_loss",
]

#: Losses of probabilities, and the activation that makes probabilities of logits.
_PROBABILITY_LOSSES = {"categorical_crossentropy": "softmax", "categorical_focal": "softmax",
                       "binary_crossentropy": "sigmoid", "binary_focal": "sigmoid"}


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
    if name in _PROBABILITY_LOSSES and p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError(f"{name} takes probabilities in [0, 1], but p holds values from {p.min():g} to "
                         f"{p.max():g}: these look like logits (pre-activations); pass them through "
                         f"{_PROBABILITY_LOSSES[name]} first")
    if name == "poisson" and p.size and p.min() < 0:
        raise ValueError(f"poisson takes rates p >= 0 (it takes log p), but p holds values down to {p.min():g}")
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


def _loss_by_hand(name, p, y, per_sample, **settings):
    """The mean loss (``per_sample``: each sample's) of the loss ``name`` with ``settings`` (checked)."""
    loss = functions({"name": name, **settings})[0]
    q, t = _by_hand(name, p, y)
    values = loss(q, t)
    if per_sample:
        return float(values[0]) if np.ndim(p) == 1 else values
    return float(values.mean())


def _gradient_by_hand(name, p, y, **settings):
    gradient = functions({"name": name, **settings})[1]
    q, t = _by_hand(name, p, y)
    grad = gradient(q, t)
    return grad[0] if np.ndim(p) == 1 else grad


def categorical_crossentropy(p, y, per_sample=False, label_smoothing=0.0):
    """Cross-entropy, -sum_k y_k log p_k per sample; the mean over samples (``per_sample``: each sample's).

    Parameters
    ----------
    p : array-like, shape (k,) for one sample or (n, k)
        Probabilities (softmax outputs), in [0, 1].
    y : array-like, shaped like p (one-hot rows), or integer labels: a number
        for one sample, (n,) for a batch.
    per_sample : bool
        Return the loss of every sample, shape (n,), instead of their mean.
    label_smoothing : float in [0, 1]
        Targets y (1 - s) + s / k instead of y, as Keras and PyTorch smooth them.
    """
    return _loss_by_hand("categorical_crossentropy", p, y, per_sample, label_smoothing=label_smoothing)


def categorical_crossentropy_gradient(p, y, label_smoothing=0.0):
    """d loss_i / d p_i of the cross-entropy, -y / p, shaped like p (p, y as in categorical_crossentropy)."""
    return _gradient_by_hand("categorical_crossentropy", p, y, label_smoothing=label_smoothing)


def binary_crossentropy(p, y, per_sample=False, label_smoothing=0.0):
    """Binary cross-entropy, -sum_k [y_k log p_k + (1 - y_k) log(1 - p_k)] per sample; the mean over samples.

    ``p`` holds probabilities (sigmoid outputs) in [0, 1]: a vector of k
    outputs of one sample, or (n, k); n samples of one output are a column
    (n, 1) with y as n labels 0/1. ``y`` as in categorical_crossentropy.
    ``label_smoothing`` s gives targets y (1 - s) + s / 2.
    """
    return _loss_by_hand("binary_crossentropy", p, y, per_sample, label_smoothing=label_smoothing)


def binary_crossentropy_gradient(p, y, label_smoothing=0.0):
    """d loss_i / d p_i of the binary cross-entropy, (p - y) / (p (1 - p)), shaped like p."""
    return _gradient_by_hand("binary_crossentropy", p, y, label_smoothing=label_smoothing)


def squared_error(p, y, per_sample=False):
    """Squared error, (1/2) sum_k (p_k - y_k)^2 per sample; the mean over samples ("mse" names this loss).

    ``p``: outputs, a vector of one sample or (n, k); ``y`` as in
    categorical_crossentropy (with one output, y may be n plain values).
    """
    return _loss_by_hand("squared_error", p, y, per_sample)


def squared_error_gradient(p, y):
    """d loss_i / d p_i of the squared error, p - y, shaped like p."""
    return _gradient_by_hand("squared_error", p, y)


def huber(p, y, per_sample=False, delta=1.0):
    """Huber loss, sum_k h(p_k - y_k) with h(r) = r^2 / 2 for |r| <= delta, else delta (|r| - delta / 2).

    PyTorch's ``huber_loss`` per output; the mean over samples. ``p``, ``y`` as in squared_error.
    """
    return _loss_by_hand("huber", p, y, per_sample, delta=delta)


def huber_gradient(p, y, delta=1.0):
    """d loss_i / d p_i of the Huber loss, p - y clipped to [-delta, delta], shaped like p."""
    return _gradient_by_hand("huber", p, y, delta=delta)


def absolute_error(p, y, per_sample=False):
    """Absolute error, sum_k |p_k - y_k| per sample; the mean over samples ("mae" names this loss)."""
    return _loss_by_hand("absolute_error", p, y, per_sample)


def absolute_error_gradient(p, y):
    """d loss_i / d p_i of the absolute error, sign(p - y) (0 where p = y), shaped like p."""
    return _gradient_by_hand("absolute_error", p, y)


def poisson(p, y, per_sample=False):
    """Poisson negative log-likelihood of rates p >= 0, sum_k [p_k - y_k log(p_k + 1e-8)]; the mean over samples.

    PyTorch's ``poisson_nll_loss(log_input=False)`` per output, with its eps (:data:`POISSON_EPS`).
    """
    return _loss_by_hand("poisson", p, y, per_sample)


def poisson_gradient(p, y):
    """d loss_i / d p_i of the Poisson loss, 1 - y / (p + 1e-8), shaped like p."""
    return _gradient_by_hand("poisson", p, y)


def binary_focal(p, y, per_sample=False, gamma=2.0, alpha=None):
    """Focal loss per output, -sum_k [a y_k (1 - p_k)^g log p_k + (1 - a)(1 - y_k) p_k^g log(1 - p_k)].

    Lin et al. (2017), -alpha_t (1 - p_t)^gamma log p_t for every output; without ``alpha`` both weights are 1.
    ``p``: probabilities (sigmoid outputs), ``y`` as in binary_crossentropy. The mean over samples.
    """
    return _loss_by_hand("binary_focal", p, y, per_sample, gamma=gamma, alpha=alpha)


def binary_focal_gradient(p, y, gamma=2.0, alpha=None):
    """d loss_i / d p_i of the binary focal loss, shaped like p."""
    return _gradient_by_hand("binary_focal", p, y, gamma=gamma, alpha=alpha)


def categorical_focal(p, y, per_sample=False, gamma=2.0, alpha=None):
    """Multiclass focal loss, -alpha sum_k y_k (1 - p_k)^gamma log p_k (alpha 1 unless given); the mean.

    ``p``: probabilities (softmax outputs), ``y`` as in categorical_crossentropy.
    """
    return _loss_by_hand("categorical_focal", p, y, per_sample, gamma=gamma, alpha=alpha)


def categorical_focal_gradient(p, y, gamma=2.0, alpha=None):
    """d loss_i / d p_i of the multiclass focal loss, alpha y (gamma (1 - p)^(gamma - 1) log p - (1 - p)^gamma / p)."""
    return _gradient_by_hand("categorical_focal", p, y, gamma=gamma, alpha=alpha)


# ------------------------------------------------------------------ names


def canonical_name(name):
    """The registry name of a loss, from any case or common alias.

    "mse", "mean_squared_error" give "squared_error" (dnn's (1/2) sum over the
    outputs, mean over samples); "crossentropy", "cross_entropy",
    "categorical_cross_entropy", "CCE" give "categorical_crossentropy";
    "bce", "binary_cross_entropy" give "binary_crossentropy"; "mae" gives
    "absolute_error"; "focal" gives "binary_focal" (after a softmax output,
    addOutputLayer reads it as "categorical_focal").

    Raises
    ------
    ValueError
        For an unknown name, suggesting the nearest one and listing the valid names.
    """
    return REGISTRY.canonical(name)


def get_loss(name):
    """Return the ``(loss, gradient)`` pair registered under ``name`` (or an alias of it).

    A dict of a name and settings, ``{"name": "huber", "delta": 0.5}``, gives
    the pair with those settings bound.

    Raises
    ------
    ValueError
        If ``name`` is not a registered loss; the message suggests the
        nearest name and lists the valid ones. For a bad setting.
    """
    return functions(name)


# ------------------------------------------------------------------ what training reduces


def summed_loss(loss, p, y, sample_weight=None):
    """sum_i s_i loss_i of outputs ``p`` for targets ``y`` (s_i = 1 without weights), a float.

    ``loss`` is a name or a dict of a name and settings (see :func:`get_loss`).
    """
    if sample_weight is None and loss == "categorical_crossentropy":
        # One dot product over the whole batch instead of per-row sums: the
        # training loop's common case, and on small batches the calls are the cost.
        xp = namespace(p)
        return -float(xp.vdot(y, xp.log(floored(p))))
    per_sample = get_loss(loss)[0](p, y)
    return float(per_sample.sum() if sample_weight is None else per_sample @ sample_weight)


def mean_loss(loss, p, y, sample_weight=None):
    """The loss of outputs ``p`` for targets ``y``: (1/n) sum_i s_i loss_i, a float."""
    return summed_loss(loss, p, y, sample_weight) / len(p)


def l2_penalty(weights, l2):
    """The L2 term added to the loss: (l2 / 2) sum_l ||W_l||^2 (biases excluded)."""
    return 0.5 * l2 * sum(float(namespace(w).vdot(w, w)) for w in weights)


def add_l2_gradient(grad_w, weights, coefficient, work=None):
    """grad_w[l] += coefficient * W_l, the gradient of the L2 term (times lr for SGD).

    ``work``: for one weight array, an array of its shape to compute in instead of a new one.
    """
    for g, w in zip(grad_w, weights):
        g += namespace(w).multiply(w, coefficient, out=work)


def add_l1_gradient(grad_w, weights, coefficient, work=None):
    """grad_w[l] += coefficient * sign(W_l), the (sub)gradient of the L1 term l1 sum |w| (times lr for SGD).

    ``work`` as for :func:`add_l2_gradient`.
    """
    for g, w in zip(grad_w, weights):
        sign = namespace(w).sign(w, out=work)
        sign *= coefficient
        g += sign


def objective(loss, p, y, weights, l2):
    """What training minimizes and reports: the mean loss plus the L2 term, a float."""
    return mean_loss(loss, p, y) + l2_penalty(weights, l2)


def output_delta(activation, loss, p, y, scale, out=None):
    """Gradient of ``sum_i scale_i * loss_i`` with respect to the output pre-activations.

    Parameters
    ----------
    activation : str
        Name of the output activation.
    loss : str or dict
        Name of the loss, or a dict of its name and settings.
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
    name, settings = parts(canonical(loss) if isinstance(loss, dict) else loss)
    if (activation, name) in FUSED_PAIRS:
        # The activation's Jacobian cancels the loss gradient's denominator: p - y, with the targets the loss
        # sees (smoothed ones sum to 1 like one-hot rows, so softmax's cancellation holds for them too).
        smoothing = settings.get("label_smoothing")
        delta = namespace(p).subtract(p, smoothed_targets(name, y, smoothing) if smoothing else y, out=out)
    else:
        grad = get_loss(loss)[1](p, y)
        delta = get_activation(activation)[1](p, grad, out=out)
    delta *= scale
    return delta
