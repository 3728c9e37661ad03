"""The argument checks shared by the numerics modules (numerics/_checks.py), through the public functions that
use them: a generator with batch norm or dropout in training mode is not a function of z and must be refused
by every density and estimator with the same fix ("call generator.eval()"); in eval mode the same generator is
accepted, and its density is the brute-force one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gandensity.numerics._checks import check_generator, check_positive_int, check_sigma2, infer_latent_dim
from gandensity.numerics.ais import ais_log_likelihood, simulate
from gandensity.numerics.density import generator_log_density
from gandensity.numerics.inversion import invert
from gandensity.numerics.validation import dense_jacobian_log_density

pytestmark = pytest.mark.usefixtures("float64")  # tests/conftest.py


def generator(layer: nn.Module) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), layer, nn.Tanh(), nn.Linear(8, 6)).requires_grad_(False)


LAYERS = {"batch norm": (lambda: nn.BatchNorm1d(8), "batch-norm"),
          "dropout": (lambda: nn.Dropout(0.3), "dropout"),
          "alpha dropout": (lambda: nn.AlphaDropout(0.3), "dropout")}
CALLS = {
    "check_generator": lambda G: check_generator(G),
    "generator_log_density": lambda G: generator_log_density(G, torch.randn(4, 3)),
    "ais_log_likelihood": lambda G: ais_log_likelihood(G, torch.randn(2, 6), sigma2=0.1, steps=2, leapfrog=1),
    "simulate": lambda G: simulate(G, 2, sigma2=0.1),
    "invert": lambda G: invert(G, torch.randn(2, 6), steps=2, restarts=1, candidates=4),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_training_mode_layers_are_refused_everywhere(layer, call):
    make, what = LAYERS[layer]
    G = generator(make())  # nn.Module starts in training mode
    with pytest.raises(ValueError, match=rf"{what} layers.*call generator\.eval\(\) first"):
        CALLS[call](G)
    # a submodule left in training mode under an eval-mode parent is caught too
    G.eval()
    G[1].train()
    with pytest.raises(ValueError, match=r"generator\.eval\(\)"):
        CALLS[call](G)
    G.eval()
    CALLS[call](G)  # accepted in eval mode


def test_dropout_in_eval_mode_is_the_identity_so_the_density_is_the_brute_force_one():
    G = generator(nn.Dropout(0.3)).eval()
    z = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(generator_log_density(G, z), dense_jacobian_log_density(G, z), rtol=0, atol=1e-10)


def test_non_callable_and_bad_numbers():
    with pytest.raises(TypeError, match="callable"):
        check_generator(3)
    check_generator(lambda z: z)  # a plain function has no modes
    with pytest.raises(ValueError, match="steps must be a positive int"):
        check_positive_int(steps=0)
    with pytest.raises(ValueError, match="chains must be a positive int"):
        check_positive_int(steps=1, chains=True)
    assert check_sigma2(torch.tensor([0.5])) == 0.5 and isinstance(check_sigma2(1), float)
    assert infer_latent_dim(nn.Sequential(nn.Linear(7, 2)), None) == 7
    assert infer_latent_dim(lambda z: z, 4) == 4
    with pytest.raises(ValueError, match="latent_dim must be a positive int"):
        infer_latent_dim(lambda z: z, True)
