"""Ctrl-C during training: a request to stop after the current mini-batch, not an exception inside one."""

import signal
import threading


class InterruptFlag:
    """Turns the first Ctrl-C during training into a request to stop after the current batch.

    Used as a context manager around the epochs; calling it tells whether a
    stop was requested. A second Ctrl-C interrupts at once, as usual. Outside
    the main thread, or when another SIGINT handler is installed, it installs
    nothing and only the ``requested`` attribute can be set.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def __call__(self):
        return self.requested

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)
