"""Objects described by plain data: a name and settings, so models and their files can keep them.

Optimizers and learning-rate schedules are such objects: ``config()`` gives
``{"name": ..., setting: value, ...}`` and :func:`from_config` rebuilds the
object from its class registry.
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


def from_config(config, registry, what):
    """The object of ``registry`` (name -> class) that ``config`` describes; ValueError naming what is wrong."""
    if not isinstance(config, dict) or config.get("name") not in registry:
        raise ValueError(f"{what} config needs a 'name' among {', '.join(registry)}")
    cls = registry[config["name"]]
    unknown = set(config) - {"name", *cls.settings}
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)} for {what} {cls.name!r}")
    return cls(**{key: value for key, value in config.items() if key != "name"})
