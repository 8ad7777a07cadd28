"""A dry run of a pickle's opcodes that bounds what unpickling it can cost.

Unpickling is fast per opcode, but a few opcodes can make it, or whatever
looks at its result afterwards, do work out of all proportion to the file:
a memo index of 2**28 sizes the memo to it; a declared length allocates
before reading; containers that reference one another through the memo
expand to 2**depth elements when printed or hashed; deep nesting overflows
the recursion limit; numbers chosen to share one hash make a dict quadratic.

:func:`scan` follows the stack, the marks and the memo without building any
value. Each container is tracked by its expanded size (elements counted as
often as they are reached), its depth and whether it is already inside
another container. Everything is bounded by the file's own size.
"""

import pickle
import pickletools
import struct
from array import array

#: Deepest nesting of containers accepted: a model file nests about 5 deep.
MAX_DEPTH = 100
#: Most opcodes in one file: about 10 million Python objects, a few hundred MB at most.
MAX_OPCODES = 10_000_000
#: Most dict keys and set elements whose hash a file can choose (numbers, tuples of numbers).
MAX_NUMERIC_KEYS = 1000
#: Longest integer accepted, in bytes (a generator state needs 17).
MAX_INT_BYTES = 1024


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for something outside the allow-list, or for more work than its size allows."""


class TrailingDataError(pickle.UnpicklingError):
    """Bytes follow the pickle's STOP opcode: plain unpickling would ignore them, so a changed file would pass.

    ``count`` is how many.
    """

    def __init__(self, count):
        super().__init__(f"{count} byte{'s' if count != 1 else ''} after the end of the pickle")
        self.count = count


_SAFE_LEAF = -1   # str, bytes, objects hashed by identity: a file cannot choose their hashes
_NUMERIC_LEAF = -2  # numbers, None, booleans: a file can choose colliding hashes
_LIST, _DICT, _SET, _TUPLE, _FROZENSET = range(5)
_MUTABLE = (_LIST, _DICT, _SET)

# argument layouts: a fixed byte count, or one of these
_LINE, _TWO_LINES, _LEN1, _LEN4, _LEN4U, _LEN8U = -1, -10, -2, -3, -4, -5
_LENGTH_FORMATS = {_LEN1: ("<B", 1), _LEN4: ("<i", 4), _LEN4U: ("<I", 4), _LEN8U: ("<Q", 8)}

_SAFE_NAMES = {"STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
               "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "GLOBAL"}
_NUMERIC_NAMES = {"NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
                  "FLOAT", "BINFLOAT", "EMPTY_TUPLE"}
_REFUSED = {"PERSID": "a persistent id", "BINPERSID": "a persistent id", "EXT1": "an extension code",
            "EXT2": "an extension code", "EXT4": "an extension code", "NEXT_BUFFER": "an out-of-band buffer"}


def _layout(op):
    if op.name in ("GLOBAL", "INST"):
        return _TWO_LINES
    return 0 if op.arg is None else op.arg.n


_OPCODES = {op.code.encode("latin-1")[0]: (op.name, _layout(op)) for op in pickletools.opcodes}
# leaves with a fixed-size argument (BINFLOAT, BININT1, NONE, ...): the common case, taken on a fast path
_FIXED_LEAVES = {code: (layout, _SAFE_LEAF if name in _SAFE_NAMES else _NUMERIC_LEAF)
                 for code, (name, layout) in _OPCODES.items()
                 if layout >= 0 and (name in _SAFE_NAMES or name in _NUMERIC_NAMES)}


def _refuse(message):
    raise UnsafePickleError(f"refused: {message}")


def _malformed(message):
    # what the unpickler itself would stumble on: a truncated or corrupt file, not a hostile one
    raise pickle.UnpicklingError(message)


class _Scan:
    """The state of one dry run; see :func:`scan`."""

    def __init__(self, size):
        self.max_nodes = 2 * size + 10_000      # expanded elements in any one container
        self.max_containers = size // 8 + 10_000
        self.stack, self.marks, self.memo = [], [], []
        self.memo_filled = 0
        self.kind, self.depth, self.inside, self.hash_safe = bytearray(), bytearray(), bytearray(), bytearray()
        self.nodes = array("q")
        self.containers = 0
        self.numeric_keys = 0
        self.hash_work = 0

    # ------------------------------------------------ stack
    def pop(self, count=1):
        fence = self.marks[-1] if self.marks else 0
        if len(self.stack) - count < fence:
            _malformed("the pickle's stack underflows")
        items = self.stack[len(self.stack) - count:]
        del self.stack[len(self.stack) - count:]
        return items

    def pop_mark(self):
        if not self.marks:
            _malformed("the pickle uses a mark it never set")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def top(self):
        fence = self.marks[-1] if self.marks else 0
        if len(self.stack) <= fence:
            _malformed("the pickle's stack underflows")
        return self.stack[-1]

    # ------------------------------------------------ containers
    def new(self, kind, items=(), pairs=False):
        self.containers += 4 if kind in (_SET, _FROZENSET) else 1   # a set costs about four lists
        if self.containers > self.max_containers:
            _refuse("the pickle builds more containers than its size allows")
        node = len(self.kind)
        self.kind.append(kind)
        self.depth.append(1)
        self.inside.append(0)
        self.hash_safe.append(0)
        self.nodes.append(1)
        self.add(node, items, pairs)
        return node

    def add(self, node, items, pairs=False):
        """Put ``items`` into container ``node`` (keys at even positions when ``pairs``)."""
        kind = self.kind[node]
        hashed = kind in (_SET, _FROZENSET)
        for position, item in enumerate(items):
            if hashed or (pairs and position % 2 == 0):
                self.key(item)
            if item >= 0:
                if item == node:
                    _refuse("a container that contains itself")
                self.inside[item] = 1
                nodes, depth = self.nodes[item], self.depth[item] + 1
                if self.hash_safe[item]:
                    self.hash_safe[node] = 1
            else:
                nodes, depth = 1, 1
                if item == _SAFE_LEAF:
                    self.hash_safe[node] = 1
            self.nodes[node] += nodes
            if self.nodes[node] > self.max_nodes:
                _refuse("containers repeat one another through the memo beyond what the file's size allows")
            if depth > self.depth[node]:
                if depth > MAX_DEPTH:
                    _refuse(f"containers nested more than {MAX_DEPTH} deep")
                self.depth[node] = depth

    def key(self, item):
        """Account for hashing ``item`` as a dict key or set element."""
        if item >= 0:
            if self.kind[item] not in (_TUPLE, _FROZENSET):
                _malformed("an unhashable dict key or set element")
            self.hash_work += self.nodes[item]   # tuple hashes are not cached: each use walks the tuple
            if self.hash_work > self.max_nodes:
                _refuse("dict keys or set elements cost more hashing than the file's size allows")
        if item == _NUMERIC_LEAF or (item >= 0 and not self.hash_safe[item]):
            self.numeric_keys += 1
            if self.numeric_keys > MAX_NUMERIC_KEYS:
                _refuse(f"more than {MAX_NUMERIC_KEYS} numeric dict keys or set elements")

    def mutate(self, node, kind, what):
        if node < 0 or self.kind[node] != kind:
            _malformed(f"{what} on something that is not a {('list', 'dict', 'set')[kind]}")
        if self.inside[node]:
            _refuse("a container changed after it was placed inside another")

    # ------------------------------------------------ memo
    def put(self, index, opcodes):
        if index > opcodes:
            _refuse("a memo index beyond what the file's size allows")
        if index >= len(self.memo):
            self.memo.extend([None] * (index + 1 - len(self.memo)))
        if self.memo[index] is None:
            self.memo_filled += 1
        self.memo[index] = self.top()

    def get(self, index):
        if index >= len(self.memo) or self.memo[index] is None:
            _malformed("the pickle reads a memo entry it never wrote")
        self.stack.append(self.memo[index])


def scan(data):
    """Refuse ``data`` (a pickle) if unpickling it could cost more than its size allows.

    Returns
    -------
    int
        Where the pickle ends: the offset just after its STOP opcode (bytes
        beyond it are no part of the pickle, and unpickling ignores them).

    Raises
    ------
    UnsafePickleError
        Saying what was wrong (never quoting the file's values).
    pickle.UnpicklingError
        For a malformed pickle (truncated, corrupt) that unpickling would refuse too.
    """
    view = bytes(data)   # no copy for bytes
    size = len(view)
    state = _Scan(size)
    position = opcodes = 0
    stack, fixed_leaves = state.stack, _FIXED_LEAVES
    while True:
        if position >= size:
            _malformed("the pickle ends without a STOP opcode")
        leaf = fixed_leaves.get(view[position])
        if leaf is not None:
            position += 1 + leaf[0]
            opcodes += 1
            if opcodes > MAX_OPCODES:
                _refuse(f"more than {MAX_OPCODES} opcodes")
            stack.append(leaf[1])
            continue   # the argument's bounds are checked at the next opcode or at the end
        entry = _OPCODES.get(view[position])
        if entry is None:
            _malformed(f"unknown opcode at byte {position}")
        name, layout = entry
        position += 1
        opcodes += 1
        if opcodes > MAX_OPCODES:
            _refuse(f"more than {MAX_OPCODES} opcodes")
        start, position = _argument(view, position, layout, name)
        if name == "STOP":
            state.pop()
            return position
        _step(state, name, view, start, position, opcodes)


def _argument(view, position, layout, name):
    """Where the argument of the opcode at ``position`` starts, and where the next opcode starts."""
    size = len(view)
    if layout >= 0:
        end = position + layout
    elif layout in (_LINE, _TWO_LINES):
        end = position
        for _ in range(2 if layout == _TWO_LINES else 1):
            newline = view.find(b"\n", end)
            if newline < 0:
                _malformed(f"{name} has no end of line")
            end = newline + 1
    else:
        form, width = _LENGTH_FORMATS[layout]
        if position + width > size:
            _malformed(f"{name} is cut off")
        (length,) = struct.unpack_from(form, view, position)
        if length < 0:
            _malformed(f"{name} declares a negative length")
        if name in ("LONG1", "LONG4") and length > MAX_INT_BYTES:
            _refuse(f"an integer of more than {MAX_INT_BYTES} bytes")
        position += width
        end = position + length
    if end > size:
        _malformed(f"{name} declares more bytes than the file holds")
    return position, end


def _step(state, name, view, start, end, opcodes):
    if name in _SAFE_NAMES:
        state.stack.append(_SAFE_LEAF)
    elif name in _NUMERIC_NAMES:
        state.stack.append(_NUMERIC_LEAF)
    elif name == "FRAME":
        (length,) = struct.unpack_from("<Q", view, start)
        if end + length > len(view):
            _malformed("FRAME declares more bytes than the file holds")
    elif name == "READONLY_BUFFER":
        state.top()
    elif name == "PROTO":
        pass
    elif name in _REFUSED:
        _refuse(f"the pickle uses {_REFUSED[name]}")
    elif name == "MARK":
        state.marks.append(len(state.stack))
    elif name == "POP":
        if state.marks and state.marks[-1] == len(state.stack):
            state.marks.pop()
        else:
            state.pop()
    elif name == "POP_MARK":
        state.pop_mark()
    elif name == "DUP":
        state.stack.append(state.top())
    elif name in _CONTAINER_OPCODES:
        _container_step(state, name)
    elif name in ("REDUCE", "STACK_GLOBAL", "NEWOBJ", "NEWOBJ_EX"):
        state.pop(3 if name == "NEWOBJ_EX" else 2)
        state.stack.append(_SAFE_LEAF)
    elif name in ("INST", "OBJ"):
        state.pop_mark()
        state.stack.append(_SAFE_LEAF)
    elif name == "BUILD":
        state.pop()
        if state.top() >= 0:
            _refuse("BUILD on a container")
    elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
        state.put(state.memo_filled if name == "MEMOIZE" else _index(view, start, end, name), opcodes)
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        state.get(_index(view, start, end, name))
    else:  # a new protocol's opcode
        _refuse(f"unsupported opcode {name}")


_CONTAINER_OPCODES = frozenset({"EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET", "TUPLE1", "TUPLE2", "TUPLE3", "TUPLE", "LIST",
                                "FROZENSET", "DICT", "APPEND", "SETITEM", "APPENDS", "SETITEMS", "ADDITEMS"})


def _container_step(state, name):
    """The opcodes that make a container or add to one (see :data:`_CONTAINER_OPCODES`)."""
    if name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET"):
        state.stack.append(state.new({"EMPTY_LIST": _LIST, "EMPTY_DICT": _DICT, "EMPTY_SET": _SET}[name]))
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        state.stack.append(state.new(_TUPLE, state.pop(int(name[-1]))))
    elif name in ("TUPLE", "LIST", "FROZENSET"):
        kind = {"TUPLE": _TUPLE, "LIST": _LIST, "FROZENSET": _FROZENSET}[name]
        state.stack.append(state.new(kind, state.pop_mark()))
    elif name == "DICT":
        items = state.pop_mark()
        if len(items) % 2:
            _malformed("DICT with a key and no value")
        state.stack.append(state.new(_DICT, items, pairs=True))
    elif name in ("APPEND", "SETITEM"):
        items = state.pop(1 if name == "APPEND" else 2)
        target, kind = state.top(), (_LIST if name == "APPEND" else _DICT)
        state.mutate(target, kind, name)
        state.add(target, items, pairs=kind == _DICT)
    elif name in ("APPENDS", "SETITEMS", "ADDITEMS"):
        items = state.pop_mark()
        kind = {"APPENDS": _LIST, "SETITEMS": _DICT, "ADDITEMS": _SET}[name]
        if kind == _DICT and len(items) % 2:
            _malformed("SETITEMS with a key and no value")
        target = state.top()
        state.mutate(target, kind, name)
        state.add(target, items, pairs=kind == _DICT)


def _index(view, start, end, name):
    if name in ("PUT", "GET"):
        text = view[start:end - 1]
        if not text.isdigit() or len(text) > 12:
            _malformed(f"{name} with a malformed index")
        return int(text)
    return int.from_bytes(view[start:end], "little")
