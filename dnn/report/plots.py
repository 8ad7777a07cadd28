"""Figures of a model: recorded parameters, training history, digits, weights, confusion matrix.

Every draw function returns a matplotlib Figure, shown once wherever it is
drawn:

- in a Jupyter notebook (the inline backend), the figure is displayed as soon
  as it is drawn, whether the call ends the cell, is assigned
  (``fig = model.drawHistory()``), is followed by other statements or ends
  with ``;``; the returned Figure (a :class:`dnn.report.inline_figure.InlineFigure`)
  is not displayed again in that cell, and pyplot does not hold it;
- in a plain Python session with a display (an interactive backend such as
  TkAgg or QtAgg), the figure is made through pyplot and stays there, so
  ``plt.show()`` shows it;
- on a headless machine (Agg) nothing opens or blocks, and pyplot forgets the
  figure, so figures made in a loop do not accumulate.

With a ``path`` the figure is also saved as a PNG (parent directories
created) and closed in pyplot, so saving figures in a loop does not
accumulate them either; the returned Figure can still be saved again or
inspected.
"""

import os

import numpy as np

from dnn.report import jupyter

DPI = 100

#: drawWeights shows at most this many units.
MAX_WEIGHT_IMAGES = 100


def new_figure(**options):
    """A new Figure; matplotlib, slow to import, is imported here, when a figure is drawn, not with dnn."""
    from matplotlib import pyplot

    if jupyter.inline_figures():
        from dnn.report.inline_figure import InlineFigure

        # Made through pyplot so that the inline backend is loaded and its formatters registered (a bare Figure
        # would display as text until then); finish closes it in pyplot before the cell ends.
        return pyplot.figure(FigureClass=InlineFigure, **options)
    return pyplot.figure(**options)


def _interactive(figure):
    """Whether the figure lives on a backend with windows (``plt.show()`` opens them)."""
    # None for Agg, the inline backend of notebooks and the file backends.
    return getattr(figure.canvas, "required_interactive_framework", None) is not None


def finish(figure, path):
    """Save ``figure`` to ``path`` (when given) and show it as the module docstring says; returns it."""
    from matplotlib import pyplot

    from dnn.report.inline_figure import InlineFigure  # matplotlib is loaded by now: this costs nothing more

    if path is not None:
        directory = os.path.dirname(os.path.abspath(os.fspath(path)))
        os.makedirs(directory, exist_ok=True)
        figure.savefig(path, dpi=DPI, format="png")
    if path is not None or not _interactive(figure):
        pyplot.close(figure)
    if isinstance(figure, InlineFigure):
        figure.display_in_cell()  # now, and the only time in this cell
    return figure


def convergence_curve(record, record_every, path=None):
    """One line per recorded parameter against the record number.

    Parameters
    ----------
    record : dict from spec to list of floats (``model.parameterRecord``)
    record_every : "epoch" or "batch", the unit of the x axis
    """
    if not record:
        raise ValueError("no parameters were recorded: pass parameterList=[('w', 2, 1, 1), ...] to fit first")
    figure = new_figure(figsize=(8, 5), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    for spec, values in record.items():
        axes.plot(np.arange(len(values)), values, marker="o" if len(values) <= 30 else None, markersize=3,
                  label=_spec_label(spec))
    axes.set_xlabel(f"{record_every} (0 = before training)")
    axes.set_ylabel("value")
    axes.set_title("Convergence of recorded parameters")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return finish(figure, path)


def _spec_label(spec):
    if spec[0] == "w":
        _, layer, j, i = spec
        return f"w[{layer}][{i - 1}, {j - 1}]  {spec}"
    _, layer, j = spec
    return f"b[{layer}][{j - 1}]  {spec}"


def history(history, path=None):
    """Loss, accuracy (classifiers) and learning rate per epoch; validation curves when present."""
    if not history.get("loss"):
        raise ValueError("the model has no training history yet: call fit first")
    panels = [("loss", "Loss")]
    if _has_values(history.get("accuracy")):
        panels.append(("accuracy", "Accuracy"))
    panels.append(("lr", "Learning rate"))
    figure = new_figure(figsize=(4 * len(panels), 4), dpi=DPI, layout="constrained")
    epochs = np.arange(1, len(history["loss"]) + 1)
    for position, (key, title) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), position)
        axes.plot(epochs, history[key], marker="o" if len(epochs) <= 30 else None, markersize=3, label="training")
        if _has_values(history.get(f"val_{key}")):
            axes.plot(epochs, history[f"val_{key}"], marker="s" if len(epochs) <= 30 else None, markersize=3,
                      label="validation")
        if key != "lr":
            axes.legend(fontsize="small")
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
    return finish(figure, path)


def _has_values(values):
    return values is not None and np.isfinite(np.asarray(values, dtype=float)).any()


def digits(images, labels=None, predictions=None, path=None):
    """Images (one row per image, a square number of pixels), titled with label and prediction."""
    images = np.asarray(images, dtype=float)
    if images.ndim == 1:
        images = images[None, :]
    side = round(np.sqrt(images.shape[1]))
    if images.ndim != 2 or side * side != images.shape[1]:
        raise ValueError(f"each image row must hold a square number of pixels (64 for 8x8, 784 for 28x28), "
                         f"got rows of {images.shape[-1]}")
    count = len(images)
    columns = min(count, 10)
    rows = -(-count // columns)
    figure = new_figure(figsize=(1.6 * columns, 1.9 * rows), dpi=DPI, layout="constrained")
    for k in range(count):
        axes = figure.add_subplot(rows, columns, k + 1)
        axes.imshow(images[k].reshape(side, side), cmap="gray_r", interpolation="nearest")
        axes.set_xticks([])
        axes.set_yticks([])
        parts = []
        if labels is not None:
            parts.append(f"label {labels[k]}")
        if predictions is not None:
            parts.append(f"pred {predictions[k]}")
        wrong = labels is not None and predictions is not None and labels[k] != predictions[k]
        axes.set_title("\n".join(parts), fontsize=9, color="red" if wrong else "black")
    return finish(figure, path)


def weights(w, layer, path=None):
    """Each unit's incoming weights, column j of ``w`` (fan_in, units), as a square image.

    Colors are symmetric around 0 per unit (blue negative, red positive), so
    each image shows the pattern its unit responds to.
    """
    w = np.asarray(w, dtype=float)
    fan_in, units = w.shape
    side = round(np.sqrt(fan_in))
    if side * side != fan_in:
        raise ValueError(f"drawWeights draws each unit's {fan_in} incoming weights as a square image; layer "
                         f"{layer} has {fan_in} inputs, not a square number (64 for 8x8, 784 for 28x28)")
    shown = min(units, MAX_WEIGHT_IMAGES)
    columns = min(shown, 10)
    rows = -(-shown // columns)
    figure = new_figure(figsize=(1.3 * columns, 1.45 * rows + 0.4), dpi=DPI, layout="constrained")
    for j in range(shown):
        axes = figure.add_subplot(rows, columns, j + 1)
        limit = max(np.abs(w[:, j]).max(), np.finfo(float).tiny)
        axes.imshow(w[:, j].reshape(side, side), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(f"unit {j + 1}", fontsize=8)
    more = f" (the first {shown} of {units})" if shown < units else ""
    figure.suptitle(f"Incoming weights of layer {layer}, one {side}x{side} image per unit{more}", fontsize=10)
    return finish(figure, path)


def confusion_matrix(counts, classes, path=None):
    """The confusion matrix with the count in every cell; rows are true classes."""
    counts = np.asarray(counts)
    k = len(classes)
    size = max(4.0, 0.55 * k + 2)
    figure = new_figure(figsize=(size, size), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_xticks(range(k), [str(c) for c in classes], rotation=45 if k > 10 else 0)
    axes.set_yticks(range(k), [str(c) for c in classes])
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    # A figure title, not the axes': constrained layout keeps it above the colorbar too. An axes title is centred
    # on the matrix alone and ran under the colorbar when the matrix is narrower than the title (2 or 3 classes).
    figure.suptitle(f"Confusion matrix (accuracy {accuracy:.4f})")
    threshold = counts.max() / 2 if counts.size else 0
    for i in range(k):
        for j in range(k):
            axes.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                      color="white" if counts[i, j] > threshold else "black")
    return finish(figure, path)
