"""gandensity: densities of images under GANs and other implicit generators.

The package behind the companion book: exact generator densities (:mod:`gandensity.density`),
embedded data (:mod:`gandensity.data`), the DCGAN of paper 000 (:mod:`gandensity.models`), seeded
cached training (:mod:`gandensity.training`, :mod:`gandensity.cache`) and the chapters' run
profiles (:mod:`gandensity.profiles`).
"""

from .density import generator_jacobian, generator_log_density, half_logdet_metric
from .priors import StandardNormal, UniformBox
from .profiles import PROFILES, chapter_config

__version__ = "0.1.0"

__all__ = ["generator_log_density", "generator_jacobian", "half_logdet_metric", "StandardNormal", "UniformBox",
           "PROFILES", "chapter_config", "__version__"]
