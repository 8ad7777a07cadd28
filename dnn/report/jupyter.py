"""Whether dnn runs inside a Jupyter kernel, and what that kernel can show.

Progress bars and figures behave differently there (a widget or a text bar on
stdout, figures displayed as they are drawn). IPython is looked up in
``sys.modules`` and never imported: a process that has not imported it is not
running in a kernel.
"""

import importlib.util
import os
import sys


def kernel_shell():
    """The IPython shell of the Jupyter kernel this code runs in, or None (a terminal, a script, IPython's REPL)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    # A kernel's shell (ipykernel's ZMQInteractiveShell) reaches its front-end through .kernel; a terminal's has none.
    return shell if getattr(shell, "kernel", None) is not None else None


def shows_widgets():
    """Whether progress widgets (ipywidgets) can be shown: installed, and a front-end that renders them.

    Qt console and Spyder run a kernel but draw no widgets (tqdm makes the same exception).
    """
    if any(name == "QT_API" or name.startswith("SPYDER") for name in os.environ):
        return False
    return importlib.util.find_spec("ipywidgets") is not None


def inline_figures():
    """Whether figures are shown inline in a kernel (the matplotlib_inline backend, Jupyter's default)."""
    if kernel_shell() is None:
        return False
    import matplotlib

    backend = matplotlib.get_backend().lower()
    return backend in ("inline", "module://matplotlib_inline.backend_inline")
