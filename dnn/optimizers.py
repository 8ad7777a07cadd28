"""Update rules as small classes: each holds its settings, its state and its update.

An optimizer updates one flat parameter array in place (see
:mod:`dnn.model.parameters`) from a gradient array of the same layout. Its state (a
velocity, Adam's moving averages) lives in ``optimizer.state``, a dict of
arrays shaped like the parameters and of step counters, so training can stop
and resume exactly and a model file can keep it. ``config()`` gives the
settings as plain data and :func:`from_config` rebuilds the optimizer.

Adding an optimizer means writing a subclass of :class:`Optimizer` and
registering it in :data:`REGISTRY`; the model, the training loop and model
files find it by name.

The gradient arrays passed to an update are scratch: they may be overwritten.
"""

import math

import numpy as np

from dnn import configurable
from dnn.checks import check_number
from dnn.configurable import Configurable
from dnn.registry import Registry


class Optimizer(Configurable):
    """Base class: the state handling every update rule shares.

    Subclasses set ``name``, ``state_arrays`` (the keys of state entries that
    are arrays shaped like the parameters), ``settings`` (constructor argument
    names, also the keys of ``config()``) and implement :meth:`update`.
    """

    state_arrays = ()
    #: True when the training loop passes gradients already multiplied by the learning rate.
    folds_learning_rate = False

    def __init__(self):
        self.state = {}

    def update(self, param, grad, lr):
        """Update ``param`` in place from ``grad`` (scratch) with learning rate ``lr``."""
        raise NotImplementedError

    def prepare(self, param):
        """Create the state for ``param`` unless the state there already fits it."""
        if any(key not in self.state or self.state[key].shape != param.shape for key in self.state_arrays):
            self.state.clear()
            self.state.update(self.initial_state(param))

    def initial_state(self, param):
        return {key: np.zeros_like(param) for key in self.state_arrays}

    def reset(self):
        """Forget the state (after a divergence: it carries the runaway steps)."""
        self.state.clear()

    def snapshot(self):
        """A copy of the state, for :meth:`restore`."""
        return {key: value.copy() if isinstance(value, np.ndarray) else value for key, value in self.state.items()}

    def restore(self, snapshot):
        """Put back a :meth:`snapshot`, into the same arrays where they still exist."""
        for key, value in snapshot.items():
            if isinstance(value, np.ndarray) and isinstance(self.state.get(key), np.ndarray):
                self.state[key][...] = value
            else:
                self.state[key] = value.copy() if isinstance(value, np.ndarray) else value
        for key in set(self.state) - set(snapshot):
            del self.state[key]


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    velocity <- momentum * velocity - lr * g;
    param <- param + velocity (Nesterov: param + momentum * velocity - lr * g).
    Without momentum: param <- param - lr * g.
    """

    name = "sgd"
    settings = ("momentum", "nesterov")
    folds_learning_rate = True

    def __init__(self, momentum=0.0, nesterov=False):
        super().__init__()
        check_number(momentum, "momentum", low=0, high=1)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    @property
    def state_arrays(self):
        return ("velocity",) if self.momentum > 0 else ()

    def update(self, param, grad, lr):
        """``grad`` is already multiplied by the learning rate (``folds_learning_rate``): ``lr`` is unused.

        The training loop folds the learning rate into the output delta, a far
        smaller array than the weights.
        """
        if self.momentum == 0:
            param -= grad
            return
        velocity = self.state["velocity"]
        velocity *= self.momentum
        velocity -= grad
        if self.nesterov:
            np.subtract(velocity * self.momentum, grad, out=grad)
            param += grad
        else:
            param += velocity


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): steps scaled by moving averages of the gradient and its square.

    m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
    param <- param - lr_t m / (sqrt(v) + epsilon), with the bias correction
    folded into the step size: lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
    at step t (the paper's efficient form), two scalars instead of corrected
    copies of m and v.
    """

    name = "adam"
    state_arrays = ("m", "v")
    settings = ("beta1", "beta2", "epsilon")

    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__()
        check_number(beta1, "beta1", low=0, high=1)
        check_number(beta2, "beta2", low=0, high=1)
        check_number(epsilon, "epsilon", low=0, low_inclusive=False)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def initial_state(self, param):
        return {**super().initial_state(param), "step": 0}

    def update(self, param, grad, lr):
        """One step at learning rate ``lr``, in place, with ``grad`` as the scratch array (no temporaries)."""
        self.state["step"] += 1
        t = self.state["step"]
        lr_t = lr * math.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        m, v = self.state["m"], self.state["v"]
        # beta1 (m - g) + g is the moving average without a temporary array.
        m -= grad
        m *= self.beta1
        m += grad
        np.multiply(grad, grad, out=grad)
        grad *= 1 - self.beta2
        v *= self.beta2
        v += grad
        np.sqrt(v, out=grad)
        grad += self.epsilon
        np.divide(m, grad, out=grad)
        grad *= lr_t
        param -= grad


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012): steps divided by a moving root mean square of the gradient.

    v <- rho v + (1 - rho) g^2;  param <- param - lr g / (sqrt(v) + epsilon).
    """

    name = "rmsprop"
    state_arrays = ("v",)
    settings = ("rho", "epsilon")

    def __init__(self, rho=0.9, epsilon=1e-8):
        super().__init__()
        check_number(rho, "rho", low=0, high=1)
        check_number(epsilon, "epsilon", low=0, low_inclusive=False)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def update(self, param, grad, lr):
        v = self.state["v"]
        v *= self.rho
        v += (1 - self.rho) * grad * grad
        denominator = np.sqrt(v)
        denominator += self.epsilon
        grad /= denominator
        grad *= lr
        param -= grad


def _is_optimizer_class(name, entry):
    return configurable.is_named_subclass(name, entry, Optimizer)


#: The optimizer classes by name; the command line offers these names.
OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, RMSprop)}

#: Every optimizer by name: ``REGISTRY.get("Adam")`` is :class:`Adam`.
REGISTRY = Registry("optimizer", OPTIMIZERS, "a subclass of dnn.optimizers.Optimizer whose name is the registered name",
                    _is_optimizer_class, note=", or an instance such as dnn.optimizers.Adam()")


def make_optimizer(optimizer, **settings):
    """An optimizer from a name and the settings that apply to it, or a fresh copy of an instance.

    ``settings`` may hold settings of other optimizers (the DNN constructor
    passes all of its own); each class takes only the ones it names.
    """
    if isinstance(optimizer, Optimizer):
        return from_config(optimizer.config())
    cls = REGISTRY.get(optimizer)
    return cls(**{key: value for key, value in settings.items() if key in cls.settings})


def from_config(config):
    """The optimizer described by ``config()`` output."""
    return configurable.from_config(config, REGISTRY, "an optimizer")
