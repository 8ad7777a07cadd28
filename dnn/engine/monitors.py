"""Which way a monitored history value should go, for the callbacks that watch one.

EarlyStopping, ModelCheckpoint and ReduceLROnPlateau watch a history key and
take ``mode``: "min" (a loss: lower is better), "max" (an accuracy, an AUC, an
R²: higher is better) or "auto", which reads the direction off the key's name
(``val_`` stripped): "loss", the objective training minimizes, goes down; a
metric's name goes the way :data:`dnn.metrics.METRICS` says; any other name
with "auto" is an error, since guessing wrong would keep the worst epoch.
"""

import math

from dnn import metrics

#: The history key of the objective training minimizes (with "val_": on the validation rows).
LOSS_KEY = "loss"
MODES = ("min", "max", "auto")


def resolve_mode(key, mode):
    """ "min" or "max" for history key ``key`` and ``mode`` ("min", "max" or "auto")."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
    if mode != "auto":
        return mode
    base = key[4:] if isinstance(key, str) and key.startswith("val_") else key
    if base == LOSS_KEY:
        return "min"
    metric = metrics.REGISTRY.lookup(base)
    if metric is not None:
        return "max" if metrics.higher_is_better(metric) else "min"
    known = ", ".join(sorted((LOSS_KEY, *metrics.REGISTRY.names())))
    raise ValueError(f"mode='auto' cannot tell whether {key!r} should go up or down: give mode='min' or "
                     f"mode='max', or monitor one of the keys auto knows ({known}, each also with 'val_')")


class Monitor:
    """One watched history key: its direction and what counts as progress.

    Parameters
    ----------
    key : str
    mode : {"min", "max"}
    min_delta : float
        Progress means beating the reference by more than this.
    """

    def __init__(self, key, mode, min_delta=0.0):
        self.key, self.mode, self.min_delta = key, mode, min_delta
        self.sign = 1.0 if mode == "min" else -1.0

    @property
    def worst(self):
        """A value every number beats."""
        return self.sign * math.inf

    def better(self, value, reference):
        """Whether ``value`` beats ``reference`` (NaN never does)."""
        return self.sign * value < self.sign * reference

    def progress(self, value, reference):
        """Whether ``value`` beats ``reference`` by more than ``min_delta``."""
        return self.sign * value < self.sign * reference - self.min_delta

    def value(self, logs):
        """The watched value of an epoch's ``logs`` (NaN when absent)."""
        return logs.get(self.key, math.nan)

    @property
    def adjective(self):
        """How the best value is described in messages: "lowest" or "highest"."""
        return "lowest" if self.mode == "min" else "highest"
