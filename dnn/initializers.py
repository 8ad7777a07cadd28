"""Weight initializers, drawn from the model's own numpy Generator.

Every initializer in :data:`INITIALIZERS` is a function
``draw(fan_in, fan_out, rng, dtype, **parameters)`` returning the weights
(fan_in, fan_out) and biases (fan_out,) of a layer. Draws are made in float64
and then cast, so a float32 and a float64 model built with the same seed start
from the same weights up to rounding. Biases start at zero except for
``torch``, which draws them as PyTorch does.

With fan_in and fan_out the layer's input and output units:

- ``he_normal``: N(0, 2 / fan_in), the default for relu and leaky_relu layers;
  ``he_uniform``: U(-r, r) with r = sqrt(6 / fan_in). He et al. (2015).
- ``glorot_normal``: N(0, 2 / (fan_in + fan_out)); ``glorot_uniform``:
  U(-r, r) with r = sqrt(6 / (fan_in + fan_out)), the default for every other
  layer. Glorot and Bengio (2010), "Xavier".
- ``lecun_normal``: N(0, 1 / fan_in); ``lecun_uniform``: U(-r, r) with
  r = sqrt(3 / fan_in). LeCun et al. (1998).
- ``torch``: PyTorch's default for ``nn.Linear`` (kaiming_uniform with
  a = sqrt(5)): weights and biases U(-r, r) with r = 1 / sqrt(fan_in).
- ``normal``: N(0, std^2) with a given standard deviation ``std`` in (0, 100]
  (0.01 unless given), as in the classic tutorials' ``0.01 * randn``.

The normal draws are not truncated (as PyTorch's, unlike Keras's).

An initializer is named by plain data, so a model's configuration can store
it: a string (``"he_uniform"``, any case, or an alias such as ``"xavier"``,
``"kaiming_uniform"``, ``"pytorch"``) or, for ``normal``, the dict
``{"name": "normal", "std": 0.05}`` (the pair ``("normal", 0.05)`` is accepted
too). :func:`canonical` turns any accepted form into the stored one.
"""

import numpy as np

from dnn.checks import as_float, check_setting
from dnn.registry import Registry, is_function

HE_ACTIVATIONS = frozenset({"relu", "leaky_relu"})

#: Standard deviation of ``normal`` when none is given.
DEFAULT_NORMAL_STD = 0.01


def _normal(fan_in, fan_out, rng, dtype, std):
    return (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype), np.zeros(fan_out, dtype=dtype)


def _uniform(fan_in, fan_out, rng, dtype, limit):
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype), np.zeros(fan_out, dtype=dtype)


def he_normal(fan_in, fan_out, rng, dtype):
    """Weights ~ N(0, 2 / fan_in), zero biases."""
    return _normal(fan_in, fan_out, rng, dtype, np.sqrt(2.0 / fan_in))


def he_uniform(fan_in, fan_out, rng, dtype):
    """Weights ~ U(-r, r) with r = sqrt(6 / fan_in), zero biases."""
    return _uniform(fan_in, fan_out, rng, dtype, np.sqrt(6.0 / fan_in))


def glorot_normal(fan_in, fan_out, rng, dtype):
    """Weights ~ N(0, 2 / (fan_in + fan_out)), zero biases."""
    return _normal(fan_in, fan_out, rng, dtype, np.sqrt(2.0 / (fan_in + fan_out)))


def glorot_uniform(fan_in, fan_out, rng, dtype):
    """Weights ~ U(-r, r) with r = sqrt(6 / (fan_in + fan_out)), zero biases."""
    return _uniform(fan_in, fan_out, rng, dtype, np.sqrt(6.0 / (fan_in + fan_out)))


def lecun_normal(fan_in, fan_out, rng, dtype):
    """Weights ~ N(0, 1 / fan_in), zero biases."""
    return _normal(fan_in, fan_out, rng, dtype, np.sqrt(1.0 / fan_in))


def lecun_uniform(fan_in, fan_out, rng, dtype):
    """Weights ~ U(-r, r) with r = sqrt(3 / fan_in), zero biases."""
    return _uniform(fan_in, fan_out, rng, dtype, np.sqrt(3.0 / fan_in))


def torch(fan_in, fan_out, rng, dtype):
    """PyTorch's nn.Linear default: weights and biases ~ U(-r, r) with r = 1 / sqrt(fan_in).

    kaiming_uniform(a=sqrt(5)) gives the weights the bound
    sqrt(6 / ((1 + a^2) fan_in)) = 1 / sqrt(fan_in). Weights are drawn first,
    then biases.
    """
    limit = 1.0 / np.sqrt(fan_in)
    w = rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype)
    return w, rng.uniform(-limit, limit, fan_out).astype(dtype)


def normal(fan_in, fan_out, rng, dtype, std=DEFAULT_NORMAL_STD):
    """Weights ~ N(0, std^2), zero biases."""
    return _normal(fan_in, fan_out, rng, dtype, std)


INITIALIZERS = {
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
    "torch": torch,
    "normal": normal,
}

#: Other spellings users reach for; any case, and "_", "-" or spaces, are accepted besides.
ALIASES = {
    "he_normal": ("he", "kaiming", "kaiming_normal"), "he_uniform": ("kaiming_uniform",),
    "glorot_uniform": ("glorot", "xavier", "xavier_uniform"), "glorot_normal": ("xavier_normal",),
    "lecun_normal": ("lecun",), "torch": ("pytorch",), "normal": ("gaussian",),
}

#: Every initializer by name: ``REGISTRY.get("Xavier")`` is ``glorot_uniform``.
REGISTRY = Registry("initializer", INITIALIZERS, "a function draw(fan_in, fan_out, rng, dtype) -> (w, b)",
                    is_function, aliases=ALIASES,
                    note=" (normal with a standard deviation: {'name': 'normal', 'std': 0.01})")


def canonical(spec):
    """The stored form of an initializer: its registry name, or ``{"name": "normal", "std": s}``; None stays None.

    Raises
    ------
    ValueError
        For an unknown name (with the nearest one suggested), a parameter the
        initializer does not take, or a standard deviation outside (0, 100]
        (see :func:`dnn.checks.check_setting` for why 100).
    """
    if spec is None:
        return None
    if isinstance(spec, tuple) and len(spec) == 2:
        spec = {"name": spec[0], "std": spec[1]}
    if isinstance(spec, dict):
        if "name" not in spec or set(spec) - {"name", "std"}:
            raise ValueError(f"an initializer given as a dict is {{'name': 'normal', 'std': 0.01}}, got {spec!r}")
        name = REGISTRY.canonical(spec["name"])
        if name != "normal" and "std" in spec:
            raise ValueError(f"the {name} initializer takes no standard deviation; only 'normal' does")
        if name != "normal":
            return name
        std = spec.get("std", DEFAULT_NORMAL_STD)
        if not (as_float(std) or 0) > 0:
            raise ValueError(f"the standard deviation of the normal initializer must be a positive number, "
                             f"got {std!r:.80}")
        return {"name": "normal", "std": check_setting("std", std, "the standard deviation of the normal initializer")}
    name = REGISTRY.canonical(spec)
    return {"name": "normal", "std": DEFAULT_NORMAL_STD} if name == "normal" else name


def resolve(spec, activation):
    """The initializer a layer with ``activation`` gets: ``spec`` (canonical) or, when None, the default.

    The default is he_normal for the ReLU family and glorot_uniform otherwise.
    """
    if spec is not None:
        return spec
    return "he_normal" if activation in HE_ACTIVATIONS else "glorot_uniform"


def draw(spec, fan_in, fan_out, rng, dtype):
    """Weights (fan_in, fan_out) and biases (fan_out,) from a canonical ``spec``."""
    if isinstance(spec, dict):
        return normal(fan_in, fan_out, rng, dtype, spec["std"])
    return INITIALIZERS[spec](fan_in, fan_out, rng, dtype)


def initial_weights(activation, fan_in, fan_out, rng, dtype, initializer=None):
    """Weights and biases for a layer with the given activation (and initializer, if given).

    Returns
    -------
    w : ndarray, shape (fan_in, fan_out)
    b : ndarray, shape (fan_out,)
    """
    return draw(resolve(canonical(initializer), activation), fan_in, fan_out, rng, dtype)
