"""Symbolic definitions (SymPy only): forward forms, derived gradients, rewrite rules."""
