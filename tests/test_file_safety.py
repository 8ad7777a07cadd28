"""Files that would take the machine down: each is refused quickly, in little memory, with ModelFileError.

Each crafted file is loaded in a child process, under an address-space limit,
so a regression fails the test instead of exhausting the machine. The bounds
(1 s, 100 MB) are the ones the loader promises for a hostile file, not a
speed benchmark: an unprotected loader takes seconds to forever and GiBs.
"""

import io
import json
import os
import pickle
import pickletools
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dnn import DNN, ModelFileError
from dnn.files import pickle_scan, safe_pickle

ROOT = Path(__file__).resolve().parents[1]
SECONDS, MEGABYTES = 1.0, 100


# ---------------------------------------------------------------- the crafted files


def memo_index_file():
    """9 bytes: PROTO 4, NONE, LONG_BINPUT 2**28, STOP. Unprotected, the memo grows to 2**28 slots (4 GiB)."""
    return b"\x80\x04N" + b"r" + struct.pack("<I", 2**28) + b"."


class _SharedBytesPickler(pickle.Pickler):
    """Pickles every array as a rebuild from one shared bytes object (the memo refers to it each time)."""

    shared = b""

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            return (np.ndarray.__reduce__(obj)[0], (np.ndarray, (0,), b"b"),
                    (1, (len(self.shared),), np.dtype("u1"), False, self.shared))
        return NotImplemented


def shared_bytes_file(uses=3000):
    """About 1 MiB: one bytes object rebuilt into ``uses`` arrays. Unprotected: ``uses`` copies (3 GiB)."""
    buffer = io.BytesIO()
    pickler = _SharedBytesPickler(buffer, protocol=4)
    pickler.shared = bytes((1 << 20) - uses * 46)
    pickler.dump([np.zeros(1) for _ in range(uses)])
    return buffer.getvalue()


def doubling_lists(levels):
    """Each list holds the previous one twice, through the memo: 2**levels elements when printed."""
    x = []
    for _ in range(levels):
        x = [x, x]
    return pickle.dumps(x, 4)


def doubling_key(levels):
    """A dict whose key is a tuple built like :func:`doubling_lists`: hashing it walks 2**levels tuples."""
    x = ()
    for _ in range(levels):
        x = (x, x)
    body = pickle.dumps(x, 4)  # {x: 1} cannot be built here: it would hash x
    return b"\x80\x04}" + body[2:-1] + b"K\x01s."


def deep_list(depth):
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


def colliding_keys(count):
    """A dict of integers that all share one hash (k * (2**61 - 1)): building it is quadratic in ``count``.

    Written by hand: a real dict of these keys would take seconds to build here.
    """
    modulus = 2**61 - 1
    items = b"".join(b"\x8a\x0b" + (k * modulus).to_bytes(11, "little", signed=True) + b"N"
                     for k in range(1, count + 1))
    return b"\x80\x04}(" + items + b"u."


CRAFTED = {
    "9-byte memo index 2**28": lambda d: memo_index_file(),
    "1 MiB, one bytes object in 3000 arrays": lambda d: shared_bytes_file(),
    "2 KB of lists repeating their halves": lambda d: doubling_lists(300),
    "lists repeating their halves, 60 deep": lambda d: doubling_lists(60),
    "the same shape as a dict key": lambda d: doubling_key(300),
    "a dict key of tuples repeating their halves, 60 deep": lambda d: doubling_key(60),
    "a list nested 100,000 deep": lambda d: deep_list(100_000),
    "a list nested 1,000 deep": lambda d: deep_list(1_000),
    "20,000 integer keys with one hash": lambda d: colliding_keys(20_000),
}
SPECIAL = ["/dev/zero", "a 3 GiB sparse file", "a FIFO"]

LOADER = textwrap.dedent("""
    import json, resource, sys, time, tracemalloc
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # a regression fails here, not the machine
    import dnn
    from dnn import DNN, ModelFileError
    path = sys.argv[1]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        DNN.importModel(path)
        outcome, message = "loaded", ""
    except ModelFileError as error:
        outcome, message = "ModelFileError", str(error)
    except BaseException as error:
        outcome, message = type(error).__name__, str(error)[:300]
    seconds = time.perf_counter() - start
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    tracemalloc.start()
    try:
        DNN.importModel(path)
    except BaseException:
        pass
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps({"outcome": outcome, "message": message, "seconds": seconds, "rss_mb": rss,
                      "traced_mb": traced, "module": dnn.__file__}))
""")


def load_in_child(path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", LOADER, str(path)], capture_output=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


def make_special(name, directory):
    if name == "/dev/zero":
        return "/dev/zero"
    if name == "a FIFO":
        path = directory / "model.fifo"
        os.mkfifo(path)
        return path
    path = directory / "sparse.pkl"
    with open(path, "wb") as f:
        f.truncate(3 << 30)  # no disk blocks: a hole
    return path


@pytest.mark.parametrize("name", sorted(CRAFTED) + SPECIAL)
def test_crafted_file_is_refused_fast_in_little_memory(name, tmp_path):
    if name in CRAFTED:
        path = tmp_path / "crafted.pkl"
        path.write_bytes(CRAFTED[name](tmp_path))
    else:
        path = make_special(name, tmp_path)
    result = load_in_child(path)
    assert result["module"].startswith(str(ROOT))
    assert result["outcome"] == "ModelFileError", result
    assert str(path) in result["message"]
    assert len(result["message"]) < 600  # says what was wrong, does not print the file's values
    assert result["seconds"] < SECONDS
    assert result["rss_mb"] < MEGABYTES and result["traced_mb"] < MEGABYTES


def test_the_crafted_files_are_what_they_claim():
    assert len(memo_index_file()) == 9
    assert 0.9 * 2**20 < len(shared_bytes_file()) <= 2**20
    assert len(doubling_lists(300)) < 2600
    # the doubling file really expands: unpickled (safe at 12 levels), it prints 2**12 empty lists
    assert repr(pickle.loads(doubling_lists(12))).count("[]") == 2**12
    nested = pickle.loads(deep_list(50))
    for _ in range(49):
        (nested,) = nested
    assert nested == []
    keys = pickle.loads(colliding_keys(50))
    assert len(keys) == 50 and len({hash(k) for k in keys}) == 1


# ---------------------------------------------------------------- the scanner on honest files


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    y = np.array(["a", "b"])[rng.integers(0, 2, 40)]
    model = DNN(lr=0.05, optimizer="adam", seed=seed)
    model.addInputLayer([3])
    model.addHiddenLayer([5], activation="tanh")
    model.addOutputLayer([2])
    model.fit(X, y, epochs=3, batchSize=8, verbose=0)
    return model, X


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_protocol_passes_the_scan_and_loads_identically(protocol, tmp_path):
    from dnn.files import persistence

    model, X = small_model()
    path = tmp_path / "m.pkl"
    path.write_bytes(persistence.file_bytes(persistence.to_payload(model), protocol))
    loaded = DNN.importModel(path)
    np.testing.assert_array_equal(loaded.predictProba(X), model.predictProba(X))


def test_shipped_model_passes_the_scan():
    path = ROOT / "models" / "digits.pkl"
    if not path.exists():
        pytest.skip(f"no shipped model at {path}: models/ sits beside tests/ in the repository and the sdist")
    data = path.read_bytes()
    pickle_scan.scan(data)  # raises if refused
    assert safe_pickle.loads(data)["format"] == "dnn-model"


@pytest.mark.parametrize(("data", "message"), [
    (b"\x80\x04]\x94h\x00a.", "contains itself"),                      # a list appended to itself
    (b"\x80\x04]\x94]\x94h\x00a0h\x00K\x01a.", "changed after"),     # changed once inside another list
    (b"\x80\x04N\x94h\x05.", "never wrote"),
    (b"\x80\x04\x8e" + struct.pack("<Q", 100) + b"abc.", "more bytes than the file holds"),
    (b"\x80\x04}\x94]Ns.", "unhashable"),  # a list as a dict key
])
def test_scan_refusals_say_what_was_wrong(data, message):
    with pytest.raises(pickle.UnpicklingError, match=message):
        pickle_scan.scan(data)


def test_arrays_may_not_reuse_one_bytes_object_beyond_the_file_size():
    # three rebuilds of 40% of the file: the first two fit in twice the file's size, the third does not
    with pytest.raises(safe_pickle.UnsafePickleError, match="more bytes than the file's size"):
        safe_pickle.loads(_few_shared(uses=6))
    assert len(safe_pickle.loads(_few_shared(uses=1))) == 1


def _few_shared(uses):
    buffer = io.BytesIO()
    pickler = _SharedBytesPickler(buffer, protocol=4)
    pickler.shared = bytes(100_000)
    pickler.dump([np.zeros(1) for _ in range(uses)])
    return buffer.getvalue()


# ---------------------------------------------------------------- reading only regular files, up to a cap


def test_size_cap_is_configurable(tmp_path):
    model, X = small_model()
    path = tmp_path / "m.pkl"
    model.saveModel(path)
    size = path.stat().st_size
    np.testing.assert_array_equal(DNN.importModel(path, maxBytes=size).predictProba(X), model.predictProba(X))
    with pytest.raises(ModelFileError, match=f"{size} bytes, more than the {size - 1}-byte limit"):
        DNN.importModel(path, maxBytes=size - 1)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="it is a directory"):
        DNN.importModel(tmp_path)


# ---------------------------------------------------------------- mutated copies of a real file


def mutants(data, count, seed):
    """``count`` damaged copies of ``data``: byte flips, truncations, insertions, deletions, splices."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        copy = bytearray(data)
        kind = i % 5
        if kind == 0:
            for position in rng.integers(0, len(copy), rng.integers(1, 4)):
                copy[position] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:
            del copy[int(rng.integers(1, len(copy))):]
        elif kind == 2:
            position = int(rng.integers(0, len(copy)))
            copy[position:position] = rng.integers(0, 256, rng.integers(1, 9)).astype(np.uint8).tobytes()
        elif kind == 3:
            start = int(rng.integers(0, len(copy) - 1))
            del copy[start:start + int(rng.integers(1, 9))]
        else:  # a span copied elsewhere: memo indices and lengths that point at the wrong places
            start, to = rng.integers(0, len(copy) - 16, 2)
            copy[to:to] = copy[start:start + int(rng.integers(2, 16))]
        yield bytes(copy)


def load_mutants(data, X, reference, directory, count=400, seed=0):
    """How many mutants loaded with the same predictions, loaded with different ones, or were refused."""
    counts = {"identical": 0, "different": 0, "refused": 0}
    path = directory / "mutant.pkl"
    for mutant in mutants(data, count, seed):
        path.write_bytes(mutant)
        try:
            model = DNN.importModel(path)
        except ModelFileError:
            counts["refused"] += 1
            continue
        with np.errstate(all="ignore"):
            proba = model.predictProba(X)
        same = proba.shape == reference.shape and np.array_equal(proba, reference)
        counts["identical" if same else "different"] += 1
    return counts


def test_mutated_files_load_or_raise_model_file_error_only(tmp_path):
    model, X = small_model()
    model.saveModel(tmp_path / "m.pkl")
    data = (tmp_path / "m.pkl").read_bytes()
    counts = load_mutants(data, X, model.predictProba(X), tmp_path)
    assert sum(counts.values()) == 400
    # every change inside the payload fails its checksum: nothing loads with different predictions; a change
    # that still loads touched only the envelope's version text
    assert counts["different"] == 0 and counts["refused"] > 350


@pytest.mark.parametrize("value", [None, {"a": [1, 2.5, "x"]}, np.arange(6.0).reshape(2, 3)])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_the_scan_says_where_the_pickle_ends(value, protocol):
    data = pickle.dumps(value, protocol)
    # independently: the offset after the STOP opcode, as pickletools reads the opcodes
    stop = next(position for opcode, _, position in pickletools.genops(data) if opcode.name == "STOP")
    assert pickle_scan.scan(data) == stop + 1 == len(data)
    assert pickle_scan.scan(data + b"tail") == len(data)


@pytest.mark.parametrize(("tail", "count"), [(b".", 1), (b"\x00" * 7, 7), (pickle.dumps(1), len(pickle.dumps(1)))])
def test_safe_loads_refuses_bytes_after_the_end(tail, count):
    data = pickle.dumps({"format": "dnn-model"}, 4)
    assert pickle.loads(data + tail) == {"format": "dnn-model"}   # plain pickle ignores them
    with pytest.raises(safe_pickle.TrailingDataError, match=f"^{count} bytes? after the end of the pickle$") as raised:
        safe_pickle.loads(data + tail)
    assert raised.value.count == count
