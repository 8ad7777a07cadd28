"""Forward and backward passes of a fully-connected network, as functions over arrays.

A network with L layers is described by three lists of length L - 1, one entry
per layer after the input: ``weights[i]`` of shape (units_in, units_out),
``biases[i]`` of shape (units_out,) and ``activations[i]``, an activation name.

The forward pass returns its cache, the list ``[x, a_2, ..., a_L]`` of what
every layer passes on, which also keeps the pre-activations z_l of the layers
whose activation's derivative is taken from them (gelu, silu:
:data:`dnn.activations.PRE_ACTIVATION`), and of those only; the backward pass
consumes it. Both accept preallocated arrays to write into, so a training loop
allocates nothing per batch.

Dropout enters as ``masks``: one array per layer after the input (None where a
layer has no dropout) holding 0 for a dropped unit and 1 / (1 - rate) for a
kept one (inverted dropout). A masked layer's output is multiplied by its mask
before the next layer sees it; the cache holds that masked output, and the
unmasked one stays in ``outputs`` for the activation's derivative.

Normalization enters as ``norms``: one :class:`dnn.normalization.Normalization`
per layer after the input (None where a layer has none). A normalized layer's
weighted sums are normalized, scaled and shifted before its activation (see
:mod:`dnn.normalization`), in the ``mode`` the pass is run in: training,
batch statistics only, or inference; the cache keeps what the backward pass
needs of it.

A hidden layer runs the faster kernel :data:`dnn.activation_kernels.HIDDEN_FORWARD`
gives for its activation where there is one (sigmoid: exact in absolute terms,
which is all the next layer sees); the last layer, the network's output, always
runs the activation's own.

Every array function comes from the arrays given (:func:`dnn.devices.namespace`): numpy's, or CuPy's on a GPU.
"""

from dnn.activation_kernels import HIDDEN_FORWARD
from dnn.activations import get_activation, takes_pre_activation
from dnn.devices import namespace
from dnn.normalization import INFERENCE, normalize, normalize_backward


class Cache(list):
    """What :func:`forward_pass` keeps for :func:`backward_pass`: the list ``[x, a_2, ..., a_L]``.

    Attributes
    ----------
    pre_activations : list of (ndarray or None)
        Per layer after the input, its activation's input (n, units) where its
        activation's backward step takes it, else None.
    normalized : list of (dnn.normalization.Normalized or None)
        Per layer after the input, what its normalization kept (None without one).
    """

    def __init__(self, x):
        super().__init__([x])
        self.pre_activations = []
        self.normalized = []


def forward_pass(x, weights, biases, activations, outputs=None, masks=None, dropped=None, pre_activations=None,
                 norms=None, mode=INFERENCE, sums=None):
    """Propagate ``x`` through the network.

    Parameters
    ----------
    x : ndarray, shape (n, units_1)
    weights, biases, activations : lists of length L - 1
    outputs : list of ndarray, optional
        Arrays of shape (n, units_l) for l = 2..L to write the layer outputs into.
        Required with ``masks``: backward_pass reads the unmasked outputs there.
    masks : list of (ndarray or None), optional
        Dropout masks of shape (n, units_l), see the module docstring.
    dropped : list of (ndarray or None), optional
        Arrays to write the masked outputs into (allocated when missing).
    pre_activations : list of (ndarray or None), optional
        Arrays of shape (n, units_l) to keep the activations' inputs in, for
        the layers whose activation's backward step takes them (None for the
        others); allocated for those layers when missing.
    norms : list of (dnn.normalization.Normalization or None), optional
        The layers' normalizations (see the module docstring).
    mode : dnn.normalization.TRAIN, BATCH_STATISTICS or INFERENCE
        How normalized layers compute (INFERENCE: running averages).
    sums : list of (ndarray or None), optional
        Arrays of shape (n, units_l) for the weighted sums of normalized layers,
        which become their normalized values (allocated when missing).

    Returns
    -------
    Cache
        ``[x, a_2, ..., a_L]``; the last entry is the network's output.
    """
    cache = Cache(x)
    xp = namespace(x)
    last = len(weights) - 1
    for i, (w, b, name) in enumerate(zip(weights, biases, activations)):
        output = None if outputs is None else outputs[i]
        keeps_input = takes_pre_activation(name)
        kept = None if not keeps_input or pre_activations is None else pre_activations[i]
        norm = None if norms is None else norms[i]
        if norm is not None:
            z = xp.matmul(cache[-1], w, out=None if sums is None else sums[i])
            z += b
            z, normalized = normalize(norm, z, kept if keeps_input else output, mode)
        else:
            z = xp.matmul(cache[-1], w, out=kept if keeps_input else output)
            z += b
            normalized = None
        forward = get_activation(name)[0]
        if i < last:
            forward = HIDDEN_FORWARD.get(forward, forward)
        a = forward(z, out=output if keeps_input else z)
        cache.pre_activations.append(z if keeps_input else None)
        cache.normalized.append(normalized)
        if masks is not None and masks[i] is not None:
            a = xp.multiply(a, masks[i], out=None if dropped is None else dropped[i])
        cache.append(a)
    return cache


def backward_pass(cache, delta, weights, activations, grad_w=None, grad_b=None, deltas=None, masks=None,
                  outputs=None, ones=None, norms=None, grad_scale=None, grad_shift=None):
    """Gradients of the loss with respect to every weight and bias (and normalization's gamma and beta).

    Parameters
    ----------
    cache : Cache
        Output of :func:`forward_pass`.
    delta : ndarray, shape (n, units_L)
        Gradient of the loss with respect to the output layer's pre-activations
        (see :func:`dnn.losses.output_delta`). It may be overwritten.
    weights, activations : lists of length L - 1
    grad_w, grad_b : lists of ndarray, optional
        Arrays shaped like the weights and biases to write the gradients into.
    deltas : list of ndarray, optional
        Arrays of shape (n, units_l) for the hidden layers l = 2..L-1.
    masks, outputs : as given to :func:`forward_pass`, with dropout.
    ones : ndarray, shape (n,), optional
        A vector of ones in the dtype of ``delta``, for the bias gradients
        (allocated when missing).
    norms : as given to :func:`forward_pass`.
    grad_scale, grad_shift : lists of (ndarray or None)
        Required with ``norms``: per layer after the input, an array shaped
        like its gamma and beta to write their gradients into, or None; a
        normalized layer's None entry is replaced by a new array.

    Returns
    -------
    grad_w, grad_b : lists of ndarray
    """
    layers = len(weights)
    xp = namespace(delta)
    if grad_w is None:
        grad_w = [xp.empty_like(w) for w in weights]
        grad_b = [xp.empty(w.shape[1], dtype=w.dtype) for w in weights]
    # Bias gradients are column sums: ones @ delta runs as one BLAS call, faster than np.sum over the rows.
    if ones is None:
        ones = xp.ones(len(delta), dtype=delta.dtype)
    # numpy's matmul computes an outer product (one row: a product over k = 1) without BLAS, several times slower
    # than dot, which hands it to BLAS; the products are the same, rounded once each.
    product = xp.dot if len(delta) == 1 else xp.matmul
    for i in reversed(range(layers)):
        product(cache[i].T, delta, out=grad_w[i])
        xp.matmul(ones, delta, out=grad_b[i])
        if i > 0:
            # No gradient is propagated into the input layer: nothing uses it.
            upstream = xp.matmul(delta, weights[i].T, out=None if deltas is None else deltas[i - 1])
            output = cache[i]
            if masks is not None and masks[i - 1] is not None:
                upstream *= masks[i - 1]
                output = outputs[i - 1]
            if takes_pre_activation(activations[i - 1]):
                output = cache.pre_activations[i - 1]
            delta = get_activation(activations[i - 1])[1](output, upstream, out=upstream)
            if norms is not None and norms[i - 1] is not None:
                delta, grad_scale[i - 1], grad_shift[i - 1] = normalize_backward(
                    norms[i - 1], cache.normalized[i - 1], delta, grad_scale[i - 1], grad_shift[i - 1])
    return grad_w, grad_b
