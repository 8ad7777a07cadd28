"""dnn train's options for optimizers, schedules, penalties, clipping and max-norm, in process through main.

A model trained by the command line is compared, bit for bit, with the same network trained by hand with DNN.
"""

import numpy as np
import pytest
from conftest import assert_same_parameters

from dnn import DNN
from dnn.adapters.cli import build_parser, main
from dnn.optimizers import AdamW
from dnn.schedules import SCHEDULES, CosineDecay, InverseTimeDecay, OneCycle, Warmup

pd = pytest.importorskip("pandas")

#: dnn train's defaults, as DNN and DNN.fit take them: Adam, lr 0.01, l2 0.01, batches of 32, standardized.
DEFAULTS = {"optimizer": "adam", "lr": 0.01, "l2": 0.01, "standardize": True}


@pytest.fixture
def table(tmp_path):
    """60 rows of 3 features and 3 classes of 30, 20 and 10 rows, written to t.csv."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    frame["label"] = np.repeat(["x", "y", "z"], [30, 20, 10])
    frame.to_csv(tmp_path / "t.csv", index=False)
    return frame


def train(tmp_path, capsys, *options):
    """``dnn train t.csv --target label`` with ``options``; returns the model written and what was printed."""
    status = main(["train", str(tmp_path / "t.csv"), "--target", "label", "--seed", "0", "--quiet",
                   "--out", str(tmp_path / "m.pkl"), *map(str, options)])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    return DNN.importModel(tmp_path / "m.pkl"), printed.out


def by_hand(frame, epochs, fit_options, layer_options, **settings):
    """The network dnn train builds on ``frame`` (32 hidden units, a softmax over 3 classes), trained by hand."""
    model = DNN(seed=0, **{**DEFAULTS, **settings})
    model.addInputLayer([3])
    model.addHiddenLayer([32], **layer_options)
    model.addOutputLayer([3], activation="softmax")
    model.fit(frame[["a", "b", "c"]], frame["label"], epochs=epochs, verbose=0, **{"batchSize": 32, **fit_options})
    return model


def test_the_options_train_exactly_as_the_network_built_by_hand(tmp_path, capsys, table):
    model, out = train(tmp_path, capsys, "--optimizer", "adamw", "--weight-decay", "0.05", "--clip-norm", "1",
                       "--clip-value", "0.5", "--l1", "0.001", "--max-norm", "3", "--schedule", "onecycle",
                       "--warmup-steps", "3", "--epochs", "4", "--validation-split", "0", "--no-early-stopping")
    # 60 rows in batches of 32: 2 steps per epoch
    schedule = Warmup(OneCycle(0.01, epochs=4, steps_per_epoch=2), 3)
    twin = by_hand(table, 4, {}, {"maxNorm": 3.0}, optimizer=AdamW(weight_decay=0.05), lr=schedule, clipNorm=1.0,
                   clipValue=0.5, l1=0.001)
    assert_same_parameters(model, twin)
    config = model.getConfig()
    assert config["optimizer"] == {"name": "adamw", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                                   "weight_decay": 0.05}
    assert (config["clipNorm"], config["clipValue"], config["l1"], config["l2"]) == (1.0, 0.5, 0.001, 0.01)
    assert config["lr"] == schedule.config() and config["layers"][1]["maxNorm"] == 3.0
    assert "network: 3 inputs -> 32 relu -> 3 softmax, max norm 3 (--hidden" in out
    assert ("training: adamw, lr 0.01, weight decay 0.05, schedule one_cycle, warmup steps 3, l2 0.01, l1 0.001, "
            "clip norm 1, clip value 0.5, batch size 32, at most 4 epochs") in out


def test_one_cycle_counts_the_rows_the_stratified_split_leaves(tmp_path, capsys, table):
    model, _ = train(tmp_path, capsys, "--schedule", "one_cycle", "--batch-size", "10", "--epochs", "3",
                     "--no-early-stopping")
    # 30, 20 and 10 rows less round(0.2 * each) = 6, 4 and 2 held out leave 48 rows: 5 batches of 10
    assert model.lr == OneCycle(0.01, epochs=3, steps_per_epoch=5)
    twin = by_hand(table, 3, {"validationSplit": 0.2, "batchSize": 10}, {},
                   lr=OneCycle(0.01, epochs=3, steps_per_epoch=5))
    assert_same_parameters(model, twin)


def test_per_layer_max_norm_and_a_schedule_per_epoch(tmp_path, capsys, table):
    model, _ = train(tmp_path, capsys, "--hidden", "8,4", "--max-norm", "2,none", "--schedule", "cosine",
                     "--epochs", "3", "--validation-split", "0", "--no-early-stopping")
    assert [layer.max_norm for layer in model.layers[1:]] == [2.0, None, None]
    assert model.lr == CosineDecay(0.01, 3)
    np.testing.assert_allclose(model.history["lr"], [0.01, 0.01 * 0.75, 0.01 * 0.25], rtol=1e-15)


def test_the_defaults_leave_every_new_option_off(tmp_path, capsys, table):
    args = vars(build_parser().parse_args(["train", "t.csv", "--target", "label"]))
    assert {key: args[key] for key in ("normalization", "max_norm", "weight_decay", "schedule", "warmup_steps",
                                       "l1", "clip_norm", "clip_value")} == {
        "normalization": None, "max_norm": None, "weight_decay": None, "schedule": None, "warmup_steps": 0,
        "l1": 0.0, "clip_norm": None, "clip_value": None}
    model, _ = train(tmp_path, capsys, "--epochs", "2", "--no-early-stopping")
    assert model.lr == 0.01 and model.l1 == 0 and model.clipNorm is None and model.clipValue is None
    assert model.optimizer.config() == {"name": "adam", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    assert model.layers[1].max_norm is None


@pytest.mark.parametrize(("options", "message"), [
    (["--weight-decay", "0.01"], "--weight-decay 0.01 is a setting of the optimizer adamw, not of 'adam'"),
    (["--optimizer", "adamw", "--weight-decay", "-1"], "--weight-decay must be >= 0, got -1.0"),
    (["--clip-norm", "-1"], "--clip-norm must be > 0, got -1.0"),
    (["--clip-value", "0"], "--clip-value must be > 0, got 0.0"),
    (["--l1", "-0.5"], "--l1 must be >= 0, got -0.5"),
    (["--max-norm", "2,x", "--hidden", "4,4"], "--max-norm takes numbers (or 'none'), one or one per hidden layer "
                                               "separated by commas, got '2,x'"),
    (["--max-norm", "0"], "--max-norm must be > 0, got 0.0"),
    (["--max-norm", "2", "--hidden", ""], "--max-norm needs hidden layers, and --hidden is empty"),
    (["--warmup-steps", "-2"], "--warmup-steps must be >= 1, got -2"),
    (["--schedule", "cosine", "--lr", "0"], "--lr must be > 0, got 0.0"),
])
def test_bad_values_are_one_line_errors_naming_the_option(tmp_path, capsys, table, options, message):
    status = main(["train", str(tmp_path / "t.csv"), "--target", "label", "--quiet", "--out",
                   str(tmp_path / "m.pkl"), *options])
    error = capsys.readouterr().err
    assert status == 1 and error == f"dnn: error: {message}\n"
    assert not (tmp_path / "m.pkl").exists()


def test_schedule_names_come_from_the_registry_in_any_spelling(monkeypatch, capsys):
    parse = build_parser().parse_args
    assert parse(["train", "t.csv", "--target", "y", "--schedule", "One-Cycle"]).schedule == "one_cycle"
    with pytest.raises(SystemExit) as exited:
        parse(["train", "t.csv", "--target", "y", "--schedule", "warmup"])  # it wraps a schedule: no rate of its own
    assert exited.value.code == 2
    assert ("argument --schedule: warmup is not a valid schedule by name; valid names: inverse_time, step, "
            "exponential, cosine, one_cycle\n") in capsys.readouterr().err

    class BrandNew(InverseTimeDecay):
        name = "brand_new"

    monkeypatch.setitem(SCHEDULES, "brand_new", BrandNew)
    assert build_parser().parse_args(["train", "t.csv", "--target", "y", "--schedule", "brand-new"]).schedule == (
        "brand_new")
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--schedule {inverse_time,step,exponential,cosine,one_cycle,brand_new}" in capsys.readouterr().out


@pytest.mark.parametrize(("option", "kinds"), [("batch", ["batch", "batch"]), ("layer,none", ["layer", None])])
def test_normalization_reaches_the_hidden_layers_and_trains_as_by_hand(tmp_path, capsys, table, option, kinds):
    model, out = train(tmp_path, capsys, "--hidden", "8,4", "--normalization", option, "--epochs", "3",
                       "--validation-split", "0", "--no-early-stopping")
    assert [layer.normalization for layer in model.layers[1:]] == [*kinds, None]
    assert f"network: 3 inputs -> 8 relu -> 4 relu -> 3 softmax, normalization {option} (--hidden" in out
    twin = DNN(seed=0, **DEFAULTS)
    twin.addInputLayer([3])
    twin.addHiddenLayer([8, 4], normalization=kinds)
    twin.addOutputLayer([3], activation="softmax")
    features = table[["a", "b", "c"]]
    twin.fit(features, table["label"], epochs=3, batchSize=32, verbose=0)
    assert_same_parameters(model, twin)
    assert np.array_equal(model.predictProba(features), twin.predictProba(features))


@pytest.mark.parametrize(("options", "message"), [
    (["--normalization", "bath"], "normalization must be None, 'batch' or 'layer', got 'bath'"),
    (["--normalization", "batch", "--hidden", ""], "--normalization needs hidden layers, and --hidden is empty"),
])
def test_a_bad_normalization_is_a_one_line_error(tmp_path, capsys, table, options, message):
    assert main(["train", str(tmp_path / "t.csv"), "--target", "label", "--quiet", "--out", str(tmp_path / "m.pkl"),
                 *options]) == 1
    assert capsys.readouterr().err == f"dnn: error: {message}\n"
