"""Model files: a versioned plain-data payload, written atomically, read safely.

A model file is a pickle whose top object is a dict of builtins containers,
numbers, strings and numeric numpy arrays (see :func:`to_payload`). Reading
goes through :mod:`dnn.safe_pickle`, then checks the payload field by field
against the format, so a file can neither run code nor smuggle in a model
with inconsistent shapes. Every problem with a file raises ModelFileError.
"""

import pickle

import numpy as np

from dnn import safe_pickle
from dnn.errors import ModelFileError
from dnn.model_files import DEFAULT_MAX_BYTES, read_model_bytes, write_atomically
from dnn.recording import RECORD_EVERY, parse_parameter_list
from dnn.version import __version__

FORMAT = "dnn-model"
FORMAT_VERSION = 1
PROTOCOL = 4

TASKS = ("multiclass", "binary", "multilabel", "regression")
HYPERPARAMETERS = ("lr", "decay", "optimizer", "momentum", "nesterov", "l2", "beta1", "beta2", "epsilon")
OPTIMIZER_LISTS = {"sgd": ("velocity",), "adam": ("m", "v")}


# ---------------------------------------------------------------- writing


def to_payload(model):
    """Everything needed to rebuild ``model`` and continue training it exactly."""
    weights, biases = model._parameters()
    layers = range(2, len(model.units) + 1)
    state = model._optimizer_state
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dnn_version": __version__,
        "config": {
            "units": list(model.units),
            "activations": list(model.activations[1:]),
            "loss": model.loss,
            "dtype": str(model.dtype),
            "seed": model.seed,
            "standardize": bool(model.standardize),
            "hyperparameters": {name: _plain(getattr(model, name)) for name in HYPERPARAMETERS},
        },
        "w": dict(zip(layers, weights)),
        "b": dict(zip(layers, biases)),
        # per parameter, in the order w_2, b_2, w_3, b_3, ...: independent of the in-memory layout
        "optimizer_state": {key: model._params.split(value[0]) if isinstance(value, list) else int(value)
                            for key, value in state.items()},
        "rng_state": model._rng.bit_generator.state,
        "epochs": int(model.epochs),
        "feature_names": None if model.feature_names is None else list(model.feature_names),
        "scaler": None if model.feature_mean is None else {"mean": model.feature_mean, "scale": model.feature_scale},
        "task": model.task,
        "classes": None if model.classes is None else model.classes.tolist(),
        "history": {key: [_plain(v) for v in values] for key, values in model.history.items()},
        "parameter_record": {spec: [float(v) for v in values] for spec, values in model.parameterRecord.items()},
        "record_every": model._record_every,
    }


def _plain(value):
    """A Python scalar for a numpy scalar, so the file holds only builtins and arrays."""
    return value.item() if isinstance(value, np.generic) else value


def save(model, path):
    """Write ``model`` to ``path`` atomically."""
    payload = to_payload(model)
    write_atomically(path, lambda f: pickle.dump(payload, f, protocol=PROTOCOL))


# ---------------------------------------------------------------- reading


def load(cls, path, max_bytes=DEFAULT_MAX_BYTES):
    """Read a model file and rebuild the ``cls`` instance it describes; every failure is a ModelFileError."""
    data = read_model_bytes(path, max_bytes)
    try:
        payload = safe_pickle.loads(data)
    except safe_pickle.UnsafePickleError as error:
        raise ModelFileError(f"{path!s} was not loaded and nothing in it ran: {error} (a dnn model file "
                             f"holds only plain data and numeric arrays)") from None
    except Exception as error:  # a malformed pickle can raise nearly anything, MemoryError included
        raise ModelFileError(f"{path!s} is not a readable dnn model file (truncated, corrupt or not a pickle): "
                             f"{_describe(error)}") from None
    try:
        return from_payload(cls, payload)
    except ModelFileError as error:
        raise ModelFileError(f"{path!s}: {error}") from None
    except Exception as error:
        raise ModelFileError(f"{path!s} holds an invalid dnn model: {_describe(error)}") from None


def _describe(error):
    # bounded: a message may quote a value from the file
    text = str(error)
    return f"{type(error).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}"


def from_payload(cls, payload):
    """Check ``payload`` against the format and build the model it describes."""
    _check(type(payload) is dict, "not a dnn model file (its content is not a dnn model description)")
    _check(payload.get("format") == FORMAT, "not a dnn model file (no 'dnn-model' format marker)")
    file_version = payload.get("format_version")
    _check(type(file_version) is int and file_version >= 1, f"unknown format version {file_version!r:.40}")
    _check(file_version <= FORMAT_VERSION,
           f"written by a newer dnn ({payload.get('dnn_version')!s:.20}, format version {file_version}); "
           f"this dnn {__version__} reads format versions up to {FORMAT_VERSION}: upgrade dnn to load it")
    config = _field(payload, "config", dict)
    model = _build(cls, config)
    _restore_parameters(model, payload)
    _restore_training_state(model, payload)
    return model


def _build(cls, config):
    units = _field(config, "units", list)
    _check(len(units) >= 2 and all(type(u) is int and u > 0 for u in units),
           f"config.units must list two or more positive sizes, got {units!r:.80}")
    activations = _field(config, "activations", list)
    _check(len(activations) == len(units) - 1 and all(type(a) is str for a in activations),
           "config.activations must name one activation per layer after the input")
    hyperparameters = _field(config, "hyperparameters", dict)
    _check(set(hyperparameters) == set(HYPERPARAMETERS), "config.hyperparameters has unexpected entries")
    seed = config.get("seed")
    model = cls(**hyperparameters, seed=seed, dtype=_field(config, "dtype", str),
                standardize=_field(config, "standardize", bool))
    model.addInputLayer([units[0]])
    if len(units) > 2:
        model.addHiddenLayer(units[1:-1], activation=activations[:-1])
    model.addOutputLayer([units[-1]], activation=activations[-1], loss=_field(config, "loss", str))
    return model


def _restore_parameters(model, payload):
    layers = list(range(2, len(model.units) + 1))
    for name, store in (("w", model.w), ("b", model.b)):
        arrays = _field(payload, name, dict)
        _check(sorted(arrays) == layers, f"{name} must hold layers {layers}, got keys {sorted(arrays)!r:.60}")
        for layer in layers:
            shape = (model.units[layer - 2], model.units[layer - 1]) if name == "w" else (model.units[layer - 1],)
            store[layer] = _array(arrays[layer], f"{name}[{layer}]", shape, model.dtype)
    model._parameters()
    params = model._params.split(model._params.flat)
    state = _field(payload, "optimizer_state", dict)
    restored = {}
    for key, value in state.items():
        if key == "step" and model.optimizer == "adam":
            _check(type(value) is int and value >= 0, "optimizer_state.step must be a non-negative integer")
            restored[key] = value
            continue
        _check(key in OPTIMIZER_LISTS[model.optimizer], f"unexpected optimizer state {key!r:.40}")
        _check(type(value) is list and len(value) == len(params), f"optimizer_state.{key} has the wrong length")
        arrays = [_array(a, f"optimizer_state.{key}[{i}]", p.shape, model.dtype)
                  for i, (a, p) in enumerate(zip(value, params))]
        restored[key] = [model._params.join(arrays)]
    if model.optimizer == "adam":
        _check(("m" in restored) == ("v" in restored) == ("step" in restored), "incomplete adam state")
    model._optimizer_state = restored


def _restore_training_state(model, payload):
    names = payload.get("feature_names")
    _check(names is None or (type(names) is list and len(names) == model.units[0]
                             and all(type(n) is str for n in names) and len(set(names)) == len(names)),
           f"feature_names must be None or {model.units[0]} distinct strings")
    model.feature_names = names
    scaler = payload.get("scaler")
    if scaler is not None:
        _check(type(scaler) is dict and set(scaler) == {"mean", "scale"}, "scaler must hold 'mean' and 'scale'")
        shape = (model.units[0],)
        model.feature_mean = _array(scaler["mean"], "scaler.mean", shape, model.dtype)
        model.feature_scale = _array(scaler["scale"], "scaler.scale", shape, model.dtype)
        _check(bool((model.feature_scale > 0).all()), "scaler.scale must be positive")
    rng_state = _field(payload, "rng_state", dict)
    _check(rng_state.get("bit_generator") == "PCG64", "rng_state must be a PCG64 state")
    model._rng.bit_generator.state = rng_state
    epochs = payload.get("epochs")
    _check(type(epochs) is int and epochs >= 0, "epochs must be a non-negative integer")
    model.epochs = epochs
    task, classes = payload.get("task"), payload.get("classes")
    _check(task is None or task in TASKS, f"unknown task {task!r:.40}")
    if classes is not None:
        _check(type(classes) is list and classes and len({type(c) for c in classes}) == 1
               and type(classes[0]) in (str, int, float, bool), "classes must be a list of labels of one type")
        _check(task not in (None, "regression"), "classes given for a model without a classification task")
        expected = 2 if task == "binary" else model.units[-1]
        _check(len(classes) == expected, f"{len(classes)} classes for {expected} class outputs")
        classes = np.array(classes)
    _check((task is None) or (task == "regression") == (classes is None), "task and classes disagree")
    model.task, model.classes = task, classes
    history = _field(payload, "history", dict)
    lengths = set()
    for key, values in history.items():
        _check(type(key) is str and type(values) is list
               and all(type(v) in (int, float) for v in values), "history must map names to lists of numbers")
        lengths.add(len(values))
    _check(len(lengths) <= 1, "history lists have different lengths")
    model.history = {key: list(values) for key, values in history.items()}
    record = _field(payload, "parameter_record", dict)
    specs = parse_parameter_list(list(record), model.units)
    _check(all(type(spec) is tuple for spec in record) and specs == list(record),
           "parameter_record keys must be specs such as ('w', 2, 4, 3)")
    for values in record.values():
        _check(type(values) is list and all(type(v) is float for v in values),
               "parameter_record must map specs to lists of floats")
    model.parameterRecord = {spec: list(values) for spec, values in record.items()}
    record_every = payload.get("record_every")
    _check(record_every in RECORD_EVERY, f"record_every must be one of {RECORD_EVERY}")
    model._record_every = record_every


def _field(mapping, key, kind):
    value = mapping.get(key)
    _check(type(value) is kind, f"{key} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _array(value, name, shape, dtype):
    array = safe_pickle.array_of(value)
    _check(array is not None, f"{name} must be a numeric array")
    _check(array.shape == shape, f"{name} has shape {array.shape}, expected {shape}")
    _check(bool(np.isfinite(array).all()), f"{name} holds NaN or infinite values")
    return np.array(array, dtype=dtype, order="C", copy=True)


def _check(condition, message):
    if not condition:
        raise ModelFileError(message)
