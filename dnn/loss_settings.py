"""A loss as a model names it: its name and settings, the output activations it follows, losses of your own.

A loss is named by plain data, as an initializer is, so a model's configuration and file can store it: a string
(``"huber"``, any case, or an alias such as ``"mae"``, ``"bce"``, ``"focal"``) or a dict of the name and settings,
``{"name": "huber", "delta": 0.5}``. The settings:

- ``label_smoothing`` in [0, 1] for the two cross-entropies (0: none);
- ``delta`` in (0, 1e6] for ``huber`` (1 unless given);
- ``gamma`` in [0, 100] (2 unless given) and ``alpha`` in [0, 1] (none unless given) for the focal losses.

:func:`canonical` turns any accepted form into the stored one: the name, or a dict of the name and the settings.
A setting whose default turns it off (``label_smoothing`` 0, no ``alpha``) is left out at its default;
``delta`` and ``gamma`` are always stored, as the normal initializer's ``std`` is. So every model of the three
original losses keeps its loss as the plain name.

:func:`output_loss` decides which losses an output activation takes (:data:`COMPATIBLE_LOSSES`), and says why a
pairing is refused; :func:`register` adds a loss of your own after checking its gradient against the loss.
"""

from functools import partial

import numpy as np

from dnn.checks import check_number
from dnn.loss_functions import REGISTRY
from dnn.registry import compact

#: The settings each loss takes, with their defaults.
SETTINGS = {
    "categorical_crossentropy": {"label_smoothing": 0.0},
    "binary_crossentropy": {"label_smoothing": 0.0},
    "huber": {"delta": 1.0},
    "binary_focal": {"gamma": 2.0, "alpha": None},
    "categorical_focal": {"gamma": 2.0, "alpha": None},
}

#: Settings whose default turns them off: a loss stores them only when they are on.
OFF_BY_DEFAULT = frozenset({"label_smoothing", "alpha"})

#: Where each setting may lie: (low, high, low_open), and why the ceiling (or the range) is where it is.
BOUNDS = {
    "label_smoothing": (0.0, 1.0, False, "it is the share of every target moved to the uniform distribution"),
    "delta": (0.0, 1e6, True, "above, the loss is the squared error for every residual a model can reach"),
    "gamma": (0.0, 100.0, False, "at 100, (1 - p)^gamma is below 1e-9 for every p above 0.2: nothing is learned"),
    "alpha": (0.0, 1.0, False, "it is the weight of the positive class, 1 - alpha that of the negative"),
}

#: The loss an output activation gets when none is named.
DEFAULT_LOSS = {
    "softmax": "categorical_crossentropy",
    "sigmoid": "binary_crossentropy",
    "identity": "squared_error",
    "step": "squared_error",
}

#: The losses each output activation takes, its default first. Those that take probabilities (cross-entropies,
#: focal) or positive rates (poisson) refuse the identity output, whose outputs can be any number.
COMPATIBLE_LOSSES = {
    "softmax": ("categorical_crossentropy", "binary_crossentropy", "squared_error", "categorical_focal",
                "binary_focal", "huber", "absolute_error", "poisson"),
    "sigmoid": ("binary_crossentropy", "categorical_crossentropy", "squared_error", "binary_focal",
                "categorical_focal", "huber", "absolute_error", "poisson"),
    "identity": ("squared_error", "huber", "absolute_error"),
    # step's outputs are 0 or 1 and it is never trained: the loss only scores a hand-set network.
    "step": ("squared_error", "huber", "absolute_error"),
}

#: What a built-in loss needs of the outputs, for the message refusing a pairing.
NEEDS = {
    "categorical_crossentropy": "probabilities", "binary_crossentropy": "probabilities",
    "binary_focal": "probabilities", "categorical_focal": "probabilities",
    "poisson": "positive rates (it takes log p)",
}

#: Canonical pairs: the delta at the output pre-activation is exactly p - y (y smoothed when label smoothing is on).
FUSED_PAIRS = frozenset(pair for pair in DEFAULT_LOSS.items() if pair[0] != "step")

#: The registration check's tolerance: the largest relative error of the gradient against central differences.
REGISTER_TOLERANCE = 1e-4


def canonical(spec):
    """The stored form of a loss: its registry name, or ``{"name": name, **settings}``.

    Raises
    ------
    ValueError
        For an unknown name (with the nearest one suggested), a dict without a name, a setting the loss does not
        take, or a setting's value outside its range.
    """
    name, given = _name_and_settings(spec)
    return _stored(REGISTRY.canonical(name), given)


def _name_and_settings(spec):
    """The name and the settings (a dict) a loss spec gives, before any check of the name."""
    if isinstance(spec, dict):
        if not isinstance(spec.get("name"), str):
            raise ValueError(f"a loss given as a dict is {{'name': 'huber', 'delta': 0.5}}, got {spec!r:.120}")
        return spec["name"], {key: value for key, value in spec.items() if key != "name"}
    if isinstance(spec, str):
        return spec, {}
    raise ValueError(f"a loss is a name such as 'huber' or a dict of its name and settings such as "
                     f"{{'name': 'huber', 'delta': 0.5}}, got {spec!r:.120}")


def _stored(name, given):
    """The stored form of the loss ``name`` (canonical) with the settings ``given``, each checked."""
    takes = SETTINGS.get(name, {})
    unknown = [key for key in given if key not in takes]
    if unknown:
        offer = f"takes {', '.join(takes)}" if takes else "takes no settings"
        raise ValueError(f"the {name} loss {offer}; got {', '.join(map(repr, unknown))}")
    settings = {key: _checked(name, key, given.get(key, default)) for key, default in takes.items()}
    kept = {key: value for key, value in settings.items() if not (key in OFF_BY_DEFAULT and value == takes[key])}
    return {"name": name, **kept} if kept else name


def _checked(name, key, value):
    """A setting's value as a Python float (None for an alpha not given), checked against :data:`BOUNDS`."""
    if value is None and key == "alpha":
        return None
    low, high, low_open, why = BOUNDS[key]
    label = f"{key} (of the {name} loss)"
    number = check_number(value, label)
    if number < low or (low_open and number == low):
        raise ValueError(f"{label} must be {'>' if low_open else '>='} {low:g}, got {value!r:.80}")
    if number > high:
        raise ValueError(f"{label} must be <= {high:g}, got {value!r:.80} ({why})")
    return number


def parts(spec):
    """``(name, settings)`` of a stored loss: the settings a dict, empty for a name."""
    if isinstance(spec, dict):
        return spec["name"], {key: value for key, value in spec.items() if key != "name"}
    return spec, {}


def functions(spec):
    """The ``(loss, gradient)`` pair of a loss name or spec, its settings bound (checked for a dict)."""
    if not isinstance(spec, dict):
        return REGISTRY.get(spec)
    name, settings = parts(canonical(spec))
    loss, gradient = REGISTRY.get(name)
    if not settings:
        return loss, gradient
    return partial(loss, **settings), partial(gradient, **settings)


def output_loss(activation, spec):
    """The stored loss of an output layer with the (checked) ``activation``: ``spec``, or the activation's default.

    The one place that decides which losses follow which output activation. "focal" after a softmax is the
    categorical focal loss, after a sigmoid the binary one.

    Raises
    ------
    ValueError
        For a loss that cannot follow ``activation`` (saying what it needs and listing those that can), an
        unknown name (a loss of your own is registered before a model using it is built or loaded), or a bad
        setting (see :func:`canonical`).
    """
    valid = COMPATIBLE_LOSSES.get(activation, ())
    if spec is None:
        if activation not in DEFAULT_LOSS:
            raise ValueError(f"a {activation} output has no default loss; name one of {', '.join(valid) or 'none'}")
        return DEFAULT_LOSS[activation]
    name, given = _name_and_settings(spec)
    if activation == "softmax" and compact(name) == "focal":
        name = "categorical_focal"
    found = REGISTRY.lookup(name)
    if found is None:
        try:
            REGISTRY.canonical(name)
        except ValueError as error:
            # The registry's message (the nearest name, the valid ones) with a hint for losses of your own before
            # the long list, so that a model file's shortened message keeps it.
            head, valid, names = str(error).partition("valid names: ")
            raise ValueError(f"{head}losses of your own are registered with dnn.losses.register before a model using "
                             f"them is built or loaded; {valid}{names}") from None
    name = found
    if name not in valid:
        needs = NEEDS.get(name)
        reason = (f"needs {needs} and cannot follow {activation} outputs" if needs else
                  f"is registered for {', '.join(a for a, names in COMPATIBLE_LOSSES.items() if name in names)} "
                  f"outputs only, not {activation}")
        raise ValueError(f"loss {name!r} {reason}; use one of {', '.join(valid)}")
    return _stored(name, given)


def register(name, loss, gradient, outputs=None, aliases=()):
    """Add a loss of your own under ``name``, after checking ``gradient`` against ``loss`` numerically.

    The loss then works everywhere a built-in one does (``addOutputLayer(loss=name)``, fit, gradientCheck,
    summary, getConfig); a model file records it by name only, so register it again before loading such a
    file. Registering a name again replaces that loss (a notebook cell may run twice).

    Parameters
    ----------
    name : str
        The name models store.
    loss : callable
        ``loss(p, y)``: p the outputs and y the targets, float arrays (n, k); returns the per-sample losses,
        shape (n,) (dnn's loss is their mean over the samples).
    gradient : callable
        ``gradient(p, y)``: d loss_i / d p_i, shaped like p.
    outputs : sequence of str, optional
        The output activations the loss may follow (of softmax, sigmoid, identity, step); all by default.
    aliases : sequence of str
        Other spellings of ``name``.

    Raises
    ------
    TypeError
        When ``loss`` or ``gradient`` is not callable.
    ValueError
        When the gradient does not match central differences of the loss (relative error above 1e-4 at
        outputs p in (0.1, 0.9) and one-hot targets, in float64), the functions return arrays of other shapes
        or non-finite values, or for a name that is a built-in loss or spells another one, or an unknown output.
    """
    if not (callable(loss) and callable(gradient)):
        raise TypeError(f"a loss is registered as two functions, loss(p, y) and gradient(p, y); got {loss!r:.80} "
                        f"and {gradient!r:.80}")
    taken = REGISTRY.lookup(name) if isinstance(name, str) else None
    if taken in REGISTRY.builtins:
        raise ValueError(f"{name!r} names the built-in loss {taken!r}; register yours under another name")
    outputs = _outputs(outputs)
    check_gradient(name, loss, gradient)
    REGISTRY.register(name, (loss, gradient), aliases)
    for activation, names in COMPATIBLE_LOSSES.items():
        kept = tuple(other for other in names if other != name)
        COMPATIBLE_LOSSES[activation] = (*kept, name) if activation in outputs else kept
    return loss, gradient


def _outputs(outputs):
    """The output activations a registered loss may follow: checked names, all of them by default."""
    if outputs is None:
        return tuple(COMPATIBLE_LOSSES)
    outputs = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    unknown = [output for output in outputs if output not in COMPATIBLE_LOSSES]
    if unknown or not outputs:
        raise ValueError(f"outputs names output activations, some of {', '.join(COMPATIBLE_LOSSES)}; "
                         f"got {outputs!r:.120}")
    return outputs


def check_gradient(name, loss, gradient, n=4, k=3):
    """Raise ValueError unless ``gradient(p, y)`` is d loss_i / d p_i of ``loss(p, y)``, by central differences.

    Outputs p are drawn in (0.1, 0.9) and targets are one-hot rows, in float64 (from a generator of its own):
    no kink of |p - y| or clipping of p lies near them.
    """
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 0.9, (n, k))
    y = np.eye(k)[rng.integers(0, k, n)]
    _called(name, "loss function", loss, p, y, (n,))
    analytic = _called(name, "gradient function", gradient, p, y, (n, k))
    step, numeric = 1e-5, np.empty_like(p)
    for i in np.ndindex(p.shape):
        shifted = p.copy()
        shifted[i] += step
        above = float(np.sum(loss(shifted, y.copy())))
        shifted[i] -= 2 * step
        numeric[i] = (above - float(np.sum(loss(shifted, y.copy())))) / (2 * step)
    error = np.abs(analytic - numeric) / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1e-5)
    worst = np.unravel_index(np.argmax(error), error.shape)
    if not error[worst] <= REGISTER_TOLERANCE:
        raise ValueError(f"the gradient of the loss {name!r} does not match the loss: at p = {p[worst]:.4g}, "
                         f"y = {y[worst]:g} (sample {worst[0]}, output {worst[1]}) central differences of the loss "
                         f"give {numeric[worst]:.6g} but the gradient gives {analytic[worst]:.6g} (relative error "
                         f"{error[worst]:.2g}, at most {REGISTER_TOLERANCE:g}); gradient(p, y) returns "
                         f"d loss_i / d p_i of the per-sample losses loss(p, y), shaped like p (of each sample's "
                         f"loss, not of their mean)")


def _called(name, part, function, p, y, shape):
    """``function(p, y)`` on copies, as a float64 array; ValueError unless it has ``shape`` and finite values."""
    try:
        result = np.asarray(function(p.copy(), y.copy()), dtype=np.float64)
    except Exception as error:
        raise ValueError(f"calling the {part} of the loss {name!r} on p and y of shape {p.shape} raised "
                         f"{type(error).__name__}: {str(error)[:200]}") from error
    if result.shape != shape or not np.isfinite(result).all():
        what = "one finite value per sample" if part == "loss function" else "finite values shaped like p"
        raise ValueError(f"the {part} of the loss {name!r} must return {what}, shape {shape} for p of shape "
                         f"{p.shape}; got shape {result.shape}"
                         f"{'' if result.shape != shape else ' with non-finite values'}")
    return result
