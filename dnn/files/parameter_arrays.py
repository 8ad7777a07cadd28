"""The parameter arrays of a model file: checked against the layers its config declares, then copied into the model.

A payload holds ``w`` and ``b`` (``{layer: array}`` for layers 2..L) and, for a network with normalized layers,
``normalization``: ``{name: {layer: array}}`` for ``gamma``, ``beta`` (every normalized layer) and
``running_mean``, ``running_var`` (batch normalization), absent in files of networks without any (and in files
from before normalization). Also the checks every part of the reader shares: a failed one raises ModelFileError.
"""

import math

import numpy as np

from dnn.engine.state import DTYPES
from dnn.errors import ModelFileError
from dnn.files import safe_pickle
from dnn.model.layer_arrays import LayerArrays
from dnn.model.layers import NORMALIZATION_ARRAYS

#: The payload entries of the normalization arrays, under ``payload["normalization"]``.
NORMALIZED = ("gamma", "beta", "running_mean", "running_var")


def payload_arrays(params):
    """The arrays of a complete store ``params`` as a payload holds them (see the module docstring)."""
    weights, biases = params.complete_views()
    layers = range(2, len(weights) + 2)
    arrays = {"w": dict(zip(layers, weights)), "b": dict(zip(layers, biases))}
    normalization = {name: params.arrays(name) for name in NORMALIZED if params.arrays(name)}
    if normalization:
        arrays["normalization"] = normalization
    return arrays


def layer_units(config):
    """The layer sizes of a config, after checking they are two or more positive integers."""
    layers = field(config, "layers", list)
    check(len(layers) >= 2 and all(type(layer) is dict and type(layer.get("units")) is int and layer["units"] > 0
                                   for layer in layers),
          "config.layers must list two or more layers of positive sizes")
    return [layer["units"] for layer in layers]


def _declared_shapes(config, units):
    """``{name: {layer: shape}}`` of every array that config.layers declares."""
    layers = range(2, len(units) + 1)
    shapes = {"w": {k: (units[k - 2], units[k - 1]) for k in layers}, "b": {k: (units[k - 1],) for k in layers}}
    kinds = [layer.get("normalization") for layer in config["layers"]]
    for kind in kinds:
        check(kind is None or (type(kind) is str and kind in NORMALIZATION_ARRAYS),
              f"config.layers: normalization must be None, 'batch' or 'layer', got {kind!r:.40}")
    for name in NORMALIZED:
        shapes[name] = {k: (units[k - 1],) for k in layers if name in NORMALIZATION_ARRAYS.get(kinds[k - 1], ())}
    return shapes


def _stored(payload, name):
    """The ``{layer: array}`` entry of ``name`` in a payload (``{}`` for normalization arrays it lacks)."""
    if name in ("w", "b"):
        return field(payload, name, dict)
    normalization = payload.get("normalization", {})
    check(type(normalization) is dict and set(normalization) <= set(NORMALIZED),
          f"normalization must map some of {', '.join(NORMALIZED)} to arrays per layer")
    arrays = normalization.get(name, {})
    check(type(arrays) is dict, f"normalization.{name} must be a dict")
    return arrays


def check_architecture(config, payload, file_size):
    """Refuse a config whose layers are not those of the payload's arrays (see :func:`from_payload`)."""
    units = layer_units(config)
    for name, shapes in _declared_shapes(config, units).items():
        arrays = _stored(payload, name)
        check(set(arrays) == set(shapes), f"{name} must hold layers {sorted(shapes)}, as config.layers declares")
        for layer, shape in sorted(shapes.items()):
            array = safe_pickle.array_of(arrays[layer])
            check(array is not None, f"{name}[{layer}] must be a numeric array")
            check(array.shape == shape, f"{name}[{layer}] has shape {array.shape}, expected {shape} (config.layers)")
    dtype = config.get("dtype")
    check(dtype in DTYPES, f"config.dtype must be one of {', '.join(DTYPES)}")
    # saveModel writes the parameters in the model's dtype: they take at least this much of the file
    size = sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(units, units[1:])) * np.dtype(dtype).itemsize
    check(file_size is None or size <= file_size,
          f"config.layers declare {size} bytes of {dtype} parameters, more than the whole file ({file_size} bytes)")


def restore_parameters(model, payload):
    """Copy the payload's arrays (checked by :func:`check_architecture`) and optimizer state into ``model``."""
    params = model.state.params
    for name in ("w", "b", *NORMALIZED):
        store, stored = LayerArrays(params, name), _stored(payload, name)
        for layer in store:
            array = safe_pickle.array_of(stored[layer])  # numeric, of the declared shape (check_architecture)
            check(name != "running_var" or not (array < 0).any(), f"{name}[{layer}] holds negative variances")
            try:  # converted into the one store
                store[layer] = array
            except ValueError:  # what is left to refuse: values the model's dtype cannot hold
                raise ModelFileError(f"{name}[{layer}] holds NaN or infinite values (in the model's "
                                     f"{model.dtype})") from None
    _restore_optimizer_state(model, payload)


def _restore_optimizer_state(model, payload):
    params = model.state.params
    shapes = [a.shape for a in params.split(params.flat)]
    optimizer = model.state.optimizer
    expected = optimizer.initial_state(params.flat[:0])  # the keys and kinds, without allocating
    restored = {}
    for key, value in field(payload, "optimizer_state", dict).items():
        check(key in expected, f"unexpected {optimizer.name} optimizer state")
        if not isinstance(expected[key], np.ndarray):  # a step count (int) or a running product (float)
            kind = type(expected[key])
            check(type(value) is kind and 0 <= value < math.inf,
                  f"optimizer_state.{key} must be a non-negative {'integer' if kind is int else 'number'}")
            restored[key] = value
            continue
        check(type(value) is list and len(value) == len(shapes), f"optimizer_state.{key} has the wrong length")
        arrays = [array(a, f"optimizer_state.{key}[{i}]", shape, model.dtype)
                  for i, (a, shape) in enumerate(zip(value, shapes))]
        restored[key] = params.join(arrays)
    check(not restored or set(restored) == set(expected), f"incomplete {optimizer.name} state")
    optimizer.state = restored


def field(mapping, key, kind):
    """``mapping[key]``, once it is of type ``kind``."""
    value = mapping.get(key)
    check(type(value) is kind, f"{key} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def array(value, name, shape, dtype):
    """``value`` as a C-contiguous array of ``shape`` in ``dtype``, once it is numeric and finite there."""
    checked = safe_pickle.array_of(value)
    check(checked is not None, f"{name} must be a numeric array")
    check(checked.shape == shape, f"{name} has shape {checked.shape}, expected {shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        checked = np.array(checked, dtype=dtype, order="C", copy=True)
    # Checked after the cast: a float64 1e300 is finite in the file and infinite in a float32 model.
    check(bool(np.isfinite(checked).all()), f"{name} holds NaN or infinite values (in the model's {dtype})")
    return checked


def check(condition, message):
    """Raise ModelFileError with ``message`` unless ``condition``."""
    if not condition:
        raise ModelFileError(message)
