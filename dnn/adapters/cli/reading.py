"""What the commands read, CSV files and model files, with every error a user can make as one line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

#: How messages count rows: pandas skips blank lines, so a data row is not always the file's line number minus one.
ROWS = "(data rows counted from 1 after the header)"

#: Where a cell that is not a number looks like a decimal comma, the message says so.
DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


class CommandError(Exception):
    """An error to report in one line, without a traceback."""



def read_csv(path, **options):
    """pandas.read_csv with the errors users make turned into one-line messages."""
    import pandas as pd

    if not Path(path).is_file():
        raise CommandError(f"no such file: {path}")
    try:
        return pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CommandError(f"{path} is not a readable CSV file: {error}") from None


def split_target(frame, target, path):
    """(features, target) of ``frame``; CommandError naming ``path`` when it has no column ``target``."""
    if target not in frame.columns:
        raise CommandError(f"{path} has no column {target!r}; its columns are {list(map(str, frame.columns))}")
    return frame.drop(columns=[target]), frame[target]


def numeric(frame, path, first_row=1):
    """``frame`` with every column as numbers; CommandError naming the first cell that is not a finite number.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns read from ``path`` (a chunk of it when read in chunks).
    path : str
        The file, for the message.
    first_row : int
        Data row number of the frame's first row (see :data:`ROWS`).
    """
    import pandas as pd

    converted = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind not in "biuf":
            numbers = pd.to_numeric(values, errors="coerce")
            bad = np.flatnonzero(numbers.isna().to_numpy() & values.notna().to_numpy())
            if len(bad):
                cell = values.iloc[bad[0]]
                hint = ("; it looks like a decimal comma: dnn reads decimal points" if DECIMAL_COMMA.match(str(cell))
                        else "; fix the cell, or encode a text column as numbers")
                raise CommandError(f"{path}: column {str(column)!r} must hold numbers, but data row "
                                   f"{first_row + bad[0]} holds {cell!r} {ROWS}{hint}")
            values = numbers
        _check_cells(values, column, path, first_row)
        converted[column] = values
    return pd.DataFrame(converted, index=frame.index)


def _check_cells(values, column, path, first_row):
    """CommandError naming the first empty or infinite cell of a numeric column."""
    if values.dtype.kind == "b":
        return
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(array))
    if len(bad):
        what = "is empty" if np.isnan(array[bad[0]]) else f"holds {array[bad[0]]}"
        raise CommandError(f"{path}: column {str(column)!r} {what} in data row {first_row + bad[0]} {ROWS}; dnn "
                           f"needs a finite number in every cell")


def no_empty_cells(values, column, path):
    """CommandError naming the first empty cell of a column that may hold labels (a target)."""
    bad = np.flatnonzero(values.isna().to_numpy())
    if len(bad):
        raise CommandError(f"{path}: column {column!r} is empty in data row {1 + bad[0]} {ROWS}")


def model_features(model, frame, path, first_row=1):
    """The model's feature columns of ``frame``, in the model's order, as numbers (other columns are ignored)."""
    if model.feature_names is None:
        if frame.shape[1] != model.units[0]:
            raise CommandError(f"{path} has {frame.shape[1]} feature columns but the model takes {model.units[0]}")
        return numeric(frame, path, first_row)
    missing = [c for c in model.feature_names if c not in frame.columns]
    if missing:
        raise CommandError(f"{path} lacks the feature columns {missing} the model was trained on; its columns are "
                           f"{list(map(str, frame.columns))}")
    return numeric(frame[model.feature_names], path, first_row)


def labelled(model, path, target):
    """Features and target of the CSV file ``path`` for a trained model."""
    frame = read_csv(path)
    X, y = split_target(frame, target, path)
    no_empty_cells(y, target, path)
    if model.task == "regression":
        y = numeric(y.to_frame(), path)[target]
    # A model that knows its columns picks them by name, so a message about them lists all the file's columns.
    return model_features(model, frame if model.feature_names is not None else X, path), y


def load_model(path):
    from dnn import DNN

    if not Path(path).is_file():
        raise CommandError(f"no such model file: {path}")
    return DNN.importModel(path)
