"""Shared fixtures: a private kernel cache folder for the whole session."""

from __future__ import annotations

import os
import tempfile

# Kernels for user formulas and fused loops go to a folder of this test session, not ~/.cache.
os.environ.setdefault("SYMNN_CACHE_DIR", tempfile.mkdtemp(prefix="symnn-test-cache-"))
