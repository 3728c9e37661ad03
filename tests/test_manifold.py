"""Distances to a generator's manifold: classification and the 1-NN baseline (paper 002, section 3)."""

from __future__ import annotations

import pytest
import torch

from gandensity.workflows.data import ImageData
from gandensity.workflows.manifold import (class_errors_split, class_subset, classify_by_reconstruction, nearest_neighbour_classify,
                                 reconstruction_errors)


class Line(torch.nn.Module):
    """G(z) = a + z[0] * b: a line in a 16-pixel image space (one latent dimension used)."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        self.a, self.b, self.latent_dim = a, b, 2

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.a + z[:, :1] * self.b).reshape(-1, 1, 4, 4)


def lines():
    g = torch.Generator().manual_seed(0)
    return [Line(torch.randn(16, generator=g), torch.randn(16, generator=g)) for _ in range(2)]


def test_points_on_a_manifold_reconstruct_exactly_and_off_it_do_not():
    g0, _ = lines()
    on = g0(torch.tensor([[0.5, 0.0], [-1.0, 0.0]]))
    off = on + 0.5
    err_on = reconstruction_errors(g0, on, steps=200, restarts=2, candidates=64, seed=0)
    err_off = reconstruction_errors(g0, off, steps=200, restarts=2, candidates=64, seed=0)
    assert (err_on < 1e-6).all() and (err_off > 1e-2).all()


def test_generative_classification_picks_the_generator_that_made_the_image():
    gens = lines()
    x = torch.cat([gens[0](torch.tensor([[0.3, 0.0]])), gens[1](torch.tensor([[-0.7, 0.0]]))])
    predicted, errors = classify_by_reconstruction(gens, x, steps=200, restarts=2, candidates=64)
    assert predicted.tolist() == [0, 1] and errors.shape == (2, 2)
    with pytest.raises(ValueError):
        classify_by_reconstruction(gens[:1], x, steps=1, restarts=1, candidates=1)


def test_one_nearest_neighbour_and_class_subset():
    ref = ImageData(torch.tensor([0.0, 1.0, 5.0]).reshape(3, 1, 1, 1).expand(3, 1, 2, 2).clone(),
                    torch.tensor([7, 8, 9]), "toy", "toy")
    x = torch.tensor([0.9, 4.0, -3.0]).reshape(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert nearest_neighbour_classify(x, ref).tolist() == [8, 9, 7]
    sub = class_subset(ref, 8)
    assert sub.name == "toy-class8" and len(sub.images) == 1
    with pytest.raises(ValueError):
        class_subset(ref, 3)


def test_class_errors_split_by_label():
    errors = torch.tensor([[0.1, 0.5, 0.3], [0.2, 0.05, 0.4]])
    split = class_errors_split(errors, torch.tensor([0, 2]))
    assert torch.equal(split.own, torch.tensor([0.1, 0.4]))
    assert torch.equal(split.best_other, torch.tensor([0.3, 0.05]))
    assert torch.equal(split.off_class.sort().values, torch.tensor([0.05, 0.2, 0.3, 0.5]))
    with pytest.raises(ValueError):
        class_errors_split(errors, torch.tensor([0]))


def test_train_class_gans_needs_labels_zero_to_k():
    from gandensity.workflows.manifold import train_class_gans
    from gandensity.workflows.models import DCGANConfig
    from gandensity.workflows.training import TrainConfig
    images = torch.zeros(4, 1, 32, 32)
    for labels in ([-1, -1, -1, -1], [0, 0, 0, 0], [0, 2, 0, 2]):
        with pytest.raises(ValueError, match="labels 0..K-1"):
            train_class_gans(ImageData(images, torch.tensor(labels), "x", "x"), DCGANConfig(width=8),
                             TrainConfig(epochs=1, batch_size=2), use_cache=False)
