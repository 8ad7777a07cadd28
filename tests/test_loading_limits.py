"""Loading allocates in proportion to the file: the declared layers are checked against the stored arrays first.

A model file's config declares the layer sizes and the file holds the arrays. The loader once built the declared
network, initial weights included, before comparing: a 1.2 KB file declaring two layers of 20,000 units made it
allocate 3.1 GB. tests/test_hostile_files.py times such files; these tests check each rule on its own.
"""

import tracemalloc

import numpy as np
import pytest

from dnn import DNN, ModelFileError
from dnn.files import persistence


def small(units=(3, 4, 2), dtype="float32", seed=0):
    model = DNN(seed=seed, dtype=dtype)
    model.addInputLayer([units[0]])
    model.addHiddenLayer(list(units[1:-1]))
    model.addOutputLayer([units[-1]])
    return model


def write(path, payload):
    path.write_bytes(persistence.file_bytes(payload))
    return path


@pytest.mark.parametrize(("units", "message"), [
    ([3, 4, 4, 2], r"w must hold layers \[2, 3, 4\], as config.layers declares"),
    ([3, 2], r"w must hold layers \[2\], as config.layers declares"),
    ([3, 5, 2], r"w\[2\] has shape \(3, 4\), expected \(3, 5\) \(config.layers\)"),
    ([2, 4, 2], r"w\[2\] has shape \(3, 4\), expected \(2, 4\)"),
])
def test_declared_layers_must_be_those_of_the_arrays(units, message, tmp_path):
    payload = persistence.to_payload(small())
    layers = payload["config"]["layers"]
    payload["config"]["layers"] = [{**layers[min(i, 2)], "units": u} for i, u in enumerate(units)]
    payload["config"]["layers"][-1] = {**layers[-1], "units": units[-1]}
    with pytest.raises(ModelFileError, match=message):
        DNN.importModel(write(tmp_path / "m.pkl", payload))


def test_biases_are_checked_against_the_declared_layers_too(tmp_path):
    payload = persistence.to_payload(small())
    payload["b"][2] = np.zeros(5, np.float32)
    with pytest.raises(ModelFileError, match=r"b\[2\] has shape \(5,\), expected \(4,\)"):
        DNN.importModel(write(tmp_path / "m.pkl", payload))


def test_parameters_larger_than_the_whole_file_are_refused(tmp_path):
    """Arrays stored as int8 for a float64 model would be cast to 8 times their size: saveModel never writes that."""
    model = small((3, 3000, 2), dtype="float64")
    payload = persistence.to_payload(model)
    for name in ("w", "b"):
        payload[name] = {layer: np.zeros(array.shape, np.int8) for layer, array in payload[name].items()}
    path = write(tmp_path / "m.pkl", payload)
    parameters = 3 * 3000 + 3000 + 3000 * 2 + 2
    assert path.stat().st_size < 8 * parameters
    with pytest.raises(ModelFileError, match=f"config.layers declare {8 * parameters} bytes of float64 parameters, "
                                             f"more than the whole file \\({path.stat().st_size} bytes\\)"):
        DNN.importModel(path)


def test_from_config_can_build_without_drawing_initial_weights():
    model = small(seed=5)
    state = DNN(seed=5).state.rng.bit_generator.state
    empty = DNN.fromConfig(model.getConfig(), initialize=False)
    assert empty.units == model.units and empty.activations == model.activations
    assert all(empty.w[layer] is None and empty.b[layer] is None for layer in (2, 3))
    assert empty.state.rng.bit_generator.state == state   # nothing drawn
    twin = DNN.fromConfig(model.getConfig())
    np.testing.assert_array_equal(twin.w[2], model.w[2])
    with pytest.raises(ValueError, match=r"model.w\[2\] is missing; it must be an array of shape \(3, 4\)"):
        empty.predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="initialize must be True or False, got 'no'"):
        DNN.fromConfig(model.getConfig(), initialize="no")


def test_loading_a_real_model_takes_a_few_times_its_arrays(tmp_path):
    """784-256-10 in float32: about 0.8 MB of parameters. Loading holds the file's arrays, their copies in the
    model and the flat parameter array, and never draws initial weights (before: 1.6 MB more in float64)."""
    model = small((784, 256, 10))
    path = tmp_path / "m.pkl"
    model.saveModel(path)
    size = path.stat().st_size
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    try:
        loaded = DNN.importModel(path)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        if not tracing:
            tracemalloc.stop()
    np.testing.assert_array_equal(loaded.w[2], model.w[2])
    assert peak < 4.5 * size
