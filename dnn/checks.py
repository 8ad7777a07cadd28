"""Small checks of user arguments, shared by the modules that validate input.

Every numeric setting of a model is checked by :func:`check_setting` against
its range in :data:`SETTINGS`, wherever it enters: the constructor,
``add*Layer``, assignment to an attribute, ``fromConfig`` and the config of a
model file; so a value a model refuses in one place it refuses in all.

The ceilings lie a few orders of magnitude above any value in published
use, so they never stand in the way of an experiment, and far below where
float arithmetic breaks, so a typo such as 1e300 is refused where it is
typed instead of surfacing epochs later as infinite weights or an
OverflowError. Each range, and why:

- ``lr`` in (0, 1e3]: rates in use run from 1e-6 to about 10; one step at
  1e3 moves a weight a thousand times its gradient, far past the scale of
  any initialization. ``min_lr`` (CosineDecay) likewise, in [0, 1e3].
- ``decay`` in [0, 1e3]: lr / (1 + decay * epoch) is a thousandth of lr
  after one epoch at 1e3; more stops training in all but name.
- ``l2`` in [0, 1e3]: grid searches reach 10 (scikit-learn's alpha); at
  1e3 the penalty (l2 / 2) sum w^2 of a single weight of 0.05 already
  outweighs a loss of order 1, and SGD's weight decay w (1 - lr l2)
  oscillates and diverges once lr l2 > 2.
- ``momentum``, ``beta1``, ``beta2``, ``rho`` in [0, 1): each is the
  weight of the past in a moving average; at 1 it never forgets, and the
  average (the velocity) grows without bound.
- ``epsilon`` in [1e-20, 1]: in float32, (1 - beta2) g^2 underflows to 0
  for gradients g below about 1e-21, leaving a step of order lr g / epsilon,
  which the floor keeps below lr / 10; below 1e-45 epsilon itself rounds to
  0 in float32, and a weight whose gradient is always 0 (a constant
  feature) steps by 0 / 0 = NaN, as 1e-300 did. At 1 epsilon already
  dominates sqrt(v) for every gradient below 1 (Keras's documentation
  suggests 1.0 or 0.1 for Inception on ImageNet, the largest in use).
- ``dropout`` in [0, 1): at 1 every unit is dropped and the survivors'
  scale 1 / (1 - rate) divides by 0.
- ``std`` (the normal initializer's) in (0, 100]: the named schemes'
  spreads are at most sqrt(2) (He, one input) and the tutorials use 0.01 to
  1; at 100 every sigmoid and tanh unit is saturated for inputs of order 1
  and ReLU activations grow about 100 sqrt(fan_in / 2)-fold per layer,
  overflowing float32 within about a dozen layers; 1e300 gave infinite
  weights.
- ``factor`` (StepDecay) and ``rate`` (ExponentialDecay) in (0, 1]: the
  schedules decay; above 1 the rate grows geometrically until
  lr * factor ** k overflows a float (OverflowError).
- ``every``, ``epochs`` (CosineDecay) and ``warmup`` are whole epoch counts
  up to :data:`MAX_COUNT`.
- ``seed`` in [0, 2**128): numpy recommends 128-bit seeds and its
  SeedSequence pools 128 bits; a longer seed adds nothing but bytes.
- ``l1`` in [0, 1e3], as ``l2``: the penalty l1 sum |w| of a single
  weight of 0.01 already outweighs a loss of order 1 at 1e3.
- ``weight_decay`` (AdamW) in [0, 1e3]: PyTorch's default is 0.01; once
  lr * weight_decay passes 1 the decay w (1 - lr weight_decay) flips every
  weight's sign at each step.
- ``momentum_decay`` (NAdam) in [0, 1]: 0.004 in the paper and PyTorch; at
  1 the momentum already reaches beta1 within a hundred steps.
- ``initial_accumulator_value`` (Adagrad) in [0, 1e3]: 0 in PyTorch, 0.1
  in Keras; it divides the first steps by its square root.
- ``clipNorm``, ``clipValue`` in (0, 1e6]: a gradient beyond 1e6 means
  the training has already diverged, so a larger threshold never clips.
- ``maxNorm`` in (0, 1e3]: Keras suggests 2 to 4; a unit whose incoming
  weights have norm 1e3 saturates on any input of order 1.
- ``max_lr`` (OneCycle) as ``lr``; ``div_factor`` and ``final_div_factor``
  in [1, 1e12]: below 1 the cycle would start or end above max_lr, and
  beyond 1e12 the rate is 0 in all but name. ``pct_start`` in [0, 1]: the
  fraction of the cycle spent rising.
- ``total_steps``, ``steps_per_epoch`` (OneCycle) and ``steps`` (Warmup)
  are whole counts of mini-batches up to :data:`MAX_COUNT`.
"""

import decimal
import math
import numbers
from typing import NamedTuple

import numpy as np


def is_int(value):
    """True for Python and numpy integers, False for booleans."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def positive_int(value, name):
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_float(value):
    """``value`` as a finite Python float, or None when it is not a finite real number.

    Fractions, Decimals and numpy scalars are converted here, at the boundary,
    so nothing below ever mixes them with float arrays (a Fraction times a
    float32 array is an object array; a Decimal cannot be added to a float).
    Booleans are not numbers here.
    """
    if not isinstance(value, (numbers.Real, decimal.Decimal)) or isinstance(value, (bool, np.bool_)):
        return None
    try:
        value = float(value)
    except (ValueError, OverflowError, ArithmeticError):  # a signaling NaN, an integer beyond float range
        return None
    return value if math.isfinite(value) else None


def check_number(value, name, low=None, high=None, low_inclusive=True):
    """``value`` as a float; ValueError unless it is a finite real number in [low, high) (or (low, high)).

    Callers keep the returned float, not the value they passed (see :func:`as_float`).
    """
    number = as_float(value)
    if number is None:
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (number < low or (number == low and not low_inclusive)):
        raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value!r}")
    if high is not None and number >= high:
        raise ValueError(f"{name} must be < {high}, got {value!r}")
    return number


def layer_sizes(units, method):
    """Layer sizes from ``units`` (an int or a list of positive ints) for the error messages of ``method``."""
    sizes = [units] if is_int(units) else units
    if not isinstance(sizes, (list, tuple)) or not sizes:
        raise ValueError(f"{method} takes a list of layer sizes such as [32]; got {units!r}")
    for size in sizes:
        if not is_int(size) or size < 1:
            raise ValueError(f"{method}: units must be positive integers, got {size!r}")
    return [int(s) for s in sizes]


def per_layer(value, count, what):
    """``value`` for each of ``count`` layers: one value for all, or a list or tuple of one per layer."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * count
    if len(values) != count:
        raise ValueError(f"give one {what}, or one per layer: {count} layers but {len(values)} {what}s")
    return values


class Bound(NamedTuple):
    """Where one numeric setting may lie: ``low`` to ``high``, each end open or closed."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    why: str = ""


#: Largest epoch count a schedule takes: 68 years at one epoch a second, far beyond any training run.
MAX_COUNT = 2**31 - 1

#: Every numeric setting of a model, with its range and the reason for the range (quoted in the error).
SETTINGS = {
    "lr": Bound(0, 1e3, low_open=True,
                why="a step would move each weight over a thousand times its gradient: training can only diverge"),
    "decay": Bound(0, 1e3, why="at 1000 the rate is already a thousandth of lr after one epoch"),
    "l2": Bound(0, 1e3, why="at 1000 the penalty outweighs any loss of order 1: the weights can only shrink to 0"),
    "momentum": Bound(0, 1, high_open=True, why="at 1 the velocity never forgets a step and grows without bound"),
    "beta1": Bound(0, 1, high_open=True, why="it is the weight of the past in a moving average"),
    "beta2": Bound(0, 1, high_open=True, why="it is the weight of the past in a moving average"),
    "rho": Bound(0, 1, high_open=True, why="it is the weight of the past in a moving average"),
    "epsilon": Bound(1e-20, 1.0, why="below 1e-20 a float32 step can blow up where the squared gradient underflows "
                                     "to 0; above 1 it swamps every gradient below 1"),
    "dropout": Bound(0, 1, high_open=True, why="a rate of 1 drops every unit"),
    "std": Bound(0, 100, low_open=True, why="at 100 every sigmoid and tanh unit is saturated and ReLU activations "
                                            "overflow float32 within a few layers"),
    "factor": Bound(0, 1, low_open=True, why="a schedule decays: a factor above 1 grows the rate until it overflows"),
    "rate": Bound(0, 1, low_open=True, why="a schedule decays: a rate above 1 grows the rate until it overflows"),
    "min_lr": Bound(0, 1e3, why="it is a learning rate (see lr)"),
    "every": Bound(1, MAX_COUNT, integer=True, why="no training runs that many epochs"),
    "epochs": Bound(1, MAX_COUNT, integer=True, why="no training runs that many epochs"),
    "warmup": Bound(0, MAX_COUNT, integer=True, why="no training runs that many epochs"),
    "seed": Bound(0, 2**128, high_open=True, integer=True,
                  why="numpy's generators take 128 bits of entropy; a longer seed adds nothing"),
    "l1": Bound(0, 1e3, why="at 1000 the penalty outweighs any loss of order 1: the weights can only shrink to 0"),
    "weight_decay": Bound(0, 1e3, why="at 1000 the decay flips every weight's sign at each step at any usual rate"),
    "momentum_decay": Bound(0, 1, why="0.004 is usual; at 1 the momentum reaches beta1 within a hundred steps"),
    "initial_accumulator_value": Bound(0, 1e3, why="it is a starting sum of squared gradients; 0 and 0.1 are usual"),
    "clipNorm": Bound(0, 1e6, low_open=True, why="a gradient that large means training has already diverged"),
    "clipValue": Bound(0, 1e6, low_open=True, why="a gradient that large means training has already diverged"),
    "maxNorm": Bound(0, 1e3, low_open=True, why="a unit with incoming weights of that norm saturates on any input"),
    "max_lr": Bound(0, 1e3, low_open=True, why="it is a learning rate (see lr)"),
    "div_factor": Bound(1, 1e12, why="below 1 the cycle would start above max_lr; beyond 1e12 the rate is 0"),
    "final_div_factor": Bound(1, 1e12, why="below 1 the cycle would end above its start; beyond 1e12 the rate is 0"),
    "pct_start": Bound(0, 1, why="it is the fraction of the cycle spent rising"),
    "total_steps": Bound(1, MAX_COUNT, integer=True, why="no training runs that many mini-batches"),
    "steps_per_epoch": Bound(1, MAX_COUNT, integer=True, why="no training runs that many mini-batches"),
    "steps": Bound(1, MAX_COUNT, integer=True, why="no training runs that many mini-batches"),
}


def check_setting(name, value, label=None):
    """``value`` checked against the bound of setting ``name`` in :data:`SETTINGS`: a float, or an int.

    Every numeric setting is checked here, wherever it enters a model: the
    constructor, ``add*Layer``, assignment to an attribute, ``fromConfig`` and
    the config of a model file; so a value a model refuses in one place it
    refuses in all. Non-numbers (strings, NaN, infinities, booleans) are refused
    as :func:`check_number` refuses them.

    The ranges, and why each is what it is, are in this module's docstring.

    Parameters
    ----------
    name : str
        A key of :data:`SETTINGS`.
    value : object
        What the user or a file gave.
    label : str, optional
        The name in the message (``name`` by default), such as ``"config.lr"``.

    Raises
    ------
    ValueError
        Naming the setting, the range, the value given and the reason.
    """
    bound, label = SETTINGS[name], label or name
    if bound.integer:
        if not is_int(value):
            raise ValueError(f"{label} must be an integer, got {value!r:.80}")
        number = int(value)
    else:
        number = check_number(value, label)
    if number < bound.low or (number == bound.low and bound.low_open):
        raise ValueError(f"{label} must be {'>' if bound.low_open else '>='} {_shown(bound.low)}, got {value!r:.80}")
    if number > bound.high or (number == bound.high and bound.high_open):
        raise ValueError(f"{label} must be {'<' if bound.high_open else '<='} {_shown(bound.high)}, got {value!r:.80} "
                         f"({bound.why})")
    return number


def _shown(limit):
    """A bound as the message shows it: 2**128 rather than its 39 digits."""
    if isinstance(limit, int) and limit > 2**20:
        power = (limit + 1).bit_length() - 1
        return f"2**{power}" if limit == 2**power else f"2**{power} - 1"
    return f"{limit:g}"
