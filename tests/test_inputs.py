"""What users bring: pandas tables, labels of every kind, features of every scale."""

import numpy as np
import pandas as pd
import pytest

from dnn import DNN


def phone_prices(n=1200, seed=0):
    """Tabular data in the spirit of the phone-price tutorial: raw features of very different scales.

    The price class depends mostly on ram (hundreds to thousands) and a little on battery and pixel counts,
    next to 0/1 and small-integer features.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "battery_power": rng.integers(500, 2000, n),
        "blue": rng.integers(0, 2, n),
        "clock_speed": rng.uniform(0.5, 3.0, n).round(1),
        "px_height": rng.integers(0, 1960, n),
        "px_width": rng.integers(500, 2000, n),
        "ram": rng.integers(256, 4000, n),
        "talk_time": rng.integers(2, 21, n),
        "four_g": rng.integers(0, 2, n),
    })
    score = frame["ram"] + 0.3 * frame["battery_power"] + 0.2 * frame["px_height"]
    labels = np.array(["low", "medium", "high", "very high"])
    price = labels[np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75]))]
    return frame, pd.Series(price, name="price_range")


def classifier(features, classes, **options):
    model = DNN(**{"lr": 0.05, "momentum": 0.9, "seed": 0, **options})
    model.addInputLayer([features])
    model.addHiddenLayer([32, 16])
    model.addOutputLayer([classes])
    return model


def test_dataframe_with_string_classes_standardized_with_a_validation_split():
    frame, price = phone_prices()
    model = classifier(8, 4, standardize=True)
    history = model.fit(frame, price, epochs=60, batchSize=32, verbose=0, validationSplit=0.2)
    assert model.feature_names == list(frame.columns)
    assert set(model.classes) == {"low", "medium", "high", "very high"}
    assert history["val_accuracy"][-1] > 0.9
    shuffled = frame[list(reversed(frame.columns))]
    predicted = model.predict(shuffled)
    assert predicted.dtype.kind == "U" and set(predicted) <= set(model.classes)
    np.testing.assert_array_equal(predicted, model.predict(frame))
    assert (predicted == price.to_numpy()).mean() > 0.9


def test_standardization_is_what_makes_mixed_scales_learnable():
    frame, price = phone_prices()
    raw = classifier(8, 4, lr=1e-4)
    raw.fit(frame, price, epochs=60, batchSize=32, verbose=0)
    scaled = classifier(8, 4, lr=0.05, standardize=True)
    scaled.fit(frame, price, epochs=60, batchSize=32, verbose=0)
    raw_accuracy = raw.modelEvaluate(frame, price, verbose=0)["accuracy"]
    scaled_accuracy = scaled.modelEvaluate(frame, price, verbose=0)["accuracy"]
    assert raw_accuracy < 0.75 < 0.9 < scaled_accuracy


def test_standardizer_statistics_and_constant_columns():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(1000, 50, 300), np.full(300, 7.0), rng.normal(0, 1e-3, 300)])
    y = rng.integers(0, 2, 300)
    model = classifier(3, 2, standardize=True)
    model.fit(X, y, epochs=1, batchSize=30, verbose=0)
    np.testing.assert_allclose(model.feature_mean, X.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(model.feature_scale, [X[:, 0].std(), 1.0, X[:, 2].std()], rtol=1e-5)
    assert np.isfinite(model.predictProba(X)).all()


def test_standardizer_is_learned_on_training_rows_only():
    rng = np.random.default_rng(2)
    X, Xv = rng.normal(5, 2, (200, 2)), rng.normal(-50, 2, (50, 2))
    y, yv = rng.integers(0, 2, 200), rng.integers(0, 2, 50)
    model = classifier(2, 2, standardize=True)
    model.fit(X, y, epochs=1, batchSize=20, verbose=0, validationData=(Xv, yv))
    np.testing.assert_allclose(model.feature_mean, X.mean(axis=0), rtol=1e-5)


def test_inputs_are_standardized_everywhere_the_model_reads_features(tmp_path):
    frame, price = phone_prices(n=300)
    model = classifier(8, 4, standardize=True, dtype="float64")
    model.fit(frame, price, epochs=3, batchSize=30, verbose=0)
    X = frame.to_numpy(dtype=float)
    manual = (X - model.feature_mean) / model.feature_scale
    plain = classifier(8, 4, dtype="float64")
    plain.w, plain.b = dict(model.w), dict(model.b)
    np.testing.assert_allclose(model.forwardPropagation(frame), plain.forwardPropagation(manual), rtol=1e-12)
    np.testing.assert_allclose(model.predictProba(frame), plain.predictProba(manual), rtol=1e-12)
    codes = np.searchsorted(model.classes, price.to_numpy())
    assert model.modelEvaluate(frame, price, verbose=0)["loss"] == pytest.approx(
        plain.modelEvaluate(manual, codes, verbose=0)["loss"], rel=1e-12)
    assert max(model.gradientCheck(frame[:20], price[:20]).values()) < 1e-6
    # the scaling travels with the model file
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    np.testing.assert_array_equal(loaded.feature_mean, model.feature_mean)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.feature_names == list(frame.columns)


def test_user_arrays_are_not_scaled_in_place():
    X = np.random.default_rng(3).normal(10, 3, (50, 2))
    before = X.copy()
    model = classifier(2, 2, standardize=True, dtype="float64")
    model.fit(X, (X[:, 0] > 10).astype(int), epochs=1, batchSize=10, verbose=0)
    model.forwardPropagation(X)
    model.predict(X)
    np.testing.assert_array_equal(X, before)


def test_standardize_as_a_fit_argument():
    X = np.random.default_rng(4).normal(100, 10, (40, 2))
    y = (X[:, 0] > 100).astype(int)
    model = classifier(2, 2)
    model.fit(X, y, epochs=1, batchSize=10, verbose=0, standardize=True)
    assert model.standardize and model.feature_mean is not None
    with pytest.raises(ValueError, match="cannot be turned off"):
        model.fit(X, y, epochs=1, verbose=0, standardize=False)


# One epoch on unscaled phone features leaves dead ReLUs; the column check is the point, not the training.
@pytest.mark.filterwarnings("ignore::dnn.errors.TrainingStalledWarning")
def test_dataframe_columns_must_match_at_predict_time():
    frame, price = phone_prices(n=100)
    model = classifier(8, 4)
    model.fit(frame, price, epochs=1, batchSize=20, verbose=0)
    with pytest.raises(ValueError, match=r"missing columns \['ram'\]"):
        model.predict(frame.drop(columns="ram").assign(extra=1))
    with pytest.raises(ValueError, match=r"unexpected columns \['extra'\]"):
        model.predict(frame.assign(extra=1))
    # a plain array is taken positionally
    np.testing.assert_array_equal(model.predict(frame.to_numpy()), model.predict(frame))


def test_nested_lists_and_label_containers():
    X = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    for y in ([0, 1, 0, 1], pd.Series(["b", "a", "b", "a"]), pd.DataFrame({"label": [1, 0, 1, 0]}),
              pd.Series(pd.Categorical(["x", "y", "x", "y"])), np.eye(2)[[0, 1, 0, 1]]):
        model = classifier(2, 2, lr=0.5)
        model.fit(X, y, epochs=100, batchSize=4, verbose=0)
        expected = np.asarray(y)[:, 0] if isinstance(y, pd.DataFrame) else np.asarray(y)
        if expected.ndim == 2:
            expected = expected.argmax(axis=1)
        np.testing.assert_array_equal(model.predict(X), expected)


def test_data_format_conversion_like_the_tutorial():
    frame, price = phone_prices(n=20)
    codes = pd.Series(np.searchsorted(["high", "low", "medium", "very high"], price))
    X, Y = DNN.dataFormatConversion(frame, codes, 4)
    assert X.dtype == np.float64 and X.shape == (20, 8)
    np.testing.assert_array_equal(X, frame.to_numpy(dtype=float))
    np.testing.assert_array_equal(Y, np.eye(4)[codes])
    with pytest.raises(ValueError, match="classNum must be an integer of at least 2"):
        DNN.dataFormatConversion(frame, codes, 1)
