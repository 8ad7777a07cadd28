"""Recording chosen weights and biases while a network trains.

A spec names one parameter, 1-based, the input layer being layer 1:

- ``("w", l, j, i)``: the weight from neuron i of layer l-1 to neuron j of
  layer l, that is ``model.w[l][i - 1, j - 1]``;
- ``("b", l, j)``: the bias of neuron j of layer l, ``model.b[l][j - 1]``.
"""

from dnn.callbacks import Callback
from dnn.checks import is_int

RECORD_EVERY = ("epoch", "batch")


def parse_parameter_list(specs, units):
    """Check every spec against the layer sizes ``units``; return them as tuples of ints.

    Raises
    ------
    ValueError
        Naming the spec, what is wrong with it and the valid range.
    """
    if isinstance(specs, tuple) and specs and isinstance(specs[0], str):
        specs = [specs]  # a single spec given on its own
    if not isinstance(specs, (list, tuple)):
        raise ValueError(f"parameterList must be a list of specs such as [('w', 2, 4, 3), ('b', 2, 1)], got {specs!r}")
    last = len(units)
    parsed = []
    for spec in specs:
        if not isinstance(spec, (list, tuple)) or not spec or spec[0] not in ("w", "b"):
            raise ValueError(f"parameterList entry {spec!r}: it must start with 'w' (a weight) or 'b' (a bias)")
        kind = spec[0]
        expected = 4 if kind == "w" else 3
        if len(spec) != expected:
            form = "('w', layer, j, i)" if kind == "w" else "('b', layer, j)"
            raise ValueError(f"parameterList entry {spec!r}: a {'weight' if kind == 'w' else 'bias'} "
                             f"spec has {expected} entries, {form}")
        if not all(is_int(v) for v in spec[1:]):
            raise ValueError(f"parameterList entry {spec!r}: layer and neuron numbers must be integers")
        layer = int(spec[1])
        if not 2 <= layer <= last:
            raise ValueError(f"parameterList entry {spec!r}: layer {layer} is out of range; weights and biases "
                             f"belong to layers 2..{last} (layer 1 is the input)")
        j = int(spec[2])
        if not 1 <= j <= units[layer - 1]:
            raise ValueError(f"parameterList entry {spec!r}: neuron j={j} is out of range 1..{units[layer - 1]} "
                             f"of layer {layer}")
        if kind == "w":
            i = int(spec[3])
            if not 1 <= i <= units[layer - 2]:
                raise ValueError(f"parameterList entry {spec!r}: neuron i={i} is out of range "
                                 f"1..{units[layer - 2]} of layer {layer - 1}")
            parsed.append(("w", layer, j, i))
        else:
            parsed.append(("b", layer, j))
    return parsed


def check_record_every(value):
    if value not in RECORD_EVERY:
        raise ValueError(f"recordEvery must be 'epoch' or 'batch', got {value!r}")
    return value


class ParameterRecording(Callback):
    """Appends the current value of every spec to ``state.parameter_record[spec]``.

    Values are recorded once before the first update (for specs without
    values yet), then after every epoch, or after every batch with
    ``every="batch"``.

    Parameters
    ----------
    specs : list of tuples, from :func:`parse_parameter_list`
    every : "epoch" or "batch"
    """

    def __init__(self, specs, every="epoch"):
        self.specs, self.every = specs, check_record_every(every)

    def on_train_begin(self, run):
        params, record = run.state.params, run.state.parameter_record
        run.state.record_every = self.every
        self._targets = []
        for spec in self.specs:
            if spec[0] == "w":
                _, layer, j, i = spec
                self._targets.append((record.setdefault(spec, []), params.weights[layer - 2], (i - 1, j - 1)))
            else:
                _, layer, j = spec
                self._targets.append((record.setdefault(spec, []), params.biases[layer - 2], j - 1))
        for values, array, index in self._targets:
            if not values:
                values.append(float(array[index]))

    def on_batch_end(self, run, batch, logs):
        if self.every == "batch":
            self._record()

    def on_epoch_end(self, run, epoch, logs):
        if self.every == "epoch":
            self._record()

    def _record(self):
        for values, array, index in self._targets:
            values.append(float(array[index]))
