"""python -m dnn: train, evaluate, predict, summary, plot on a small CSV, in a subprocess."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dnn
from dnn import DNN
from dnn.adapters.cli import build_parser, main
from dnn.optimizers import OPTIMIZERS, SGD

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
    (["train", "data.csv", "--target", "label", "--record", "w,9,1,1"],
     "--record w,9,1,1: layer 9 is out of range; weights and biases belong to layers 2..3"),
    (["train", "data.csv", "--target", "label", "--record", "w,2,1"], "--record takes w,LAYER,J,I (a weight) or "
                                                                      "b,LAYER,J (a bias)"),
    (["train", "data.csv", "--target", "label", "--validation-split", "1.5"],
     "--validation-split must be a fraction in [0, 1), got 1.5"),
    (["train", "data.csv", "--target", "label", "--epochs", "0"], "--epochs must be a positive integer, got 0"),
    (["train", "data.csv", "--target", "label", "--optimizer", "sgd", "--lr", "500", "--quiet"],
     "diverged"),
    (["plot", "m.pkl", "convergence", "--out", "c.png"], "m.pkl has no recorded parameters: train it with --record"),
    (["evaluate", "data.csv", "data.csv", "--target", "label"], "not a readable dnn model file"),
    (["summary", "absent.pkl"], "no such model file: absent.pkl"),
    (["predict", "bad.pkl", "data.csv", "--out", "p.csv"], "not a readable dnn model file"),
])
def test_errors_are_one_line_and_exit_with_status_1(tmp_path, data, trained, args, message):
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("dnn: error: ") and message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed here")
def test_training_on_a_gpu_without_cupy_says_what_is_missing(tmp_path, data):
    done = run("train", "data.csv", "--target", "label", "--device", "cuda", "--quiet", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("dnn: error: --device cuda: device='cuda' needs CuPy, which is not installed")
    assert not (tmp_path / "model.pkl").exists()


def test_missing_feature_column_in_predict(tmp_path, data, trained):
    data[["a", "b"]].to_csv(tmp_path / "two.csv", index=False)
    done = run("predict", "m.pkl", "two.csv", "--out", "p.csv", cwd=tmp_path)
    assert done.returncode == 1
    assert "two.csv lacks the feature columns ['c'] the model was trained on; its columns are ['a', 'b']" in done.stderr
    assert not (tmp_path / "p.csv").exists()


def test_an_unknown_optimizer_is_a_usage_error_naming_the_registered_ones(tmp_path, data):
    done = run("train", "data.csv", "--target", "label", "--optimizer", "nope", cwd=tmp_path)
    assert done.returncode == 2 and "invalid choice: 'nope'" in done.stderr
    assert all(f"'{name}'" in done.stderr for name in OPTIMIZERS)


def test_help_shows_examples(tmp_path):
    done = run("--help", cwd=tmp_path)
    assert done.returncode == 0 and "dnn predict model.pkl new.csv --out predictions.csv" in done.stdout
    assert run("train", cwd=tmp_path).returncode == 2  # argparse: --target is required


def test_evaluate_and_confusion_name_the_file_and_the_columns_it_lacks(tmp_path, data, trained):
    data[["a", "b", "label"]].to_csv(tmp_path / "two.csv", index=False)
    for args in (["evaluate", "m.pkl", "two.csv", "--target", "label"],
                 ["plot", "m.pkl", "confusion", "--data", "two.csv", "--target", "label", "--out", "c.png"]):
        done = run(*args, cwd=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert ("dnn: error: two.csv lacks the feature columns ['c'] the model was trained on; its columns are "
                "['a', 'b', 'label']") in done.stderr


def test_evaluate_ignores_extra_columns_as_predict_does(tmp_path, data, trained):
    data.assign(note=7.0).to_csv(tmp_path / "extra.csv", index=False)
    done = run("evaluate", "m.pkl", "extra.csv", "--target", "label", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    accuracy = trained.modelEvaluate(data[["a", "b", "c"]], data["label"], verbose=0)["accuracy"]
    assert f"| accuracy        | {accuracy:.4f} |" in done.stdout


#: A table written by hand, so the row of every cell is known: data row 1 is the line below the header.
CELLS = """a,b,label
1.0,2.0,x
0.5,-1.5,y
2.5,"13,2",x
0.1,0.3,y
"""


@pytest.mark.parametrize(("table", "message"), [
    (CELLS, "bad.csv: column 'b' must hold numbers, but data row 3 holds '13,2' (data rows counted from 1 after the "
            "header); it looks like a decimal comma: dnn reads decimal points"),
    (CELLS.replace('"13,2"', "red"), "bad.csv: column 'b' must hold numbers, but data row 3 holds 'red' (data rows "
                                     "counted from 1 after the header); fix the cell, or encode a text column"),
    (CELLS.replace('"13,2"', ""), "bad.csv: column 'b' is empty in data row 3 (data rows counted from 1 after the "
                                  "header)"),
    (CELLS.replace('"13,2"', "inf"), "bad.csv: column 'b' holds inf in data row 3"),
    (CELLS.replace('"13,2"', "1.5").replace("0.1,0.3,y", "0.1,0.3,"),
     "bad.csv: column 'label' is empty in data row 4"),
])
def test_a_bad_cell_is_named_by_file_column_row_and_value(tmp_path, table, message):
    (tmp_path / "bad.csv").write_text(table)
    done = run("train", "bad.csv", "--target", "label", "--validation-split", "0", "--quiet", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("dnn: error: ") and message in done.stderr


def test_predict_and_evaluate_count_rows_across_chunks(tmp_path, data, trained):
    bad = data.astype({"b": object})
    bad.loc[8, "b"] = "13,2"  # the ninth data row, in the third chunk of 4 rows
    bad.to_csv(tmp_path / "bad.csv", index=False)
    for args in (["predict", "m.pkl", "bad.csv", "--out", "p.csv", "--chunksize", "4"],
                 ["evaluate", "m.pkl", "bad.csv", "--target", "label"]):
        done = run(*args, cwd=tmp_path)
        assert done.returncode == 1, done.stdout
        assert "bad.csv: column 'b' must hold numbers, but data row 9 holds '13,2'" in done.stderr
    assert not (tmp_path / "p.csv").exists()


def test_recorded_parameters_are_in_the_model_file_and_plot_as_convergence(tmp_path, data):
    done = run("train", "data.csv", "--target", "label", "--hidden", "4", "--epochs", "3", "--no-early-stopping",
               "--validation-split", "0", "--record", "w,2,1,3", "--record", "b,3,2", "--seed", "0", "--quiet",
               "--out", "rec.pkl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = DNN.importModel(tmp_path / "rec.pkl")
    record = model.parameterRecord
    assert sorted(record) == [("b", 3, 2), ("w", 2, 1, 3)]
    assert [len(values) for values in record.values()] == [4, 4]  # before the first update, then every epoch
    assert record[("w", 2, 1, 3)][-1] == float(model.w[2][2, 0])  # from input 3 to hidden neuron 1
    assert record[("b", 3, 2)][-1] == float(model.b[3][1])
    done = run("plot", "rec.pkl", "convergence", "--out", "convergence.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "convergence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _help(argv, capsys):
    """The help text main prints for ``argv``."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_help_lists_every_registered_optimizer_and_a_new_one_automatically(monkeypatch, capsys):
    monkeypatch.setitem(OPTIMIZERS, "brand_new", SGD)
    for argv in (["--help"], ["train", "--help"]):
        text = " ".join(_help(argv, capsys).split())  # argparse wraps lines at the terminal's width
        assert all(name in text for name in ["sgd", "adam", "rmsprop", "brand_new"]), argv
    args = build_parser().parse_args(["train", "x.csv", "--target", "y", "--optimizer", "brand_new"])
    assert args.optimizer == "brand_new"


def test_train_help_shows_the_default_of_every_option(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    blocks, current = {}, None
    for line in _help(["train", "--help"], capsys).splitlines():
        if line.startswith("  -"):  # an option's first line; its help may go on over the next lines
            current = line.split()[0].rstrip(",")
            blocks[current] = []
        if current is not None:
            blocks[current].append(line)
    defaults = vars(build_parser().parse_args(["train", "x.csv", "--target", "y"]))
    options = sorted(set(defaults) - {"command", "csv", "target"})
    assert len(options) == 30  # every option of train but --target and --no-early-stopping (which shares a default)
    for dest in options:
        option = "--" + dest.replace("_", "-")
        assert f"(default: {defaults[dest]})" in " ".join(" ".join(blocks[option]).split()), option


def test_the_console_script_named_in_setup_cfg_is_main():
    import configparser
    import importlib

    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    name, target = (part.strip() for part in config["options.entry_points"]["console_scripts"].split("="))
    module, function = target.split(":")
    assert name == "dnn" and getattr(importlib.import_module(module), function) is main
