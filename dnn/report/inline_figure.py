"""The Figure dnn's draw* methods return in a Jupyter kernel with the inline backend.

Imported by :mod:`dnn.report.plots` only there, since it imports matplotlib.

The inline backend shows the figures pyplot still holds when a cell ends, and
IPython shows the value of a cell's last line. A figure drawn by a method call
that is not the last line (assigned, followed by other statements) was shown
by neither once dnn closed it in pyplot, and one left open in pyplot would be
shown twice when it is also the last line. So dnn displays the figure itself
as soon as it is drawn, and the figure's ``_ipython_display_`` (which IPython
calls instead of its formatters) shows nothing more in that cell.
"""

from matplotlib.figure import Figure


class InlineFigure(Figure):
    """A matplotlib Figure that a notebook shows once per cell: when it is drawn, or when displayed later."""

    #: The execution count of the cell that displayed it last (None: not displayed yet).
    shown_in = None

    def display_in_cell(self):
        """Show the figure unless this cell already has, with the formatters the inline backend registered."""
        from IPython import get_ipython
        from IPython.display import publish_display_data

        shell = get_ipython()
        if shell is None or self.shown_in == shell.execution_count:
            return
        self.shown_in = shell.execution_count
        data, metadata = {}, {}
        # The same formatters as display(figure) without _ipython_display_: PNG (or SVG, retina... as configured
        # with %config InlineBackend) and the text/plain repr.
        for mime, formatter in shell.display_formatter.formatters.items():
            value = formatter(self)
            if isinstance(value, tuple):
                value, metadata[mime] = value
            if value is not None:
                data[mime] = value
        publish_display_data(data, metadata)

    def _ipython_display_(self):
        # IPython calls this instead of its formatters, for a cell's last value and for display(figure).
        self.display_in_cell()
