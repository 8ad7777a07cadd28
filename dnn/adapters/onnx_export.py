"""A dnn model as an ONNX graph, for onnxruntime and any other ONNX runtime.

An adapter at the edge: the core never imports it, and ``onnx`` is imported
only inside :func:`export_onnx` (``pip install "dnn-numpy[onnx]"``).

The graph has one input, ``input`` (batch, features), with a dynamic batch
dimension, and one output:

- ``probabilities`` (batch, k) for classifiers: exactly ``predictProba``
  (the two columns of a one-unit sigmoid model, normalized sigmoid outputs of
  a single-label model with several sigmoid units),
- ``predictions`` (batch, outputs) for regression: ``predict`` as a matrix.

Nodes: Sub and Div for the model's standardization, one Gemm per layer and
one activation node (Relu, Sigmoid, Tanh, LeakyRelu, Softmax; none for identity).
Dropout has no node: it does nothing at prediction time.
"""

from __future__ import annotations

import numpy as np

#: The opset written: recent, and read by onnxruntime 1.17 and later.
OPSET = 18

_ONNX_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "leaky_relu": "LeakyRelu",
                     "softmax": "Softmax"}


def onnx_model(model):
    """The ``onnx.ModelProto`` of ``model``; see the module docstring."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError("the onnx package is needed for exportONNX: pip install 'dnn-numpy[onnx]'") from None
    from dnn.activations import LEAKY_RELU_SLOPE

    dtype = np.dtype(model.dtype)
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    nodes, initializers = [], []

    def constant(name, array, kind=dtype):
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=kind), name))
        return name

    current = "input"
    if model.feature_mean is not None:
        nodes.append(helper.make_node("Sub", [current, constant("feature_mean", model.feature_mean)], ["centered"]))
        nodes.append(helper.make_node("Div", ["centered", constant("feature_scale", model.feature_scale)],
                                      ["standardized"]))
        current = "standardized"
    for layer in range(2, len(model.units) + 1):
        name = model.activations[layer - 1]
        z = f"z{layer}"
        nodes.append(helper.make_node("Gemm", [current, constant(f"w{layer}", model.w[layer]),
                                               constant(f"b{layer}", model.b[layer])], [z], name=f"layer{layer}"))
        current = z
        if name != "identity":
            a = f"a{layer}"
            attributes = {"alpha": LEAKY_RELU_SLOPE} if name == "leaky_relu" else {}
            if name == "softmax":
                attributes = {"axis": 1}
            nodes.append(helper.make_node(_ONNX_ACTIVATIONS[name], [z], [a], **attributes))
            current = a
    task = model.task or _default_task(model)
    output = "predictions" if task == "regression" else "probabilities"
    width = model.units[-1]
    if task == "binary":
        nodes.append(helper.make_node("Sub", [constant("one", np.ones((1, 1))), current], ["p_first"]))
        nodes.append(helper.make_node("Concat", ["p_first", current], [output], axis=1))
        width = 2
    elif task == "multiclass" and model.activations[-1] == "sigmoid":
        # predictProba normalizes independent sigmoid outputs of a single-label model to sum to 1.
        nodes.append(helper.make_node("ReduceSum", [current, constant("sum_axes", [1], np.int64)], ["row_sums"],
                                      keepdims=1))
        nodes.append(helper.make_node("Max", ["row_sums", constant("tiny", np.array(np.finfo(dtype).tiny))],
                                      ["row_sums_safe"]))
        nodes.append(helper.make_node("Div", [current, "row_sums_safe"], [output]))
    else:
        nodes.append(helper.make_node("Identity", [current], [output]))
    graph = helper.make_graph(
        nodes, "dnn", [helper.make_tensor_value_info("input", elem, ["batch", model.units[0]])],
        [helper.make_tensor_value_info(output, elem, ["batch", width])], initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dnn")
    proto.ir_version = min(proto.ir_version, 9)  # readable by onnxruntime releases older than the onnx package
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path):
    """Write ``model`` to ``path`` as ONNX, atomically (the old file or the new one, never half)."""
    from dnn.files.persistence import write_atomically

    data = onnx_model(model).SerializeToString()
    write_atomically(path, lambda f: f.write(data))


def _default_task(model):
    from dnn.data.targets import default_task

    return default_task(model.activations[-1], model.units[-1])[0]
