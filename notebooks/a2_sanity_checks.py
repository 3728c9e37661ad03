# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A2. Regressors and sanity checks
#
# *Paper 000 (Krusinga et al.), sections 4 and 5* {cite}`krusinga2019`.
#
# Chapter A1 computed the exact density of an image that the generator produced from a known latent code. Most
# images of interest, real digits and photographs above all, have no known latent code. Paper 000 extends
# densities to any image by learning them: it samples the GAN, labels every sample with its exact density, and
# fits a network, the *pixel regressor*, that maps an image to its log-density. This chapter builds pixel
# regressors for two GANs, one trained on digits and one on natural images, measures how well they reproduce
# their labels, and runs the paper's two sanity checks: do the densities of training and held-out images agree
# (no over-fitting, section 5.1), and are the least likely generated images the irregular ones (section 5.2)?
#
# The profile this page was executed with is printed below, and so is its runtime. Models come from the
# content-addressed cache when an earlier chapter (A1 for the MNIST GAN) built them with the same settings.
# Its claims are collected in a table at the end, each with the paper's words beside our numbers.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # directory with torchvision data sets (paper profile)
device = None  # cpu | cuda | auto; None keeps the profile's choice
seed = None  # None keeps the profile's seed
epochs = None  # epochs of both GANs; None keeps the profile's
width = None  # width of both GANs (64 in the paper)
triplets = None  # triplets (z, G(z), log p(G(z))) per regressor (the paper: "many")
regressor_width = None  # width of the regressors (DCGAN discriminator architecture)
regressor_epochs = None  # regressor epochs
loss = None  # l2 (the paper's) | smooth_l1
pool = None  # generated samples ranked by the regressor (50,000 in the paper)

# %% tags=["hide-cell"]
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import gandensity as gd
from gandensity.book import claims, plotting
from gandensity.book.chapter import start, wrap
from gandensity.book.specs import gan_spec
from gandensity.workflows import evaluation, regressors
from gandensity.workflows.training import train_gan
from gandensity.workflows.data import load

run = start("a2_sanity_checks", profile, data_root=data_root, device=device, seed=seed,
            triplets=triplets, regressor_width=regressor_width,
            regressor_epochs=regressor_epochs, loss=loss, pool=pool)
cfg, dev = run.config, run.device
gan_cfgs = {name: gan_spec(cfg, name, epochs=epochs, width=width)
            for name in ("mnist", "natural")}
reg_cfg = regressors.RegressorConfig(width=cfg.regressor_width,
                                     epochs=cfg.regressor_epochs, loss=cfg.loss)

# %% [markdown]
# ## The method (paper section 4)
#
# Density estimation with a GAN follows three steps:
#
# 1. train a GAN on a data set;
# 2. sample it to produce many triplets $(z, G(z), \log p(G(z)))$: a latent code, the image it generates and that
#    image's exact log-density, $\log p(z) - \tfrac12 \log\det(J^\top J)$ (chapter A1);
# 3. train a regressor network on the triplets, mapping images to log-densities.
#
# The regressor has the DCGAN discriminator's architecture without the final sigmoid (it predicts a real number,
# not a probability) and is trained on an L2 loss with Adam, learning rate $10^{-4}$ and betas $(0.5, 0.999)$;
# the paper also tried a smooth L1 loss (`loss` parameter) and found that it "did not affect the qualitative
# results significantly". Two details are ours: the targets are standardised by the training labels' mean and
# standard deviation (the labels' level and spread, printed below, are far from the unit scale a freshly
# initialised network outputs), which the
# regressor undoes, so it predicts nats; and a random tenth of the triplets is held out to measure the
# regressor's error against its labels. The paper samples "many triplets" without giving their number; exact
# densities cost one Jacobian of $n$ columns each ($n = 100$, the latent size), so this page samples
# {glue:text}`a2-triplets` per GAN, printed below with the rate at which they were computed.
#
# The two GANs are the paper's DCGAN. The digit GAN is chapter A1's, trained on the 4,000 training digits of
# MNIST-5k (real MNIST digits) at the `cpu` profile and loaded from the cache. The paper's natural-image GAN is
# trained on CIFAR-10; the `cpu` profile has no CIFAR-10 and uses its stand-in, 32x32 patches of the nine natural
# photographs that ship with scikit-image and scikit-learn (2,000 for training, 1,000 others held out). The
# stand-in has natural-image statistics but nine scenes and no object classes, so it is a much narrower
# distribution than CIFAR-10. Its GAN is narrower than the digit GAN and trained for more epochs (a natural-image
# GAN needs more updates than a digit GAN, and 2,000 patches give few per epoch), to fit the CPU budget; its
# samples are correspondingly rough: patches of colour and texture rather than recognisable scenes. The training
# summaries of both GANs:

# %%
gans, trains, tests = {}, {}, {}
for name, gcfg in gan_cfgs.items():
    gans[name], trains[name] = train_gan(gcfg, device=dev, verbose=False)
    tests[name] = gcfg.data.load("test")
    print(wrap(f"{name}: {gans[name].summary()}"))
    print(wrap(f"  data: {trains[name].description}; {len(trains[name].images)} "
               f"training, {len(tests[name].images)} held-out images"))
run.glue("a2-triplets", f"{cfg.triplets:,}")
rng = run.rng()
real, fake = {}, {}
for name, gan in gans.items():
    pick = torch.randperm(len(trains[name].images), generator=rng)[:cfg.grid]
    real[name] = trains[name].images[pick]
    z_grid = torch.randn(cfg.grid, gan.generator.config.latent_dim, generator=rng)
    with torch.no_grad():
        fake[name] = gan.generator(z_grid.to(dev)).cpu()

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for i, name in enumerate(gans):
    real_title, fake_title = f"real: {trains[name].name}", f"generated ({name} GAN)"
    plotting.image_grid(real[name], ax=axes[2 * i], title=real_title)
    plotting.image_grid(fake[name], ax=axes[2 * i + 1], title=fake_title)
fig.tight_layout()
run.figure("a2-gans", fig)

# %% [markdown]
# ```{glue:figure} a2-gans
# :name: fig-a2-gans
#
# Training images and samples of the digit GAN (left pair) and of the natural-image GAN (right pair).
# ```
#
# ## Triplets and pixel regressors
#
# For each GAN of {numref}`fig-a2-gans`, the triplets are sampled in one batched call: the images by the
# generator in batches, the exact log-densities by `gandensity.generator_log_density` (forward-mode Jacobians
# vectorised over samples and tangents, QR in float64). The rate printed is that of the exact densities in the
# run that built the regressor (a cached regressor reports the run that trained it).

# %%
regs = {name: regressors.regressor_for(gans[name].generator, "pixel",
                                        triplets=cfg.triplets, config=reg_cfg,
                                        chunk_size=cfg.chunk_size, device=dev)
        for name in gans}
accuracy = {name: claims.bootstrap(evaluation.pairs(r.heldout_predictions,
                                                    r.heldout_labels),
                                   evaluation.spearman_pairs, resamples=500)
            for name, r in regs.items()}
for name, r in regs.items():
    run.glue(f"a2-spearman-{name}", r.spearman, ".2f")
    run.glue(f"a2-r2-{name}", r.r2, ".2f");

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
for ax, (name, r) in zip(axes, regs.items()):
    y, p = r.heldout_labels.numpy(), r.heldout_predictions.numpy()
    ax.scatter(y, p, s=6, alpha=0.6)
    lims = [min(y.min(), p.min()), max(y.max(), p.max())]
    ax.plot(lims, lims, color="gray", lw=1)
    ax.set(xlabel=r"exact $\log p(G(z))$ [nats]", ylabel="predicted [nats]",
           title=f"{name} GAN: held-out triplets (R$^2$ {r.r2:.2f})")
for name, r in regs.items():
    rmse = r.history["heldout_rmse"]
    axes[2].plot(range(1, len(rmse) + 1), rmse, label=name)
axes[2].set(xlabel="epoch", ylabel="held-out RMSE [nats]", title="regressor training")
axes[2].legend()
fig.tight_layout()
run.figure("a2-regressors", fig)

# %% [markdown]
# ```{glue:figure} a2-regressors
# :name: fig-a2-regressors
#
# Predicted against exact log-densities of the held-out triplets, digit GAN (left) and natural-image GAN
# (middle), with the diagonal; held-out RMSE per epoch of training (right).
# ```
#
# On held-out triplets ({numref}`fig-a2-regressors`), the digit regressor's predictions have a rank
# correlation of {glue:text}`a2-spearman-mnist` with the exact densities ($R^2$ {glue:text}`a2-r2-mnist`),
# the natural-image regressor's {glue:text}`a2-spearman-natural` ($R^2$ {glue:text}`a2-r2-natural`).
#
# ## Sanity check 1: training and held-out images get the same densities (section 5.1)
#
# An over-fitted GAN or regressor would assign higher densities to the images it was trained on than to new
# images of the same distribution; an under-fitted one (missing modes) would leave held-out images with low
# densities. The paper plots histograms of the predicted log-densities of training and test images, not
# normalised (the test set is smaller, so its histogram is a scaled-down copy of the training one when both
# agree). The two-sample Kolmogorov-Smirnov statistic (the largest gap between the two empirical distribution
# functions, 0 for identical samples, 1 for disjoint ones) turns the picture into a number, with a bootstrap
# interval over images; for scale, it is also computed between the digits and a different set of handwritten
# digits (scikit-learn's 8x8 digits, upscaled), which the same regressor scores.

# %%
predicted = {name: {split: regressors.predict(regs[name].model, data.images.to(dev))
                    for split, data in (("train", trains[name]), ("test", tests[name]))}
             for name in gans}
other_digits = load("digits", channels=gan_cfgs["mnist"].data.channels)
predicted_other = regressors.predict(regs["mnist"].model, other_digits.images.to(dev))
ks = {name: claims.Estimate(*evaluation.bootstrap_two_sample(p["train"], p["test"],
                                                             evaluation.ks_distance))
      for name, p in predicted.items()}
ks_other = evaluation.ks_statistic(predicted["mnist"]["test"], predicted_other)[0]
for name, p in predicted.items():
    print(wrap(f"{name}: KS statistic train vs test {ks[name]:.3f}; mean predicted "
               f"log-density train {float(p['train'].mean()):.1f}, test "
               f"{float(p['test'].mean()):.1f} nats"))
print(f"mnist test digits vs scikit-learn digits: KS statistic {ks_other:.2f}")
run.glue("a2-ks-other", ks_other, ".2f");

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
for ax, (name, p) in zip(axes, predicted.items()):
    bins = np.histogram_bin_edges(torch.cat([p["train"], p["test"]]).numpy(), bins=50)
    for split in ("train", "test"):
        ax.hist(p[split].numpy(), bins=bins, alpha=0.6,
                label=f"{split} ({len(p[split])})")
    ax.set(xlabel="predicted log-density [nats]", ylabel="images",
           title=f"{trains[name].name}: KS statistic {ks[name].value:.3f}")
    ax.legend()
fig.tight_layout()
run.figure("a2-histograms", fig)

# %% [markdown]
# ```{glue:figure} a2-histograms
# :name: fig-a2-histograms
#
# Histograms of the predicted log-densities of training and held-out images, digits (left, the paper's
# Fig. 4) and natural images (right, the paper's Fig. 5), not normalised.
# ```
#
# The train and test histograms of {numref}`fig-a2-histograms` overlap; their KS statistics (printed above,
# and in the claims table) are small next to the {glue:text}`a2-ks-other` between MNIST test digits and
# another set of handwritten digits.
#
# ## Sanity check 2: random and least likely generated images (section 5.2)
#
# The paper draws 50,000 samples from each GAN, ranks them with the pixel regressor and shows the least likely
# next to random ones. The pool is scored in batches without keeping its images (only the shown ones are
# regenerated). Two numbers check what the pictures suggest: the exact densities of the regressor's least likely
# samples, computed now, against the exact densities of random samples (the held-out triplets); and how far the
# samples lie from the data, measured as the distance (root mean square over pixels) to the nearest real
# training image, for the least likely and for 1,000 random ones.

# %%
clock = time.perf_counter()
pools = {name: regressors.score_samples(gans[name].generator, regs[name].model,
                                        cfg.pool, seed=cfg.seed + 2) for name in gans}
pool_seconds = time.perf_counter() - clock
print(f"{len(pools)} pools of {cfg.pool:,} generated images scored in "
      f"{pool_seconds:.1f} s ({len(pools) * cfg.pool / pool_seconds:,.0f} images/s)")
least, exact_least, shown, distance = {}, {}, {}, {}
for name, (z, score) in pools.items():
    G = gans[name].generator
    least[name] = z[score.argsort()[:cfg.grid]]
    exact_least[name] = gd.generator_log_density(G, least[name].to(dev),
                                                 chunk_size=cfg.chunk_size).cpu()
    with torch.no_grad():
        shown[name] = {"random": G(z[:1000].to(dev)).cpu(),
                       "least likely": G(least[name].to(dev)).cpu()}
    distance[name] = {what: evaluation.nearest_distance(x, trains[name].images)
                      for what, x in shown[name].items()}
    random_exact = regs[name].heldout_labels
    print(wrap(f"{name}: exact log-density of the {cfg.grid} least likely: median "
               f"{float(exact_least[name].quantile(0.5)):.1f} nats; of random samples: "
               f"median {float(random_exact.quantile(0.5)):.1f}, 10th percentile "
               f"{float(random_exact.quantile(0.1)):.1f}. Distance to the nearest "
               f"training image: random {float(distance[name]['random'].mean()):.3f}, "
               f"least likely {float(distance[name]['least likely'].mean()):.3f}"))

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for i, name in enumerate(pools):
    plotting.image_grid(shown[name]["random"][:cfg.grid], ax=axes[2 * i],
                        title=f"random generated ({name})")
    plotting.image_grid(shown[name]["least likely"], ax=axes[2 * i + 1],
                        title=f"least likely of {cfg.pool:,} ({name})")
fig.tight_layout()
run.figure("a2-least-likely", fig)

# %% [markdown]
# ```{glue:figure} a2-least-likely
# :name: fig-a2-least-likely
#
# Random and least likely generated samples by the pixel regressor, digit GAN (left pair, the paper's
# Fig. 2) and natural-image GAN (right pair, the paper's Fig. 3).
# ```
#
# "Irregular" is judged by eye, in the paper as here ({numref}`fig-a2-least-likely`); what the numbers above
# test is that these samples have low exact densities and lie far from the training images.
#
# ## The paper's claims
#
# Each verdict comes from a 95% bootstrap interval: over images for the KS statistics, over the held-out
# triplets for the rank correlations, over the shown least likely samples for their distances and exact
# densities.

# %%
title = {"mnist": "digits", "natural": "natural images"}
scale = {name: f"{trains[name].name}, width-{gans[name].generator.config.width} DCGAN, "
               f"{cfg.triplets:,} triplets, pool of {cfg.pool:,}"
         for name in gans}
scale["mnist"] += "; paper: MNIST 32x32x3, 50,000 samples"
scale["natural"] += "; paper: CIFAR-10, 50,000 samples"

# Fails if the held-out rank correlation of either regressor has its interval at or
# below 0.5.
run.claim("000", "Sec. 5", "GAN-based density estimators make reasonable density "
          "predictions.",
          paper_value="These visualizations suggest that GAN-based density estimators "
                      "make reasonable density predictions",
          ours=f"Spearman {accuracy['mnist']:.2f} (digits), "
               f"{accuracy['natural']:.2f} (natural)",
          verdict=claims.all_of(*(claims.above(accuracy[name], 0.5,
                                               what=f"held-out Spearman ({name})")
                                  for name in gans)),
          scale=" | ".join(scale.values()))

# Fails if the KS statistic between train and test predictions has its interval at or
# above 0.1.
for name, fig_no in (("mnist", "Fig. 4"), ("natural", "Fig. 5")):
    run.claim("000", f"Sec. 5.1, {fig_no}",
              f"Train and test {title[name]} get the same distribution of densities.",
              paper_value="we see a very high degree of similarity between test and "
                          "train distributions",
              ours=ks[name], fmt=".3f",
              verdict=claims.below(ks[name], 0.1, what="KS statistic train vs test"),
              scale=scale[name])

# Fails if the least likely samples are not farther from the training images than random
# samples
# (interval of their mean distance not above the random mean) or if their exact log-
# densities are not
# low (interval of the median not below the 10th percentile of random samples' exact
# densities).
for name, fig_no in (("mnist", "Fig. 2"), ("natural", "Fig. 3")):
    far = claims.bootstrap(distance[name]["least likely"])
    low = claims.bootstrap(exact_least[name], np.median)
    run.claim("000", f"Sec. 5.2, {fig_no}",
              f"The least likely samples of the GAN on {title[name]} lie away from the "
              "modes of the distribution.",
              paper_value="the lowest probability outliers (selected from 50,000 GAN "
                          "random samples) are extremely irregular and clearly lie "
                          "away from the modes",
              ours=f"distance {far:.3f}; exact log-density {low:.0f}",
              verdict=claims.all_of(
                  claims.above(far, float(distance[name]["random"].mean()),
                               what="distance to data (least likely vs random)"),
                  claims.below(low, float(regs[name].heldout_labels.quantile(0.1)),
                               what="median exact log-density vs random 10%")),
              scale=scale[name])

# %%
run.show_claims()

# %% [markdown]
# Two caveats are specific to this page. The held-out natural patches come from other positions in the same nine
# photographs as the training patches, so their agreement is a weaker test than CIFAR-10's test set. And with
# {glue:text}`a2-triplets` triplets per regressor, its predictions are noisier than they would be with many more;
# what the next chapters take from them are rankings and large gaps between data sets, not individual values.

# %%
# NBVAL_CHECK_OUTPUT
print(run.verdicts())

# %%
run.finish(**{f"{name}_gan": gans[name] for name in gans},
           **{f"{name}_regressor": regs[name] for name in regs})
