"""All the weights and biases of a network in one flat array.

``weights[i]`` and ``biases[i]`` are views into :attr:`Parameters.flat`, laid
out as w_2, ..., w_L, b_2, ..., b_L. One array makes an optimizer step three
numpy calls whatever the depth, a snapshot one copy, and the L2 penalty (on
weights only) a prefix of the array. Gradients and optimizer state use the same
layout, through :meth:`Parameters.views`.
"""

import numpy as np


class Parameters:
    """Flat storage for the layers' weights and biases, initialized from copies of them.

    Parameters
    ----------
    weights : list of ndarray, shapes (units_{l-1}, units_l)
    biases : list of ndarray, shapes (units_l,)
    dtype : numpy dtype
    """

    def __init__(self, weights, biases, dtype):
        self.shapes = [w.shape for w in weights] + [b.shape for b in biases]
        self.layers = len(weights)
        self.n_weights = sum(w.size for w in weights)
        self.flat = np.empty(self.n_weights + sum(b.size for b in biases), dtype=dtype)
        self.weights, self.biases = self.views(self.flat)
        for view, value in zip(self.weights + self.biases, list(weights) + list(biases)):
            view[...] = value

    def views(self, flat):
        """Per-layer views (weights, biases) into ``flat``, an array of this layout."""
        views, start = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape))
            views.append(flat[start:start + size].reshape(shape))
            start += size
        return views[: self.layers], views[self.layers:]

    def split(self, flat):
        """``flat`` as a list of per-parameter views in the order w_2, b_2, w_3, b_3, ..."""
        weights, biases = self.views(flat)
        return [a for pair in zip(weights, biases) for a in pair]

    def join(self, arrays):
        """The flat array holding per-parameter ``arrays`` given in the order w_2, b_2, w_3, b_3, ..."""
        flat = np.empty_like(self.flat)
        for view, array in zip(self.split(flat), arrays):
            view[...] = array
        return flat

    def matches(self, weights, biases):
        """Whether the given arrays are exactly this object's views (nothing was replaced)."""
        return (len(weights) == self.layers and all(a is b for a, b in zip(weights, self.weights))
                and all(a is b for a, b in zip(biases, self.biases)))

    def __getstate__(self):
        # Views do not survive pickling or deep copies (they become separate
        # arrays); keep the flat array alone and rebuild the views from it.
        state = self.__dict__.copy()
        del state["weights"], state["biases"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.weights, self.biases = self.views(self.flat)


def checked_array(name, layer, shape, value, owned):
    """A value assigned to ``model.{name}[layer]``, checked for shape and finite numbers; ``owned`` arrays pass."""
    if id(value) in owned:
        return value
    if value is None:
        raise ValueError(f"model.{name}[{layer}] is missing; it must be an array of shape {shape}")
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"model.{name}[{layer}] must have shape {shape}, got {array.shape}")
    if array.dtype.kind not in "biuf" or not np.isfinite(array).all():
        raise ValueError(f"model.{name}[{layer}] must hold finite numbers")
    return array
