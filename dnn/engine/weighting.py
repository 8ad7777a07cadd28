"""Per-row weights of fit and modelEvaluate: ``sampleWeight``, ``classWeight``, or their product."""

import numpy as np

from dnn.checks import as_float
from dnn.data import targets


def sample_weights(target_matrix, task, classes, sample_weight, class_weight, dtype):
    """Per-sample weights from sampleWeight and classWeight (their product when both are given), or None."""
    weights = None
    n = len(target_matrix)
    if sample_weight is not None:
        weights = _numbers(targets.as_array(sample_weight, "sampleWeight"), "sampleWeight")
        if weights.ndim != 1 or len(weights) != n:
            raise ValueError(f"sampleWeight must have one weight per sample ({n}), got shape {weights.shape}")
        _check_weights(weights, "sampleWeight")
    if class_weight is not None:
        if not task.single_label:
            raise ValueError(f"classWeight needs a single-label classifier (this model's task is {task}); "
                             f"use sampleWeight instead")
        index = task.class_indices(target_matrix)
        per_class = _class_weights(class_weight, classes, index)
        weights = per_class[index] if weights is None else weights * per_class[index]
    if weights is not None and not weights.sum() > 0:
        raise ValueError("the sample weights are all zero")
    return None if weights is None else weights.astype(dtype)


def _class_weights(class_weight, classes, index):
    labels = classes.tolist()
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = np.bincount(index, minlength=len(labels)).astype(np.float64)
        # n / (k * count): every class weighs the same in total; absent classes get 1
        return np.where(counts > 0, len(index) / (len(labels) * np.maximum(counts, 1)), 1.0)
    if not isinstance(class_weight, dict):
        raise ValueError(f"classWeight must be a dict {{class: weight}} or 'balanced', got {class_weight!r}")
    unknown = [key for key in class_weight if key not in labels]
    if unknown:
        raise ValueError(f"classWeight names classes {unknown} that the model does not have; its classes: {labels}")
    weights = np.ones(len(labels))
    for key, value in class_weight.items():
        number = None if isinstance(value, (bool, np.bool_)) else as_float(value)
        weights[labels.index(key)] = -1 if number is None else number
    _check_weights(weights, "classWeight")
    return weights


def _numbers(array, name):
    """A float64 copy of an array of numbers; ValueError naming ``name`` for strings or other objects."""
    if array.dtype.kind not in "biufO":
        raise ValueError(f"{name} must hold numbers, got values of dtype {array.dtype} such as {array.flat[0]!r}")
    try:
        return array.astype(np.float64, copy=True)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers, got {type(_first_non_number(array)).__name__} values") from None


def _first_non_number(array):
    return next((v for v in array.flat if not isinstance(v, (int, float, np.number))), None)


def _check_weights(weights, name):
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative numbers")
