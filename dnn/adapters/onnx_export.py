"""A dnn model as an ONNX graph, for onnxruntime and any other ONNX runtime.

An adapter at the edge: the core never imports it, and ``onnx`` is imported
only inside :func:`export_onnx` (``pip install "dnn-numpy[onnx]"``).

The graph has one input, ``input`` (batch, features), with a dynamic batch
dimension, and one output:

- ``probabilities`` (batch, k) for classifiers: exactly ``predictProba``
  (the two columns of a one-unit sigmoid model, normalized sigmoid outputs of
  a single-label model with several sigmoid units),
- ``predictions`` (batch, outputs) for regression: ``predict`` as a matrix.

Nodes: Sub and Div for the model's standardization, one Gemm per layer, for
a normalized hidden layer its normalization, and its activation (Relu,
Sigmoid, Tanh, LeakyRelu, Elu, Selu, Softmax; none for identity), or the
nodes that compute it where opset 18 has no operator or onnxruntime's is not
exact:

- batch normalization: BatchNormalization (inference: scale gamma, B beta,
  input_mean and input_var the running averages, epsilon 1e-5), layer
  normalization: LayerNormalization (axis -1, epsilon 1e-5); in a float64
  graph the same from Sub, Add, Sqrt, Div, Mul (and ReduceMean for layer
  normalization), as the operators' epsilon is a float32 attribute,

- gelu: z * 0.5 * (1 + Erf(z / sqrt 2)) (the Gelu operator needs opset 20);
  onnxruntime has no double Erf, so a float64 model's graph computes that Erf
  in float32, and its gelu layers agree with dnn to about 1e-7,
- silu: z * Sigmoid(z),
- softplus: Relu(z) + Log(1 + Exp(-Abs(z))), as onnxruntime's double Softplus
  overflows to infinity beyond z = 710.

Dropout has no node: it does nothing at prediction time. A model with a step
activation, or one registered with :func:`dnn.activations.register`, cannot be
exported: ONNX has no operator for it.
"""

from __future__ import annotations

import numpy as np

#: The opset written: recent, and read by onnxruntime 1.17 and later.
OPSET = 18

#: dnn activation name -> the ONNX operator that is the activation (the others are built from nodes).
_ONNX_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "leaky_relu": "LeakyRelu",
                     "softmax": "Softmax", "elu": "Elu", "selu": "Selu"}
_COMPOSED = ("identity", "gelu", "silu", "softplus")


class _Graph:
    """The nodes and initializers of a graph being built, whose tensors have the model's dtype."""

    def __init__(self, helper, numpy_helper, dtype):
        self.helper, self.numpy_helper, self.dtype = helper, numpy_helper, dtype
        self.nodes, self.initializers, self._constants = [], [], set()

    def constant(self, name, array, kind=None):
        """The name of an initializer holding ``array`` (in the model's dtype unless ``kind``), added once."""
        if name not in self._constants:
            self._constants.add(name)
            self.initializers.append(self.numpy_helper.from_array(
                np.ascontiguousarray(array, dtype=self.dtype if kind is None else kind), name))
        return name

    def node(self, op, inputs, output, **attributes):
        """Add a node of operator ``op``; returns the name of its (one) output."""
        self.nodes.append(self.helper.make_node(op, inputs, [output], **attributes))
        return output


def _activation(graph, name, z, layer):
    """Add the nodes of activation ``name`` on ``z``, the pre-activations of ``layer``; returns the output's name."""
    from onnx import TensorProto

    from dnn.activation_kernels import ELU_ALPHA, LEAKY_RELU_SLOPE, SELU_ALPHA, SELU_SCALE

    a = f"a{layer}"
    if name == "identity":
        return z
    if name == "gelu":
        x = graph.node("Mul", [z, graph.constant("sqrt_half", np.sqrt(0.5))], f"gelu{layer}_x")
        if graph.dtype == np.float64:  # onnxruntime's Erf takes float32 only
            x = graph.node("Cast", [x], f"gelu{layer}_x32", to=TensorProto.FLOAT)
            x = graph.node("Cast", [graph.node("Erf", [x], f"gelu{layer}_erf32")], f"gelu{layer}_erf",
                           to=TensorProto.DOUBLE)
        else:
            x = graph.node("Erf", [x], f"gelu{layer}_erf")
        x = graph.node("Add", [x, graph.constant("unit", 1.0)], f"gelu{layer}_sum")
        x = graph.node("Mul", [x, graph.constant("half", 0.5)], f"gelu{layer}_cdf")
        return graph.node("Mul", [z, x], a)
    if name == "silu":
        return graph.node("Mul", [z, graph.node("Sigmoid", [z], f"silu{layer}_sigmoid")], a)
    if name == "softplus":
        x = graph.node("Neg", [graph.node("Abs", [z], f"softplus{layer}_abs")], f"softplus{layer}_neg")
        x = graph.node("Add", [graph.node("Exp", [x], f"softplus{layer}_exp"), graph.constant("unit", 1.0)],
                       f"softplus{layer}_sum")
        x = graph.node("Log", [x], f"softplus{layer}_log")
        return graph.node("Add", [x, graph.node("Relu", [z], f"softplus{layer}_relu")], a)
    attributes = {"leaky_relu": {"alpha": LEAKY_RELU_SLOPE}, "softmax": {"axis": 1}, "elu": {"alpha": ELU_ALPHA},
                  "selu": {"alpha": SELU_ALPHA, "gamma": SELU_SCALE}}.get(name, {})
    return graph.node(_ONNX_ACTIVATIONS[name], [z], a, **attributes)


def _normalization(graph, model, layer, z):
    """Add the nodes normalizing ``z``, the weighted sums of ``layer``; returns the name of gamma * z_hat + beta.

    float32: one BatchNormalization or LayerNormalization node. float64: the same computed from primitive nodes,
    as those operators take epsilon as a float32 attribute, 1e-5 + 2.5e-13, which moves z_hat by
    1.25e-13 / (var + eps) relative: by 1e-8 where a variance is near eps.
    """
    from dnn.normalization import EPSILON

    kind = model.layers[layer - 1].normalization
    names = ("gamma", "beta", "running_mean", "running_var") if kind == "batch" else ("gamma", "beta")
    gamma, beta, *running = [graph.constant(f"{name}{layer}", getattr(model, name)[layer]) for name in names]
    if graph.dtype == np.float32:
        if kind == "batch":
            return graph.node("BatchNormalization", [z, gamma, beta, *running], f"y{layer}", epsilon=EPSILON)
        return graph.node("LayerNormalization", [z, gamma, beta], f"y{layer}", axis=-1, epsilon=EPSILON)
    if kind == "batch":
        mean, var = running
    else:
        axes = graph.constant("last_axis", [-1], np.int64)
        mean = graph.node("ReduceMean", [z, axes], f"norm{layer}_mean", keepdims=1)
    centred = graph.node("Sub", [z, mean], f"norm{layer}_centred")
    if kind == "layer":
        square = graph.node("Mul", [centred, centred], f"norm{layer}_square")
        var = graph.node("ReduceMean", [square, axes], f"norm{layer}_var", keepdims=1)
    std = graph.node("Sqrt", [graph.node("Add", [var, graph.constant("epsilon", EPSILON)], f"norm{layer}_var_eps")],
                     f"norm{layer}_std")
    z_hat = graph.node("Div", [centred, std], f"norm{layer}_z_hat")
    return graph.node("Add", [graph.node("Mul", [z_hat, gamma], f"norm{layer}_scaled"), beta], f"y{layer}")


def _check_exportable(model):
    """ValueError naming the first layer whose activation ONNX has no operator for (step, the user's own)."""
    from dnn.activations import REGISTRY

    for layer, name in enumerate(model.activations[1:], start=2):
        if name not in _ONNX_ACTIVATIONS and name not in _COMPOSED:
            own = "" if name in REGISTRY.builtins else "it is an activation of your own (dnn.activations.register) and "
            raise ValueError(f"exportONNX cannot export layer {layer}'s activation {name!r}: {own}ONNX has no "
                             f"operator for it")


def onnx_model(model):
    """The ``onnx.ModelProto`` of ``model``; see the module docstring."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError("the onnx package is needed for exportONNX: pip install 'dnn-numpy[onnx]'") from None
    _check_exportable(model)
    dtype = np.dtype(model.dtype)
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    graph = _Graph(helper, numpy_helper, dtype)
    constant = graph.constant
    current = "input"
    if model.feature_mean is not None:
        centered = graph.node("Sub", [current, constant("feature_mean", model.feature_mean)], "centered")
        current = graph.node("Div", [centered, constant("feature_scale", model.feature_scale)], "standardized")
    for layer in range(2, len(model.units) + 1):
        z = f"z{layer}"
        graph.nodes.append(helper.make_node("Gemm", [current, constant(f"w{layer}", model.w[layer]),
                                                     constant(f"b{layer}", model.b[layer])], [z], name=f"layer{layer}"))
        if model.layers[layer - 1].normalization is not None:
            z = _normalization(graph, model, layer, z)
        current = _activation(graph, model.activations[layer - 1], z, layer)
    task = model.task or _default_task(model)
    output = "predictions" if task == "regression" else "probabilities"
    width = model.units[-1]
    if task == "binary":
        p_first = graph.node("Sub", [constant("one", np.ones((1, 1))), current], "p_first")
        graph.node("Concat", [p_first, current], output, axis=1)
        width = 2
    elif task == "multiclass" and model.activations[-1] == "sigmoid":
        # predictProba normalizes independent sigmoid outputs of a single-label model to sum to 1.
        row_sums = graph.node("ReduceSum", [current, constant("sum_axes", [1], np.int64)], "row_sums", keepdims=1)
        safe = graph.node("Max", [row_sums, constant("tiny", np.array(np.finfo(dtype).tiny))], "row_sums_safe")
        graph.node("Div", [current, safe], output)
    else:
        graph.node("Identity", [current], output)
    onnx_graph = helper.make_graph(
        graph.nodes, "dnn", [helper.make_tensor_value_info("input", elem, ["batch", model.units[0]])],
        [helper.make_tensor_value_info(output, elem, ["batch", width])], graph.initializers)
    proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dnn")
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
