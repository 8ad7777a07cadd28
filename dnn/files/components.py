"""The named components of a model file: its optimizer and learning-rate schedule, by registered name.

A model file records each component as its ``config()``: the name it is
registered under and its settings, plain data. Reading the file rebuilds it
from the class registered under that name in the reading process
(:data:`dnn.optimizers.REGISTRY`, :data:`dnn.schedules.REGISTRY`); no code
comes from the file. So a class of the user's own is saved once it is
registered (:func:`dnn.optimizers.register`, :func:`dnn.schedules.register`)
and read back where the same name is registered; :func:`require_registered`
and :func:`require_named` refuse, naming the component and the fix, a file
that could not be written or read back.
"""

from dnn import optimizers, schedules
from dnn.configurable import Configurable
from dnn.errors import ModelFileError

#: What each kind of component is called, its module and its registry.
KINDS = (("optimizer", "optimizers", "Optimizer", optimizers.REGISTRY),
         ("learning-rate schedule", "schedules", "Schedule", schedules.REGISTRY))


def parts(component):
    """``component`` and the components among its settings (a Warmup's schedule), depth first."""
    if isinstance(component, Configurable):
        yield component
        for key in component.settings:
            yield from parts(getattr(component, key, None))


def require_registered(model):
    """ValueError unless the class of every component of ``model`` is the one registered under its name."""
    for (kind, module, _, registry), component in zip(KINDS, (model.optimizer, model.lr)):
        for part in parts(component):
            if registry.entries.get(registry.lookup(part.name)) is type(part):
                continue
            cls = type(part).__name__
            builtins = ", ".join(name for name in registry.names() if name in registry.builtins)
            raise ValueError(
                f"cannot save this model: its {kind} {cls} is not one of dnn's own ({builtins}) nor registered "
                f"under its name {part.name!r}, and importModel rebuilds a {kind} from the class registered under "
                f"its name, so it could not read the file back. Register the class first: "
                f"dnn.{module}.register({cls}) (a subclass of a built-in needs a name of its own)")


def names_in(config):
    """The names of the components a config describes (a dict): its own and those of settings that are configs."""
    if isinstance(config, dict):
        yield config.get("name")
        for key, value in config.items():
            if key != "name":
                yield from names_in(value)


def require_named(config):
    """ModelFileError unless every component name of a file's config is registered in this process."""
    for (kind, module, base, registry), entry in zip(KINDS, (config.get("optimizer"), config.get("lr"))):
        for name in names_in(entry):
            if isinstance(name, str) and registry.lookup(name) is None:
                raise ModelFileError(
                    f"its {kind} {name!r:.60} is not registered in this process, so the model cannot be rebuilt "
                    f"(nothing in the file ran). Define the {kind}'s class, a subclass of dnn.{module}.{base} "
                    f"with name = {name!r:.60}, and register it before importModel: dnn.{module}.register(cls)")
