"""Data larger than memory: streams of ``(X, y)`` chunks that ``fit``, ``predict*`` and ``modelEvaluate`` read.

A stream is an object whose ``chunks()`` returns a fresh iterator of ``(X, y)`` chunks on every call: ``X`` an
array or a pandas DataFrame of some rows, ``y`` their targets (an array or a Series; None where the stream has no
targets, as one for ``predict`` may not). ``fit`` reads it pass after pass, a few chunks at a time, so memory holds a
few chunks whatever the stream's length:

>>> import dnn.streams
>>> stream = dnn.streams.csv("big.csv", target="label", chunk_rows=10_000)   # doctest: +SKIP
>>> model.fit(stream, None, epochs=3, standardize=True, validationSplit=0.1)  # doctest: +SKIP

- :func:`csv` reads a CSV file with pandas, :func:`parquet` a Parquet file with pyarrow (optional, imported only
  there), :func:`from_callable` wraps a function that returns a new iterator of ``(X, y)`` chunks per call (``fit``
  also takes such a function as it is).
- Rows are shuffled within a window of ``window`` chunks, by the model's generator: the same seed, stream and
  chunking train the same weights.
- ``validationSplit=f`` holds out the rows :func:`held_out` selects by a hash of their row number: the same rows in
  every epoch and every fit, never trained on. ``validationData`` may be a second stream.
- After a pass has read a stream to its end, its ``rows`` attribute holds the row count.
"""

import os

import numpy as np

#: Rows per chunk read from a file by default: 10,000 rows of 100 float64 columns are 8 MB.
DEFAULT_CHUNK_ROWS = 10_000
#: Chunks whose rows are shuffled together by default.
DEFAULT_WINDOW = 4

_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


class Stream:
    """A source of ``(X, y)`` chunks, read again for every pass (the base of :func:`csv`, :func:`parquet`, ...).

    Attributes
    ----------
    window : int
        Chunks whose rows ``fit`` shuffles together.
    classes : sequence of labels, or None
        Every class of the stream's labels, when known: ``fit`` then needs no first pass to find them.
    rows : int or None
        The number of rows, once a pass has read the stream to its end.
    """

    def __init__(self, window=DEFAULT_WINDOW, classes=None):
        self.window = _positive(window, "window")
        self.classes = None if classes is None else list(classes)
        self.rows = None

    def chunks(self):
        """A new iterator of ``(X, y)`` chunks from the stream's first row."""
        raise NotImplementedError

    def __repr__(self):
        rows = "" if self.rows is None else f", {self.rows} rows"
        return f"<{type(self).__name__}{self._describe()}{rows}>"

    def _describe(self):
        return ""


class TableStream(Stream):
    """Chunks of a table file: the ``target`` column(s) are y, the others (or ``columns``) are X."""

    def __init__(self, path, target=None, chunk_rows=DEFAULT_CHUNK_ROWS, columns=None, classes=None,
                 window=DEFAULT_WINDOW):
        super().__init__(window, classes)
        self.target_spec = target
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        self.path = os.fspath(path)
        self.chunk_rows = _positive(chunk_rows, "chunk_rows")
        self.target = _names(target, "target")
        self.columns = None if columns is None else _names(columns, "columns")
        if self.columns is not None and set(self.columns) & set(self.target or ()):
            raise ValueError(f"columns {self.columns} include the target {self.target}")

    def _used_columns(self, header):
        """(feature columns, target columns present) among the file's ``header``."""
        header = [str(name) for name in header]
        targets = [name for name in self.target or () if name in header]
        if targets and len(targets) < len(self.target):
            missing = [name for name in self.target if name not in header]
            raise ValueError(f"{self.path} has the target columns {targets} but not {missing}")
        features = self.columns or [name for name in header if name not in targets]
        missing = [name for name in features if name not in header]
        if missing:
            raise ValueError(f"{self.path} has no columns {missing}; its columns: {header}")
        return features, targets

    def _split(self, frame, features, targets):
        """``(X, y)`` of one chunk read from the file."""
        frame.columns = [str(name) for name in frame.columns]
        if not targets:
            return frame[features], None
        return frame[features], frame[targets[0]] if isinstance(self.target_spec, str) else frame[targets]

    def _describe(self):
        return f" {self.path!r}, target={self.target_spec!r}, chunk_rows={self.chunk_rows}"


class CsvStream(TableStream):
    """See :func:`csv`."""

    def __init__(self, path, target=None, chunk_rows=DEFAULT_CHUNK_ROWS, columns=None, classes=None,
                 window=DEFAULT_WINDOW, **read_options):
        super().__init__(path, target, chunk_rows, columns, classes, window)
        reserved = {"chunksize", "iterator", "usecols", "nrows"} & set(read_options)
        if reserved:
            raise ValueError(f"dnn.streams.csv sets {sorted(reserved)} itself; use chunk_rows and columns")
        self.read_options = read_options

    def chunks(self):
        import pandas as pd

        header = pd.read_csv(self.path, nrows=0, **self.read_options).columns
        features, targets = self._used_columns(header)
        used = set(features) | set(targets)
        reader = pd.read_csv(self.path, chunksize=self.chunk_rows, usecols=lambda name: str(name) in used,
                             **self.read_options)
        with reader:
            for frame in reader:
                yield self._split(frame, features, targets)


class ParquetStream(TableStream):
    """See :func:`parquet`."""

    def __init__(self, path, target=None, chunk_rows=DEFAULT_CHUNK_ROWS, columns=None, classes=None,
                 window=DEFAULT_WINDOW):
        super().__init__(path, target, chunk_rows, columns, classes, window)

    def chunks(self):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError("dnn.streams.parquet reads Parquet files with pyarrow: pip install pyarrow") from None
        with open(self.path, "rb") as file:
            table = pq.ParquetFile(file)
            features, targets = self._used_columns(table.schema_arrow.names)
            for batch in table.iter_batches(batch_size=self.chunk_rows, columns=[*features, *targets]):
                yield self._split(batch.to_pandas(), features, targets)


class CallableStream(Stream):
    """See :func:`from_callable`."""

    def __init__(self, function, window=DEFAULT_WINDOW, classes=None):
        super().__init__(window, classes)
        if not callable(function):
            raise TypeError(f"from_callable needs a function that returns an iterator of (X, y) chunks, got "
                            f"{type(function).__name__}")
        self.function = function

    def chunks(self):
        for item in self.function():
            if isinstance(item, tuple) and len(item) == 2:
                yield item
            else:  # rows without targets
                yield item, None

    def _describe(self):
        return f" {getattr(self.function, '__name__', type(self.function).__name__)}"


def csv(path, target=None, chunk_rows=DEFAULT_CHUNK_ROWS, columns=None, classes=None, window=DEFAULT_WINDOW,
        **read_options):
    """A stream of the rows of the CSV file ``path``, ``chunk_rows`` at a time (``pandas.read_csv``).

    Parameters
    ----------
    path : str or os.PathLike
    target : str or list of str, optional
        The column of y (several: a multi-output y, one column per output). A stream for ``predict`` may leave it
        out, or name a column the file lacks: its chunks then have y None.
    chunk_rows : int
        Rows per chunk.
    columns : list of str, optional
        The feature columns, in this order (default: every column but the target, in the file's order).
    classes : sequence of labels, optional
        Every class of the labels, when known: ``fit`` then needs no first pass to find them (``fit``'s own
        ``classes=`` does the same).
    window : int
        Chunks whose rows ``fit`` shuffles together (memory holds about this many chunks).
    **read_options
        Passed to ``pandas.read_csv`` (``sep=";"``, ``dtype=...``...).
    """
    return CsvStream(path, target, chunk_rows, columns, classes, window, **read_options)


def parquet(path, target=None, chunk_rows=DEFAULT_CHUNK_ROWS, columns=None, classes=None, window=DEFAULT_WINDOW):
    """A stream of the rows of the Parquet file ``path``, ``chunk_rows`` at a time, read by pyarrow (optional:
    ``pip install pyarrow``; imported when the stream is read). The parameters are those of :func:`csv`."""
    return ParquetStream(path, target, chunk_rows, columns, classes, window)


def from_callable(function, window=DEFAULT_WINDOW, classes=None):
    """A stream whose chunks are those of the iterator ``function()`` returns, a new one for every pass.

    Each item is a pair ``(X, y)`` (a tuple) or X alone (y None): X an array or DataFrame of rows, y their
    targets. ``fit`` takes such a function as it is; this adds ``window`` and ``classes`` (see :func:`csv`).
    """
    return CallableStream(function, window, classes)


def as_stream(X):
    """``X`` as a :class:`Stream` when it is one (a Stream, an object with ``chunks()``, or a function), else None."""
    if isinstance(X, Stream):
        return X
    chunks = getattr(X, "chunks", None)
    if callable(chunks) and not hasattr(X, "shape"):
        stream = CallableStream(chunks, getattr(X, "window", DEFAULT_WINDOW), getattr(X, "classes", None))
        return stream
    if callable(X) and not hasattr(X, "shape") and not isinstance(X, type):
        return CallableStream(X)
    if hasattr(X, "__next__"):
        raise ValueError(f"X is an iterator ({type(X).__name__}), which can be read only once: give a function that "
                         f"returns a new iterator of (X, y) chunks on every call, or a stream of dnn.streams")
    return None


def held_out(rows, fraction):
    """Whether each row number of ``rows`` (ints) is a validation row of ``validationSplit=fraction``.

    A row is held out when a hash of its number (splitmix64's finalizer, top 32 bits) is below
    ``fraction * 2**32``: the same rows every epoch and every fit, about ``fraction`` of them, spread evenly, whatever
    the chunking. A smaller fraction holds out a subset of a larger one's rows.
    """
    return row_hash(rows) < np.uint64(int(fraction * 2**32))


def row_hash(rows, salt=0):
    """A 32-bit hash of each row number (uint64 array); ``salt`` gives another, independent one."""
    z = np.asarray(rows, dtype=np.uint64) + np.uint64(_GOLDEN * (salt + 1) % 2**64)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return (z ^ (z >> np.uint64(31))) >> np.uint64(32)


def _positive(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _names(value, name):
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(item, str) for item in names):
        raise ValueError(f"{name} must be a column name or a list of them, got {value!r}")
    return names
