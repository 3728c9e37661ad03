"""gandensity: densities of images under GANs and other implicit generators.

The package has three layers; each imports only the layers below it (``tests/test_layers.py``):

- :mod:`gandensity.numerics`: densities and estimators. Tensors and small typed configs in, tensors or
  NamedTuples out; no cache, profiles, training or data.
- :mod:`gandensity.workflows`: data, models, training and fitting, the on-disk cache.
- :mod:`gandensity.book`: what the chapters need: profiles, chapter start and finish, claims, tables, figures.

The names below are the package's public entry points for users who do not read the book.
"""

from gandensity.numerics.ais import ais_log_likelihood
from gandensity.numerics.density import generator_jacobian, generator_log_density, half_logdet_metric
from gandensity.numerics.priors import StandardNormal, UniformBox
from gandensity.numerics.spectral import metric_matvec, stochastic_logdet

__version__ = "0.1.0"

__all__ = ["generator_log_density", "generator_jacobian", "half_logdet_metric", "stochastic_logdet",
           "metric_matvec", "ais_log_likelihood", "StandardNormal", "UniformBox", "__version__"]
