"""Learning-rate schedules: the rate of every epoch as a function of the epoch number.

A schedule is called with the 0-based epoch (counted over all ``fit`` calls
of a model) and returns the learning rate of that epoch. ``DNN(lr=schedule)``
uses one; ``DNN(lr=0.1, decay=0.01)`` is shorthand for
``InverseTimeDecay(0.1, 0.01)``. ``config()`` gives a schedule as plain data and
:func:`from_config` rebuilds it, so model files keep it. Every numeric
setting is checked by :func:`dnn.checks.check_setting`, which gives each range
and why.

A subclass of :class:`Schedule` of your own works in memory, but a model file
names its schedule and the loader rebuilds it from :data:`REGISTRY`:
``saveModel`` refuses a model whose schedule is not registered there under
its ``name``, so that no file is written that cannot be read back.
"""

import math

from dnn import configurable
from dnn.checks import check_setting
from dnn.configurable import Configurable
from dnn.registry import Registry


class Schedule(Configurable):
    """Base class; subclasses set ``name`` and ``settings`` and implement ``__call__``."""

    def __call__(self, epoch):
        raise NotImplementedError


def _rate(value, name="lr"):
    return check_setting(name, value)


class InverseTimeDecay(Schedule):
    """lr / (1 + decay * epoch); decay 0 is a constant rate."""

    name = "inverse_time"
    settings = ("lr", "decay")

    def __init__(self, lr, decay=0.0):
        self.lr, self.decay = _rate(lr), check_setting("decay", decay)

    def __call__(self, epoch):
        return decayed_learning_rate(self.lr, self.decay, epoch)


class StepDecay(Schedule):
    """lr * factor ** floor(epoch / every): the rate drops by ``factor`` (in (0, 1]) every ``every`` epochs."""

    name = "step"
    settings = ("lr", "factor", "every")

    def __init__(self, lr, factor=0.5, every=10):
        self.lr, self.factor, self.every = _rate(lr), check_setting("factor", factor), check_setting("every", every)

    def __call__(self, epoch):
        return self.lr * self.factor ** (epoch // self.every)


class ExponentialDecay(Schedule):
    """lr * rate ** epoch, with ``rate`` in (0, 1]."""

    name = "exponential"
    settings = ("lr", "rate")

    def __init__(self, lr, rate=0.96):
        self.lr, self.rate = _rate(lr), check_setting("rate", rate)

    def __call__(self, epoch):
        return self.lr * self.rate**epoch


class CosineDecay(Schedule):
    """Cosine decay from lr to min_lr over ``epochs`` epochs, after an optional linear warm-up.

    Warm-up epochs e < warmup use lr * (e + 1) / warmup; then
    min_lr + (lr - min_lr) (1 + cos(pi * t)) / 2 with t = (e - warmup) / (epochs - warmup),
    and min_lr from epoch ``epochs`` on.
    """

    name = "cosine"
    settings = ("lr", "epochs", "min_lr", "warmup")

    def __init__(self, lr, epochs, min_lr=0.0, warmup=0):
        self.lr, self.epochs = _rate(lr), check_setting("epochs", epochs)
        min_lr, warmup = check_setting("min_lr", min_lr), check_setting("warmup", warmup)
        if warmup >= self.epochs:
            raise ValueError(f"warmup must be an integer in [0, epochs), got {warmup!r}")
        if min_lr > self.lr:
            raise ValueError(f"min_lr ({min_lr}) must not exceed lr ({self.lr})")
        self.min_lr, self.warmup = min_lr, warmup

    def __call__(self, epoch):
        if epoch < self.warmup:
            return self.lr * (epoch + 1) / self.warmup
        if epoch >= self.epochs:
            return self.min_lr
        t = (epoch - self.warmup) / (self.epochs - self.warmup)
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * t)) / 2


def _is_schedule_class(name, entry):
    return configurable.is_named_subclass(name, entry, Schedule)


#: The schedule classes by name.
SCHEDULES = {cls.name: cls for cls in (InverseTimeDecay, StepDecay, ExponentialDecay, CosineDecay)}

#: Every schedule by name: ``REGISTRY.get("cosine")`` is :class:`CosineDecay`.
REGISTRY = Registry("schedule", SCHEDULES, "a subclass of dnn.schedules.Schedule whose name is the registered name",
                    _is_schedule_class)


def decayed_learning_rate(lr, decay, epoch):
    """Learning rate of epoch ``epoch`` (0-based): lr / (1 + decay * epoch)."""
    return lr / (1.0 + decay * epoch)


def make_schedule(lr, decay=0.0):
    """The schedule of ``DNN(lr=..., decay=...)``: a Schedule as given, or a number with its decay."""
    if isinstance(lr, Schedule):
        if check_setting("decay", decay):
            raise ValueError("give either a learning-rate schedule or decay, not both")
        return lr
    if callable(lr) and not isinstance(lr, (int, float)):
        raise ValueError(f"lr must be a number or a dnn.schedules.Schedule, got {lr!r}")
    return InverseTimeDecay(lr, decay)


def from_config(config):
    """The schedule described by ``config()`` output."""
    return configurable.from_config(config, REGISTRY, "a schedule")
