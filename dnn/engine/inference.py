"""The network's outputs for many rows, chunk by chunk: what predict, evaluate and validation run on.

Nothing is cached between chunks: every chunk's outputs live in buffers reused
for the next one, so memory stays bounded for inputs of any length, and a
``numpy.memmap`` larger than memory can be read. On a GPU (weights that are
CuPy arrays) each chunk is copied there and its outputs come back to numpy.
"""

import numpy as np

from dnn.backprop import forward_pass
from dnn.data import preprocessing
from dnn.devices import device_of
from dnn.errors import NonFiniteOutputError


def forward_chunks(X, weights, biases, activations, units, dtype, mean=None, scale=None, rows=None,
                   check_outputs=True, norms=None):
    """Yield ``(start, stop, outputs)`` over the rows of ``X`` (its ``rows``, when given).

    ``X`` is standardized with ``mean`` and ``scale`` when given, and each chunk
    is checked for NaN and infinity just before its matrix products, while it
    is still in cache, instead of in a separate pass over ``X``. ``outputs``
    is a buffer reused for the next chunk: use it before asking for the next.
    It is a numpy array, whatever device the weights are on.

    Parameters
    ----------
    X : ndarray or numpy.memmap, shape (n, units[0])
    weights, biases, activations : lists of length L - 1, as for forward_pass
    units : list of int, the layer sizes
    dtype : numpy dtype of the computation
    mean, scale : ndarray of shape (units[0],), optional
    rows : ndarray of int, optional
    check_outputs : bool
        Raise :class:`dnn.NonFiniteOutputError` for a chunk whose outputs are
        not all finite, instead of yielding them (a NaN prediction is never returned).
    norms : list of (dnn.normalization.Normalization or None), optional
        The layers' normalizations, applied as at inference (running averages).
    """
    buffers = None
    device = device_of(weights[0])
    xp = device.xp
    for start, stop, chunk in preprocessing.model_chunks(X, dtype, mean, scale, rows):
        preprocessing.check_finite(chunk, first_row=start, source=X if rows is None else None)
        if not device.is_host:
            chunk = device.asarray(chunk)
        if buffers is None:
            buffers = [xp.empty((len(chunk), u), dtype) for u in units[1:]]
            sums = [None if norm is None else xp.empty((len(chunk), u), dtype)
                    for u, norm in zip(units[1:], norms or [None] * len(weights))]
        outputs = [a[: stop - start] for a in buffers]
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, once and with its cause
            result = forward_pass(chunk, weights, biases, activations, outputs, norms=norms,
                                  sums=[None if z is None else z[: stop - start] for z in sums])[-1]
        if check_outputs and not xp.isfinite(result).all():
            bad = int(xp.flatnonzero(~xp.isfinite(result).all(axis=1))[0])
            raise_non_finite(chunk[bad:bad + 1].copy(), weights, biases, activations, start + bad, norms)
        yield start, stop, device.to_numpy(result)


def raise_non_finite(x, weights, biases, activations, row, norms=None):
    """Raise NonFiniteOutputError for input row ``x`` (1, features), naming the first layer that overflows."""
    layer, largest_input = _first_overflow(x, weights, biases, activations, norms or [None] * len(weights))
    dtype, xp = weights[0].dtype, device_of(weights[0]).xp
    raise NonFiniteOutputError(
        f"the network's output is infinite or NaN for row {row}: layer {layer}'s weighted sums overflow {dtype} "
        f"(w[{layer}] has weights as large as {float(xp.abs(weights[layer - 2]).max()):.3g}, and what enters "
        f"layer {layer} reaches {largest_input:.3g}). The weights are too large for the inputs: they were loaded "
        f"or set by hand that way, or training diverged. Retrain with a lower learning rate, check the weights "
        f"set by hand, or use dtype='float64'.")


def _first_overflow(x, weights, biases, activations, norms):
    """(layer, largest value entering it) of the first layer whose weighted sums are not finite for row ``x``."""
    xp = device_of(x).xp
    with np.errstate(over="ignore", invalid="ignore"):
        for layer, (w, b, name, norm) in enumerate(zip(weights, biases, activations, norms), start=2):
            if not xp.isfinite(x @ w + b).all():
                return layer, float(xp.abs(x).max())
            x = forward_pass(x, [w], [b], [name], norms=[norm])[-1]
    # every weighted sum finite: the output activation itself gave NaN (it takes finite values to finite ones)
    return len(weights) + 1, float(xp.abs(x).max())


def gather_outputs(rows, chunks, width, dtype):
    """The (rows, width) array of every chunk's outputs from :func:`forward_chunks`."""
    result = np.empty((rows, width), dtype=dtype)
    for start, stop, outputs in chunks:
        result[start:stop] = outputs
    return result
