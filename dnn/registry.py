"""One shape for every named component: a registry of entries found by name.

Activations, losses, initializers, optimizers, learning-rate schedules and
metrics are each kept in a :class:`Registry`: canonical names mapped to
entries of one shape (a ``(forward, backward)`` pair, a ``(loss, gradient)``
pair, a draw function, a class, a ``(function, higher_is_better)`` pair),
other spellings mapped to those names, and one lookup for all of them.

A name is found in any case and with or without "_", "-" or spaces
("Leaky-ReLU" is "leaky_relu"), or by an alias ("logistic" is "sigmoid").
An unknown name raises ValueError suggesting the nearest one (by
:mod:`difflib`) and listing the valid ones, so a typo is answered by the fix.

:meth:`Registry.register` adds an entry after checking its shape, and refuses
to replace a built-in unless asked: a name clash cannot silently change what
"relu" means in every model of the session.
"""

import difflib


def compact(name):
    """A name as it is looked up: lowercase, without "_", "-" or spaces ("Leaky-ReLU" gives "leakyrelu")."""
    return name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")


def is_function(name, entry):
    """Whether ``entry`` is a callable (the shape of an initializer)."""
    return callable(entry)


def is_function_pair(name, entry):
    """Whether ``entry`` is a tuple of two callables (an activation's or a loss's shape)."""
    return isinstance(entry, tuple) and len(entry) == 2 and all(callable(part) for part in entry)


class Registry:
    """Named entries of one kind, their aliases, and the lookup and checks every component shares.

    Parameters
    ----------
    kind : str
        What an entry is, for messages: "activation", "loss"...
    entries : dict
        Canonical name -> entry, the built-ins first. The registry keeps this
        dict itself, not a copy: it is also the component module's public
        table (``ACTIVATIONS``, ``OPTIMIZERS``...), so both always agree.
    shape : str
        What an entry must be, for the message of a refused registration.
    check : callable
        ``check(name, entry)`` -> bool: whether ``entry`` has that shape.
        The built-ins are checked too.
    aliases : dict, optional
        Canonical name -> other spellings of it.
    note : str, optional
        Appended to the valid names in the message for an unknown name, to
        mention the other forms a caller accepts.
    """

    def __init__(self, kind, entries, shape, check, aliases=None, note=""):
        self.kind, self.entries, self.shape, self.note = kind, entries, shape, note
        self._check = check
        self._spellings = {}
        for name, entry in entries.items():
            self._require_shape(name, entry)
            self._spellings[compact(name)] = name
        for name, others in (aliases or {}).items():
            if name not in entries:
                raise ValueError(f"aliases {others!r} name the {kind} {name!r}, which is not registered")
            self._spellings.update((compact(other), name) for other in others)
        #: The names the registry was built with: :meth:`register` replaces them only when asked.
        self.builtins = frozenset(entries)

    def __repr__(self):
        return f"Registry({self.kind!r}: {', '.join(self.names())})"

    def names(self):
        """The canonical names, built-ins first, in the order they were registered."""
        return tuple(self.entries)

    def lookup(self, name):
        """The canonical name ``name`` spells, or None when it spells none (or is not a string)."""
        if not isinstance(name, str):
            return None
        if name in self.entries:
            return name
        key = compact(name)
        found = self._spellings.get(key)
        if found is None:
            # An entry put into the table directly (a test's monkeypatch) has no spelling recorded.
            found = next((entry for entry in self.entries if compact(entry) == key), None)
        return found if found in self.entries else None

    def canonical(self, name, among=None, kind=None):
        """The canonical name of ``name``, from any case, separator or alias.

        Parameters
        ----------
        name : str
        among : sequence of str, optional
            The canonical names accepted where the name is used (an
            activation of a hidden layer...); all by default.
        kind : str, optional
            What the name is, for the messages ("hidden activation"...);
            the registry's kind by default.

        Raises
        ------
        ValueError
            For an unknown name, suggesting the nearest valid one ("did you
            mean 'sigmoid'?"), or a name outside ``among``; the message lists
            the valid names.
        """
        kind = self.kind if kind is None else kind
        valid = self.names() if among is None else tuple(among)
        found = self.lookup(name)
        if found is None:
            raise ValueError(f"unknown {kind} {name!r}; {self._suggestion(name, valid)}valid names: "
                             f"{', '.join(valid)}{self.note}")
        if found not in valid:
            raise ValueError(f"{found} is not a valid {kind}; valid names: {', '.join(valid)}")
        return found

    def get(self, name):
        """The entry registered under ``name`` (or any spelling of it); ValueError as :meth:`canonical` says."""
        try:
            return self.entries[name]
        except (KeyError, TypeError):
            return self.entries[self.canonical(name)]

    def register(self, name, entry, aliases=(), replace=False):
        """Add ``entry`` under ``name`` (and ``aliases``), after checking its shape; returns ``entry``.

        Parameters
        ----------
        name : str
            The canonical name: what model configurations and files store.
        entry
            Of the registry's shape (see ``shape``).
        aliases : sequence of str
            Other spellings of ``name``.
        replace : bool
            Allow replacing a built-in entry, or taking a spelling that names
            another entry. An entry registered earlier under the same name is
            replaced without it, so that a notebook cell can run twice.

        Raises
        ------
        TypeError
            For an entry of another shape.
        ValueError
            For a name that is not a non-empty string, or, without
            ``replace``, a built-in name or a spelling of another entry.
        """
        aliases = (aliases,) if isinstance(aliases, str) else tuple(aliases)
        for spelling in (name, *aliases):
            if not isinstance(spelling, str) or not compact(spelling) or spelling != spelling.strip():
                raise ValueError(f"a {self.kind} name is a non-empty string without surrounding spaces, "
                                 f"got {spelling!r}")
        self._require_shape(name, entry)
        if not replace:
            self._require_free(name, aliases)
        self.entries[name] = entry
        self._spellings.update((compact(spelling), name) for spelling in (name, *aliases))
        return entry

    def _require_shape(self, name, entry):
        if not self._check(name, entry):
            raise TypeError(f"a {self.kind} is registered as {self.shape}; {name!r} was given {entry!r:.100}")

    def _require_free(self, name, aliases):
        if name in self.builtins:
            raise ValueError(f"{name!r} is a built-in {self.kind}; pass replace=True to replace it")
        for spelling in (name, *aliases):
            taken = self.lookup(spelling)
            if taken is not None and taken != name:
                raise ValueError(f"{spelling!r} already names the {self.kind} {taken!r}; choose another name "
                                 f"or pass replace=True")

    def _suggestion(self, name, valid):
        """The hint "did you mean 'x'? " naming the valid entry spelled nearest to ``name``, or an empty string."""
        if not isinstance(name, str) or not compact(name):
            return ""
        spellings = {**{compact(entry): entry for entry in self.entries}, **self._spellings}
        close = difflib.get_close_matches(compact(name), list(spellings), n=1, cutoff=0.6)
        if close and spellings[close[0]] in valid:
            return f"did you mean {spellings[close[0]]!r}? "
        return ""
