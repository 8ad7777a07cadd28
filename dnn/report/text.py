"""Text a user reads: the summary table, progress bars, metric tables."""

import sys

from prettytable import PrettyTable

# tqdm.std, not tqdm.auto: tqdm.auto warns "IProgress not found" when dnn is imported in a notebook without
# ipywidgets; ProgressBar chooses the kind of bar itself, when a fit starts.
from tqdm import tqdm

from dnn.devices import CPU_NAME
from dnn.report import jupyter

#: modelEvaluate prints the confusion matrix up to this many classes (a wider table would wrap unreadably).
MAX_PRINTED_CLASSES = 20


def summary_table(model):
    """The layers of ``model`` as a table, with totals and the training settings.

    A Dropout column appears when any layer has dropout, a Normalization column when any layer has one (its gamma
    and beta count as parameters, as in PyTorch and Keras; the running statistics are not trained and do not).
    """
    with_dropout = any(model.dropout)
    normalizations = [layer.normalization for layer in model.layers]
    with_norm = any(normalizations)
    columns = ["Layer", "Kind", "Units", "Activation", "Weights", "Biases", "Parameters"]
    table = PrettyTable(columns + (["Dropout"] if with_dropout else []) + (["Normalization"] if with_norm else []))
    table.align = "r"
    table.align["Kind"] = table.align["Activation"] = "l"
    if with_norm:
        table.align["Normalization"] = "l"
    total = 0
    last = len(model.units)
    for layer, (units, activation, rate) in enumerate(zip(model.units, model.activations, model.dropout), start=1):
        extra = [f"{rate:g}" if rate else "-"] if with_dropout else []
        extra += [normalizations[layer - 1] or "-"] if with_norm else []
        if layer == 1:
            table.add_row([1, "input", units, "-", "-", "-", 0, *extra])
            continue
        w_shape = (model.units[layer - 2], units)
        count = w_shape[0] * w_shape[1] + units + (2 * units if normalizations[layer - 1] else 0)
        total += count
        kind = "output" if layer == last and model.loss is not None else "hidden"
        table.add_row([layer, kind, units, activation, str(w_shape), str((units,)), f"{count:,}", *extra])
    lr = f"lr {model.lr:g}, decay {model.decay:g}" if isinstance(model.lr, (int, float)) else f"lr {model.lr!r}"
    lines = [
        table.get_string(),
        f"Total parameters: {total:,}",
        f"Loss: {_loss_text(model.loss) if model.loss else '(no output layer yet)'}",
        f"Optimizer: {_optimizer_text(model.optimizer)}, {lr}, l2 {model.l2:g}",
        *_constraints_text(model),
        f"dtype: {model.dtype}" + ("" if model.device == CPU_NAME else f", device {model.device}"),
        f"Task: {model.task or 'decided from the targets at the first fit'}",
    ]
    return "\n".join(lines)


def _constraints_text(model):
    """A line for the penalties and limits beyond l2 that are set (l1, clipping, max-norm per layer), or none."""
    parts = [f"l1 {model.l1:g}"] if model.l1 else []
    parts += [f"{name} {value:g}" for name, value in (("clipNorm", model.clipNorm), ("clipValue", model.clipValue))
              if value is not None]
    parts += [f"maxNorm {layer.max_norm:g} (layer {number})" for number, layer in enumerate(model.layers, start=1)
              if getattr(layer, "max_norm", None) is not None]
    return [f"Regularization: {', '.join(parts)}"] if parts else []


def _loss_text(loss):
    """A loss as the summary shows it: its name, and its settings when it has any ("huber (delta 0.5)")."""
    if isinstance(loss, str):
        return loss
    settings = ", ".join(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}"
                         for key, value in loss.items() if key != "name")
    return f"{loss['name']} ({settings})" if settings else loss["name"]


def _optimizer_text(optimizer):
    """"sgd", "sgd (momentum 0.9, nesterov)", "adam (beta1 0.9, beta2 0.999, epsilon 1e-08)"..."""
    parts = []
    for key, value in optimizer.config().items():
        if key == "name" or value is False or (value == 0 and not isinstance(value, bool)):
            continue
        parts.append(key if value is True else f"{key} {value:g}")
    return optimizer.name + (f" ({', '.join(parts)})" if parts else "")


#: The metrics of the probabilities (not of the predicted labels): modelEvaluate prints them in a table of their own.
PROBABILITY_METRICS = ("log_loss", "roc_auc", "average_precision")


def metrics_table(result):
    """The scalar metrics of an evaluation result as a table, then those of the probabilities, a per-class table
    and the confusion matrix if there are some, then the result's notes."""
    text = _values_table("Metric", {k: v for k, v in result.items() if k not in PROBABILITY_METRICS})
    if any(key in result for key in PROBABILITY_METRICS):
        text += "\n" + _values_table("Probabilities", {k: result[k] for k in PROBABILITY_METRICS if k in result})
    if "precision" in result:
        per_class = PrettyTable(["Class", "Precision", "Recall", "F1", "Support"])
        per_class.align = "r"
        for label in result["precision"]:
            per_class.add_row([label, f"{result['precision'][label]:.4f}", f"{result['recall'][label]:.4f}",
                               f"{result['f1'][label]:.4f}", result["support"][label]])
        text += "\n" + per_class.get_string()
    if "confusion_matrix" in result:
        text += "\n" + confusion_table(result["confusion_matrix"], list(result["precision"]))
    for note in result.get("notes", ()):
        text += f"\nNote: {note}"
    return text


def _values_table(title, values):
    """The float entries of ``values`` as a two-column table, names under ``title``."""
    table = PrettyTable([title, "Value"])
    table.align[title] = "l"
    table.align["Value"] = "r"
    for name, value in values.items():
        if isinstance(value, float):
            table.add_row([name, f"{value:.4f}"])
    return table.get_string()


def confusion_table(counts, classes):
    """The confusion matrix (k, k) as a table with a row per true class; one line instead for many classes."""
    k = len(classes)
    if k > MAX_PRINTED_CLASSES:
        return f"Confusion matrix: {k} x {k} classes, in the result's confusion_matrix (rows: true classes)"
    table = PrettyTable(["true \\ predicted", *(str(label) for label in classes)])
    table.title = "Confusion matrix"
    table.align = "r"
    for label, row in zip(classes, counts):
        table.add_row([label, *(int(count) for count in row)])
    return table.get_string()


def epoch_line(epoch, epochs, values):
    """One line describing a finished epoch: ``Epoch {epoch + 1}/{epochs} - loss ... - lr ... - 0.12s``.

    ``epoch`` (the epochs trained before it) and ``epochs`` count over the
    model's whole life, as the history does.
    """
    parts = [f"Epoch {epoch + 1}/{epochs}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in values:
            parts.append(f"{key} {values[key]:.4f}")
    parts.append(f"lr {values['lr']:.4g}")
    parts.append(f"{values['time']:.2f}s")
    return " - ".join(parts)


class ProgressBar:
    """The progress of one epoch: a bar over its batches with the running loss, or one line when it ends.

    Where it goes depends on where it is seen:

    - in a Jupyter kernel, a widget when ipywidgets is installed, else a text
      bar on stdout (the front-end redraws it in place; on stderr it would be
      shown as an error);
    - in a terminal, a text bar on stderr, as tqdm's are;
    - anywhere else (stderr redirected to a log file or a pipe, or captured),
      no bar: one line per epoch on stderr when it ends, the line of
      ``verbose=2``, so a log holds no redraws.

    Parameters
    ----------
    epoch : int
        Epochs trained before this one, over the model's whole life: the bar
        says ``Epoch {epoch + 1}/{epochs}``.
    epochs : int
        The epoch the fit will end with, counted the same way.
    batches : int
        Mini-batches in the epoch.
    """

    def __init__(self, epoch, epochs, batches):
        self._epoch, self._epochs = epoch, epochs
        self._bar = _new_bar(batches, f"Epoch {epoch + 1}/{epochs}")

    def advance(self, progress):
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{progress.mean_loss:.4f}", refresh=False)
            self._bar.update(1)

    def finish(self, values):
        """Show the epoch's final metrics (validation included) on the bar and close it, or print its line."""
        if self._bar is None:
            print(epoch_line(self._epoch, self._epochs, values), file=sys.stderr, flush=True)
            return
        shown = {key: f"{values[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy")
                 if key in values}
        self._bar.set_postfix(shown, refresh=True)
        self._bar.close()

    def close(self):
        if self._bar is not None:
            self._bar.close()


def _new_bar(batches, title):
    """A tqdm bar where one can be redrawn (see ProgressBar), else None."""
    options = {"total": batches, "desc": title, "unit": "batch", "leave": True}
    if jupyter.kernel_shell() is not None:
        if jupyter.shows_widgets():
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm(**options)
        return tqdm(file=sys.stdout, **options)
    if _is_terminal(sys.stderr):
        return tqdm(file=sys.stderr, **options)
    return None


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
