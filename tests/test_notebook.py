"""What a Jupyter notebook shows: each figure once, progress without warnings; and the confusion matrix's title."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dnn.report import plots
from tests.conftest import run_cells

SESSION = Path(__file__).resolve().parent.parent / "examples" / "session.ipynb"

# A kernel as tqdm and dnn recognise one (ipykernel's shell module loaded, a shell with a kernel), without
# ipywidgets and without a real IPython, so it runs in any environment.
FAKE_KERNEL = """\
import sys, types, warnings
warnings.simplefilter("always")  # every warning reaches stderr
sys.modules["ipywidgets"] = None  # not installed
for name in ("ipykernel", "ipykernel.zmqshell"):
    sys.modules[name] = types.ModuleType(name)
class ZMQInteractiveShell:
    kernel = object()
    config = {"IPKernelApp": {}}
ipython = types.ModuleType("IPython")
ipython.get_ipython = ZMQInteractiveShell
sys.modules["IPython"] = ipython
"""


def in_fake_kernel(code):
    """stdout and stderr of ``code`` run in the fake kernel, carriage returns kept (text=True makes them newlines)."""
    done = subprocess.run([sys.executable, "-c", FAKE_KERNEL + code], capture_output=True, timeout=120, check=True)
    return done.stdout.decode(), done.stderr.decode()


def test_import_in_a_kernel_without_ipywidgets_warns_nothing():
    out, err = in_fake_kernel("import dnn\nprint(dnn.DNN.__name__)")
    assert out == "DNN\n" and err == ""


def test_progress_in_a_kernel_without_ipywidgets_is_a_text_bar_on_stdout():
    out, err = in_fake_kernel(
        "import numpy as np\nfrom dnn import DNN\n"
        "model = DNN(lr=1.0, seed=0); model.addInputLayer([2]); model.addOutputLayer([2])\n"
        "model.fit(np.tile(np.eye(2), (5, 1)), [0, 1] * 5, epochs=2, batchSize=2, verbose=1)\n")
    # stderr would be shown as an error in a notebook; stdout holds tqdm's bar, redrawn in place over 5 batches
    assert err == ""
    assert "\rEpoch 1/2" in out and "\rEpoch 2/2" in out and "5/5" in out


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_confusion_matrix_title_clears_the_colorbar(classes):
    agg = pytest.importorskip("matplotlib.backends.backend_agg")
    rng = np.random.default_rng(classes)
    counts = rng.integers(0, 2000, (classes, classes))
    labels = ["setosa", "versicolor", "virginica", "d", "e", "f", "g", "h", "i", "j"][:classes]
    figure = plots.confusion_matrix(counts, labels)
    canvas = agg.FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    title = figure._suptitle
    matrix, colorbar = figure.axes
    accuracy = np.trace(counts) / counts.sum()
    assert title.get_text() == f"Confusion matrix (accuracy {accuracy:.4f})"
    title_box = title.get_window_extent(renderer)
    for axes in (colorbar, matrix):  # with their tick labels
        assert not title_box.overlaps(axes.get_tightbbox(renderer))
    assert figure.bbox.contains(title_box.x0, title_box.y0) and figure.bbox.contains(title_box.x1, title_box.y1)


def test_the_session_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(SESSION, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def expected_images(source):
    """One image per draw call, and one for a cell that only shows an earlier figure again."""
    return len(re.findall(r"\.draw\w+\(", source)) + bool(re.fullmatch(r"fig\s*(#.*)?", source.strip()))


def output_texts(output):
    if output.output_type == "stream":
        yield output.text
    elif output.output_type == "error":
        yield "\n".join(output.traceback)
    else:
        yield from (value for key, value in output.get("data", {}).items() if key.startswith("text/"))


def test_session_notebook_shows_every_figure_once_and_no_warning(tmp_path):
    pytest.importorskip("sklearn")  # the notebook's digits
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib.font_manager")  # a font cache built here, not announced on the kernel's stderr
    original = SESSION.read_bytes()
    examples = sorted(p.name for p in SESSION.parent.iterdir())
    notebook = nbformat.reads(original.decode(), as_version=4)
    # The kernel works in tmp_path: whatever the notebook did write would land there, not in the checkout.
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert SESSION.read_bytes() == original and sorted(p.name for p in SESSION.parent.iterdir()) == examples
    assert list(tmp_path.iterdir()) == []
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert sum(map(expected_images, (cell.source for cell in code))) == 6  # 5 draw calls and one figure shown again
    for cell in code:
        images = sum("image/png" in output.get("data", {}) for output in cell.outputs)
        assert images == expected_images(cell.source), cell.source
        for output in cell.outputs:
            assert output.output_type != "error", "\n".join(output.traceback)
            assert not (output.output_type == "stream" and output.name == "stderr"), output.text
            for text in output_texts(output):
                assert "Warning" not in text and "warning" not in text, text
    assert echoed(code, "model.summary()") == []
    [fitted] = echoed(code, "model.fit(X, y, epochs=10")
    assert re.fullmatch(r"<History: 10 epochs, loss \d\.\d{4}, accuracy \d\.\d{4}>", fitted)
    [evaluated] = echoed(code, "model.modelEvaluate(X, y)")
    assert re.fullmatch(r"<Evaluation: accuracy \d\.\d{4}, loss \d\.\d{4} on 1,797 rows>", evaluated)


def echoed(cells, call):
    """The text/plain values a cell's last line left, in the one cell that makes ``call``."""
    [cell] = [cell for cell in cells if call in cell.source]
    return [output.data["text/plain"] for output in cell.outputs if output.output_type == "execute_result"]


def test_figures_in_notebook_cells_show_once_and_leave_nothing_in_pyplot(tmp_path):
    pytest.importorskip("matplotlib.font_manager")
    cells = [
        "import matplotlib.pyplot as plt\nimport numpy as np\nfrom dnn import DNN\n"
        "model = DNN(seed=0); model.addInputLayer([4]); model.addOutputLayer([2])\n"
        "model.fit(np.tile(np.eye(4), (5, 1)), [0, 1, 0, 1] * 5, epochs=2, verbose=0);",
        "for k in range(3):\n    model.drawHistory(f'saved/h{k}.png')",  # three figures, each shown and saved
        "fig = model.drawWeights(2)\ndisplay(fig)\nfig",  # shown when drawn; display and the last line add nothing
        "len(plt.get_fignums())",
    ]
    notebook, images = run_cells(cells, tmp_path)
    assert images == [0, 3, 1, 0]
    assert echoed(notebook.cells, "len(plt.get_fignums())") == ["0"]  # saved or not, pyplot holds none of them
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["h0.png", "h1.png", "h2.png"]
