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
# # A3. Interpreting densities: everybody loves 1s
#
# *Paper 000 (Krusinga et al.), section 6* {cite}`krusinga2019`.
#
# Chapter A2 found the pixel regressors' densities sensible by the paper's sanity checks. This chapter asks what
# they mean for *real* images, and finds, as the paper does, that the answer is not what one would hope: the
# most likely digits are 1s, even for a GAN that never saw a 1, and a GAN trained on natural images finds digits
# more likely than natural images. Every claim is turned into a number (a share among the top-ranked images
# against its base rate, an AUROC) and into a look at why: how much of an image is plain background.
#
# The profile this page was executed with is printed below, and so is its runtime. The digit GAN is chapter A1's
# and the natural-image GAN and both pixel regressors are chapter A2's, loaded from the cache; the GAN without 1s
# is trained here.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # directory with torchvision data sets (paper profile)
device = None  # cpu | cuda | auto; None keeps the profile's choice
threads = None  # CPU threads for torch; None keeps the profile's
seed = None  # None keeps the profile's seed
epochs = None  # epochs of the GANs; None keeps the profile's
width = None  # width of the GANs (64 in the paper)
triplets = None  # triplets per pixel regressor (50,000 in the paper)
regressor_width = None  # width of the regressors
regressor_epochs = None  # regressor epochs
loss = None  # l2 (the paper's) | smooth_l1
top_k = None  # size of the top-ranked sets (1,024 in the paper's Fig. 8)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

import gandensity as gd
from gandensity.workflows import data, evaluation, regressors
from gandensity.book import plotting

chapter_start = time.perf_counter()
cfg = gd.chapter_config(
    "a3_interpreting_densities", profile, data_root=data_root, device=device, seed=seed, triplets=triplets,
    regressor_width=regressor_width, regressor_epochs=regressor_epochs, loss=loss, top_k=top_k, threads=threads)
dev = gd.resolve_device(cfg.device)
if cfg.threads:
    torch.set_num_threads(cfg.threads)
torch.manual_seed(cfg.seed)
gan_cfgs = {name: regressors.gan_config(cfg, name, epochs=epochs, width=width)
            for name in ("mnist", "mnist_without_1s", "natural")}
reg_cfg = regressors.RegressorConfig(width=cfg.regressor_width, epochs=cfg.regressor_epochs, loss=cfg.loss)
print(f"profile: {cfg.profile}; device: {dev}; torch {torch.__version__}, "
      f"{torch.get_num_threads()} threads")
print(cfg)


def pixel_regressor(gcfg, exclude=None):
    """A GAN of the configuration and its pixel regressor (both from the cache when built before)."""
    gan, train = regressors.gan_for(gcfg, exclude=exclude, device=dev)
    reg = regressors.regressor_for(gan.generator, "pixel", triplets=cfg.triplets, config=reg_cfg,
                                   chunk_size=cfg.chunk_size, device=dev)
    return gan, train, reg


# %% [markdown]
# ## Most and least likely real digits (section 6.1, Fig. 6)
#
# The digit GAN's pixel regressor scores the held-out real digits. The digit of each image is its true label.
# With ten balanced classes the base rate of 1s is 10%; the share of 1s among the top-$k$ says how strongly the
# density prefers them.

# %%
gan, train, reg = pixel_regressor(gan_cfgs["mnist"])
test = regressors.load_split(gan_cfgs["mnist"], "test")
k = min(cfg.top_k, len(test.labels) // 4)
score = regressors.predict(reg.model, test.images.to(dev))
order = score.argsort(descending=True)
base = float((test.labels == 1).double().mean())
share = {"all digits": (evaluation.top_k_share(score, test.labels, 1, k),
                        evaluation.top_k_share(score, test.labels, 1, k, lowest=True))}
fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
plotting.image_grid(test.images[order[:cfg.grid]], ax=axes[0], title="most likely real digits")
plotting.image_grid(test.images[order[-cfg.grid:].flip(0)], ax=axes[1], title="least likely real digits")
fig.tight_layout()
plt.show()
print(f"{len(test.labels)} test digits ({test.name}); base rate of 1s {base:.2f}")
print(f"share of 1s among the top-{k}: {share['all digits'][0]:.2f}; among the bottom-{k}: "
      f"{share['all digits'][1]:.2f}")
for name, idx in (("top", order[:k]), ("bottom", order[-k:])):
    print(f"digits 0-9 among the {name}-{k}:", evaluation.label_counts(test.labels[idx]))

# %%
# NBVAL_CHECK_OUTPUT
print(f"1s are over-represented among the top-{k} (share > 3x the base rate):", share["all digits"][0] > 3 * base)
print(f"the bottom-{k} hold fewer 1s than the base rate:", share["all digits"][1] < base)

# %% [markdown]
# ## A GAN trained without 1s (section 6.1, Fig. 7)
#
# If the density simply reflected what the GAN had seen, 1s should become outliers once they are removed from the
# training data. The paper trains its density model on MNIST without 1s and evaluates it on all test digits; the
# 1s are still the most likely. Here the same DCGAN (same architecture, optimiser and seed) is trained on the
# training digits without the 1s, and a pixel regressor is fitted on its triplets. At the `cpu` profile it trains
# for fewer epochs than chapter A1's GAN (printed below), to fit the chapter's budget.

# %%
gan_no1, train_no1, reg_no1 = pixel_regressor(gan_cfgs["mnist_without_1s"], exclude=1)
score_no1 = regressors.predict(reg_no1.model, test.images.to(dev))
order_no1 = score_no1.argsort(descending=True)
share["without 1s in training"] = (evaluation.top_k_share(score_no1, test.labels, 1, k),
                                   evaluation.top_k_share(score_no1, test.labels, 1, k, lowest=True))
is_one = test.labels == 1
auroc_one = {"all digits": evaluation.auroc(score, is_one),
             "without 1s in training": evaluation.auroc(score_no1, is_one)}
fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
with torch.no_grad():
    plotting.image_grid(gan_no1.generator(torch.randn(cfg.grid, 100, generator=torch.Generator().manual_seed(cfg.seed))
                                          .to(dev)).cpu(), ax=axes[0], title="generated (GAN without 1s)")
plotting.image_grid(test.images[order_no1[:cfg.grid]], ax=axes[1], title="most likely real digits")
plotting.image_grid(test.images[order_no1[-cfg.grid:].flip(0)], ax=axes[2], title="least likely real digits")
fig.tight_layout()
plt.show()
print(f"training digits without 1s: {len(train_no1.labels)} (1s in them: {int((train_no1.labels == 1).sum())})")
print(f"share of 1s among the top-{k}: {share['without 1s in training'][0]:.2f}; among the bottom-{k}: "
      f"{share['without 1s in training'][1]:.2f}")
print(f"digits 0-9 among the top-{k}:", evaluation.label_counts(test.labels[order_no1[:k]]))
for name, value in auroc_one.items():
    print(f"AUROC of 'is a 1' by density ({name}): {value:.2f}")

# %%
# NBVAL_CHECK_OUTPUT
print(f"without 1s in training, 1s are still over-represented among the top-{k} (share > 2x the base rate):",
      share["without 1s in training"][0] > 2 * base)
print("1s still score above other digits on average (AUROC > 0.5):", auroc_one["without 1s in training"] > 0.5)

# %% [markdown]
# ### Why? The black background
#
# The paper's explanation: most pixels of a 1 are black background, the most common pixel value of MNIST, so a 1
# lies close (in Euclidean distance) to many other digits. The share of an image's pixels that are background,
# and its mean intensity (ink), are two measures of that; their rank correlations with the predicted density say
# whether they explain it.

# %%
background = evaluation.background_fraction(test.images)
ink = evaluation.ink(test.images)
rho = {(name, what): evaluation.spearman(s, v) for name, s in (("all digits", score), ("without 1s", score_no1))
       for what, v in (("background", background), ("ink", ink))}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for ax, (name, s) in zip(axes, (("all digits", score), ("without 1s in training", score_no1))):
    colours = np.where(is_one.numpy(), "tab:red", "tab:blue")
    ax.scatter(background.numpy(), s.numpy(), s=5, c=colours, alpha=0.5)
    ax.set(xlabel="background fraction", ylabel="predicted log-density [nats]", title=f"GAN on {name} (red: 1s)")
fig.tight_layout()
plt.show()
for (name, what), value in rho.items():
    print(f"Spearman correlation of density with {what} ({name}): {value:.2f}")
print(f"background fraction: 1s {float(background[is_one].mean()):.2f}, other digits "
      f"{float(background[~is_one].mean()):.2f}")

# %%
# NBVAL_CHECK_OUTPUT
for name in ("all digits", "without 1s"):
    print(f"density rises with the background fraction ({name}; Spearman > 0.3):",
          rho[(name, "background")] > 0.3)

# %% [markdown]
# ## Natural images and digits together (section 6.2, Figs. 8 and 16)
#
# Chapter A2's natural-image GAN (CIFAR-10 in the paper, photo patches here) and its pixel regressor score held-out
# natural images and the test digits, converted to three channels. Natural images are the GAN's own distribution;
# an outlier detector based on density should rank them above the digits. The AUROC of "is a digit" by density
# is 0.5 for no separation, 1 when every digit is more likely than every natural image, 0 in the other order.

# %%
gan_nat, train_nat, reg_nat = pixel_regressor(gan_cfgs["natural"])
test_nat = regressors.load_split(gan_cfgs["natural"], "test")
digits3 = regressors.load_split(gan_cfgs["mnist"], "test", channels=gan_cfgs["natural"]["channels"])
both = torch.cat([test_nat.images, digits3.images])
is_digit = torch.cat([torch.zeros(len(test_nat.images), dtype=torch.bool),
                      torch.ones(len(digits3.images), dtype=torch.bool)])
score_both = regressors.predict(reg_nat.model, both.to(dev))
auroc_digit = evaluation.auroc(score_both, is_digit)
k_both = min(cfg.top_k, len(both) // 4)
order_both = score_both.argsort(descending=True)
digit_share = float(is_digit[order_both[:k_both]].double().mean())
digit_base = float(is_digit.double().mean())
top_both = order_both[:k_both]
digits_in_top = evaluation.label_counts(digits3.labels[top_both[is_digit[top_both]] - len(test_nat.images)])
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
bins = np.histogram_bin_edges(score_both.numpy(), bins=60)
axes[0].hist(score_both[~is_digit].numpy(), bins=bins, alpha=0.6, label=f"{test_nat.name} ({int((~is_digit).sum())})")
axes[0].hist(score_both[is_digit].numpy(), bins=bins, alpha=0.6, label=f"{digits3.name} ({int(is_digit.sum())})")
axes[0].set(xlabel="predicted log-density [nats]", ylabel="images",
            title=f"natural-image GAN's pixel regressor (AUROC digit: {auroc_digit:.2f})")
axes[0].legend()
plotting.image_grid(both[order_both[:min(k_both, 100)]], ax=axes[1],
                    title=f"most likely {min(k_both, 100)} of natural + digits")
fig.tight_layout()
plt.show()
print(f"AUROC of 'is a digit' by predicted density: {auroc_digit:.2f}")
print(f"digits among the top-{k_both}: {digit_share:.2f} (base rate {digit_base:.2f}); "
      f"digits 0-9 among them: {digits_in_top}")
print(f"median predicted log-density: natural {float(score_both[~is_digit].median()):.1f}, "
      f"digits {float(score_both[is_digit].median()):.1f} nats")

# %%
# NBVAL_CHECK_OUTPUT
print("digits are more likely than natural images under the natural-image GAN (AUROC > 0.5):", auroc_digit > 0.5)
print(f"digits are over-represented among the top-{k_both} (share > base rate):", digit_share > digit_base)

# %% [markdown]
# Why? A digit is mostly one flat, dark value. The background fraction (share of pixels within 0.1 of the image's
# darkest value) measures that for any image: near 1 for a digit or a patch of clear sky, low for a detailed
# scene. Across the combined set the rank correlation of density with it says how much of the ranking flatness
# explains; within the natural images alone it explains less, because a flat patch of a mid-grey wall is no more
# "background" by this measure than a sky, and the roughness below captures their difference better.

# %%
flat_both = evaluation.background_fraction(both)
rho_flat = {"natural + digits": evaluation.spearman(score_both, flat_both),
            "natural images only": evaluation.spearman(score_both[~is_digit], flat_both[~is_digit])}
ink_both = evaluation.ink(both)
print(f"background fraction: digits {float(flat_both[is_digit].mean()):.2f}, natural images "
      f"{float(flat_both[~is_digit].mean()):.2f}; mean intensity: digits {float(ink_both[is_digit].mean()):.2f}, "
      f"natural images {float(ink_both[~is_digit].mean()):.2f}")
for name, value in rho_flat.items():
    print(f"Spearman correlation of density with background fraction ({name}): {value:.2f}")

# %%
# NBVAL_CHECK_OUTPUT
print("digits are flatter than natural images (higher mean background fraction):",
      bool(flat_both[is_digit].mean() > flat_both[~is_digit].mean()))
print("density rises with the background fraction across natural images and digits (Spearman > 0.3):",
      rho_flat["natural + digits"] > 0.3)

# %% [markdown]
# ## Most and least likely natural images (Fig. 9)
#
# The paper's most likely CIFAR images show small objects on smooth, plain backgrounds (often blue skies), the
# least likely large, detailed foreground objects. The roughness of an image (mean absolute difference between
# neighbouring pixels) measures how much high-frequency content it has; if the paper's reading holds, density
# falls as roughness rises.

# %%
score_nat = score_both[~is_digit]
order_nat = score_nat.argsort(descending=True)
rough = evaluation.roughness(test_nat.images)
rho_rough = evaluation.spearman(score_nat, rough)
fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
plotting.image_grid(test_nat.images[order_nat[:cfg.grid]], ax=axes[0], title="most likely natural images")
plotting.image_grid(test_nat.images[order_nat[-cfg.grid:].flip(0)], ax=axes[1], title="least likely natural images")
axes[2].scatter(rough.numpy(), score_nat.numpy(), s=5, alpha=0.5)
axes[2].set(xlabel="roughness", ylabel="predicted log-density [nats]", title=f"Spearman {rho_rough:.2f}")
fig.tight_layout()
plt.show()
k_nat = min(cfg.top_k, len(order_nat) // 4)
print(f"roughness: top-{k_nat} {float(rough[order_nat[:k_nat]].mean()):.3f}, bottom-{k_nat} "
      f"{float(rough[order_nat[-k_nat:]].mean()):.3f}, all {float(rough.mean()):.3f}")
print(f"Spearman correlation of density with roughness (natural images): {rho_rough:.2f}")
if gan_cfgs["natural"]["data"] == "photo_patches":
    names = [ref.split(":")[1].split(".")[0] for ref in data.PHOTOS]
    means = [float(score_nat[test_nat.labels == p].mean()) for p in range(len(names))]
    print("mean predicted log-density by source photo:",
          ", ".join(f"{names[p]} {means[p]:.0f}" for p in np.argsort(means)[::-1]))

# %%
# NBVAL_CHECK_OUTPUT
print(f"the top-{k_nat} natural images are smoother than the bottom-{k_nat} (lower mean roughness):",
      bool(rough[order_nat[:k_nat]].mean() < rough[order_nat[-k_nat:]].mean()))
print("density falls as roughness rises (Spearman < 0):", rho_rough < 0)

# %% [markdown]
# The paper narrows this down to single CIFAR-10 classes, airplanes and cars (Figs. 10 and 11). The photo
# patches have no classes; on the `paper` profile, with CIFAR-10, the cell below shows them.

# %%
if gan_cfgs["natural"]["data"] == "cifar10":
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    for i, (cls, title) in enumerate(((0, "airplanes"), (1, "cars"))):
        idx = (test_nat.labels == cls).nonzero().flatten()
        o = idx[score_nat[idx].argsort(descending=True)]
        plotting.image_grid(test_nat.images[o[:cfg.grid]], ax=axes[2 * i], title=f"top {title}")
        plotting.image_grid(test_nat.images[o[-cfg.grid:].flip(0)], ax=axes[2 * i + 1], title=f"bottom {title}")
    fig.tight_layout()
    plt.show()
else:
    print(f"{test_nat.name} has no classes: no per-class grids on the {cfg.profile} profile")

# %% [markdown]
# ## The paper and this page, side by side

# %%
display(Markdown(f"""
| claim (paper section 6) | paper 000 | this page (`{cfg.profile}` profile) |
|---|---|---|
| most likely real digits (Fig. 6) | all 1s | share of 1s in the top-{k}: {share['all digits'][0]:.2f} (base rate {base:.2f}); AUROC of "is a 1" {auroc_one['all digits']:.2f} |
| least likely real digits | "loopy" digits | share of 1s in the bottom-{k}: {share['all digits'][1]:.2f} |
| GAN without 1s (Fig. 7) | the most likely test digits are still 1s | share of 1s in the top-{k}: {share['without 1s in training'][0]:.2f}; AUROC of "is a 1" {auroc_one['without 1s in training']:.2f} |
| why | 1s are mostly black background, close to many digits | Spearman of density with background fraction {rho[('all digits', 'background')]:.2f} (without 1s: {rho[('without 1s', 'background')]:.2f}) |
| natural-image GAN on natural images + digits (Figs. 8, 16) | digits far more likely; the top-1,024 are mostly digits | AUROC of "is a digit" {auroc_digit:.2f}; digits in the top-{k_both}: {digit_share:.2f} (base rate {digit_base:.2f}) |
| why | smooth, structured images lie near the centre of the distribution | Spearman of density with background fraction {rho_flat['natural + digits']:.2f} (natural images only: {rho_flat['natural images only']:.2f}) |
| most likely natural images (Fig. 9) | smooth backgrounds, small objects | mean roughness top-{k_nat} {float(rough[order_nat[:k_nat]].mean()):.3f}, bottom-{k_nat} {float(rough[order_nat[-k_nat:]].mean()):.3f}; Spearman of density with roughness {rho_rough:.2f} |
"""))

# %% [markdown]
# The densities behave as the paper describes: they reward images that are mostly plain background. A 1 covers
# the fewest pixels of any digit, so it sits closest to the mass of black pixels that every MNIST image shares,
# and that does not depend on having seen 1s. Digits, nearly all black, are flatter than almost any photograph, so
# the natural-image GAN finds them likelier than most of its own data. The density is highest where the
# distribution is compressed into a small volume, and that is where the simple images are, not where most images
# lie.
#
# Where this page differs from the paper, it differs in degree, not in direction:
#
# - The paper's most likely test digits are *all* 1s; here most of the top are 1s, with some 7s and other thin
#   digits among them. The regressor is trained on the profile's triplets (printed in the configuration) instead
#   of 50,000, and chapter A2 measured its error: its ranking of close candidates is noisier, and a thin 7 is
#   nearly as much background as a 1.
# - Without 1s in training, the paper's most likely digits are still 1s; here 1s remain several times their base
#   rate among the top and rank above other digits (the AUROC), but share the top with 7s and 9s. Besides the
#   smaller regressor, this GAN trained for fewer epochs than chapter A1's, to fit the budget.
# - The combined ranking agrees with the paper's Fig. 8: mostly digits, with a few extremely simple natural images
#   (here patches of clear sky, the flattest images of all) at the very top. The stand-in for CIFAR-10 is nine
#   photographs, some with large expanses of plain sky, and no object classes, so the paper's per-class views
#   (airplanes, cars) have no counterpart on this profile.

# %%
print(f"profile {cfg.profile}: chapter ran in {time.perf_counter() - chapter_start:.0f} s "
      f"on {dev} (trained here: " + (", ".join(
          name for name, m in (("digit GAN", gan), ("digit regressor", reg), ("GAN without 1s", gan_no1),
                               ("its regressor", reg_no1), ("natural GAN", gan_nat), ("natural regressor", reg_nat))
          if not m.from_cache) or "nothing, all from the cache") + ")")
