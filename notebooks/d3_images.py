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
# # D3. LED on images
#
# *Paper 003 (LED), sections 3.2-3.3 and appendix E* {cite}`bendov2022`.
#
# On images, LED's critic $N_\theta$ is a DCGAN discriminator read as a density: $\log N_\theta(x)$ is its
# output, minus the energy of the input's component perpendicular to each convolution (section 2.2). Its
# normalizer is estimated with samples of a DCGAN-like generator whose density is tracked through its layers
# (appendix C.1; chapter D1). The paper reports bits per pixel of the test set from the critic, and bits per pixel
# of generated samples from both the generator's tracked density and the critic (its Table 2), for several
# numbers $K$ of samples in the normalizer, with and without the perpendicular term. This chapter trains those
# models, fills in Table 2 next to the paper's, and repeats the qualitative experiments: samples sorted by critic
# density (Fig. 4), far-out latents optimized to raise the critic score (appendix E.4) and interpolations
# (appendix E.3).
#
# **FID is not reported.** It needs the Inception-v3 weights of the TensorFlow FID code, which cannot be
# downloaded here. As a clearly labelled substitute (*not FID*), we report the mean distance from generated samples
# to their nearest training image.
#
# The chapter runs at one of three profiles (see {doc}`intro`): `smoke` (seconds), `cpu` (this published page:
# MNIST-5k at 16x16, 600 training steps per model) and `paper` (MNIST at 32x32 from `data_root`, 50,000 steps per
# model, $K \in \{1, 64, 256\}$; for CelebA pass `-p data celeba -p channels 3 -p image_size 64 -p shuffles 4`).
# The profile this page was executed with is printed below, and so is its runtime.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # directory with torchvision data sets (paper profile)
device = None  # cpu | cuda | auto; None keeps the profile's choice
seed = None  # None keeps the profile's seed
data = None  # mnist5k (cpu) | mnist | celeba (from data_root); None keeps the profile's
channels = None  # 1 for digits, 3 for CelebA
image_size = None  # 16 (cpu), 32 (MNIST), 64 (CelebA)
shuffles = None  # generator stages: 2 image_size / 2^shuffles is its first side (3 at 32, 4 at 64)
steps = None  # training steps per model
entropy_weight = None  # k of appendix B.4
alpha_samples = None  # generator samples in the final estimate of the normalizer
ascent_steps = None  # Adam steps on far-out latents (appendix E.4)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

import gandensity as gd
from gandensity.numerics import ais
from gandensity.workflows import evaluation, led
from gandensity.book import plotting
from gandensity.workflows.data import fingerprint, load

chapter_start = time.perf_counter()
cfg = gd.chapter_config("d3_images", profile, data_root=data_root, device=device, seed=seed, data=data,
                        channels=channels, image_size=image_size, shuffles=shuffles, steps=steps,
                        entropy_weight=entropy_weight, alpha_samples=alpha_samples, ascent_steps=ascent_steps)
if cfg.threads:
    torch.set_num_threads(cfg.threads)
dev = gd.resolve_device(cfg.device)
torch.manual_seed(cfg.seed)
print(f"profile: {cfg.profile}; device: {dev}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
print(cfg)

# %% [markdown]
# ## Data, models and the units of bits per pixel
#
# The generator (appendix C.1) maps $z \in \mathbb{R}^d$ through a square linear layer, pads it with
# $\mathcal{N}(0, I)$ noise to a small image with many channels, and then runs stages of circular convolution,
# batch norm, smooth ReLU and pixel shuffle, each doubling the side at the expense of channels. It ends at twice
# the target side and reduces to the target with Eq. 8. The critic is the DCGAN discriminator (strided 4x4
# convolutions, LeakyReLU) without batch norm, so that a density does not depend on the other images in the
# batch. Training follows appendix B: Adam with lr $10^{-3}$, the entropy weight $k$, and 10% of the critic's
# proposal samples replaced by $\mathcal{N}(0, I)$ draws.
#
# **Units.** A continuous density of 8-bit images is only meaningful after *dequantization*: each value is spread
# uniformly over its quantization bin (here, of width $2/256$ in $[-1, 1]$). Otherwise the many pixels that are
# exactly $-1$ let a density grow without bound. We train and evaluate on dequantized images and report
# **bits per dimension in the 8-bit convention**, $\text{bpd} = -\log p(x)/(D \ln 2) + \log_2 128$. A uniform
# density gives 8; a normalized density can never give less than 0, since the probability of the discrete image,
# $p(x)\,\Delta^D$, is at most 1. The paper computes $-\log p / (D \ln 2)$ without stating its pixel range or
# dequantization, so its figures and ours share a name but not necessarily a scale.

# %%
size, channels = cfg.image_size, cfg.channels
train = load(cfg.data, data_root=cfg.data_root, split="train", size=size, channels=channels)
test = load(cfg.data, data_root=cfg.data_root, split="test", size=size, channels=channels)
D = channels * size * size
level = 2 / 256  # one 8-bit level in [-1, 1]
dequant = torch.Generator().manual_seed(cfg.seed + 1)


def dequantize(images):
    return images + level * (torch.rand(images.shape, generator=dequant) - 0.5)


test_images = dequantize(test.images[:cfg.test_images]).to(dev)
print(f"train: {train.description}, {len(train.images)} images {tuple(train.images.shape[1:])}; "
      f"test: {len(test_images)} images")

# %% [markdown]
# ## Training the models of Table 2
#
# One model per $K$ in the configuration, with the perpendicular term, and one with the second $K$ without it
# (the paper's ablation).

# %%
settings = dict(cfg)
variants = {f"K = {K}": {"normalizer_samples": K} for K in cfg.normalizer_samples}
ablation_K = cfg.normalizer_samples[1]
variants[f"K = {ablation_K}, no perpendicular term"] = {"normalizer_samples": ablation_K, "perpendicular": False}
fits = {name: led.fit_images(train.images, fingerprint(train), settings, seed=cfg.seed, device=dev, **override)
        for name, override in variants.items()}
for name, fit in fits.items():
    print(f"{name}: {'loaded from the cache' if fit.from_cache else f'trained in {fit.seconds:.0f} s'}")

fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for name, fit in fits.items():
    for ax, key, title in zip(axes, ("critic_loss", "log_alpha", "log_pg"),
                              ("critic loss (Eq. 3, negated)", "training estimate of log α", "mean log P_G of samples")):
        ax.plot(fit.history[key].numpy(), label=name, lw=0.8)
        ax.set_title(title, fontsize=9); ax.set_xlabel("step")
axes[0].legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Table 2: bits per pixel
#
# For each model: the normalizer $\log\hat\alpha_\theta$ from `alpha_samples` generator samples (evaluation mode),
# the critic's bits per dimension of the test set, $-(\log N_\theta(x) - \log\hat\alpha_\theta)$ in bits, and of
# generated samples, from the generator's tracked density and from the critic. The substitute for FID (*not FID*)
# is the mean $\ell_2$ distance from 500 generated samples to their nearest training image; test images score
# the reference value.

# %%
def bpd(log_p):
    return ais.bits_per_dim(log_p.cpu(), D, scale=2.0)


rows, results = [], {}
reference_nn = evaluation.nearest_distance(test_images[:500].cpu(), train.images).mean().item()
for name, fit in fits.items():
    rng = torch.Generator(device=dev).manual_seed(cfg.seed + 2)
    with torch.no_grad():
        log_alpha = led.estimate_log_normalizer(fit.critic, fit.generator, cfg.alpha_samples, chunk=512,
                                                generator_rng=rng).item()
        test_bpd = torch.cat([bpd(fit.critic(x) - log_alpha) for x in test_images.split(500)])
        sample = fit.generator.sample(500, generator=rng)
        gen_bpd_generator = bpd(sample.log_density)
        gen_bpd_critic = bpd(fit.critic(sample.x) - log_alpha)
    nn_distance = evaluation.nearest_distance(sample.x.cpu(), train.images).mean().item()
    results[name] = {"log_alpha": log_alpha, "test": test_bpd, "gen_g": gen_bpd_generator, "gen_c": gen_bpd_critic,
                     "nn": nn_distance, "sample": sample}
    rows.append(f"| LED {name} (this page) | {nn_distance:.2f} | {test_bpd.mean().item():.2f} | "
                f"{gen_bpd_generator.mean().item():.2f} / {gen_bpd_critic.mean().item():.2f} | {log_alpha:.1f} |")
paper = [("DC-GAN", "5.6", "–", "–/–"), ("GLOW", "11", "–", "–/–"), ("Ours-1sa", "118", "0.509", "1.011 / 8.245"),
         ("Ours-64sa", "4.3", "0.546", "0.992 / 8.75"), ("Ours-256sa", "4.19", "0.530", "1.003 / 8.515")]
display(Markdown(
    "| model | FID (paper) / nearest-train distance, *not FID* (ours) | test b/p | sample b/p, generator / critic | log α̂ |\n"
    "|---|---|---|---|---|\n"
    + "\n".join(f"| {m} (paper's Table 2, MNIST 32x32) | {f} | {b} | {s} | |" for m, f, b, s in paper) + "\n"
    + "\n".join(rows) + f"\n| test images (reference for the distance) | {reference_nn:.2f} | | | |"))

# %%
# NBVAL_CHECK_OUTPUT
main = results[f"K = {ablation_K}"]
print(f"critic bits/dim finite for all {len(main['test'])} test digits: {bool(torch.isfinite(main['test']).all())}")
print(f"test bits/dim below 0, impossible for a normalized density (normalizer underestimated): "
      f"{main['test'].mean().item() < 0}")

# %% [markdown]
# The critic's bits per dimension of the test set are finite. For the model with the configuration's second $K$
# (the one the checks above and below use) they are below zero, which no normalized density of dequantized 8-bit
# images can reach. So its estimate $\hat\alpha_\theta$ is too small, by at least $-\text{bpd} \cdot D \ln 2$
# nats. This is the bias that chapter D2 measured against quadrature in two dimensions. The generator's tracked
# density overestimates (Eq. 8 and the training-mode batch norm), which makes the importance weights
# $N_\theta/\hat P_G$ too small. During training the critic exploits exactly this: it raises its density on the
# data while the too-small normalizer estimate hides the mass it creates. The generator's own bits per dimension
# of its samples are below zero for the same reason. Compare the rows of the table for the other models: with
# $K = 1$, the normalizer estimate ends huge instead, and the test images get about as many bits as under a
# uniform density (8), the drift chapter D2 shows for $K = 1$. The perpendicular ablation changes the figures,
# but none of them is a valid likelihood, so it cannot say which critic is the better density. The paper's
# bits per pixel use a different, unstated scale, so we do not compare them digit for digit. We note that the
# paper's figures come from the same estimator, and it reports no independent check of them. The samples are
# digit-like strokes after 600 steps, not clean digits (figure below), and the nearest-training-image distance of
# every model stays well above that of real test digits.

# %% [markdown]
# ## Test digits against other images
#
# A density estimator should give the test digits fewer bits than images unlike the training data. Even with a
# biased normalizer the *ranking* is meaningful, because the bias is the same constant for every image. We score,
# with the critic and normalizer of the model with the second $K$: scikit-learn's 8x8 digits (upscaled), patches of natural
# photographs (grayscale), single-colour images and uniform noise, all dequantized the same way.

# %%
ood_sets = {
    "sklearn digits": load("sklearn_digits", split="all", size=size, channels=channels).images,
    "photo patches": load("photo_patches", n=cfg.ood_images, size=size, channels=channels).images,
    "single colours": load("solid_colours", n=cfg.ood_images, size=size, channels=channels).images,
    "uniform noise": torch.rand(cfg.ood_images, channels, size, size, generator=dequant) * 2 - 1,
}
fit = fits[f"K = {ablation_K}"]
ood_bpd = {"MNIST test digits": main["test"]}
with torch.no_grad():
    for name, images in ood_sets.items():
        x = dequantize(images[:cfg.ood_images]).to(dev)
        ood_bpd[name] = bpd(fit.critic(x) - main["log_alpha"])
display(Markdown("| images | critic bits/dim, median | 10% | 90% |\n|---|---|---|---|\n" + "\n".join(
    f"| {n} | {v.median().item():.2f} | {v.quantile(0.1).item():.2f} | {v.quantile(0.9).item():.2f} |"
    for n, v in ood_bpd.items())))

# %%
# NBVAL_CHECK_OUTPUT
lower = {n: main["test"].median().item() < v.median().item() for n, v in ood_bpd.items() if n != "MNIST test digits"}
print(f"test digits get fewer critic bits/dim (median) than every other group: {all(lower.values())}")
print(f"per group: {lower}")

# %% [markdown]
# ## Samples sorted by critic density (Fig. 4)
#
# Generated samples of the second $K$'s model, sorted by their critic log-density (the paper shows the unnormalized
# log-likelihood above each image; ours is in the title of each panel).

# %%
sample = main["sample"]
with torch.no_grad():
    score = fit.critic(sample.x).cpu()
k = min(cfg.grid, len(score) // 3)
plotting.ranked_grids(sample.x.cpu(), score, k, label="critic log N")
plt.show()
print(f"critic log N of generated samples: highest {score.max().item():.0f}, median {score.median().item():.0f}, "
      f"lowest {score.min().item():.0f}")

# %% [markdown]
# As in the paper's Fig. 4, the samples the critic ranks lowest look worst: more scattered strokes and speckle.
# The ranking is a relative one; the absolute values carry the normalizer's bias.

# %% [markdown]
# ## Raising the critic score of far-out latents (appendix E.4)
#
# Latents far from the origin give poor samples. The paper starts from latents "between 1.5 and 3 $\sigma$" (its
# Fig. 12 says 4 $\sigma$) and optimizes them to maximize the critic's output. We draw $z = 3\varepsilon$
# (every coordinate at three standard deviations' scale), keep the generator's noise fixed, and run Adam on $z$.

# %%
rng = torch.Generator(device=dev).manual_seed(cfg.seed + 3)
n_far = 16
far = fit.generator.sample(n_far, generator=rng)
z_far = 3 * far.z
z_opt, trace = led.raise_critic_score(fit.generator, fit.critic, z_far, far.noises, steps=cfg.ascent_steps, lr=0.05)
with torch.no_grad():
    before = fit.generator(z_far, far.noises)[0].cpu()
    after = fit.generator(z_opt, far.noises)[0].cpu()
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
plotting.image_grid(before, ax=axes[0], title="z = 3 eps", nrow=8)
plotting.image_grid(after, ax=axes[1], title=f"after {cfg.ascent_steps} Adam steps on log N", nrow=8)
axes[2].plot(trace.mean(1).numpy()); axes[2].set_xlabel("step"); axes[2].set_title("mean critic log N", fontsize=9)
fig.tight_layout()
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print(f"optimizing far-out latents raises the mean critic log N: {trace[-1].mean().item() > trace[0].mean().item()}")

# %% [markdown]
# ## Interpolations (appendix E.3)
#
# Linear paths between two random latents, with the generator's noise held fixed along each row.

# %%
rows_, steps_ = 6, 8
ends = fit.generator.sample(2 * rows_, generator=rng)
t = torch.linspace(0, 1, steps_, device=dev)
z_path = ((1 - t)[None, :, None] * ends.z[:rows_, None] + t[None, :, None] * ends.z[rows_:, None]).reshape(-1, ends.z.shape[1])
noises = [n[:rows_].repeat_interleave(steps_, 0) for n in ends.noises]
with torch.no_grad():
    path_images = fit.generator(z_path, noises)[0].cpu()
plt.figure(figsize=(8, 6))
plotting.image_grid(path_images, nrow=steps_)
plt.show()

# %% [markdown]
# ## The paper and this page, side by side

# %%
display(Markdown(f"""
| | paper 003 (MNIST) | this page (`{cfg.profile}` profile) |
|---|---|---|
| data | MNIST 32x32, 500 epochs, Adam lr 1e-3 | {train.description}, {size}x{size}, {cfg.steps:,} steps, batch {cfg.batch_size} |
| FID | 118 (K = 1), 4.3 (K = 64), 4.19 (K = 256) | not computed (Inception weights unavailable offline) |
| test b/p | 0.509 / 0.546 / 0.530 | {' / '.join(f"{results[n]['test'].mean().item():.2f}" for n in variants if 'no perp' not in n)} (bits/dim, 8-bit convention) |
| perpendicular ablation | lower FID and b/p with the term | test bits/dim {results[f'K = {ablation_K}, no perpendicular term']['test'].mean().item():.2f} without, {main['test'].mean().item():.2f} with |
| sample b/p, generator / critic | about 1.0 / 8.2-8.8 | {' ; '.join(f"{results[n]['gen_g'].mean().item():.2f} / {results[n]['gen_c'].mean().item():.2f}" for n in variants)} |
| test digits vs other images | not reported | fewer bits than every other group: {all(lower.values())} |
| far-out latents (E.4) | optimization improves the images | mean critic log N from {trace[0].mean().item():.0f} to {trace[-1].mean().item():.0f} |
"""))

# %%
trained = sum(not f.from_cache for f in fits.values())
print(f"profile {cfg.profile}: chapter ran in {time.perf_counter() - chapter_start:.0f} s on {dev} "
      f"({trained} of {len(fits)} models trained in this run, {len(fits) - trained} loaded from the cache)")
