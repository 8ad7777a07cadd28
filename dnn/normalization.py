"""Batch and layer normalization of a hidden layer's weighted sums: the forward and backward steps over arrays.

A normalized hidden layer computes its weighted sums z = a @ w + b, normalizes them,
z_hat = (z - mean) / sqrt(var + eps), scales and shifts them, y = gamma * z_hat + beta
(gamma and beta learned, one per unit), and passes y to its activation.

- ``"batch"`` (batch normalization): mean and var per unit over the rows of the batch while training, and the
  running averages of them at inference: running = (1 - momentum) * running + momentum * batch value, with the
  variance unbiased (n / (n - 1)) in the running average and biased in z_hat.
- ``"layer"`` (layer normalization): mean and var per row over the layer's units, the same in training and
  inference.

The constants are those of ``torch.nn.BatchNorm1d`` and ``torch.nn.LayerNorm`` (eps 1e-5, momentum 0.1), so a model
and its ``toTorch`` export compute the same. Stateless functions: the arrays (gamma, beta, running statistics) are
views of the model's parameter store, handed in as a :class:`Normalization`; the functions take their array
functions from the arrays they are given (:func:`dnn.devices.namespace`), numpy's or a GPU's.
"""

from typing import NamedTuple

import numpy as np

from dnn.devices import namespace

#: The normalizations a hidden layer can have.
KINDS = ("batch", "layer")

#: Added to the variance before its square root (as torch's default).
EPSILON = 1e-5

#: Weight of the newest batch in the running averages of batch normalization (as torch's default).
MOMENTUM = 0.1

#: Modes of a forward pass: training (batch statistics; batch normalization updates its running averages),
#: batch statistics without touching the running averages (the gradient check, backPropagation by hand), and
#: inference (None: the running averages).
TRAIN, BATCH_STATISTICS, INFERENCE = "train", "batch", None


class Normalization(NamedTuple):
    """A normalized layer's arrays, views of the model's store: gamma, beta (units,) and, for batch
    normalization, the running mean and variance (units,); None for layer normalization."""

    kind: str
    scale: np.ndarray
    shift: np.ndarray
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None


class Normalized(NamedTuple):
    """What the forward step keeps for the backward step.

    z_hat : (n, units) the normalized sums; inv_std : 1 / sqrt(var + eps), shape (units,) for batch statistics
    and running averages, (n, 1) for layer normalization; batch : whether mean and var came from these rows (then
    the gradient flows through them too).
    """

    z_hat: np.ndarray
    inv_std: np.ndarray
    batch: bool


def normalize(norm, z, out, mode=INFERENCE):
    """Normalize, scale and shift the weighted sums ``z`` (n, units): ``z`` becomes z_hat, ``out`` gets y.

    Parameters
    ----------
    norm : Normalization
    z : ndarray, shape (n, units), overwritten with z_hat
    out : ndarray of z's shape, or None (allocated)
    mode : TRAIN, BATCH_STATISTICS or INFERENCE

    Returns
    -------
    y : ndarray
        ``out``, gamma * z_hat + beta.
    Normalized
    """
    xp = namespace(z)
    if norm.kind == "layer" or mode is not INFERENCE:
        axis = 1 if norm.kind == "layer" else 0
        mean = z.mean(axis=axis, keepdims=norm.kind == "layer")
        z -= mean
        # The variance of the centred values: no cancellation between E[z^2] and E[z]^2.
        var = _sums_of_products(z, z, axis) / z.shape[axis]
        if axis:
            var = var[:, None]
        inv_std = 1.0 / xp.sqrt(var + EPSILON)
        if mode == TRAIN and norm.kind == "batch":
            _update_running(norm, mean, var, len(z))
        batch = True
    else:
        z -= norm.running_mean
        inv_std = 1.0 / xp.sqrt(norm.running_var + EPSILON)
        batch = False
    z *= inv_std
    y = xp.multiply(z, norm.scale, out=out)
    y += norm.shift
    return y, Normalized(z, inv_std, batch)


def _update_running(norm, mean, var, rows):
    """Move the running averages towards this batch's mean and unbiased variance (in place: they are the store's).

    A batch of one row (the last of an epoch) has no spread to estimate and leaves them as they are.
    """
    if rows < 2:
        return
    unbiased = var * (rows / (rows - 1))
    for running, value in ((norm.running_mean, mean), (norm.running_var, unbiased)):
        running *= 1.0 - MOMENTUM
        running += MOMENTUM * value


def normalize_backward(norm, kept, delta, grad_scale=None, grad_shift=None):
    """From dL/dy to dL/dz, in place in ``delta`` (n, units); writes dL/dgamma and dL/dbeta.

    With batch statistics, z_hat depends on every row's z through the mean and variance:
    dL/dz = inv_std * (g - mean(g) - z_hat * mean(g * z_hat)) with g = gamma * dL/dy and the means over the rows
    (batch) or the units (layer). With running averages it is the affine map's: gamma * inv_std * dL/dy.

    Returns
    -------
    delta, grad_scale, grad_shift : ndarray
    """
    xp, z_hat = namespace(delta), kept.z_hat
    if grad_scale is None:
        grad_scale, grad_shift = xp.empty_like(norm.scale), xp.empty_like(norm.shift)
    _sums_of_products(delta, z_hat, 0, out=grad_scale)
    xp.sum(delta, axis=0, out=grad_shift)
    delta *= norm.scale
    if kept.batch:
        axis = 1 if norm.kind == "layer" else 0
        n = delta.shape[axis]
        mean_g = delta.mean(axis=axis, keepdims=True)
        mean_gz = _sums_of_products(delta, z_hat, axis) / n
        delta -= mean_g
        delta -= z_hat * (mean_gz[:, None] if axis else mean_gz)
    delta *= kept.inv_std
    return delta, grad_scale, grad_shift


def _sums_of_products(a, b, axis, out=None):
    """sum(a * b) along ``axis`` of two (n, units) arrays (0: per unit, 1: per row), without the product array.

    CuPy's einsum takes no ``out``: off the host the sums are made, then copied into ``out``.
    """
    subscripts = "ij,ij->i" if axis else "ij,ij->j"
    xp = namespace(a)
    if xp is np:
        return np.einsum(subscripts, a, b, out=out)
    sums = xp.einsum(subscripts, a, b)
    if out is None:
        return sums
    out[...] = sums
    return out
