"""Feature matrices: checks at the boundary, standardization, reading in chunks.

Everything here works chunk by chunk where the data may be a numpy memmap
larger than memory: nothing makes a full in-memory copy of one.
"""

import math

import numpy as np

from dnn.data.sparse_rows import SparseRows, is_sparse
from dnn.devices import to_numpy

#: Rows per chunk when reading feature matrices: large enough for efficient
#: matrix products, small enough to bound memory (784 float32 features: 6 MB).
CHUNK_ROWS = 2048
#: A sparse matrix is densified a chunk at a time: at most this many bytes of dense rows.
SPARSE_CHUNK_BYTES = 16 << 20


def feature_matrix(X, n_features, names=None):
    """Check ``X`` and return it as a 2-D numeric array, with its column names.

    Parameters
    ----------
    X : ndarray, numpy.memmap, nested list or pandas DataFrame, shape (n, n_features)
    n_features : int or None
        Units of the input layer (None: any number of columns).
    names : list, optional
        Column names the model was fitted with; a DataFrame is reordered to
        them, and must hold exactly those columns.

    Returns
    -------
    array : ndarray (a memmap is returned as it is, not copied)
    names : list or None
        The DataFrame's column names, or None for other inputs.
    """
    if is_sparse(X):
        return _sparse_features(X, n_features), None
    frame_names = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        X, frame_names = _frame_values(X, names)
    elif not isinstance(X, np.ndarray):
        try:
            X = to_numpy(X)  # a GPU array too: rows are checked on the host
        except ValueError as error:
            raise ValueError(f"X must be a rectangular table of numbers: {error}") from None
    _check_table(X, n_features, hints=True)
    return X, frame_names


def _check_table(X, n_features, what="", hints=False):
    """ValueError unless ``X`` is a non-empty 2-D table of numbers with ``n_features`` columns (None: any).

    ``what`` describes ``X`` in the messages ("a sparse matrix of "); with ``hints`` they say how to reshape an
    array that looks like samples of the right size in the wrong shape.
    """
    if X.ndim != 2:
        hint = _dimension_hint(X, n_features) if hints else ""
        raise ValueError(f"X must be 2-D (samples, features), got {what}shape {X.shape}{hint}")
    if X.shape[0] == 0:
        raise ValueError("X is empty: it has no samples")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must hold numbers, got {what}dtype {X.dtype}")
    if n_features is not None and X.shape[1] != n_features:
        hint = ""
        if hints and X.size == n_features:
            hint = (f"; X holds {n_features} values in all, as one sample does: if it is one sample shaped "
                    f"{X.shape} (an image), flatten it with X.reshape(1, -1)")
        raise ValueError(f"X has {X.shape[1]} features but the input layer has {n_features} units{hint}")


def _dimension_hint(X, n_features):
    """How to reshape an array of 1 or more than 2 dimensions into (samples, features), or ""."""
    if X.ndim > 2 and n_features is not None and math.prod(X.shape[1:]) == n_features:
        return (f" (it looks like {X.shape[0]} samples shaped {X.shape[1:]}, {n_features} values each as the "
                f"input layer takes: flatten them with X.reshape(len(X), -1))")
    return " (use X.reshape(1, -1) for one sample, X.reshape(-1, 1) for one feature)" if X.ndim == 1 else ""


def _sparse_features(X, n_features):
    """A scipy.sparse X as :class:`SparseRows`, after the checks a dense X gets (on its stored values only)."""
    _check_table(X, n_features, what="a sparse matrix of ")
    rows = SparseRows(X)
    check_finite(rows)
    return rows


def _frame_values(frame, names):
    """The values of a DataFrame, its columns put in the order ``names`` when given.

    Column names are kept as strings (what a model file can hold); the
    DataFrame's own labels are matched by their string form.
    """
    by_name = {}
    for column in frame.columns:
        if str(column) in by_name:
            raise ValueError(f"X has two columns named {str(column)!r}")
        by_name[str(column)] = column
    if names is not None:
        missing = [c for c in names if c not in by_name]
        extra = [c for c in by_name if c not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing columns {missing}")
            if extra:
                parts.append(f"unexpected columns {extra}")
            raise ValueError(f"X does not have the columns the model was fitted with: {'; '.join(parts)}")
        frame = frame[[by_name[c] for c in names]]
    columns = [str(c) for c in frame.columns]
    non_numeric = [c for c, dtype in zip(columns, frame.dtypes) if getattr(dtype, "kind", "O") not in "biuf"]
    if non_numeric:
        raise ValueError(f"X has non-numeric columns {non_numeric}; encode them as numbers first")
    if all(isinstance(dtype, np.dtype) for dtype in frame.dtypes):
        return frame.to_numpy(), columns
    # pandas' nullable dtypes: missing values become NaN, which the finite check reports
    return frame.to_numpy(dtype=np.float64, na_value=np.nan), columns


def checked_features(X, n_features, names, dtype):
    """:func:`feature_matrix`, converted to ``dtype`` (:func:`in_model_dtype`) and checked for NaN and infinity.

    Returns
    -------
    X : ndarray (a memmap unconverted), names : list or None
    """
    X, names = feature_matrix(X, n_features, names)
    source = X
    with np.errstate(over="ignore"):  # values beyond the dtype's range become inf: check_finite names them
        X = in_model_dtype(X, dtype)
    check_finite(X, source=source)
    return X, names


def in_model_dtype(X, dtype):
    """``X`` as a C-contiguous array of ``dtype``; copies only when needed.

    A memmap is returned unchanged: it is converted chunk by chunk later.
    """
    if isinstance(X, np.memmap):
        return X
    if isinstance(X, SparseRows):
        return X if X.dtype == dtype else SparseRows(X.matrix, dtype)
    return np.ascontiguousarray(X, dtype=dtype)


def check_finite(X, rows=None, first_row=0, source=None):
    """Raise ValueError naming the first row of ``X`` with NaN or infinity.

    ``rows`` restricts the check to those rows; ``first_row`` is added to the
    row number in the message when ``X`` is a chunk of a larger matrix.
    ``source`` is the array ``X`` was converted from: a row that is finite
    there overflowed in the conversion, and the message says so.
    """
    if X.dtype.kind not in "fc":
        return
    if isinstance(X, SparseRows):
        _check_stored_values(X, source)
        return
    ones = np.ones(X.shape[1], dtype=X.dtype)
    for start, chunk in _raw_chunks(X, rows):
        # A NaN or infinity makes its row's sum non-finite, and ``chunk @ ones``
        # sums rows in one BLAS call, faster than np.isfinite.
        # A sum can also overflow from finite values: look at those rows themselves.
        with np.errstate(over="ignore", invalid="ignore"):
            sums = chunk @ ones
        suspects = np.flatnonzero(~np.isfinite(sums))
        if len(suspects):
            bad = suspects[~np.isfinite(chunk[suspects]).all(axis=1)]
            if len(bad):
                row = start + int(bad[0])
                row = first_row + (row if rows is None else int(rows[row]))
                _check_range(source, row, X.dtype)
                raise ValueError(f"X contains NaN or infinity (first in row {row})")


def _check_stored_values(X, source):
    """check_finite for :class:`SparseRows`: only the stored values can be NaN or infinite."""
    bad = np.flatnonzero(~np.isfinite(X.stored))
    if len(bad):
        row = X.row_of_stored(int(bad[0]))
        if source is not None and np.isfinite(source.stored[bad[0]]):
            raise ValueError(f"X has values as large as {abs(float(source.stored[bad[0]])):.3g} (row {row}), beyond "
                             f"the range of {X.dtype} (largest {np.finfo(X.dtype).max:.3g}): rescale the features, "
                             f"or use dtype='float64'")
        raise ValueError(f"X contains NaN or infinity (first in row {row})")


def _check_range(source, row, dtype):
    """ValueError about the input scale when ``source[row]`` is finite (it overflowed ``dtype``)."""
    if source is None or source.dtype.kind not in "biuf":
        return
    values = np.asarray(source[row], dtype=np.float64)
    if np.isfinite(values).all():
        raise ValueError(f"X has values as large as {np.abs(values).max():.3g} (row {row}), beyond the range of "
                         f"{np.dtype(dtype)} (largest {np.finfo(dtype).max:.3g}): rescale the features, or use "
                         f"dtype='float64'")


def check_scale(X, dtype, standardize):
    """Raise ValueError when ``X`` holds values too large to train on.

    Training multiplies features by weights and squares what comes out, so a
    feature beyond the square root of the largest ``dtype`` number overflows
    (1.8e19 in float32): the loss would blow up in the first epoch and blame
    the learning rate. Standardizing takes squares in float64 instead, which
    raises the bound to 1.3e154. One pass of max and min, without a temporary.
    """
    limit = math.sqrt(np.finfo(np.float64 if standardize else dtype).max)
    largest = 0.0
    for _, chunk in [(0, X.stored)] if isinstance(X, SparseRows) else _raw_chunks(X):
        with np.errstate(over="ignore", invalid="ignore"):
            largest = max(largest, abs(float(chunk.max())), abs(float(chunk.min())))
    if largest > limit:
        helps = not standardize and np.dtype(dtype) != np.float64  # standardizing squares in float64
        fix = "rescale the features, or fit with standardize=True" if helps else "rescale the features"
        raise ValueError(f"X has values as large as {largest:.3g}; features beyond {limit:.3g} overflow "
                         f"{'float64 when standardizing' if standardize else np.dtype(dtype)} in training: {fix}")


def standardize(x, mean, scale):
    """(x - mean) / scale in place on ``x``, an array the caller owns; returns it.

    Training batches, prediction chunks and gradient checks all go through
    here, so they scale features with exactly the same arithmetic.
    """
    x -= mean
    x /= scale
    return x


def fit_standardizer(X, rows=None, dtype=np.float32):
    """Mean and standard deviation of every column of ``X`` (restricted to ``rows``).

    Sums are taken in float64 around the first row (see :class:`Moments`), which
    keeps the variance accurate for features with a large offset. A constant
    column gets scale 1, so standardizing it gives zeros instead of a division by zero.

    Returns
    -------
    mean, scale : ndarrays of shape (n_features,) and dtype ``dtype``
    """
    if isinstance(X, SparseRows):
        total, squares, count = X.column_moments(rows)
        return _mean_and_scale(np.zeros(X.shape[1]), total, squares, count, dtype)
    moments = Moments()
    for _, chunk in _raw_chunks(X, rows):
        moments.add(chunk)
    return moments.mean_and_scale(dtype)


class Moments:
    """Column sums of a table read chunk by chunk, for :func:`fit_standardizer` and streams.

    Sums are taken in float64 around the first row added, which keeps the variance accurate for features with a
    large offset.
    """

    def __init__(self):
        self.shift, self.count, self.total, self.squares = None, 0, 0.0, 0.0

    def add(self, chunk):
        """Add the rows of ``chunk`` (m, features), any numeric dtype."""
        if len(chunk) == 0:
            return
        chunk = chunk.astype(np.float64)
        if self.shift is None:
            self.shift = chunk[0].copy()
        chunk -= self.shift
        self.count += len(chunk)
        self.total = self.total + chunk.sum(axis=0)
        self.squares = self.squares + (chunk * chunk).sum(axis=0)

    def mean_and_scale(self, dtype):
        """Mean and standard deviation of every column so far, in ``dtype`` (a constant column gets scale 1)."""
        return _mean_and_scale(self.shift, self.total, self.squares, self.count, dtype)


def _mean_and_scale(shift, total, squares, count, dtype):
    """Mean and scale from float64 sums of (x - shift) and its squares over ``count`` rows (see fit_standardizer)."""
    mean_shifted = total / count
    variance = np.maximum(squares / count - mean_shifted**2, 0.0)
    scale = np.sqrt(variance)
    scale[scale <= np.finfo(np.float64).eps * np.maximum(1.0, np.abs(shift + mean_shifted))] = 1.0
    return (shift + mean_shifted).astype(dtype), scale.astype(dtype)


def model_chunks(X, dtype, mean=None, scale=None, rows=None, chunk_rows=None):
    """Yield ``(start, stop, chunk)``: rows of ``X`` in ``dtype``, standardized.

    A chunk may be a view of ``X`` or a reused buffer: use it before asking for
    the next one.
    """
    chunk_rows = _chunk_rows(X, chunk_rows)
    buffer = None
    for start, raw in _raw_chunks(X, rows, chunk_rows):
        stop = start + len(raw)
        if mean is None and raw.dtype == dtype and raw.flags.c_contiguous:
            yield start, stop, raw
            continue
        if buffer is None:
            buffer = np.empty((min(chunk_rows, len(X) if rows is None else len(rows)), X.shape[1]), dtype)
        chunk = buffer[: len(raw)]
        # A value beyond the dtype's range becomes inf, which the caller's finite check reports.
        with np.errstate(over="ignore", invalid="ignore"):
            np.copyto(chunk, raw, casting="unsafe")
            if mean is not None:
                standardize(chunk, mean, scale)
        yield start, stop, chunk


def _chunk_rows(X, chunk_rows=None):
    """Rows per chunk: CHUNK_ROWS, or fewer for a sparse X with wide rows (at most SPARSE_CHUNK_BYTES dense)."""
    if chunk_rows is not None:
        return chunk_rows
    if isinstance(X, SparseRows):
        return max(1, min(CHUNK_ROWS, SPARSE_CHUNK_BYTES // (X.shape[1] * X.dtype.itemsize)))
    return CHUNK_ROWS


def _raw_chunks(X, rows=None, chunk_rows=None):
    chunk_rows = _chunk_rows(X, chunk_rows)
    n = len(X) if rows is None else len(rows)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        yield start, X[start:stop] if rows is None else np.take(X, rows[start:stop], axis=0)
