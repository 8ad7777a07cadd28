"""Objects described by plain data: a name and settings, so models and their files can keep them.

Optimizers and learning-rate schedules are such objects: ``config()`` gives
``{"name": ..., setting: value, ...}`` and :func:`from_config` rebuilds the
object from the classes registered by name (a :class:`dnn.registry.Registry`).
"""


class Configurable:
    """Base class: subclasses set ``name`` and ``settings`` (constructor argument names, stored as attributes)."""

    name = None
    settings = ()

    def config(self):
        """The settings as plain data: ``{"name": ..., setting: value, ...}``."""
        return {"name": self.name, **{key: getattr(self, key) for key in self.settings}}

    def __repr__(self):
        settings = ", ".join(f"{key}={getattr(self, key)!r}" for key in self.settings)
        return f"{type(self).__name__}({settings})"

    def __eq__(self, other):
        return type(other) is type(self) and other.config() == self.config()

    __hash__ = None


def is_named_subclass(name, entry, base):
    """Whether ``entry`` is a subclass of ``base`` whose ``name`` is ``name``.

    The registry shape of optimizers and schedules: ``config()`` writes the
    class's ``name`` and :func:`from_config` looks it up, so the two must agree
    for a configuration to rebuild the class it came from.
    """
    return isinstance(entry, type) and issubclass(entry, base) and entry.name == name


def from_config(config, registry, what):
    """The object of ``registry`` (a Registry of classes) that ``config`` describes; ValueError naming what is wrong."""
    cls = registry.entries.get(registry.lookup(config.get("name"))) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"{what} config needs a 'name' among {', '.join(registry.names())}")
    unknown = set(config) - {"name", *cls.settings}
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)} for {what} {cls.name!r}")
    return cls(**{key: value for key, value in config.items() if key != "name"})
