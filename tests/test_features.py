"""The MNIST-feature classifier used for Frechet distances (not FID)."""

import pytest
import torch

from gandensity.workflows.features import (ClassifierConfig, classifier_accuracy, classifier_features,
                                           train_classifier)


@pytest.mark.parametrize("kwargs", [{"width": 0}, {"steps": -1}, {"batch_size": 1.5}, {"lr": 0.0},
                                    {"features": True}, {"seed": "0"}])
def test_config_validation(kwargs):
    with pytest.raises(ValueError):
        ClassifierConfig(**kwargs)


def _toy(n=64, size=8):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 10
    images = torch.randn(n, 1, size, size, generator=g) * 0.1
    images[torch.arange(n), 0, labels % size, :] += 1.0  # a learnable row per digit
    return images.clamp(-1, 1), labels


def test_deterministic_shapes_and_learns():
    images, labels = _toy()
    config = ClassifierConfig(width=4, features=12, steps=60, batch_size=16, lr=1e-2, seed=3)
    a = train_classifier(images, labels, config, use_cache=False)
    b = train_classifier(images, labels, config, use_cache=False)
    fa, fb = classifier_features(a.model, images), classifier_features(b.model, images)
    assert fa.shape == (len(images), 12)
    assert torch.equal(fa, fb)
    torch.testing.assert_close(classifier_features(a.model, images, chunk=7), fa)
    assert classifier_accuracy(a.model, images, labels) > 0.5
    c = train_classifier(images, labels, ClassifierConfig(**{**config.__dict__, "seed": 4}), use_cache=False)
    assert not torch.equal(classifier_features(c.model, images), fa)


def test_input_errors():
    images, labels = _toy()
    with pytest.raises(ValueError, match="divisible by 4"):
        train_classifier(images[:, :, :7, :7], labels, use_cache=False)
    with pytest.raises(ValueError, match="one label per image"):
        train_classifier(images, labels[:-1], use_cache=False)
    with pytest.raises(ValueError, match="chunk"):
        classifier_features(torch.nn.Identity(), images, chunk=0)
