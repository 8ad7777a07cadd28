"""What a newcomer meets first: a finished schedule, a text file given as a model, an image given as a sample."""

import warnings

import numpy as np
import pytest

from dnn import DNN, ModelFileError
from dnn.schedules import CosineDecay


def small_model(lr):
    model = DNN(lr=lr, seed=0)
    model.addInputLayer([2])
    model.addOutputLayer([2])
    return model


def small_data():
    X = np.random.default_rng(0).normal(size=(20, 2))
    return X, (X[:, 0] > 0).astype(int)


def test_fit_warns_when_a_finished_schedule_leaves_the_rate_at_zero_and_the_weights_do_not_move():
    X, y = small_data()
    model = small_model(CosineDecay(0.1, epochs=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # the schedule's own epochs train: no warning
        model.fit(X, y, epochs=3, verbose=0)
    before = model.w[2].copy()
    with pytest.warns(UserWarning, match=r"learning rate is 0 for the whole of this fit.*CosineDecay ended at "
                                         r"epoch 3.*model\.lr ="):
        model.fit(X, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.w[2], before)     # what the warning says: nothing moved
    assert model.history["lr"][-2:] == [0.0, 0.0]


def test_no_warning_while_any_epoch_of_the_fit_still_has_a_rate():
    X, y = small_data()
    model = small_model(CosineDecay(0.1, epochs=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y, epochs=5, verbose=0)    # epochs 4 and 5 at rate 0, the first three not
    assert model.history["lr"][2] > 0 and model.history["lr"][3] == 0


def test_importing_a_text_file_says_in_plain_words_it_is_no_model_file(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("sepal_length,sepal_width,label\n5.1,3.5,setosa\n")
    with pytest.raises(ModelFileError) as caught:
        DNN.importModel(path)
    message = str(caught.value)
    assert "not a readable dnn model file" in message and "another kind of file" in message
    assert "'sepal_length,sepal_width,label'" in message          # what the file starts with
    assert "memo" not in message and "pickle" not in message       # the reader's jargon ...
    assert caught.value.__cause__ is not None                      # ... is kept as the cause
    assert "pickle" in str(caught.value.__cause__)


def test_predict_on_one_image_shaped_sample_suggests_flattening_it():
    model = DNN(seed=0)
    model.addInputLayer([64])
    model.addOutputLayer([10])
    image = np.arange(64.0).reshape(8, 8)
    with pytest.raises(ValueError, match=r"has 8 features but the input layer has 64 units; X holds 64 values.*"
                                         r"X\.reshape\(1, -1\)"):
        model.predict(image)
    assert model.predict(image.reshape(1, -1)).shape == (1,)       # the suggestion works
    images = np.arange(3 * 64.0).reshape(3, 8, 8)
    with pytest.raises(ValueError, match=r"3 samples shaped \(8, 8\).*X\.reshape\(len\(X\), -1\)"):
        model.predict(images)
    assert model.predict(images.reshape(len(images), -1)).shape == (3,)


def test_a_wrong_width_that_is_not_one_flattened_sample_gets_no_flattening_hint():
    model = DNN(seed=0)
    model.addInputLayer([64])
    model.addOutputLayer([10])
    with pytest.raises(ValueError, match=r"has 8 features but the input layer has 64 units$"):
        model.predict(np.zeros((3, 8)))


def test_the_lessons_readme_counts_and_lists_every_lesson_script():
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples"
    text = (examples / "README.md").read_text(encoding="utf-8")
    listed = {line.split("`")[1] for line in text.splitlines() if line.startswith("| `")}
    beyond = ("distributed.py", "distributed_torch.py")  # training across processes: not lessons
    lessons = {path.name for path in examples.glob("*.py") if path.name not in beyond}
    assert listed == lessons
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    assert f"descends from {words[len(lessons)]} classic tutorials" in text


def test_the_license_the_package_declares_is_shipped():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert "license = MIT" in (root / "setup.cfg").read_text()
    assert (root / "LICENSE").read_text().startswith("MIT License")
    assert "LICENSE" in (root / "MANIFEST.in").read_text()
