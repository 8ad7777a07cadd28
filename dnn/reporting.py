"""Text a user reads: the summary table, progress bars, metric tables."""

from prettytable import PrettyTable
from tqdm.auto import tqdm


def summary_table(model):
    """The layers of ``model`` as a table, with totals and the training settings.

    A Dropout column appears when any layer has dropout.
    """
    with_dropout = any(model.dropout)
    columns = ["Layer", "Kind", "Units", "Activation", "Weights", "Biases", "Parameters"]
    table = PrettyTable(columns + (["Dropout"] if with_dropout else []))
    table.align = "r"
    table.align["Kind"] = table.align["Activation"] = "l"
    total = 0
    last = len(model.units)
    for layer, (units, activation, rate) in enumerate(zip(model.units, model.activations, model.dropout), start=1):
        extra = [f"{rate:g}" if rate else "-"] if with_dropout else []
        if layer == 1:
            table.add_row([1, "input", units, "-", "-", "-", 0, *extra])
            continue
        w_shape = (model.units[layer - 2], units)
        count = w_shape[0] * w_shape[1] + units
        total += count
        kind = "output" if layer == last and model.loss is not None else "hidden"
        table.add_row([layer, kind, units, activation, str(w_shape), str((units,)), f"{count:,}", *extra])
    lr = f"lr {model.lr:g}, decay {model.decay:g}" if isinstance(model.lr, (int, float)) else f"lr {model.lr!r}"
    lines = [
        table.get_string(),
        f"Total parameters: {total:,}",
        f"Loss: {model.loss or '(no output layer yet)'}",
        f"Optimizer: {_optimizer_text(model.optimizer)}, {lr}, l2 {model.l2:g}",
        f"dtype: {model.dtype}",
        f"Task: {model.task or 'decided from the targets at the first fit'}",
    ]
    return "\n".join(lines)


def _optimizer_text(optimizer):
    """"sgd", "sgd (momentum 0.9, nesterov)", "adam (beta1 0.9, beta2 0.999, epsilon 1e-08)"..."""
    parts = []
    for key, value in optimizer.config().items():
        if key == "name" or value is False or (value == 0 and not isinstance(value, bool)):
            continue
        parts.append(key if value is True else f"{key} {value:g}")
    return optimizer.name + (f" ({', '.join(parts)})" if parts else "")


def metrics_table(result):
    """The scalar metrics of an evaluation result as a table, then a per-class table if there is one."""
    table = PrettyTable(["Metric", "Value"])
    table.align["Metric"] = "l"
    table.align["Value"] = "r"
    for name, value in result.items():
        if isinstance(value, float):
            table.add_row([name, f"{value:.4f}"])
    text = table.get_string()
    if "precision" in result:
        per_class = PrettyTable(["Class", "Precision", "Recall", "F1", "Support"])
        per_class.align = "r"
        for label in result["precision"]:
            per_class.add_row([label, f"{result['precision'][label]:.4f}", f"{result['recall'][label]:.4f}",
                               f"{result['f1'][label]:.4f}", result["support"][label]])
        text += "\n" + per_class.get_string()
    return text


def epoch_line(epoch, epochs, values):
    """One line describing a finished epoch, for verbose=2."""
    parts = [f"Epoch {epoch + 1}/{epochs}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in values:
            parts.append(f"{key} {values[key]:.4f}")
    parts.append(f"lr {values['lr']:.4g}")
    parts.append(f"{values['time']:.2f}s")
    return " - ".join(parts)


class ProgressBar:
    """A tqdm bar over the batches of one epoch, showing the running loss."""

    def __init__(self, epoch, epochs, batches):
        self._bar = tqdm(total=batches, desc=f"Epoch {epoch + 1}/{epochs}", unit="batch", leave=True)

    def advance(self, progress):
        self._bar.set_postfix(loss=f"{progress.mean_loss:.4f}", refresh=False)
        self._bar.update(1)

    def finish(self, values):
        """Show the epoch's final metrics (validation included) on the bar, and close it."""
        shown = {key: f"{values[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy")
                 if key in values}
        self._bar.set_postfix(shown, refresh=True)
        self._bar.close()

    def close(self):
        self._bar.close()
