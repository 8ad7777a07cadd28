"""Images to model rows: your own pictures on the scale of a digits or MNIST model.

scikit-learn's 8x8 digits are bright ink (up to 16) on a 0 background, each
digit cropped to its ink and filling the square's height; MNIST is 28x28 on
0..255. :func:`image_to_row` brings any grey or colour image of one character
to such a row, and :func:`split_characters` cuts a line of characters (a
rendered strip, a captcha) at the blank columns between them.
"""

import numpy as np

#: Fraction of the ink range below which a pixel counts as background.
INK_THRESHOLD = 0.1


def grey_levels(image, invert=False):
    """The image as a 2-D float64 array in [0, 1], ink bright.

    Parameters
    ----------
    image : array-like of shape (h, w) or (h, w, channels), or a PIL image
        Grey levels or colours on any scale (an alpha channel is ignored).
    invert : bool
        True for dark ink on a light background (printed text).

    Returns
    -------
    ndarray of float64, shape (h, w)
        0 for the background, 1 for the strongest ink.
    """
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3:
        array = array[..., :3].mean(axis=2)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"an image must be 2-D (or 3-D with colour channels) and not empty, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("the image holds NaN or infinite values")
    low, high = array.min(), array.max()
    if high == low:
        raise ValueError("the image is blank: every pixel has the same value")
    levels = (array - low) / (high - low)
    return 1.0 - levels if invert else levels


def image_to_row(image, side=8, max_value=16, invert=False):
    """One character's image as a model row: cropped, squared, averaged down to side x side.

    Parameters
    ----------
    image : array-like of shape (h, w) or (h, w, channels), or a PIL image
    side : int
        Output size: 8 for scikit-learn's digits, 28 for MNIST.
    max_value : float
        Value of full ink: 16 for the digits as ``load_digits`` gives them,
        255 for raw MNIST, 1 for normalized pixels.
    invert : bool
        True for dark ink on a light background.

    Returns
    -------
    ndarray of float64, shape (side * side,)
        Grey levels 0..max_value, row by row, ink bright: the ink's bounding
        box padded to a square (centred) so the character keeps its shape,
        then every output pixel the mean of the area it covers.
    """
    if not isinstance(side, (int, np.integer)) or isinstance(side, bool) or side < 1:
        raise ValueError(f"side must be a positive integer, got {side!r}")
    if not np.isfinite(max_value) or max_value <= 0:
        raise ValueError(f"max_value must be a positive number, got {max_value!r}")
    levels = grey_levels(image, invert)
    rows = np.flatnonzero((levels > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((levels > INK_THRESHOLD).any(axis=0))
    ink = levels[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    size = max(ink.shape)
    square = np.zeros((size, size))
    top, left = (size - ink.shape[0]) // 2, (size - ink.shape[1]) // 2
    square[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    return _area_average(square, side).ravel() * max_value


def _area_average(square, side):
    """Exact area averaging of a (size, size) array down to (side, side): each pixel split into side x side parts."""
    size = square.shape[0]
    # In units of 1/side of a source pixel, output cell i spans [i*size, (i+1)*size) and source pixel j spans
    # [j*side, (j+1)*side): their overlap over the cell's length weighs pixel j in cell i. A @ square @ A.T is the
    # area average in O(side * size) memory (repeating every pixel side x side times took (size * side)^2).
    cells = np.arange(side)[:, None]
    pixels = np.arange(size)[None, :]
    overlap = np.minimum((cells + 1) * size, (pixels + 1) * side) - np.maximum(cells * size, pixels * side)
    weights = np.clip(overlap, 0, None) / size
    return weights @ square @ weights.T


def split_characters(image, invert=False, min_gap=1):
    """Cut a line of characters at the blank columns between them.

    Parameters
    ----------
    image : array-like or PIL image
        One line of characters.
    invert : bool
        True for dark ink on a light background.
    min_gap : int
        Blank columns needed to separate two characters.

    Returns
    -------
    list of ndarray
        Each character's columns (full height, grey levels in [0, 1], ink
        bright), left to right.
    """
    if not isinstance(min_gap, (int, np.integer)) or isinstance(min_gap, bool) or min_gap < 1:
        raise ValueError(f"min_gap must be a positive integer, got {min_gap!r}")
    levels = grey_levels(image, invert)
    inked = (levels > INK_THRESHOLD).any(axis=0)
    pieces, start, blank = [], None, 0
    for column, has_ink in enumerate(inked):
        if has_ink:
            if start is None:
                start = column
            blank = 0
        elif start is not None:
            blank += 1
            if blank == min_gap:
                pieces.append(levels[:, start:column - min_gap + 1])
                start = None
    if start is not None:
        pieces.append(levels[:, start:len(inked) - blank])
    return pieces
