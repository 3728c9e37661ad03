"""Run profiles of the book's chapters: ``smoke``, ``cpu`` and ``paper``.

- ``smoke``: seconds; proves that a chapter runs end to end (numbers are not meaningful).
- ``cpu``: the published book; real results on embedded data, a few minutes per chapter on 2 CPU cores.
- ``paper``: the paper's data sets and hyperparameters; needs the data under ``data_root``, meant for a GPU.

Settings live here, once, and notebooks ask for them with :func:`chapter_config`. Models shared by
several chapters (e.g. the MNIST DCGAN) are defined once in ``SHARED`` so that their cache keys agree.
"""

from __future__ import annotations

import copy
import numbers
import os
import textwrap
from collections.abc import Iterator, Mapping
from typing import Any

import torch

__all__ = ["PROFILES", "CHAPTERS", "SHARED", "ChapterConfig", "chapter_config", "resolve_device"]

PROFILES = ("smoke", "cpu", "paper")

# The DCGAN of paper 000 trained on MNIST. The paper does not state its epoch count; 25 is the DCGAN
# reference default. MNIST is upscaled to 32x32x3 in the paper; the cpu profile keeps 1 channel,
# which costs a third of the Jacobian's rows and changes nothing in the method.
SHARED: dict[str, dict[str, dict[str, Any]]] = {
    "mnist_dcgan": {
        "smoke": {"data": "mnist5k", "channels": 1, "width": 16, "epochs": 1, "batch_size": 64},
        "cpu": {"data": "mnist5k", "channels": 1, "width": 32, "epochs": 20, "batch_size": 64},
        "paper": {"data": "mnist", "channels": 3, "width": 64, "epochs": 25, "batch_size": 64},
    },
    # Paper 000's natural-image GAN (chapters A2-A4): CIFAR-10 in the paper; at cpu, patches of the nine photos that
    # ship offline (train: 2,000 patches drawn with seed 0; test: other positions, seed 1), and a narrower network,
    # cheaper to train and to differentiate.
    "natural_dcgan": {
        "smoke": {"data": "photo_patches", "channels": 3, "width": 16, "epochs": 1, "batch_size": 64,
                  "train_images": 256, "test_images": 128},
        "cpu": {"data": "photo_patches", "channels": 3, "width": 16, "epochs": 30, "batch_size": 64,
                "train_images": 2000, "test_images": 1000},
        "paper": {"data": "cifar10", "channels": 3, "width": 64, "epochs": 25, "batch_size": 64},
    },
    # Paper 000's regressors (section 4): the DCGAN discriminator without sigmoid, Adam lr 1e-4, trained on
    # triplets (z, G(z), label). The paper samples "many" triplets without a count (50,000 is the size of its
    # section 5.2 sample pool); the cpu profile what its budget allows.
    "regressors": {
        "smoke": {"triplets": 96, "latent_triplets": 256, "regressor_width": 16, "regressor_epochs": 2,
                  "loss": "l2", "chunk_size": 8},
        "cpu": {"triplets": 1000, "latent_triplets": 6000, "regressor_width": 16, "regressor_epochs": 15,
                "loss": "l2", "chunk_size": 8},
        "paper": {"triplets": 50000, "latent_triplets": 50000, "regressor_width": 64, "regressor_epochs": 25,
                  "loss": "l2", "chunk_size": 128},
    },
    # Paper 002 sections 4.1-4.3 (chapters C2 and C3): the observation-noise fit (inversion of training images,
    # appendix B.2: Adam with a cosine schedule from the nearest of K samples, R restarts), AIS (500 steps, 4 chains,
    # 10 leapfrog steps in the paper; fewer steps and chains at cpu) and the groups of images whose likelihoods the
    # two chapters share through the cache.
    "gan_likelihoods": {
        "smoke": {"noise_images": 16, "noise_steps": 10, "noise_restarts": 1, "noise_candidates": 32,
                  "ais_steps": 5, "ais_chains": 1, "leapfrog": 2,
                  "group_sizes": {"test": 4, "train": 4, "generated": 6, "single colours": 3, "sklearn digits": 3,
                                  "photo patches": 3}},
        "cpu": {"noise_images": 96, "noise_steps": 100, "noise_restarts": 2, "noise_candidates": 200,
                "ais_steps": 100, "ais_chains": 2, "leapfrog": 10,
                "group_sizes": {"test": 24, "train": 20, "generated": 32, "single colours": 10,
                                "sklearn digits": 10, "photo patches": 10}},
        "paper": {"noise_images": 1000, "noise_steps": 500, "noise_restarts": 4, "noise_candidates": 500,
                  "ais_steps": 500, "ais_chains": 4, "leapfrog": 10,
                  "group_sizes": {"test": 500, "train": 500, "generated": 1000, "single colours": 200,
                                  "sklearn digits": 200, "photo patches": 200}},
    },
}

# Paper 002's out-of-distribution groups (chapters C1-C3, C5), by GAN: the MNIST DCGAN's (single colours as in the
# paper, scikit-learn digits standing in for SVHN, natural photographs) and the natural-image DCGAN's (single colours,
# both digit sets as 32x32x3, noise, and close-up photographs of textures that it did not train on).
OOD_MNIST = ["single colours", "sklearn digits", "photo patches"]
OOD_NATURAL = ["single colours", "MNIST digits", "sklearn digits", "noise", "texture patches"]

# Paper 002's per-class GANs (chapters C1 and C5 share them through the cache): at cpu the MNIST class GANs see 400
# digits each: batch 32 and Adam lr 1e-3 (5x the DCGAN default) train them in 360 steps to reconstruction errors like
# the full GAN's; the paper profile keeps the DCGAN defaults. The natural-image GAN's classes are the source photos
# of the patches at smoke and cpu (nine scenes, about 220 training patches each: 30 epochs are about 210 steps, fewer
# than the MNIST class GANs' 375, so that C1 trains all 19 class GANs within its budget when it runs alone), CIFAR-10's
# classes at paper. ``class_test`` held-out images, spread evenly over the classes, are
# classified.
SHARED["class_gans"] = {
    "smoke": {"class_width": 8, "class_epochs": 1, "class_lr": 1e-3, "class_batch": 16, "class_test": 10,
              "class_calibration": 256},
    "cpu": {"class_width": 16, "class_epochs": 30, "class_lr": 1e-3, "class_batch": 32, "class_test": 30,
            "class_calibration": 4096},
    "paper": {"class_width": 64, "class_epochs": 25, "class_lr": 2e-4, "class_batch": 64, "class_test": 1000,
              "class_calibration": 4096},
}
_NATURAL_CLASS_EPOCHS = {"smoke": 1, "cpu": 30, "paper": 25}
_NATURAL_GROUP_SIZES = {
    "smoke": {"test": 4, "train": 4, "generated": 6, **{n: 3 for n in OOD_NATURAL}},
    "cpu": {"test": 24, "train": 16, "generated": 32, **{n: 8 for n in OOD_NATURAL}},
    "paper": {"test": 500, "train": 500, "generated": 1000, **{n: 200 for n in OOD_NATURAL}},
}


def _natural(profile: str) -> dict[str, Any]:
    """The natural-image GAN of chapters C1-C3 and C5, a sub-dictionary ``natural`` of their settings (see
    :func:`gandensity.book.specs.regime`): A2-A4's DCGAN (the same cache entry), its OOD groups, its group sizes for
    the likelihoods and its class GANs' epochs."""
    return {**SHARED["natural_dcgan"][profile], "ood": list(OOD_NATURAL),
            "group_sizes": dict(_NATURAL_GROUP_SIZES[profile]),
            "class_epochs": _NATURAL_CLASS_EPOCHS[profile]}


# Paper 001 section 4: DCGANs on 64x64 CelebA, five layers, uniform prior on [-1, 1]^nz, RMSProp (lr 1e-4, decay
# 0.9), batch 32. The paper trains 750k iterations (about 120 epochs of CelebA); 10 epochs here keep a GPU run
# to about an hour. Its translated LeakyReLU and weight-normalised discriminator are not reproduced.
# The DCGAN options of ``training.dcgan_for`` at their defaults (paper 000's 32x32 setup), spelled out for the
# chapters whose paper profile switches to CELEBA_64, so that every profile has the same settings.
DCGAN_32: dict[str, Any] = {"image_size": 32, "latent_dim": 100, "prior": "normal", "optimizer": "adam",
                            "gan_lr": 2e-4}
CELEBA_64: dict[str, Any] = {"data": "celeba", "channels": 3, "width": 64, "image_size": 64, "latent_dim": 128,
                             "prior": "uniform", "optimizer": "rmsprop", "gan_lr": 1e-4, "batch_size": 32,
                             "epochs": 10}

CHAPTERS: dict[str, dict[str, dict[str, Any]]] = {
    "a1_exact_density": {
        "smoke": {**SHARED["mnist_dcgan"]["smoke"], "num_samples": 64, "grid": 16, "chunk_size": 8,
                  "check_samples": 4, "top_k": 8},
        "cpu": {**SHARED["mnist_dcgan"]["cpu"], "num_samples": 2000, "grid": 36, "chunk_size": 8,
                "check_samples": 16, "top_k": 100},
        "paper": {**SHARED["mnist_dcgan"]["paper"], "num_samples": 50000, "grid": 64, "chunk_size": 128,
                  "check_samples": 64, "top_k": 1024},
    },
    # Chapters A2-A4 (paper 000 sections 4-7): the GANs and regressors of SHARED, so that their cache entries agree.
    # They run torch on one CPU thread at smoke and cpu: their batch-64 convolutions gain little from a second
    # thread and lose several-fold when other jobs share the cores; None keeps torch's default (paper profile).
    "a2_sanity_checks": {
        p: {"mnist": SHARED["mnist_dcgan"][p], "natural": SHARED["natural_dcgan"][p], **SHARED["regressors"][p],
            "pool": pool, "grid": grid}
        for p, pool, grid in (("smoke", 512, 16), ("cpu", 20000, 36), ("paper", 50000, 64))
    },
    # A3's GAN without 1s: A1's DCGAN on the digits other than 1; at cpu for 12 of A1's 20 epochs, to fit the budget.
    "a3_interpreting_densities": {
        p: {"mnist": SHARED["mnist_dcgan"][p], "natural": SHARED["natural_dcgan"][p], **SHARED["regressors"][p],
            "mnist_without_1s": {**SHARED["mnist_dcgan"][p], "epochs": no1_epochs},
            "top_k": top_k, "grid": grid}
        for p, no1_epochs, top_k, grid in (("smoke", 1, 16, 16), ("cpu", 12, 100, 36), ("paper", 25, 1024, 64))
    },
    # A4's InfoGAN-style GANs: the data and architecture of the pixel-space GANs; at cpu, half the digit GAN's epochs,
    # to fit the chapter's budget. info_weight 10 on the mean
    # over the 100 latent dimensions is lambda = 0.1 on ||Q - z||^2 (the paper gives no value).
    "a4_latent_densities": {
        p: {"mnist": SHARED["mnist_dcgan"][p], "natural": SHARED["natural_dcgan"][p], **SHARED["regressors"][p],
            "mnist_infogan": {**SHARED["mnist_dcgan"][p], "epochs": mnist_epochs},
            "natural_infogan": {**SHARED["natural_dcgan"][p], "epochs": natural_epochs}, "info_weight": 10.0,
            "top_k": top_k, "grid": grid, "q_samples": q_samples}
        for p, mnist_epochs, natural_epochs, top_k, grid, q_samples in (
            ("smoke", 1, 1, 16, 16, 200), ("cpu", 10, 30, 100, 36, 2000), ("paper", 25, 25, 1024, 64, 10000))
    },
    # Paper 001's estimator settings (m, p, t, g, eps) = (10, 20, 20, 1.2, 0.1) are the defaults of
    # stochastic_logdet; the sweeps below vary order and probes around them.
    "b1_stochastic_logdet": {
        "smoke": {**SHARED["mnist_dcgan"]["smoke"], "num_latents": 2, "matrix_dim": 20, "orders": [2, 4, 8],
                  "probe_counts": [1, 4, 16], "sweep_order": 8, "sweep_probes": 16, "gradient_probes": 16,
                  "cost_dims": [8, 16], "cost_width": 8, "cost_batch": 2},
        "cpu": {**SHARED["mnist_dcgan"]["cpu"], "num_latents": 6, "matrix_dim": 100,
                "orders": [2, 4, 8, 16, 32], "probe_counts": [1, 4, 16, 64, 256], "sweep_order": 16,
                "sweep_probes": 64, "gradient_probes": 128, "cost_dims": [16, 64, 256, 1024], "cost_width": 16,
                "cost_batch": 4},
        "paper": {**SHARED["mnist_dcgan"]["paper"], "num_latents": 64, "matrix_dim": 400,
                  "orders": [2, 4, 8, 16, 32, 64, 128], "probe_counts": [1, 4, 16, 64, 256, 1024],
                  "sweep_order": 64, "sweep_probes": 512, "gradient_probes": 1024,
                  "cost_dims": [16, 64, 256, 1024, 4096], "cost_width": 64, "cost_batch": 16},
    },
    # Paper 001 section 3: batch 64, Algorithm 1 with (m, p, t, g) = (10, 20, 20, 1.2), eps 0.1 (reverse KL) and
    # 1e-2 (forward KL), Adam lr 1e-4 for 5000 iterations per epoch over several epochs (Fig. 1 shows epochs 4-26).
    # The cpu profile trains 2000 steps per model instead, so it raises the learning rate (10x for KL(Q||P), 20x
    # for KL(P||Q)) and multiplies by the 2x2 metric formed from the Jacobian ("dense"), the same estimator ~15x
    # faster on a CPU than the jvp+vjp products ("implicit", the paper's route, used by the paper profile).
    "b2_implicit_densities": {
        "smoke": {"reverse_steps": 30, "forward_steps": 30, "reverse_lr": 1e-3, "forward_lr": 2e-3, "batch_size": 64,
                  "matvec": "dense", "samples": 500, "grid": 60},
        "cpu": {"reverse_steps": 2000, "forward_steps": 2000, "reverse_lr": 1e-3, "forward_lr": 2e-3,
                "batch_size": 64, "matvec": "dense", "samples": 2000, "grid": 150},
        "paper": {"reverse_steps": 50000, "forward_steps": 50000, "reverse_lr": 1e-4, "forward_lr": 1e-4,
                  "batch_size": 64, "matvec": "implicit", "samples": 5000, "grid": 200},
    },
    # Paper 001 section 4: the estimator settings of its Fig. 4 (c, d), (m, p, t, g, eps) = (5, 10, 10, 1.2, 1e-2).
    # The paper does not name its optimizer for the ascent; Adam on z is ours. The same ascent again with the exact
    # log-det gradient (all ``steps``) and with SLQ (issue 14: ``slq_order`` Lanczos steps x ``slq_probes`` probes = 60
    # products for the value, about Chebyshev's p m + t + 1 = 61; its CG gradient costs far more, so only
    # ``slq_steps`` steps, a multiple of ``record_every``: at cpu 15, which keeps the chapter near 190 s on a busy
    # machine; 30 took 221-237 s). Fig. 3: exact log-densities on a ``grid_size`` x ``grid_size`` grid in a plane of
    # latents, ``grid_extent`` prior standard deviations on either side of a prior draw (normal prior). The exact
    # ascent once more without the prior term (normal prior only): a flat prior on [-flat_box, flat_box]^n.
    "b3_likelihood_maximization": {
        p: {**SHARED["mnist_dcgan"][p], **(CELEBA_64 if p == "paper" else DCGAN_32), "order": 5, "probes": 10,
            "power_iters": 10, "g": 1.2, "eps": 1e-2, "slq_order": 6, "slq_probes": 10, "grid_extent": 3.0,
            "flat_box": 5.0,
            "grid_size": 5 if p == "smoke" else 11, **settings}
        for p, settings in (
            ("smoke", {"num_trials": 2, "steps": 4, "lr": 0.02, "record_every": 2, "columns": 3, "rows": 2,
                       "slq_steps": 2}),
            ("cpu", {"num_trials": 6, "steps": 150, "lr": 0.02, "record_every": 15, "columns": 6, "rows": 6,
                     "slq_steps": 15}),
            ("paper", {"num_trials": 8, "steps": 5000, "lr": 0.02, "record_every": 250, "columns": 7, "rows": 8,
                       "slq_steps": 1000}))
    },
    # Paper 001 section 5: a family (nz/2, nf), (nz, nf), (2nz, nf), (nz, nf/2), (nz, 2nf) around ``base``.
    "b4_explanatory_factors": {
        "smoke": {**SHARED["mnist_dcgan"]["smoke"], **DCGAN_32, "base": (16, 8), "epochs": 1, "num_trials": 2, "step": 3.0,
                  "directions": 4, "grid_trials": 2, "random_draws": 8, "quality_samples": 200,
                  "classifier_steps": 60},
        "cpu": {**SHARED["mnist_dcgan"]["cpu"], **DCGAN_32, "base": (100, 16), "epochs": 10, "num_trials": 12, "step": 3.0,
                "directions": 7, "grid_trials": 4, "random_draws": 64, "quality_samples": 1000,
                "classifier_steps": 1500},
        "paper": {**SHARED["mnist_dcgan"]["paper"], **CELEBA_64, "base": (64, 64), "num_trials": 12, "step": 0.65,
                  "directions": 7, "grid_trials": 6, "random_draws": 256, "quality_samples": 10000,
                  "classifier_steps": 3000},
    },
    # Beyond paper 001 (issue 14): the log-det estimators side by side at equal budgets of matrix-vector products, on
    # controlled spectra (``matrix_dim``), on the metric of A1's MNIST DCGAN (shared through the cache) at
    # ``num_latents`` latents with ``seeds`` independent probe draws each, gradients at ``gradient_budget`` on
    # ``gradient_latents`` latents (and the Gram gradient with M's ``deflate`` smallest eigen-directions handled
    # exactly, an oracle), and the time of both routes on untrained DCGANs of latent dimensions ``time_dims``
    # (``time_width`` such that J has full rank at the largest n: the first layer's 64 x width units, about half of
    # them active after the ReLU, must outnumber n).
    "b5_which_estimator": {
        "smoke": {**SHARED["mnist_dcgan"]["smoke"], "matrix_dim": 30, "num_latents": 2, "seeds": 3,
                  "budgets": [60, 220], "gradient_latents": 2, "gradient_budget": 220, "deflate": [0, 4, 8],
                  "time_dims": [8, 32], "time_width": 8, "time_batch": 1, "time_budget": 100},
        "cpu": {**SHARED["mnist_dcgan"]["cpu"], "matrix_dim": 100, "num_latents": 6, "seeds": 10,
                "budgets": [100, 220, 500, 1000, 2000, 4000], "gradient_latents": 4, "gradient_budget": 1000,
                "deflate": [0, 10, 20, 30, 40, 60], "time_dims": [64, 256, 1024], "time_width": 48, "time_batch": 2,
                "time_budget": 1000},
        "paper": {**SHARED["mnist_dcgan"]["paper"], "matrix_dim": 400, "num_latents": 16, "seeds": 10,
                  "budgets": [100, 220, 500, 1000, 2000, 4000, 16000], "gradient_latents": 8,
                  "gradient_budget": 1000, "deflate": [0, 10, 20, 30, 40, 60],
                  "time_dims": [64, 256, 1024, 2048], "time_width": 96, "time_batch": 4,
                  "time_budget": 1000},
    },
    # Paper 002 section 3: GAN inversion (appendix B.2) of generated, training, test and OOD images under the MNIST
    # DCGAN of chapter A1; per-class DCGANs (narrower, trained on one digit each) for generative classification. At
    # cpu the per-class GANs see 400 digits each: batch 32 and Adam lr 1e-3 (5x the DCGAN default) train them in
    # 360 steps to reconstruction errors like the full GAN's; the paper profile keeps the DCGAN defaults.
    "c1_gan_manifold": {
        p: {**SHARED["mnist_dcgan"][p], **SHARED["class_gans"][p], "ood": list(OOD_MNIST), **settings,
            "natural": _natural(p)}
        for p, settings in (
            ("smoke", {"group_size": 4, "inv_steps": 10, "inv_restarts": 1, "inv_candidates": 32,
                       "cls_steps": 5, "cls_restarts": 1, "cls_candidates": 16, "grid": 4}),
            ("cpu", {"group_size": 24, "inv_steps": 100, "inv_restarts": 2, "inv_candidates": 200,
                     "cls_steps": 50, "cls_restarts": 1, "cls_candidates": 100, "grid": 8}),
            ("paper", {"group_size": 500, "inv_steps": 500, "inv_restarts": 4, "inv_candidates": 500,
                       "cls_steps": 500, "cls_restarts": 4, "cls_candidates": 500, "grid": 16}))
    },
    # Paper 002 sections 4.1-4.2: likelihoods of the MNIST DCGAN of chapter A1 (same cache entry) under a Gaussian
    # observation model, and AIS convergence with BDMC bounds on simulated data (Fig. 9).
    "c2_gan_density": {
        p: {**SHARED["mnist_dcgan"][p], **SHARED["gan_likelihoods"][p], "ood": list(OOD_MNIST), **settings,
            "natural": _natural(p)}
        for p, settings in (
            ("smoke", {"bdmc_images": 2, "bdmc_steps": [2, 5], "grid": 6}),
            ("cpu", {"bdmc_images": 4, "bdmc_steps": [10, 30, 100], "grid": 12}),
            ("paper", {"bdmc_images": 16, "bdmc_steps": [10, 30, 100, 300, 1000], "grid": 36}))
    },
    # Paper 002 section 4.3: the (epsilon, N)-typicality test, epsilon from a 95% bootstrap over the model's samples
    # (C2's "generated" group), tested on fresh samples, training and out-of-distribution images; ``resamples``
    # bootstrap resamples of all groups give the fractions' intervals.
    "c3_typicality": {
        p: {**SHARED["mnist_dcgan"][p], **SHARED["gan_likelihoods"][p], "ood": list(OOD_MNIST), **settings,
            "level": 0.95, "natural": _natural(p)}
        for p, settings in (
            ("smoke", {"fresh_generated": 4, "ns": [2, 4], "trials": 20, "bootstraps": 200, "resamples": 20}),
            ("cpu", {"fresh_generated": 24, "ns": [10, 25, 50, 75], "trials": 100, "bootstraps": 2000,
                     "resamples": 200}),
            ("paper", {"fresh_generated": 500, "ns": [10, 25, 50, 75], "trials": 100, "bootstraps": 10000,
                       "resamples": 500}))
    },
    # Paper 002 section 4.2, Fig. 7 (left): generative classification by likelihood with the class GANs of C1 (the same
    # cache entries), both GANs' regimes; each class GAN's observation noise fitted on ``class_noise_images`` of its
    # training images (inversion settings of C1's classification), AIS at C2's settings with ``class_chains`` chains.
    "c5_classification": {
        p: {**SHARED["mnist_dcgan"][p], **SHARED["gan_likelihoods"][p], **SHARED["class_gans"][p], **settings,
            "natural": _natural(p)}
        for p, settings in (
            ("smoke", {"class_noise_images": 8, "cls_steps": 5, "cls_restarts": 1, "cls_candidates": 16,
                       "class_chains": 1}),
            ("cpu", {"class_noise_images": 32, "cls_steps": 50, "cls_restarts": 1, "cls_candidates": 100,
                     "class_chains": 1}),
            ("paper", {"class_noise_images": 500, "cls_steps": 500, "cls_restarts": 4, "cls_candidates": 500,
                       "class_chains": 4}))
    },
    # Beyond C2 (issue 16): a normalizing flow (zuko's MAF) trained by maximum likelihood on the DCGAN's training
    # images, the likelihood model of paper 002's Table 1 on our data, next to the GAN's AIS likelihoods of C2 (the
    # same GAN, noise fit, groups and AIS settings, so the same cached jobs). ``flow_validation`` of the training
    # images are held out for early stopping; at cpu the flow trains in about a minute on one thread.
    "c4_flow_baseline": {
        p: {**SHARED["mnist_dcgan"][p], **SHARED["gan_likelihoods"][p], **settings}
        for p, settings in (
            ("smoke", {"flow_transforms": 2, "flow_hidden": [32], "flow_epochs": 1, "flow_batch_size": 256,
                       "flow_lr": 1e-3, "flow_validation": 0.1}),
            ("cpu", {"flow_transforms": 4, "flow_hidden": [512], "flow_epochs": 20, "flow_batch_size": 128,
                     "flow_lr": 1e-3, "flow_validation": 0.1}),
            ("paper", {"flow_transforms": 5, "flow_hidden": [1024, 1024], "flow_epochs": 100, "flow_batch_size": 256,
                       "flow_lr": 5e-4, "flow_validation": 0.1}))
    },
    # Paper 003 appendix A: every density-tracking layer against a brute-force Jacobian (``checks`` samples per
    # layer), a whole generator without reductions likewise, and the Monte Carlo check of a 2-D generator with
    # reductions (Eq. 8) from ``mc_samples`` samples on a histogram of ``bins`` x ``bins`` cells.
    "d1_tracked_layers": {
        "smoke": {"checks": 2, "mc_samples": 50_000, "bins": 40, "conv_sizes": [(2, 4), (4, 4)]},
        "cpu": {"checks": 6, "mc_samples": 2_000_000, "bins": 100, "conv_sizes": [(2, 8), (4, 8), (8, 8), (16, 8)]},
        "paper": {"checks": 32, "mc_samples": 20_000_000, "bins": 200,
                  "conv_sizes": [(2, 8), (4, 8), (8, 8), (16, 8), (16, 16)]},
    },
    # Paper 003 section 3.1 and appendices C.2, D, E.1: LED on the VEEGAN ring and grid. The paper's generator has
    # 256 features and 8 blocks and does not state its iterations, batch, K, k or sigmas; the cpu profile trains a
    # 32-feature, 2-block generator for 1,000 steps per run (about 8 s). The entropy weight 0.5 (appendix B.4 scales
    # the entropy term down without a value), half of the proposal samples replaced by N(0, I) (appendix B.3), Adam
    # lr 1e-3 (appendix B.1) are ours where the paper is silent. The critic's normalizer by quadrature on the plotted
    # box widened ``quadrature_widen`` times with ``quadrature_cells`` cells per axis (the grid's critic, nearly
    # flat, has mass outside its plotted box: at cpu a box 2x as wide still missed 0.01 nats, 4x as wide with cells
    # twice as wide as the plotted box's agreed with the Gaussian proposal), and by importance sampling from a
    # Gaussian with ``exact_proposal_samples`` draws.
    "d2_mixtures": {
        p: {"runs": runs, "samples": samples, "steps": steps, "batch_size": batch, "normalizer_samples": 256,
            "entropy_weight": 0.5, "replace_prob": 0.5, "features": features, "blocks": blocks, "copy_sigma": 0.1,
            "reduce_sigma": 1.0, "critic_hidden": hidden, "train_points": 20000, "capacity": capacity,
            "alpha_counts": counts, "alpha_repeats": repeats, "snapshots": snapshots, "grid": grid,
            "quadrature": 5 * grid, "gap_samples": 100_000 if p == "smoke" else 1_000_000,
            "quadrature_widen": {"ring": 1, "grid": 4}, "quadrature_cells": {"ring": 5 * grid, "grid": 10 * grid},
            "exact_proposal_samples": {"smoke": 20_000, "cpu": 1_000_000, "paper": 4_000_000}[p]}
        for p, runs, samples, steps, batch, features, blocks, hidden, capacity, counts, repeats, snapshots, grid in (
            ("smoke", 2, 500, 30, 64, 8, 1, 32, [(8, 1), (16, 1)], [1, 16, 256], 5, [10, 30], 60),
            ("cpu", 5, 2500, 1000, 128, 32, 2, 128, [(8, 1), (32, 1), (32, 2), (64, 4)],
             [1, 4, 16, 64, 256, 1024, 4096], 20, [100, 300, 1000], 200),
            ("paper", 5, 2500, 20000, 256, 256, 8, 128, [(32, 2), (64, 4), (128, 8), (256, 8), (256, 16)],
             [1, 4, 16, 64, 256, 1024, 4096, 16384], 20, [1000, 5000, 20000], 400))
    },
    # Paper 003 sections 3.2-3.3 and appendix E: LED on images. The paper trains on MNIST at 32x32 (and CelebA at
    # 64x64) for 500 epochs with Adam lr 1e-3; the cpu profile trains on MNIST-5k at 16x16 for 600 steps per model
    # (about 30 s), the paper profile on MNIST at 32x32 for 50,000 steps (about 53 epochs; pass data="celeba",
    # channels=3, image_size=64, shuffles=4 for CelebA). Images are dequantized with uniform noise of one 8-bit
    # level (2/256 in [-1, 1]) so that their density is bounded. ``normalizer_samples`` lists the K of Table 2;
    # the perpendicular ablation uses the second.
    "d3_images": {
        p: {"data": data, "channels": 1, "image_size": size, "latent_dim": latent, "shuffles": shuffles,
            "noise_sigma": 1.0, "reduce_sigma": 0.5, "critic_width": width, "perpendicular": True,
            "steps": steps, "batch_size": batch, "normalizer_samples": ks, "entropy_weight": 0.01,
            "replace_prob": 0.1, "lr": 1e-3, "dequantize": 2 / 256, "alpha_samples": n_alpha,
            "test_images": n_test, "ood_images": n_ood, "ascent_steps": ascent, "grid": grid,
            # Adam steps of the MNIST classifier whose features give the Frechet distance (not FID)
            "classifier_steps": {"smoke": 60, "cpu": 1500, "paper": 3000}[p],
            # the critic's normalizer from a proposal whose density is exact: a Gaussian kernel mixture on the
            # dequantized training images, at each bandwidth, with ``kernel_samples`` draws
            "kernel_bandwidths": [0.05, 0.1, 0.2, 0.3, 0.5, 1.0],
            "kernel_samples": {"smoke": 200, "cpu": 4000, "paper": 20000}[p]}
        for p, data, size, latent, shuffles, width, steps, batch, ks, n_alpha, n_test, n_ood, ascent, grid in (
            ("smoke", "mnist5k", 16, 16, 2, 8, 5, 16, [1, 8], 256, 64, 32, 5, 16),
            ("cpu", "mnist5k", 16, 32, 2, 16, 600, 64, [1, 64], 4096, 1000, 200, 100, 64),
            ("paper", "mnist", 32, 64, 3, 64, 50000, 64, [1, 64, 256], 16384, 10000, 1000, 500, 64))
    },
    # Paper 003, Eq. 5 and Table 1: the entropy weight k ablated and a GAN baseline with LED's networks. Every
    # other setting is D2's (read from its entry, so that D2's k runs are cache hits); ``runs`` per k and for the
    # GAN (the first ``runs`` seeds of D2). At cpu, 2 runs per setting keep the chapter within its 4 minutes (on a
    # busy machine, its 15 new runs took 215 s; with 3 runs, 311 s).
    "d4_entropy_ablation": {
        p: {"runs": runs, "entropy_weights": [0.0, 0.1, 0.5, 2.0]}
        for p, runs in (("smoke", 2), ("cpu", 2), ("paper", 5))
    },
}

# Parameters every chapter accepts besides its own settings. The published book runs on the CPU;
# the paper profile takes a GPU when there is one. Threads: one torch thread at smoke and cpu for every
# chapter (see gandensity.book.chapter: models are the same bits whichever chapter trains them), torch's
# default (None) at paper.
COMMON: dict[str, dict[str, Any]] = {
    "smoke": {"seed": 0, "device": "cpu", "data_root": None, "threads": 1},
    "cpu": {"seed": 0, "device": "cpu", "data_root": None, "threads": 1},
    "paper": {"seed": 0, "device": "auto", "data_root": None, "threads": None},
}


class ChapterConfig(Mapping[str, Any]):
    """Read-only settings of one chapter at one profile; items are also attributes (``cfg.epochs``).

    Setting or deleting an attribute or item raises; values that are lists or dicts come back as copies, so
    changing them does not change the configuration. Change a setting by passing it to :func:`chapter_config`
    (in a chapter: ``-p <setting> <value>``).
    """

    def __init__(self, chapter: str, profile: str, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", copy.deepcopy(dict(values)))
        object.__setattr__(self, "chapter", chapter)
        object.__setattr__(self, "profile", profile)

    def __getitem__(self, key: str) -> Any:
        value = self._values[key]
        return copy.deepcopy(value) if isinstance(value, (list, dict, set)) else value

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("_values")
        if values is None or key not in values:
            raise AttributeError(f"{self.__dict__.get('chapter')} has no setting {key!r}; "
                                 f"settings: {sorted(values or ())}")
        return self[key]

    def _read_only(self, key: object) -> TypeError:
        return TypeError(f"the settings of {self.chapter} are read-only (cannot change {key!r}); pass it to "
                         f"chapter_config({self.chapter!r}, {self.profile!r}, {key}=...) or, for a chapter run, "
                         f"-p {key} <value>")

    def __setattr__(self, key: str, value: Any) -> None:
        raise self._read_only(key)

    def __delattr__(self, key: str) -> None:
        raise self._read_only(key)

    def __setitem__(self, key: str, value: Any) -> None:
        raise self._read_only(key)

    def __delitem__(self, key: str) -> None:
        raise self._read_only(key)

    def __copy__(self) -> "ChapterConfig":
        return self

    def __deepcopy__(self, memo: dict) -> "ChapterConfig":
        return self

    def __reduce__(self):
        return (ChapterConfig, (self.chapter, self.profile, self._values))

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"ChapterConfig({self.chapter!r}, profile={self.profile!r}: {items})"

    def __str__(self) -> str:
        width = max(map(len, self._values))
        lines = [f"{self.chapter} at profile {self.profile!r}:"]
        for k, v in self._values.items():  # wrapped to the book's 80-character printed lines
            lines += textwrap.wrap(f"  {k:<{width}} = {v!r}", 80, subsequent_indent=" " * (width + 5))
        return "\n".join(lines)


# Settings whose type is not that of their default (None in every profile).
_PATH_SETTINGS = ("data_root",)


def _spec(examples: list[Any]) -> Any:
    """The type an override must have, from the values a setting takes across profiles (None = any)."""
    examples = [e for e in examples if e is not None]
    if not examples:
        return None
    if all(isinstance(e, bool) for e in examples):
        return bool
    if all(isinstance(e, int) and not isinstance(e, bool) for e in examples):
        return int
    if all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in examples):
        return float
    if all(isinstance(e, str) for e in examples):
        return str
    if all(isinstance(e, (list, tuple)) for e in examples):
        container = list if all(isinstance(e, list) for e in examples) else tuple
        return (container, _spec([x for e in examples for x in e]))
    if all(isinstance(e, dict) for e in examples):
        keys = {k for e in examples for k in e}
        return {k: _spec([e.get(k) for e in examples]) for k in keys}
    return None  # mixed types: not checked


def _describe(spec: Any) -> str:
    if spec is None:
        return "any value"
    if isinstance(spec, type):
        return {bool: "a boolean (True/False)", int: "an integer", float: "a number", str: "a string"}[spec]
    if isinstance(spec, tuple):
        container, inner = spec
        plural = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
        return f"a {container.__name__} of {plural[inner]}" if isinstance(inner, type) \
            else f"a {container.__name__} whose items are each {_describe(inner)}"
    return f"a dict with keys {sorted(spec)}"


def _coerce(value: Any, spec: Any, name: str) -> Any:
    """``value`` as the type of ``spec``; TypeError naming ``name`` and the expected type if it is not one."""
    def wrong(extra: str = "") -> TypeError:
        return TypeError(f"setting {name} must be {_describe(spec)}, got {type(value).__name__} {value!r}{extra}")

    if spec is None:
        return value
    if spec is bool:
        if not isinstance(value, bool):
            raise wrong("; pass True or False (a string such as 'False' would be true)")
        return value
    if spec is int:
        if isinstance(value, bool):
            raise wrong()
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise wrong() from None
        raise wrong("; it is not rounded for you" if isinstance(value, float) else "")
    if spec is float:
        if isinstance(value, bool):
            raise wrong()
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise wrong() from None
        raise wrong()
    if spec is str:
        if not isinstance(value, str):
            raise wrong(f"; quote it (-p {name} '\"{value}\"' or -r {name} {value})"
                        if isinstance(value, (int, float)) and not isinstance(value, bool) else "")
        return value
    if isinstance(spec, tuple):
        container, inner = spec
        if not isinstance(value, (list, tuple)):
            raise wrong()
        return container(_coerce(v, inner, f"{name}[{i}]") for i, v in enumerate(value))
    if isinstance(spec, dict):
        if not isinstance(value, Mapping):
            raise wrong()
        unknown = sorted(set(value) - set(spec))
        if unknown:
            raise TypeError(f"setting {name} has no key(s) {unknown}; valid keys: {sorted(spec)}")
        return {k: _coerce(v, spec[k], f"{name}[{k!r}]") for k, v in value.items()}
    return value


def _coerce_path(value: Any, name: str) -> str:
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    hint = (f"; papermill reads -p {name} {value} as a number: quote it (-p {name} '\"{value}\"') or pass it "
            f"raw (-r {name} {value})") if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    raise TypeError(f"setting {name} must be a path (str or os.PathLike), got {type(value).__name__} {value!r}{hint}")


def _coerce_device(value: Any, name: str) -> str | torch.device:
    if isinstance(value, (str, torch.device)):
        return value
    raise TypeError(f"setting {name} must be a device name (a string such as 'cpu', 'cuda' or 'auto') or a "
                    f"torch.device, got {type(value).__name__} {value!r}")


def chapter_config(chapter: str, profile: str = "cpu", **overrides: Any) -> ChapterConfig:
    """Settings of ``chapter`` at ``profile``, with ``overrides`` applied.

    Overrides whose value is ``None`` are ignored, so notebook parameters can default to ``None``
    ("use the profile's value"). An unknown chapter, profile or override raises ``ValueError``
    listing the valid ones. An override of the wrong type raises ``TypeError`` naming the setting and its
    type, the type of the setting's values across the profiles: integers stay integers (1.9 is not rounded),
    booleans must be ``True``/``False``, lists and tuples keep their element types; ``data_root`` is a path
    (``str`` or ``os.PathLike``), ``device`` a string or ``torch.device``. Numeric strings are read as numbers
    for integer and float settings.
    """
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; valid chapters: {sorted(CHAPTERS)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {list(PROFILES)} "
                         "(smoke: seconds, cpu: the published book, paper: paper scale on a GPU)")
    values = {**COMMON[profile], **CHAPTERS[chapter][profile]}
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for chapter {chapter!r}; valid settings: {sorted(values)}")
    for key, value in overrides.items():
        if value is None:
            continue
        if key in _PATH_SETTINGS:
            values[key] = _coerce_path(value, key)
        elif key == "device":
            values[key] = _coerce_device(value, key)
        else:
            examples = [{**COMMON[p], **CHAPTERS[chapter][p]}.get(key) for p in PROFILES]
            values[key] = _coerce(value, _spec(examples), key)
    return ChapterConfig(chapter, profile, values)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` picks CUDA when available; asking for an absent accelerator is a clear error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but torch sees no CUDA GPU here; use -p device cpu "
                         "(or 'auto')")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was requested but is not available here; use -p device cpu")
    return device
