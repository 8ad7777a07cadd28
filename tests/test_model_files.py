"""Saving model files: permissions kept, symlinks followed, stale temporaries removed, errors naming the path."""

import errno
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dnn import DNN, ModelFileError
from dnn.files import disk
from dnn.files.disk import read_model_bytes, write_atomically

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def small_model(bias=0.0):
    model = DNN(seed=0)
    model.addInputLayer([3])
    model.addOutputLayer([2])
    model.b[2][:] = bias
    return model


def temporaries(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


# ---------------------------------------------------------------- what an overwrite keeps


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_an_overwritten_file_keeps_its_permissions(mode, tmp_path):
    path = tmp_path / "m.pkl"
    small_model().saveModel(path)
    os.chmod(path, mode)
    small_model(bias=1.0).saveModel(path)
    assert path.stat().st_mode & 0o777 == mode
    assert DNN.importModel(path).b[2].tolist() == [1.0, 1.0]


def test_saving_to_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "real.pkl"
    small_model().saveModel(target)
    link = tmp_path / "current.pkl"
    link.symlink_to(Path("store") / "real.pkl")
    small_model(bias=2.0).saveModel(link)
    assert link.is_symlink() and os.readlink(link) == str(Path("store") / "real.pkl")
    assert DNN.importModel(target).b[2].tolist() == [2.0, 2.0]
    assert temporaries(tmp_path) == [] and temporaries(tmp_path / "store") == []


def test_a_dangling_symlink_gets_its_target_created(tmp_path):
    link = tmp_path / "m.pkl"
    link.symlink_to(tmp_path / "later" / "real.pkl")
    small_model(bias=3.0).saveModel(link)
    assert link.is_symlink()
    assert DNN.importModel(tmp_path / "later" / "real.pkl").b[2].tolist() == [3.0, 3.0]


# ---------------------------------------------------------------- errors name the path the user gave


def test_no_space_left_names_the_target(tmp_path, monkeypatch):
    path = tmp_path / "m.pkl"

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(disk.os, "fsync", full)
    with pytest.raises(OSError) as raised:
        small_model().saveModel(path)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(path)
    assert str(raised.value) == f"[Errno {errno.ENOSPC}] No space left on device: '{path}'"
    assert os.listdir(tmp_path) == []


def test_a_parent_that_is_a_file_is_named_as_the_problem(tmp_path):
    (tmp_path / "notadir").write_text("x")
    path = tmp_path / "notadir" / "m.pkl"
    with pytest.raises(NotADirectoryError) as raised:   # an OSError, as before
        small_model().saveModel(path)
    assert str(raised.value) == f"cannot save to {path}: its parent {tmp_path / 'notadir'} is a file, not a folder"
    assert raised.value.errno == errno.ENOTDIR
    assert os.listdir(tmp_path) == ["notadir"] and (tmp_path / "notadir").read_text() == "x"


def test_a_file_further_up_the_path_is_named(tmp_path):
    (tmp_path / "a").write_text("x")
    path = tmp_path / "a" / "b" / "c" / "m.pkl"
    with pytest.raises(NotADirectoryError, match=f"^cannot save to {path}: {tmp_path / 'a'} is a file, not a "
                                                 f"folder$"):
        small_model().saveModel(path)


def test_a_symlinked_target_under_a_file_is_named(tmp_path):
    (tmp_path / "plain").write_text("x")
    link = tmp_path / "m.pkl"
    link.symlink_to(tmp_path / "plain" / "real.pkl")
    with pytest.raises(NotADirectoryError, match=f"{tmp_path / 'plain'} is a file, not a folder"):
        small_model().saveModel(link)
    assert (tmp_path / "plain").read_text() == "x"


@pytest.mark.parametrize("name", ["folder", "folder/", "missing/"])
def test_a_folder_is_not_a_file_to_save_to(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError, match=f"^cannot save to {name}: it (is a folder|ends with a slash, so it "
                                                f"names a folder), not a file; give a file name, such as "
                                                f"{name.rstrip('/')}/model.pkl$") as raised:
        small_model().saveModel(name)
    assert raised.value.errno == errno.EISDIR
    assert sorted(os.listdir(tmp_path)) == ["folder"] and os.listdir(tmp_path / "folder") == []


@pytest.mark.parametrize(("path", "kind", "message"), [
    (None, TypeError, "cannot save to None: a file path is a str or os.PathLike, such as 'model.pkl'"),
    (3, TypeError, "cannot save to 3: a file path is a str or os.PathLike"),
    ("", FileNotFoundError, "cannot save to '': the path is empty"),
])
def test_what_is_no_path_is_refused_clearly(path, kind, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(kind, match=re.escape(message)):
        small_model().saveModel(path)
    assert os.listdir(tmp_path) == []


def test_a_bytes_path_still_saves(tmp_path):
    path = os.fsencode(tmp_path / "m.pkl")
    small_model(bias=4.0).saveModel(path)
    assert DNN.importModel(tmp_path / "m.pkl").b[2].tolist() == [4.0, 4.0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_names_the_target(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as raised:
            small_model().saveModel(directory / "m.pkl")
    finally:
        directory.chmod(0o755)
    assert raised.value.filename == str(directory / "m.pkl")


# ---------------------------------------------------------------- temporaries of killed and of live saves

STALLED_SAVE = textwrap.dedent("""
    import sys, time
    from dnn.files.disk import write_atomically

    def write(f):
        f.write(b"half a model")
        f.flush()
        print("writing", flush=True)
        time.sleep(600)

    write_atomically(sys.argv[1], write)
""")


def stalled_save(path):
    """A process caught in the middle of saving to ``path``: its temporary file exists and is locked."""
    saver = subprocess.Popen([sys.executable, "-c", STALLED_SAVE, str(path)], stdout=subprocess.PIPE, env=ENV)
    assert saver.stdout.readline().strip() == b"writing"
    return saver


def test_a_killed_saves_temporary_is_removed_by_the_next_save(tmp_path):
    path = tmp_path / "m.pkl"
    savers = [stalled_save(path) for _ in range(3)]   # all live together, so none removes another's file
    for saver in savers:
        saver.send_signal(signal.SIGKILL)
        saver.wait()
    assert len(temporaries(tmp_path)) == 3
    (tmp_path / "other.pkl.abcdefgh.tmp").write_bytes(b"not ours")  # another file's name: left alone
    small_model().saveModel(path)
    assert temporaries(tmp_path) == ["other.pkl.abcdefgh.tmp"]
    assert DNN.importModel(path).units == [3, 2]


def test_a_live_saves_temporary_is_kept(tmp_path):
    path = tmp_path / "m.pkl"
    saver = stalled_save(path)
    try:
        (live,) = temporaries(tmp_path)
        small_model().saveModel(path)
        assert temporaries(tmp_path) == [live]
    finally:
        saver.send_signal(signal.SIGKILL)
        saver.wait()
    small_model().saveModel(path)
    assert temporaries(tmp_path) == []


CONCURRENT_SAVER = textwrap.dedent("""
    import sys
    from dnn import DNN
    model = DNN(seed=0)
    model.addInputLayer([20])
    model.addHiddenLayer([30])
    model.addOutputLayer([4])
    worker = int(sys.argv[2])
    for i in range(50):
        model.b[3][:] = 1000 * worker + i
        model.saveModel(sys.argv[1])
""")


def test_concurrent_saves_to_one_path_all_work(tmp_path):
    path = tmp_path / "m.pkl"
    savers = [subprocess.Popen([sys.executable, "-c", CONCURRENT_SAVER, str(path), str(worker)], env=ENV,
                               stderr=subprocess.PIPE) for worker in range(4)]
    seen = set()
    while any(saver.poll() is None for saver in savers):
        if path.exists():
            bias = DNN.importModel(path).b[3]
            assert len(set(bias.tolist())) == 1  # a whole model, never a mix
            seen.add(float(bias[0]))
    for saver in savers:
        assert saver.wait() == 0, saver.stderr.read().decode()[-2000:]
    final = float(DNN.importModel(path).b[3][0])
    assert final % 1000 == 49 and temporaries(tmp_path) == []
    assert len(seen) > 1


# ---------------------------------------------------------------- reading


def test_read_model_bytes_reads_a_regular_file_up_to_the_cap(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 4)
    assert read_model_bytes(path) == bytes(range(256)) * 4
    assert read_model_bytes(path, max_bytes=1024) == bytes(range(256)) * 4
    with pytest.raises(ModelFileError, match="1024 bytes, more than the 1023-byte limit"):
        read_model_bytes(path, max_bytes=1023)
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        read_model_bytes(path, max_bytes=0)


def test_write_atomically_replaces_the_content_whole(tmp_path):
    path = tmp_path / "sub" / "f.bin"
    write_atomically(path, lambda f: f.write(b"first"))
    write_atomically(path, lambda f: f.write(b"second"))
    assert path.read_bytes() == b"second" and os.listdir(path.parent) == ["f.bin"]
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
