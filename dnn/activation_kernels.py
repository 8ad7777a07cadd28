"""The array kernels of the built-in activations: the ``(forward, backward)`` pairs training runs.

They take float arrays and nothing else (no conversion, no check) and keep
their dtype: float32 stays float32. They take their array functions from the
arrays they are given (:func:`dnn.devices.namespace`), so they run on numpy's
arrays and on a GPU's alike. :mod:`dnn.activations` names them, calls them by
hand on numbers and lists, and registers them.

- ``<name>_forward(z, out=None)`` maps the pre-activations ``z`` (n, units)
  to the layer's output ``a``. ``out`` may be ``z`` itself, which makes it in
  place.
- ``<name>_backward(a, grad, out=None)`` returns ``grad * da/dz`` (for softmax
  the vector-Jacobian product), computed from the layer's *output* ``a``
  wherever the output determines the derivative. GELU and SiLU are not
  monotonic, so their output does not: their backward steps take the
  pre-activation ``z`` instead, ``<name>_backward(z, grad, out=None)``, and
  the forward pass keeps ``z`` for those layers only
  (:data:`dnn.activations.PRE_ACTIVATION`). ``out`` may be ``grad``.
"""

from dnn.devices import namespace
from dnn.special import normal_cdf

#: Slope of leaky ReLU for negative inputs.
LEAKY_RELU_SLOPE = 0.01
#: ELU's alpha: elu(z) = alpha (e^z - 1) for z <= 0, as torch.nn.ELU() has it.
ELU_ALPHA = 1.0
#: SELU's constants (Klambauer et al. 2017), as torch.nn.SELU has them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_INVERSE_SQRT_2PI = 0.39894228040143267794
#: Beyond it the normal density is 0 in float64 (exp(-40^2 / 2) underflows), and z^2 cannot overflow.
_DENSITY_LIMIT = 40.0


def sigmoid_forward(z, out=None):
    """Logistic function, sigmoid(z) = 1 / (1 + exp(-z)).

    Evaluated as exp(min(z, 0)) / (1 + exp(-|z|)) so that no exponential
    overflows, whatever the magnitude of z.
    """
    xp = namespace(z)
    e = xp.exp(-xp.abs(z))
    numerator = xp.where(z >= 0, z.dtype.type(1), e)
    e += 1
    return xp.divide(numerator, e, out=out)


def sigmoid_hidden_forward(z, out=None):
    """Logistic function as (1 + tanh(z / 2)) / 2: in place, no temporaries, no exponential to overflow.

    Within an ulp of 1 in absolute terms, which is all the next layer's product sees; but an output far below 1
    loses its relative precision (1 + tanh rounds to 0 below about 6e-8 in float32), so only hidden layers use
    it (:data:`HIDDEN_FORWARD`) and an output layer keeps :func:`sigmoid_forward`.
    """
    xp = namespace(z)
    out = xp.multiply(z, z.dtype.type(0.5), out=out)
    xp.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def sigmoid_backward(a, grad, out=None):
    """grad * sigmoid'(z), with sigmoid'(z) = a (1 - a) and a the output."""
    xp = namespace(a)
    derivative = 1 - a
    derivative *= a
    return xp.multiply(grad, derivative, out=out)


def tanh_forward(z, out=None):
    """Hyperbolic tangent, tanh(z) = (e^z - e^-z) / (e^z + e^-z)."""
    return namespace(z).tanh(z, out=out)


def tanh_backward(a, grad, out=None):
    """grad * tanh'(z), with tanh'(z) = 1 - a^2 and a the output."""
    xp = namespace(a)
    derivative = a * a
    xp.subtract(1, derivative, out=derivative)
    return xp.multiply(grad, derivative, out=out)


def relu_forward(z, out=None):
    """Rectified linear unit, relu(z) = max(z, 0)."""
    xp = namespace(z)
    # Against a row of zeros rather than the scalar 0, as numpy vectorizes
    # maximum only when both operands are contiguous; and maximum rather than
    # a product with the mask z > 0, which needs a bool to float cast.
    return xp.maximum(z, xp.zeros(z.shape[-1:], z.dtype), out=out)


def relu_backward(a, grad, out=None):
    """grad * relu'(z), with relu'(z) = 1 where a > 0, else 0."""
    return namespace(a).multiply(grad, a > 0, out=out)


def leaky_relu_forward(z, out=None):
    """Leaky ReLU, z for z > 0 and LEAKY_RELU_SLOPE * z otherwise."""
    xp = namespace(z)
    # max(z, slope * z) equals the piecewise definition because slope < 1.
    return xp.maximum(z, z * LEAKY_RELU_SLOPE, out=out)


def leaky_relu_backward(a, grad, out=None):
    """grad * leaky_relu'(z): 1 where a > 0, else LEAKY_RELU_SLOPE."""
    xp = namespace(a)
    one, slope = a.dtype.type(1), a.dtype.type(LEAKY_RELU_SLOPE)
    return xp.multiply(grad, xp.where(a > 0, one, slope), out=out)


def identity_forward(z, out=None):
    """Identity, identity(z) = z."""
    if out is None or out is z:
        return z
    namespace(z).copyto(out, z)
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
    return namespace(z).heaviside(z, z.dtype.type(0), out=out)


def step_backward(a, grad, out=None):
    """grad * step'(z) = 0 (the derivative is 0 wherever it exists)."""
    return namespace(a).multiply(grad, a.dtype.type(0), out=out)


def softmax_forward(z, out=None):
    """Softmax over the last axis, softmax(z)_k = exp(z_k) / sum_j exp(z_j).

    Each row is shifted by its maximum first, so exp never overflows. A
    vector is one row; a matrix (n, k) is n rows.
    """
    xp = namespace(z)
    out = identity_forward(z, out=xp.empty_like(z) if out is None else out)
    out -= out.max(axis=-1, keepdims=True)
    xp.exp(out, out=out)
    # Row sums as a product with a column of ones: one BLAS call, quicker than
    # sum(axis=1) on the few columns of an output layer.
    out /= out @ xp.ones((out.shape[-1], 1), out.dtype)
    return out


def softmax_backward(a, grad, out=None):
    """Vector-Jacobian product of softmax: a * (grad - sum_k a_k grad_k)."""
    xp = namespace(a)
    weighted = xp.einsum("ij,ij->i", a, grad)[:, None]
    result = xp.subtract(grad, weighted, out=out)
    result *= a
    return result


def gelu_forward(z, out=None):
    """Gaussian error linear unit, gelu(z) = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2, exact (not the tanh form).

    Phi is computed to float64 accuracy by :func:`dnn.special.normal_cdf`.
    """
    return namespace(z).multiply(z, normal_cdf(z), out=out)


def gelu_backward(z, grad, out=None):
    """grad * gelu'(z), with gelu'(z) = Phi(z) + z phi(z) from the pre-activation z."""
    xp = namespace(z)
    z_bounded = xp.clip(z, -_DENSITY_LIMIT, _DENSITY_LIMIT)
    density = z_bounded * z_bounded
    density *= -0.5
    xp.exp(density, out=density)
    density *= z_bounded
    density *= _INVERSE_SQRT_2PI
    density += normal_cdf(z)
    return xp.multiply(grad, density, out=out)


def silu_forward(z, out=None):
    """Sigmoid linear unit (swish), silu(z) = z sigmoid(z)."""
    return namespace(z).multiply(z, sigmoid_forward(z), out=out)


def silu_backward(z, grad, out=None):
    """grad * silu'(z), with silu'(z) = s (1 + z (1 - s)), s = sigmoid(z), from the pre-activation z."""
    xp = namespace(z)
    s = sigmoid_forward(z)
    derivative = 1 - s
    derivative *= z
    derivative += 1
    derivative *= s
    return xp.multiply(grad, derivative, out=out)


def elu_forward(z, out=None):
    """Exponential linear unit, elu(z) = z for z > 0 and e^z - 1 otherwise (alpha = ELU_ALPHA = 1)."""
    xp = namespace(z)
    # max(z, e^z - 1) is elu because e^z - 1 >= z everywhere (equal at 0); min(z, 0) keeps exp from overflowing.
    negative = xp.minimum(z, 0)
    xp.expm1(negative, out=negative)
    return xp.maximum(z, negative, out=out)


def elu_backward(a, grad, out=None):
    """grad * elu'(z), with elu'(z) = 1 where a > 0, else a + 1 (= e^z) from the output a."""
    xp = namespace(a)
    derivative = xp.minimum(a, 0)
    derivative += 1
    return xp.multiply(grad, derivative, out=out)


def selu_forward(z, out=None):
    """Scaled ELU, selu(z) = SELU_SCALE * (z for z > 0, SELU_ALPHA (e^z - 1) otherwise)."""
    xp = namespace(z)
    negative = xp.minimum(z, 0)
    xp.expm1(negative, out=negative)
    negative *= SELU_ALPHA
    result = xp.maximum(z, 0, out=out)
    result += negative
    result *= SELU_SCALE
    return result


def selu_backward(a, grad, out=None):
    """grad * selu'(z), with selu'(z) = SELU_SCALE where a > 0, else a + SELU_SCALE SELU_ALPHA, from the output a."""
    xp = namespace(a)
    derivative = xp.minimum(a, 0)
    derivative += SELU_SCALE * SELU_ALPHA
    xp.copyto(derivative, a.dtype.type(SELU_SCALE), where=a > 0)
    return xp.multiply(grad, derivative, out=out)


def softplus_forward(z, out=None):
    """Softplus, softplus(z) = log(1 + e^z), as log1p(e^-|z|) + max(z, 0) so that nothing overflows."""
    xp = namespace(z)
    result = xp.abs(z)
    xp.negative(result, out=result)
    xp.exp(result, out=result)
    xp.log1p(result, out=result)
    return xp.add(result, xp.maximum(z, 0), out=out)


def softplus_backward(a, grad, out=None):
    """grad * softplus'(z), with softplus'(z) = sigmoid(z) = 1 - e^-a from the output a (as -expm1(-a))."""
    xp = namespace(a)
    derivative = xp.negative(a)
    xp.expm1(derivative, out=derivative)
    xp.negative(derivative, out=derivative)
    return xp.multiply(grad, derivative, out=out)


#: Forward kernels that hidden layers run in place of their activation's own: faster, and exact in absolute terms
#: but not relatively near 0, which only an output (a probability, its logarithm) would show.
HIDDEN_FORWARD = {sigmoid_forward: sigmoid_hidden_forward}
