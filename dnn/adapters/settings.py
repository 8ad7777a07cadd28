"""Settings the command line and the scikit-learn estimators build alike: schedules by name, weight decay.

Learning-rate schedules by name are built from a rate, the epochs and the mini-batches per epoch.
What ``dnn train --schedule NAME`` and the scikit-learn estimators' ``schedule="NAME"`` take: the names of
:data:`dnn.schedules.REGISTRY` whose first setting is the rate (``lr``, or ``max_lr`` for ``one_cycle``), read
when asked, so a schedule registered later is offered too. Each is built with the given rate, with the settings
``epochs``, ``steps_per_epoch`` and ``decay`` where it has them, and with its own defaults for the rest:
``one_cycle`` rises to the rate and anneals over all the epochs' mini-batches, ``cosine`` decays over the epochs,
``step`` halves the rate every 10 epochs, ``exponential`` multiplies it by 0.96 every epoch and ``inverse_time``
divides it by 1 + decay * epoch. A schedule with other settings is given as an object instead
(``DNN(lr=dnn.schedules.OneCycle(...))``).

``DNN`` passes an optimizer the settings it shares with the others by name; a weight decay, which only some
optimizers have, :func:`optimizer_with_weight_decay` sets on a new instance.

Beside the adapters that share it (neither imports the other), and free of optional dependencies.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

#: The settings a schedule by name may take besides its rate, each filled in from what the caller knows.
FILLED_IN = ("epochs", "steps_per_epoch", "decay")

#: The first setting of a schedule that can be built from a rate.
RATE_SETTINGS = ("lr", "max_lr")


def schedule_names() -> tuple[str, ...]:
    """The registered schedules that can be built by name from a rate (see the module's docstring)."""
    from dnn.schedules import REGISTRY

    return tuple(name for name, cls in REGISTRY.entries.items() if cls.settings and cls.settings[0] in RATE_SETTINGS)


def named_schedule(name, lr, epochs, steps_per_epoch, decay=0.0):
    """The schedule ``name`` (any spelling the registry accepts: "onecycle", "one-cycle"...) at rate ``lr``.

    Parameters
    ----------
    name : str
        One of :func:`schedule_names`.
    lr : float
        The rate: the peak of one_cycle, the starting rate of the others.
    epochs : int
        The epochs the schedule spans (one_cycle's and cosine's length).
    steps_per_epoch : int
        Mini-batches per epoch (one_cycle counts its steps).
    decay : float
        inverse_time's decay; any other schedule refuses a decay but 0.

    Raises
    ------
    ValueError
        For an unknown name (listing the valid ones), a decay with a schedule that has none, or a setting the
        schedule refuses (naming it).
    """
    from dnn.checks import check_setting
    from dnn.schedules import REGISTRY

    name = REGISTRY.canonical(name, among=schedule_names(), kind="schedule by name")
    cls = REGISTRY.entries[name]
    if "decay" not in cls.settings and check_setting("decay", decay):
        raise ValueError(f"decay {decay!r} goes with the inverse_time schedule (or none), not with {name!r}")
    given = {"epochs": epochs, "steps_per_epoch": steps_per_epoch, "decay": decay}
    return cls(lr, **{key: given[key] for key in FILLED_IN if key in cls.settings})


def steps_per_epoch(group_sizes, validation_split, batch_size) -> int:
    """Mini-batches in an epoch of ``DNN.fit`` on rows in groups of ``group_sizes`` (one per class, stratified).

    ``validationSplit`` holds out round(fraction * size) rows of every group, and a batch size above the
    training rows is clipped to them, as fit does. A value fit refuses counts as none here: fit says what is
    wrong with it.
    """
    from dnn.engine.fit_setup import DEFAULT_BATCH_SIZE

    fraction = float(validation_split) if isinstance(validation_split, Real) and 0 <= validation_split < 1 else 0.0
    rows = max(1, sum(int(size) - round(fraction * int(size)) for size in group_sizes))
    batch = int(batch_size) if isinstance(batch_size, Integral) and batch_size > 0 else DEFAULT_BATCH_SIZE
    return math.ceil(rows / min(batch, rows))


def optimizer_with_weight_decay(optimizer, weight_decay, label="weight_decay", **settings):
    """``optimizer`` as given without a ``weight_decay``, else the optimizer of that name with it and with those of
    ``settings`` it has (None ones left out), as ``DNN`` builds one by name.

    ValueError, naming the setting as ``label`` ("--weight-decay"), for an optimizer without a weight decay, or an
    optimizer instance (which has its own settings).
    """
    from dnn.checks import check_setting
    from dnn.optimizers import OPTIMIZERS, REGISTRY, Optimizer, make_optimizer

    if weight_decay is None:
        return optimizer
    check_setting("weight_decay", weight_decay, label)
    if isinstance(optimizer, Optimizer):
        raise ValueError(f"{label} {weight_decay!r} goes with an optimizer name; the instance {optimizer!r} has "
                         f"its own settings")
    if "weight_decay" not in REGISTRY.get(optimizer).settings:
        takers = [key for key, cls in OPTIMIZERS.items() if "weight_decay" in cls.settings]
        raise ValueError(f"{label} {weight_decay!r} is a setting of the optimizer {' or '.join(takers)}, "
                         f"not of {optimizer!r}")
    settings = {key: value for key, value in settings.items() if value is not None}
    return make_optimizer(optimizer, weight_decay=weight_decay, **settings)
