"""Reading and writing model files on disk, bounded and atomic.

:func:`read_model_bytes` reads only regular files, never blocks on a FIFO or a
device, and refuses a file above a size cap before reading it.
:func:`write_atomically` replaces a file so that it holds either the old or the
new content, keeps its permission bits, writes through symlinks, and tidies up
the temporary files that killed saves left behind.
"""

import contextlib
import errno
import os
import re
import stat
import tempfile

try:
    import fcntl
except ImportError:  # Windows: no flock, so no telling a live save's temporary from a dead one's
    fcntl = None

from dnn.errors import ModelFileError

#: Largest model file read by default (1 GiB): far above any real model, far below what would hurt a machine.
DEFAULT_MAX_BYTES = 1 << 30

_TEMPORARY_SUFFIX = ".tmp"
_CHUNK = 1 << 20


# ---------------------------------------------------------------- reading


def read_model_bytes(path, max_bytes=DEFAULT_MAX_BYTES):
    """The content of the model file at ``path``, at most ``max_bytes`` long.

    Parameters
    ----------
    path : str or os.PathLike
        The file; symlinks are followed.
    max_bytes : int
        Largest file accepted. A larger file is refused before it is read.

    Returns
    -------
    bytes

    Raises
    ------
    ModelFileError
        Naming ``path``: it is missing, unreadable, not a regular file (a
        directory, FIFO, socket or device such as /dev/zero), empty, or larger
        than ``max_bytes``.
    """
    if type(max_bytes) is not int or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r:.40}")
    path_text = os.fspath(path)
    try:
        # stat first so a FIFO or device is never even opened (opening some devices has effects)
        _require_regular(os.stat(path_text), path_text)
        # O_NONBLOCK: should the path be swapped for a FIFO after the stat, open returns at once
        fd = os.open(path_text, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ModelFileError(f"no model file at {path_text}") from None
    except OSError as error:
        raise ModelFileError(f"cannot read model file {path_text}: {error.strerror or error}") from None
    try:
        status = os.fstat(fd)
        _require_regular(status, path_text)
        _require_size(status.st_size, max_bytes, path_text)
        data = _read_up_to(fd, status.st_size + 1, status.st_size + 1)
        if len(data) > status.st_size:   # it grew since the stat: read on, up to the cap only
            data += _read_up_to(fd, max_bytes + 1 - len(data), _CHUNK)
            _require_size(len(data), max_bytes, path_text)
    except OSError as error:
        raise ModelFileError(f"cannot read model file {path_text}: {error.strerror or error}") from None
    finally:
        os.close(fd)
    if not data:
        raise ModelFileError(f"{path_text} is empty, not a dnn model file")
    return data


def text_hint(data):
    """" (it starts like a text file: '...')" when ``data`` starts like text, such as a CSV given by mistake."""
    head = data[:40]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    if not all(c.isprintable() or c in "\r\n\t" for c in text):
        return ""
    return f" (it starts like a text file: {text.splitlines()[0][:30]!r})" if text.strip() else ""


def _require_regular(status, path):
    mode = status.st_mode
    if stat.S_ISREG(mode):
        return
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise ModelFileError(f"cannot read model file {path}: it is {kind}, not a regular file")


def _require_size(size, max_bytes, path):
    if size > max_bytes:
        raise ModelFileError(f"{path} is {size} bytes, more than the {max_bytes}-byte limit for model files "
                             f"(pass a larger maxBytes to load a model this large)")


def _read_up_to(fd, limit, chunk):
    """At most ``limit`` bytes from ``fd``, read ``chunk`` bytes at a time (short reads continue)."""
    chunks, total = [], 0
    while total < limit:
        data = os.read(fd, min(chunk, limit - total))
        if not data:
            break
        chunks.append(data)
        total += len(data)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# ---------------------------------------------------------------- writing


def write_atomically(path, write):
    """Call ``write(file)`` on a temporary file next to ``path``, then move it onto ``path``.

    The data is flushed and fsynced before ``os.replace``, so ``path`` holds
    either its previous content or the complete new one, even if the process
    is killed or the machine loses power. If ``path`` is a symlink, the file it
    points to is replaced and the link kept. An existing file keeps its
    permission bits; a new one gets 0o666 minus the umask. Missing parent
    directories are created. Temporary files that killed saves to the same
    path left behind are removed; one still being written by a live process
    (which holds a lock on it) is left alone.

    Raises
    ------
    TypeError
        When ``path`` is not a str or os.PathLike (None, say).
    IsADirectoryError, NotADirectoryError, FileNotFoundError
        Before anything is written, saying what is wrong with ``path``: it
        is a folder, a folder on its way is a file, or it is empty.
    OSError
        Of the original kind, naming ``path`` (never the temporary file). On
        any error the temporary file is removed and ``path`` is unchanged.
    """
    path = checked_target(path)
    try:
        _write_atomically(os.path.realpath(path), write)
    except OSError as error:
        raise _naming(error, path) from None


def checked_target(path):
    """``path`` as a str, once it can name a file to write; else an error saying what is wrong with it.

    Without these checks the errors came from deep inside: os.fspath's
    TypeError for None, "File exists" naming the file to save when a folder
    on its way is a file, "Is a directory" from the final rename.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"cannot save to {path!r:.80}: a file path is a str or os.PathLike, such as 'model.pkl'")
    path = os.fsdecode(os.fspath(path))
    if not path:
        raise _os_error(FileNotFoundError, errno.ENOENT, "cannot save to '': the path is empty")
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        what = "is a folder" if os.path.isdir(path) else "ends with a slash, so it names a folder"
        raise _os_error(IsADirectoryError, errno.EISDIR, f"cannot save to {path}: it {what}, not a file; give a "
                                                         f"file name, such as {os.path.join(path, 'model.pkl')}")
    # the path as given, then as its symlinks resolve (the file written is the link's target)
    parent, blocking = os.path.dirname(path), _file_on_the_way(path) or _file_on_the_way(os.path.realpath(path))
    if blocking is not None:
        what = f"its parent {blocking}" if blocking == parent else blocking
        raise _os_error(NotADirectoryError, errno.ENOTDIR, f"cannot save to {path}: {what} is a file, not a folder")
    return path


def _file_on_the_way(path):
    """The nearest existing ancestor of ``path`` when it is not a folder, else None."""
    folder = os.path.dirname(path)
    while folder:
        try:
            return None if stat.S_ISDIR(os.stat(folder).st_mode) else folder
        except (FileNotFoundError, NotADirectoryError):   # missing (makedirs creates it), or under a file
            parent = os.path.dirname(folder)
            if parent == folder:
                return None
            folder = parent
        except OSError:   # unreadable: the write itself will say so
            return None
    return None


def _os_error(kind, code, message):
    """An OSError subclass with ``errno`` set whose text is ``message`` alone (no "[Errno n]" prefix)."""
    error = kind(message)
    error.errno = code
    return error


def _write_atomically(target, write):
    directory, name = os.path.split(target)
    os.makedirs(directory, exist_ok=True)
    mode = _mode_for(target)
    _remove_stale_temporaries(directory, name)
    fd, temporary = _locked_temporary(directory, name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
            # replace while the lock is held, so no cleaner can take the file for a stale one
            os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _naming(error, path):
    """``error`` reworded to name ``path``: the user never saw the temporary file's name."""
    if error.errno is not None:
        return OSError(error.errno, error.strerror or os.strerror(error.errno), path)
    return type(error)(f"cannot save to {path}: {error}")


def _mode_for(target):
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return 0o666 & ~_umask()
    return stat.S_IMODE(status.st_mode)


def _umask():
    # The umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _locked_temporary(directory, name):
    """A new temporary file next to ``name``, with an exclusive lock held on it for as long as it is open.

    The lock is how a later save tells a live writer's file from a killed
    one's. A cleaner may slip in between creating and locking; then the file
    is gone from the directory and a new one is made.
    """
    while True:
        fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=_TEMPORARY_SUFFIX, dir=directory)
        if fcntl is None:
            return fd, temporary
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(os.fstat(fd), temporary):
                return fd, temporary
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _same_file(status, path):
    try:
        other = os.lstat(path)
    except FileNotFoundError:
        return False
    return (other.st_dev, other.st_ino) == (status.st_dev, status.st_ino)


def _remove_stale_temporaries(directory, name):
    """Remove temporary files of saves to ``name`` whose writer is gone (nobody holds their lock)."""
    # mkstemp's names: the prefix, 8 random characters, the suffix
    if fcntl is None:
        return
    pattern = re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}" + re.escape(_TEMPORARY_SUFFIX))
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if pattern.fullmatch(entry):
            with contextlib.suppress(OSError):
                _remove_if_abandoned(os.path.join(directory, entry))


def _remove_if_abandoned(path):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return   # a live save is writing it
            raise
        if _same_file(status, path):
            os.unlink(path)
    finally:
        os.close(fd)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
