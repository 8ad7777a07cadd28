"""Reading a stream of chunks (:mod:`dnn.streams`) for a model: checked chunks, the first pass, the epochs.

``fit`` on a stream reads its first chunk before anything in the model changes, and the whole stream once
(:func:`survey`) only when it must know something of every row before training: the classes, the standardization,
or the number of validation rows. Each epoch, :class:`StreamEpochs` gives
:meth:`dnn.engine.training.Trainer.train_batches` the rows of ``window`` chunks at a time, in an order drawn from the
model's generator, so a batch is gathered and stepped on by the same code as from arrays, and memory holds a window
of chunks whatever the stream's length. The rows :func:`dnn.streams.held_out` selects are never trained on: they are
the validation rows of :class:`StreamValidation`, read again after every epoch.
"""

import numpy as np

from dnn.data import preprocessing, targets
from dnn.data.tasks import MULTILABEL
from dnn.engine.batches import TrainingData, batch_count
from dnn.engine.run import EpochProgress
from dnn.engine.stream_evaluation import StreamValidation
from dnn.streams import held_out, row_hash

#: Training rows a stream fit keeps for the callbacks that look at a sample (``run.data``: the stall monitor).
SAMPLE_ROWS = 512


class ChunkReader:
    """A stream's chunks as a model reads them: X checked and in the model's dtype, rows numbered from 0.

    Every chunk gets the checks an X and a y get from arrays (numbers, NaN and infinity, the number of features,
    with ``scale`` the size of the values, y as long as X), and a DataFrame chunk must have the columns of the
    model, or of the stream's first chunk. Errors name the chunk and its first row.
    """

    def __init__(self, stream, n_features, names, dtype, scale=None):
        self.stream, self.n_features, self.names, self.dtype, self.scale = stream, n_features, names, dtype, scale
        self.named_by = "the model's" if names is not None else None
        self.output = None  # (activation, units, task, classes): how chunks("encoded") encodes y

    def chunks(self, y="encoded"):
        """Yield ``(start, x, y)`` for every chunk: ``x`` (m, features) in the model's dtype.

        ``y``: "encoded" (the (m, outputs) target matrix by ``self.output``), "raw" (the targets as an array) or
        None (no targets: y is None). A pass read to the end sets the stream's ``rows``.
        """
        start = 0
        for number, item in enumerate(self.stream.chunks(), start=1):
            if not (isinstance(item, tuple) and len(item) == 2):
                raise ValueError(f"chunk {number} of the stream is not a pair (X, y): got {type(item).__name__}")
            X, labels = item
            if len(X) == 0:
                continue
            try:
                x, labels = self._checked(X, labels if y else None, y is not None)
                if y == "encoded":
                    activation, units, task, classes = self.output
                    labels = targets.encode_targets(labels, activation, units, self.dtype, task, classes)[0]
            except ValueError as error:
                raise ValueError(f"chunk {number} of the stream (its rows from {start}): {error}") from None
            yield start, x, labels
            start += len(x)
        if start == 0:
            raise ValueError("the stream gave no rows (a function given as a stream must return a new iterator "
                             "of (X, y) chunks on every call)")
        self.stream.rows = start

    def first(self, y="raw"):
        """``(x, y)`` of the stream's first chunk, checked; the columns of a DataFrame are the stream's from then."""
        chunks = self.chunks(y)
        try:
            _, x, labels = next(chunks)
        finally:
            chunks.close()
        return x, labels

    def _checked(self, X, y, needs_y):
        if needs_y and y is None:
            named = getattr(self.stream, "target", None)
            fix = (f"its file has no {named}" if named else
                   "give the stream its target column(s), such as dnn.streams.csv(path, target='label')")
            raise ValueError(f"it has no targets (y is None): {fix}")
        if self.names is not None and hasattr(X, "columns"):
            columns = [str(column) for column in X.columns]
            if sorted(columns) != sorted(self.names):
                raise ValueError(f"its columns {columns} are not {self.named_by} columns {self.names}")
        x, names = preprocessing.checked_features(X, self.n_features, self.names, self.dtype)
        if self.names is None and names is not None:
            self.names, self.named_by = names, "its first chunk's"
        if self.scale is not None:
            preprocessing.check_scale(x, self.dtype, self.scale)
        if needs_y:
            y = targets.as_array(y)
            if len(y) != len(x):
                raise ValueError(f"X has {len(x)} rows but y has {len(y)}")
        return x, y


def training_rows(start, count, fraction):
    """A boolean mask of the rows start..start+count that are trained on with ``validationSplit=fraction``, or
    None for all of them."""
    if not fraction:
        return None
    return ~held_out(np.arange(start, start + count), fraction)


class Survey:
    """What one pass over a stream found (see :func:`survey`); the pass sets the stream's ``rows``."""

    def __init__(self):
        self.labels = None  # the distinct labels of a y of labels
        self.matrix_task = None  # the task of a y of target matrices (multi-label if any chunk is)
        self.mean = self.scale = None
        self.sample = Sample()


def survey(reader, fraction, find_labels, standardize):
    """Read the stream once: its rows, (with ``find_labels``) its labels, (with ``standardize``) the
    mean and scale of its training rows in float64 (as :func:`dnn.data.preprocessing.fit_standardizer`), and a
    sample of its training rows."""
    found = Survey()
    moments = preprocessing.Moments() if standardize else None
    for start, x, y in reader.chunks("raw"):
        index = np.arange(start, start + len(x))
        train = training_rows(start, len(x), fraction)
        if find_labels:
            _add_labels(found, y, reader)
        if train is not None:
            index, x, y = index[train], x[train], y[train]
        if moments is not None:
            moments.add(x)
        found.sample.add(index, x, y)
    if moments is not None:
        found.mean, found.scale = moments.mean_and_scale(reader.dtype)
    return found


def _add_labels(found, y, reader):
    """Gather the distinct labels of a chunk's ``y``, or the task of its target matrix."""
    activation, units, task, _ = reader.output
    if y.ndim == 2 and y.shape[1] > 1:
        task = targets.encode_targets(y, activation, units, reader.dtype, task)[1]
        found.matrix_task = MULTILABEL if MULTILABEL in (task, found.matrix_task) else task
        return
    labels = y.reshape(-1)
    try:
        distinct = np.unique(labels if found.labels is None else np.concatenate([found.labels, labels]))
    except TypeError:
        raise ValueError("class labels must be all numbers or all strings, not a mix") from None
    found.labels = distinct


def stream_task(found, reader):
    """(task, classes) of the labels a :func:`survey` found: those the same labels in one array give, with the
    task and classes given beforehand in ``reader.output`` (either may be None)."""
    activation, units, task, classes = reader.output
    if found.matrix_task is not None:
        return found.matrix_task, np.arange(units) if classes is None else classes
    if found.labels is None:
        return targets.default_task(activation, units)
    return targets.encode_targets(found.labels, activation, units, reader.dtype, task, classes)[1:]


class Sample:
    """A fixed sample of a stream's training rows: the SAMPLE_ROWS of lowest hash (another hash than the split's)."""

    def __init__(self):
        self.keys = np.empty(0, np.uint64)
        self.x = self.y = None

    def add(self, rows, x, y):
        keys = row_hash(rows, salt=1)
        if len(self.keys) == SAMPLE_ROWS:  # only rows that come before the last one kept can enter
            entering = keys < self.keys.max()
            keys, x, y = keys[entering], x[entering], y[entering]
        if self.x is not None:
            keys, x, y = np.concatenate([self.keys, keys]), np.concatenate([self.x, x]), np.concatenate([self.y, y])
        keep = np.sort(np.argsort(keys, kind="stable")[:SAMPLE_ROWS])
        self.keys, self.x, self.y = keys[keep], x[keep], y[keep]


class SampleRows(TrainingData):
    """A fixed sample of a stream's training rows: what callbacks see as ``run.data`` in a stream fit."""

    def epoch_order(self, rng, batch_size, shuffle=True):
        raise ValueError("a stream's rows are read chunk by chunk, never held in memory to be visited in any "
                         "order: this takes arrays (a sample of the stream loaded as arrays, for lrFind)")


class StreamPlan:
    """What :func:`plan_stream` learned of a stream: the sample, the epochs, the validation, task, classes, names."""

    def __init__(self, data, epochs, validation, task, classes, names):
        self.data, self.epochs, self.validation = data, epochs, validation
        self.task, self.classes, self.names = task, classes, names


def plan_stream(model, stream, y, task, classes, fraction, standardize, validation_stream=None):
    """Read what fit needs of a stream before training; the model is not changed.

    The first chunk always (its columns, targets and labels checked); the whole stream once (:func:`survey`) when
    the classes, the standardization (``standardize`` at a first fit) or, with a ``fraction`` held out and the
    stream's length unknown, the validation rows' count can only be known so. ``task`` and ``classes`` are the
    ones given (or the model's), each may be None. A ``validation_stream`` is read once to the end, to check it.
    """
    if y is not None:
        raise ValueError("y must be None when X is a stream: the targets come with its chunks "
                         "(dnn.streams.csv(path, target='label'))")
    mean, scale = model.feature_mean, model.feature_scale
    reader = ChunkReader(stream, model.units[0], model.feature_names, model.dtype, standardize or mean is not None)
    activation, units = model.activations[-1], model.units[-1]
    reader.output = (activation, units, task, classes)
    x, labels = reader.first("raw")
    matrix = labels.ndim == 2 and labels.shape[1] > 1
    find_labels = activation != "identity" and (
        (classes is None and not matrix) or (task is None and matrix and activation != "softmax"))
    moments = standardize and mean is None
    if find_labels or moments or (fraction and stream.rows is None):
        found = survey(reader, fraction, find_labels, moments)
    else:
        found, index = Survey(), np.arange(len(x))
        train = training_rows(0, len(x), fraction)
        found.sample.add(*((index, x, labels) if train is None else (index[train], x[train], labels[train])))
    task, classes = (stream_task(found, reader) if find_labels else
                     targets.encode_targets(labels, activation, units, model.dtype, task, classes)[1:])
    reader.output = (activation, units, task, classes)
    if moments:
        mean, scale = found.mean, found.scale
    sample = targets.encode_targets(found.sample.y, activation, units, model.dtype, task, classes)[0]
    data = SampleRows(found.sample.x, sample, mean=mean, scale=scale)
    held = None if stream.rows is None else _count_held_out(stream.rows, fraction)
    if fraction and held is not None and not 0 < held < stream.rows:
        raise ValueError(f"validationSplit {fraction} of the stream's {stream.rows} rows leaves an empty training "
                         f"or validation set")
    epochs = StreamEpochs(reader, fraction, None, stream.window, mean, scale,
                          None if stream.rows is None else stream.rows - held)
    validation = None
    if fraction:
        validation = StreamValidation(reader, fraction, held)
    elif validation_stream is not None:
        validation = _validation_stream(validation_stream, reader)
    return StreamPlan(data, epochs, validation, task, classes, reader.names)


def _validation_stream(stream, training):
    """A :class:`StreamValidation` of every row of ``stream``, read once to the end to check its chunks."""
    reader = ChunkReader(stream, training.n_features, training.names, training.dtype)
    reader.output = training.output
    try:
        for _ in reader.chunks("encoded"):
            pass
    except ValueError as error:
        raise ValueError(f"validationData: {error}") from None
    return StreamValidation(reader, None, stream.rows)


def _count_held_out(rows, fraction, block=1 << 20):
    """How many of rows 0..rows-1 :func:`dnn.streams.held_out` holds out."""
    if not fraction:
        return 0
    return sum(int(np.count_nonzero(held_out(np.arange(start, min(start + block, rows)), fraction)))
               for start in range(0, rows, block))


class StreamEpochs:
    """The epochs of a stream fit: each reads the stream, ``window`` chunks at a time, and trains on their rows.

    The rows of a window (with those left over from the last one) are visited in an order drawn from the model's
    generator (in stream order without ``shuffle``); whole batches of ``batch_size`` rows are trained, the rows left
    over join the next window, and the stream's last rows make the epoch's last, smaller batch. So every batch but
    the last has ``batch_size`` rows, as from arrays, and a window holding the whole stream visits its rows in the
    order an array fit draws.
    """

    def __init__(self, reader, fraction, batch_size, window, mean=None, scale=None, train_rows=None):
        self.reader, self.fraction, self.batch_size, self.window = reader, fraction, batch_size, window
        self.mean, self.scale, self.train_rows = mean, scale, train_rows
        self._current = None  # (snapshot, data, order, first batch) of the window being trained

    @property
    def batches(self):
        """Batches per epoch, once the training rows are counted (None before)."""
        return None if self.train_rows is None else batch_count(self.train_rows, self.batch_size)

    def train(self, trainer, lr, progress, run, callbacks, stop, shuffle):
        """Train one epoch (see :meth:`dnn.engine.training.Trainer.train_batches`); whether it reached its end."""
        rng = trainer.state.rng
        for data, order, last in self._windows(rng, shuffle):
            data = data.on_device(trainer.device)  # a window's rows go where the model computes, once
            self._current = (trainer.state.snapshot(), data, order, progress.batches)
            done = trainer.train_batches(data, order, lr, progress, run, callbacks, stop=stop)
            self._current = None
            if not done or (stop() and not last):
                return False
        self.train_rows = progress.rows
        return True

    def replay(self, trainer, lr, batches):
        """After Ctrl-C inside a batch: the state after the epoch's first ``batches`` batches.

        Every window starts from a snapshot taken once its order is drawn; its batches are deterministic given it,
        so the window's completed batches are redone from there, on its rows still in memory.
        """
        if self._current is None:  # interrupted between two windows: no batch was under way
            return
        snapshot, data, order, first = self._current
        self._current = None
        trainer.state.restore(snapshot, keep_records=None)
        progress = EpochProgress()
        progress.batches = first
        trainer.train_batches(data, order, lr, progress, last=batches - first)

    def _windows(self, rng, shuffle):
        """Yield ``(data, order, last)``: a window's rows as TrainingData, the rows to train, whether it ends the
        epoch. The rows left over stay in the buffer, moved to its front, for the next window."""
        buffer = WindowBuffer(self.window, self.batch_size)
        chunks = self._training_chunks()
        pending = next(chunks, None)
        while pending is not None:
            for _ in range(self.window):
                buffer.append(*pending)
                pending = next(chunks, None)
                if pending is None:
                    break
            last = pending is None
            order = rng.permutation(buffer.rows) if shuffle else np.arange(buffer.rows)
            use = buffer.rows if last else buffer.rows // self.batch_size * self.batch_size
            if use:
                yield TrainingData(*buffer.views(), mean=self.mean, scale=self.scale), order[:use], last
            buffer.keep(order[use:])

    def _training_chunks(self):
        """``(x, t)`` of the training rows of every chunk."""
        for start, x, t in self.reader.chunks("encoded"):
            train = training_rows(start, len(x), self.fraction)
            if train is None:
                yield x, t
            elif train.any():
                yield x[train], t[train]


class WindowBuffer:
    """The rows of a window: one buffer of inputs and one of targets, made for ``window`` chunks the size of the
    first and a batch left over, and grown only for larger chunks."""

    def __init__(self, window, batch_size):
        self.window, self.batch_size = window, batch_size
        self.x = self.t = None
        self.rows = 0

    def append(self, x, t):
        needed = self.rows + len(x)
        if self.x is None or needed > len(self.x):
            first = self.window * len(x) + self.batch_size
            capacity = max(needed, first if self.x is None else len(self.x) * 3 // 2)
            grown_x, grown_t = np.empty((capacity, x.shape[1]), x.dtype), np.empty((capacity, t.shape[1]), t.dtype)
            if self.rows:
                grown_x[:self.rows], grown_t[:self.rows] = self.x[:self.rows], self.t[:self.rows]
            self.x, self.t = grown_x, grown_t
        self.x[self.rows:needed], self.t[self.rows:needed] = x, t
        self.rows = needed

    def views(self):
        return self.x[:self.rows], self.t[:self.rows]

    def keep(self, rows):
        """Keep only ``rows`` (indices into the window), at the front."""
        self.x[:len(rows)], self.t[:len(rows)] = self.x[rows], self.t[rows]
        self.rows = len(rows)
