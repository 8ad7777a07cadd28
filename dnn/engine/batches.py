"""The rows of one training set, mini-batch by mini-batch, and the buffers a batch is computed in.

Everything a step writes into is allocated once per ``fit`` call in a
:class:`Workspace`, so the loop allocates (almost) nothing per batch and the
time goes to the matrix products.
"""

import copy
from typing import NamedTuple

import numpy as np

from dnn.activations import takes_pre_activation
from dnn.data.preprocessing import standardize
from dnn.devices import CPU, take_rows


class BatchViews(NamedTuple):
    """The first ``m`` rows of every buffer of a :class:`Workspace`: what one batch of ``m`` rows is computed in."""

    x: np.ndarray  # (m, units[0]) inputs
    t: np.ndarray  # (m, units[-1]) targets
    s: np.ndarray  # (m, 1) sample weights
    outputs: list  # (m, units[l]) per layer after the input
    deltas: list  # (m, units[l]) per layer after the input
    masks: list  # (m, units[l]) or None per layer after the input
    dropped: list  # (m, units[l]) or None per layer after the input
    ones: np.ndarray  # (m,) ones, for the bias gradients
    pre_activations: list  # (m, units[l]) for gelu and silu layers, None for the others
    sums: list  # (m, units[l]) for normalized layers, None for the others


class Workspace:
    """Buffers for one mini-batch of up to ``batch_size`` rows.

    ``views(m)`` returns the first ``m`` rows of every per-row buffer (a
    :class:`BatchViews`); row slices of C-contiguous arrays stay contiguous,
    so the last, smaller batch runs through the same code. ``xp`` is the array
    module of the device the batch is computed on (numpy by default).
    """

    def __init__(self, batch_size, units, dtype, dropout=None, activations=None, normalized=None, xp=np):
        self.x = xp.empty((batch_size, units[0]), dtype)
        self.t = xp.empty((batch_size, units[-1]), dtype)
        self.s = xp.empty((batch_size, 1), dtype)
        self.outputs = [xp.empty((batch_size, u), dtype) for u in units[1:]]
        self.deltas = [xp.empty((batch_size, u), dtype) for u in units[1:]]
        # Dropout: per layer after the input, a mask and the masked output (None without dropout).
        rates = dropout or [0.0] * (len(units) - 1)
        self.masks = [xp.empty((batch_size, u), dtype) if r else None for u, r in zip(units[1:], rates)]
        self.dropped = [xp.empty((batch_size, u), dtype) if r else None for u, r in zip(units[1:], rates)]
        self.ones = xp.ones(batch_size, dtype)
        # Pre-activations, only for the layers whose activation's backward step takes them (gelu, silu): a network
        # without such layers allocates nothing more.
        names = activations or [None] * (len(units) - 1)
        self.pre_activations = [xp.empty((batch_size, u), dtype) if name and takes_pre_activation(name) else None
                                for u, name in zip(units[1:], names)]
        # The weighted sums of normalized layers (they become the normalized values the backward step reads).
        self.sums = [xp.empty((batch_size, u), dtype) if flag else None
                     for u, flag in zip(units[1:], normalized or [False] * (len(units) - 1))]
        self._views = {}

    def views(self, m):
        """The :class:`BatchViews` of the first ``m`` rows, made once per ``m``."""
        if m not in self._views:
            self._views[m] = BatchViews(
                self.x[:m],
                self.t[:m],
                self.s[:m],
                [a[:m] for a in self.outputs],
                [d[:m] for d in self.deltas],
                [None if a is None else a[:m] for a in self.masks],
                [None if a is None else a[:m] for a in self.dropped],
                self.ones[:m],
                [None if z is None else z[:m] for z in self.pre_activations],
                [None if z is None else z[:m] for z in self.sums],
            )
        return self._views[m]


class TrainingData:
    """Rows of a training set, reachable by index.

    Parameters
    ----------
    x : ndarray or numpy.memmap, shape (n, features)
        In memory it must already have the model's dtype; a memmap may have
        any numeric dtype and is converted batch by batch, never copied whole.
    targets : ndarray, shape (n, outputs)
    weights : ndarray of shape (n,), or None
    rows : ndarray of int, or None
        The rows of ``x`` that belong to the training set (None: all).
    mean, scale : ndarray of shape (features,), or None
        Standardization applied to every gathered batch.

    Attributes
    ----------
    device : dnn.devices.Device
        Where the batches are computed (see :meth:`on_device`).
    """

    def __init__(self, x, targets, weights=None, rows=None, mean=None, scale=None):
        self.x, self.targets, self.weights = x, targets, weights
        self.rows = rows
        self.mean, self.scale = mean, scale
        self.is_memmap = isinstance(x, np.memmap)
        self.device = CPU

    def on_device(self, device):
        """These rows for batches computed on ``device``: their arrays copied there once, to stay across batches
        (a memmap stays on the host, and each batch's rows are copied); itself on the host."""
        if device.is_host:
            return self
        moved = TrainingData(self.x if self.is_memmap else device.asarray(self.x), device.asarray(self.targets),
                             None if self.weights is None else device.asarray(self.weights), self.rows,
                             None if self.mean is None else device.asarray(self.mean),
                             None if self.scale is None else device.asarray(self.scale))
        moved.device = device
        return moved

    def with_rows(self, rows):
        """The same arrays, on the same device, restricted to the rows ``rows`` of ``x``."""
        restricted = copy.copy(self)
        restricted.rows = rows
        return restricted

    def __len__(self):
        return len(self.targets) if self.rows is None else len(self.rows)

    def epoch_order(self, rng, batch_size, shuffle=True):
        """Row indices of ``x`` in the order one epoch visits them (in order without ``shuffle``)."""
        n = len(self)
        if not shuffle:
            order = np.arange(n)
        elif self.is_memmap:
            order = _block_shuffled(rng, n, _block_rows(self.x, batch_size))
        else:
            order = rng.permutation(n)
        return order if self.rows is None else self.rows[order]

    def gather(self, index, x, t, s):
        """Copy the rows ``index`` into the batch buffers ``x``, ``t`` and ``s``."""
        # Every index comes from epoch_order and is in range (see take_rows).
        if self.is_memmap:
            index = np.sort(index)  # nearby rows: fewer page faults on the file
            self.device.copy_in(x, self.x.take(index, axis=0, mode="clip"))
        if not self.device.is_host:  # the row numbers go where the rows are
            index = self.device.asarray(index)
        if not self.is_memmap:
            take_rows(self.x, index, x)
        take_rows(self.targets, index, t)
        if self.weights is not None:
            take_rows(self.weights, index, s[:, 0])
        if self.mean is not None:
            standardize(x, self.mean, self.scale)


def _block_rows(x, batch_size):
    """Rows per shuffling block of a memmap: about 16 MB, whole batches."""
    row_bytes = max(1, x.shape[1] * x.dtype.itemsize)
    return max(1, (16 << 20) // (row_bytes * batch_size)) * batch_size


def _block_shuffled(rng, n, block_rows):
    """A permutation of range(n) that visits contiguous blocks in random order.

    Rows are shuffled inside each block, so a batch reads one region of the
    file instead of the whole of it.
    """
    starts = rng.permutation(np.arange(0, n, block_rows))
    return np.concatenate([s + rng.permutation(min(block_rows, n - s)) for s in starts])


def batch_count(rows, batch_size):
    """Mini-batches in an epoch of ``rows`` rows: the last one may be smaller."""
    return -(-rows // batch_size)
