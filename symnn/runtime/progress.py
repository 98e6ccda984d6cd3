"""A one-line progress bar on stderr, shown only where a person is watching (a terminal)."""

from __future__ import annotations

import sys
import time


class Progress:
    """Epoch progress with the latest loss; silent when stderr is not a terminal."""

    def __init__(self, total: int, enabled: bool = True, width: int = 30) -> None:
        self.total, self.width = max(total, 1), width
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, done: int, loss: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if done < self.total and now - self._last < 0.05:
            return
        self._last = now
        filled = int(self.width * done / self.total)
        bar = "█" * filled + "·" * (self.width - filled)
        sys.stderr.write(f"\r{bar} epoch {done}/{self.total}  loss {loss:.4g}  {now - self.start:.1f}s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
