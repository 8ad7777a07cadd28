"""Dicts keyed by layer number that refuse keys that are no layer: ``model.w``, ``model.b``, ``model.layerOutputs``.

``model.w[1] = ...`` (the input layer has no weights) or ``model.w["W1"] = ...``
would otherwise add an entry the model never reads, silently. Otherwise they
behave as dicts; pickling and copying rebuild them with their name and items.
"""


class LayerArrays(dict):
    """A dict from layer number to array whose keys are the layers that exist.

    Parameters
    ----------
    name : str
        The attribute it is, such as ``"w"``, for the messages.
    items : dict, optional
        Initial entries, added without checks.
    what : str
        What the entries are (``"weights"``), for the messages.
    empty : str
        What to do when there are no entries yet, for the messages.
    read_only : bool
        Refuse every assignment (for values the model computes, such as layer outputs).
    """

    def __init__(self, name, items=(), what="arrays", empty="add the layers first", read_only=False):
        super().__init__(items)
        self.name, self.what, self.empty, self.read_only = name, what, empty, read_only

    def add_layer(self, layer, value):
        """Add the entry of a new layer: how the model grows the dict (assignment only replaces)."""
        super().__setitem__(layer, value)

    def _valid(self):
        if not self:
            return f"model.{self.name} has no layers yet: {self.empty}"
        layers = sorted(self)
        span = f"{layers[0]}..{layers[-1]}" if len(layers) > 1 else str(layers[0])
        note = " (layer 1, the input layer, has none)" if layers[0] == 2 else ""
        return f"model.{self.name} holds the {self.what} of layers {span}{note}, keyed by layer number"

    def __setitem__(self, key, value):
        if self.read_only:
            raise ValueError(f"model.{self.name} is read-only: the model computes it")
        if key not in self or isinstance(key, bool):
            example = f", such as model.{self.name}[{min(self)}]" if self else ""
            raise ValueError(f"cannot set model.{self.name}[{key!r}]: {self._valid()}{example}")
        super().__setitem__(key, value)

    def __missing__(self, key):
        raise KeyError(f"model.{self.name}[{key!r}]: {self._valid()}")

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default  # raises: only existing layers are keys
        return self[key]

    def _refuse(self, *args, **kwargs):
        raise ValueError(f"model.{self.name} keeps one entry per layer; assign a new array instead of removing one")

    __delitem__ = pop = popitem = clear = _refuse

    def __reduce__(self):
        return (type(self), (self.name, dict(self), self.what, self.empty, self.read_only))
