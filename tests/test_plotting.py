import struct

import matplotlib
import numpy as np
import pytest

from dnn import DNN

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def classifier(features=64, classes=10):
    model = DNN(lr=0.1, momentum=0.9, seed=0)
    model.addInputLayer([features])
    model.addHiddenLayer([16])
    model.addOutputLayer([classes])
    return model


def digits_like(n=60, side=8, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, side * side)), rng.integers(0, classes, n)


def test_plots_are_headless():
    assert matplotlib.get_backend().lower() == "agg"


def test_convergence_curve_png(tmp_path):
    model = classifier()
    X, y = digits_like()
    model.fit(X, y, epochs=4, batchSize=20, verbose=0, parameterList=[("w", 2, 1, 1), ("b", 3, 2)])
    figure = model.drawConvergenceCurve(tmp_path / "out" / "convergence.png")
    assert png_size(tmp_path / "out" / "convergence.png") == (800, 500)
    axes = figure.axes[0]
    assert [line.get_label() for line in axes.lines] == ["w[2][0, 0]  ('w', 2, 1, 1)", "b[3][1]  ('b', 3, 2)"]
    np.testing.assert_array_equal(axes.lines[0].get_ydata(), model.parameterRecord[("w", 2, 1, 1)])
    assert axes.get_xlabel() == "epoch (0 = before training)"


def test_convergence_curve_needs_records():
    with pytest.raises(ValueError, match="no parameters were recorded"):
        classifier().drawConvergenceCurve()


def test_history_png_has_loss_accuracy_and_learning_rate(tmp_path):
    model = classifier()
    X, y = digits_like()
    model.fit(X, y, epochs=3, batchSize=20, verbose=0)
    figure = model.drawHistory(tmp_path / "history.png")
    assert png_size(tmp_path / "history.png") == (1200, 400)
    assert [axes.get_title() for axes in figure.axes] == ["Loss", "Accuracy", "Learning rate"]
    np.testing.assert_array_equal(figure.axes[0].lines[0].get_ydata(), model.history["loss"])


def test_history_of_a_regression_has_no_accuracy_panel(tmp_path):
    model = DNN(seed=0)
    model.addInputLayer([2])
    model.addOutputLayer([1], activation="identity")
    model.fit(np.eye(2), [1.0, 2.0], epochs=2, batchSize=2, verbose=0)
    figure = model.drawHistory(tmp_path / "h.png")
    assert [axes.get_title() for axes in figure.axes] == ["Loss", "Learning rate"]
    assert png_size(tmp_path / "h.png") == (800, 400)


@pytest.mark.parametrize(("side", "count", "size"), [(8, 1, (160, 190)), (8, 12, (1600, 380)), (28, 3, (480, 190))])
def test_digits_png_infers_the_square_side(side, count, size, tmp_path):
    X, y = digits_like(n=count, side=side)
    model = classifier(features=side * side)
    figure = model.drawDigits(X if count > 1 else X[0], y if count > 1 else y[0:1], tmp_path / "d.png",
                              predictions=True)
    assert png_size(tmp_path / "d.png") == size
    predictions = model.predict(X)
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == [f"label {a}\npred {b}" for a, b in zip(y, predictions)]
    assert figure.axes[0].images[0].get_array().shape == (side, side)


def test_digits_refuses_non_square_rows():
    with pytest.raises(ValueError, match="square number of pixels"):
        classifier(features=10).drawDigits(np.zeros((2, 10)))


def test_confusion_matrix_png(tmp_path):
    model = classifier(classes=3)
    X, y = digits_like(n=90, classes=3)
    model.fit(X, y, epochs=2, batchSize=30, verbose=0)
    figure = model.drawConfusionMatrix(X, y, tmp_path / "cm.png")
    assert png_size(tmp_path / "cm.png") == (400, 400)
    counts = np.zeros((3, 3), int)
    for true, predicted in zip(y, model.predict(X)):
        counts[true, predicted] += 1
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), counts)
    assert [t.get_text() for t in figure.axes[0].texts] == [str(c) for c in counts.ravel()]


def test_confusion_matrix_refuses_regression():
    model = DNN()
    model.addInputLayer([2])
    model.addOutputLayer([1], activation="identity")
    with pytest.raises(ValueError, match="single-label classifier"):
        model.drawConfusionMatrix(np.eye(2), [0.5, 1.5])


# Three short epochs may stall at the class frequencies; the metrics against scikit-learn are the point.
@pytest.mark.filterwarnings("ignore::dnn.errors.TrainingStalledWarning")
def test_model_evaluate_per_class_scores_match_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    model = classifier(classes=4)
    X, y = digits_like(n=200, classes=4)
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    model.fit(X, labels, epochs=3, batchSize=20, verbose=0)
    result = model.modelEvaluate(X, labels, verbose=0)
    predicted = model.predict(X)
    precision, recall, f1, support = sk.precision_recall_fscore_support(labels, predicted, zero_division=0)
    for k, name in enumerate(["ant", "bee", "cat", "dog"]):
        assert result["precision"][name] == pytest.approx(precision[k], rel=1e-12)
        assert result["recall"][name] == pytest.approx(recall[k], rel=1e-12)
        assert result["f1"][name] == pytest.approx(f1[k], rel=1e-12)
        assert result["support"][name] == support[k]
    assert result["macro_f1"] == pytest.approx(sk.f1_score(labels, predicted, average="macro"), rel=1e-12)
    np.testing.assert_array_equal(result["confusion_matrix"], sk.confusion_matrix(labels, predicted))
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted), rel=1e-12)


def test_figures_do_not_accumulate_in_pyplot(tmp_path):
    pyplot = pytest.importorskip("matplotlib.pyplot")
    before = len(pyplot.get_fignums())
    model = classifier()
    X, y = digits_like()
    model.fit(X, y, epochs=1, batchSize=20, verbose=0)
    for _ in range(3):
        model.drawHistory()
    assert len(pyplot.get_fignums()) == before


def test_saved_figures_are_closed_in_pyplot(tmp_path, monkeypatch):
    pyplot = pytest.importorskip("matplotlib.pyplot")
    from dnn.report import plots

    model = classifier()
    X, y = digits_like()
    model.fit(X, y, epochs=1, batchSize=20, verbose=0)
    # On a backend with windows, a figure without a path stays known to pyplot, so plt.show() shows it ...
    monkeypatch.setattr(plots, "_interactive", lambda figure: True)
    before = set(pyplot.get_fignums())
    shown = model.drawHistory()
    assert set(pyplot.get_fignums()) - before == {shown.number}
    pyplot.close(shown)
    # ... and one saved to a path is closed, so a loop does not accumulate figures.
    for k in range(3):
        figure = model.drawWeights(2, tmp_path / f"w{k}.png")
        model.drawDigits(X[:3], y[:3], tmp_path / f"d{k}.png")
    assert set(pyplot.get_fignums()) == before
    assert png_size(tmp_path / "w2.png") == png_size(tmp_path / "w0.png")
    assert figure.axes  # a closed figure can still be inspected and saved again
    figure.savefig(tmp_path / "again.png")
    assert png_size(tmp_path / "again.png")[0] > 0


def test_digits_take_one_hot_labels_and_need_no_trained_network(tmp_path):
    X, y = digits_like(n=4)
    one_hot = np.eye(10)[y]
    untrained = classifier()
    figure = untrained.drawDigits(X, one_hot, tmp_path / "d.png")
    assert [axes.get_title() for axes in figure.axes] == [f"label {label}" for label in y]
    bare = DNN()  # no layers at all: just looking at data
    assert [axes.get_title() for axes in bare.drawDigits(X, y).axes] == [f"label {label}" for label in y]
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        bare.drawDigits(X, one_hot[:3])


def test_digits_of_a_fitted_model_show_predictions_in_its_own_labels():
    X, y = digits_like(n=60, classes=3)
    names = np.array(["ant", "bee", "cat"])
    model = classifier(classes=3)
    model.fit(X, names[y], epochs=1, batchSize=20, verbose=0)
    figure = model.drawDigits(X[:4], np.eye(3)[y[:4]])
    predictions = model.predict(X[:4])
    assert [axes.get_title() for axes in figure.axes] == [
        f"label {names[a]}\npred {b}" for a, b in zip(y[:4], predictions)]
    assert all("pred" not in axes.get_title() for axes in model.drawDigits(X[:4], predictions=False).axes)


def test_draw_weights_shows_each_units_incoming_weights(tmp_path):
    model = classifier()
    figure = model.drawWeights(2, tmp_path / "weights.png")
    assert png_size(tmp_path / "weights.png") == (1300, 330)
    assert len(figure.axes) == 16
    for j, axes in enumerate(figure.axes):
        np.testing.assert_array_equal(axes.images[0].get_array(), model.w[2][:, j].reshape(8, 8))
        assert axes.get_title() == f"unit {j + 1}"
        assert axes.images[0].get_clim() == pytest.approx((-np.abs(model.w[2][:, j]).max(),
                                                           np.abs(model.w[2][:, j]).max()))


def test_draw_weights_of_wide_layers_and_bad_layers():
    model = DNN(seed=0)
    model.addInputLayer([16])
    model.addHiddenLayer([120, 10])
    model.addOutputLayer([3])
    figure = model.drawWeights(2)
    assert len(figure.axes) == 100 and "the first 100 of 120" in figure._suptitle.get_text()
    with pytest.raises(ValueError, match="layer 3 has 120 inputs, not a square number"):
        model.drawWeights(3)
    with pytest.raises(ValueError, match=r"one of the layers with weights, 2..4, got 1"):
        model.drawWeights(1)
