"""Central finite differences: the independent reference every gradient test compares against."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

H = 1e-6


def central_difference(f: Callable[[np.ndarray], float], a: np.ndarray, h: float = H) -> np.ndarray:
    """d f / d a, element by element: (f(a + h) - f(a - h)) / 2h, changing `a` in place and restoring it."""
    out = np.empty(a.shape)
    for idx in np.ndindex(a.shape):
        keep = a[idx]
        a[idx] = keep + h
        up = f(a)
        a[idx] = keep - h
        down = f(a)
        a[idx] = keep
        out[idx] = (up - down) / (2 * h)
    return out
