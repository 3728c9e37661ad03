"""Workflows: data, models, training and fitting, the on-disk cache. They build on :mod:`gandensity.numerics`
and never import :mod:`gandensity.book`."""
