import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def central_difference(f, x, h=1e-6):
    """Independent reference: d f / d x for every entry of the float64 array x (two-point formula)."""
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = f(x)
        x[i] = original - h
        minus = f(x)
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
    return grad


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


class FakeState:
    """The part of a training state the monitoring callbacks touch; ``snapshot`` is the epoch it was taken in."""

    epochs, stopped_early, restored_epoch, lr_factor = 0, None, None, 1.0

    def snapshot(self):
        return self.epochs

    def restore(self, snapshot, generator, keep_records):
        self.kept = snapshot

    def learning_rate(self):
        return 0.1 * self.lr_factor


class FakeRun:
    """What a callback sees of a fit, without a model: feed it values with :func:`feed`."""

    def __init__(self, has_validation=True, requested_epochs=9):
        self.state, self.has_validation, self.stop_training, self.verbose, self.requested_epochs = (
            FakeState(), has_validation, False, 0, requested_epochs)


def feed(callback, run, key, values):
    """Call ``callback`` as fit would over epochs whose ``key`` takes ``values``; stops when it asks to."""
    callback.on_train_begin(run)
    for epoch, value in enumerate(values):
        run.state.epochs = epoch + 1
        callback.on_epoch_end(run, epoch, {key: value})
        if run.stop_training:
            break


def run_cells(cells, folder):
    """Execute ``cells`` (sources) as a notebook in a Jupyter kernel working in ``folder``; skips without one.

    Returns the executed notebook and the number of PNG images each cell displayed.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    images = [sum("image/png" in output.get("data", {}) for output in cell.outputs) for cell in notebook.cells]
    return notebook, images


def assert_same_parameters(a, b):
    """Two models with the same layers hold bit-identical weights and biases."""
    assert a.units == b.units
    for layer in range(2, len(a.units) + 1):
        assert np.array_equal(a.w[layer], b.w[layer]), layer
        assert np.array_equal(a.b[layer], b.b[layer]), layer
