"""Update rules as small classes: each holds its settings, its state and its update.

An optimizer updates one flat parameter array in place (see
:mod:`dnn.model.parameters`) from a gradient array of the same layout. Its state (a
velocity, Adam's moving averages) lives in ``optimizer.state``, a dict of
arrays shaped like the parameters and of step counters, so training can stop
and resume exactly and a model file can keep it. ``config()`` gives the
settings as plain data and :func:`from_config` rebuilds the optimizer.

Adding an optimizer means writing a subclass of :class:`Optimizer` and
registering it with :func:`register`; the model, the training loop and model
files find it by name. A model file records an optimizer by its name and
settings only: a process that has not registered the same name cannot read it
back, and nothing from the file ever runs.

The gradient arrays passed to an update are scratch: they may be overwritten.
The state lives on the parameters' device, and every update takes its array
functions from the arrays it is given (:func:`dnn.devices.namespace`).
"""

import math

import numpy as np

from dnn import configurable
from dnn.checks import check_number
from dnn.configurable import Configurable
from dnn.devices import is_array, namespace
from dnn.registry import Registry


class Optimizer(Configurable):
    """Base class: the state handling every update rule shares.

    Subclasses set ``name``, ``state_arrays`` (the keys of state entries that
    are arrays shaped like the parameters), ``state_numbers`` (pairs of the
    key and the initial value of state entries that are numbers, such as a
    step count), ``settings`` (constructor argument names, also the keys of
    ``config()``) and implement :meth:`update`.
    """

    state_arrays = ()
    state_numbers = ()
    #: True when the training loop passes gradients already multiplied by the learning rate.
    folds_learning_rate = False

    def __init__(self):
        self.state = {}

    def update(self, param, grad, lr):
        """Update ``param`` in place from ``grad`` (scratch) with learning rate ``lr``."""
        raise NotImplementedError

    def work_array(self, like):
        """Scratch space shaped like ``like`` for a step's arithmetic, made at the first step and reused by the next
        (not state: never saved, copied or pickled), so that a step allocates nothing."""
        work = self.__dict__.get("_work")
        # its type too: a model moved to another device keeps its optimizer
        if work is None or type(work) is not type(like) or work.shape != like.shape or work.dtype != like.dtype:
            work = self._work = namespace(like).empty_like(like)
        return work

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_work", None)
        return state

    def prepare(self, param):
        """Create the state for ``param`` unless the state there already fits it."""
        if (any(key not in self.state or self.state[key].shape != param.shape for key in self.state_arrays)
                or any(key not in self.state for key, _ in self.state_numbers)):
            self.state.clear()
            self.state.update(self.initial_state(param))

    def initial_state(self, param):
        """The state before the first step, on ``param``'s device: zeros and the initial numbers."""
        xp = namespace(param)
        return {**{key: xp.zeros_like(param) for key in self.state_arrays}, **dict(self.state_numbers)}

    def reset(self):
        """Forget the state (after a divergence: it carries the runaway steps)."""
        self.state.clear()

    def snapshot(self):
        """A copy of the state, for :meth:`restore`."""
        return {key: value.copy() if is_array(value) else value for key, value in self.state.items()}

    def restore(self, snapshot):
        """Put back a :meth:`snapshot`, into the same arrays where they still exist."""
        for key, value in snapshot.items():
            if is_array(value) and is_array(self.state.get(key)):
                self.state[key][...] = value
            else:
                self.state[key] = value.copy() if is_array(value) else value
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
            xp = namespace(param)
            work = xp.multiply(velocity, self.momentum, out=self.work_array(velocity))
            xp.subtract(work, grad, out=grad)
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

    Epsilon enters as in Keras, not as in ``torch.optim.Adam``, which adds it
    after the correction: sqrt(v / (1 - beta2^t)) + epsilon. The two agree
    where sqrt(v) is far above epsilon and part slightly elsewhere (mostly in
    the first steps). This class keeps its arithmetic so that models trained
    with it continue exactly; :class:`AdamW` with ``weight_decay=0`` is
    PyTorch's Adam.
    """

    name = "adam"
    state_arrays = ("m", "v")
    state_numbers = (("step", 0),)
    settings = ("beta1", "beta2", "epsilon")

    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__()
        check_number(beta1, "beta1", low=0, high=1)
        check_number(beta2, "beta2", low=0, high=1)
        check_number(epsilon, "epsilon", low=0, low_inclusive=False)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def update(self, param, grad, lr):
        """One step at learning rate ``lr``, in place, with ``grad`` as the scratch array (no temporaries)."""
        self.state["step"] += 1
        t = self.state["step"]
        lr_t = lr * math.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        m, v, xp = self.state["m"], self.state["v"], namespace(param)
        self._moments(m, v, grad)
        xp.sqrt(v, out=grad)
        grad += self.epsilon
        xp.divide(m, grad, out=grad)
        grad *= lr_t
        param -= grad

    def _moments(self, m, v, grad):
        """m <- beta1 m + (1 - beta1) g, v <- beta2 v + (1 - beta2) g^2, in place; ``grad`` ends as (1 - beta2) g^2."""
        # beta1 (m - g) + g is the moving average without a temporary array.
        m -= grad
        m *= self.beta1
        m += grad
        namespace(grad).multiply(grad, grad, out=grad)
        grad *= 1 - self.beta2
        v *= self.beta2
        v += grad


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam as ``torch.optim.AdamW`` computes it, with decoupled weight decay.

    param <- param (1 - lr weight_decay); m and v as in Adam;
    param <- param - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon).
    The decay shrinks every parameter, biases included, as
    ``torch.optim.AdamW(model.parameters())`` does, and is not part of the
    loss (``l2`` is: a penalty on the weights whose gradient Adam rescales).
    With ``weight_decay=0`` this is ``torch.optim.Adam``.
    """

    name = "adamw"
    settings = ("beta1", "beta2", "epsilon", "weight_decay")

    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=1e-2):
        super().__init__(beta1, beta2, epsilon)
        self.weight_decay = check_number(weight_decay, "weight_decay", low=0)

    def update(self, param, grad, lr):
        self.state["step"] += 1
        t = self.state["step"]
        if self.weight_decay:
            param *= 1 - lr * self.weight_decay
        m, v, xp = self.state["m"], self.state["v"], namespace(param)
        self._moments(m, v, grad)
        xp.sqrt(v, out=grad)
        grad /= math.sqrt(1 - self.beta2**t)
        grad += self.epsilon
        xp.divide(m, grad, out=grad)
        grad *= lr / (1 - self.beta1**t)
        param -= grad


class NAdam(Adam):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum, as ``torch.optim.NAdam`` computes it.

    mu_t = beta1 (1 - 0.96^(t momentum_decay) / 2), and P_t = mu_1 ... mu_t;
    m and v as in Adam; d = sqrt(v / (1 - beta2^t)) + epsilon;
    param <- param - lr (1 - mu_t) / (1 - P_t) g / d - lr mu_{t+1} / (1 - P_t mu_{t+1}) m / d.
    PyTorch's ``weight_decay`` is left to ``l2``.
    """

    name = "nadam"
    state_numbers = (("step", 0), ("mu_product", 1.0))
    settings = ("beta1", "beta2", "epsilon", "momentum_decay")

    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-8, momentum_decay=4e-3):
        super().__init__(beta1, beta2, epsilon)
        self.momentum_decay = check_number(momentum_decay, "momentum_decay", low=0)

    def update(self, param, grad, lr):
        state = self.state
        state["step"] += 1
        t = state["step"]
        mu = self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))
        mu_next = self.beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * self.momentum_decay))
        state["mu_product"] *= mu
        product = state["mu_product"]
        m, v, xp = state["m"], state["v"], namespace(param)
        m -= grad
        m *= self.beta1
        m += grad
        work = xp.multiply(grad, grad, out=self.work_array(grad))
        work *= 1 - self.beta2
        v *= self.beta2
        v += work
        # the numerator of both of PyTorch's steps over the one denominator d
        grad *= lr * (1.0 - mu) / (1.0 - product)
        xp.multiply(m, lr * mu_next / (1.0 - product * mu_next), out=work)
        grad += work
        xp.divide(v, 1 - self.beta2**t, out=work)
        xp.sqrt(work, out=work)
        work += self.epsilon
        grad /= work
        param -= grad


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad`` computes it.

    s <- s + g^2 (s starts at ``initial_accumulator_value``);
    param <- param - lr g / (sqrt(s) + epsilon). PyTorch's ``lr_decay`` and
    ``weight_decay`` are left to the schedules and ``l2``.
    """

    name = "adagrad"
    state_arrays = ("sum",)
    settings = ("epsilon", "initial_accumulator_value")

    def __init__(self, epsilon=1e-10, initial_accumulator_value=0.0):
        super().__init__()
        self.epsilon = check_number(epsilon, "epsilon", low=0, low_inclusive=False)
        self.initial_accumulator_value = check_number(initial_accumulator_value, "initial_accumulator_value", low=0)

    def initial_state(self, param):
        return {"sum": namespace(param).full_like(param, self.initial_accumulator_value)}

    def update(self, param, grad, lr):
        total, xp = self.state["sum"], namespace(param)
        work = xp.multiply(grad, grad, out=self.work_array(grad))
        total += work
        xp.sqrt(total, out=work)
        work += self.epsilon
        grad /= work
        grad *= lr
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
        v, xp = self.state["v"], namespace(param)
        v *= self.rho
        work = xp.multiply(grad, grad, out=self.work_array(grad))
        work *= 1 - self.rho
        v += work
        xp.sqrt(v, out=work)
        work += self.epsilon
        grad /= work
        grad *= lr
        param -= grad


def _is_optimizer_class(name, entry):
    return configurable.is_named_subclass(name, entry, Optimizer)


#: The optimizer classes by name (those registered later included); the command line offers these names.
OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, RMSprop, AdamW, NAdam, Adagrad)}

#: Every optimizer by name: ``REGISTRY.get("Adam")`` is :class:`Adam`.
REGISTRY = Registry("optimizer", OPTIMIZERS, "a subclass of dnn.optimizers.Optimizer whose name is the registered name",
                    _is_optimizer_class, note=", or an instance such as dnn.optimizers.Adam()")


def register(cls, aliases=(), replace=False):
    """Register ``cls``, a subclass of :class:`Optimizer`, under its ``name``; returns ``cls`` (a decorator too).

    Then ``DNN(optimizer=cls.name)`` finds it, and model files record it by
    name and settings: a process that registers the same class reads them
    back. ``aliases`` and ``replace`` are those of
    :meth:`dnn.registry.Registry.register` (a built-in is replaced only with
    ``replace=True``).
    """
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise TypeError(f"register takes a subclass of dnn.optimizers.Optimizer, got {cls!r:.100}")
    return REGISTRY.register(cls.name, cls, aliases, replace)


def make_optimizer(optimizer, **settings):
    """An optimizer from a name and the settings that apply to it, or a fresh copy of an instance.

    ``settings`` may hold settings of other optimizers (the DNN constructor
    passes all of its own); each class takes only the ones it names.
    """
    if isinstance(optimizer, Optimizer):
        if REGISTRY.entries.get(REGISTRY.lookup(optimizer.name)) is not type(optimizer):
            cls = type(optimizer).__name__
            raise ValueError(f"the optimizer {cls} is not registered under its name {optimizer.name!r}: a model "
                             f"keeps its optimizer by name and settings, so register the class first, "
                             f"dnn.optimizers.register({cls}) (a subclass of a built-in needs a name of its own)")
        return from_config(optimizer.config())
    cls = REGISTRY.get(optimizer)
    return cls(**{key: value for key, value in settings.items() if key in cls.settings})


def from_config(config):
    """The optimizer described by ``config()`` output."""
    return configurable.from_config(config, REGISTRY, "an optimizer")
