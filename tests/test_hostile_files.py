"""A corpus of hostile model files, made here, that importModel must refuse without side effects."""

import functools
import os
import pickle
import pickletools
import struct
import subprocess
import sys
import time
import tracemalloc
from typing import ClassVar

import numpy as np
import pytest

from dnn import DNN, ModelFileError
from dnn.files import persistence

# Events that would mean code from a file ran. Loading itself only opens the model file.
DANGEROUS_EVENTS = {"os.system", "subprocess.Popen", "exec", "compile", "import", "os.exec", "os.posix_spawn",
                    "os.spawn", "os.fork", "os.remove", "os.rename", "shutil.rmtree", "ctypes.dlopen",
                    "builtins.input", "socket.connect", "pickle.find_class", "code.__new__", "function.__new__"}


class _Recorder:
    active = False
    events: ClassVar[list] = []

    @classmethod
    def hook(cls, event, args):
        if cls.active:
            cls.events.append((event, args))


sys.addaudithook(_Recorder.hook)


class Reduce:
    """An object that pickles as ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def payload_with(evil):
    """A believable model payload with something hostile inside it."""
    return {"format": "dnn-model", "format_version": 1, "config": {"units": [2, 2], "evil": [[{"x": evil}]]}}


def text_pickle(source):
    return source.encode("latin-1")


def hostile_files(marker):
    command = f"touch {marker}"
    files = {}
    for protocol in range(6):
        files[f"os.system protocol {protocol}"] = pickle.dumps(payload_with(Reduce(os.system, command)), protocol)
    files["os.system by its public name"] = text_pickle(f"cos\nsystem\n(S'{command}'\ntR.")
    files["subprocess.Popen"] = pickle.dumps(Reduce(subprocess.Popen, ["touch", marker]), 4)
    files["subprocess.check_call"] = pickle.dumps(Reduce(subprocess.check_call, ["touch", marker]), 5)
    files["builtins.eval"] = pickle.dumps(Reduce(eval, f"open({marker!r}, 'w')"), 4)
    files["builtins.exec"] = pickle.dumps(Reduce(exec, f"open({marker!r}, 'w')"), 3)
    files["builtins.open"] = pickle.dumps(Reduce(open, marker, "w"), 2)
    files["getattr chain"] = text_pickle(
        f"c__builtin__\ngetattr\n(c__builtin__\n__import__\n(S'os'\ntRS'system'\ntR(S'{command}'\ntR.")
    files["functools.partial"] = pickle.dumps(Reduce(functools.partial(os.system, command)), 4)
    files["pickle.loads nested"] = pickle.dumps(
        Reduce(pickle.loads, pickle.dumps(Reduce(os.system, command))), 4)
    files["importlib.import_module"] = text_pickle("cimportlib\nimport_module\n(S'antigravity'\ntR.")
    files["numpy.load"] = pickle.dumps(Reduce(np.load, marker, "r", True), 4)
    files["numpy.fromfile"] = pickle.dumps(Reduce(np.fromfile, marker), 4)
    files["numpy runstring"] = text_pickle(
        f"cnumpy.testing._private.utils\nrunstring\n(S'open({marker!r}, \"w\")'\n(dtR.")
    files["dotted name"] = (b"\x80\x04\x8c\x02os\x94\x8c\x0epath.os.system\x94\x93\x8c" + bytes([len(command)])
                            + command.encode() + b"\x85R.")
    files["dotted numpy name"] = b"\x80\x04\x8c\x05numpy\x8c\x1ccore.multiarray._reconstruct\x93."
    files["INST opcode"] = text_pickle(f"(S'{command}'\nios\nsystem\n.")
    files["OBJ opcode"] = b"(cos\nsystem\nX" + struct.pack("<I", len(command)) + command.encode() + b"o."
    files["copyreg._reconstructor"] = text_pickle("ccopy_reg\n_reconstructor\n(cos\n_wrap_close\nc__builtin__\n"
                                                  "object\nNtR.")
    files["persistent id"] = b"\x80\x02X\x01\x00\x00\x00xQ."
    files["extension code"] = b"\x80\x02\x82\xff."
    files["object array"] = pickle.dumps(payload_with(np.array([1, "x", None], dtype=object)), 4)
    files["object array protocol 5"] = pickle.dumps(np.array([{"a": 1}], dtype=object), 5)
    files["structured dtype with object field"] = pickle.dumps(np.zeros(2, dtype=[("a", "O"), ("b", "f8")]), 2)
    files["numpy _reconstruct with a huge shape"] = text_pickle(
        "cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I1000000000000\ntc_codecs\nencode\n"
        "(Vb\nS'latin1'\ntRtR.")
    files["numpy.ndarray called directly"] = text_pickle("cnumpy\nndarray\n((I100000000000\nttR.")
    files["dtype re-typed after use"] = _dtype_retyped_after_use()
    files["array state with wrong size"] = _array_with_state(b"\x00" * 8, (10**12,))
    files["huge BINUNICODE8"] = b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc"
    files["huge BINBYTES8"] = b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc"
    files["huge frame"] = b"\x80\x04\x95" + struct.pack("<Q", 2**62) + b"N."
    files["huge LONG4"] = b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b"\x01."
    files["deep nesting"] = b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b"."
    files["memo trick"] = text_pickle(f"cos\nsystem\np0\n0(g0\n(S'{command}'\ntRl.")
    files["declared layers of 20,000 units"] = declared_size_file([20_000, 20_000])
    return files


def declared_size_file(hidden):
    """A valid 3-4-2 model file whose config declares the hidden layers ``hidden``, its checksum recomputed.

    Before its layers were checked against its arrays, loading drew initial weights for the declared sizes:
    3.1 GB for [20000, 20000], from a file of about 1.2 KB.
    """
    model = DNN(seed=0)
    model.addInputLayer([3])
    model.addHiddenLayer([4])
    model.addOutputLayer([2])
    payload = persistence.to_payload(model)
    layers = payload["config"]["layers"]
    payload["config"]["layers"] = [layers[0], *({**layers[1], "units": units} for units in hidden), layers[2]]
    return persistence.file_bytes(payload)


def _dtype_retyped_after_use():
    """An array whose dtype object is rebuilt, after the array is made, as a record with an object field.

    Plain numpy would then read the array's bytes as object pointers.
    """
    array = pickle.dumps(np.zeros(2), 2)[:-1]   # leaves the array on the stack; its dtype is memo 14
    state = (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 63)
    state = pickletools.optimize(pickle.dumps(state, 2))[2:-1]   # no memo writes to clobber ours
    return array + b"0h\x0e" + state + b"b0h\x09."


def _array_with_state(data, shape):
    state = pickle.dumps((1, shape, np.dtype("f8"), False, data), 2)
    body = state[2:-1]
    return (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
            + body + b"b.")


MARKER_NAME = "owned"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    marker = str(directory / MARKER_NAME)
    paths = {}
    for name, data in hostile_files(marker).items():
        path = directory / (name.replace(" ", "_").replace(".", "_") + ".pkl")
        path.write_bytes(data)
        paths[name] = path
    return directory, paths


def test_the_corpus_is_large_and_varied(corpus):
    _, paths = corpus
    assert len(paths) >= 20


@pytest.mark.parametrize("name", sorted(hostile_files("m")))
def test_hostile_file_is_refused_without_side_effects(name, corpus):
    directory, paths = corpus
    _Recorder.events = []
    _Recorder.active = True
    try:
        with pytest.raises(ModelFileError) as raised:
            DNN.importModel(paths[name])
    finally:
        _Recorder.active = False
    assert not (directory / MARKER_NAME).exists()
    dangerous = [event for event, _ in _Recorder.events if event in DANGEROUS_EVENTS]
    assert dangerous == []
    opened = [args[0] for event, args in _Recorder.events if event == "open"]
    assert opened == [paths[name]] or opened == [str(paths[name])]
    assert str(paths[name]) in str(raised.value)


@pytest.mark.parametrize(("name", "names_it"), [
    ("os.system protocol 0", f"'{os.system.__module__}.system'"),
    ("os.system by its public name", "'os.system'"),
    ("builtins.eval", "builtins.eval"),
    ("dotted name", "'os.path.os.system'"),
    ("object array", "dtype 'O8'"),
    ("numpy.load", "numpy.load"),
])
def test_the_message_names_what_was_refused(name, names_it, corpus):
    _, paths = corpus
    with pytest.raises(ModelFileError, match="refused") as raised:
        DNN.importModel(paths[name])
    assert names_it in str(raised.value)


def test_every_reference_attack_is_real(corpus, tmp_path):
    """The os.system file really is dangerous: plain pickle would run it."""
    marker = tmp_path / "ran"
    data = pickle.dumps(Reduce(os.system, f"touch {marker}"), 2)
    pickle.loads(data)
    assert marker.exists()


@pytest.mark.parametrize(("hidden", "message"), [
    ([6000, 6000], r"w must hold layers \[2, 3, 4\], as config.layers declares"),
    ([20_000, 20_000], r"w must hold layers \[2, 3, 4\]"),
    ([30_000_000], r"w\[2\] has shape \(3, 4\), expected \(3, 30000000\)"),
])
def test_a_small_file_declaring_huge_layers_is_refused_at_once(hidden, message, tmp_path):
    """Loading never allocates much more than the arrays the file holds: the declared layers are checked first.

    Before, [6000, 6000] drew 430 MB of initial weights in 1.3 s, and [3, 30000000, 2] 1.2 GB.
    """
    path = tmp_path / "declared.pkl"
    path.write_bytes(declared_size_file(hidden))
    assert path.stat().st_size < 2000
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start_memory = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError, match=message):
            DNN.importModel(path)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - start_memory
    finally:
        if not tracing:
            tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 100 * 2**20
