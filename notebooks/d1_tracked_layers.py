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
# # D1. Density-tracking layers
#
# *Paper 003 (LED), section 2.1 and appendix A* {cite}`bendov2022`.
#
# LED needs the density $P_G(y)$ of every sample $y$ its generator produces: it weighs the critic's output by
# $1/P_G(y)$ to estimate the critic's normalizing constant, and the generator maximizes the entropy
# $-\mathbb{E}\log P_G$. A GAN generator is not a bijection, so the paper builds it from layers whose output density
# follows from their input density, a "non-invertible flow": square linear layers, a smooth ReLU, circular
# convolutions, batch norm, layers that add noise dimensions and layers that drop dimensions. Every one of them
# must be right, because an error in one layer's bookkeeping shifts every likelihood downstream and nothing else
# would reveal it. This chapter derives each layer's rule and checks it against brute force.
#
# The chapter runs at one of three profiles (see {doc}`intro`): `smoke` (seconds), `cpu` (this published page) and
# `paper` (more checks and a larger Monte Carlo sample). Nothing is trained here; the profile this page was
# executed with is printed below, and so is its runtime.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # unused: everything here is defined in code
device = None  # checks run on the CPU in float64
seed = None  # None keeps the profile's seed
checks = None  # samples per layer checked against the dense Jacobian
mc_samples = None  # samples of the Monte Carlo check of Eq. 8

# %% tags=["hide-cell"]
import math
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display

from gandensity.book import claims
from gandensity.book.chapter import start, wrap
from gandensity.numerics import tracked, validation

run = start(
    "d1_tracked_layers",
    profile,
    data_root=data_root,
    device=device,
    seed=seed,
    checks=checks,
    mc_samples=mc_samples,
)
cfg = run.config
torch.set_default_dtype(
    torch.float64
)  # brute-force references in float64: errors are the method's

# %% [markdown]
# ## Tracking a density through layers
#
# Write the generator as layers $t_k = g_k(u_k)$, each fed by the previous one. If $g_k$ is a differentiable
# bijection of $\mathbb{R}^o$, the change of variables gives the output density from the input density
# (paper Eq. 6):
#
# $$ \log P(t_k) = \log P(u_k) - \log\left|\det \frac{\partial g_k}{\partial u_k}\right| . $$
#
# The layers and their log-determinants (appendix A):
#
# - **square linear** $t = W u + b$: $\log|\det W|$, by `slogdet` ($W$ must stay full rank; the entropy term of the
#   generator's objective pushes it away from singular matrices);
# - **smooth ReLU** (Eq. 10), $L(u) = \tfrac1\alpha \log\big(e^{\alpha(u-u_0)} + e^{\beta(u-u_0)}\big) - t_0$ with
#   $\alpha = 5.8$, $\beta = 1$: elementwise, so the Jacobian is diagonal with entries $L'(u)$ (Eq. 11), which run
#   from $\beta/\alpha$ to 1;
# - **circular convolution** (appendix A.3): the DFT block-diagonalizes it, so its log-determinant is
#   $\sum_{\omega} \log|\det \hat K(\omega)|$ over the $H W$ frequencies, $\hat K(\omega)$ the $C \times C$ matrix of
#   the kernel's 2-D DFT at $\omega$ {cite}`sedghi2019`, instead of one determinant of a $(CHW)^2$ matrix;
# - **batch norm** (Eq. 12): $\gamma/\sqrt{\mathrm{Var}[u] + \epsilon}$ per coordinate (Eq. 13), *treating the batch
#   statistics as constants*, an approximation examined below;
# - **pixel shuffle** (trading 4 channels for twice the side, appendix C.1): a permutation, $\log|\det| = 0$.
#
# **Adding dimensions** (Eq. 7): concatenate independent noise $a \sim \mathcal{N}(0, \sigma^2 I)$,
# $\log P([u \,\|\, a]) = \log P(u) + \log \mathcal{N}(a; 0, \sigma^2 I)$. Copying a neighbour and adding noise,
# $[u \,\|\, u + a]$, is the same plus a unit-determinant shear; for images this is nearest-neighbour upsampling with
# noise (appendix A.5).
#
# **Dropping dimensions** (Eq. 8): to go from $t = [t^1 \,\|\, t^2]$ to $t^1$ one must marginalize,
# $P(t^1) = \int P(t^1, t^2)\, dt^2$, which is intractable. The paper assumes that a dropped coordinate is Gaussian
# around its kept neighbour, $P(t^2 \mid t^1) = \mathcal{N}(t^2; t^1, \sigma^2 I)$, so that
# $\log P(t^1) = \log P(t^1, t^2) - \log \mathcal{N}(t^2; t^1, \sigma^2 I)$, exact only when the assumption holds.
#
# In `gandensity.numerics.tracked` every layer maps `(x, log_density)` to `(y, log_density)`; noise layers also take
# their standard-normal draws, so that a generator is a deterministic function of its latent $z$ and its noise, and
# can be checked against a dense Jacobian.

# %% [markdown]
# ## Every layer against brute force
#
# For each layer we draw random inputs and a random input log-density, run the layer, and compare its output
# log-density with the brute-force one: treat the layer as a map of its input and its noise draws $\varepsilon$,
# form the dense Jacobian by reverse-mode autodiff, and compute
# $\log P(x) + \log \mathcal{N}(\varepsilon; 0, I) - \log|\det J|$ with `slogdet` in float64. Batch norm runs in
# evaluation mode (running statistics, random here); in training mode one sample's output depends on the others.

# %%
g = run.rng()


def randn(
    *shape,
):  # standard-normal draws from the chapter's seeded generator (plot-free helper)
    return torch.randn(*shape, generator=g)


bn_vec, bn_img = tracked.BatchNorm(6), tracked.BatchNorm(3)
for bn in (bn_vec, bn_img):  # random running statistics and a sign-changing scale
    c = bn.num_features
    bn.running_mean.copy_(randn(c))
    bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
    bn.weight.data.copy_(randn(c))
    bn.bias.data.copy_(randn(c))
    bn.eval()
conv = tracked.CircularConv2d(3, 3)
conv.weight.data.copy_(
    0.3 * randn(3, 3, 3, 3)
)  # a generic kernel, not the near-identity init
layers = [
    ("square linear", tracked.Linear(6), (6,)),
    ("smooth ReLU (Eq. 10)", tracked.SmoothReLU(), (2, 3, 3)),
    ("circular convolution 3x3", conv, (3, 5, 6)),
    ("batch norm, vectors (eval)", bn_vec, (6,)),
    ("batch norm, images (eval)", bn_img, (3, 4, 4)),
    ("noise padding (Eq. 7)", tracked.NoisePad((2, 3, 3), sigma=0.5), (5,)),
    ("copy + noise (Eq. 7)", tracked.CopyInflate(0.3), (4,)),
    (
        "nearest-neighbour upsampling + noise",
        tracked.NeighbourUpsample2d(0.2),
        (2, 3, 3),
    ),
    ("pixel shuffle", tracked.PixelShuffle(), (8, 2, 3)),
]
rows = []
for name, layer, shape in layers:
    x, log_p = randn(cfg.checks, *shape), randn(cfg.checks)
    ns = layer.noise_shape(shape)
    eps = None if ns is None else randn(cfg.checks, *ns)
    y, tracked_log_p = layer(x, log_p, eps)
    reference = validation.tracked_layer_reference(layer, x, log_p, eps)
    rows.append(
        {
            "layer": name,
            "input": str(tuple(shape)),
            "output": str(tuple(y.shape[1:])),
            "max abs error (nats)": (tracked_log_p - reference).abs().max().item(),
        }
    )
layer_table = pd.DataFrame(rows)
display(layer_table.style.format({"max abs error (nats)": "{:.1e}"}).hide(axis="index"))
layer_error = layer_table["max abs error (nats)"].max()
run.glue("d1-layer-error", layer_error, ".0e")

# %% [markdown]
# The largest error over all layers and samples is {glue:text}`d1-layer-error` nats: float64 round-off.
# These checks, with more layers and shapes, are the unit tests of `tests/test_tracked.py`.
#
# ## The smooth ReLU
#
# The activation must be a bijection, so ReLU's flat half is replaced by a slope of
# $\beta/\alpha \approx 0.17$ (paper Fig. 6); $t_0 = \log(2)/\alpha$ puts $L(u_0) = 0$.

# %%
act = tracked.SmoothReLU()
u = torch.linspace(-3, 3, 601)
out, log_slope = act(u[:, None], torch.zeros(601))
slope = torch.exp(-log_slope)  # the layer subtracts log L'(u)
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].plot(u, out[:, 0], label="L(u), α = 5.8, β = 1")
axes[0].plot(u, u.clamp_min(0), "--", label="ReLU")
axes[0].legend()
axes[0].set_xlabel("u")
axes[1].plot(u, slope)
axes[1].set_xlabel("u")
axes[1].set_ylabel("L'(u)")
axes[1].axhline(1 / 5.8, ls=":", c="gray")
fig.tight_layout()
run.figure("d1-smooth-relu", fig)

# %% [markdown]
# ```{glue:figure} d1-smooth-relu
# :name: fig-d1-smooth-relu
#
# The smooth ReLU of Eq. 10 with $\alpha = 5.8$, $\beta = 1$ (left, ReLU dashed) and its slope
# $L'(u)$ of Eq. 11 (right), which runs from $\beta/\alpha$ (dotted) to 1.
# ```
#
# {numref}`fig-d1-smooth-relu` shows the activation next to ReLU: a slope approaching 1 for positive inputs
# (the paper's "constant slope of 1" holds from about $u = 1$ on), and a slope of $\beta/\alpha$ far on the
# negative side, so that the layer stays invertible.

# %% [markdown]
# ## Circular convolution: the FFT route against the dense matrix
#
# The FFT route needs one 2-D FFT of the kernel and $HW$ determinants of $C \times C$ matrices; the dense
# route builds the $(CHW) \times (CHW)$ matrix of the convolution (one column per basis image) and takes
# its determinant. Both on random 3x3 kernels, for growing sizes:

# %%
rows = []
for channels, side in cfg.conv_sizes:
    layer = tracked.CircularConv2d(channels, 3)
    layer.weight.data.copy_(0.3 * randn(channels, channels, 3, 3))
    clock = time.perf_counter()
    fft = tracked.circular_conv_logdet(layer.weight, side, side).item()
    t_fft = time.perf_counter() - clock
    clock = time.perf_counter()
    dense = validation.dense_conv_logdet(layer, channels, side, side).item()
    t_dense = time.perf_counter() - clock
    rows.append(
        {
            "C x H x W": f"{channels} x {side} x {side}",
            "matrix side": channels * side * side,
            "FFT log-det": fft,
            "dense log-det": dense,
            "relative difference": abs(fft - dense) / max(abs(dense), 1.0),
            "FFT (ms)": 1e3 * t_fft,
            "dense (ms)": 1e3 * t_dense,
        }
    )
conv_table = pd.DataFrame(rows)
display(
    conv_table.style.format(
        {
            "FFT log-det": "{:.6f}",
            "dense log-det": "{:.6f}",
            "relative difference": "{:.1e}",
            "FFT (ms)": "{:.2f}",
            "dense (ms)": "{:.1f}",
        }
    ).hide(axis="index")
)
conv_difference = conv_table["relative difference"].max()
speedup = conv_table["dense (ms)"].iloc[-1] / conv_table["FFT (ms)"].iloc[-1]
run.glue("d1-conv-difference", conv_difference, ".0e")
run.glue("d1-conv-speedup", speedup, ".0f")

# %% [markdown]
# The two routes agree to a relative {glue:text}`d1-conv-difference` at every size, and at the largest
# size the FFT route is {glue:text}`d1-conv-speedup` times faster. Asymptotically the dense route grows as
# $(CHW)^3$ and the FFT route as $HW\,C^3$, which is why LED can afford convolutions at all; at these
# small sizes both timings are still dominated by overheads. The equality holds only for
# circular padding: a zero-padded convolution is a different (Toeplitz, not circulant) matrix, which is why
# the paper's generator wraps around the image borders.

# %% [markdown]
# ## Batch norm in training mode
#
# In training mode batch norm subtracts the batch mean and divides by the batch standard deviation. The
# paper treats both as constants (appendix A.4), so each sample's Jacobian is the diagonal of Eq. 13. That
# is exact for the map *given* the statistics. As a map of the whole batch it is not even invertible: for
# one feature and batch size $B$, the outputs always have mean $\beta$ and variance
# $\gamma^2 \,\mathrm{Var}/(\mathrm{Var}+\epsilon)$, two constraints, so the $B \times B$ Jacobian of the
# batch has two zero singular values.

# %%
batch = 16
bn = tracked.BatchNorm(1, eps=0.0).train()
feature = randn(batch, 1)
jac = torch.autograd.functional.jacobian(
    lambda v: bn(v, torch.zeros(batch))[0].flatten(), feature
).reshape(batch, batch)
singular = torch.linalg.svdvals(jac)
print(
    wrap(
        "singular values of the batch map: "
        + ", ".join(f"{s:.3g}" for s in singular.tolist())
    )
)
print(
    f"diagonal entry that the tracked density uses (gamma / std): "
    f"{1 / feature.std(unbiased=False).item():.4g}"
)

# %% [markdown]
# The remaining $B-2$ singular values equal the diagonal entry the paper uses (a unit test checks this for
# any batch). So the tracked density of a sample in training mode is its density conditional on the
# batch's statistics. The generator trains in that mode. Every density this book reports after training
# uses evaluation mode (running statistics), where batch norm is a fixed affine map and its log-determinant
# is exact.

# %% [markdown]
# ## Dropping dimensions: when Eq. 8 is exact, and what it costs when it is not
#
# Eq. 8 is exact when the dropped coordinates really are Gaussian around their kept neighbours with the
# assumed $\sigma$. So dropping after copying with the same $\sigma$ must return exactly the density we
# started from. A Gaussian example: $u \sim \mathcal{N}(0, S)$ and $t = [u \,\|\, u + \sigma\varepsilon]$;
# dropping $t^2$ with the right $\sigma$ recovers $\log \mathcal{N}(u; 0, S)$, and with a wrong one it
# does not.

# %%
d, sigma = 4, 0.3
root = randn(d, d)
gauss = torch.distributions.MultivariateNormal(
    torch.zeros(d), root @ root.T + 0.1 * torch.eye(d)
)
u = gauss.sample((cfg.checks * 50,))
true_log_p = gauss.log_prob(u)
t, log_p_t = tracked.CopyInflate(sigma)(u, true_log_p)
roundtrip = (tracked.HalveReduce(sigma)(t, log_p_t)[1] - true_log_p).abs().max().item()
wrong = (tracked.HalveReduce(2 * sigma)(t, log_p_t)[1] - true_log_p).mean().item()
print(f"copy then halve, same sigma: max error {roundtrip:.1e} nats")
print(f"halving with 2 sigma instead of sigma: mean error {wrong:+.2f} nats per sample")

# %% [markdown]
# In a generator, nothing makes the dropped coordinates satisfy the assumption. Taking expectations over
# generated samples, the tracked log-density exceeds the true one by
#
# $$ \mathbb{E}\big[\log \hat P(t^1)\big] - \mathbb{E}\big[\log P(t^1)\big]
#    = \mathbb{E}_{t^1}\, d_{KL}\!\big(P(t^2 \mid t^1) \,\|\, \mathcal{N}(t^1, \sigma^2 I)\big)
#    \;\ge\; 0 ,$$
#
# one such term per reduction layer. So the tracked density *overestimates* on average, and the
# generator's entropy estimate $-\mathbb{E}\log\hat P_G$ is a lower bound of the true entropy. We measure
# the gap on LED's 2-D generator (appendix C.2, here 32 features and 2 blocks, randomly initialized) by
# comparing its tracked log-density at its own samples with a histogram of many samples (the Monte Carlo
# reference).

# %%
gen2d = tracked.mlp_generator(
    2, features=32, blocks=2, copy_sigma=0.1, reduce_sigma=1.0
).eval()
check = validation.tracked_density_gap(
    gen2d, mc_samples=cfg.mc_samples, probes=2000, bins=cfg.bins, seed=cfg.seed
)
gap = claims.bootstrap(check.gap)
run.glue("d1-gap", gap.value, ".1f")
run.glue("d1-gap-low", gap.low, ".1f")
run.glue("d1-gap-high", gap.high, ".1f")
below = float((check.gap <= 0).double().mean())
run.glue("d1-gap-min", float(check.gap.min()), ".1f")
run.glue("d1-gap-reading", "every probe lies above the dashed line" if below == 0 else
         f"a share {below:.3f} of the probes lies on or below the dashed line")
print(
    f"{len(check.pool):,} Monte Carlo samples, {cfg.bins}x{cfg.bins} histogram; "
    f"{int(check.inside.sum())} probe samples inside"
)
print("tracked minus Monte Carlo log-density, mean (95% bootstrap interval), median:")
print(f"{gap:+.2f} nats, {check.gap.median().item():+.2f} nats")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
axes[0].hist2d(
    check.pool[:200_000, 0].numpy(),
    check.pool[:200_000, 1].numpy(),
    bins=cfg.bins,
    range=[check.bounds[:2], check.bounds[2:]],
    cmap="viridis",
)
axes[0].set_title("samples of a random 2-D LED generator")
mc_log_p = check.monte_carlo[check.inside]
axes[1].scatter(mc_log_p.numpy(), check.tracked[check.inside].numpy(), s=3, alpha=0.5)
ref = torch.stack([mc_log_p.min(), mc_log_p.max()]).numpy()
axes[1].plot(ref, ref, "k--", lw=1, label="tracked = Monte Carlo")
axes[1].set_xlabel("Monte Carlo log-density")
axes[1].set_ylabel("tracked log-density (Eq. 8)")
axes[1].legend()
fig.tight_layout()
run.figure("d1-eq8-gap", fig)

# %% [markdown]
# ```{glue:figure} d1-eq8-gap
# :name: fig-d1-eq8-gap
#
# A randomly initialized 2-D LED generator (appendix C.2 at 32 features, 2 blocks). Left: histogram of its
# samples. Right: its tracked log-density (Eq. 8) at probe samples against the Monte Carlo log-density of
# the histogram; the dashed line is equality.
# ```
#
# The gap is large: the tracked log-density lies {glue:text}`d1-gap` nats above the Monte Carlo one on
# average (95% bootstrap interval over the probes {glue:text}`d1-gap-low` to {glue:text}`d1-gap-high`);
# {glue:text}`d1-gap-reading` of {numref}`fig-d1-eq8-gap` (smallest gap {glue:text}`d1-gap-min` nats). At random initialization nothing
# aligns the dropped coordinates with their neighbours, so the weights $N_\theta / P_G$ of this
# generator's samples would underestimate the critic's normalizer by the exponential of the gap. Chapter D2 measures the same gap after training, with and without the
# entropy term of the generator's objective.

# %% [markdown]
# ## A whole generator without reductions
#
# LED's image generator (appendix C.1) before its final reduction is a bijection of its latent and noise
# coordinates onto its output: square linear, noise padding, then stages of circular convolution, batch
# norm, smooth ReLU and pixel shuffle, then a last convolution. Its tracked density must equal the
# brute-force change of variables over all of its inputs at once, a $D \times D$ Jacobian with $D$ the
# number of output pixels.

# %%
image_gen = tracked.image_generator(16, channels=1, image_size=8, shuffles=2)
for (
    m
) in (
    image_gen.modules()
):  # random running statistics, so that batch norm is not the identity
    if isinstance(m, tracked.BatchNorm):
        m.running_mean.normal_(generator=g)
        m.running_var.uniform_(0.5, 2.0, generator=g)
image_gen.eval()
bijective = tracked.TrackedGenerator(
    16, list(image_gen.layers)[:-1]
)  # without the final Eq. 8
sample = bijective.sample(cfg.checks, rng=g)
reference = validation.tracked_generator_reference(bijective, sample.z, sample.noises)
generator_error = (sample.log_density - reference).abs().max().item()
side = math.prod(bijective.out_shape)
print(
    f"output {tuple(bijective.out_shape)}: {bijective.latent_dim} latent + "
    f"{bijective.noise_dim} noise inputs; {side}x{side} Jacobian"
)
print(
    f"max |tracked - brute force| = {generator_error:.1e} nats "
    f"over {cfg.checks} samples"
)

# %% [markdown]
# ## The paper's claims
#
# Appendix A claims that the generator's density follows exactly through each of its layers; appendix
# A.3 that circular padding makes the convolution's log-determinant cheap through the FFT; section 2.1.3
# that Eq. 8 gives the density after dropping coordinates, under its neighbour-Gaussian assumption.

# %%
# Fails if any layer, or the whole generator without reductions, is off its brute-force
# density by 1e-8 nats or more.
exact = max(layer_error, generator_error)
run.claim(
    "003",
    "Sec. 2.1.1, App. A",
    "Each generator layer's output density follows exactly from its input's "
    "(Eqs. 6, 7, 9-13).",
    paper_value="given the density of the input random variable, we can "
    "efficiently compute "
    "the density of the output random variable",
    ours=f"max error {exact:.0e} nats",
    fmt="",
    verdict=claims.below(exact, 1e-8, what="max |tracked - brute force| (nats)"),
    scale=f"{len(layers)} layers and a {side}-pixel generator, "
    f"{cfg.checks} samples each",
)
# Fails if the FFT log-det differs from the dense one by 1e-8 (relative) or if it is not
# faster at the largest size.
run.claim(
    "003",
    "App. A.3",
    "With circular padding the convolution's log-determinant is computed "
    "quickly by the FFT (Sedghi et al.).",
    paper_value="we can compute the log determinant quickly",
    ours=f"rel. difference {conv_difference:.0e}, {speedup:.0f}x faster",
    fmt="",
    verdict=claims.all_of(
        claims.below(conv_difference, 1e-8, what="relative difference"),
        claims.above(speedup, 1.0, what="speed-up at the largest size"),
    ),
    scale=f"random 3x3 kernels up to {cfg.conv_sizes[-1][0]} channels at "
    f"{cfg.conv_sizes[-1][1]}x{cfg.conv_sizes[-1][1]}",
)
# Fails unless the 95% bootstrap interval of the mean tracked-minus-Monte-Carlo gap lies
# below 1 nat.
run.claim(
    "003",
    "Sec. 2.1.3, Eq. 8",
    "Dropping coordinates with the neighbour-Gaussian assumption "
    "gives the density of the kept ones.",
    paper_value="P(T¹) = P(T¹, T²) / N(T¹, σ∗I) (Eq. 8)",
    ours=gap,
    fmt=".1f",
    verdict=claims.below(gap, 1.0, what="mean tracked - Monte Carlo (nats)"),
    scale=f"random 2-D generator (32 features, 2 blocks), "
    f"{cfg.mc_samples:,}-sample histogram",
)

# %%
run.show_claims()

# %%
# NBVAL_CHECK_OUTPUT
print(run.verdicts())

# %%
run.finish()
