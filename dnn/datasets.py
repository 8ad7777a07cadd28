"""Data sets for examples and tests: scikit-learn's digits and MNIST from local files.

Nothing is downloaded: MNIST is read from files you have (the official IDX
files, gzip-compressed or not, or a Kaggle-style CSV).
"""

import gzip
import os
import re
import zlib

import numpy as np

MNIST_PIXELS = 784
_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_IDX_NAME = re.compile(r"^(?P<kind>.+)-(?P<what>images-idx3|labels-idx1)-ubyte(?P<gz>\.gz)?$")


def load_digits():
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images).

    Returns
    -------
    X : ndarray of float64, shape (1797, 64)
        Grey levels 0..16, one row per image.
    y : ndarray of int64, shape (1797,)
        The digit 0..9.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError("load_digits needs scikit-learn, which bundles the digits: "
                          "pip install scikit-learn (or pip install 'dnn[digits]')") from None
    data = sklearn_digits()
    return data.data.astype(np.float64), data.target.astype(np.int64)


def load_mnist(path, kind=None, normalize=False):
    """Read MNIST images and labels from local files.

    Parameters
    ----------
    path : str or path-like
        - a directory holding ``{kind}-images-idx3-ubyte`` and
          ``{kind}-labels-idx1-ubyte`` (each may end in ``.gz``);
        - one of those two IDX files (the other is found next to it);
        - a CSV file with a header row: a ``label`` column and 784 pixel
          columns (Kaggle's format; a CSV without ``label`` gives no labels).
    kind : str, optional
        Which pair of a directory to read, such as "train" or "t10k"; needed
        only when the directory holds more than one pair.
    normalize : bool
        Return pixels as float32 in [0, 1] instead of uint8 0..255.

    Returns
    -------
    images : ndarray, shape (n, 784), uint8 (float32 with ``normalize``)
    labels : ndarray of uint8, shape (n,), or None for a CSV without labels

    Raises
    ------
    ValueError
        When a file is missing, truncated, of the wrong type or inconsistent
        with its partner, with a message that says which and how.
    """
    path = os.fspath(path)
    if os.path.isfile(path) and path.lower().endswith(".csv"):
        images, labels = _read_csv(path)
    else:
        images_path, labels_path = _idx_pair(path, kind)
        images = _read_idx(images_path, _IMAGES_MAGIC)
        labels = _read_idx(labels_path, _LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    if labels is not None and labels.size and labels.max() > 9:
        raise ValueError(f"MNIST labels are digits 0..9, found {int(labels.max())}")
    if normalize:
        images = images.astype(np.float32) / 255
    return images, labels


def _idx_pair(path, kind):
    if os.path.isdir(path):
        pairs = {}
        for name in sorted(os.listdir(path)):
            match = _IDX_NAME.match(name)
            if match:
                pairs.setdefault(match["kind"], {})[match["what"]] = os.path.join(path, name)
        if kind is None:
            if len(pairs) != 1:
                found = ", ".join(sorted(pairs)) or "none"
                raise ValueError(f"{path} must hold one pair of MNIST IDX files or kind= must choose one "
                                 f"(found: {found})")
            kind = next(iter(pairs))
        files = pairs.get(kind, {})
        for what in ("images-idx3", "labels-idx1"):
            if what not in files:
                raise ValueError(f"{path} has no {kind}-{what}-ubyte[.gz] file")
        return files["images-idx3"], files["labels-idx1"]
    if not os.path.isfile(path):
        raise ValueError(f"no MNIST file or directory at {path}")
    match = _IDX_NAME.match(os.path.basename(path))
    if not match:
        raise ValueError(f"{path} is not named like an MNIST file (*-images-idx3-ubyte[.gz], "
                         f"*-labels-idx1-ubyte[.gz] or *.csv)")
    other = "labels-idx1" if match["what"] == "images-idx3" else "images-idx3"
    directory = os.path.dirname(path)
    for suffix in (match["gz"] or "", "" if match["gz"] else ".gz"):
        candidate = os.path.join(directory, f"{match['kind']}-{other}-ubyte{suffix}")
        if os.path.isfile(candidate):
            pair = {match["what"]: path, other: candidate}
            return pair["images-idx3"], pair["labels-idx1"]
    raise ValueError(f"the partner of {path} ({match['kind']}-{other}-ubyte[.gz]) is not next to it")


def _read_idx(path, magic):
    """Images (n, rows * cols) or labels (n,) of an IDX file, after checking its header and size."""
    try:
        with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"cannot read {path}: {error} (truncated or corrupt file?)") from None
    what = "images" if magic == _IMAGES_MAGIC else "labels"
    dimensions = 3 if magic == _IMAGES_MAGIC else 1
    header = 4 + 4 * dimensions
    if len(data) < header:
        raise ValueError(f"{path} is too short for an IDX {what} file ({len(data)} bytes)")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"{path} is not an MNIST {what} file: magic number 0x{found:08x}, expected 0x{magic:08x}")
    sizes = [int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(dimensions)]
    expected = header + int(np.prod(sizes))
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(f"{path} is {state}: {len(data)} bytes for {sizes} {what}, expected {expected}")
    values = np.frombuffer(data, dtype=np.uint8, offset=header)
    return values.reshape(sizes[0], -1) if dimensions == 3 else values.copy()


def _read_csv(path):
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise ValueError(f"cannot read {path} as CSV: {error}") from None
    columns = [str(c) for c in frame.columns]
    if all(_is_number(c) for c in columns):
        raise ValueError(f"{path} has no header row; the first line must name the columns (label, pixel0, ...)")
    labels = None
    if "label" in columns:
        labels = frame.pop(frame.columns[columns.index("label")]).to_numpy()
    if frame.shape[1] != MNIST_PIXELS:
        raise ValueError(f"{path} has {frame.shape[1]} pixel columns, expected {MNIST_PIXELS} (28x28)")
    values = frame.to_numpy()
    for name, array in (("pixel", values), ("label", labels)):
        if array is None:
            continue
        if array.dtype.kind not in "iu" or (array.size and (array.min() < 0 or array.max() > 255)):
            raise ValueError(f"{path}: every {name} value must be an integer 0..255")
    return values.astype(np.uint8), None if labels is None else labels.astype(np.uint8)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True
