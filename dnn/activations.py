"""Activation functions, their derivatives, and the backward step through each of them.

By hand, every activation takes a number, a list, a vector or a matrix::

    sigmoid(0.0)                 # 0.5
    sigmoid([0, 1, 2])           # array([0.5, 0.73105858, 0.88079708])
    softmax([0.3, 2.9, 4.0])     # over the last axis: each row sums to 1
    sigmoid_derivative(0.0)      # 0.25: the derivative at the *input* z
    gelu(1.0)                    # 0.8413447460685429: 1 * Phi(1), exact

A number gives a float, anything else a new float array (integers become
float64; float32 stays float32). ``<name>_derivative(z)`` is da/dz at the
input z (for softmax the Jacobian matrix).

Training uses the pairs ``(forward, backward)`` of :data:`ACTIVATIONS` (their
array kernels are in :mod:`dnn.activation_kernels`): ``forward(z, out=None)``
gives a layer's output a from its pre-activations z, and ``backward(a, grad,
out=None)`` gives ``grad * da/dz`` from the output a, or from z for the
activations of :data:`PRE_ACTIVATION` (gelu, silu), whose output does not
determine their derivative. :func:`register` adds an activation of your own.
"""

import functools

import numpy as np

from dnn.activation_kernels import LEAKY_RELU_SLOPE as LEAKY_RELU_SLOPE
from dnn.activation_kernels import (
    elu_backward,
    elu_forward,
    gelu_backward,
    gelu_forward,
    identity_backward,
    identity_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    selu_backward,
    selu_forward,
    sigmoid_backward,
    sigmoid_forward,
    silu_backward,
    silu_forward,
    softmax_backward,
    softmax_forward,
    softplus_backward,
    softplus_forward,
    step_backward,
    step_forward,
    tanh_backward,
    tanh_forward,
)
from dnn.custom_activations import NamesView, user_pair
from dnn.registry import Registry, is_function_pair


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


def gelu(z):
    """Gaussian error linear unit, gelu(z) = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2 (exact), elementwise."""
    return _by_hand(gelu_forward, z, "gelu")


def silu(z):
    """Sigmoid linear unit (swish), silu(z) = z sigmoid(z), elementwise."""
    return _by_hand(silu_forward, z, "silu")


def elu(z):
    """Exponential linear unit, z for z > 0 and e^z - 1 otherwise (alpha = 1), elementwise."""
    return _by_hand(elu_forward, z, "elu")


def selu(z):
    """Scaled ELU, SELU_SCALE * (z for z > 0, SELU_ALPHA (e^z - 1) otherwise), elementwise."""
    return _by_hand(selu_forward, z, "selu")


def softplus(z):
    """Softplus, log(1 + e^z), elementwise, without overflow for any z."""
    return _by_hand(softplus_forward, z, "softplus")


# ------------------------------------------------------------------ derivatives by hand
# Each takes the *input* z (unlike most backward functions, which take the output a).


def _derivative(name, z):
    array = _as_float_array(z, f"{name}_derivative")
    forward, backward = ACTIVATIONS[name]
    # Through a 1-D view: the backward functions write into arrays, which a 0-d product is not.
    a = forward(array.reshape(-1).copy())
    result = backward(array.reshape(-1) if name in PRE_ACTIVATION else a, np.ones_like(a)).reshape(array.shape)
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


def gelu_derivative(z):
    """d gelu / dz at the input z: Phi(z) + z phi(z), phi the standard normal density; 0.5 at z = 0."""
    return _derivative("gelu", z)


def silu_derivative(z):
    """d silu / dz at the input z: s (1 + z (1 - s)) with s = sigmoid(z); 0.5 at z = 0."""
    return _derivative("silu", z)


def elu_derivative(z):
    """d elu / dz at the input z: 1 for z > 0, e^z for z <= 0 (1 at z = 0, where both sides agree)."""
    return _derivative("elu", z)


def selu_derivative(z):
    """d selu / dz at the input z: SELU_SCALE for z > 0, SELU_SCALE SELU_ALPHA e^z for z <= 0."""
    return _derivative("selu", z)


def softplus_derivative(z):
    """d softplus / dz at the input z: sigmoid(z); 0.5 at z = 0."""
    return _derivative("softplus", z)


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
    "gelu": (gelu_forward, gelu_backward),
    "silu": (silu_forward, silu_backward),
    "elu": (elu_forward, elu_backward),
    "selu": (selu_forward, selu_backward),
    "softplus": (softplus_forward, softplus_backward),
}

#: Activations whose backward step takes the pre-activation z, not the output a, which does not determine the
#: derivative of a non-monotonic function: the forward pass keeps z for their layers. See register's ``uses``.
PRE_ACTIVATION = {"gelu", "silu"}

#: The activations a hidden layer takes: every registered one but softmax (a view: it includes those registered later).
HIDDEN_ACTIVATIONS = NamesView(ACTIVATIONS, excluded=("softmax",))
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
    "gelu": gelu_derivative,
    "silu": silu_derivative,
    "elu": elu_derivative,
    "selu": selu_derivative,
    "softplus": softplus_derivative,
}

#: Activations whose derivative is zero wherever it exists: gradient descent cannot train through them.
UNTRAINABLE = frozenset({"step"})

#: Other spellings users reach for; any case, and "_", "-" or spaces, are accepted besides.
ALIASES = {
    "sigmoid": ("logistic", "sigm"),
    "leaky_relu": ("lrelu",),
    "identity": ("linear",),
    "step": ("heaviside", "binary_step", "unit_step"),
    "silu": ("swish",),
}

#: Every activation by name: ``REGISTRY.get("ReLU")`` is the pair of ``ACTIVATIONS["relu"]``.
REGISTRY = Registry("activation", ACTIVATIONS, "a pair (forward, backward) of functions", is_function_pair,
                    aliases=ALIASES)


def canonical_name(name, allowed=None, kind="activation"):
    """The registry name of an activation, from any case or common alias.

    ``"ReLU"``, ``"Relu"`` give ``"relu"``; ``"logistic"`` gives ``"sigmoid"``;
    ``"linear"`` gives ``"identity"``; ``"lrelu"``, ``"LeakyReLU"`` give
    ``"leaky_relu"``; ``"heaviside"`` gives ``"step"``; ``"swish"`` gives ``"silu"``.

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


def takes_pre_activation(name):
    """Whether the backward step of activation ``name`` (any spelling) takes the pre-activation z, not the output a."""
    return REGISTRY.lookup(name) in PRE_ACTIVATION


def register(name, forward, derivative, uses="output", aliases=(), replace=False):
    """Add an activation of your own, for hidden layers: ``addHiddenLayer([16], activation=name)``.

    It then works wherever a built-in hidden activation does (``fit``, ``gradientCheck``, ``summary``,
    ``getConfig``, ``get_activation``, ``DERIVATIVES``). A model file records only its name: register it again
    before loading the file in another session. ``toTorch`` and ``exportONNX`` refuse it: neither framework has it.

    Parameters
    ----------
    name : str
        What configurations and model files record.
    forward : callable
        ``forward(z) -> a``: the activation of a float array ``z`` (n, units), elementwise, as a new array of the
        same shape; ``z`` is left as it is.
    derivative : callable
        ``derivative(a, grad) -> grad * f'(z)``, as the built-ins' backward steps: from the layer's output
        ``a = forward(z)`` and the gradient ``grad`` of the loss with respect to ``a`` (both (n, units)), the
        gradient with respect to ``z``, as a new array. With ``uses="pre_activation"``, ``derivative(z, grad)``,
        for an activation whose output does not determine its derivative (as gelu's and silu's do not).
    uses : {"output", "pre_activation"}
        What ``derivative`` takes first; "pre_activation" makes the forward pass keep ``z`` for such layers.
    aliases : sequence of str
        Other spellings of ``name``.
    replace : bool
        Allow replacing a built-in activation or taking another's spelling (``name`` itself may be registered again).

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    TypeError
        If ``forward`` or ``derivative`` is not callable.
    ValueError
        If ``derivative`` disagrees with central differences of ``forward`` at a few points (the message names the
        point and both values), for another ``uses``, or a name :meth:`dnn.registry.Registry.register` refuses.

    Examples
    --------
    Softsign, z / (1 + |z|), whose derivative 1 / (1 + |z|)^2 is (1 - |a|)^2:

    >>> register("softsign", lambda z: z / (1 + np.abs(z)), lambda a, grad: grad * (1 - np.abs(a)) ** 2)
    'softsign'
    """
    REGISTRY.register(name, user_pair(name, forward, derivative, uses), aliases=aliases, replace=replace)
    if uses == "pre_activation":
        PRE_ACTIVATION.add(name)
    else:
        PRE_ACTIVATION.discard(name)
    DERIVATIVES[name] = functools.partial(_derivative, name)
    return name
