"""Telling the user when training has stalled, instead of returning a model that silently learned nothing.

:class:`StallMonitor` is a built-in callback of ``fit``. After every epoch it
looks for two signs of a network that has stopped learning, and warns once
per fit (a :class:`dnn.TrainingStalledWarning`) naming the likely cause and
the fix:

- a hidden ReLU layer whose units all output 0 for every row of a fixed sample
  of the training set (dead ReLUs: nothing flows back through them, ever), or
  all but 1% of them in a layer of 100 units or more;
- a fit that ends with its last ``patience`` epochs at the no-information
  level: the training loss at the cross-entropy of predicting the class
  frequencies (ln k for k balanced classes), and an accuracy no better than
  always answering the most frequent class. Checked when the fit ends, so a
  plateau the network leaves later (XOR's, early on) is no alarm.

Neither fires on a network that learns; the sample is fixed rows (no draws
from the model's generator), so the monitor never changes the trained weights.
"""

import warnings

import numpy as np

from dnn.backprop import forward_pass
from dnn.callbacks import Callback
from dnn.data.preprocessing import standardize
from dnn.devices import namespace, on_host, to_numpy
from dnn.errors import TrainingStalledWarning
from dnn.losses import l2_penalty
from dnn.normalization import BATCH_STATISTICS

#: Rows of the training set the dead-layer check runs on.
SAMPLE_ROWS = 512
#: ... and at most this many bytes of them (wide rows get fewer).
SAMPLE_BYTES = 16 << 20
#: How close (relative) to the no-information loss counts as "at" it.
NO_INFORMATION_TOLERANCE = 0.05
#: How much better than the majority share the accuracy must be to count as learning.
ACCURACY_MARGIN = 0.02


class StallMonitor(Callback):
    """Warn once per fit when training has stalled (see the module docstring)."""

    def __init__(self, patience=2):
        self.patience = patience

    def on_train_begin(self, run):
        self.warned, self.flat_epochs = False, 0
        data = run.data
        # wide rows (a sparse text matrix's 50,000 columns) get fewer sample rows: the sample stays small
        most = max(8, SAMPLE_BYTES // (data.x.shape[1] * np.dtype(run.model.dtype).itemsize))
        rows = np.unique(np.linspace(0, len(data) - 1, min(SAMPLE_ROWS, most, len(data))).astype(np.intp))
        rows = rows if data.rows is None else data.rows[rows]
        device = run.state.params.device
        if on_host(data.x):
            self.sample = device.asarray(np.array(data.x[rows], dtype=run.model.dtype))
        else:  # training rows kept on a device: the sample is taken there
            self.sample = data.x[device.asarray(rows)].astype(run.model.dtype)
        if data.mean is not None:
            standardize(self.sample, data.mean, data.scale)
        self.relu_layers = [layer for layer, name in enumerate(run.model.activations[1:-1], start=2) if name == "relu"]
        self.baseline = self.majority = None
        if run.task.is_classifier and run.task.single_label:
            targets = to_numpy(data.targets)
            targets = targets if data.rows is None else targets[data.rows]
            shares = np.bincount(run.task.class_indices(targets)) / len(targets)
            shares = shares[shares > 0]
            if len(shares) > 1:  # with one class present, knowing its frequency is knowing everything
                self.baseline = float(-(shares * np.log(shares)).sum())
                self.majority = float(shares.max())

    def on_epoch_end(self, run, epoch, logs):
        if self.warned:
            return
        self._track_no_information(run, logs)
        dead = self._dead_layers(run)
        if dead:
            self._warn(run, f"(almost) every unit of hidden layer{'s' if len(dead) > 1 else ''} "
                            f"{', '.join(map(str, dead))} outputs 0 for every sampled training row (dead ReLUs: no "
                            f"gradient flows through them)")

    def on_train_end(self, run):
        if not self.warned and self.flat_epochs >= self.patience:
            self._warn(run, f"the training loss has stayed at {self.baseline:.4f}, the loss of only knowing the class "
                            f"frequencies, for the last {self.flat_epochs} epochs, with accuracy "
                            f"{self.last_accuracy:.3f}")

    def _warn(self, run, reason):
        self.warned = True
        scale = "" if run.data.mean is not None else "standardize=True (features on large or very different " \
                                                     "scales are the usual cause), or "
        warnings.warn(f"training has stalled (epoch {run.state.epochs}): {reason}. Try {scale}a "
                      f"lower learning rate than {run.state.learning_rate(run.state.epochs - 1):g}.",
                      TrainingStalledWarning, stacklevel=4)

    def _dead_layers(self, run):
        if not self.relu_layers:
            return []
        params = run.state.params
        # batch statistics, as training normalizes (running averages lag behind while the weights move)
        cache = forward_pass(self.sample, params.weights[:-1], params.biases[:-1], run.model.activations[1:-1],
                             norms=params.normalizations()[:-1], mode=BATCH_STATISTICS)
        # A layer of 100 units or more counts as dead with 1% of them alive: raw 0-255 pixels leave one or two.
        xp = namespace(self.sample)
        return [layer for layer in self.relu_layers
                if int(xp.count_nonzero(cache[layer - 1].any(axis=0))) <= cache[layer - 1].shape[1] // 100]

    def _track_no_information(self, run, logs):
        """Count the epochs in a row whose loss and accuracy are those of knowing only the class frequencies."""
        if self.baseline is None or "accuracy" not in logs:
            return
        params = run.state.params
        loss = logs["loss"] - l2_penalty([params.flat[: params.n_weights]], run.model.l2)
        flat = (abs(loss - self.baseline) <= NO_INFORMATION_TOLERANCE * self.baseline
                and logs["accuracy"] <= self.majority + ACCURACY_MARGIN)
        self.flat_epochs = self.flat_epochs + 1 if flat else 0
        self.last_accuracy = logs["accuracy"]
