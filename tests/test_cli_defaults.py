"""dnn train's defaults: they learn small tables well, say what they chose, and each can be turned off.

Run in-process through :func:`dnn.adapters.cli.main`; every file goes to tmp_path.
"""

import re

import numpy as np
import pytest

from dnn import DNN
from dnn.adapters.cli import main

pd = pytest.importorskip("pandas")


def train(capsys, *args):
    """Run ``dnn train`` and return what it printed; fails the test on an error."""
    status = main(["train", *map(str, args), "--quiet"])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    return printed.out


def split(frame, tmp_path, name, stratify=True):
    """Write 3/4 of ``frame`` to name_train.csv and the rest to name_test.csv (the same rows every run)."""
    rows = np.random.default_rng(0).permutation(len(frame))
    if stratify:  # every class in both parts, in proportion
        labels = frame["label"].to_numpy()[rows]
        test = np.concatenate([rows[labels == label][::4] for label in np.unique(labels)])
    else:
        test = rows[::4]
    train_rows = np.setdiff1d(np.arange(len(frame)), test)
    frame.iloc[train_rows].to_csv(tmp_path / f"{name}_train.csv", index=False)
    frame.iloc[test].to_csv(tmp_path / f"{name}_test.csv", index=False)
    return frame.iloc[test]


def r2(y, p):
    return 1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum()


def test_defaults_learn_iris_and_say_what_they_chose(tmp_path, capsys):
    datasets = pytest.importorskip("sklearn.datasets")
    frame = datasets.load_iris(as_frame=True).frame.rename(columns={"target": "label"})
    test = split(frame, tmp_path, "iris")
    out = train(capsys, tmp_path / "iris_train.csv", "--target", "label", "--seed", "0", "--out", tmp_path / "m.pkl")
    model = DNN.importModel(tmp_path / "m.pkl")
    accuracy = np.mean(model.predict(test.drop(columns="label")) == test["label"].to_numpy())
    assert accuracy >= 0.85  # 0.92 measured; the defaults before: 0.62 on average (20 epochs, unstandardized)
    assert model.feature_mean is not None and model.units == [4, 32, 3] and model.l2 == 0.01
    assert "task: classification into 3 classes (the target holds 3 distinct integers; --regression" in out
    assert "network: 4 inputs -> 32 relu -> 3 softmax" in out
    assert "training: adam, lr 0.01, l2 0.01, batch size 32, at most 1000 epochs" in out
    assert "features: standardized inside the model (--no-standardize to turn off)" in out
    assert f"validation: 20% of the {len(frame) - len(test)} rows held out for validation, stratified by class" in out
    assert "early stopping: after 20 epochs without a lower validation loss, keeping the weights of the best" in out
    # The epoch kept is the one of lowest validation loss, and the printed metrics are that epoch's.
    history = model.history
    best = int(np.argmin(history["val_loss"]))
    assert len(history["val_loss"]) - 1 - best == 20  # stopped by the patience, 20 epochs after the best
    kept = re.search(r"stopped early after epoch (\d+); kept the weights of epoch (\d+): (.*)", out)
    assert kept is not None, out
    assert (int(kept[1]), int(kept[2])) == (len(history["val_loss"]), best + 1)
    assert f"val_loss {history['val_loss'][best]:.4f}" in kept[3]
    assert f"val_accuracy {history['val_accuracy'][best]:.4f}" in kept[3]


def test_defaults_take_integer_targets_with_many_values_for_a_regression_and_learn_diabetes(tmp_path, capsys):
    datasets = pytest.importorskip("sklearn.datasets")
    frame = datasets.load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "label"})
    test = split(frame, tmp_path, "diabetes", stratify=False)
    out = train(capsys, tmp_path / "diabetes_train.csv", "--target", "label", "--seed", "0",
                "--out", tmp_path / "m.pkl")
    model = DNN.importModel(tmp_path / "m.pkl")
    assert model.activations[-1] == "identity"  # before: a softmax over 214 "classes", R^2 below 0
    assert re.search(r"task: regression \(the target holds \d+ distinct numbers; --classification to change\)", out)
    assert "target: standardized for training (mean " in out
    assert r2(test["label"].to_numpy(), model.predict(test.drop(columns="label")).ravel()) > 0.25  # 0.39


def test_the_target_scale_is_folded_into_the_output_layer(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=1000 + 300 * X[:, 0] - 200 * X[:, 1] ** 2)
    test = split(frame, tmp_path, "wide", stratify=False)
    out = train(capsys, tmp_path / "wide_train.csv", "--target", "label", "--seed", "0", "--out", tmp_path / "m.pkl")
    model = DNN.importModel(tmp_path / "m.pkl")
    mean = pd.read_csv(tmp_path / "wide_train.csv")["label"].mean()
    assert f"mean {mean:.6g}" in out
    predictions = model.predict(test.drop(columns="label")).ravel()
    assert r2(test["label"].to_numpy(), predictions) > 0.95  # in the target's own units, offset 1000 and all


def test_each_choice_can_be_turned_off(tmp_path, capsys, rng):
    frame = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    frame["label"] = (frame["a"] > 0).astype(int)
    frame.to_csv(tmp_path / "t.csv", index=False)
    out = train(capsys, tmp_path / "t.csv", "--target", "label", "--no-standardize", "--validation-split", "0",
                "--no-early-stopping", "--epochs", "3", "--l2", "0", "--out", tmp_path / "m.pkl")
    model = DNN.importModel(tmp_path / "m.pkl")
    assert model.feature_mean is None and model.epochs == 3 and model.l2 == 0
    assert set(model.history) == {"loss", "accuracy", "lr", "time"}  # no validation
    assert "features: as they are" in out and "validation: none" in out and "early stopping: none" in out
    assert "trained 3 epochs: " in out

    frame["label"] = 1000 + 3 * frame["a"]
    frame.to_csv(tmp_path / "r.csv", index=False)
    out = train(capsys, tmp_path / "r.csv", "--target", "label", "--no-scale-target", "--epochs", "2",
                "--out", tmp_path / "r.pkl")
    assert "target: standardized" not in out and "(losses in standardized target units)" not in out


def test_classification_or_regression_can_be_forced(tmp_path, capsys, rng):
    frame = pd.DataFrame(rng.normal(size=(120, 2)), columns=["a", "b"])
    frame["label"] = np.arange(120) % 25  # 25 distinct integers: a regression unless told
    frame.to_csv(tmp_path / "t.csv", index=False)
    train(capsys, tmp_path / "t.csv", "--target", "label", "--epochs", "1", "--out", tmp_path / "r.pkl")
    assert DNN.importModel(tmp_path / "r.pkl").units[-1] == 1
    out = train(capsys, tmp_path / "t.csv", "--target", "label", "--classification", "--validation-split", "0",
                "--epochs", "1", "--out", tmp_path / "c.pkl")
    assert DNN.importModel(tmp_path / "c.pkl").units[-1] == 25
    assert "task: classification into 25 classes (--classification)" in out


def test_a_table_too_small_for_the_validation_split_says_how_to_train_on_it(tmp_path, capsys):
    pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "label": [0, 0, 1, 1]}).to_csv(tmp_path / "tiny.csv", index=False)
    assert main(["train", str(tmp_path / "tiny.csv"), "--target", "label", "--out", str(tmp_path / "m.pkl")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("dnn: error: --validation-split 0.2 of 4 rows, split class by class, leaves no "
                            "training or validation rows")
    assert "give --validation-split 0 for a table this small" in error
    assert not (tmp_path / "m.pkl").exists()
