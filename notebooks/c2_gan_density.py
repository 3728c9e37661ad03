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
# # C2. Likelihoods of a GAN by annealed importance sampling
#
# *Paper 002 (Friedman & Weiss), sections 4.1-4.2 and appendix B* {cite}`friedman2024`.
#
# A GAN generator maps latents to an $n$-dimensional manifold in pixel space and has no density there. The paper
# adds an observation model, $x = G(z) + \mathcal{N}(0, \sigma^2 I)$, $z \sim \mathcal{N}(0, I)$, under which every
# image has a likelihood (paper Eq. 4),
#
# $$ p_\theta(x) = \int \mathcal{N}\big(x;\, G(z),\, \sigma^2 I\big)\, p(z)\, dz , $$
#
# estimates it by annealed importance sampling (AIS) {cite}`neal2001,wu2017`, and asks what the GAN's density
# prefers: test images of its own domain, or images from elsewhere? This chapter does the same for the MNIST DCGAN
# of chapter A1 (the same cached model): it fits $\sigma^2$, checks AIS against the bidirectional Monte Carlo
# sandwich on simulated data {cite}`grosse2015`, and compares the likelihoods of test, generated and
# out-of-distribution images.
#
# Profiles (see {doc}`intro`): `smoke` (seconds; numbers mean nothing), `cpu` (this page: MNIST-5k, AIS with 100
# steps and 2 chains on a few dozen images per group, under 3 minutes on 2 CPU cores) and `paper` (the paper's
# AIS settings, 500 steps, 4 chains and 10 leapfrog steps, on hundreds of images per group, meant for a GPU).

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # directory with torchvision data sets (paper profile)
device = None  # cpu | cuda | auto; None keeps the profile's choice
seed = None  # None keeps the profile's seed
epochs = None  # DCGAN epochs; None keeps the profile's
width = None  # DCGAN width (64 in the paper profile)
ais_steps = None  # AIS intermediate distributions (500 in the paper)
ais_chains = None  # AIS chains per image (4 in the paper)

# %%
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

import gandensity as gd
from gandensity.numerics import ais
from gandensity.workflows import evaluation, likelihoods
from gandensity.book import plotting
from gandensity.workflows.training import dcgan_for

chapter_start = time.perf_counter()
cfg = gd.chapter_config("c2_gan_density", profile, data_root=data_root, device=device, seed=seed, epochs=epochs,
                        width=width, ais_steps=ais_steps, ais_chains=ais_chains)
dev = gd.resolve_device(cfg.device)
if cfg.threads is not None:
    torch.set_num_threads(cfg.threads)
torch.manual_seed(cfg.seed)
print(f"profile: {cfg.profile}; device: {dev}; torch {torch.__version__}, {torch.get_num_threads()} threads")
print(cfg)

# %% [markdown]
# ## The generator and its observation noise
#
# The DCGAN is chapter A1's (MNIST-5k at 32x32, one channel at `cpu`; the model comes from the shared cache). The
# noise variance $\sigma^2$ is, as in the paper (section 4.1, appendix B.3), the variance of the reconstruction
# error of training images: each is projected onto the generator's manifold by GAN inversion,
# $z^* = \arg\min_z \lVert G(z) - x\rVert^2$ (Adam with a cosine schedule, started from the nearest of $K$
# generated samples, best of $R$ restarts: `gandensity.numerics.inversion.invert`), and $\sigma^2$ is the mean squared
# residual per pixel, the maximum-likelihood estimate of the noise variance given the projections. The paper reports
# it as a PSNR, $10 \log_{10}(1/\sigma^2)$ (its Table 3: 17-21 dB).

# %%
gan, train = dcgan_for(cfg, device=dev)
G = gan.generator.eval()
fit_images = train.images[torch.randperm(len(train.images), generator=torch.Generator().manual_seed(cfg.seed))
                          [:cfg.noise_images]].to(dev)
noise = likelihoods.noise_variance(G, fit_images, steps=cfg.noise_steps, restarts=cfg.noise_restarts,
                                   candidates=cfg.noise_candidates, seed=cfg.seed)
sigma2 = noise.sigma2
print(f"sigma2 = {sigma2:.4f} from {cfg.noise_images} training images ({cfg.noise_steps} Adam steps, "
      f"{cfg.noise_restarts} restarts from the nearest of {cfg.noise_candidates} samples); "
      f"PSNR {likelihoods.psnr(sigma2):.1f} dB; per-image error from {float(noise.errors.min()):.4f} "
      f"to {float(noise.errors.max()):.4f}")

# %%
# NBVAL_CHECK_OUTPUT
print("sigma2 is finite and positive:", bool(sigma2 > 0 and torch.isfinite(torch.tensor(sigma2))))

# %% [markdown]
# ## AIS, and how many steps it needs
#
# AIS anneals from the prior to the posterior through $\pi_t(z) \propto p(z)\,\mathcal{N}(x; G(z), \sigma^2 I)^{\beta_t}$
# on a sigmoid schedule of $\beta_t$, one Hamiltonian Monte Carlo step (10 leapfrog steps, adapted step size) per
# intermediate distribution, as in Wu et al.'s reference code that the paper follows (appendix B.1). Its estimate is
# a stochastic *lower* bound on $\log p(x)$ that tightens with more steps. On *simulated* data, $x = G(z) + $ noise
# with known $z$, running the chain backwards from the true $z$ gives a stochastic *upper* bound (bidirectional
# Monte Carlo); the true log-likelihood lies between the two, so their gap bounds the error of AIS. The paper
# chose 500 steps from a plot of the estimate against steps (its Fig. 9); here is that plot with the BDMC sandwich.

# %%
z_sim, x_sim = ais.simulate(G, cfg.bdmc_images, sigma2=sigma2, seed=cfg.seed + 7)
bounds = {}
for steps in cfg.bdmc_steps:
    b = ais.ais_bounds(G, z_sim, x_sim, sigma2=sigma2, steps=steps, chains=cfg.ais_chains, leapfrog=cfg.leapfrog,
                       seed=cfg.seed)
    bounds[steps] = (float(b.lower.mean()), float(b.upper.mean()), float(b.gap.mean()))
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(cfg.bdmc_steps, [v[0] for v in bounds.values()], "o-", label="forward AIS (lower bound)")
ax.plot(cfg.bdmc_steps, [v[1] for v in bounds.values()], "s-", label="reverse AIS from the true z (upper bound)")
ax.set(xscale="log", xlabel="AIS steps", ylabel=r"mean $\log p(x)$ [nats]",
       title=f"BDMC on {cfg.bdmc_images} simulated images")
ax.legend()
plt.show()
for steps, (lo, up, gap) in bounds.items():
    print(f"{steps:5d} steps: lower {lo:9.1f}, upper {up:9.1f}, gap {gap:8.1f} nats "
          f"({gap / (x_sim[0].numel() * 0.6931):.3f} bits/dim)")

# %%
# NBVAL_CHECK_OUTPUT
first, last = cfg.bdmc_steps[0], cfg.bdmc_steps[-1]
print("the BDMC gap shrinks with more AIS steps:", bounds[last][2] < bounds[first][2])
print("lower bound below upper bound at the most steps:", bounds[last][0] < bounds[last][1])

# %% [markdown]
# ## Likelihoods of test, generated and out-of-distribution images
#
# The groups: held-out MNIST-5k test digits and training digits; samples of the noisy model itself
# ($G(z)$ plus noise of variance $\sigma^2$); and three out-of-distribution (OOD) groups converted to the GAN's
# format (32x32, one channel): single-colour images (as in the paper), scikit-learn's 8x8 digits upscaled (a
# stand-in for the paper's SVHN: digits of another style), and patches of natural photographs.
#
# **Bits per dimension.** An 8-bit image in $[-1, 1]$ quantises each of its $D$ values into bins of width $2/256$;
# with uniform dequantization the probability of the discrete image is $p(x)(2/256)^D$, so
#
# $$ \text{bpd} = -\frac{\log p(x) + D \log(2/256)}{D \ln 2} , $$
#
# lower is better, and a uniform density over $[-1, 1]^D$ gives 8 bits. The paper's Table 1 reports
# "LL (bits/dim)", the negative of this (e.g. $-6.68$ for BigGAN on CIFAR-10); both are printed.

# %%
groups = likelihoods.image_groups(cfg, G, sigma2=sigma2)
D = groups["test"][0].numel()
ll, hits = {}, []
start = time.perf_counter()
for name, images in groups.items():
    ll[name], hit = likelihoods.log_likelihoods(G, images.to(dev), sigma2=sigma2, steps=cfg.ais_steps,
                                                chains=cfg.ais_chains, leapfrog=cfg.leapfrog, seed=cfg.seed)
    hits.append(hit)
bpd = {name: ais.bits_per_dim(v, D, scale=2) for name, v in ll.items()}
seconds, n_images = time.perf_counter() - start, sum(len(g) for g in groups.values())
print(f"AIS ({cfg.ais_steps} steps, {cfg.ais_chains} chains, {cfg.leapfrog} leapfrog) on "
      f"{n_images} images in {seconds:.0f} s ({sum(hits)} of {len(hits)} groups from the cache)")
if not any(hits):  # a throughput only when everything was computed in this run
    per_minute = 60 * n_images / seconds
    # The cost is linear in steps x chains x leapfrogs, so the paper's 500 x 4 x 10 scales it directly.
    paper_rate = per_minute * cfg.ais_steps * cfg.ais_chains * cfg.leapfrog / (500 * 4 * 10)
    print(f"throughput: {per_minute:.0f} images/min at these settings; at the paper's 500 steps x 4 chains about "
          f"{paper_rate:.1f} images/min on {dev} with {torch.get_num_threads()} thread(s)")
rows = "\n".join(f"| {name} | {len(groups[name])} | {float(ll[name].mean()):.0f} | {float(bpd[name].mean()):.2f} | "
                 f"{-float(bpd[name].mean()):.2f} | {float(bpd[name].std()):.2f} |" for name in groups)
display(Markdown("| group | images | mean log p(x) [nats] | mean bpd | LL (bits/dim), paper's sign | std bpd |\n"
                 "|---|---|---|---|---|---|\n" + rows))

# %%
fig, ax = plt.subplots(figsize=(8, 4))
for name in groups:
    ax.hist(-bpd[name].numpy(), bins=15, alpha=0.55, label=name)
ax.set(xlabel="log-likelihood [bits/dim] (higher is more likely)", ylabel="images",
       title="likelihoods under the MNIST DCGAN (paper Fig. 8 left)")
ax.legend()
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
ood = list(likelihoods.OOD_GROUPS)
print("every log-likelihood finite:", all(bool(torch.isfinite(v).all()) for v in ll.values()))
print("test and training digits within 0.5 bits/dim of each other:",
      abs(float(bpd["test"].mean()) - float(bpd["train"].mean())) < 0.5)
print("every OOD group less likely on average than the test digits (the paper finds the opposite):",
      all(float(ll[n].mean()) < float(ll["test"].mean()) for n in ood))

# %% [markdown]
# The generated images are samples of the noisy model itself, like the simulated images of the BDMC check above.
# There, at the `cpu` profile's step count, the AIS estimate (a lower bound) lies up to a few hundred nats below
# the reverse upper bound, the order of the difference between the generated and test groups: at this scale, the
# order of those two groups is not resolved.
#
# ## Outlier detection by likelihood
#
# If the GAN's density were a good model of digits, test digits would be more likely than OOD images, and the
# likelihood would separate them: an AUROC near 1 for "test digit vs. OOD" with the likelihood as score. An AUROC
# below 0.5 means the OOD images are *more* likely than the test digits (the paper's Fig. 7 right: most GANs are
# worse than chance).

# %%
auc = {}
for name in ood:
    scores = torch.cat([ll["test"], ll[name]])
    positive = torch.cat([torch.ones(len(ll["test"]), dtype=torch.bool), torch.zeros(len(ll[name]), dtype=torch.bool)])
    auc[name] = evaluation.auroc(scores, positive)
    print(f"AUROC test digits vs {name}: {auc[name]:.2f}")

# %% [markdown]
# ## Which images does the GAN find likely?
#
# The real images of all groups (test, training and OOD), ranked by log-likelihood, and the paper's measure of
# local variation (section 4.2, footnote 1): the coefficient of variation (standard deviation over mean) of each
# 8x8 patch, averaged over the image's patches (`evaluation.patch_coefficient_of_variation`; pixels in [0, 1], the
# mean offset by 0.01 so that black background patches count as flat, CV 0, instead of 0/0).

# %%
real = [n for n in groups if n != "generated"]
images = torch.cat([groups[n] for n in real])
scores = torch.cat([ll[n] for n in real])
fig = plotting.ranked_grids(images, scores, cfg.grid, label="log-likelihood", seed=cfg.seed)
plt.show()
cv = {n: evaluation.patch_coefficient_of_variation(groups[n]) for n in groups}
rho_all = evaluation.spearman(scores, torch.cat([cv[n] for n in real]))
digits = torch.cat([ll["test"], ll["train"]])
rho_digits = evaluation.spearman(digits, torch.cat([cv["test"], cv["train"]]))
fig, ax = plt.subplots(figsize=(6, 4))
for n in real:
    ax.scatter(cv[n].numpy(), -bpd[n].numpy(), s=12, label=n)
ax.set(xlabel="mean CV of 8x8 patches", ylabel="log-likelihood [bits/dim]", title="paper Fig. 8 right")
ax.legend()
plt.show()
print(f"Spearman(log-likelihood, patch CV): all real images {rho_all:.2f}, MNIST digits only {rho_digits:.2f}")
top = scores.argsort(descending=True)[:cfg.grid]
owner = [n for n in real for _ in range(len(groups[n]))]
print(f"groups of the {cfg.grid} most likely real images:", {n: [owner[i] for i in top].count(n) for n in real})

# %%
# NBVAL_CHECK_OUTPUT
print("within the MNIST digits, log-likelihood falls with patch variation (Spearman < -0.2):", rho_digits < -0.2)

# %% [markdown]
# ## The paper and this page, side by side

# %%
test_ll = -float(bpd["test"].mean())
display(Markdown(f"""
| | paper 002 | this page (`{cfg.profile}` profile) |
|---|---|---|
| model and data | BigGAN / StyleGAN-XL on CIFAR-10 and ImageNet, StyleGAN2-ADA on AFHQ | DCGAN (width {cfg.width}, {cfg.epochs} epochs) on {train.description} |
| observation noise | sigma2 = 0.008-0.021, PSNR 17-21 dB (Table 3) | sigma2 = {sigma2:.4f}, PSNR {likelihoods.psnr(sigma2):.1f} dB |
| AIS | 500 steps, 4 chains, 10 leapfrog, thousands of images | {cfg.ais_steps} steps, {cfg.ais_chains} chains, {cfg.leapfrog} leapfrog, {len(groups['test'])} test images |
| AIS check | estimate stable near 500 steps (Fig. 9) | BDMC gap {bounds[first][2]:.0f} nats at {first} steps, {bounds[last][2]:.0f} at {last} |
| test LL (bits/dim) | -6.68 BigGAN-DiffAug, -7.27 StyleGAN-XL (CIFAR-10); -7.59 BigGAN, -7.29 StyleGAN-XL (ImageNet); -7.75 StyleGAN2-ADA (AFHQ); Glow -3.35, DDPM++ -2.99 (Table 1) | {test_ll:.2f} (MNIST-5k test digits) |
| generated images | - | {-float(bpd['generated'].mean()):.2f} bits/dim |
| OOD images | single colours and SVHN more likely than test images (Fig. 8 left) | single colours {-float(bpd['single colours'].mean()):.2f}, sklearn digits {-float(bpd['sklearn digits'].mean()):.2f}, photo patches {-float(bpd['photo patches'].mean()):.2f} bits/dim |
| outlier AUROC by likelihood | mostly below 0.5 (Fig. 7 right) | {', '.join(f'{n} {a:.2f}' for n, a in auc.items())} |
| likelihood vs patch CV | anti-correlated (Fig. 8 right) | Spearman {rho_all:.2f} (all real images), {rho_digits:.2f} (digits only) |
"""))

# %% [markdown]
# The scale differs from the paper's in every respect: a small DCGAN on one-channel 32x32 digits instead of
# large GANs on colour images, and AIS at the `cpu` profile with a fifth of the paper's steps and half its
# chains on a few dozen images per group. The BDMC sandwich says that such short chains are still hundreds of nats
# (a few tenths of a bit per dimension) from converged on simulated images; real images, off the manifold, are
# harder still, so all estimates here are loose lower bounds. Bits per dimension of one-channel MNIST and of colour
# CIFAR-10 are not comparable as numbers either.
#
# Two of the paper's findings hold here. The test log-likelihood is of the order of the GANs' in the paper's
# Table 1 (printed above; $-6.7$ to $-7.8$ there), far below the $-3$ to $-3.8$ of Glow, DDPM++ and VDM, and within the digits the likelihood falls with the local
# variation of the image: thin, simple strokes on a black background are preferred (as for the exact densities of
# chapter A1). One does not: this DCGAN gives its out-of-distribution images *much lower* likelihoods than its
# test digits, and detects them almost perfectly. Its outputs are white strokes on black; a single-colour image,
# gray scikit-learn digit or photo patch differs from every one of them in most pixels, and with
# $\sigma^2 \approx 0.02$ the Gaussian observation term punishes that by thousands of nats: the most likely real
# images above are all digits. The paper's OOD sets were close to its GANs' manifolds (its section 3:
# single colours and SVHN are reconstructed *better* than training images); whether that happens is a property of
# the GAN and the data, and on MNIST it does not. Chapter C3 uses these likelihoods for the typicality test of
# section 4.3.

# %%
how = "from the cache" if gan.from_cache else "trained in this run"
print(f"profile {cfg.profile}: chapter ran in {time.perf_counter() - chapter_start:.0f} s "
      f"on {dev} (DCGAN {how})")
