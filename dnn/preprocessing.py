"""Feature matrices: checks at the boundary, standardization, reading in chunks.

Everything here works chunk by chunk where the data may be a numpy memmap
larger than memory: nothing makes a full in-memory copy of one.
"""

import numpy as np

#: Rows per chunk when reading feature matrices: large enough for efficient
#: matrix products, small enough to bound memory (784 float32 features: 6 MB).
CHUNK_ROWS = 2048


def feature_matrix(X, n_features, names=None):
    """Check ``X`` and return it as a 2-D numeric array, with its column names.

    Parameters
    ----------
    X : ndarray, numpy.memmap, nested list or pandas DataFrame, shape (n, n_features)
    n_features : int
        Units of the input layer.
    names : list, optional
        Column names the model was fitted with; a DataFrame is reordered to
        them, and must hold exactly those columns.

    Returns
    -------
    array : ndarray (a memmap is returned as it is, not copied)
    names : list or None
        The DataFrame's column names, or None for other inputs.
    """
    frame_names = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        X, frame_names = _frame_values(X, names)
    elif not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except ValueError as error:
            raise ValueError(f"X must be a rectangular table of numbers: {error}") from None
    if X.ndim != 2:
        hint = " (use X.reshape(1, -1) for one sample, X.reshape(-1, 1) for one feature)" if X.ndim == 1 else ""
        raise ValueError(f"X must be 2-D (samples, features), got shape {X.shape}{hint}")
    if X.shape[0] == 0:
        raise ValueError("X is empty: it has no samples")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must hold numbers, got dtype {X.dtype}")
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features but the input layer has {n_features} units")
    return X, frame_names


def _frame_values(frame, names):
    columns = list(frame.columns)
    if names is not None:
        missing = [c for c in names if c not in columns]
        extra = [c for c in columns if c not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing columns {missing}")
            if extra:
                parts.append(f"unexpected columns {extra}")
            raise ValueError(f"X does not have the columns the model was fitted with: {'; '.join(parts)}")
        frame = frame[names]
        columns = names
    non_numeric = [c for c, kind in zip(columns, (d.kind for d in frame.dtypes)) if kind not in "biuf"]
    if non_numeric:
        raise ValueError(f"X has non-numeric columns {non_numeric}; encode them as numbers first")
    return frame.to_numpy(), columns


def in_model_dtype(X, dtype):
    """``X`` as a C-contiguous array of ``dtype``; copies only when needed.

    A memmap is returned unchanged: it is converted chunk by chunk later.
    """
    if isinstance(X, np.memmap):
        return X
    return np.ascontiguousarray(X, dtype=dtype)


def check_finite(X, rows=None):
    """Raise ValueError naming the first row of ``X`` with NaN or infinity."""
    if X.dtype.kind not in "fc":
        return
    for start, chunk in _raw_chunks(X, rows):
        bad = ~np.isfinite(chunk).all(axis=1)
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            row = row if rows is None else int(rows[row])
            raise ValueError(f"X contains NaN or infinity (first in row {row})")


def fit_standardizer(X, rows=None, dtype=np.float32):
    """Mean and standard deviation of every column of ``X`` (restricted to ``rows``).

    Sums are taken in float64 around the first row, which keeps the variance
    accurate for features with a large offset. A constant column gets scale 1,
    so standardizing it gives zeros instead of a division by zero.

    Returns
    -------
    mean, scale : ndarrays of shape (n_features,) and dtype ``dtype``
    """
    shift = None
    count, total, squares = 0, 0.0, 0.0
    for _, chunk in _raw_chunks(X, rows):
        chunk = chunk.astype(np.float64)
        if shift is None:
            shift = chunk[0].copy()
        chunk -= shift
        count += len(chunk)
        total = total + chunk.sum(axis=0)
        squares = squares + (chunk * chunk).sum(axis=0)
    mean_shifted = total / count
    variance = np.maximum(squares / count - mean_shifted**2, 0.0)
    scale = np.sqrt(variance)
    scale[scale <= np.finfo(np.float64).eps * np.maximum(1.0, np.abs(shift + mean_shifted))] = 1.0
    return (shift + mean_shifted).astype(dtype), scale.astype(dtype)


def model_chunks(X, dtype, mean=None, scale=None, rows=None, chunk_rows=CHUNK_ROWS):
    """Yield ``(start, stop, chunk)``: rows of ``X`` in ``dtype``, standardized.

    A chunk may be a view of ``X`` or a reused buffer: use it before asking for
    the next one.
    """
    buffer = None
    for start, raw in _raw_chunks(X, rows, chunk_rows):
        stop = start + len(raw)
        if mean is None and raw.dtype == dtype and raw.flags.c_contiguous and not isinstance(raw, np.memmap):
            yield start, stop, raw
            continue
        if buffer is None:
            buffer = np.empty((min(chunk_rows, len(X) if rows is None else len(rows)), X.shape[1]), dtype)
        chunk = buffer[: len(raw)]
        np.copyto(chunk, raw, casting="unsafe")
        if mean is not None:
            chunk -= mean
            chunk /= scale
        yield start, stop, chunk


def _raw_chunks(X, rows=None, chunk_rows=CHUNK_ROWS):
    n = len(X) if rows is None else len(rows)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        yield start, X[start:stop] if rows is None else np.take(X, rows[start:stop], axis=0)
