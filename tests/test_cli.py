"""python -m dnn: train, evaluate, predict, summary, plot on a small CSV, in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dnn
from dnn import DNN

pd = pytest.importorskip("pandas")

#: The subprocess imports the same dnn as these tests (a worktree, or the installed package).
ENV = {**os.environ, "PYTHONPATH": str(Path(dnn.__file__).resolve().parents[1])}


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "dnn", *map(str, args)], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3)) * [1, 10, 100]
    label = np.array(["low", "mid", "high"])[(X[:, 0] > -0.4).astype(int) + (X[:, 0] > 0.4)]
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "label": label})
    frame.to_csv(tmp_path / "data.csv", index=False)
    return frame


@pytest.fixture
def trained(tmp_path, data):
    done = run("train", "data.csv", "--target", "label", "--hidden", "8,4", "--activation", "tanh", "--epochs", "5",
               "--standardize", "--seed", "0", "--quiet", "--out", "m.pkl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return DNN.importModel(tmp_path / "m.pkl")


def test_train_builds_the_model_asked_for(trained):
    assert trained.units == [3, 8, 4, 3] and trained.activations == [None, "tanh", "tanh", "softmax"]
    assert trained.classes.tolist() == ["high", "low", "mid"] and trained.epochs == 5
    assert trained.feature_names == ["a", "b", "c"] and trained.feature_mean is not None


def test_predict_reads_in_chunks_and_writes_labels_and_probabilities(tmp_path, data, trained):
    shuffled = data[["c", "label", "a", "b"]]  # columns found by name, the target column ignored
    shuffled.to_csv(tmp_path / "new.csv", index=False)
    done = run("predict", "m.pkl", "new.csv", "--out", "p.csv", "--chunksize", "7", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(tmp_path / "p.csv")
    assert list(written.columns) == ["prediction", "probability_high", "probability_low", "probability_mid"]
    X = data[["a", "b", "c"]]
    assert written["prediction"].tolist() == trained.predict(X).tolist()
    np.testing.assert_allclose(written.iloc[:, 1:].to_numpy(), trained.predictProba(X), rtol=1e-6)


def test_evaluate_prints_the_accuracy_of_the_model(tmp_path, data, trained):
    done = run("evaluate", "m.pkl", "data.csv", "--target", "label", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    accuracy = trained.modelEvaluate(data[["a", "b", "c"]], data["label"], verbose=0)["accuracy"]
    assert f"| accuracy        | {accuracy:.4f} |" in done.stdout


def test_summary_and_plots(tmp_path, data, trained):
    done = run("summary", "m.pkl", cwd=tmp_path)
    assert "Total parameters: 83" in done.stdout  # 3*8+8 + 8*4+4 + 4*3+3
    for kind, extra in (("history", []), ("confusion", ["--data", "data.csv", "--target", "label"])):
        done = run("plot", "m.pkl", kind, "--out", f"{kind}.png", *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / f"{kind}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_regression_is_chosen_for_real_targets(tmp_path, data):
    data.assign(label=data["a"] * 2.5).to_csv(tmp_path / "reg.csv", index=False)
    done = run("train", "reg.csv", "--target", "label", "--epochs", "2", "--quiet", "--out", "r.pkl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert DNN.importModel(tmp_path / "r.pkl").activations[-1] == "identity"


@pytest.mark.parametrize(("args", "message"), [
    (["train", "data.csv", "--target", "nope"], "data.csv has no column 'nope'"),
    (["train", "absent.csv", "--target", "label"], "no such file: absent.csv"),
    (["train", "data.csv", "--target", "label", "--hidden", "8,x"], "--hidden takes positive integers"),
    (["train", "data.csv", "--target", "label", "--optimizer", "nope"], "unknown optimizer 'nope'"),
    (["evaluate", "data.csv", "data.csv", "--target", "label"], "not a readable dnn model file"),
    (["summary", "absent.pkl"], "no such model file: absent.pkl"),
    (["predict", "bad.pkl", "data.csv", "--out", "p.csv"], "not a readable dnn model file"),
])
def test_errors_are_one_line_and_exit_with_status_1(tmp_path, data, args, message):
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("dnn: error: ") and message in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_feature_column_in_predict(tmp_path, data, trained):
    data[["a", "b"]].to_csv(tmp_path / "two.csv", index=False)
    done = run("predict", "m.pkl", "two.csv", "--out", "p.csv", cwd=tmp_path)
    assert done.returncode == 1 and "lacks the feature columns ['c']" in done.stderr
    assert not (tmp_path / "p.csv").exists()


def test_help_shows_examples(tmp_path):
    done = run("--help", cwd=tmp_path)
    assert done.returncode == 0 and "dnn predict model.pkl new.csv --out predictions.csv" in done.stdout
    assert run("train", cwd=tmp_path).returncode == 2  # argparse: --target is required
