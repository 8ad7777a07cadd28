"""Learning-rate schedules: the rate of every epoch, or of every mini-batch, as a function of the count.

A schedule is called with the 0-based epoch (counted over all ``fit`` calls
of a model) and returns the learning rate of that epoch. A schedule whose
``per_step`` is True changes the rate every mini-batch instead: training asks
its :meth:`Schedule.at_step` with the 0-based step (the mini-batches trained
over all ``fit`` calls) before every batch; :class:`OneCycle` and
:class:`Warmup` are such. ``DNN(lr=schedule)`` uses one; ``DNN(lr=0.1,
decay=0.01)`` is shorthand for ``InverseTimeDecay(0.1, 0.01)``. The history
keeps one rate per epoch, the last one used; a callback's ``on_batch_end``
sees every batch's in ``logs["lr"]``.

``config()`` gives a schedule as plain data and :func:`from_config` rebuilds
it, so model files keep it. Every numeric setting is checked by
:func:`dnn.checks.check_setting`, which gives each range and why.

A subclass of :class:`Schedule` of your own works in memory; to save models
that use it, :func:`register` it: a model file names its schedule and the
loader rebuilds it from :data:`REGISTRY`, so ``saveModel`` refuses a schedule
not registered there under its ``name``, and a process that has not
registered it cannot read the file (nothing from a file ever runs).
"""

import math

from dnn import configurable
from dnn.checks import check_setting
from dnn.configurable import Configurable
from dnn.registry import Registry


class Schedule(Configurable):
    """Base class; subclasses set ``name`` and ``settings`` and implement ``__call__``, or ``at_step``."""

    #: True for a schedule that sets the rate of every mini-batch (by :meth:`at_step`), False for one per epoch.
    per_step = False

    #: For a schedule per step that ends, the step (0-based) from which its rate stays final; None for the others.
    last_step = None

    def __call__(self, epoch):
        """The rate of epoch ``epoch`` (0-based, over all fits)."""
        if self.per_step:
            raise TypeError(f"{type(self).__name__} sets the rate of every mini-batch: ask its at_step(step, epoch)")
        raise NotImplementedError

    def at_step(self, step, epoch):
        """The rate of mini-batch ``step`` (0-based, over all fits), in epoch ``epoch``: for a schedule per epoch,
        the epoch's rate."""
        return self(epoch)


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


class OneCycle(Schedule):
    """PyTorch's ``OneCycleLR`` (Smith & Topin, 2017), one rate per mini-batch over ``total_steps`` steps.

    The rate rises from max_lr / div_factor to max_lr over the first
    pct_start of the steps, then falls to max_lr / (div_factor *
    final_div_factor) by step total_steps - 1, and stays there after. Each
    phase runs from its start s_0 to its end s_1 (step pct_start *
    total_steps - 1 ends the first) by "cos": b + (a - b) (1 + cos(pi p)) / 2,
    or "linear": a + (b - a) p, with p = (step - s_0) / (s_1 - s_0), from
    rate a to rate b. ``three_phase`` falls back to the starting rate by step
    2 pct_start total_steps - 2, then to the final rate. ``total_steps`` is
    given, or ``epochs * steps_per_epoch``. PyTorch's momentum cycling is
    left out: the optimizer's momentum stays as set.
    """

    name = "one_cycle"
    settings = ("max_lr", "total_steps", "epochs", "steps_per_epoch", "pct_start", "anneal_strategy", "div_factor",
                "final_div_factor", "three_phase")
    per_step = True

    def __init__(self, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4, three_phase=False):
        self.max_lr = check_setting("max_lr", max_lr)
        if (total_steps is None) == (epochs is None or steps_per_epoch is None) or (
                total_steps is not None and (epochs, steps_per_epoch) != (None, None)):
            raise ValueError(f"give total_steps, or epochs and steps_per_epoch; got total_steps={total_steps!r}, "
                             f"epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r}")
        self.total_steps = None if total_steps is None else check_setting("total_steps", total_steps)
        self.epochs = None if epochs is None else check_setting("epochs", epochs)
        self.steps_per_epoch = None if steps_per_epoch is None else check_setting("steps_per_epoch", steps_per_epoch)
        self.pct_start = check_setting("pct_start", pct_start)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r:.80}")
        if not isinstance(three_phase, bool):
            raise ValueError(f"three_phase must be True or False, got {three_phase!r:.80}")
        self.anneal_strategy, self.three_phase = anneal_strategy, three_phase
        self.div_factor = check_setting("div_factor", div_factor)
        self.final_div_factor = check_setting("final_div_factor", final_div_factor)
        self._phases = self._phase_ends()

    def _phase_ends(self):
        """(end step, start rate, end rate) of each phase, as PyTorch lays them out."""
        total = self.total_steps or self.epochs * self.steps_per_epoch
        start = self.max_lr / self.div_factor
        end = start / self.final_div_factor
        rise = float(self.pct_start * total) - 1
        if self.three_phase:
            return ((rise, start, self.max_lr), (float(2 * self.pct_start * total) - 2, self.max_lr, start),
                    (total - 1, start, end))
        return (rise, start, self.max_lr), (total - 1, self.max_lr, end)

    @property
    def last_step(self):
        """The step from which the rate stays at its final value (0-based)."""
        return int(self._phases[-1][0])

    def at_step(self, step, epoch):
        step = min(step, self._phases[-1][0])
        begin = 0.0
        for i, (end, first, last) in enumerate(self._phases):
            if step <= end or i == len(self._phases) - 1:
                fraction = (step - begin) / (end - begin) if end != begin else 1.0
                if self.anneal_strategy == "linear":
                    return (last - first) * fraction + first
                return last + (first - last) / 2.0 * (math.cos(math.pi * fraction) + 1)
            begin = end


class Warmup(Schedule):
    """A linear warm-up in front of any schedule: step s < ``steps`` gets the schedule's rate times (s + 1) / steps.

    ``schedule`` is a :class:`Schedule` (one per epoch or per step), a
    number (a constant rate) or a schedule's config. The steps are counted
    over the model's life, so the warm-up happens once, at the start of
    training.
    """

    name = "warmup"
    settings = ("schedule", "steps")
    per_step = True

    def __init__(self, schedule, steps):
        if isinstance(schedule, dict):
            schedule = from_config(schedule)
        self.schedule = make_schedule(schedule)
        self.steps = check_setting("steps", steps)

    def config(self):
        """The settings as plain data, the wrapped schedule as its own config."""
        return {"name": self.name, "schedule": self.schedule.config(), "steps": self.steps}

    @property
    def last_step(self):
        """The wrapped schedule's last step, if it has one (None otherwise)."""
        return self.schedule.last_step

    def at_step(self, step, epoch):
        rate = self.schedule.at_step(step, epoch)
        return rate * (step + 1) / self.steps if step < self.steps else rate


def _is_schedule_class(name, entry):
    return configurable.is_named_subclass(name, entry, Schedule)


#: The schedule classes by name (those registered later included).
SCHEDULES = {cls.name: cls for cls in (InverseTimeDecay, StepDecay, ExponentialDecay, CosineDecay, OneCycle, Warmup)}

#: Every schedule by name: ``REGISTRY.get("cosine")`` is :class:`CosineDecay`.
REGISTRY = Registry("schedule", SCHEDULES, "a subclass of dnn.schedules.Schedule whose name is the registered name",
                    _is_schedule_class)


def register(cls, aliases=(), replace=False):
    """Register ``cls``, a subclass of :class:`Schedule`, under its ``name``; returns ``cls`` (a decorator too).

    Model files then record it by name and settings, and a process that
    registers the same class reads them back. ``aliases`` and ``replace`` are
    those of :meth:`dnn.registry.Registry.register`.
    """
    if not (isinstance(cls, type) and issubclass(cls, Schedule)):
        raise TypeError(f"register takes a subclass of dnn.schedules.Schedule, got {cls!r:.100}")
    return REGISTRY.register(cls.name, cls, aliases, replace)


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
