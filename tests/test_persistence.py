import hashlib
import importlib.util
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dnn import DNN, ModelFileError
from dnn.files import persistence

FIXTURES = Path(__file__).parent / "fixtures"

# trained() fits random labels on purpose: a round trip must hold wherever training stands, stalled included
pytestmark = pytest.mark.filterwarnings("ignore::dnn.errors.TrainingStalledWarning")


def trained(optimizer="sgd", epochs=2, seed=3, labels=("no", "yes", "maybe")):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = np.array(labels)[rng.integers(0, len(labels), 60)]
    model = DNN(lr=0.05, momentum=0.9 if optimizer == "sgd" else 0.0, optimizer=optimizer, decay=0.1, seed=seed)
    model.addInputLayer([4])
    model.addHiddenLayer([6, 5], activation=["tanh", "relu"])
    model.addOutputLayer([len(labels)])
    model.fit(X, y, epochs=epochs, batchSize=8, verbose=0)
    return model, X, y


def assert_same_parameters(a, b):
    assert sorted(a.w) == sorted(b.w)
    for layer in a.w:
        np.testing.assert_array_equal(a.w[layer], b.w[layer])
        np.testing.assert_array_equal(a.b[layer], b.b[layer])


# ---------------------------------------------------------------- round trip


# The fixture's short SGD run may stall; what a file keeps and continues is the point.
@pytest.mark.filterwarnings("ignore::dnn.errors.TrainingStalledWarning")
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_round_trip_predicts_the_same_and_continues_training_exactly(optimizer, tmp_path):
    model, X, y = trained(optimizer)
    path = tmp_path / "model.pkl"
    model.saveModel(path)
    loaded = DNN.importModel(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predictProba(X), model.predictProba(X))
    assert loaded.predict(X[:3]).tolist() == model.predict(X[:3]).tolist()
    assert loaded.history == model.history
    # same result as never having stopped: optimizer state, epoch count (decay) and shuffling continue
    model.fit(X, y, epochs=2, batchSize=8, verbose=0)
    loaded.fit(X, y, epochs=2, batchSize=8, verbose=0)
    assert_same_parameters(model, loaded)
    for key in ("loss", "accuracy", "lr"):
        assert loaded.history[key] == model.history[key]


def test_the_file_is_a_plain_dict_of_builtins_and_numeric_arrays(tmp_path):
    model, _, _ = trained()
    model.saveModel(tmp_path / "m.pkl")
    globals_used = set()
    for opcode, arg, _ in __import__("pickletools").genops((tmp_path / "m.pkl").read_bytes()):
        if opcode.name in ("GLOBAL", "STACK_GLOBAL", "INST"):
            globals_used.add(arg)
    envelope = pickle.loads((tmp_path / "m.pkl").read_bytes())  # our own file: safe to load plainly here
    assert type(envelope) is dict and envelope["format"] == "dnn-model" and envelope["format_version"] == 2
    assert hashlib.sha256(envelope["payload"]).hexdigest() == envelope["sha256"]
    for opcode, arg, _ in __import__("pickletools").genops(envelope["payload"]):
        if opcode.name in ("GLOBAL", "STACK_GLOBAL", "INST"):
            globals_used.add(arg)
    payload = pickle.loads(envelope["payload"])

    def walk(value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, np.ndarray):
            assert value.dtype.kind in "biuf"
        else:
            assert value is None or type(value) in (str, int, float, bool)

    walk(payload)
    assert [layer["units"] for layer in payload["config"]["layers"]] == [4, 6, 5, 3]
    assert payload["classes"] == ["maybe", "no", "yes"]
    assert set(payload["optimizer_state"]) == {"velocity"}


def test_unfitted_model_round_trip_and_parent_directories(tmp_path):
    model = DNN(seed=0, dtype="float64")
    model.addInputLayer([3])
    model.addOutputLayer([1], activation="identity")
    path = tmp_path / "new" / "deeper" / "m.pkl"
    model.saveModel(path)
    loaded = DNN.importModel(str(path))
    assert loaded.dtype == np.float64 and loaded.task is None
    assert_same_parameters(model, loaded)


def test_saving_an_empty_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="saveModel needs a complete network"):
        DNN().saveModel(tmp_path / "m.pkl")
    assert not (tmp_path / "m.pkl").exists()


# ---------------------------------------------------------------- corrupt files


def good_payload():
    model, _, _ = trained()
    return {"format": "dnn-model", "format_version": 2, **persistence.to_payload(model)}


def write_payload(path, payload, protocol=4):
    """A model file of ``payload``; its format and format_version go into the file's envelope."""
    content = {key: value for key, value in payload.items() if key not in ("format", "format_version")}
    path.write_bytes(persistence.file_bytes(content, protocol, payload["format"], payload["format_version"]))
    return path


def tampered(change):
    payload = good_payload()
    change(payload)
    return payload


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_protocol_from_2_to_5_loads(protocol, tmp_path):
    payload = good_payload()
    loaded = DNN.importModel(write_payload(tmp_path / "m.pkl", payload, protocol))
    np.testing.assert_array_equal(loaded.w[2], payload["w"][2])


CORRUPTIONS = {
    "future format version": (lambda p: p.update(format_version=4), "newer dnn.*format version 4.*up to 3"),
    "another format": (lambda p: p.update(format="keras"), "no 'dnn-model' format marker"),
    "tampered weight shape": (lambda p: p["w"].update({3: np.zeros((5, 6), np.float32)}),
                              r"w\[3\] has shape \(5, 6\), expected \(6, 5\)"),
    "missing layer": (lambda p: p["b"].pop(4), r"b must hold layers \[2, 3, 4\]"),
    "weights not an array": (lambda p: p["w"].update({2: [[0.0] * 6] * 4}), r"w\[2\] must be a numeric array"),
    "NaN weights": (lambda p: p["w"][2].__setitem__((0, 0), np.nan), "NaN or infinite"),
    "unknown activation": (lambda p: p["config"]["layers"][1].update(activation="mish"), "mish"),
    "bad learning rate": (lambda p: p["config"].update(lr=-1), "lr must be > 0"),
    "velocity of the wrong shape": (lambda p: p["optimizer_state"]["velocity"].__setitem__(0, np.zeros(3)),
                                    r"optimizer_state.velocity\[0\] has shape"),
    "classes of the wrong count": (lambda p: p.update(classes=["a", "b"]), "2 classes for 3 class outputs"),
    "history of uneven length": (lambda p: p["history"]["loss"].append(1.0), "different lengths"),
    "bad generator state": (lambda p: p.update(rng_state={"bit_generator": "MT19937"}), "PCG64"),
    "layers not a list": (lambda p: p["config"].update(layers="4-6-5-3"), "layers must be a list"),
    # checked after the cast to the model's float32, and for agreement between fields
    "velocity finite only in float64": (lambda p: p["optimizer_state"]["velocity"].__setitem__(0,
                                                                                                np.full((4, 6), 1e300)),
                                        r"velocity\[0\] holds NaN or infinite values \(in the model's float32\)"),
    "scaler finite only in float64": (lambda p: p.update(scaler={"mean": np.zeros(4), "scale": np.full(4, 1e300)}),
                                      "scaler.scale holds NaN"),
    "binary task on a 3-unit softmax": (lambda p: p.update(task="binary"), "task does not fit the output layer"),
    "unsorted classes": (lambda p: p.update(classes=["yes", "no", "maybe"]), "distinct and sorted"),
    "duplicate classes": (lambda p: p.update(classes=["maybe", "no", "no"]), "distinct and sorted"),
    "labels beyond 64 bits": (lambda p: p.update(classes=[2**64, 2**64 + 1, 2**64 + 2]), "fit 64 bits"),
    "epochs beyond the history": (lambda p: p.update(epochs=99), "epochs does not match the length of the history"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_tampered_payload_gets_the_single_error_type(name, tmp_path):
    change, message = CORRUPTIONS[name]
    path = write_payload(tmp_path / "m.pkl", tampered(change))
    with pytest.raises(ModelFileError, match=message):
        DNN.importModel(path)


def test_file_level_corruptions(tmp_path):
    good = tmp_path / "good.pkl"
    trained()[0].saveModel(good)
    data = good.read_bytes()
    cases = {
        "missing.pkl": (None, "no model file at"),
        "empty.pkl": (b"", "is empty"),
        "text.pkl": (b"hello, I am a CSV file\n1,2,3\n", "not a readable dnn model file"),
        "another_programs_pickle.pkl": (pickle.dumps({"weights": [1, 2, 3]}), "no 'dnn-model' format marker"),
        "a_pickled_list.pkl": (pickle.dumps([1, 2]), "content is not a dnn model description"),
    }
    for cut in (1, 10, len(data) // 3, len(data) // 2, len(data) - 1):
        cases[f"truncated_{cut}.pkl"] = (data[:cut], "not a readable dnn model file")
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ModelFileError, match=message):
            DNN.importModel(path)
    with pytest.raises(ModelFileError, match="cannot read model file"):
        DNN.importModel(tmp_path)  # a directory


def test_error_type_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


# ---------------------------------------------------------------- atomic save


def test_a_failed_save_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    model = trained()[0]
    path = tmp_path / "m.pkl"
    model.saveModel(path)
    before = path.read_bytes()

    def half_then_fail(payload, f, protocol):
        f.write(b"\x80\x04partial")
        raise OSError("disk full")

    monkeypatch.setattr(persistence.pickle, "dump", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        model.saveModel(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.pkl"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_permissions_follow_the_umask(umask, tmp_path):
    model, _, _ = trained(epochs=1)
    old = os.umask(umask)
    try:
        model.saveModel(tmp_path / "m.pkl")
    finally:
        os.umask(old)
    assert (tmp_path / "m.pkl").stat().st_mode & 0o777 == 0o666 & ~umask


SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from dnn import DNN
    model = DNN(seed=0)
    model.addInputLayer([200])
    model.addHiddenLayer([300])
    model.addOutputLayer([10])
    path = sys.argv[1]
    for i in range(10**6):
        model.w[2][0, 0] = float(i)
        model.saveModel(path)
        if i == 0:
            print("ready", flush=True)
""")


def test_a_save_killed_at_random_points_always_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "m.pkl"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    rng = random.Random(0)
    seen = set()
    for _ in range(12):
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, env=env)
        assert saver.stdout.readline().strip() == b"ready"
        try:
            saver.wait(timeout=rng.uniform(0.0, 0.3))
        except subprocess.TimeoutExpired:
            saver.send_signal(signal.SIGKILL)
            saver.wait()
        loaded = DNN.importModel(path)
        assert loaded.w[2].shape == (200, 300)
        seen.add(float(loaded.w[2][0, 0]))
    assert len(seen) > 1  # the kills landed at different points of the saving loop


# ---------------------------------------------------------------- shipped files


def fixture_formulas():
    """The formulas the format fixture's values were set from (tests/fixtures/make_model_format_v1.py)."""
    spec = importlib.util.spec_from_file_location("make_fixture", FIXTURES / "make_model_format_v1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_format_v1_fixture_still_loads():
    model = DNN.importModel(FIXTURES / "model_format_v1.pkl")
    assert model.units == [3, 4, 2] and model.activations == [None, "tanh", "softmax"]
    assert model.classes.tolist() == ["no", "yes"] and len(model.history["loss"]) == 2
    assert model.feature_names == ["a", "b", "c"] and model.standardize
    assert list(model.parameterRecord) == [("w", 2, 1, 3), ("b", 3, 2)]
    formulas = fixture_formulas()
    w, b = formulas.fixture_weights(model.units)
    mean, scale = formulas.fixture_scaler(3)
    for layer in (2, 3):
        np.testing.assert_array_equal(model.w[layer], w[layer].astype(np.float32))
        np.testing.assert_array_equal(model.b[layer], b[layer].astype(np.float32))
    # a forward pass by hand from the formulas
    x = np.array([[0.5, -1.0, 2.0]])
    hidden = np.tanh((x - mean) / scale @ w[2] + b[2])
    logits = hidden @ w[3] + b[3]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(model.predictProba(x), expected, rtol=1e-5)
    assert model.predict(x).tolist() == [["no", "yes"][int(expected.argmax())]]


def test_format_v2_fixture_loads_with_its_training_state():
    model = DNN.importModel(FIXTURES / "model_format_v2.pkl")
    config = model.getConfig()
    assert [layer.get("dropout") for layer in config["layers"]] == [None, 0.25, 0.0]
    assert config["lr"] == {"name": "step", "lr": 0.1, "factor": 0.5, "every": 1}
    assert config["optimizer"] == {"name": "adam", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08}
    assert model.state.lr_factor == 0.5 and model.optimizer.state["step"] == 4
    assert model.history["lr"] == [0.1, 0.05] and model.classes.tolist() == ["no", "yes"]
    formulas = fixture_formulas()
    w, b = formulas.fixture_weights(model.units)
    mean, scale = formulas.fixture_scaler(3)
    x = np.array([[0.5, -1.0, 2.0]])
    logits = np.tanh((x - mean) / scale @ w[2] + b[2]) @ w[3] + b[3]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(model.predictProba(x), expected, rtol=1e-5)


def test_a_changed_byte_in_the_payload_fails_the_checksum(tmp_path):
    model = trained()[0]
    path = tmp_path / "m.pkl"
    model.saveModel(path)
    data = bytearray(path.read_bytes())
    envelope = pickle.loads(bytes(data))
    offset = bytes(data).index(envelope["payload"][-200:])  # a byte inside the weights
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum does not match"):
        DNN.importModel(path)


def test_shipped_digits_model_loads_and_is_accurate():
    pytest.importorskip("sklearn")
    from sklearn.model_selection import train_test_split

    from dnn.datasets import load_digits

    path = Path(__file__).resolve().parents[1] / "models" / "digits.pkl"
    if not path.exists():
        pytest.skip(f"no shipped model at {path}: models/ sits beside tests/ in the repository and the sdist")
    model = DNN.importModel(path)
    X, y = load_digits()
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.1, random_state=0)
    # raw 0..16 pixels, as load_digits gives them: the model scales them itself
    assert model.standardize and model.feature_mean.shape == (64,)
    assert model.modelEvaluate(X_test, y_test, verbose=0)["accuracy"] >= 0.97
    # the scaling is the model's: dividing by 16 first would be a different input and score far worse
    assert model.modelEvaluate(X_test / 16, y_test, verbose=0)["accuracy"] < 0.5


# ---------------------------------------------------------------- the whole file is checked


@pytest.mark.parametrize("extra", [b"\x00", b"N.", b"garbage after the end" * 100])
def test_bytes_after_the_end_of_a_saved_file_are_refused(extra, tmp_path):
    path = tmp_path / "m.pkl"
    trained()[0].saveModel(path)
    DNN.importModel(path)
    path.write_bytes(path.read_bytes() + extra)
    count = len(extra)
    with pytest.raises(ModelFileError, match=f"changed or damaged after it was written: it goes on for {count} "
                                             f"bytes? past the end of the model data"):
        DNN.importModel(path)


def test_bytes_after_the_end_of_a_format_1_file_are_refused(tmp_path):
    path = tmp_path / "v1.pkl"
    path.write_bytes((FIXTURES / "model_format_v1.pkl").read_bytes() + b"\n")
    with pytest.raises(ModelFileError, match="it goes on for 1 byte past the end"):
        DNN.importModel(path)


@pytest.mark.parametrize(("change", "message"), [
    (lambda envelope: envelope.update(note="hello"), "header was changed"),
    (lambda envelope: envelope.update(dnn_version=b"0.2.0"), "header was changed"),
    (lambda envelope: envelope.pop("dnn_version"), "header was changed"),
])
def test_the_header_beside_the_checksum_is_exactly_what_save_writes(change, message, tmp_path):
    path = tmp_path / "m.pkl"
    trained()[0].saveModel(path)
    envelope = pickle.loads(path.read_bytes())
    change(envelope)
    path.write_bytes(pickle.dumps(envelope, protocol=4))
    with pytest.raises(ModelFileError, match=message):
        DNN.importModel(path)


def test_a_file_from_another_dnn_version_of_the_same_format_loads(tmp_path):
    path = tmp_path / "m.pkl"
    model = trained()[0]
    model.saveModel(path)
    envelope = pickle.loads(path.read_bytes())
    envelope["dnn_version"] = "0.1.0"
    path.write_bytes(pickle.dumps(envelope, protocol=4))
    assert_same_parameters(DNN.importModel(path), model)


# ---------------------------------------------------------------- never a file that cannot be read back


class Halving(__import__("dnn").schedules.Schedule):
    """A schedule of the user's own: lr / 2 ** epoch."""

    name = "halving"
    settings = ("lr",)

    def __init__(self, lr):
        self.lr = lr

    def __call__(self, epoch):
        return self.lr / 2**epoch


class FasterStep(__import__("dnn").schedules.StepDecay):
    """A subclass of a built-in schedule under the built-in's name: a file would load it as a plain StepDecay."""

    def __call__(self, epoch):
        return 2 * super().__call__(epoch)


def fitted(lr):
    model = DNN(lr=lr, seed=0)
    model.addInputLayer([4])
    model.addHiddenLayer([5])
    model.addOutputLayer([3])
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(30, 4)), rng.integers(0, 3, 30), epochs=2, verbose=0)
    return model


def assert_refused_before_touching(model, tmp_path, message):
    """saveModel raises ValueError matching ``message``; an existing file stays byte-identical, nothing is added."""
    existing = tmp_path / "m.pkl"
    fitted(0.1).saveModel(existing)
    before = existing.read_bytes()
    for path in (existing, tmp_path / "new" / "deeper" / "m.pkl"):
        with pytest.raises(ValueError, match=message):
            model.saveModel(path)
    assert existing.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.pkl"]   # no temporary file, no parent folder made


def test_a_schedule_of_the_users_own_is_refused_at_save_time(tmp_path):
    model = fitted(Halving(0.1))
    assert model.history["lr"] == [0.1, 0.05]   # it works in memory
    assert_refused_before_touching(model, tmp_path, r"its learning-rate schedule Halving is not one of dnn's own "
                                                    r"\(inverse_time, step, exponential, cosine, one_cycle, warmup\) "
                                                    r"nor registered.*dnn.schedules.register\(Halving\)")


def test_a_subclass_of_a_built_in_schedule_is_refused_too(tmp_path):
    model = fitted(FasterStep(0.1, factor=0.5, every=1))
    assert model.history["lr"] == [0.2, 0.1]
    assert_refused_before_touching(model, tmp_path, "its learning-rate schedule FasterStep is not one of dnn's own")


def test_a_built_in_schedule_changed_out_of_range_is_refused(tmp_path):
    schedule = __import__("dnn").schedules.StepDecay(0.1)
    model = fitted(schedule)
    schedule.factor = 5.0   # past the checks of the constructor
    assert_refused_before_touching(model, tmp_path, "importModel would refuse its settings.*factor must be <= 1")


def test_an_optimizer_of_the_users_own_never_reaches_a_file(tmp_path):
    """The constructor and the optimizer setter rebuild an optimizer from the registry by name, refusing one not
    registered; one put into the training state directly is refused at save time."""
    from dnn.optimizers import SGD, Optimizer

    class Lion(Optimizer):
        name = "lion"

    with pytest.raises(ValueError, match=r"the optimizer Lion is not registered under its name 'lion'.*"
                                         r"dnn.optimizers.register\(Lion\)"):
        DNN(optimizer=Lion())
    model = fitted(0.1)
    with pytest.raises(ValueError, match="the optimizer Lion is not registered"):
        model.optimizer = Lion()

    class Plain(SGD):
        pass

    model.state.optimizer = Plain()
    assert_refused_before_touching(model, tmp_path, "its optimizer Plain is not one of dnn's own")
