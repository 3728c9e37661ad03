"""Chapter settings -> the typed configurations that the workflows take.

A profile is a flat dictionary of settings per chapter (:mod:`gandensity.book.profiles`), convenient for papermill
overrides; the library never reads it. These functions are the one place where setting names meet the typed
configurations: a DCGAN (:class:`~gandensity.workflows.training.GANSpec`), the noise fit, AIS and the image groups of
paper 002 (:mod:`gandensity.workflows.likelihoods`), and LED (:class:`~gandensity.workflows.led.MixtureLED`,
:class:`~gandensity.workflows.led.ImageLED`). Chapters whose settings agree get equal configurations, hence one
cache entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gandensity.workflows.data import DataSpec
from gandensity.workflows.led import ImageLED, LEDConfig, MixtureLED
from gandensity.workflows.likelihoods import AISConfig, GroupsConfig, NoiseFitConfig
from gandensity.workflows.models import DCGANConfig
from gandensity.workflows.training import GANSpec, TrainConfig

__all__ = ["gan_spec", "regime", "class_gans", "noise_fit", "ais", "image_groups", "mixture_led", "image_led"]

# The settings that make one GAN (a top-level chapter configuration, or one of its named sub-dictionaries).
_GAN_SETTINGS = ("data", "channels", "width", "epochs", "batch_size", "image_size", "latent_dim", "prior",
                 "optimizer", "gan_lr", "train_images", "test_images")


def gan_spec(config: Mapping[str, Any], name: str | None = None, **overrides: Any) -> GANSpec:
    """The DCGAN of a chapter configuration: its top-level settings, or those of the sub-dictionary ``name``
    (chapters A2-A4 train several GANs: ``"mnist"``, ``"natural"``, ...), with the chapter's ``seed`` and
    ``data_root``.

    ``overrides`` replace settings; those whose value is None are ignored (notebook parameters default to None).
    An unknown GAN or setting is a ``ValueError`` listing the valid ones.
    """
    if name is None:
        settings = dict(config)
    else:
        if name not in config or not isinstance(config[name], Mapping):
            gans = [k for k, v in config.items() if isinstance(v, Mapping)]
            raise ValueError(f"the configuration has no GAN {name!r}; GANs: {gans}")
        settings = {**config[name], "seed": config["seed"], "data_root": config["data_root"]}
    valid = sorted(k for k in settings if k in _GAN_SETTINGS)
    unknown = sorted(k for k in overrides if k not in valid)
    if unknown:
        raise ValueError(f"unknown GAN setting(s) {unknown}; valid settings: {valid}")
    settings.update({k: v for k, v in overrides.items() if v is not None})
    size = settings.get("image_size", 32)
    data = DataSpec(settings["data"], channels=settings["channels"], size=size, data_root=settings["data_root"],
                    train_images=settings.get("train_images"), test_images=settings.get("test_images"))
    model = DCGANConfig(latent_dim=settings.get("latent_dim", 100), channels=settings["channels"],
                        width=settings["width"], image_size=size)
    train = TrainConfig(epochs=settings["epochs"], batch_size=settings["batch_size"], seed=settings["seed"],
                        lr=settings.get("gan_lr", 2e-4), optimizer=settings.get("optimizer", "adam"),
                        prior=settings.get("prior", "normal"))
    return GANSpec(data, model, train)


def regime(config: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """The settings of one of a chapter's GANs as a flat dictionary: the top level for ``name=None``; else the top
    level with the sub-dictionary ``name`` on top (chapters C1-C3 and C5 run paper 002's experiments on the MNIST
    DCGAN, the top level, and on the natural-image DCGAN, ``"natural"``). The result feeds :func:`gan_spec`,
    :func:`noise_fit`, :func:`image_groups` and :func:`class_gans` like a chapter configuration."""
    if name is None:
        return dict(config)
    if name not in config or not isinstance(config[name], Mapping):
        gans = [k for k, v in config.items() if isinstance(v, Mapping) and "data" in v]
        raise ValueError(f"the configuration has no GAN {name!r}; GANs: {gans}")
    return {**config, **config[name]}


def class_gans(config: Mapping[str, Any]) -> tuple[DCGANConfig, TrainConfig]:
    """Paper 002's per-class DCGANs (chapters C1 and C5): architecture and training from ``class_width``,
    ``channels``, ``class_epochs``, ``class_batch``, ``class_lr``, ``class_calibration`` and ``seed``."""
    model = DCGANConfig(channels=config["channels"], width=config["class_width"],
                        image_size=config.get("image_size", 32))
    train = TrainConfig(epochs=config["class_epochs"], batch_size=config["class_batch"], lr=config["class_lr"],
                        seed=config["seed"], calibration_samples=config["class_calibration"])
    return model, train


def noise_fit(config: Mapping[str, Any]) -> NoiseFitConfig:
    """Paper 002's observation-noise fit from ``noise_images``, ``noise_steps``, ``noise_restarts``,
    ``noise_candidates`` and ``seed`` (chapters C2 and C3)."""
    return NoiseFitConfig(images=config["noise_images"], steps=config["noise_steps"],
                          restarts=config["noise_restarts"], candidates=config["noise_candidates"],
                          seed=config["seed"])


def ais(config: Mapping[str, Any]) -> AISConfig:
    """Paper 002's AIS settings from ``ais_steps``, ``ais_chains``, ``leapfrog`` and ``seed``."""
    return AISConfig(steps=config["ais_steps"], chains=config["ais_chains"], leapfrog=config["leapfrog"],
                     seed=config["seed"])


def image_groups(config: Mapping[str, Any], sizes: Mapping[str, int] | None = None) -> GroupsConfig:
    """The groups of images of chapters C1-C3: the GAN's data (:func:`gan_spec`), ``group_sizes`` (or
    ``sizes``), ``seed``."""
    sizes = config["group_sizes"] if sizes is None else sizes
    return GroupsConfig(gan_spec(config).data, tuple(sizes.items()), config["seed"])


def _led_config(config: Mapping[str, Any], **fixed: Any) -> LEDConfig:
    names = ("steps", "batch_size", "normalizer_samples", "entropy_weight", "replace_prob", "lr", "dequantize")
    return LEDConfig(**{k: config[k] for k in names if k in config}, seed=config["seed"], **fixed)


def mixture_led(config: Mapping[str, Any]) -> MixtureLED:
    """LED on the 2-D mixtures (chapter D2): generator, critic and training settings, seeded by ``seed``.
    Snapshots are kept after the ``snapshots`` steps (a step past ``steps`` becomes the last step)."""
    snapshots = tuple(sorted({min(step, config["steps"]) for step in config.get("snapshots", ())}))
    return MixtureLED(features=config["features"], blocks=config["blocks"], copy_sigma=config["copy_sigma"],
                      reduce_sigma=config["reduce_sigma"], critic_hidden=config["critic_hidden"],
                      train_points=config["train_points"], training=_led_config(config, snapshots=snapshots))


def image_led(config: Mapping[str, Any], normalizer_samples: int) -> ImageLED:
    """LED on images (chapter D3) with ``normalizer_samples`` = K (the profile lists the K of Table 2)."""
    training = _led_config({**config, "normalizer_samples": normalizer_samples})
    return ImageLED(latent_dim=config["latent_dim"], shuffles=config["shuffles"], noise_sigma=config["noise_sigma"],
                    reduce_sigma=config["reduce_sigma"], critic_width=config["critic_width"],
                    perpendicular=config["perpendicular"], training=training)
