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

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # directory with torchvision data sets (paper profile)
device = None  # cpu | cuda | auto; None keeps the profile's choice
threads = None  # CPU threads for torch; None keeps the profile's
seed = None  # None keeps the profile's seed
epochs = None  # epochs of both GANs; None keeps the profile's
width = None  # width of both GANs (64 in the paper)
triplets = None  # triplets (z, G(z), log p(G(z))) per regressor (50,000 in the paper)
regressor_width = None  # width of the regressors (the DCGAN discriminator's architecture)
regressor_epochs = None  # regressor epochs
loss = None  # l2 (the paper's) | smooth_l1
pool = None  # generated samples ranked by the regressor (50,000 in the paper)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

import gandensity as gd
from gandensity.workflows import evaluation, regressors
from gandensity.book import plotting
from gandensity.workflows.data import load

chapter_start = time.perf_counter()
cfg = gd.chapter_config(
    "a2_sanity_checks", profile, data_root=data_root, device=device, seed=seed, triplets=triplets,
    regressor_width=regressor_width, regressor_epochs=regressor_epochs, loss=loss, pool=pool, threads=threads)
dev = gd.resolve_device(cfg.device)
if cfg.threads:
    torch.set_num_threads(cfg.threads)
torch.manual_seed(cfg.seed)
gan_cfgs = {name: regressors.gan_config(cfg, name, epochs=epochs, width=width) for name in ("mnist", "natural")}
reg_cfg = regressors.RegressorConfig(width=cfg.regressor_width, epochs=cfg.regressor_epochs, loss=cfg.loss)
print(f"profile: {cfg.profile}; device: {dev}; torch {torch.__version__}, "
      f"{torch.get_num_threads()} threads")
print(cfg)

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
# the paper also tried a smooth L1 loss (`loss` parameter) and saw no qualitative difference. Two details are
# ours: the targets are standardised by the training labels' mean and standard deviation (log-densities are
# hundreds of nats, far from the scale a freshly initialised network outputs), which the regressor undoes, so it
# predicts nats; and a random tenth of the triplets is held out to measure the regressor's error against its
# labels. The paper samples 50,000 triplets; exact densities cost one Jacobian of $n = 100$ columns each, so the
# `cpu` profile samples what its budget allows, printed below with the rate at which they were computed.
#
# The two GANs are the paper's DCGAN. The digit GAN is chapter A1's, trained on the 4,000 training digits of
# MNIST-5k (real MNIST digits) and loaded from the cache. The paper's natural-image GAN is trained on CIFAR-10;
# the `cpu` profile has no CIFAR-10 and uses its stand-in, 32x32 patches of the nine natural photographs that
# ship with scikit-image and scikit-learn (2,000 for training, 1,000 others held out). The stand-in has natural-
# image statistics but nine scenes and no object classes, so it is a much narrower distribution than CIFAR-10.
# Its GAN is narrower than the digit GAN (width 16) and trained for more epochs (a natural-image GAN needs more
# updates than a digit GAN, and 2,000 patches give few per epoch), to fit the CPU budget; its samples are
# correspondingly rough: patches of colour and texture rather than recognisable scenes.

# %%
gans, trains, tests = {}, {}, {}
for name, gcfg in gan_cfgs.items():
    gans[name], trains[name] = regressors.gan_for(gcfg, device=dev)
    tests[name] = regressors.load_split(gcfg, "test")
rng = torch.Generator().manual_seed(cfg.seed)
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for i, name in enumerate(gans):
    real = trains[name].images[torch.randperm(len(trains[name].images), generator=rng)[:cfg.grid]]
    plotting.image_grid(real, ax=axes[2 * i], title=f"real: {trains[name].name}")
    with torch.no_grad():
        fake = gans[name].generator(torch.randn(cfg.grid, 100, generator=rng).to(dev)).cpu()
    plotting.image_grid(fake, ax=axes[2 * i + 1], title=f"generated ({name} GAN)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Triplets and pixel regressors
#
# For each GAN, the triplets are sampled in one batched call: the images by the generator in batches, the exact
# log-densities by `gandensity.generator_log_density` (forward-mode Jacobians vectorised over samples and
# tangents, QR in float64). The rate printed is that of the exact densities in the run that built the regressor
# (a cached regressor reports the run that trained it).

# %%
regs = {name: regressors.regressor_for(gans[name].generator, "pixel", triplets=cfg.triplets, config=reg_cfg,
                                        chunk_size=cfg.chunk_size, device=dev)
        for name in gans}
rate = {name: r.triplets / r.triplet_seconds for name, r in regs.items()}

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
for ax, (name, r) in zip(axes, regs.items()):
    y, p = r.heldout_labels.numpy(), r.heldout_predictions.numpy()
    ax.scatter(y, p, s=6, alpha=0.6)
    lims = [min(y.min(), p.min()), max(y.max(), p.max())]
    ax.plot(lims, lims, color="gray", lw=1)
    ax.set(xlabel=r"exact $\log p(G(z))$ [nats]", ylabel="predicted [nats]",
           title=f"{name} GAN: held-out triplets (R$^2$ {r.r2:.2f})")
for name, r in regs.items():
    axes[2].plot(range(1, len(r.history["heldout_rmse"]) + 1), r.history["heldout_rmse"], label=name)
axes[2].set(xlabel="epoch", ylabel="held-out RMSE [nats]", title="regressor training")
axes[2].legend()
fig.tight_layout()
plt.show()
for name, r in regs.items():
    print(f"{name}: held-out RMSE {r.rmse:.1f} nats against a label spread (std) of "
          f"{float(r.heldout_labels.std()):.1f} nats; R^2 {r.r2:.2f}; Spearman {r.spearman:.2f}")

# %%
# NBVAL_CHECK_OUTPUT
for name, r in regs.items():
    print(f"{name}: the pixel regressor ranks held-out samples like their exact densities "
          f"(Spearman > 0.5): {r.spearman > 0.5}")
    print(f"{name}: its error is below the labels' spread (RMSE < std): "
          f"{r.rmse < float(r.heldout_labels.std())}")

# %% [markdown]
# ## Sanity check 1: training and held-out images get the same densities (section 5.1)
#
# An over-fitted GAN or regressor would assign higher densities to the images it was trained on than to new
# images of the same distribution; an under-fitted one (missing modes) would leave held-out images with low
# densities. The paper plots histograms of the predicted log-densities of training and test images, not normalised
# (the test set is smaller, so its histogram is a scaled-down copy of the training one when both agree). The
# two-sample Kolmogorov-Smirnov statistic (the largest gap between the two empirical distribution functions,
# 0 for identical samples, 1 for disjoint ones) turns the picture into a number; for scale, it is also computed
# between the digits and a different set of handwritten digits (scikit-learn's 8x8 digits, upscaled), which the
# same regressor scores.

# %%
predicted = {name: {split: regressors.predict(regs[name].model, data.images.to(dev))
                    for split, data in (("train", trains[name]), ("test", tests[name]))}
             for name in gans}
other_digits = load("digits", channels=gan_cfgs["mnist"]["channels"])
predicted["mnist"]["other"] = regressors.predict(regs["mnist"].model, other_digits.images.to(dev))
ks = {name: evaluation.ks_statistic(p["train"], p["test"]) for name, p in predicted.items()}
ks_other = evaluation.ks_statistic(predicted["mnist"]["test"], predicted["mnist"]["other"])[0]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
for ax, (name, p) in zip(axes, predicted.items()):
    bins = np.histogram_bin_edges(torch.cat([p["train"], p["test"]]).numpy(), bins=50)
    ax.hist(p["train"].numpy(), bins=bins, alpha=0.6, label=f"train ({len(p['train'])})")
    ax.hist(p["test"].numpy(), bins=bins, alpha=0.6, label=f"test ({len(p['test'])})")
    ax.set(xlabel="predicted log-density [nats]", ylabel="images",
           title=f"{trains[name].name.split('-')[0]}: KS statistic {ks[name][0]:.3f}")
    ax.legend()
fig.tight_layout()
plt.show()
for name, (stat, p_value) in ks.items():
    print(f"{name}: KS statistic train vs test {stat:.3f} (p-value {p_value:.2f}); "
          f"mean predicted log-density train {float(predicted[name]['train'].mean()):.1f}, "
          f"test {float(predicted[name]['test'].mean()):.1f} nats")
print(f"mnist test digits vs scikit-learn digits: KS statistic {ks_other:.2f}")

# %%
# NBVAL_CHECK_OUTPUT
for name, (stat, _) in ks.items():
    print(f"{name}: train and test histograms agree (KS statistic < 0.1): {stat < 0.1}")
print("the train/test gap is small next to a change of digit data set (KS < 1/3 of it):",
      ks["mnist"][0] < ks_other / 3)

# %% [markdown]
# ## Sanity check 2: random and least likely generated images (section 5.2)
#
# The paper draws 50,000 samples from each GAN, ranks them with the pixel regressor and shows the least likely
# next to random ones. The pool is scored in batches without keeping its images (only the shown ones are
# regenerated). Two numbers check what the pictures suggest: the exact densities of the regressor's least likely
# samples, computed now, against the exact densities of random samples (the held-out triplets); and how far the
# samples lie from the data, measured as the distance (root mean square over pixels) to the nearest real training
# image, for the least likely and for 1,000 random ones.

# %%
start = time.perf_counter()
pools = {name: regressors.score_samples(gans[name].generator, regs[name].model, cfg.pool, seed=cfg.seed + 2)
         for name in gans}
pool_seconds = time.perf_counter() - start
print(f"{len(pools)} pools of {cfg.pool:,} generated images scored in {pool_seconds:.1f} s "
      f"({len(pools) * cfg.pool / pool_seconds:,.0f} images/s)")
least, exact_least = {}, {}
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for i, (name, (z, score)) in enumerate(pools.items()):
    G = gans[name].generator
    least[name] = z[score.argsort()[:cfg.grid]]
    exact_least[name] = gd.generator_log_density(G, least[name].to(dev), chunk_size=cfg.chunk_size).cpu()
    with torch.no_grad():
        plotting.image_grid(G(z[:cfg.grid].to(dev)).cpu(), ax=axes[2 * i], title=f"random generated ({name})")
        plotting.image_grid(G(least[name].to(dev)).cpu(), ax=axes[2 * i + 1],
                            title=f"least likely of {cfg.pool:,} ({name})")
fig.tight_layout()
plt.show()

# %%
distance = {}
for name, G in ((name, gans[name].generator) for name in gans):
    with torch.no_grad():
        shown = {"random": G(pools[name][0][:1000].to(dev)).cpu(), "least likely": G(least[name].to(dev)).cpu()}
    distance[name] = {what: evaluation.nearest_distance(x, trains[name].images) for what, x in shown.items()}
    print(f"{name}: distance to the nearest training image, random {float(distance[name]['random'].mean()):.3f}, "
          f"least likely {float(distance[name]['least likely'].mean()):.3f}")
below = {}
for name, r in regs.items():
    random_exact = r.heldout_labels
    below[name] = float((exact_least[name].median() > random_exact).double().mean())
    print(f"{name}: exact log-density of the {cfg.grid} least likely: median {float(exact_least[name].median()):.1f} "
          f"nats; of random samples: median {float(random_exact.median()):.1f}, "
          f"5th percentile {float(random_exact.quantile(0.05)):.1f}; the median least likely sample is below "
          f"{100 * (1 - below[name]):.0f}% of random ones")

# %%
# NBVAL_CHECK_OUTPUT
for name in regs:
    print(f"{name}: the regressor's least likely samples are exactly unlikely too "
          f"(median below the 10th percentile of random samples): {below[name] < 0.1}")
    print(f"{name}: they lie farther from the training images than random samples:",
          bool(distance[name]["least likely"].mean() > distance[name]["random"].mean()))

# %% [markdown]
# ## The paper and this page, side by side

# %%
display(Markdown(f"""
| | paper 000 | this page (`{cfg.profile}` profile) |
|---|---|---|
| data | MNIST (32x32x3) and CIFAR-10 | {trains['mnist'].description}; {trains['natural'].description} |
| triplets per regressor | 50,000 | {cfg.triplets:,}, exact densities at {rate['mnist']:.0f} (digits) and {rate['natural']:.0f} (natural) samples/s |
| regressor | DCGAN discriminator, no sigmoid, L2, Adam 1e-4 | the same at width {cfg.regressor_width}, {cfg.regressor_epochs} epochs, loss {cfg.loss} |
| held-out error | not reported | digits: RMSE {regs['mnist'].rmse:.1f} nats (label std {float(regs['mnist'].heldout_labels.std()):.1f}), Spearman {regs['mnist'].spearman:.2f}; natural: RMSE {regs['natural'].rmse:.1f} (std {float(regs['natural'].heldout_labels.std()):.1f}), Spearman {regs['natural'].spearman:.2f} |
| train vs test histograms (Figs. 4, 5) | "a very high degree of similarity" | KS statistic digits {ks['mnist'][0]:.3f}, natural {ks['natural'][0]:.3f} (digits vs another digit set: {ks_other:.2f}) |
| least likely generated (Figs. 2, 3) | out of 50,000: "extremely irregular", "away from the modes" | out of {cfg.pool:,}; distance to the nearest training image {float(distance['mnist']['least likely'].mean()):.2f} against {float(distance['mnist']['random'].mean()):.2f} for random samples (digits), {float(distance['natural']['least likely'].mean()):.2f} against {float(distance['natural']['random'].mean()):.2f} (natural) |
"""))

# %% [markdown]
# "Irregular" is judged by eye, in the paper as here (the least likely digits are heavy, loopy strokes; the least
# likely natural samples busy, high-frequency textures); what the numbers confirm is that these samples have low
# exact densities and lie far from the training images.
#
# Both sanity checks pass here as in the paper: the regressors reproduce the ranking of their exact labels on
# held-out samples, give training and held-out images the same distribution of densities, and find irregular
# samples at the bottom of the ranking. Two caveats are specific to this page. The held-out natural patches come
# from other positions in the same nine photographs as the training patches, so their agreement is a weaker test
# than CIFAR-10's test set. And with a few thousand triplets instead of 50,000, the regressor's predictions are
# noisier than the paper's; what the next chapters take from them are rankings and large gaps between data sets,
# not individual values.

# %%
print(f"profile {cfg.profile}: chapter ran in {time.perf_counter() - chapter_start:.0f} s "
      f"on {dev} (models: " + ", ".join(
          f"{name} GAN {'cached' if gans[name].from_cache else 'trained'}, "
          f"regressor {'cached' if regs[name].from_cache else 'trained'}" for name in gans) + ")")
