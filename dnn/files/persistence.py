"""Model files: a versioned plain-data payload, written atomically, read safely.

Format 2 (written now): a pickle of ``{"format", "format_version": 2,
"dnn_version", "sha256", "payload"}`` where ``payload`` is the pickled
description of the model (see :func:`to_payload`: the config of ``getConfig``,
the arrays and the training state) and ``sha256`` its digest, so a file
damaged anywhere is refused instead of loading different weights. Format 3 is
format 2 with normalization arrays (see :mod:`dnn.files.parameter_arrays`),
written for the models with a normalized layer only: a dnn that reads up to
format 2 refuses such a file instead of loading the network without its
normalization. Format 1 (the payload dict alone, with its own config layout)
still loads.

Both levels are plain dicts of builtins containers, numbers, strings and
numeric numpy arrays, read through :mod:`dnn.files.safe_pickle`; the payload is then
checked field by field, so a file can neither run code nor smuggle in a model
with inconsistent shapes. Every problem with a file raises ModelFileError.
"""

import hashlib
import pickle

import numpy as np

from dnn.data.tasks import BINARY, TASKS
from dnn.devices import is_array, to_numpy
from dnn.engine.recording import RECORD_EVERY, parse_parameter_list
from dnn.errors import ModelFileError
from dnn.files import components, safe_pickle
from dnn.files.disk import DEFAULT_MAX_BYTES, read_model_bytes, text_hint, write_atomically
from dnn.files.parameter_arrays import (
    array,
    check,
    check_architecture,
    field,
    layer_units,
    payload_arrays,
    restore_parameters,
)
from dnn.version import __version__

FORMAT = "dnn-model"
#: The newest format this dnn reads and writes (see :func:`written_version`).
FORMAT_VERSION = 3
PROTOCOL = 4

#: The entries of a format 2 file's top object.
ENVELOPE_KEYS = frozenset({"format", "format_version", "dnn_version", "sha256", "payload"})

#: The hyperparameters of a format 1 file's config.
V1_HYPERPARAMETERS = ("lr", "decay", "optimizer", "momentum", "nesterov", "l2", "beta1", "beta2", "epsilon")


# ---------------------------------------------------------------- writing


def to_payload(model):
    """Everything needed to rebuild ``model`` and continue training it exactly."""
    state = model.state
    split = state.params.split
    return {
        "config": _plain(model.getConfig()),
        **payload_arrays(state.params.to_host()),  # w, b and any normalization arrays, numpy's on any device
        # per parameter, in the order w_2, b_2 (gamma_2, beta_2), w_3, ...: independent of the in-memory layout
        "optimizer_state": {key: split(to_numpy(value)) if is_array(value) else _plain(value)
                            for key, value in state.optimizer.state.items()},
        "rng_state": state.rng.bit_generator.state,
        "epochs": int(state.epochs),
        "steps": int(state.steps),  # optional (absent in older files): the mini-batches trained
        "lr_factor": float(state.lr_factor),
        "feature_names": None if model.feature_names is None else list(model.feature_names),
        "scaler": None if model.feature_mean is None else {"mean": model.feature_mean, "scale": model.feature_scale},
        "task": None if model.task is None else model.task.name,
        "classes": None if model.classes is None else model.classes.tolist(),
        "history": {key: [_plain(v) for v in values] for key, values in state.history.items()},
        "parameter_record": {spec: [float(v) for v in values] for spec, values in state.parameter_record.items()},
        "record_every": state.record_every,
        # optional (absent in older format-2 files): the rows validationSplit holds out
        "validation_split": None if state.validation_split is None else {
            "fraction": float(state.validation_split["fraction"]), "rows": int(state.validation_split["rows"]),
            "validation": np.asarray(state.validation_split["validation"], dtype=np.int64)},
    }


def _plain(value):
    """Builtins for numpy scalars, also inside dicts and lists, so the file holds only builtins and arrays."""
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def save(model, path):
    """Write ``model`` to ``path`` atomically, as a format 2 file.

    Raises
    ------
    ValueError
        Before anything on disk is touched, for a model whose file
        :func:`load` could not read back (see :func:`require_loadable`).
    """
    require_loadable(model)
    content = envelope(to_payload(model))
    write_atomically(path, lambda f: pickle.dump(content, f, protocol=PROTOCOL))


def require_loadable(model):
    """Raise ValueError unless :func:`load` could read a file of ``model`` back: never write one it cannot.

    Its optimizer and schedule must be registered by name (see
    :mod:`dnn.files.components`), its config plain data that the loader builds.
    """
    components.require_registered(model)
    config = _plain(model.getConfig())
    try:  # plain data, as the loader reads it, built as the loader builds it
        safe_pickle.loads(pickle.dumps(config, protocol=PROTOCOL))
        _build(type(model), config, initialize=False)
    except ValueError as error:  # ModelFileError included
        raise ValueError(f"cannot save this model: importModel would refuse its settings ({error})") from None
    except Exception as error:  # what the pickler or the reader refuses
        raise ValueError(f"cannot save this model: its settings are not all plain data ({_describe(error)})") from None


def written_version(payload):
    """The format a payload is written in: 3 when it holds normalization arrays, which a reader of format 2 would
    leave out without a word; 2 otherwise, so that the files of other models still load in earlier versions."""
    return 3 if "normalization" in payload else 2


def envelope(payload, protocol=PROTOCOL, format=FORMAT, format_version=None):
    """The top object of a model file: ``payload`` (a dict from :func:`to_payload`) pickled, and its SHA-256.

    ``format_version`` defaults to :func:`written_version`.
    """
    format_version = written_version(payload) if format_version is None else format_version
    inner = pickle.dumps(payload, protocol=protocol)
    return {"format": format, "format_version": format_version, "dnn_version": __version__,
            "sha256": hashlib.sha256(inner).hexdigest(), "payload": inner}


def file_bytes(payload, protocol=PROTOCOL, format=FORMAT, format_version=None):
    """The bytes of a model file holding ``payload``."""
    return pickle.dumps(envelope(payload, protocol, format, format_version), protocol=protocol)


# ---------------------------------------------------------------- reading


def load(cls, path, max_bytes=DEFAULT_MAX_BYTES):
    """Read a model file and rebuild the ``cls`` instance it describes; every failure is a ModelFileError."""
    data = read_model_bytes(path, max_bytes)
    try:
        payload = _unwrap(data)
    except ModelFileError as error:
        raise ModelFileError(f"{path!s}: {error}") from None
    except safe_pickle.TrailingDataError as error:
        raise ModelFileError(f"{path!s} was changed or damaged after it was written: it goes on for {error.count} "
                             f"byte{'s' if error.count != 1 else ''} past the end of the model data (a model file "
                             f"ends where its data ends). Nothing in it ran.") from None
    except safe_pickle.UnsafePickleError as error:
        raise ModelFileError(f"{path!s} was not loaded and nothing in it ran: {error} (a dnn model file "
                             f"holds only plain data and numeric arrays)") from None
    except Exception as error:  # a malformed pickle can raise nearly anything, MemoryError included
        # plain words for the user; what the reader stumbled on stays in the exception's cause
        raise ModelFileError(f"{path!s} is not a readable dnn model file: it is another kind of file"
                             f"{text_hint(data)}, or a model file that is damaged (cut short or changed). "
                             f"Nothing in it ran.") from error
    try:
        return from_payload(cls, payload, len(data))
    except ModelFileError as error:
        raise ModelFileError(f"{path!s}: {error}") from None
    except Exception as error:
        raise ModelFileError(f"{path!s} holds an invalid dnn model: {_describe(error)}") from None


def _describe(error):
    # bounded: a message may quote a value from the file
    text = str(error)
    return f"{type(error).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}"


def _unwrap(data):
    """The payload of a file's bytes: format 2 checked against its digest; a format 1 file is its own payload."""
    envelope = safe_pickle.loads(data)
    check(type(envelope) is dict, "not a dnn model file (its content is not a dnn model description)")
    check(envelope.get("format") == FORMAT, "not a dnn model file (no 'dnn-model' format marker)")
    version = envelope.get("format_version")
    check(type(version) is int and version >= 1, "unknown format version")
    check(version <= FORMAT_VERSION,
           f"written by a newer dnn ({envelope.get('dnn_version')!s:.20}, format version {version}); "
           f"this dnn {__version__} reads format versions up to {FORMAT_VERSION}: upgrade dnn to load it")
    if version == 1:
        return envelope
    # The digest covers the payload; the rest of the file must be this exact header (and no bytes after it).
    check(set(envelope) == ENVELOPE_KEYS and type(envelope["dnn_version"]) is str
           and len(envelope["dnn_version"]) <= 40, "the file's header was changed after the file was written")
    payload, digest = envelope.get("payload"), envelope.get("sha256")
    check(type(payload) is bytes and type(digest) is str, "the file has no payload or no checksum")
    check(hashlib.sha256(payload).hexdigest() == digest,
           "the checksum does not match: the file is damaged or was changed after it was written")
    content = safe_pickle.loads(payload)
    check(type(content) is dict, "its payload is not a dnn model description")
    return {**content, "format_version": version}


def from_payload(cls, payload, file_size=None):
    """Check a payload (see :func:`to_payload`) against the format and build the model it describes.

    The declared layers are checked against the arrays already read (and the
    parameter count against ``file_size``) before the model is built, without
    initial weights: a small file cannot make loading allocate gigabytes.
    """
    config = field(payload, "config", dict)
    config = config if payload["format_version"] >= 2 else _config_from_v1(config)
    check_architecture(config, payload, file_size)
    model = _build(cls, config, initialize=False)
    restore_parameters(model, payload)
    _restore_training_state(model, payload)
    return model


def _config_from_v1(config):
    """A format 1 config (units, activations and a flat dict of hyperparameters) in getConfig's layout."""
    units = field(config, "units", list)
    activations = field(config, "activations", list)
    check(len(activations) == len(units) - 1, "config.activations must name one activation per layer after the input")
    settings = field(config, "hyperparameters", dict)
    check(set(settings) == set(V1_HYPERPARAMETERS), "config.hyperparameters has unexpected entries")
    name = settings["optimizer"]
    optimizer = ({"name": name, "momentum": settings["momentum"], "nesterov": settings["nesterov"]} if name == "sgd"
                 else {"name": name, "beta1": settings["beta1"], "beta2": settings["beta2"],
                       "epsilon": settings["epsilon"]})
    layers = [{"units": units[0]}] + [{"units": u, "activation": a, "dropout": 0.0}
                                      for u, a in zip(units[1:], activations)]
    return {"layers": layers, "loss": config.get("loss"), "optimizer": optimizer, "lr": settings["lr"],
            "decay": settings["decay"], "l2": settings["l2"], "seed": config.get("seed"),
            "dtype": config.get("dtype"), "standardize": config.get("standardize"), "threads": None}


def _build(cls, config, initialize=True):
    layer_units(config)
    check(all(type(layer.get("activation")) is str for layer in config["layers"][1:]),
           "config.layers must name one activation per layer after the input")
    check(type(config.get("lr")) in (int, float, dict), "config.lr must be a number or a schedule")
    check(type(config.get("optimizer")) is dict, "config.optimizer must describe an optimizer")
    check(type(config.get("dtype")) is str and type(config.get("standardize")) is bool,
           "config.dtype must be a name and config.standardize a bool")
    components.require_named(config)
    return cls.fromConfig(config, initialize=initialize)


def _restore_training_state(model, payload):
    names = payload.get("feature_names")
    check(names is None or (type(names) is list and len(names) == model.units[0]
                             and all(type(n) is str for n in names) and len(set(names)) == len(names)),
           f"feature_names must be None or {model.units[0]} distinct strings")
    model.feature_names = names
    scaler = payload.get("scaler")
    if scaler is not None:
        check(type(scaler) is dict and set(scaler) == {"mean", "scale"}, "scaler must hold 'mean' and 'scale'")
        shape = (model.units[0],)
        model.feature_mean = array(scaler["mean"], "scaler.mean", shape, model.dtype)
        model.feature_scale = array(scaler["scale"], "scaler.scale", shape, model.dtype)
        check(bool((model.feature_scale > 0).all()), "scaler.scale must be positive")
    state = model.state
    rng_state = field(payload, "rng_state", dict)
    check(rng_state.get("bit_generator") == "PCG64", "rng_state must be a PCG64 state")
    state.rng.bit_generator.state = rng_state
    epochs = payload.get("epochs")
    check(type(epochs) is int and epochs >= 0, "epochs must be a non-negative integer")
    state.epochs = epochs
    state.steps = payload.get("steps", 0)  # absent in files from before steps were counted
    check(type(state.steps) is int and state.steps >= 0, "steps must be a non-negative integer")
    lr_factor = payload.get("lr_factor", 1.0)
    check(type(lr_factor) is float and 0 < lr_factor <= 1, "lr_factor must be a number in (0, 1]")
    state.lr_factor = lr_factor
    model.task, model.classes = _task_and_classes(model, payload)
    history = field(payload, "history", dict)
    lengths = set()
    for key, values in history.items():
        check(type(key) is str and type(values) is list
               and all(type(v) in (int, float) for v in values), "history must map names to lists of numbers")
        lengths.add(len(values))
    check(len(lengths) <= 1, "history lists have different lengths")
    check(not history or lengths == {state.epochs}, "epochs does not match the length of the history")
    state.history = {key: list(values) for key, values in history.items()}
    record = field(payload, "parameter_record", dict)
    specs = parse_parameter_list(list(record), model.units)
    check(all(type(spec) is tuple for spec in record) and specs == list(record),
           "parameter_record keys must be specs such as ('w', 2, 4, 3)")
    for values in record.values():
        check(type(values) is list and all(type(v) is float for v in values),
               "parameter_record must map specs to lists of floats")
    state.parameter_record = {spec: list(values) for spec, values in record.items()}
    record_every = payload.get("record_every")
    check(record_every in RECORD_EVERY, f"record_every must be one of {RECORD_EVERY}")
    state.record_every = record_every
    state.validation_split = _validation_split(payload.get("validation_split"))


def _task_and_classes(model, payload):
    """The checked task and classes of a payload, as the model keeps them."""
    task, classes = payload.get("task"), payload.get("classes")
    check(task is None or (type(task) is str and task in TASKS), "unknown task")
    task = None if task is None else TASKS[task]
    check(task is None or task.fits_output(model.activations[-1], model.units[-1]),
           f"the task does not fit the output layer ({model.units[-1]} {model.activations[-1]} units)")
    if classes is not None:
        check(type(classes) is list and classes and len({type(c) for c in classes}) == 1
               and type(classes[0]) in (str, int, float, bool), "classes must be a list of labels of one type")
        check(task is not None and task.is_classifier, "classes given for a model without a classification task")
        expected = 2 if task is BINARY else model.units[-1]
        check(len(classes) == expected, f"{len(classes)} classes for {expected} class outputs")
        try:
            classes = np.array(classes)
        except OverflowError:
            classes = None
        check(classes is not None and classes.dtype.kind in "biufU",
               "classes must be numbers that fit 64 bits, or strings")
        check(bool(np.all(classes[1:] > classes[:-1])), "classes must be distinct and sorted")
    check(task is None or task.is_classifier == (classes is not None), "task and classes disagree")
    return task, classes


def _validation_split(split):
    """The kept validationSplit of a payload: None, or checked fraction, row count and validation rows."""
    if split is None:
        return None
    check(type(split) is dict and set(split) == {"fraction", "rows", "validation"},
           "validation_split must hold 'fraction', 'rows' and 'validation'")
    fraction, rows, validation = split["fraction"], split["rows"], safe_pickle.array_of(split["validation"])
    check(type(fraction) is float and 0 < fraction < 1, "validation_split.fraction must be a number in (0, 1)")
    check(type(rows) is int and rows >= 2, "validation_split.rows must be an integer of at least 2")
    check(validation is not None and validation.dtype.kind in "iu" and validation.ndim == 1
           and 0 < len(validation) < rows, "validation_split.validation must be a list of row numbers")
    validation = validation.astype(np.intp)
    check(bool((validation[0] >= 0) & (validation[-1] < rows) & (np.diff(validation) > 0).all()),
           "validation_split.validation must be increasing row numbers below validation_split.rows")
    return {"fraction": fraction, "rows": rows, "validation": validation}
