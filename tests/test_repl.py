"""What a session shows: each call's result once in a REPL, progress in a terminal and in a log, one epoch count."""

import code
import contextlib
import copy
import io
import json
import pickle
import re

import numpy as np
import pytest

from dnn import DNN
from dnn.report.results import Evaluation, History

SETUP = """\
from dnn import DNN
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(size=(90, 4))
y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
model = DNN(lr=0.1, seed=0)
model.addInputLayer([4]); model.addHiddenLayer([8]); model.addOutputLayer([3])"""


class Console:
    """A scripted ``python -i`` session: each line is pushed as typed, its stdout and stderr captured."""

    def __init__(self, setup=SETUP):
        self.console = code.InteractiveConsole()
        for line in setup.splitlines():
            out, err = self.type(line)
            assert out == err == "", (line, out, err)

    def type(self, line):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            more = self.console.push(line)
        assert not more, line
        return out.getvalue(), err.getvalue()

    def value(self, name):
        return self.console.locals[name]


def count_lines(text, pattern):
    return sum(1 for line in text.splitlines() if re.fullmatch(pattern, line))


def test_summary_shows_the_table_once_and_echoes_nothing():
    console = Console()
    out, err = console.type("model.summary()")
    assert err == ""
    assert count_lines(out, r"\| Layer \| Kind +\| Units \| Activation \| Weights \| Biases \| Parameters \|") == 1
    # 4*8 + 8 and 8*3 + 3 parameters; the table's last line is the task, and no echoed string follows it
    assert count_lines(out, r"Total parameters: 67") == 1
    assert out.endswith("Task: decided from the targets at the first fit\n")
    assert "\\n" not in out and "'" not in out


def test_summary_print_fn_receives_the_text_once(capsys):
    model = Console().value("model")
    received = []
    assert model.summary(printFn=received.append) is None
    assert capsys.readouterr().out == ""
    assert len(received) == 1 and "Total parameters: 67" in received[0] and not received[0].endswith("\n")
    model.summary()
    assert capsys.readouterr().out == received[0] + "\n"
    with pytest.raises(ValueError, match="printFn must be a callable such as print, got 'log'"):
        model.summary(printFn="log")


@pytest.mark.parametrize("verbose", [0, 1])
def test_fit_echoes_one_line_after_its_progress(verbose):
    console = Console()
    out, err = console.type(f"model.fit(X, y, epochs=3, batchSize=30, verbose={verbose})")
    history = console.value("model").history
    assert isinstance(history, History) and len(history["loss"]) == 3
    expected = f"<History: 3 epochs, loss {history['loss'][-1]:.4f}, accuracy {history['accuracy'][-1]:.4f}>\n"
    assert out == expected
    # verbose=1 on a stderr that is no terminal: one line per epoch, no bar
    line = r"Epoch [123]/3 - loss \d\.\d{4} - accuracy \d\.\d{4} - lr 0\.1 - \d+\.\d\ds"
    assert count_lines(err, line) == 3 * verbose
    assert len(err.splitlines()) == 3 * verbose


def test_model_evaluate_shows_its_tables_once_and_echoes_one_line():
    console = Console()
    console.type("model.fit(X, y, epochs=2, batchSize=30, verbose=0)")
    out, err = console.type("model.modelEvaluate(X, y)")
    assert err == ""
    model, X, y = console.value("model"), console.value("X"), console.value("y")
    predicted = model.predict(X)
    counts = np.zeros((3, 3), dtype=int)
    np.add.at(counts, (y, predicted), 1)
    assert count_lines(out, r"\| Metric +\| +Value \|") == 1
    assert count_lines(out, r"\| +Confusion matrix +\|") == 1
    for true_class in range(3):  # each row of the confusion matrix once, with the counts worked out here
        cells = " +\\| +".join(str(c) for c in counts[true_class])
        assert count_lines(out, rf"\| +{true_class} \| +{cells} +\|") == 1
    accuracy = np.mean(predicted == y)
    loss = -np.mean(np.log(model.predictProba(X)[np.arange(90), y]))
    last = out.splitlines()[-1]
    assert last == f"<Evaluation: accuracy {accuracy:.4f}, loss {loss:.4f} on 90 rows>"
    assert "array(" not in out and "confusion_matrix" not in out


def test_evaluation_of_a_regression_and_of_many_classes():
    model = DNN(seed=0, dtype="float64")
    model.addInputLayer([1])
    model.addOutputLayer([1], activation="identity")
    model.w[2] = np.array([[2.0]])
    model.b[2] = np.array([0.0])
    result = model.modelEvaluate([[1.0], [2.0]], [1.0, 5.0], verbose=0)
    # predictions 2 and 4: squared error (1 + 1) / 2 / 2 = 0.5, mse 1, mae 1, r2 1 - 2 / 8
    assert repr(result) == "<Evaluation: loss 0.5000, mse 1.0000, mae 1.0000, r2 0.7500 on 2 rows>"
    wide = DNN(seed=0)
    wide.addInputLayer([2])
    wide.addOutputLayer([21])
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        wide.modelEvaluate(np.zeros((21, 2)), np.arange(21))
    assert "Confusion matrix: 21 x 21 classes, in the result's confusion_matrix" in text.getvalue()


def test_history_and_evaluation_are_dicts_that_pickle_as_plain_dicts(tmp_path):
    console = Console()
    console.type("history = model.fit(X, y, epochs=2, batchSize=30, verbose=0)")
    console.type("result = model.modelEvaluate(X, y, verbose=0)")
    model, history, result = console.value("model"), console.value("history"), console.value("result")
    assert history is model.history
    plain = {key: list(values) for key, values in history.items()}
    assert history == plain and set(history) == {"loss", "accuracy", "lr", "time"}
    assert json.loads(json.dumps(history)) == plain
    for value in (history, result):  # a pickle of either needs no dnn to load
        for copied in (pickle.loads(pickle.dumps(value)), copy.deepcopy(value)):
            assert type(copied) is dict and set(copied) == set(value)
    assert pickle.loads(pickle.dumps(history)) == plain
    assert isinstance(result, Evaluation) and result.rows == 90
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(result))["confusion_matrix"], result["confusion_matrix"])
    # the model file keeps a plain dict (its safe loading accepts nothing else), and the loaded model's fit continues it
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    assert type(loaded.history) is dict and loaded.history == plain
    continued = loaded.fit(console.value("X"), console.value("y"), epochs=1, batchSize=30, verbose=0)
    assert continued is loaded.history and len(continued["loss"]) == 3 and continued["loss"][:2] == plain["loss"]


def test_history_repr():
    assert repr(History()) == "<History: 0 epochs>"
    one = History(loss=[0.5], lr=[0.1], time=[0.01])
    assert repr(one) == "<History: 1 epoch, loss 0.5000>"
    validated = History(loss=[0.9, 0.25], accuracy=[0.5, 0.75], val_loss=[1.0, float("nan")],
                        val_accuracy=[0.5, 0.625], lr=[0.1, 0.1], time=[0.0, 0.0])
    assert validated.epochs == 2
    assert repr(validated) == ("<History: 2 epochs, loss 0.2500, accuracy 0.7500, val_loss nan, "
                               "val_accuracy 0.6250>")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_redraws_a_bar_only_on_a_terminal(monkeypatch):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(100, 3)), rng.integers(0, 2, 100)
    model = DNN(seed=0)
    model.addInputLayer([3])
    model.addOutputLayer([2])
    log = io.StringIO()  # a log file: one line per epoch, no carriage returns
    monkeypatch.setattr("sys.stderr", log)
    model.fit(X, y, epochs=4, batchSize=5, verbose=1)
    lines = log.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/4", "Epoch 2/4", "Epoch 3/4", "Epoch 4/4"]
    assert "\r" not in log.getvalue()
    terminal = Terminal()  # a terminal: tqdm's bar over the 20 batches, redrawn in place
    monkeypatch.setattr("sys.stderr", terminal)
    model.fit(X, y, epochs=1, batchSize=5, verbose=1)
    text = terminal.getvalue()
    assert "\r" in text and "Epoch 5/5" in text and "20/20" in text and "loss=" in text


def test_epochs_are_numbered_over_all_fits_in_bars_lines_and_early_stopping(monkeypatch):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 2, 60)
    Xv, yv = rng.normal(size=(60, 4)), rng.integers(0, 2, 60)
    model = DNN(lr=0.5, seed=0)
    model.addInputLayer([4])
    model.addHiddenLayer([32])
    model.addOutputLayer([2])
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    model.fit(X, y, epochs=3, batchSize=10, verbose=2)
    model.fit(X, y, epochs=100, batchSize=10, verbose=1, validationData=(Xv, yv), earlyStopping=3)
    first = [int(m) for m in re.findall(r"^Epoch (\d+)/3 - ", out.getvalue(), re.MULTILINE)]
    second = [int(m) for m in re.findall(r"^Epoch (\d+)/103 - ", err.getvalue(), re.MULTILINE)]
    val_loss = model.history["val_loss"]
    best = int(np.nanargmin(val_loss)) + 1  # epochs 1-3 had no validation: NaN
    assert first == [1, 2, 3]
    assert second == list(range(4, len(val_loss) + 1)) and len(val_loss) == best + 3 < 103
    assert model.stoppedEarly["epoch"] == second[-1] and model.restoredEpoch == best
    assert (f"Early stopping after epoch {second[-1]}: val_loss has not improved by more than 0 for 3 epochs; "
            f"restored the weights of epoch {best}") in out.getvalue()
