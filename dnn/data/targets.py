"""From what users pass as ``y`` to the (n, outputs) target matrix the losses see.

The output layer decides the task:

- identity: regression; y holds real targets, (n,) for one output or (n, k).
- softmax, or sigmoid with k > 1 units and 1-D labels: multiclass.
- sigmoid (or step, set by hand) with one unit: binary.
- sigmoid with k > 1 units and a matrix: multiclass when every row has
  exactly one target >= 0.5 (one-hot rows, or the tutorials' 0.01/0.99 rows),
  multilabel otherwise. ``fit(..., task=...)`` overrides the inference.

Tasks are the objects of :mod:`dnn.data.tasks`.

Class labels are fixed at the first ``fit``. Integer labels in 0..k-1 are
class indices (classes are 0..k-1). Any other labels (strings, booleans, or
exactly k distinct integers such as 1..k) are the classes themselves, in
sorted order, and ``predict`` gives them back.
"""

import numpy as np

from dnn.checks import is_int
from dnn.data import preprocessing
from dnn.data.tasks import BINARY, MULTICLASS, MULTILABEL, REGRESSION, THRESHOLD
from dnn.devices import to_numpy

ONE_HOT_TOLERANCE = 1e-4


def default_task(activation, units):
    """Task and classes of a model that has not seen any ``y`` yet."""
    if activation == "identity":
        return REGRESSION, None
    if activation in ("sigmoid", "step") and units == 1:
        return BINARY, np.arange(2)
    return MULTICLASS, np.arange(units)


def as_array(values, what="y"):
    """A numpy array from an array, list, pandas Series or DataFrame."""
    if hasattr(values, "to_numpy"):
        if len(values) == 0:
            raise ValueError(f"{what} is empty: it has no samples")
        if hasattr(values, "isna"):
            missing = np.flatnonzero(np.asarray(values.isna()).reshape(len(values), -1).any(axis=1))
            if len(missing):
                raise ValueError(f"{what} contains missing values (first in row {missing[0]})")
        values = values.to_numpy()
    try:
        array = to_numpy(values)  # a GPU array too: targets are encoded on the host
    except (ValueError, TypeError) as error:
        raise ValueError(f"{what} must be an array of equal-length rows: {error}") from None
    if array.ndim == 0 or array.ndim > 2:
        raise ValueError(f"{what} must be 1-D or 2-D, got {array.ndim}-D with shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"{what} is empty: it has no samples")
    return array


def encode_targets(y, activation, units, dtype, task=None, classes=None):
    """Target matrix for ``y``, with the task and classes it implies.

    Parameters
    ----------
    y : array-like, shape (n,) or (n, k)
    activation : str
        Output activation.
    units : int
        Output units.
    dtype : numpy dtype of the returned matrix.
    task, classes : a Task and classes when the model is already fitted; y must agree with them.

    Returns
    -------
    targets : ndarray, shape (n, units)
    task : dnn.data.tasks.Task
    classes : ndarray or None
    """
    y = as_array(y)
    if activation == "identity":
        return _regression_targets(y, units, dtype), REGRESSION, None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        return _matrix_targets(y, activation, units, dtype, task, classes)
    n_classes = 2 if units == 1 else units
    if task is MULTILABEL:
        raise ValueError(
            f"this model was trained on a 0/1 label matrix (multi-label); y must be a "
            f"(n, {units}) matrix again, got shape {y.shape}"
        )
    index, classes = _class_index(y, n_classes, classes)
    if units == 1:
        return index[:, None].astype(dtype), BINARY, classes
    targets = np.zeros((len(y), units), dtype=dtype)
    targets[np.arange(len(y)), index] = 1
    return targets, MULTICLASS, classes


def _regression_targets(y, units, dtype):
    if y.dtype.kind not in "biuf":
        raise ValueError(
            f"the identity output layer fits real targets, but y has dtype {y.dtype} "
            f"(for classes, use a softmax or sigmoid output)"
        )
    y = y.reshape(-1, 1) if y.ndim == 1 else y
    if y.shape[1] != units:
        raise ValueError(f"y has {y.shape[1]} target column(s) but the output layer has {units} unit(s)")
    _check_finite(y)
    return y.astype(dtype)


def _matrix_targets(y, activation, units, dtype, task, classes):
    if y.shape[1] != units:
        raise ValueError(
            f"y is a matrix with {y.shape[1]} columns but the output layer has {units} units; "
            f"one-hot or label-matrix rows must have one column per output unit"
        )
    if y.dtype.kind not in "biuf":
        raise ValueError(f"a target matrix must be numeric, got dtype {y.dtype}")
    _check_finite(y)
    if y.min() < 0 or y.max() > 1:
        raise ValueError(
            f"a target matrix for a {activation} output must hold values in [0, 1], "
            f"got values from {y.min()} to {y.max()}"
        )
    if activation == "softmax":
        row_sums = y.sum(axis=1)
        sums_to_one = np.abs(row_sums - 1) <= ONE_HOT_TOLERANCE
        if not sums_to_one.all():
            row = int(np.flatnonzero(~sums_to_one)[0])
            raise ValueError(
                f"each row of a one-hot (or probability) target matrix must sum to 1; "
                f"row {row} sums to {row_sums[row]}"
            )
        return y.astype(dtype), MULTICLASS, np.arange(units) if classes is None else classes
    # Independent outputs: rows with exactly one high target (1, or 0.99 beside 0.01 as the classic tutorials
    # write them) stand for one class each; several high targets in a row make it a multi-label matrix.
    highs = np.count_nonzero(y >= THRESHOLD, axis=1)
    if task is None:
        task = MULTICLASS if (highs == 1).all() else MULTILABEL
    elif task is MULTICLASS and not (highs == 1).all():
        row = int(np.flatnonzero(highs != 1)[0])
        raise ValueError(f"this model is a multi-class classifier: every target row needs exactly one value >= "
                         f"{THRESHOLD}, but row {row} has {highs[row]}")
    return y.astype(dtype), task, np.arange(units) if classes is None else classes


def _class_index(y, n_classes, classes):
    """Class index of every label, and the classes (learned when ``classes`` is None)."""
    if y.dtype.kind == "f":
        _check_finite(y)
        if not np.array_equal(y, np.round(y)):
            example = y[np.flatnonzero(y != np.round(y))[0]]
            raise ValueError(
                f"y holds non-integer values such as {example}, which look like regression "
                f"targets, but the output layer is a classifier; use an identity output for "
                f"regression, or pass class labels"
            )
        y = y.astype(np.int64)
    elif y.dtype.kind == "O":
        _check_no_missing(y)
        if all(isinstance(v, str) for v in y):
            y = y.astype(str)  # pandas keeps strings as objects; numpy's string dtype compares and saves alike
    elif y.dtype.kind not in "biuUS":
        raise ValueError(f"class labels must be integers or strings, got dtype {y.dtype}")
    if classes is None:
        classes = _learn_classes(y, n_classes)
    if _are_indices(classes) and y.dtype.kind in "iu":
        bad = (y < 0) | (y >= n_classes)
        if bad.any():
            raise ValueError(
                f"integer labels must be class indices 0..{n_classes - 1} for this output layer, "
                f"got {np.unique(y[bad])[:10].tolist()}"
            )
        return y.astype(np.intp), classes
    try:
        index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        if (classes.dtype.kind in "US") != (y.dtype.kind in "US"):
            # Numbers never equal strings, and numpy < 1.25 compares such arrays to one scalar False, not elementwise.
            known = np.zeros(len(y), dtype=bool)
        else:
            known = classes[index] == y
    except TypeError:
        raise ValueError(f"labels of mixed types cannot be matched to the classes {classes.tolist()}") from None
    if not np.all(known):
        unknown = np.unique(y[~known])[:10].tolist()
        raise ValueError(f"labels {unknown} are not among the model's classes {classes.tolist()}")
    return index, classes


def _learn_classes(y, n_classes):
    try:
        distinct = np.unique(y)
    except TypeError:
        raise ValueError("class labels must be all numbers or all strings, not a mix") from None
    if y.dtype.kind in "iu" and distinct[0] >= 0 and distinct[-1] < n_classes:
        return np.arange(n_classes)
    if len(distinct) > n_classes:
        raise ValueError(
            f"y has {len(distinct)} classes but the output layer has room for {n_classes}: "
            f"{distinct[:12].tolist()}"
        )
    if len(distinct) < n_classes and y.dtype.kind in "iu":
        outside = distinct[(distinct < 0) | (distinct >= n_classes)][:10].tolist()
        raise ValueError(
            f"integer labels must be class indices 0..{n_classes - 1} for this output layer "
            f"(or {n_classes} distinct values naming the classes), got {outside}"
        )
    if len(distinct) < n_classes:
        raise ValueError(
            f"y has {len(distinct)} distinct labels {distinct[:12].tolist()} for {n_classes} classes; "
            f"labels that are not the indices 0..{n_classes - 1} must name every class"
        )
    return distinct


def _are_indices(classes):
    return classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(len(classes)))


def _check_finite(y):
    if not np.isfinite(y).all():
        bad = np.argwhere(~np.isfinite(y))[0]
        raise ValueError(f"y contains NaN or infinity (first at index {tuple(int(i) for i in bad)})")


def _check_no_missing(y):
    missing = [i for i, v in enumerate(y) if v is None or (isinstance(v, float) and v != v)]
    if missing:
        raise ValueError(f"y contains missing labels (first at index {missing[0]})")


def data_format_conversion(X_df, y_df, classNum):
    """The tutorial's conversion of tables: a float64 feature matrix (n, features) and one-hot labels (n, classNum).

    See :meth:`dnn.DNN.dataFormatConversion`.
    """
    if not is_int(classNum) or classNum < 2:
        raise ValueError(f"classNum must be an integer of at least 2, got {classNum!r}")
    X, _ = preprocessing.feature_matrix(X_df, None)
    X = np.array(X, dtype=np.float64)
    preprocessing.check_finite(X)
    Y, _, _ = encode_targets(y_df, "softmax", int(classNum), np.float64)
    if len(Y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(Y)}")
    return X, Y
