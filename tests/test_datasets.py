import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnn import DNN
from dnn.datasets import load_digits, load_mnist

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def idx_bytes(magic, sizes, values):
    header = magic.to_bytes(4, "big") + b"".join(s.to_bytes(4, "big") for s in sizes)
    return header + np.asarray(values, dtype=np.uint8).tobytes()


def write_pair(directory, kind, images, labels, compress=False):
    directory.mkdir(exist_ok=True)
    suffix = ".gz" if compress else ""
    opener = gzip.open if compress else open
    with opener(directory / f"{kind}-images-idx3-ubyte{suffix}", "wb") as f:
        f.write(idx_bytes(0x803, [len(images), 28, 28], images))
    with opener(directory / f"{kind}-labels-idx1-ubyte{suffix}", "wb") as f:
        f.write(idx_bytes(0x801, [len(labels)], labels))


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 784), dtype=np.uint8), np.array([3, 1, 4, 1, 5], dtype=np.uint8)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(compress, tiny, tmp_path):
    images, labels = tiny
    write_pair(tmp_path / "d", "t10k", images, labels, compress)
    X, y = load_mnist(tmp_path / "d")
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)
    assert X.dtype == np.uint8 and y.dtype == np.uint8
    suffix = ".gz" if compress else ""
    X, y = load_mnist(tmp_path / "d" / f"t10k-labels-idx1-ubyte{suffix}", normalize=True)
    np.testing.assert_allclose(X, images / 255, rtol=1e-6)
    assert X.dtype == np.float32


def test_a_directory_with_two_pairs_needs_kind(tiny, tmp_path):
    images, labels = tiny
    write_pair(tmp_path / "d", "t10k", images, labels)
    write_pair(tmp_path / "d", "train", images[:2], labels[:2])
    with pytest.raises(ValueError, match="kind= must choose one \\(found: t10k, train\\)"):
        load_mnist(tmp_path / "d")
    assert len(load_mnist(tmp_path / "d", kind="train")[0]) == 2
    with pytest.raises(ValueError, match="no other-images-idx3-ubyte"):
        load_mnist(tmp_path / "d", kind="other")


def test_truncated_and_mislabelled_files_are_clear_errors(tiny, tmp_path):
    images, labels = tiny
    write_pair(tmp_path / "d", "t10k", images, labels)
    image_file = tmp_path / "d" / "t10k-images-idx3-ubyte"
    label_file = tmp_path / "d" / "t10k-labels-idx1-ubyte"
    data = image_file.read_bytes()
    image_file.write_bytes(data[:-100])
    with pytest.raises(ValueError, match=r"is truncated: .* expected 3936"):
        load_mnist(tmp_path / "d")
    image_file.write_bytes(data + b"\x00")
    with pytest.raises(ValueError, match="longer than its header says"):
        load_mnist(tmp_path / "d")
    image_file.write_bytes(data)
    label_file.write_bytes(idx_bytes(0x803, [5, 1, 1], labels))   # an images magic on a labels file
    with pytest.raises(ValueError, match="not an MNIST labels file: magic number 0x00000803"):
        load_mnist(tmp_path / "d")
    label_file.write_bytes(idx_bytes(0x801, [4], labels[:4]))
    with pytest.raises(ValueError, match=r"holds 5 images but .* holds 4 labels"):
        load_mnist(tmp_path / "d")
    label_file.write_bytes(idx_bytes(0x801, [5], [1, 2, 3, 10, 0]))
    with pytest.raises(ValueError, match=r"digits 0..9, found 10"):
        load_mnist(tmp_path / "d")
    label_file.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        load_mnist(tmp_path / "d")


def test_truncated_gzip_is_a_clear_error(tiny, tmp_path):
    images, labels = tiny
    write_pair(tmp_path / "d", "t10k", images, labels, compress=True)
    path = tmp_path / "d" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_mnist(tmp_path / "d")


def test_missing_partner_and_missing_path(tiny, tmp_path):
    images, labels = tiny
    write_pair(tmp_path / "d", "t10k", images, labels)
    (tmp_path / "d" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match="partner"):
        load_mnist(tmp_path / "d" / "t10k-images-idx3-ubyte")
    with pytest.raises(ValueError, match="no MNIST file or directory"):
        load_mnist(tmp_path / "nowhere")


def write_csv(path, images, labels=None, header=True):
    frame = pd.DataFrame(images, columns=[f"pixel{k}" for k in range(images.shape[1])])
    if labels is not None:
        frame.insert(0, "label", labels)
    frame.to_csv(path, index=False, header=header)


def test_kaggle_csv(tiny, tmp_path):
    images, labels = tiny
    write_csv(tmp_path / "train.csv", images, labels)
    X, y = load_mnist(tmp_path / "train.csv")
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)
    write_csv(tmp_path / "test.csv", images)
    X, y = load_mnist(tmp_path / "test.csv")
    assert y is None and X.shape == (5, 784)


@pytest.mark.parametrize(("change", "message"), [
    (lambda im, lb: (im[:, :783], lb, True), "783 pixel columns, expected 784"),
    (lambda im, lb: (im, lb, False), "no header row"),
    (lambda im, lb: (im.astype(int) + 300, lb, True), "every pixel value must be an integer 0..255"),
])
def test_bad_csv(change, message, tiny, tmp_path):
    images, labels, header = change(*tiny)
    write_csv(tmp_path / "bad.csv", images, labels, header)
    with pytest.raises(ValueError, match=message):
        load_mnist(tmp_path / "bad.csv")


def test_load_digits():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,) and X.max() == 16 and set(y) == set(range(10))


@pytest.mark.skipif(not MNIST.is_dir(), reason="the official MNIST test set is not in ../shared/data/mnist")
def test_official_mnist_test_set_trains_a_network():
    X, y = load_mnist(MNIST, normalize=True)
    assert X.shape == (10000, 784) and y.shape == (10000,)
    assert y[:5].tolist() == [7, 2, 1, 0, 4]          # the well-known first digits of t10k
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    model = DNN(lr=0.1, momentum=0.9, seed=0)
    model.addInputLayer([784])
    model.addHiddenLayer([128])
    model.addOutputLayer([10])
    model.fit(X[:8000], y[:8000], epochs=5, batchSize=64, verbose=0, validationData=(X[8000:], y[8000:]))
    assert model.history["val_accuracy"][-1] > 0.93
