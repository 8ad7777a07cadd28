"""Forward and backward passes of a fully-connected network, as functions over arrays.

A network with L layers is described by three lists of length L - 1, one entry
per layer after the input: ``weights[i]`` of shape (units_in, units_out),
``biases[i]`` of shape (units_out,) and ``activations[i]``, an activation name.

The forward pass returns its cache, the list of layer outputs
``[x, a_2, ..., a_L]``; the backward pass consumes it. Both accept
preallocated arrays to write into, so a training loop allocates nothing per batch.
"""

import numpy as np

from dnn.activations import get_activation


def forward_pass(x, weights, biases, activations, outputs=None):
    """Propagate ``x`` through the network.

    Parameters
    ----------
    x : ndarray, shape (n, units_1)
    weights, biases, activations : lists of length L - 1
    outputs : list of ndarray, optional
        Arrays of shape (n, units_l) for l = 2..L to write the layer outputs into.

    Returns
    -------
    list of ndarray
        ``[x, a_2, ..., a_L]``; the last entry is the network's output.
    """
    cache = [x]
    for i, (w, b, name) in enumerate(zip(weights, biases, activations)):
        z = np.matmul(cache[-1], w, out=None if outputs is None else outputs[i])
        z += b
        cache.append(get_activation(name)[0](z, out=z))
    return cache


def backward_pass(cache, delta, weights, activations, grad_w=None, grad_b=None, deltas=None):
    """Gradients of the loss with respect to every weight and bias.

    Parameters
    ----------
    cache : list of ndarray
        Output of :func:`forward_pass`.
    delta : ndarray, shape (n, units_L)
        Gradient of the loss with respect to the output layer's pre-activations
        (see :func:`dnn.losses.output_delta`). It may be overwritten.
    weights, activations : lists of length L - 1
    grad_w, grad_b : lists of ndarray, optional
        Arrays shaped like the weights and biases to write the gradients into.
    deltas : list of ndarray, optional
        Arrays of shape (n, units_l) for the hidden layers l = 2..L-1.

    Returns
    -------
    grad_w, grad_b : lists of ndarray
    """
    layers = len(weights)
    if grad_w is None:
        grad_w = [np.empty_like(w) for w in weights]
        grad_b = [np.empty(w.shape[1], dtype=w.dtype) for w in weights]
    # Bias gradients are column sums; ones @ delta runs as one BLAS call, about
    # twice as fast as np.sum over the rows.
    ones = np.ones(len(delta), dtype=delta.dtype)
    for i in reversed(range(layers)):
        np.matmul(cache[i].T, delta, out=grad_w[i])
        np.matmul(ones, delta, out=grad_b[i])
        if i > 0:
            # No gradient is propagated into the input layer: nothing uses it.
            upstream = np.matmul(delta, weights[i].T, out=None if deltas is None else deltas[i - 1])
            delta = get_activation(activations[i - 1])[1](cache[i], upstream, out=upstream)
    return grad_w, grad_b
