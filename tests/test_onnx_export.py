"""exportONNX: onnxruntime computes predictProba (classifiers) and predict (regression)."""

import numpy as np
import pytest

from dnn import DNN

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def run(path, X, dtype="float32"):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": np.asarray(X, dtype=dtype)})[0]


def test_digits_test_set_probabilities(tmp_path):
    pytest.importorskip("sklearn")
    from dnn.datasets import load_digits

    X, y = load_digits()
    X_train, X_test, y_train = X[:1500], X[1500:], y[:1500]
    model = DNN(lr=0.02, momentum=0.9, seed=0, standardize=True)
    model.addInputLayer([64])
    model.addHiddenLayer([32, 16], activation=["relu", "tanh"])
    model.addOutputLayer([10], activation="softmax")
    model.fit(X_train, y_train, epochs=5, verbose=0)
    model.exportONNX(tmp_path / "digits.onnx")
    proto = onnx.load(tmp_path / "digits.onnx")
    ops = [node.op_type for node in proto.graph.node]
    assert ops == ["Sub", "Div", "Gemm", "Relu", "Gemm", "Tanh", "Gemm", "Softmax", "Identity"]
    assert proto.opset_import[0].version >= 17
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    np.testing.assert_allclose(run(tmp_path / "digits.onnx", X_test), model.predictProba(X_test), rtol=0, atol=1e-5)
    # the batch dimension is dynamic: one row works as well as 297
    np.testing.assert_allclose(run(tmp_path / "digits.onnx", X_test[:1]), model.predictProba(X_test[:1]), atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regression_predictions(tmp_path, rng, dtype):
    X = rng.normal(size=(200, 4)) * [1, 10, 100, 1000]
    y = np.column_stack([X @ [1, 0.1, 0.01, 0.001], np.sin(X[:, 0])])
    model = DNN(lr=0.01, seed=0, dtype=dtype, standardize=True)
    model.addInputLayer([4])
    model.addHiddenLayer([8], activation="leaky_relu", dropout=0.25)  # dropout: nothing at prediction time
    model.addOutputLayer([2], activation="identity")
    model.fit(X, y, epochs=5, verbose=0)
    model.exportONNX(tmp_path / "reg.onnx")
    assert [o.name for o in onnx.load(tmp_path / "reg.onnx").graph.output] == ["predictions"]
    np.testing.assert_allclose(run(tmp_path / "reg.onnx", X, dtype), model.predict(X), rtol=1e-5, atol=1e-5)


def test_binary_and_normalized_sigmoid_outputs(tmp_path, rng):
    X = rng.normal(size=(50, 3))
    model = DNN(seed=0)
    model.addInputLayer([3])
    model.addOutputLayer([1], activation="sigmoid")
    model.exportONNX(tmp_path / "binary.onnx")
    out = run(tmp_path / "binary.onnx", X)
    assert out.shape == (50, 2)
    np.testing.assert_allclose(out, model.predictProba(X), rtol=0, atol=1e-6)
    # several sigmoid units, single-label: predictProba normalizes the rows to sum to 1
    model = DNN(seed=0)
    model.addInputLayer([3])
    model.addOutputLayer([4], activation="sigmoid")
    model.fit(X, rng.integers(0, 4, size=50), epochs=1, verbose=0)
    model.exportONNX(tmp_path / "multi.onnx")
    out = run(tmp_path / "multi.onnx", X)
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(out, model.predictProba(X), rtol=0, atol=1e-6)


def test_export_needs_a_complete_network(tmp_path):
    model = DNN()
    model.addInputLayer([3])
    with pytest.raises(ValueError, match="exportONNX needs a complete network"):
        model.exportONNX(tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_new_activations_equal_predict_proba(tmp_path, rng, dtype):
    X = rng.normal(loc=2.0, scale=[1, 10, 100], size=(150, 3))
    y = rng.integers(0, 3, 150)
    model = DNN(lr=0.05, seed=0, dtype=dtype, standardize=True)
    model.addInputLayer([3])
    model.addHiddenLayer([8] * 5, activation=["gelu", "silu", "elu", "selu", "softplus"])
    model.addOutputLayer([3], activation="softmax")
    model.fit(X, y, epochs=3, verbose=0)
    model.exportONNX(tmp_path / "new.onnx")
    ops = [node.op_type for node in onnx.load(tmp_path / "new.onnx").graph.node]
    gelu = ["Mul", "Erf", "Add", "Mul", "Mul"] if dtype == "float32" else ["Mul", "Cast", "Erf", "Cast", "Add", "Mul",
                                                                            "Mul"]
    assert ops == ["Sub", "Div", "Gemm", *gelu, "Gemm", "Sigmoid", "Mul", "Gemm", "Elu", "Gemm", "Selu", "Gemm", "Abs",
                   "Neg", "Exp", "Add", "Log", "Relu", "Add", "Gemm", "Softmax", "Identity"]
    X = np.concatenate([X, X * 30])  # pre-activations far into the tails: softplus must not overflow
    out = run(tmp_path / "new.onnx", X, dtype)
    assert np.isfinite(out).all()
    # float64: the graph's Erf runs in float32 (onnxruntime has no double Erf), and Selu's constants are float32
    np.testing.assert_allclose(out, model.predictProba(X), rtol=0, atol=1e-5 if dtype == "float32" else 1e-6)


def test_a_step_layer_is_refused_naming_it(tmp_path):
    model = DNN(seed=0)
    model.addInputLayer([3])
    model.addHiddenLayer([4], activation="step")
    model.addOutputLayer([2])
    with pytest.raises(ValueError, match="exportONNX cannot export layer 2's activation 'step': ONNX has no operator"):
        model.exportONNX(tmp_path / "step.onnx")
    assert not (tmp_path / "step.onnx").exists()
