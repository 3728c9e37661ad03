"""Numerics: densities and estimators (tensors in, tensors or NamedTuples out).

Modules here import only each other, torch and numpy-level libraries: never the cache, profiles,
training or data modules (``tests/test_layers.py`` enforces it).
"""
