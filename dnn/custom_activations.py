"""Activations of the user's own: the adapters that give them the kernels' calling convention, and their check.

:func:`dnn.activations.register` takes two plain functions, ``forward(z) -> a``
and ``derivative(a, grad) -> grad * f'(z)`` (or ``derivative(z, grad)``, from
the pre-activation). :class:`UserForward` and :class:`UserBackward` give them
the ``out=`` argument and the dtype that the training loop relies on, and
:func:`check_user_activation` compares the derivative with central
differences of the forward function at a few points before anything is
registered, so that a wrong derivative is refused with the point where it is
wrong instead of training a network on wrong gradients.
"""

from collections.abc import Sequence

import numpy as np

from dnn.devices import namespace

#: What a derivative is computed from: the layer's output a, or its pre-activation z.
USES = ("output", "pre_activation")

#: Where derivatives are checked: away from 0 and the integers, where activations have their kinks.
CHECK_POINTS = np.array([[-2.3, -0.7, 0.4, 1.9], [-1.1, 0.15, 0.8, 3.1]])
#: The upstream gradient of the check: unequal entries, so that a derivative which ignores it shows.
CHECK_GRAD = np.array([[0.5, -1.5, 2.0, 1.0], [1.25, -0.75, 0.3, -2.0]])
#: Central-difference step, relative to max(1, |z|): its truncation and rounding errors are both near 1e-10.
STEP = 1e-5
#: How far a derivative may be from the central differences, relative and absolute: far looser than the
#: differences' own error, far tighter than any mistake in a derivative.
RTOL, ATOL = 1e-4, 1e-6


class NamesView(Sequence):
    """The names of a registry's table but ``excluded``, in order, read when used (not when imported).

    ``dnn.activations.HIDDEN_ACTIVATIONS`` is one, so that an activation added
    by ``register`` is a valid hidden activation wherever the sequence was imported.
    """

    def __init__(self, entries, excluded):
        self._entries, self._excluded = entries, excluded

    def _names(self):
        return tuple(name for name in self._entries if name not in self._excluded)

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self):
        return len(self._names())

    def __repr__(self):
        return repr(self._names())


def user_pair(name, forward, derivative, uses):
    """The ``(forward, backward)`` pair of a user's functions, after checking them (see the module docstring).

    Raises
    ------
    TypeError
        If ``forward`` or ``derivative`` is not callable.
    ValueError
        For ``uses`` not in :data:`USES`, or a derivative that disagrees with the forward function.
    """
    if uses not in USES:
        raise ValueError(f"uses must be 'output' or 'pre_activation', got {uses!r}")
    for function, what in ((forward, "forward"), (derivative, "derivative")):
        if not callable(function):
            raise TypeError(f"an activation's {what} is a function, got {function!r:.60}")
    pair = (UserForward(name, forward), UserBackward(name, derivative))
    check_user_activation(name, *pair, uses)
    return pair


class UserForward:
    """A user's ``forward(z) -> a`` with the kernels' signature ``(z, out=None)``, in z's dtype."""

    def __init__(self, name, function):
        self.name, self.function = name, function

    def __call__(self, z, out=None):
        return _result(self.function(z), z, out, f"the forward function of activation {self.name!r}")


class UserBackward:
    """A user's ``derivative(x, grad) -> grad * f'(z)`` with the kernels' signature ``(x, grad, out=None)``."""

    def __init__(self, name, function):
        self.name, self.function = name, function

    def __call__(self, x, grad, out=None):
        return _result(self.function(x, grad), grad, out, f"the derivative of activation {self.name!r}")


def _result(result, like, out, what):
    """``result`` checked to be shaped like ``like``, in its dtype and on its device, and written into ``out`` when
    given."""
    xp = namespace(like)
    result = xp.asarray(result)
    if result.shape != like.shape:
        raise ValueError(f"{what} returned an array of shape {result.shape} for one of shape {like.shape}; it "
                         f"must work elementwise and return an array of the same shape")
    if out is None:
        return result.astype(like.dtype, copy=False)
    xp.copyto(out, result, casting="same_kind")
    return out


def check_user_activation(name, forward, backward, uses):
    """Raise ValueError unless ``backward`` is the derivative of ``forward`` at :data:`CHECK_POINTS`.

    Parameters
    ----------
    name : str
    forward, backward : UserForward, UserBackward
    uses : {"output", "pre_activation"}
        What ``backward`` takes first: the output a = forward(z), or z.
    """
    z = CHECK_POINTS.copy()
    a = forward(z)
    if not np.array_equal(z, CHECK_POINTS):
        raise ValueError(f"the forward function of activation {name!r} changed its input z; it must leave z as it "
                         f"is and return a new array")
    if not np.isfinite(a).all():
        raise ValueError(f"the forward function of activation {name!r} gives non-finite values at "
                         f"z = {z[~np.isfinite(a)].tolist()}")
    step = STEP * np.maximum(1.0, np.abs(z))
    expected = CHECK_GRAD * (forward(z + step) - forward(z - step)) / (2 * step)
    given = backward(a.copy() if uses == "output" else z.copy(), CHECK_GRAD.copy())
    if np.allclose(given, expected, rtol=RTOL, atol=ATOL):
        return
    worst = np.unravel_index(np.argmax(np.abs(given - expected) / (ATOL + RTOL * np.abs(expected))), z.shape)
    taken = "a" if uses == "output" else "z"
    raise ValueError(
        f"the derivative of activation {name!r} does not match its forward function: at z = {z[worst]:g} with "
        f"grad = {CHECK_GRAD[worst]:g} it gives {given[worst]:.6g}, where central differences of the forward "
        f"function give grad * f'(z) = {expected[worst]:.6g}. derivative({taken}, grad) must return grad * f'(z)"
        f"{_other_input_hint(backward, a, z, expected, uses)}")


def _other_input_hint(backward, a, z, expected, uses):
    """The advice to switch ``uses``, when the derivative is right for the other input; else an empty string."""
    try:
        other = backward(z.copy() if uses == "output" else a.copy(), CHECK_GRAD.copy())
    except Exception:  # a derivative that fails on the other input simply gets no hint
        return ""
    if not np.allclose(other, expected, rtol=RTOL, atol=ATOL):
        return ""
    if uses == "output":
        return ("; it does when given the pre-activation z instead of the output a: register it with "
                "uses='pre_activation'")
    return "; it does when given the output a instead of the pre-activation z: register it with uses='output'"
