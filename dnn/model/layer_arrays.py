"""Arrays keyed by layer number: ``model.w``, ``model.b`` (and ``gamma``, ``beta``, ``running_mean``,
``running_var`` of normalized layers), views of the parameter store, and ``model.layerOutputs``.

A key that is no layer (``model.w[1] = ...``: the input layer has no weights; ``model.w["W1"] = ...``) is refused
naming the layers, where a dict would add an entry the model never reads. Otherwise they read as dicts.
"""

from collections.abc import Mapping
from typing import ClassVar


class _ByLayer(Mapping):
    """A mapping from layer number to array whose keys are the layers that exist; subclasses give the arrays."""

    name = what = empty = ""

    def _arrays(self):
        """``{layer: array}``, as they are now."""
        raise NotImplementedError

    def __getitem__(self, key):
        arrays = self._arrays()
        if key not in arrays:
            raise KeyError(f"model.{self.name}[{key!r}]: {self._valid(arrays)}")
        return arrays[key]

    def __iter__(self):
        return iter(self._arrays())

    def __len__(self):
        return len(self._arrays())

    def __repr__(self):
        return repr(self._arrays())

    def _valid(self, arrays):
        if not arrays:
            return f"model.{self.name} has no layers yet: {self.empty}"
        layers = sorted(arrays)
        span = f"{layers[0]}..{layers[-1]}" if len(layers) > 1 else str(layers[0])
        if layers[-1] - layers[0] + 1 != len(layers):
            span = ", ".join(map(str, layers))
        note = " (layer 1, the input layer, has none)" if layers[0] == 2 else ""
        word = "layers" if len(layers) > 1 else "layer"
        return f"model.{self.name} holds the {self.what} of {word} {span}{note}, keyed by layer number"

    def _layer(self, key):
        """``key`` as the number of a layer this mapping holds; ValueError naming the layers otherwise."""
        arrays = self._arrays()
        if key not in arrays or isinstance(key, bool):
            example = f", such as model.{self.name}[{min(arrays)}]" if arrays else ""
            raise ValueError(f"cannot set model.{self.name}[{key!r}]: {self._valid(arrays)}{example}")
        return int(key)


class LayerArrays(_ByLayer):
    """``model.w`` or ``model.b``: the weights or biases of layers 2..L, views of the model's parameter store.

    Reading ``w[l]`` gives the store's view, so editing it in place (``model.w[2][0, 0] = 1.5``) edits the model.
    Assigning ``w[l] = array`` checks the array (shape, numbers, finite in the model's dtype) and copies it in: a
    refused array changes nothing, and the model never keeps or writes the caller's array.

    Parameters
    ----------
    store : dnn.model.parameters.Parameters or None
        None before the input layer is added.
    name : {"w", "b", "gamma", "beta", "running_mean", "running_var"}
    """

    #: What ``model.<name>`` holds, for messages.
    KINDS: ClassVar[dict] = {"w": "weights", "b": "biases", "gamma": "normalization scales",
                             "beta": "normalization shifts", "running_mean": "running means",
                             "running_var": "running variances"}

    def __init__(self, store, name):
        self.store, self.name = store, name
        self.what = self.KINDS[name]
        self.empty = ("add the layers first" if name in ("w", "b") or store is None
                      else f"no layer has {self.what}; give addHiddenLayer a normalization")

    def _arrays(self):
        return {} if self.store is None else self.store.arrays(self.name)

    def __setitem__(self, key, value):
        layer = self._layer(key)  # first: there is no store before the input layer
        self.store.assign(self.name, layer, value)

    def update(self, *args, **kwargs):
        """Assign several layers: all are checked before any is written."""
        checked = {}
        for key, value in dict(*args, **kwargs).items():
            layer = self._layer(key)
            checked[layer] = self.store.checked(self.name, layer, value)
        for layer, value in checked.items():
            self.store.assign(self.name, layer, value)

    def __ior__(self, other):
        self.update(other)
        return self

    def replace(self, arrays):
        """Assign every layer from the mapping ``arrays`` (``model.w = {...}``): all its layers, and only those."""
        if isinstance(arrays, LayerArrays) and arrays.store is self.store and arrays.name == self.name:
            return  # model.w |= {...} assigns model.w to itself once the update is done
        if not isinstance(arrays, Mapping):
            raise ValueError(f"model.{self.name} takes a dict from layer number to array, got "
                             f"{type(arrays).__name__}; to set one layer, assign model.{self.name}[l] = array")
        missing = sorted(set(self._arrays()) - set(arrays))
        if missing:
            raise ValueError(f"model.{self.name} = {{...}} must give every layer; it lacks {missing}. To set some "
                             f"layers only, assign model.{self.name}[l] = array for each")
        self.update(arrays)

    def setdefault(self, key, default=None):
        self._layer(key)  # raises for a key that is no layer; every layer has its entry
        return self[key]

    def _refuse(self, *args, **kwargs):
        raise ValueError(f"model.{self.name} keeps one entry per layer; assign a new array instead of removing one")

    __delitem__ = pop = popitem = clear = _refuse


class StoreArrays:
    """A model attribute that reads one kind of array of the parameter store as a :class:`LayerArrays`
    (``model.w``); assigning a dict to it assigns every layer (``model.w = {2: ..., 3: ...}``)."""

    def __init__(self, name, doc):
        self.name, self.__doc__ = name, doc

    def __get__(self, model, owner=None):
        return self if model is None else LayerArrays(model.state.params, self.name)

    def __set__(self, model, arrays):
        self.__get__(model).replace(arrays)


class LayerOutputs(_ByLayer):
    """``model.layerOutputs``: every layer's output from the last forwardPropagation, read-only.

    Parameters
    ----------
    outputs : dict from layer number to array
    """

    def __init__(self, outputs):
        self.outputs = outputs
        self.name, self.what, self.empty = "layerOutputs", "outputs", "call forwardPropagation(X) first"

    def _arrays(self):
        return self.outputs

    def __setitem__(self, key, value):
        raise ValueError(f"model.{self.name} is read-only: the model computes it")
