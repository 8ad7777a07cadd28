"""The training state: everything that continues from one ``fit`` call to the next.

One explicit object shared by fitting, persistence and plotting: the
parameters, the optimizer (with its state), the learning-rate schedule and the
factor callbacks such as ReduceLROnPlateau apply to it, the model's random
generator, the epoch count, the history, the recorded parameters and the
validation split.
"""

import math

import numpy as np

from dnn import optimizers, schedules
from dnn.checks import SETTINGS, check_setting, is_int

#: The precisions a model computes in.
DTYPES = ("float32", "float64")


class TrainingState:
    """What training needs to continue exactly where it stopped.

    Attributes
    ----------
    params : dnn.model.parameters.Parameters or None
        The one store of the weights and biases (``model.w`` and ``model.b``
        are its views): made by the input layer, grown by every layer added,
        None before. Snapshots copy its flat arrays (the parameters and the
        running statistics); :meth:`restore` writes into them in place, so
        the views stay valid.
    optimizer : dnn.optimizers.Optimizer
    schedule : dnn.schedules.Schedule
    lr_factor : float
        Multiplies the schedule's rate (ReduceLROnPlateau lowers it).
    rng : numpy.random.Generator
        Initialization, shuffling, validation splits and dropout masks.
    epochs : int
        Epochs trained so far, over all fit calls.
    steps : int
        Mini-batches trained so far, over all fit calls: the step a
        schedule per step (``schedule.per_step``) is asked the rate of.
    history : dict of per-epoch lists
    parameter_record : dict from spec to list of floats
    record_every : "epoch" or "batch"
    validation_split : dict or None
        The rows held out by ``validationSplit``: ``{"fraction", "rows", "validation"}``.
    stopped_early : dict or None
        Set when early stopping's patience ran out: ``epoch``, ``best_epoch``,
        ``monitor``, ``mode`` ("min" or "max": the best epoch has the lowest or
        the highest value), ``best`` and ``restored_epoch``.
    restored_epoch : int or None
        The epoch whose weights early stopping put back at the end of the
        last fit (None when it restored nothing).
    """

    #: For states pickled before steps were counted.
    steps = 0

    def __init__(self, optimizer, schedule, rng):
        self.params = None
        self.optimizer = optimizer
        self.schedule = schedule
        self.lr_factor = 1.0
        self.rng = rng
        self.epochs = 0
        self.steps = 0
        self.history = {}
        self.parameter_record = {}
        self.record_every = "epoch"
        self.validation_split = None
        self.stopped_early = None
        self.restored_epoch = None

    def learning_rate(self, epoch=None):
        """The rate of ``epoch`` (the next epoch by default): the schedule's rate times ``lr_factor``.

        For a schedule per step, the rate of the next step.
        """
        epoch = self.epochs if epoch is None else epoch
        rate = self.schedule.at_step(self.steps, epoch) if self.schedule.per_step else self.schedule(epoch)
        return rate if self.lr_factor == 1.0 else rate * self.lr_factor

    def rate_at_step(self, step):
        """The rate of mini-batch ``step`` in the current epoch, by a schedule per step, times ``lr_factor``."""
        rate = self.schedule.at_step(step, self.epochs)
        return rate if self.lr_factor == 1.0 else rate * self.lr_factor

    def snapshot(self):
        """Copies of everything a mini-batch changes: parameters, optimizer state, generator, step count, records."""
        return {
            "flat": self.params.flat.copy(),
            "buffers": self.params.buffers.copy(),
            "optimizer": self.optimizer.snapshot(),
            "rng": self.rng.bit_generator.state,
            "steps": self.steps,
            "record": {spec: len(values) for spec, values in self.parameter_record.items()},
        }

    def restore(self, snapshot, generator=True, keep_records=0):
        """Put back a :meth:`snapshot`.

        ``generator``: also rewind the random generator and the step count
        (False puts back the weights of an earlier epoch, as early stopping
        does, without going back in time). ``keep_records``: how many values
        recorded after the snapshot to keep per spec (None: leave the records
        alone).
        """
        self.params.flat[...] = snapshot["flat"]
        self.params.buffers[...] = snapshot["buffers"]
        self.optimizer.restore(snapshot["optimizer"])
        if generator:
            self.rng.bit_generator.state = snapshot["rng"]
            self.steps = snapshot["steps"]
        if keep_records is not None:
            for spec, length in snapshot["record"].items():
                del self.parameter_record[spec][length + keep_records:]

    def record_history(self, values):
        """Append one epoch to every history list; a value missing in an epoch is NaN."""
        done = len(self.history.get("lr", []))
        for key in values.keys() | self.history.keys():
            self.history.setdefault(key, [math.nan] * done).append(values.get(key, math.nan))

    def completed_epochs(self):
        """The number of epochs in the history."""
        return len(self.history.get("lr", []))


class OptimizerSetting:
    """A setting of the model's optimizer (momentum, beta1...), readable and settable on the model."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, model, owner=None):
        if model is None:
            return self
        return getattr(model.optimizer, self.name, None)

    def __set__(self, model, value):
        optimizer = model.optimizer
        if self.name not in optimizer.settings:
            raise AttributeError(f"{self.name} is not a setting of the {optimizer.name} optimizer "
                                 f"(its settings: {', '.join(optimizer.settings) or 'none'})")
        if self.name in SETTINGS:
            value = check_setting(self.name, value)
        changed = checked_optimizer(optimizers.from_config({**optimizer.config(), self.name: value}))
        # Keep the state the changed optimizer still uses (a velocity, Adam's averages), not what it dropped.
        kept = set(changed.state_arrays) | set(dict(changed.state_numbers))
        changed.state = {key: value for key, value in optimizer.state.items() if key in kept}
        model.state.optimizer = changed


class StateField:
    """A field of the training state, under its public name on the model (history, epochs...)."""

    def __init__(self, field):
        self.field = field

    def __get__(self, model, owner=None):
        return self if model is None else getattr(model.state, self.field)

    def __set__(self, model, value):
        setattr(model.state, self.field, value)


def checked_optimizer(optimizer):
    """``optimizer`` once each of its numeric settings is within :data:`dnn.checks.SETTINGS`.

    The optimizers check their own settings without ceilings (epsilon only
    has to be positive); a model takes none that it could not train with.
    """
    for key, value in optimizer.config().items():
        if key in SETTINGS:
            check_setting(key, value)
    return optimizer


class Setting:
    """A setting of the model, checked by ``check(model, value)`` on every assignment, kept as ``_<name>``.

    The check runs before anything is stored, so a refused assignment leaves
    the model as it was; the constructor assigns through it too, so a value
    is checked the same way whenever it enters.
    """

    def __init__(self, check):
        self.check = check
        self.__doc__ = check.__doc__

    def __set_name__(self, owner, name):
        self.name, self.attribute = name, "_" + name

    def __get__(self, model, owner=None):
        return self if model is None else getattr(model, self.attribute)

    def __set__(self, model, value):
        setattr(model, self.attribute, self.check(model, value))


def check_lr(model, value):
    """The learning rate: a number in (0, 1e3], kept as a float, or a :class:`dnn.schedules.Schedule`.

    Assigning one takes effect at the next ``fit``. A schedule replaces
    ``decay``, which must then be 0.
    """
    if isinstance(value, schedules.Schedule):
        if getattr(model, "_decay", 0.0):
            raise ValueError(f"give either a learning-rate schedule or decay, not both: model.decay is "
                             f"{model.decay}; set model.decay = 0 before assigning {value!r}")
        return value
    return schedules.make_schedule(value).lr


def check_decay(model, value):
    """Shorthand for the schedule lr / (1 + decay * epoch): a number in [0, 1e3], kept as a float."""
    value = check_setting("decay", value)
    if value and isinstance(getattr(model, "_lr", None), schedules.Schedule):
        raise ValueError(f"give either a learning-rate schedule or decay, not both: model.lr is {model.lr!r}, "
                         f"whose own settings say how the rate decays")
    return value


def check_l2(model, value):
    """The L2 penalty, a number in [0, 1e3], kept as a float: (l2 / 2) * sum of squared weights joins the loss."""
    return check_setting("l2", value)


def check_l1(model, value):
    """The L1 penalty, a number in [0, 1e3], kept as a float: l1 * sum of absolute weights joins the loss."""
    return check_setting("l1", value)


def check_clip_norm(model, value):
    """None, or the largest norm of the whole gradient (every weight and bias), a number in (0, 1e6]."""
    return None if value is None else check_setting("clipNorm", value)


def check_clip_value(model, value):
    """None, or the largest size of any entry of the gradient, a number in (0, 1e6]."""
    return None if value is None else check_setting("clipValue", value)


def check_seed(model, value):
    """The seed the model's generator was made from (None: fresh entropy), recorded by ``getConfig``.

    Assigning one checks it and records it for ``getConfig`` (so ``fromConfig``
    builds with it); the generator already in use keeps its state.
    """
    if value is None:
        return None
    if not is_int(value) or value < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {value!r:.80}")
    return check_setting("seed", value)


def check_dtype(model, value):
    """The precision of the weights and of every computation, "float32" or "float64" (a numpy dtype).

    It is fixed once layers are added: their arrays have it.
    """
    try:
        checked = np.dtype(value)
    except (TypeError, ValueError):
        checked = None
    if checked is None or str(checked) not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {value!r:.80}")
    if getattr(model, "units", None) and checked != model.dtype:
        raise ValueError(f"the model's dtype is fixed once layers are added (they hold {model.dtype} arrays); "
                         f"build a DNN(dtype={str(checked)!r}) for a {checked} network")
    return checked


def check_standardize(model, value):
    """Whether the first fit learns every feature's mean and scale and the model applies them (True or False)."""
    if not isinstance(value, bool):
        raise ValueError(f"standardize must be True or False, got {value!r:.80}")
    return value
