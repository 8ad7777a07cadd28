"""Where a training batch's time goes: timers around the engine's functions, for ``bench_fit.py --breakdown``.

While a :class:`Breakdown` is entered, the functions a training step calls are replaced by timed copies of
themselves (module and class attributes, put back on exit), each adding its time to a bucket:

- products: ``matmul`` and ``dot`` as ``dnn.backprop`` calls them (the array module its ``namespace`` gives
  becomes a proxy of numpy: the breakdown is the CPU's);
- activations: the kernels ``dnn.backprop.get_activation`` gives and those of its ``HIDDEN_FORWARD``;
- normalization: ``dnn.backprop.normalize`` and ``normalize_backward``;
- gather: ``dnn.engine.batches.TrainingData.gather``;
- update: the optimizer's ``update`` and ``dnn.engine.update.UpdateRules.update`` (penalties, clipping);
- loss+delta: ``summed_loss`` and ``output_delta`` as ``dnn.engine.training`` calls them.

A timed call inside another (the optimizer's update inside UpdateRules') counts once, in its own bucket: each
bucket holds its functions' time less that of the timed calls they make. :meth:`Breakdown.per_batch` adds the
fit's setup (its time outside the epochs, which the caller measures) and the rest: what the epochs spend elsewhere
(the per-batch Python, callbacks and the thread policy, each epoch's shuffling and snapshot). Every timed call also
pays for its timer; :func:`timer_cost` measures how much.

If the engine stops calling one of these names, its bucket stays empty and :attr:`Breakdown.missed` names it.
"""

import time

import numpy as np

import dnn.backprop
import dnn.engine.training
from dnn.engine.batches import TrainingData
from dnn.engine.update import UpdateRules

BUCKETS = ("products", "update", "gather", "activations", "normalization", "loss+delta")
#: Buckets every training step reaches; normalization only where a layer has it.
EXPECTED = ("products", "update", "gather", "activations", "loss+delta")
_ABSENT = object()


class _TimedNumpy:
    """numpy with ``matmul`` and ``dot`` replaced: the array module ``dnn.backprop`` gets under a Breakdown."""

    def __init__(self, matmul, dot):
        self.matmul, self.dot = matmul, dot

    def __getattr__(self, name):
        return getattr(np, name)


class Breakdown:
    """Seconds and calls per bucket of a training step's parts, for as long as it is entered.

    Parameters
    ----------
    optimizer : dnn.optimizers.Optimizer
        The optimizer of the model to be trained: its class's ``update`` is timed.
    """

    def __init__(self, optimizer):
        self.seconds = dict.fromkeys(BUCKETS, 0.0)
        self.calls = dict.fromkeys(BUCKETS, 0)
        self._optimizer_class = type(optimizer)
        self._inner = []  # per timed call under way: the time of the timed calls made inside it
        self._timed = {}  # function -> its timed copy, one per function, so that a lookup by that copy matches
        self._saved = []  # (owner, name, what its __dict__ held) to put back

    def timed(self, function, bucket):
        """A copy of ``function`` that adds its own time (less its timed calls' time) to ``bucket``."""
        if function not in self._timed:
            def call(*args, **kwargs):
                self._inner.append(0.0)
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    elapsed = time.perf_counter() - started
                    self.seconds[bucket] += elapsed - self._inner.pop()
                    self.calls[bucket] += 1
                    if self._inner:
                        self._inner[-1] += elapsed

            self._timed[function] = call
        return self._timed[function]

    def __enter__(self):
        backprop, training, optimizer = dnn.backprop, dnn.engine.training, self._optimizer_class
        timed_numpy = _TimedNumpy(self.timed(np.matmul, "products"), self.timed(np.dot, "products"))
        self._replace(backprop, "namespace", lambda array: timed_numpy)
        self._replace(backprop, "get_activation", self._timed_activations(backprop.get_activation))
        # forward_pass looks a hidden layer's kernel up by the forward function get_activation gave: key by its copy
        self._replace(backprop, "HIDDEN_FORWARD", {self.timed(forward, "activations"): self.timed(kernel, "activations")
                                                   for forward, kernel in backprop.HIDDEN_FORWARD.items()})
        self._replace(backprop, "normalize", self.timed(backprop.normalize, "normalization"))
        self._replace(backprop, "normalize_backward", self.timed(backprop.normalize_backward, "normalization"))
        self._replace(TrainingData, "gather", self.timed(TrainingData.gather, "gather"))
        self._replace(optimizer, "update", self.timed(optimizer.update, "update"))
        self._replace(UpdateRules, "update", self.timed(UpdateRules.update, "update"))
        self._replace(training, "summed_loss", self.timed(training.summed_loss, "loss+delta"))
        self._replace(training, "output_delta", self.timed(training.output_delta, "loss+delta"))
        return self

    def __exit__(self, *exception):
        while self._saved:
            owner, name, value = self._saved.pop()
            if value is _ABSENT:  # a class attribute it had inherited
                delattr(owner, name)
            else:
                setattr(owner, name, value)

    def _replace(self, owner, name, value):
        self._saved.append((owner, name, vars(owner).get(name, _ABSENT)))
        setattr(owner, name, value)

    def _timed_activations(self, get_activation):
        pairs = {}

        def timed_get_activation(name):
            if name not in pairs:
                pairs[name] = tuple(self.timed(kernel, "activations") for kernel in get_activation(name))
            return pairs[name]

        return timed_get_activation

    @property
    def missed(self):
        """The buckets every training step should reach that no call reached."""
        return [bucket for bucket in EXPECTED if not self.calls[bucket]]

    def per_batch(self, seconds, batches, setup=0.0):
        """Microseconds per batch of every bucket (normalization only if reached), of the ``setup`` seconds of the
        fit, and of the rest of its ``seconds``, in that order."""
        shown = {bucket: 1e6 * value / batches for bucket, value in self.seconds.items()
                 if bucket != "normalization" or self.calls[bucket]}
        shown["setup"] = 1e6 * setup / batches
        shown["rest"] = 1e6 * seconds / batches - sum(shown.values())
        return shown


def timer_cost(calls=100_000):
    """Microseconds a timed call adds to a call of a function that does nothing."""
    def nothing():
        pass

    timed = Breakdown(None).timed(nothing, "products")
    started = time.perf_counter()
    for _ in range(calls):
        nothing()
    plain = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(calls):
        timed()
    return 1e6 * (time.perf_counter() - started - plain) / calls
