"""The network's outputs for many rows, chunk by chunk: what predict, evaluate and validation run on.

Nothing is cached between chunks: every chunk's outputs live in buffers reused
for the next one, so memory stays bounded for inputs of any length, and a
``numpy.memmap`` larger than memory can be read.
"""

import numpy as np

from dnn import preprocessing
from dnn.backprop import forward_pass


def forward_chunks(X, weights, biases, activations, units, dtype, mean=None, scale=None, rows=None):
    """Yield ``(start, stop, outputs)`` over the rows of ``X`` (its ``rows``, when given).

    ``X`` is standardized with ``mean`` and ``scale`` when given, and each chunk
    is checked for NaN and infinity just before its matrix products, while it
    is still in cache, instead of in a separate pass over ``X``. ``outputs``
    is a buffer reused for the next chunk: use it before asking for the next.

    Parameters
    ----------
    X : ndarray or numpy.memmap, shape (n, units[0])
    weights, biases, activations : lists of length L - 1, as for forward_pass
    units : list of int, the layer sizes
    dtype : numpy dtype of the computation
    mean, scale : ndarray of shape (units[0],), optional
    rows : ndarray of int, optional
    """
    buffers = None
    for start, stop, chunk in preprocessing.model_chunks(X, dtype, mean, scale, rows):
        preprocessing.check_finite(chunk, first_row=start, source=X if rows is None else None)
        if buffers is None:
            buffers = [np.empty((len(chunk), u), dtype) for u in units[1:]]
        outputs = [a[: stop - start] for a in buffers]
        yield start, stop, forward_pass(chunk, weights, biases, activations, outputs)[-1]


def gather_outputs(rows, chunks, width, dtype):
    """The (rows, width) array of every chunk's outputs from :func:`forward_chunks`."""
    result = np.empty((rows, width), dtype=dtype)
    for start, stop, outputs in chunks:
        result[start:stop] = outputs
    return result
