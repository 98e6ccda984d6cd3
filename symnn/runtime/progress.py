"""Epoch progress where a person is watching: a one-line bar on a terminal, an updating display in a notebook.

On a terminal (stderr is a tty) the line is redrawn in place and cleared to its end each time, with
the latest loss, the time so far and an estimate of the time left. In a Jupyter kernel (no tty, but
IPython's display machinery) one HTML display is created and updated in place: no ipywidgets needed.
Anywhere else (a pipe, a log file, `--json`) it is silent.
"""

from __future__ import annotations

import html
import sys
import time

#: Clears from the cursor to the end of the line (ANSI "erase in line").
CLEAR_TO_END = "\x1b[K"


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel with a frontend to display to."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def status(done: int, total: int, loss: float, elapsed: float) -> str:
    """`epoch 3/10  loss 0.1234  1.2s  ETA 2.8s`: the words of one update."""
    eta = elapsed / done * (total - done) if done else float("nan")
    tail = f"  ETA {_clock(eta)}" if done < total and eta == eta else ""
    return f"epoch {done}/{total}  loss {loss:.4g}  {_clock(elapsed)}{tail}"


class Progress:
    """Epoch progress with the latest loss and an ETA; silent where nobody watches."""

    def __init__(self, total: int, enabled: bool = True, width: int = 30, stream=None) -> None:
        self.total, self.width = max(int(total), 1), width
        self.stream = sys.stderr if stream is None else stream
        self.mode = None
        if enabled:
            isatty = getattr(self.stream, "isatty", None)
            self.mode = "terminal" if isatty is not None and isatty() else "notebook" if in_notebook() else None
        self.enabled = self.mode is not None
        self.start = time.perf_counter()
        self._last = 0.0
        self._handle = None

    def _bar(self, done: int) -> str:
        filled = int(self.width * min(done, self.total) / self.total)
        return "█" * filled + "·" * (self.width - filled)

    def update(self, done: int, loss: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if done < self.total and now - self._last < (0.05 if self.mode == "terminal" else 0.2):
            return
        self._last = now
        text = status(done, self.total, loss, now - self.start)
        if self.mode == "terminal":
            self.stream.write(f"\r{self._bar(done)} {text}{CLEAR_TO_END}")
            self.stream.flush()
        else:
            self._show(done, text)

    def _show(self, done: int, text: str) -> None:
        from IPython.display import HTML, display

        pct = 100.0 * min(done, self.total) / self.total
        body = HTML(f'<div style="font-family:monospace;font-size:12px">'
                    f'<progress value="{pct:.1f}" max="100" style="width:240px;vertical-align:middle"></progress> '
                    f'{html.escape(text)}</div>')
        if self._handle is None:
            self._handle = display(body, display_id=True)
        else:
            self._handle.update(body)

    def close(self) -> None:
        if self.mode == "terminal":
            self.stream.write("\n")
            self.stream.flush()
