"""Update rules and learning-rate decay.

Parameters are a list of arrays updated in place. Optimizer state is a dict of
lists of arrays aligned with them, made by :func:`init_state`, owned by the
caller and kept between calls, so training can stop and resume exactly.

The gradient arrays passed to an update are scratch: they may be overwritten.
"""

import math

import numpy as np

OPTIMIZERS = ("sgd", "adam")


def decayed_learning_rate(lr, decay, epoch):
    """Learning rate of epoch ``epoch`` (0-based): lr / (1 + decay * epoch)."""
    return lr / (1.0 + decay * epoch)


def init_state(optimizer, params, momentum=0.0):
    """Fresh optimizer state for ``params``: zeros where the rule keeps averages."""
    if optimizer == "adam":
        return {
            "m": [np.zeros_like(p) for p in params],
            "v": [np.zeros_like(p) for p in params],
            "step": 0,
        }
    if momentum > 0:
        return {"velocity": [np.zeros_like(p) for p in params]}
    return {}


def sgd_update(params, steps, state, momentum=0.0, nesterov=False):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    ``steps`` are the gradients already multiplied by the learning rate: the
    training loop folds the learning rate into the output delta, which is a
    far smaller array than the weights.

    velocity <- momentum * velocity - steps;
    param <- param + velocity (Nesterov: param + momentum * velocity - steps).
    Without momentum: param <- param - steps.
    """
    if momentum == 0:
        for param, step in zip(params, steps):
            param -= step
        return
    for param, step, velocity in zip(params, steps, state["velocity"]):
        velocity *= momentum
        velocity -= step
        if nesterov:
            np.subtract(velocity * momentum, step, out=step)
            param += step
        else:
            param += velocity


def adam_update(params, grads, state, lr, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adam (Kingma & Ba, 2015) with bias correction folded into the step size.

    m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
    param <- param - lr_t m / (sqrt(v) + epsilon),
    lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t).
    """
    state["step"] += 1
    t = state["step"]
    lr_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    for param, grad, m, v in zip(params, grads, state["m"], state["v"]):
        # beta1 (m - g) + g is the moving average without a temporary array.
        m -= grad
        m *= beta1
        m += grad
        np.multiply(grad, grad, out=grad)
        grad *= 1 - beta2
        v *= beta2
        v += grad
        np.sqrt(v, out=grad)
        grad += epsilon
        np.divide(m, grad, out=grad)
        grad *= lr_t
        param -= grad
