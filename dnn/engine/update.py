"""Between the gradient and the weights: penalties, clipping, the optimizer's update and max-norm constraints.

What a model's settings add to a plain optimizer step, in the order it applies:

1. the penalties join the loss and its gradient: ``l2`` adds (l2 / 2) sum w^2
   (gradient l2 w), ``l1`` adds l1 sum |w| (subgradient l1 sign(w), 0 at
   w = 0), both over the weights, not the biases;
2. the gradient is clipped: ``clipNorm`` scales the whole of it (every weight
   and bias) by clipNorm / (norm + 1e-6) where its norm exceeds clipNorm, as
   ``torch.nn.utils.clip_grad_norm_`` does, then ``clipValue`` clips each
   entry to [-clipValue, clipValue], as ``torch.nn.utils.clip_grad_value_``;
3. the optimizer updates the parameters;
4. each unit of a layer with ``maxNorm`` whose incoming weight vector (a
   column of ``w[l]``) is longer than maxNorm is scaled back to norm maxNorm.

The training loop folds SGD's learning rate into the gradient (see
:attr:`dnn.optimizers.Optimizer.folds_learning_rate`); the rules here work in
those units, so they act on the true gradient either way. A model with none of
these settings trains without any of it (:meth:`UpdateRules.make` gives None).
"""

import math

import numpy as np

from dnn.devices import namespace
from dnn.losses import add_l1_gradient, add_l2_gradient, l2_penalty

#: What ``torch.nn.utils.clip_grad_norm_`` adds to the norm it divides by, so a tiny gradient is not blown up.
CLIP_NORM_EPSILON = 1e-6


def l1_penalty(weights, l1):
    """l1 * sum |w| over the weight arrays ``weights`` (a list); 0.0 when ``l1`` is 0."""
    return l1 * sum(float(namespace(w).abs(w).sum()) for w in weights) if l1 else 0.0


class UpdateRules:
    """The update of one mini-batch beyond the optimizer's own, on the flat parameter and gradient arrays.

    Parameters
    ----------
    params : dnn.model.parameters.Parameters
    grad : ndarray
        The gradient array laid out as ``params.flat``, filled by the backward pass (scratch).
    optimizer : dnn.optimizers.Optimizer
    l2, l1 : float
    clip_norm, clip_value : float or None
    max_norms : list of (float or None)
        The ``maxNorm`` of every layer after the input.
    """

    def __init__(self, params, grad, optimizer, l2=0.0, l1=0.0, clip_norm=None, clip_value=None, max_norms=()):
        self.flat, self.grad, self.optimizer = params.flat, grad, optimizer
        self.weights, self.grad_weights = params.flat[: params.n_weights], grad[: params.n_weights]
        self.l2, self.l1, self.clip_norm, self.clip_value = l2, l1, clip_norm, clip_value
        self.max_norms = [(w, limit) for w, limit in zip(params.weights, max_norms) if limit is not None]
        # The penalties' gradients are made here, once per step: in an array made once, not a new one every step.
        self.work = namespace(self.weights).empty_like(self.weights) if l2 or l1 else None

    @classmethod
    def make(cls, params, grad, optimizer, l2=0.0, l1=0.0, clip_norm=None, clip_value=None, max_norms=()):
        """The rules for these settings, or None when every one is off (the plain optimizer step)."""
        if not (l2 or l1 or clip_norm is not None or clip_value is not None or any(m is not None for m in max_norms)):
            return None
        return cls(params, grad, optimizer, l2, l1, clip_norm, clip_value, max_norms)

    def penalty(self):
        """The penalties' share of the mean loss: (l2 / 2) sum w^2 + l1 sum |w|."""
        penalty = l2_penalty([self.weights], self.l2) if self.l2 else 0.0
        if self.l1:
            penalty += l1_penalty([self.weights], self.l1)
        return penalty

    def update(self, lr):
        """Add the penalties' gradient, clip, step the optimizer at rate ``lr``, then apply the max-norms."""
        scale = lr if self.optimizer.folds_learning_rate else 1.0  # the gradient's units: lr times the true one
        if self.l2:
            add_l2_gradient([self.grad_weights], [self.weights], self.l2 * scale, self.work)
        if self.l1:
            add_l1_gradient([self.grad_weights], [self.weights], self.l1 * scale, self.work)
        if scale > 0:  # at rate 0 a folded gradient is all 0 and there is nothing to clip
            if self.clip_norm is not None:
                clip_by_norm(self.grad, self.clip_norm, scale)
            if self.clip_value is not None:
                bound = self.clip_value * scale
                namespace(self.grad).clip(self.grad, -bound, bound, out=self.grad)
        self.optimizer.update(self.flat, self.grad, lr)
        for w, limit in self.max_norms:
            constrain_norms(w, limit)


def clip_by_norm(grad, limit, scale=1.0):
    """Scale ``grad`` (``scale`` times the true gradient g) in place by limit / (|g| + 1e-6) where that is below 1.

    As ``torch.nn.utils.clip_grad_norm_`` scales g, whose norm |g| is that of all its entries together.
    """
    xp = namespace(grad)
    norm = float(xp.linalg.norm(grad))
    if not math.isfinite(norm):  # float32 squares overflow long before the norm itself does
        norm = float(xp.linalg.norm(grad.astype(np.float64)))
    factor = limit / (norm / scale + CLIP_NORM_EPSILON)
    if factor < 1.0:
        grad *= factor


def constrain_norms(w, limit):
    """Scale every column of ``w`` (in, out) whose norm exceeds ``limit`` back to norm ``limit``, in place."""
    xp = namespace(w)
    norms = xp.sqrt(xp.einsum("ij,ij->j", w, w))
    over = norms > limit
    if over.any():
        w[:, over] *= limit / norms[over]


def update_settings(model):
    """The settings of :class:`UpdateRules` beyond ``l2`` that ``model`` has, as the Trainer takes them."""
    return {"l1": model.l1, "clip_norm": model.clipNorm, "clip_value": model.clipValue,
            "max_norms": [layer.max_norm for layer in model.layers[1:]]}
