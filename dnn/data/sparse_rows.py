"""A scipy.sparse matrix read as dense rows, a batch or chunk at a time.

Text features (TF-IDF) and one-hot tables come as CSR or CSC matrices far too
large to densify whole: 100,000 rows of 50,000 columns are 20 GB dense. dnn's
network multiplies dense rows, so :class:`SparseRows` hands out the rows a
mini-batch or a prediction chunk asks for as a dense array, and memory stays
bounded by the batch, not the data. scipy is imported only when such a matrix
is given.
"""

import numpy as np


def is_sparse(X):
    """Whether ``X`` is a scipy.sparse matrix or array (without importing scipy for anything else)."""
    return type(X).__module__.startswith("scipy.sparse") and hasattr(X, "tocsr")


class SparseRows:
    """Rows of a sparse matrix, dense on demand; the interface the chunked readers use (len, shape, slices, take).

    Parameters
    ----------
    matrix : scipy.sparse matrix or array, shape (n, features)
        Copied once to CSR in ``dtype`` (the stored values only) unless it already is.
    dtype : numpy dtype, optional
        Dtype of the stored values and of the dense rows returned (default: the matrix's).
    """

    def __init__(self, matrix, dtype=None):
        csr = matrix.tocsr()
        if dtype is not None and csr.dtype != dtype:
            csr = csr.astype(dtype)
        csr.sum_duplicates()  # canonical form: each stored value once, so data holds every value of the matrix
        self.matrix = csr
        self.shape, self.dtype, self.ndim = csr.shape, csr.dtype, 2

    def __len__(self):
        return self.shape[0]

    @property
    def stored(self):
        """The explicitly stored values (the others are 0), shape (nnz,)."""
        return self.matrix.data

    def row_of_stored(self, position):
        """The row that holds stored value number ``position``."""
        return int(np.searchsorted(self.matrix.indptr, position, side="right") - 1)

    def __getitem__(self, rows):
        """Dense rows of a slice or an index array, or one dense row of an int."""
        if isinstance(rows, (int, np.integer)):
            return self.matrix[int(rows)].toarray()[0]
        return self.matrix[rows].toarray()

    def take(self, index, axis=0, out=None, mode=None):
        """Dense rows ``index`` (into ``out`` when given), like ``ndarray.take`` along axis 0."""
        if axis != 0:
            raise ValueError("SparseRows.take reads rows (axis=0)")
        rows = self.matrix[np.asarray(index)]
        if out is None or out.dtype != self.dtype or not out.flags.c_contiguous:
            dense = rows.toarray()
            if out is None:
                return dense
            np.copyto(out, dense, casting="unsafe")
            return out
        out[...] = 0
        rows.toarray(out=out)
        return out

    def column_moments(self, rows=None):
        """Per-column sum and sum of squares over ``rows`` (all by default), in float64, and the row count."""
        part = self.matrix if rows is None else self.matrix[np.asarray(rows)]
        part = part.astype(np.float64)
        total = np.asarray(part.sum(axis=0)).ravel()
        squares = np.asarray(part.multiply(part).sum(axis=0)).ravel()
        return total, squares, part.shape[0]
