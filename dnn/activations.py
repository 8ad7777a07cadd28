"""Activation functions, their derivatives, and the backward step through each of them.

By hand, every activation takes a number, a list, a vector or a matrix::

    sigmoid(0.0)                 # 0.5
    sigmoid([0, 1, 2])           # array([0.5, 0.73105858, 0.88079708])
    softmax([0.3, 2.9, 4.0])     # over the last axis: each row sums to 1
    sigmoid_derivative(0.0)      # 0.25: the derivative at the *input* z

A number gives a float, anything else a new float array (integers become
float64; float32 stays float32). ``<name>_derivative(z)`` is da/dz at the
input z (for softmax the Jacobian matrix).

Training uses the pairs ``(forward, backward)`` of :data:`ACTIVATIONS`, on
float arrays, with none of these conversions:

- ``<name>_forward(z, out=None)`` maps the pre-activations ``z`` (n, units)
  to the layer's output ``a``. ``out`` may be ``z`` itself, which makes it in
  place.
- ``<name>_backward(a, grad, out=None)`` returns ``grad * da/dz`` (for softmax
  the vector-Jacobian product), computed from the layer's *output* ``a`` so
  the forward cache keeps nothing but the outputs. ``out`` may be ``grad``.

Both keep the dtype of their input: float32 stays float32.
"""

import numpy as np

from dnn.registry import Registry, is_function_pair

#: Slope of leaky ReLU for negative inputs.
LEAKY_RELU_SLOPE = 0.01


def _as_float_array(z, what):
    """``z`` as a float array: integers and lists become float64, float32 stays float32."""
    try:
        array = np.asarray(z)
        if array.dtype.kind != "f":
            array = array.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} takes a number, a list or an array of numbers, got {z!r:.60}") from None
    return array


def _by_hand(function, z, what):
    """Apply an array function to a number, list or array: a float for a number, else a new array."""
    array = _as_float_array(z, what)
    if array.ndim == 0:
        # Through a 1-D array: some functions write into arrays, which a 0-d product is not.
        return float(function(array.reshape(1))[0])
    return function(array)


def sigmoid_forward(z, out=None):
    """Logistic function, sigmoid(z) = 1 / (1 + exp(-z)).

    Evaluated as exp(min(z, 0)) / (1 + exp(-|z|)) so that no exponential
    overflows, whatever the magnitude of z.
    """
    e = np.exp(-np.abs(z))
    numerator = np.where(z >= 0, z.dtype.type(1), e)
    e += 1
    return np.divide(numerator, e, out=out)


def sigmoid_backward(a, grad, out=None):
    """grad * sigmoid'(z), with sigmoid'(z) = a (1 - a) and a the output."""
    derivative = 1 - a
    derivative *= a
    return np.multiply(grad, derivative, out=out)


def tanh_forward(z, out=None):
    """Hyperbolic tangent, tanh(z) = (e^z - e^-z) / (e^z + e^-z)."""
    return np.tanh(z, out=out)


def tanh_backward(a, grad, out=None):
    """grad * tanh'(z), with tanh'(z) = 1 - a^2 and a the output."""
    derivative = a * a
    np.subtract(1, derivative, out=derivative)
    return np.multiply(grad, derivative, out=out)


def relu_forward(z, out=None):
    """Rectified linear unit, relu(z) = max(z, 0)."""
    # Against a row of zeros rather than the scalar 0, as numpy vectorizes
    # maximum only when both operands are contiguous; and maximum rather than
    # a product with the mask z > 0, which needs a bool to float cast.
    return np.maximum(z, np.zeros(z.shape[-1:], z.dtype), out=out)


def relu_backward(a, grad, out=None):
    """grad * relu'(z), with relu'(z) = 1 where a > 0, else 0."""
    return np.multiply(grad, a > 0, out=out)


def leaky_relu_forward(z, out=None):
    """Leaky ReLU, z for z > 0 and LEAKY_RELU_SLOPE * z otherwise."""
    # max(z, slope * z) equals the piecewise definition because slope < 1.
    return np.maximum(z, z * LEAKY_RELU_SLOPE, out=out)


def leaky_relu_backward(a, grad, out=None):
    """grad * leaky_relu'(z): 1 where a > 0, else LEAKY_RELU_SLOPE."""
    one, slope = a.dtype.type(1), a.dtype.type(LEAKY_RELU_SLOPE)
    return np.multiply(grad, np.where(a > 0, one, slope), out=out)


def identity_forward(z, out=None):
    """Identity, identity(z) = z."""
    if out is None or out is z:
        return z
    np.copyto(out, z)
    return out


def identity_backward(a, grad, out=None):
    """grad * 1."""
    return identity_forward(grad, out=out)


def step_forward(z, out=None):
    """Heaviside step, step(z) = 1 for z > 0 and 0 for z <= 0 (so step(0) = 0, the perceptron's convention).

    Its derivative is 0 wherever it exists, so gradient descent cannot train
    a network containing it (see :func:`check_trainable`): it is for forward
    passes with weights set by hand. NaN stays NaN.
    """
    return np.heaviside(z, z.dtype.type(0), out=out)


def step_backward(a, grad, out=None):
    """grad * step'(z) = 0 (the derivative is 0 wherever it exists)."""
    return np.multiply(grad, a.dtype.type(0), out=out)


def softmax_forward(z, out=None):
    """Softmax over the last axis, softmax(z)_k = exp(z_k) / sum_j exp(z_j).

    Each row is shifted by its maximum first, so exp never overflows. A
    vector is one row; a matrix (n, k) is n rows.
    """
    out = identity_forward(z, out=np.empty_like(z) if out is None else out)
    out -= out.max(axis=-1, keepdims=True)
    np.exp(out, out=out)
    # Row sums as a product with a column of ones: one BLAS call, quicker than
    # sum(axis=1) on the few columns of an output layer.
    out /= out @ np.ones((out.shape[-1], 1), out.dtype)
    return out


def softmax_backward(a, grad, out=None):
    """Vector-Jacobian product of softmax: a * (grad - sum_k a_k grad_k)."""
    weighted = np.einsum("ij,ij->i", a, grad)[:, None]
    result = np.subtract(grad, weighted, out=out)
    result *= a
    return result


# ------------------------------------------------------------------ by hand
# Numbers, lists, vectors and matrices in; a float for a number, else a new array (the input is never changed).


def sigmoid(z):
    """Logistic function, sigmoid(z) = 1 / (1 + exp(-z)), elementwise; sigmoid(0) = 0.5."""
    return _by_hand(sigmoid_forward, z, "sigmoid")


def tanh(z):
    """Hyperbolic tangent, tanh(z) = (e^z - e^-z) / (e^z + e^-z), elementwise."""
    return _by_hand(tanh_forward, z, "tanh")


def relu(z):
    """Rectified linear unit, relu(z) = max(z, 0), elementwise."""
    return _by_hand(relu_forward, z, "relu")


def leaky_relu(z):
    """Leaky ReLU, z for z > 0 and LEAKY_RELU_SLOPE * z otherwise, elementwise."""
    return _by_hand(leaky_relu_forward, z, "leaky_relu")


def identity(z):
    """Identity, identity(z) = z (as a new float array)."""
    return _by_hand(np.copy, z, "identity")


def step(z):
    """Heaviside step, 1 for z > 0 and 0 for z <= 0 (step(0) = 0), elementwise."""
    return _by_hand(step_forward, z, "step")


def softmax(z):
    """Softmax over the last axis, exp(z_k) / sum_j exp(z_j): a vector is one row, a matrix (n, k) n rows."""
    return _by_hand(softmax_forward, z, "softmax")


# ------------------------------------------------------------------ derivatives by hand
# Each takes the *input* z (unlike the backward functions above, which take the output a).


def _derivative(name, z):
    array = _as_float_array(z, f"{name}_derivative")
    forward, backward = ACTIVATIONS[name]
    # Through a 1-D view: the backward functions write into arrays, which a 0-d product is not.
    a = forward(array.reshape(-1))
    result = backward(a, np.ones_like(a)).reshape(array.shape)
    return float(result) if result.ndim == 0 else result


def sigmoid_derivative(z):
    """d sigmoid / dz at the input z: sigmoid(z) (1 - sigmoid(z)); 0.25 at z = 0."""
    return _derivative("sigmoid", z)


def tanh_derivative(z):
    """d tanh / dz at the input z: 1 - tanh(z)^2; 1 at z = 0."""
    return _derivative("tanh", z)


def relu_derivative(z):
    """d relu / dz at the input z: 1 for z > 0, 0 for z <= 0 (0 at the kink z = 0, by convention)."""
    return _derivative("relu", z)


def leaky_relu_derivative(z):
    """d leaky_relu / dz at the input z: 1 for z > 0, LEAKY_RELU_SLOPE for z <= 0."""
    return _derivative("leaky_relu", z)


def identity_derivative(z):
    """d identity / dz at the input z: 1 everywhere."""
    return _derivative("identity", z)


def step_derivative(z):
    """d step / dz at the input z: 0 everywhere (undefined at z = 0, where 0 is returned too)."""
    return _derivative("step", z)


def softmax_derivative(z):
    """Jacobian of softmax at the input z: J[i, j] = s_i (delta_ij - s_j) with s = softmax(z).

    A vector z of k values gives a (k, k) matrix; a matrix z (n, k) gives
    (n, k, k), one Jacobian per row. Every column of J sums to 0.
    """
    s = _as_float_array(z, "softmax_derivative")
    if s.ndim == 0:
        raise ValueError("softmax_derivative takes a vector or a matrix of rows, not a single number")
    s = softmax_forward(s)
    return s[..., :, None] * (np.eye(s.shape[-1], dtype=s.dtype) - s[..., None, :])


#: The training loop's pairs: float arrays in, no conversion or check.
ACTIVATIONS = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "identity": (identity_forward, identity_backward),
    "softmax": (softmax_forward, softmax_backward),
    "step": (step_forward, step_backward),
}

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "identity", "step")
OUTPUT_ACTIVATIONS = ("softmax", "sigmoid", "identity", "step")

#: Derivatives by hand, at the input z: ``DERIVATIVES["sigmoid"](0.0) == 0.25``.
DERIVATIVES = {
    "sigmoid": sigmoid_derivative,
    "tanh": tanh_derivative,
    "relu": relu_derivative,
    "leaky_relu": leaky_relu_derivative,
    "identity": identity_derivative,
    "softmax": softmax_derivative,
    "step": step_derivative,
}

#: Activations whose derivative is zero wherever it exists: gradient descent cannot train through them.
UNTRAINABLE = frozenset({"step"})

#: Other spellings users reach for; any case, and "_", "-" or spaces, are accepted besides.
ALIASES = {
    "sigmoid": ("logistic", "sigm"),
    "leaky_relu": ("lrelu",),
    "identity": ("linear",),
    "step": ("heaviside", "binary_step", "unit_step"),
}

#: Every activation by name: ``REGISTRY.get("ReLU")`` is the pair of ``ACTIVATIONS["relu"]``.
REGISTRY = Registry("activation", ACTIVATIONS, "a pair (forward, backward) of functions", is_function_pair,
                    aliases=ALIASES)


def canonical_name(name, allowed=None, kind="activation"):
    """The registry name of an activation, from any case or common alias.

    ``"ReLU"``, ``"Relu"`` give ``"relu"``; ``"logistic"`` gives ``"sigmoid"``;
    ``"linear"`` gives ``"identity"``; ``"lrelu"``, ``"LeakyReLU"`` give
    ``"leaky_relu"``; ``"heaviside"`` gives ``"step"``.

    Parameters
    ----------
    name : str
    allowed : sequence of str, optional
        Canonical names accepted where the name is used (a hidden layer...).
    kind : str
        What the name is, for the messages ("hidden activation"...).

    Raises
    ------
    ValueError
        For an unknown name, suggesting the nearest one ("did you mean
        'sigmoid'?"), or a name not in ``allowed``; the message lists the
        valid names.
    """
    if allowed is not None and REGISTRY.lookup(name) == "softmax" and "softmax" not in allowed:
        raise ValueError(f"softmax is only available in the output layer; valid names: {', '.join(allowed)}")
    return REGISTRY.canonical(name, among=allowed, kind=kind)


def get_activation(name):
    """Return the ``(forward, backward)`` pair registered under ``name`` (or an alias of it).

    Raises
    ------
    ValueError
        If ``name`` is not a registered activation; the message suggests the
        nearest name and lists the valid ones.
    """
    return REGISTRY.get(name)


def check_trainable(names, first_layer=2):
    """Refuse to train a network containing an activation without a gradient (step).

    Parameters
    ----------
    names : sequence of str
        Activations of the layers ``first_layer``, ``first_layer + 1``, ...
    first_layer : int
        Layer number of ``names[0]`` (2: the first layer after the input).

    Raises
    ------
    ValueError
        Naming the first such layer.
    """
    for layer, name in enumerate(names, start=first_layer):
        if name in UNTRAINABLE:
            raise ValueError(
                f"layer {layer} uses the {name} activation, whose derivative is 0 wherever it exists, so "
                f"gradient descent cannot train this network; step is for forward passes with weights set by "
                f"hand. To train, use sigmoid (a smooth step) and set the weights of a step network from it")
