"""The mini-batch loop: gather a batch, forward, output delta, backward, update.

Everything a step writes into is allocated once per ``fit`` call in a
:class:`Workspace`, so the loop allocates (almost) nothing per batch and the
time goes to the matrix products.
"""

import math
import signal
import threading

import numpy as np

from dnn import metrics
from dnn.backprop import backward_pass, forward_pass
from dnn.losses import add_l2_gradient, l2_penalty, output_delta, summed_loss
from dnn.optimizers import adam_update, sgd_update
from dnn.preprocessing import standardize


class Workspace:
    """Buffers for one mini-batch of up to ``batch_size`` rows.

    ``views(m)`` returns the first ``m`` rows of every per-row buffer; row
    slices of C-contiguous arrays stay contiguous, so the last, smaller batch
    runs through the same code.
    """

    def __init__(self, batch_size, units, dtype):
        self.x = np.empty((batch_size, units[0]), dtype)
        self.t = np.empty((batch_size, units[-1]), dtype)
        self.s = np.empty((batch_size, 1), dtype)
        self.outputs = [np.empty((batch_size, u), dtype) for u in units[1:]]
        self.deltas = [np.empty((batch_size, u), dtype) for u in units[1:]]
        self._views = {}

    def views(self, m):
        if m not in self._views:
            self._views[m] = (
                self.x[:m],
                self.t[:m],
                self.s[:m],
                [a[:m] for a in self.outputs],
                [d[:m] for d in self.deltas],
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
    """

    def __init__(self, x, targets, weights=None, rows=None, mean=None, scale=None):
        self.x, self.targets, self.weights = x, targets, weights
        self.rows = rows
        self.mean, self.scale = mean, scale
        self.is_memmap = isinstance(x, np.memmap)

    def __len__(self):
        return len(self.targets) if self.rows is None else len(self.rows)

    def epoch_order(self, rng, batch_size):
        """Row indices of ``x`` in the order one epoch visits them."""
        n = len(self)
        if self.is_memmap:
            order = _block_shuffled(rng, n, _block_rows(self.x, batch_size))
        else:
            order = rng.permutation(n)
        return order if self.rows is None else self.rows[order]

    def gather(self, index, x, t, s):
        """Copy the rows ``index`` into the batch buffers ``x``, ``t`` and ``s``."""
        # mode="clip" skips numpy's bounds check, which with out= also forces a
        # buffered copy; every index comes from epoch_order and is in range.
        if self.is_memmap:
            index = np.sort(index)  # nearby rows: fewer page faults on the file
            np.copyto(x, self.x.take(index, axis=0, mode="clip"), casting="unsafe")
        else:
            self.x.take(index, axis=0, out=x, mode="clip")
        self.targets.take(index, axis=0, out=t, mode="clip")
        if self.weights is not None:
            self.weights.take(index, out=s[:, 0], mode="clip")
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


class Trainer:
    """The update step of one ``fit`` call over a network's arrays.

    Parameters
    ----------
    params : dnn.parameters.Parameters
        The weights and biases, updated in place.
    activations : list of str
    loss, task : str
    optimizer : dict
        ``name`` ("sgd" or "adam"), ``state`` (updated in place) and the
        rule's hyperparameters.
    l2 : float
    batch_size : int
    """

    def __init__(self, params, activations, loss, task, optimizer, l2, batch_size):
        self.flat, self.weights, self.biases = params.flat, params.weights, params.biases
        self.flat_weights = params.flat[: params.n_weights]
        self.grad = np.empty_like(params.flat)
        self.grad_w, self.grad_b = params.views(self.grad)
        self.grad_weights = self.grad[: params.n_weights]
        self.activations, self.loss, self.task = activations, loss, task
        self.l2 = l2
        self.sgd = optimizer["name"] == "sgd"
        self.state = optimizer["state"]
        self.hyperparameters = ((optimizer["momentum"], optimizer["nesterov"]) if self.sgd
                                else (optimizer["beta1"], optimizer["beta2"], optimizer["epsilon"]))
        units = [self.weights[0].shape[0]] + [w.shape[1] for w in self.weights]
        self.workspace = Workspace(batch_size, units, params.flat.dtype)
        self.batch_size = batch_size

    def run(self, data, order, lr, progress, last=None, on_batch=None, stop=None):
        """Train on the first ``last`` batches of ``order`` (all by default).

        ``progress`` (an :class:`EpochProgress`) accumulates the completed
        batches; its ``diverged`` is set to the index of a batch whose loss was
        not finite, and that batch makes no update. ``on_batch(progress)`` is
        called after every batch, and ``stop()`` ends the loop when it is true.
        """
        size = self.batch_size
        last = batch_count(len(order), size) if last is None else last
        # A diverging network overflows; the non-finite loss is what reports it, once and clearly.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for batch in range(last):
                index = order[batch * size:(batch + 1) * size]
                loss, correct = self.step(data, index, lr)
                if not math.isfinite(loss):
                    progress.diverged = batch
                    break
                progress.add(len(index), loss, correct)
                if on_batch is not None:
                    on_batch(progress)
                if stop is not None and stop():
                    break

    def step(self, data, index, lr):
        """One mini-batch update; returns the batch's summed loss and correct count."""
        m = len(index)
        x, t, s, outputs, deltas = self.workspace.views(m)
        data.gather(index, x, t, s)
        cache = forward_pass(x, self.weights, self.biases, self.activations, outputs)
        p = cache[-1]
        weighted = data.weights is not None
        loss = summed_loss(self.loss, p, t, s[:, 0] if weighted else None)
        scale = s * (1.0 / m) if weighted else 1.0 / m
        if self.l2:
            loss += m * l2_penalty([self.flat_weights], self.l2)
        if not math.isfinite(loss):
            return loss, 0
        correct = metrics.count_correct(self.task, p, t)
        sgd = self.sgd
        # Folding the learning rate into the (batch, outputs) delta makes the
        # weight gradients come out as SGD steps for free.
        delta = output_delta(self.activations[-1], self.loss, p, t, scale * lr if sgd else scale, deltas[-1])
        backward_pass(cache, delta, self.weights, self.activations, self.grad_w, self.grad_b, deltas[:-1])
        if self.l2:
            add_l2_gradient([self.grad_weights], [self.flat_weights], self.l2 * (lr if sgd else 1.0))
        if sgd:
            sgd_update([self.flat], [self.grad], self.state, *self.hyperparameters)
        else:
            adam_update([self.flat], [self.grad], self.state, lr, *self.hyperparameters)
        return loss, correct


def batch_count(rows, batch_size):
    """Mini-batches in an epoch of ``rows`` rows: the last one may be smaller."""
    return -(-rows // batch_size)


class EpochProgress:
    """Running sums over the completed batches of an epoch."""

    def __init__(self):
        self.rows = 0
        self.batches = 0
        self.loss_sum = 0.0
        self.correct = 0
        self.diverged = None

    def add(self, rows, loss, correct):
        self.rows += rows
        self.batches += 1
        self.loss_sum += loss
        self.correct += correct

    @property
    def mean_loss(self):
        return self.loss_sum / self.rows if self.rows else math.nan


class InterruptFlag:
    """Turns the first Ctrl-C during training into a request to stop after the current batch.

    Used as a context manager around the epochs; calling it tells whether a
    stop was requested. A second Ctrl-C interrupts at once, as usual. Outside
    the main thread, or when another SIGINT handler is installed, it installs
    nothing and only the ``requested`` attribute can be set.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def __call__(self):
        return self.requested

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)
