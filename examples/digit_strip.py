"""Lesson 4: read a rendered strip of digits (a captcha) with the digits model, then fine-tune it.

The strip "0 1 2 3 4" is drawn with PIL in DejaVu Sans (the font matplotlib
ships), cut at the blank columns between the digits
(``dnn.images.split_characters``), and each digit becomes an 8x8 row on the
training data's scale, grey levels 0..16 (``dnn.images.image_to_row``). The
shipped model ``models/digits.pkl`` reads them. Printed digits are not
handwriting, so some are misread: the model is then fine-tuned on generated
samples of the misread digits (DejaVu fonts, sizes, rotations and stroke
widths) **mixed with the original training rows**, so it learns the printed
shapes without forgetting the handwritten ones. Fine-tuning on the generated
samples alone reads the strip too, but costs test accuracy (shown for
comparison).

Run: ``python examples/digit_strip.py [--strip-png PATH]`` (``--quick``: one seed).
"""

import argparse
import copy
import os
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from sklearn.model_selection import train_test_split

from dnn import DNN
from dnn.datasets import load_digits
from dnn.images import image_to_row, split_characters

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "digits.pkl"
FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FAMILY = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSansMono.ttf",
          "DejaVuSerif.ttf"]
TEXT = "0 1 2 3 4"


def render(text, font="DejaVuSans.ttf", size=64, angle=0.0, thicken=0):
    """Black text on white, as a PIL greyscale image with a margin around it."""
    face = ImageFont.truetype(os.fspath(FONTS / font), size)
    left, top, right, bottom = face.getbbox(text)
    image = Image.new("L", (right - left + 2 * size, bottom - top + 2 * size), 255)
    ImageDraw.Draw(image).text((size - left, size - top), text, font=face, fill=0)
    if angle:
        image = image.rotate(angle, resample=Image.BILINEAR, fillcolor=255)
    if thicken:
        image = image.filter(ImageFilter.MinFilter(2 * thicken + 1))   # dark ink: the minimum spreads it
    return image


def read_strip(model, image):
    rows = np.array([image_to_row(piece) for piece in split_characters(image, invert=True)])
    return model.predict(rows)


def generated_samples(digits, per_digit, rng):
    """Rows of the given digits rendered in varied DejaVu fonts, sizes, angles and strokes, and their labels."""
    rows, labels = [], []
    for digit in digits:
        for _ in range(per_digit):
            image = render(str(digit), font=FAMILY[rng.integers(len(FAMILY))], size=int(rng.integers(28, 72)),
                           angle=float(rng.uniform(-12, 12)), thicken=int(rng.integers(0, 3)))
            rows.append(image_to_row(image, invert=True))
            labels.append(digit)
    return np.array(rows), np.array(labels)


def fine_tune(model, X, y, seed, epochs):
    tuned = copy.deepcopy(model)
    tuned.lr = 0.002
    order = np.random.default_rng(seed).permutation(len(X))
    tuned.fit(X[order], y[order], epochs=epochs, batchSize=16, verbose=0)
    return tuned


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, fewer samples and epochs")
    parser.add_argument("--strip-png", type=Path, help="also save the rendered strip and its 8x8 rows here")
    args = parser.parse_args(argv)
    seeds, per_digit, epochs = (range(1), 60, 2) if args.quick else (range(5), 150, 5)

    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.1, random_state=0)  # the demo's split
    model = DNN.importModel(MODEL_PATH)
    strip = render(TEXT)
    truth = np.array([int(c) for c in TEXT.split()])
    read = read_strip(model, strip)
    misread = sorted(set(truth[read != truth].tolist()))
    before = model.modelEvaluate(X_test, y_test, verbose=0)["accuracy"]
    print(f"Strip {TEXT!r} read by {MODEL_PATH.name}: {' '.join(map(str, read))} "
          f"({np.sum(read == truth)}/{len(truth)} right); test accuracy {before:.4f}")
    if args.strip_png:
        rows = np.array([image_to_row(piece) for piece in split_characters(strip, invert=True)])
        strip.save(args.strip_png)
        model.drawDigits(rows, truth, path=args.strip_png.with_name(args.strip_png.stem + "_rows.png"))
        print(f"Wrote {args.strip_png} and its rows")
    if not misread:
        print("Every digit read right: nothing to fine-tune.")
        return
    print(f"Misread: {misread}. Fine-tuning on {per_digit} generated samples of each, "
          f"mixed with the {len(X_train)} training rows, {epochs} epochs at lr 0.002:")
    for seed in seeds:
        rng = np.random.default_rng(seed)
        X_new, y_new = generated_samples(misread, per_digit, rng)
        mixed = fine_tune(model, np.vstack([X_train, X_new]), np.concatenate([y_train, y_new]), seed, epochs)
        line = (f"  seed {seed}: strip read {' '.join(map(str, read_strip(mixed, strip)))}, "
                f"test accuracy {before:.4f} -> {mixed.modelEvaluate(X_test, y_test, verbose=0)['accuracy']:.4f}")
        if not args.quick:
            alone = fine_tune(model, X_new, y_new, seed, epochs)
            line += (f"   (generated samples alone: strip {' '.join(map(str, read_strip(alone, strip)))}, "
                     f"test {alone.modelEvaluate(X_test, y_test, verbose=0)['accuracy']:.4f})")
        print(line)


if __name__ == "__main__":
    main()
