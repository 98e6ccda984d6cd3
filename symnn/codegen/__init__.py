"""Code generation: SymPy derivations -> the Numba modules under `generated/`."""
