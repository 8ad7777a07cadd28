import numpy as np
import pytest

from dnn.images import grey_levels, image_to_row, split_characters


def test_an_inked_square_of_the_right_size_is_only_rescaled():
    image = np.random.default_rng(0).uniform(0, 1, (8, 8))
    image[0, 0], image[7, 7] = 0.0, 1.0                    # the range 0..1 and ink on every edge
    image[0, 7] = image[7, 0] = 1.0
    np.testing.assert_allclose(image_to_row(image), 16 * image.ravel(), atol=1e-12)


def test_an_even_reduction_is_the_mean_of_each_block():
    image = np.random.default_rng(1).uniform(0, 1, (16, 16))
    image[0, 0], image[15, 15], image[0, 15], image[15, 0] = 1.0, 1.0, 1.0, 0.0
    expected = np.array([[image[2 * r:2 * r + 2, 2 * c:2 * c + 2].mean() for c in range(8)] for r in range(8)])
    np.testing.assert_allclose(image_to_row(image, side=8, max_value=16), 16 * expected.ravel(), atol=1e-12)


def test_an_uneven_reduction_weighs_each_pixel_by_the_area_it_shares():
    # 3x3 -> 2x2: each output pixel covers 1.5 x 1.5 input pixels (area 2.25); the top-left one covers
    # pixel (0, 0) whole, so it is 1 / 2.25 of full ink; the bottom-right one likewise covers (2, 2)
    image = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(image_to_row(image, side=2, max_value=1), [1 / 2.25, 0.0, 0.0, 1 / 2.25])


def test_the_ink_is_cropped_and_centred_in_a_square_with_dark_ink_inverted():
    page = np.full((20, 40), 255.0)
    page[5:9, 30:32] = 0.0                                   # a 4 tall, 2 wide black bar on white
    # cropped to 4x2, padded to 4x4 with one blank column each side
    np.testing.assert_allclose(image_to_row(page, side=4, max_value=1, invert=True), [0, 1, 1, 0] * 4)
    np.testing.assert_allclose(image_to_row(page, side=2, max_value=1, invert=True), [0.5] * 4)


def test_colour_images_are_averaged_over_their_channels():
    rgb = np.zeros((2, 2, 4))
    rgb[..., :3] = [[[0, 0, 0], [30, 60, 90]], [[90, 60, 30], [120, 120, 120]]]
    rgb[..., 3] = 255                                        # alpha is ignored
    np.testing.assert_allclose(grey_levels(rgb), [[0, 0.5], [0.5, 1]])


@pytest.mark.parametrize("image, kwargs, message", [
    (np.zeros((4, 4)), {}, "blank"),
    (np.zeros(4), {}, "2-D"),
    (np.array([[0.0, np.nan]]), {}, "NaN"),
    (np.eye(4), {"side": 0}, "side"),
    (np.eye(4), {"max_value": -1}, "max_value"),
])
def test_bad_images_and_settings_are_refused(image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        image_to_row(image, **kwargs)


def test_a_line_is_cut_at_its_blank_columns():
    line = np.zeros((3, 9))
    line[1, [1, 2, 5, 7, 8]] = 1.0                           # ink in columns 1-2, 5, 7-8
    pieces = split_characters(line)
    assert [piece.shape for piece in pieces] == [(3, 2), (3, 1), (3, 2)]
    np.testing.assert_array_equal(pieces[1][:, 0], [0, 1, 0])
    # two blank columns needed: the one-column gap between 5 and 7 no longer separates them
    assert [piece.shape[1] for piece in split_characters(line, min_gap=2)] == [2, 4]
    with pytest.raises(ValueError, match="min_gap"):
        split_characters(line, min_gap=0)


def test_a_rendered_digit_becomes_a_row_the_shipped_model_reads():
    image_module = pytest.importorskip("PIL.Image")
    font_module = pytest.importorskip("PIL.ImageFont")
    draw_module = pytest.importorskip("PIL.ImageDraw")
    matplotlib = pytest.importorskip("matplotlib")
    from pathlib import Path

    from dnn import DNN

    font = font_module.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), 64)
    strip = image_module.new("L", (300, 100), 255)
    draw_module.Draw(strip).text((10, 10), "0 3 4", font=font, fill=0)
    rows = np.array([image_to_row(piece) for piece in split_characters(strip, invert=True)])
    assert rows.shape == (3, 64) and rows.min() == 0 and 12 < rows.max() <= 16   # area means of 0..16 ink
    model = DNN.importModel(Path(__file__).resolve().parents[1] / "models" / "digits.pkl")
    assert model.predict(rows).tolist() == [0, 3, 4]
