"""Data larger than memory: fit, predict and modelEvaluate on streams of chunks (dnn.streams).

The references are the same rows loaded as arrays: a stream trains as an array fit does (bit for bit when one window
holds every row), scales with fit_standardizer's statistics, and predicts what the arrays predict.
"""

import numpy as np
import pandas as pd
import pytest

import dnn.streams
from dnn import DNN, TrainingDivergedError
from dnn.data.preprocessing import fit_standardizer
from dnn.engine import stream_evaluation, training
from dnn.engine.batches import TrainingData
from dnn.engine.streaming import SAMPLE_ROWS


def table(n=1200, features=6, seed=0, labels=("ant", "bee", "cat")):
    """Features of very different scales and offsets, and labels a small network learns (a linear teacher)."""
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(features, len(labels)))
    z = rng.normal(size=(n, features))
    X = z * np.geomspace(0.1, 1000, features) + np.arange(features) * 50
    y = np.asarray(labels)[(z @ teacher).argmax(axis=1)]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)])
    return frame, pd.Series(y, name="label")


def write_csv(path, frame, y):
    frame.assign(label=y).to_csv(path, index=False)
    return path


def net(features=6, classes=3, seed=0, dtype="float32", **settings):
    model = DNN(lr=0.05, momentum=0.9, seed=seed, dtype=dtype, **settings)
    model.addInputLayer([features])
    model.addHiddenLayer([16], activation="tanh")
    model.addOutputLayer([classes], activation="softmax")
    model.threads = 1  # one BLAS thread: products of any size are then computed alike, row by row
    return model


@pytest.fixture
def data(tmp_path):
    frame, y = table()
    return frame, y, write_csv(tmp_path / "rows.csv", frame, y)


def parameters(model):
    return model.state.params.flat.copy()


class Counting:
    """A stream over arrays (a function that returns a new iterator per call) that counts its passes."""

    def __init__(self, frame, y, chunk_rows):
        self.frame, self.y, self.chunk_rows, self.passes = frame, y, chunk_rows, 0

    def __call__(self):
        self.passes += 1
        return ((self.frame[i:i + self.chunk_rows], self.y[i:i + self.chunk_rows])
                for i in range(0, len(self.frame), self.chunk_rows))


def test_a_window_holding_every_row_trains_bit_for_bit_as_the_arrays(data):
    frame, y, path = data
    arrays = net()
    arrays.fit(frame, y, epochs=4, batchSize=32, verbose=0, standardize=True)
    stream = net()
    stream.fit(dnn.streams.csv(path, target="label", chunk_rows=100, window=20), None, epochs=4, batchSize=32,
               verbose=0, standardize=True)
    np.testing.assert_array_equal(parameters(stream), parameters(arrays))
    assert stream.history["loss"] == arrays.history["loss"]
    assert stream.classes.tolist() == ["ant", "bee", "cat"] and stream.feature_names == arrays.feature_names


def test_small_windows_train_as_well_as_the_arrays_and_repeat_exactly(data, tmp_path):
    frame, y, path = data
    test_frame, test_y = table(n=1800)[0][1200:], table(n=1800)[1][1200:]  # the same teacher, other rows
    arrays = net()
    arrays.fit(frame, y, epochs=15, batchSize=32, verbose=0, standardize=True)
    runs = []
    for _ in range(2):
        model = net()
        model.fit(dnn.streams.csv(path, target="label", chunk_rows=70, window=3), None, epochs=15, batchSize=32,
                  verbose=0, standardize=True)
        runs.append(model)
    np.testing.assert_array_equal(parameters(runs[0]), parameters(runs[1]))  # the same seed: the same weights
    assert not np.array_equal(parameters(runs[0]), parameters(arrays))  # shuffled otherwise than the arrays
    accuracy = [float((model.predict(test_frame) == test_y).mean()) for model in (arrays, runs[0])]
    assert accuracy[0] > 0.9
    assert abs(accuracy[1] - accuracy[0]) <= 0.03  # the tolerance: 18 of the 600 test rows


def test_the_streaming_standardizer_is_fit_standardizer_on_the_training_rows(data):
    frame, _, path = data
    model = net(dtype="float64")
    model.fit(dnn.streams.csv(path, target="label", chunk_rows=97), None, epochs=1, verbose=0, standardize=True,
              validationSplit=0.2)
    train_rows = np.flatnonzero(~dnn.streams.held_out(np.arange(len(frame)), 0.2))
    mean, scale = fit_standardizer(frame.to_numpy(), train_rows, np.float64)
    np.testing.assert_allclose(model.feature_mean, mean, rtol=1e-12, atol=0)
    np.testing.assert_allclose(model.feature_scale, scale, rtol=1e-12, atol=0)


def test_the_held_out_rows_are_the_same_every_epoch_and_never_trained_on(data, monkeypatch):
    frame, y, _ = data
    frame = frame.assign(f0=np.arange(len(frame), dtype=float))  # each row's number, read back from the batches
    trained, validated = [], []
    gather, chunks = TrainingData.gather, stream_evaluation.StreamValidation._chunks

    def recording_gather(self, index, x, t, s):
        trained[-1].extend(self.x[index, 0].astype(int).tolist())
        return gather(self, index, x, t, s)

    def recording_chunks(self):
        for x, t in chunks(self):
            validated[-1].extend(x[:, 0].astype(int).tolist())
            yield x, t

    class Epochs(dnn.callbacks.Callback):
        def on_epoch_begin(self, run, epoch):
            trained.append([])
            validated.append([])

    monkeypatch.setattr(TrainingData, "gather", recording_gather)
    monkeypatch.setattr(stream_evaluation.StreamValidation, "_chunks", recording_chunks)
    model = net(standardize=True)
    source = Counting(frame, y, 128)
    stream = dnn.streams.from_callable(source)
    model.fit(stream, None, epochs=3, batchSize=20, verbose=0, validationSplit=0.25, callbacks=[Epochs()])
    assert source.passes == 1 + 1 + 3 * 2  # the first chunk, the first pass, each epoch's training and validation
    model.fit(stream, None, epochs=1, batchSize=20, verbose=0, validationSplit=0.25, callbacks=[Epochs()])
    assert source.passes == 8 + 1 + 2  # its classes, scaling and length known: no first pass
    held = np.flatnonzero(dnn.streams.held_out(np.arange(len(frame)), 0.25))
    for rows, checked in zip(trained, validated):
        assert sorted(rows) == sorted(set(range(len(frame))) - set(held))  # every training row once an epoch
        assert checked == held.tolist()
    assert trained[0] != trained[1]  # shuffled anew every epoch
    n = len(frame)
    assert abs(len(held) - 0.25 * n) < 3 * np.sqrt(n * 0.25 * 0.75)
    assert len(trained) == 4 and len(model.history["val_loss"]) == 4


def test_held_out_is_a_fixed_hash_of_the_row_number():
    rows = np.arange(200_000)
    held = dnn.streams.held_out(rows, 0.1)
    assert abs(held.mean() - 0.1) < 0.003
    np.testing.assert_array_equal(held[1000:2000], dnn.streams.held_out(np.arange(1000, 2000), 0.1))
    assert not (held & ~dnn.streams.held_out(rows, 0.3)).any()  # a larger fraction holds out a superset

    def splitmix64(state):  # the reference, in Python integers: the first output of splitmix64 from ``state``
        z = (state + 0x9E3779B97F4A7C15) % 2**64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        return z ^ (z >> 31)

    assert splitmix64(0) == 0xE220A8397B1DCDAF  # splitmix64's published first output from seed 0
    some = [0, 1, 2, 3, 10**6, 2**40 + 7]
    assert dnn.streams.row_hash(some).tolist() == [splitmix64(row) >> 32 for row in some]
    assert dnn.streams.held_out(some, 0.5).tolist() == [splitmix64(row) >> 32 < 2**31 for row in some]


def test_predictions_and_evaluations_of_a_stream_are_those_of_the_arrays(data):
    frame, y, path = data
    model = net()
    model.fit(frame, y, epochs=3, verbose=0, standardize=True)
    stream = dnn.streams.csv(path, target="label", chunk_rows=333)
    streamed, loaded = model.modelEvaluate(stream, verbose=0), model.modelEvaluate(frame, y, verbose=0)
    assert "roc_auc" not in streamed and "row count" in streamed["notes"][0]  # its length was not known yet
    assert stream.rows == len(frame)  # it is now
    assert (model.predict(stream) == model.predict(frame)).all()
    np.testing.assert_array_equal(model.predictProba(stream), model.predictProba(frame))
    np.testing.assert_array_equal(model.predictLogProba(stream), model.predictLogProba(frame))
    for key in ("accuracy", "macro_f1", "confusion_matrix", "support"):
        np.testing.assert_equal(streamed[key], loaded[key])
    # sums of float32 losses, grouped by chunk: equal to float32's rounding
    assert streamed["loss"] == pytest.approx(loaded["loss"], rel=1e-6)
    assert streamed["log_loss"] == pytest.approx(loaded["log_loss"], rel=1e-6)
    fresh = dnn.streams.csv(path, target="label", chunk_rows=333)
    counted = model.modelEvaluate(fresh, verbose=0, ranking=True)  # a pass counts the rows first
    assert counted["roc_auc"] == loaded["roc_auc"] and fresh.rows == len(frame)
    known = model.modelEvaluate(stream, verbose=0)  # its rows known: as for arrays
    assert known["average_precision"] == loaded["average_precision"]
    unfitted = net()  # its classes are read off the stream's labels, as off y
    unfitted.state.params.flat[...] = model.state.params.flat
    on_arrays = unfitted.modelEvaluate(frame.to_numpy(), np.arange(len(y)) % 3, verbose=0)
    on_stream = unfitted.modelEvaluate(lambda: iter([(frame.to_numpy(), np.arange(len(y)) % 3)]), verbose=0)
    assert on_stream["accuracy"] == on_arrays["accuracy"] and unfitted.classes is None


def test_a_regression_stream_with_two_targets(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 4))
    targets = pd.DataFrame({"a": X @ [1.0, -2.0, 0.5, 0.0], "b": X[:, 0] * 3})
    path = tmp_path / "values.csv"
    pd.DataFrame(X, columns=list("wxyz")).join(targets).to_csv(path, index=False)
    stream = dnn.streams.csv(path, target=["a", "b"], chunk_rows=64)
    model = DNN(lr=0.02, seed=1)
    model.addInputLayer([4])
    model.addHiddenLayer([8], activation="tanh")
    model.addOutputLayer([2], activation="identity")
    model.threads = 1
    model.fit(stream, epochs=30, verbose=0)
    loaded = pd.DataFrame(X, columns=list("wxyz"))
    np.testing.assert_array_equal(model.predict(stream), model.predict(loaded))
    assert model.modelEvaluate(stream, verbose=0)["r2"] > 0.9
    assert model.modelEvaluate(stream, verbose=0)["mse"] == pytest.approx(
        model.modelEvaluate(loaded, targets, verbose=0)["mse"], rel=1e-6)


def test_classes_from_the_first_pass_or_given(data):
    frame, y, _ = data
    found = Counting(frame, y, 200)
    first = net()
    first.fit(found, None, epochs=2, verbose=0)
    assert found.passes == 1 + 1 + 2  # the first chunk, the pass for the classes, two epochs
    given = Counting(frame, y, 200)
    second = net()
    second.fit(given, None, epochs=2, verbose=0, classes=["cat", "ant", "bee"])
    assert given.passes == 1 + 2  # no pass before training
    assert first.classes.tolist() == second.classes.tolist() == ["ant", "bee", "cat"]
    np.testing.assert_array_equal(parameters(first), parameters(second))
    on_the_stream = dnn.streams.from_callable(Counting(frame, y, 200), classes=["ant", "bee", "cat"])
    third = net()
    third.fit(on_the_stream, None, epochs=2, verbose=0)
    np.testing.assert_array_equal(parameters(third), parameters(first))
    with pytest.raises(ValueError, match=r"labels \['cat'\] are not among the model's classes"):
        net().fit(Counting(frame, y, 200), None, epochs=1, verbose=0, classes=["ant", "bee", "dog"])


def test_a_function_that_returns_an_iterator_is_a_stream(data):
    frame, y, _ = data
    X, labels = frame.to_numpy(), y.to_numpy()

    def chunks():
        for start in range(0, len(X), 150):
            yield X[start:start + 150], labels[start:start + 150]

    model = net()
    model.fit(chunks, None, epochs=5, verbose=0, standardize=True)
    assert model.feature_names is None and model.history["accuracy"][-1] > 0.8
    assert (model.predict(chunks) == model.predict(X)).all()
    assert (model.predict(lambda: (X[i:i + 100] for i in range(0, len(X), 100))) == model.predict(X)).all()


def test_a_second_stream_validates_as_the_same_rows_as_arrays(data, tmp_path):
    frame, y, path = data
    check_frame, check_y = table(n=1500)[0][1200:], table(n=1500)[1][1200:]
    check_path = write_csv(tmp_path / "check.csv", check_frame.reset_index(drop=True), check_y.reset_index(drop=True))
    streamed, loaded = net(), net()
    common = {"epochs": 2, "verbose": 0, "standardize": True, "metrics": ["roc_auc", "f1"]}
    stream = dnn.streams.csv(path, target="label", chunk_rows=100, window=20)
    streamed.fit(stream, validationData=dnn.streams.csv(check_path, target="label", chunk_rows=64), **common)
    loaded.fit(frame, y, validationData=(check_frame, check_y), **common)
    for key in ("val_loss", "val_accuracy", "val_roc_auc", "val_f1"):
        np.testing.assert_allclose(streamed.history[key], loaded.history[key], rtol=1e-6)


@pytest.mark.parametrize("how", ["changed columns", "missing target", "y given", "weights", "nan", "no rows"])
def test_clear_errors_leave_the_model_as_it_was(data, tmp_path, how):
    frame, y, path = data
    model = net()
    before = parameters(model)
    stream, options, message = dnn.streams.csv(path, target="label", chunk_rows=500), {}, None
    if how == "changed columns":
        chunks = [(frame[:500], y[:500]), (frame[500:].rename(columns={"f2": "g2"}), y[500:])]
        stream, message = (lambda: iter(chunks)), r"chunk 2 of the stream \(its rows from 500\): its columns .*g2"
    elif how == "missing target":
        stream = dnn.streams.csv(path, target="kind")
        message = r"chunk 1 of .* no targets \(y is None\): its file has no \['kind'\]"
    elif how == "y given":
        options, message = {"y": y}, "y must be None when X is a stream"
    elif how == "weights":
        options, message = {"sampleWeight": np.ones(len(y))}, "a stream's rows have no weights"
    elif how == "nan":
        bad = frame.copy()
        bad.iloc[700, 3] = np.nan
        stream = dnn.streams.csv(write_csv(tmp_path / "nan.csv", bad, y), target="label", chunk_rows=500)
        message = r"chunk 2 of the stream \(its rows from 500\): X contains NaN or infinity \(first in row 200\)"
    else:
        stream, message = (lambda: iter([])), "the stream gave no rows"
    with pytest.raises(ValueError, match=message):
        model.fit(stream, options.pop("y", None), epochs=1, verbose=0, **options)
    np.testing.assert_array_equal(parameters(model), before)
    assert model.epochs == 0 and model.classes is None


def test_a_bad_chunk_found_in_an_epoch_puts_the_model_back_at_its_start(data):
    frame, y, _ = data
    source = Counting(frame, y, 300)
    model = net()
    model.fit(source, None, epochs=1, verbose=0, classes=["ant", "bee", "cat"])
    after_one = parameters(model)
    source.y = y.where(np.arange(len(y)) != 900, "dog")  # the file changed under the model
    with pytest.raises(ValueError, match=r"chunk 4 of the stream.*labels \['dog'\]"):
        model.fit(source, None, epochs=2, verbose=0)
    np.testing.assert_array_equal(parameters(model), after_one)
    assert model.epochs == 1 and len(model.history["loss"]) == 1


def test_ctrl_c_inside_a_batch_of_a_stream_keeps_the_last_whole_batch(data, monkeypatch, capsys):
    path = data[2]
    spec = [("w", 2, 1, 1), ("b", 3, 2)]

    def fit(model):
        stream = dnn.streams.csv(path, target="label", chunk_rows=90, window=2)
        return model.fit(stream, None, epochs=2, batchSize=25, verbose=0, parameterList=spec, recordEvery="batch",
                         standardize=True)

    reference = net()
    fit(reference)
    calls = {"n": 0}
    original = training.backward_pass

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 60:  # epoch 2 (of 48 batches), batch 12: in its second window
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "backward_pass", interrupting)
    model = net()
    fit(model)
    assert model.epochs == 1
    for key, values in model.parameterRecord.items():
        assert values == reference.parameterRecord[key][:1 + 59]
    assert "interrupted in epoch 2 after batch 11 of 48" in capsys.readouterr().err


def test_a_diverging_stream_goes_back_to_a_safe_start():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 3)) * 100

    def chunks():
        for start in range(0, 400, 50):
            yield X[start:start + 50], X[start:start + 50].sum(axis=1)

    model = DNN(lr=0.5, seed=0)
    model.addInputLayer([3])
    model.addHiddenLayer([4], activation="relu")
    model.addOutputLayer([1], activation="identity")
    before = parameters(model)
    with pytest.raises(TrainingDivergedError, match="back at the start of epoch 1"):
        model.fit(chunks, None, epochs=3, verbose=0)
    np.testing.assert_array_equal(parameters(model), before)
    assert model.epochs == 0


def test_parquet(data, tmp_path):
    pytest.importorskip("pyarrow")
    frame, y, path = data
    parquet = tmp_path / "rows.parquet"
    frame.assign(label=y).to_parquet(parquet)
    from_csv, from_parquet = net(), net()
    from_csv.fit(dnn.streams.csv(path, target="label", chunk_rows=128), None, epochs=2, verbose=0)
    from_parquet.fit(dnn.streams.parquet(parquet, target="label", chunk_rows=128), None, epochs=2, verbose=0)
    np.testing.assert_array_equal(parameters(from_parquet), parameters(from_csv))
    predicted = from_parquet.predict(dnn.streams.parquet(parquet, "label", chunk_rows=500))
    assert (predicted == from_parquet.predict(frame)).all()


def test_what_a_stream_cannot_do(data):
    frame, _, path = data
    stream = dnn.streams.csv(path, target="label")
    model = net()
    with pytest.raises(ValueError, match="a stream's rows are read chunk by chunk"):
        model.lrFind(stream, None)
    with pytest.raises(ValueError, match="modelEvaluate needs y"):
        model.modelEvaluate(frame, verbose=0)
    seen = {}

    class Looking(dnn.callbacks.Callback):
        def on_train_begin(self, run):
            seen["data"], seen["batches"] = run.data, run.batches

        def on_epoch_begin(self, run, epoch):
            seen[epoch] = run.batches

    model.fit(stream, None, epochs=2, batchSize=50, verbose=0, callbacks=[Looking()])
    assert len(seen["data"]) == SAMPLE_ROWS and seen["data"].x.shape == (SAMPLE_ROWS, 6)  # a sample of the rows
    assert seen[0] == 24 and seen[1] == 24  # counted by the pass that found the classes
    with pytest.raises(ValueError, match="takes arrays"):
        model.drawConfusionMatrix(stream, None)
    with pytest.raises(ValueError, match="window must be a positive integer"):
        dnn.streams.csv(path, window=0)
    with pytest.raises(ValueError, match=r"X is an iterator .* read only once"):
        model.fit(iter([(frame, None)]), None, epochs=1, verbose=0)
