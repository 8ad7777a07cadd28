import numpy as np
import pytest

from dnn import DNN


def small(seed=0, **options):
    model = DNN(**{"lr": 0.1, "momentum": 0.9, "seed": seed, **options})
    model.addInputLayer([3])
    model.addHiddenLayer([5])
    model.addOutputLayer([4])
    return model


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.integers(0, 4, n)


SPECS = [("w", 2, 4, 3), ("w", 3, 1, 5), ("b", 2, 1), ("b", 3, 4)]


def value(model, spec):
    if spec[0] == "w":
        return float(model.w[spec[1]][spec[3] - 1, spec[2] - 1])
    return float(model.b[spec[1]][spec[2] - 1])


def test_ordering_convention_on_a_hand_set_model():
    model = small()
    model.w[2] = np.arange(15, dtype=float).reshape(3, 5)   # w[2][i-1, j-1] = 5 (i-1) + (j-1)
    model.b[2] = np.arange(5, dtype=float) + 100
    model.fit(*data(), epochs=1, batchSize=40, verbose=0, parameterList=[("w", 2, 4, 3), ("b", 2, 1)])
    # ('w', 2, 4, 3): from neuron 3 of layer 1 to neuron 4 of layer 2 = w[2][2, 3] = 5 * 2 + 3
    assert model.parameterRecord[("w", 2, 4, 3)][0] == 13.0
    assert model.parameterRecord[("b", 2, 1)][0] == 100.0


def test_recorded_values_are_the_real_parameters_after_every_epoch():
    X, y = data()
    recorded = small(seed=3)
    recorded.fit(X, y, epochs=3, batchSize=8, verbose=0, parameterList=SPECS)
    stepped = small(seed=3)
    expected = {spec: [value(stepped, spec)] for spec in SPECS}
    for _ in range(3):
        stepped.fit(X, y, epochs=1, batchSize=8, verbose=0)
        for spec in SPECS:
            expected[spec].append(value(stepped, spec))
    assert recorded.parameterRecord == expected
    for spec in SPECS:
        assert recorded.parameterRecord[spec][-1] == value(recorded, spec)


def test_record_every_batch_and_repeated_fits_append():
    X, y = data(n=40)
    model = small()
    model.fit(X, y, epochs=2, batchSize=10, verbose=0, parameterList=SPECS, recordEvery="batch")
    assert all(len(values) == 1 + 2 * 4 for values in model.parameterRecord.values())
    model.fit(X, y, epochs=1, batchSize=10, verbose=0, parameterList=SPECS)
    assert all(len(values) == 1 + 2 * 4 + 1 for values in model.parameterRecord.values())
    for spec in SPECS:
        assert model.parameterRecord[spec][-1] == value(model, spec)
    # with one batch per epoch, batch records are epoch records
    a, b = small(seed=5), small(seed=5)
    a.fit(X, y, epochs=3, batchSize=40, verbose=0, parameterList=SPECS, recordEvery="batch")
    b.fit(X, y, epochs=3, batchSize=40, verbose=0, parameterList=SPECS)
    assert a.parameterRecord == b.parameterRecord


@pytest.mark.parametrize(("spec", "message"), [
    (("x", 2, 1, 1), "must start with 'w' \\(a weight\\) or 'b' \\(a bias\\)"),
    (("w", 1, 1, 1), "layer 1 is out of range; weights and biases belong to layers 2..3"),
    (("w", 4, 1, 1), "layer 4 is out of range"),
    (("w", 2, 6, 1), "neuron j=6 is out of range 1..5 of layer 2"),
    (("w", 2, 0, 1), "neuron j=0 is out of range 1..5 of layer 2"),
    (("w", 3, 1, 6), "neuron i=6 is out of range 1..5 of layer 2"),
    (("b", 3, 5), "neuron j=5 is out of range 1..4 of layer 3"),
    (("w", 2, 1), "a weight spec has 4 entries"),
    (("b", 2, 1, 1), "a bias spec has 3 entries"),
    (("w", 2, 1.5, 1), "must be integers"),
])
def test_bad_specs_are_refused_before_training(spec, message):
    model = small()
    before = [model.w[2].copy(), model.b[3].copy()]
    with pytest.raises(ValueError, match=message):
        model.fit(*data(), epochs=1, batchSize=8, verbose=0, parameterList=[("b", 2, 1), spec])
    np.testing.assert_array_equal(model.w[2], before[0])
    np.testing.assert_array_equal(model.b[3], before[1])
    assert model.history == {} and model.parameterRecord == {}


def test_bad_record_every():
    with pytest.raises(ValueError, match="recordEvery must be 'epoch' or 'batch'"):
        small().fit(*data(), epochs=1, verbose=0, parameterList=SPECS, recordEvery="step")


def test_records_survive_save_and_load(tmp_path):
    model = small()
    model.fit(*data(), epochs=2, batchSize=8, verbose=0, parameterList=SPECS, recordEvery="batch")
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    assert loaded.parameterRecord == model.parameterRecord
    assert loaded.state.record_every == "batch"
