"""What ``fit`` and ``modelEvaluate`` return: dicts that echo as one line.

In a REPL or a notebook the value of a bare call is echoed after what the
call printed. ``fit`` prints its progress and ``modelEvaluate`` its tables, so
echoing the whole dict again (every epoch's values, the confusion matrix)
showed everything twice. These dicts behave exactly like the plain dicts they
hold (indexing, iteration, equality with plain dicts, JSON, pandas) and differ
only in their repr, a one-line summary.

They pickle (and copy) as plain dicts, so a pickle of one loads where dnn is
not installed. Model files hold the history as a plain dict either way.
"""

#: The history values a History's repr shows, from the last epoch.
_HISTORY_SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy")

#: The evaluation values an Evaluation's repr shows, when present.
_EVALUATION_SHOWN = ("accuracy", "loss", "mse", "mae", "r2")


class History(dict):
    """The per-epoch lists of ``model.history``, with a one-line repr.

    ``<History: 20 epochs, loss 0.1234, accuracy 0.9500>`` shows the number of
    epochs and the last epoch's loss and accuracy (and validation values when
    there are some). ``history["loss"]`` and every other dict operation work
    as on the plain dict.
    """

    @property
    def epochs(self):
        """The number of epochs in the history."""
        return len(self.get("lr", self.get("loss", [])))

    def __repr__(self):
        epochs = self.epochs
        parts = [f"{epochs} epoch{'' if epochs == 1 else 's'}"]
        if epochs:
            parts += [f"{key} {self[key][-1]:.4f}" for key in _HISTORY_SHOWN if key in self]
        return f"<History: {', '.join(parts)}>"

    def __reduce__(self):
        return dict, (dict(self),)


class Evaluation(dict):
    """The metrics of ``modelEvaluate``, with a one-line repr.

    ``<Evaluation: accuracy 0.9500, loss 0.1200 on 180 rows>``; the per-class
    scores and the confusion matrix are in the dict as before.

    Parameters
    ----------
    values : dict
        The metrics.
    rows : int
        The number of rows evaluated.
    """

    def __init__(self, values, rows):
        super().__init__(values)
        self.rows = rows

    def __repr__(self):
        shown = ", ".join(f"{key} {self[key]:.4f}" for key in _EVALUATION_SHOWN if key in self)
        return f"<Evaluation: {shown} on {self.rows:,} row{'' if self.rows == 1 else 's'}>"

    def __reduce__(self):
        return dict, (dict(self),)
