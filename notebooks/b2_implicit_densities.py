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
# # B2. Learning implicit densities
#
# *Paper 001 (Ramesh & LeCun), section 3* {cite}`ramesh2018`.
#
# A map $f: \mathbb{R}^2 \to \mathbb{R}^2$ and a standard normal prior define a density $Q$ whose likelihood
# needs $\log\det(J^\top J)$, $J$ the Jacobian of $f$. Paper 001 fits such maps with *spectral backpropagation*:
# the log-determinant and its gradient come from the stochastic estimator of its Algorithm 1 (Chebyshev
# polynomial, Hutchinson probes, power method; chapter B1), never from $J$ itself. This chapter reproduces the
# paper's two experiments: fitting the four test energies of {cite}`rezende2015` by minimizing
# $d_{KL}(Q, P)$ (paper Fig. 1), and fitting two densities that we can only sample, a crescent and a circular
# mixture, by minimizing $d_{KL}(P, Q)$ (paper Fig. 2). At every step, the exact log-determinant of the $2 \times 2$
# metric is computed alongside, only to monitor the estimate, as the paper does.
#
# The chapter runs at one of three profiles (see {doc}`intro`): `smoke` (seconds; proves it runs), `cpu`
# (the published chapter: 2,000 steps per model on one CPU thread, with a larger learning rate than the
# paper's) and `paper` (the paper's learning rate $10^{-4}$ and 50,000 steps per model; the book publishes
# it as a page of its own, {doc}`/book/scale/b2_paper_steps`). {glue:text}`b2-this-run`

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # unused: every target here is defined in code
device = None  # this chapter trains on the CPU (tiny networks)
seed = None  # None keeps the profile's seed
reverse_steps = None  # Adam steps per test energy (KL(Q||P)); None keeps the profile's
forward_steps = None  # Adam steps per sampleable density (KL(P||Q))
reverse_lr = None  # learning rates (paper: 1e-4)
forward_lr = None
matvec = None  # "dense" (2x2 metric, fast on a CPU) or "implicit" (jvp + vjp, paper's)
threads = None  # torch threads; None keeps the profile's (1 at smoke and cpu)

# %% tags=["hide-cell"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from gandensity.book import claims
from gandensity.book.chapter import start, wrap
from gandensity.workflows import toy2d

run = start(
    "b2_implicit_densities",
    profile,
    data_root=data_root,
    device=device,
    seed=seed,
    reverse_steps=reverse_steps,
    forward_steps=forward_steps,
    reverse_lr=reverse_lr,
    forward_lr=forward_lr,
    matvec=matvec,
    threads=threads,
)
cfg = run.config

# %% [markdown]
# ## Two ways to match a density
#
# Let $P_Z = \mathcal{N}(0, I)$ on $\mathbb{R}^2$ and $f_\theta$ a differentiable map. Which way $f$ points
# depends on what we know about the target $P_X$ (paper section 3).
#
# **We can evaluate $P_X$ up to a constant, $p_X(x) = e^{-U(x)}/Z$, but not sample it.** Then $f: Z \to X$
# generates samples $x = f(z)$, and by the change of variables of chapter A1 their log-likelihood under $Q$ is
#
# $$ \log q\big(f(z)\big) = \log p_Z(z) - \tfrac12 \log\det\big(J^\top J\big), \qquad J = \partial f / \partial z . $$
#
# We minimize
#
# $$ d_{KL}(Q, P_X) = \mathbb{E}_{z \sim P_Z}\Big[\log p_Z(z) - \tfrac12\log\det(J^\top J) + U\big(f(z)\big)\Big]
#    + \log Z , $$
#
# whose gradient needs $\nabla_\theta \log\det(J^\top J)$: spectral backpropagation (paper Eq. 3). The loss we
# report is the expectation without $\log Z$, so it is bounded below by $-\log Z$ when $Q$ is a normalized density.
# For the third and fourth energies the paper adds the regularizer $R = \rho\, \|J^\top J\|_2$ (Eq. 8, $\rho = 0.08$),
# backpropagated through the power method's estimate of $\lambda_{\max}$.
#
# **We can sample $P_X$, but not evaluate it.** Then $f: X \to Z$ maps data to latent space, and
#
# $$ \log q(x) = \log p_Z\big(f(x)\big) + \tfrac12 \log\det\big(J^\top J\big), \qquad J = \partial f / \partial x ;$$
#
# minimizing $d_{KL}(P_X, Q) = -\mathbb{E}_{x \sim P_X}[\log q(x)] - H(P_X)$ is maximum likelihood.
#
# Both formulas assume that $f$ is a bijection. A neural network need not be one: where $f$ *folds* the plane,
# $\det J$ changes sign and passes through zero, several points share an image, and $Q$ as defined by the
# formula is no longer normalized. The paper notes this for both objectives; below we measure it.
#
# **Relative error.** The paper monitors $\ln \hat\ell - \ln \ell = \ln(\hat\ell/\ell) \approx (\hat\ell-\ell)/\ell$,
# with $\ln\hat\ell$ the estimated and $\ln\ell$ the exact log-likelihood, in nats; its "30%" and "5%" are
# 0.3 and 0.05 of it. Both differ only in the log-determinant,
# so $\ln\hat\ell - \ln\ell = \mp\frac12(\widehat{\log\det} - \log\det)$. The paper does not say whether it averages
# over the batch before or after taking the magnitude, so we record both: the **batch error**
# $|\frac1B\sum_b(\ln\hat\ell_b - \ln\ell_b)|$, the error of the batch's mean log-likelihood (what the loss sees;
# the probe noise of single samples averages out), and the **per-sample error** $\frac1B\sum_b|\ln\hat\ell_b -
# \ln\ell_b|$, which includes the noise of 20 Hutchinson probes per sample. Each is judged as its own claim.
#
# **The network and the estimator** follow the paper: a residual network of four bottleneck blocks
# $\mathbb{R}^2 \to \mathbb{R}^{32} \to \mathbb{R}^{32} \to \mathbb{R}^2$, biases everywhere, LeakyReLU (slope 0.2,
# which the paper does not state), the last layer of each block initialized small so that $f$ starts near the
# identity; batch 64, Adam; Algorithm 1 with $(m, p, t, g) = (10, 20, 20, 1.2)$ and $\epsilon = 0.1$ for
# $d_{KL}(Q, P)$, $\epsilon = 10^{-2}$ for $d_{KL}(P, Q)$.

# %% [markdown]
# ## Is the estimator right on this network?
#
# Algorithm 1 needs only products $M v$ with $M = J^\top J$. The paper's route computes each as one
# Jacobian-vector and one vector-Jacobian product through the network (`"implicit"`). In two dimensions, $J$
# costs two forward-mode passes, so the `cpu` profile forms $M$ once per step and multiplies by it (`"dense"`):
# the same estimator with the same probes, polynomial and gradients, much faster on a CPU where each implicit
# product pays the overhead of a jvp and a vjp (this run: {glue:text}`b2-matvec`). Both routes on a network
# with random (not small) last layers:

# %%
run.glue(
    "b2-this-run",
    f"This run trains {cfg.reverse_steps:,} steps per test energy at lr "
    f"{cfg.reverse_lr:g} and {cfg.forward_steps:,} per sampleable density at lr "
    f"{cfg.forward_lr:g}.",
)
run.glue("b2-matvec", f'"{cfg.matvec}"')
routes = toy2d.compare_routes(
    toy2d.seeded_network(cfg.seed, init_scale=1.0),
    torch.randn(64, 2, generator=run.rng()),
    toy2d.EstimatorSettings(eps=0.1),
    seed=cfg.seed,
)
print(
    f"64 samples: dense route {routes.seconds['dense'] * 1e3:.0f} ms, implicit route "
    f"{routes.seconds['implicit'] * 1e3:.0f} ms; largest difference "
    f"{routes.route_gap:.1e} nats"
)
print(wrap(
    f"eigenvalues of M: {routes.eigenvalues.min():.2f} to "
    f"{routes.eigenvalues.max():.2f}; "
    f"|ln l_hat - ln l| per sample: median {routes.sample_error.median():.3f}, "
    f"max {routes.sample_error.max():.3f}; batch error {routes.batch_error:.3f}"
))

# %% [markdown]
# With all eigenvalues inside $[\epsilon, g\lambda_{\max}]$ the routes agree to rounding, and the estimate is
# close: what remains per sample is the Hutchinson noise of 20 probes, which largely averages out over the batch.
#
# ## Minimizing $d_{KL}(Q, P)$: the four test energies
#
# The targets are $p(x) \propto e^{-U_i(x)}$ with (Rezende & Mohamed 2015, table 1) $w_1 = \sin(2\pi x_1/4)$,
# $w_2 = 3 e^{-\frac12((x_1-1)/0.6)^2}$, $w_3 = 3\,\sigma((x_1-1)/0.3)$ and
#
# $$ \begin{aligned}
# U_1 &= \tfrac12\big((\|x\| - 2)/0.4\big)^2 - \ln\big(e^{-\frac12((x_1-2)/0.6)^2} + e^{-\frac12((x_1+2)/0.6)^2}\big), &
# U_2 &= \tfrac12\big((x_2 - w_1)/0.4\big)^2, \\
# U_3 &= -\ln\big(e^{-\frac12((x_2-w_1)/0.35)^2} + e^{-\frac12((x_2-w_1+w_2)/0.35)^2}\big), &
# U_4 &= -\ln\big(e^{-\frac12((x_2-w_1)/0.4)^2} + e^{-\frac12((x_2-w_1+w_3)/0.35)^2}\big).
# \end{aligned} $$
#
# Only $U_1$ is normalizable on $\mathbb{R}^2$; $U_2$-$U_4$ do not decay along $x_1$, so their $\log Z$ is taken
# on the box $[-4, 4]^2$ (midpoint rule on a $1000 \times 1000$ grid), and on $\mathbb{R}^2$ the loss of these three
# has no lower bound: spreading mass along $x_1$ keeps lowering it.

# %%
log_z = {u: toy2d.log_partition(u) for u in toy2d.ENERGIES}
print("ln Z on [-4, 4]^2:", {u: round(v, 4) for u, v in log_z.items()})
reverse = {
    u: toy2d.fit_reverse_kl(
        u,
        cfg.reverse_steps,
        lr=cfg.reverse_lr,
        batch_size=cfg.batch_size,
        eps=0.1,
        matvec=cfg.matvec,
        seed=cfg.seed,
    )
    for u in toy2d.ENERGIES
}


# %%
def smooth(values: torch.Tensor, width: int) -> np.ndarray:
    """Moving average over `width` steps (valid part only), for plots."""
    v = values.numpy()
    width = max(1, min(width, len(v)))
    return np.convolve(v, np.ones(width) / width, mode="valid")


def plot_curves(fits: dict, axes, reference: dict | None = None) -> None:
    """Loss (estimated, exact log-det) and both errors of each fit, smoothed."""
    for name, fit in fits.items():
        h, width = fit.history, max(1, len(fit.history["loss"]) // 50)
        steps = np.arange(len(smooth(h["loss"], width))) + width
        (line,) = axes[0].plot(steps, smooth(h["loss"], width), label=name)
        axes[0].plot(
            steps, smooth(h["loss_exact"], width), color=line.get_color(), ls=":", lw=1
        )
        if reference is not None:
            axes[0].axhline(-reference[name], color=line.get_color(), lw=0.8, ls="--")
        axes[1].plot(
            steps,
            smooth(h["signed_error"].abs(), width),
            color=line.get_color(),
            label=name,
        )
        axes[2].plot(
            steps, smooth(h["rel_error"], width), color=line.get_color(), label=name
        )
    axes[0].set(
        xlabel="step", ylabel="loss", title="loss (dotted: with the exact log-det)"
    )
    axes[1].set(
        xlabel="step",
        ylabel=r"$|\mathrm{mean}_b(\ln\hat\ell_b - \ln\ell_b)|$",
        yscale="log",
        title="batch error",
    )
    axes[2].set(
        xlabel="step",
        ylabel=r"$\mathrm{mean}_b|\ln\hat\ell_b - \ln\ell_b|$",
        yscale="log",
        title="per-sample error",
    )
    for ax in axes:
        ax.legend(fontsize=8)


fig, axes = plt.subplots(1, 3, figsize=(15, 4))
plot_curves(reverse, axes, reference=log_z)
for ax in axes[1:]:
    ax.axhline(0.3, color="k", lw=0.8, ls="--")
fig.tight_layout()
run.figure("b2-reverse-curves", fig)

# %% [markdown]
# ```{glue:figure} b2-reverse-curves
# :name: fig-b2-reverse-curves
#
# Minimizing $d_{KL}(Q, P)$ (paper Fig. 1a). Left: the loss with the estimated (solid) and the exact
# (dotted) log-determinant, and $-\ln Z$ on the box (dashed); for U3 and U4 the estimated loss also holds
# the regularizer $\rho\lambda_{\max}$, the exact one does not. Middle and right: the batch and the
# per-sample error $|\ln\hat\ell - \ln\ell|$ (nats), with the paper's 30% (0.3) dashed. Curves are
# moving averages over 2% of the steps.
# ```

# %%
z_eval = torch.randn(cfg.samples, 2, generator=run.rng(100))
reverse_stats = {u: toy2d.reverse_summary(fit, z_eval) for u, fit in reverse.items()}
points, axis = toy2d.grid_points(-4, 4, cfg.grid)
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for ax, (u, s) in zip(axes, reverse_stats.items()):
    density_grid = torch.exp(-toy2d.energy(u, points)).reshape(cfg.grid, cfg.grid)
    ax.contourf(axis, axis, density_grid, levels=12, cmap="Blues")
    ax.scatter(s.samples[:, 0], s.samples[:, 1], s=2, color="tab:red", alpha=0.5)
    ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", title=u)
fig.tight_layout()
run.figure("b2-reverse-samples", fig)
columns = {
    "loss, first 10%": "loss_start",
    "loss, last 10%": "loss_end",
    "same, exact log-det, no regularizer": "loss_exact_end",
    "batch error (median)": "batch_error",
    "same, last 10%": "batch_error_end",
    "per-sample error (median)": "sample_error",
    "share det J < 0": "folded",
    "share lambda_min < eps": "below_eps",
    "share in [-4, 4]^2": "in_box",
}
table = pd.DataFrame(
    {k: [getattr(s, v) for s in reverse_stats.values()] for k, v in columns.items()},
    index=pd.Index(list(reverse_stats), name="energy"),
)
table.insert(3, "-ln Z (box)", [-log_z[u] for u in reverse_stats])
display(table.style.format("{:.3f}"))

# %% [markdown]
# ```{glue:figure} b2-reverse-samples
# :name: fig-b2-reverse-samples
#
# Samples $x = f(z)$ of the trained maps (red) over the target densities $e^{-U}$ (paper Fig. 1b).
# ```

# %%
# Below -ln Z of the box is impossible for a normalized Q on the box only if (nearly)
# all of Q's mass is inside it: outside the box e^{-U} of U2-U4 does not decay along x1.
below_z = [u for u in ("U3", "U4") if reverse_stats[u].loss_exact_end < -log_z[u]]
inside = [u for u in below_z if reverse_stats[u].in_box >= 0.95]
outside = [u for u in below_z if reverse_stats[u].in_box < 0.95]
sentences = []
if inside:
    sentences.append(
        f"For {' and '.join(inside)} the loss with the exact log-determinant ends "
        "below -ln Z of the box while at least 95% of the samples lie inside the box, "
        "which a normalized Q on the box could not do."
    )
if outside:
    shares = " and ".join(f"{u} {1 - reverse_stats[u].in_box:.2f}" for u in outside)
    sentences.append(
        f"For {' and '.join(outside)} the loss with the exact log-determinant ends "
        "below -ln Z of the box, but with a share of the samples outside the box "
        f"({shares}), where e^-U does not decay and -ln Z of the box is no bound, so "
        "this alone does not show "
        "that Q is unnormalized."
    )
if not below_z:
    sentences.append(
        "For U3 and U4 the loss with the exact log-determinant stays above -ln Z of "
        "the box."
    )
run.glue("b2-below-z", " ".join(sentences))
fell = [u for u, s in reverse_stats.items() if s.loss_end < s.loss_start]
run.glue(
    "b2-reverse-fall",
    "All four losses fall"
    if len(fell) == len(reverse_stats)
    else f"The losses of {', '.join(fell) or 'none of the four'} fall",
)
over = [u for u, s in reverse_stats.items() if s.batch_error >= 0.3]
run.glue("b2-reverse-over", ", ".join(over) if over else "none of the four")
for u, s in reverse_stats.items():
    run.glue(f"b2-{u}-folded", s.folded, ".2f")
    run.glue(f"b2-{u}-below", s.below_eps, ".2f")
    run.glue(f"b2-{u}-batch", s.batch_error, ".2f")
    run.glue(f"b2-{u}-exact-end", s.loss_exact_end, ".2f")
    run.glue(f"b2-{u}-negz", -log_z[u], ".2f")

# %% [markdown]
# What {numref}`fig-b2-reverse-curves`, {numref}`fig-b2-reverse-samples` and the table show, at this
# page's scale:
#
# - {glue:text}`b2-reverse-fall` (first against last 10% of the steps), and the claims below test whether
#   they end negative, as in the paper ("we see
#   that this happens for all four examples"): the loss is $d_{KL}(Q, P) - \ln Z$.
# - $\det J$ is negative for a share of the samples and positive for the rest where a map folds the plane
#   (U1 {glue:text}`b2-U1-folded`, U2 {glue:text}`b2-U2-folded`, U3 {glue:text}`b2-U3-folded`,
#   U4 {glue:text}`b2-U4-folded`); there $Q$ as given by the formula is no longer a normalized density (at a
#   point with several preimages the formula counts one). {glue:text}`b2-below-z` (The shares of samples
#   inside the box are in the table's last column.) $U_2$-$U_4$ have no such bound on $\mathbb{R}^2$.
# - The fold is also where the estimator goes wrong. Algorithm 1 approximates $\log$ only on
#   $[\epsilon, g\lambda_{\max}]$; near a fold $\lambda_{\min}(M) \to 0 < \epsilon$, the estimate of
#   $\log\det M$ is biased upwards (chapter B1), so the loss's log-determinant term is *lower* with the
#   estimate than with the exact value (for U3 and U4 the table's estimated loss also holds the
#   regularizer, which can outweigh it): the optimizer is rewarded for folding. The share of samples with $\lambda_{\min} < \epsilon$ is
#   {glue:text}`b2-U1-below`, {glue:text}`b2-U2-below`, {glue:text}`b2-U3-below` and
#   {glue:text}`b2-U4-below` for U1-U4; the median batch error over the steps is at or above the paper's 30%
#   for {glue:text}`b2-reverse-over` (U1-U4: {glue:text}`b2-U1-batch`, {glue:text}`b2-U2-batch`,
#   {glue:text}`b2-U3-batch`, {glue:text}`b2-U4-batch`).
# - The per-sample error is larger than the batch error: 20 probes leave a Hutchinson noise per sample
#   that averages out over the batch of 64 (it does not bias the gradient).

# %% [markdown]
# ## Minimizing $d_{KL}(P, Q)$: a crescent and a circular mixture
#
# The paper defines its two sampleable densities in a supplement that we do not have, so we define our own:
#
# - **crescent**: in polar coordinates, radius $r \sim \mathcal{N}(2, 0.25^2)$ and angle
#   $\varphi \sim$ wrapped $\mathcal{N}(\pi/2, 0.55^2)$, independent; $x = r(\cos\varphi, \sin\varphi)$, a thick arc
#   over the positive $x_2$-axis. Its density is $p(x) = \mathcal{N}(\|x\|; 2, 0.25^2)\, \mathrm{WN}(\varphi;
#   \pi/2, 0.55^2) / \|x\|$.
# - **circular mixture**: 8 equally weighted Gaussians with means $2(\cos 2\pi k/8, \sin 2\pi k/8)$ and standard
#   deviation 0.25 (wider than the GAN mode-collapse benchmarks' 0.01-0.02, so that a four-block network can
#   resolve it).
#
# Both have closed-form densities, which training never uses: they serve to judge the result. Each model is
# trained on fresh samples every step and evaluated on 20,000 held-out samples.

# %%
forward = {
    name: toy2d.fit_forward_kl(
        name,
        cfg.forward_steps,
        lr=cfg.forward_lr,
        batch_size=cfg.batch_size,
        eps=1e-2,
        matvec=cfg.matvec,
        seed=cfg.seed,
    )
    for name in toy2d.DENSITIES
}
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
plot_curves(forward, axes)
for ax in axes[1:]:
    ax.axhline(0.05, color="k", lw=0.8, ls="--")
fig.tight_layout()
run.figure("b2-forward-curves", fig)

# %% [markdown]
# ```{glue:figure} b2-forward-curves
# :name: fig-b2-forward-curves
#
# Minimizing $d_{KL}(P, Q)$ (paper Fig. 2a): the loss (negative log-likelihood; dotted with the exact
# log-determinant) and the batch and per-sample errors (nats), with the paper's 5% (0.05) dashed.
# ```

# %%
held_out = {name: toy2d.density(name).sample(20000, run.rng(200)) for name in forward}
forward_stats = {
    name: toy2d.forward_summary(fit, toy2d.density(name), held_out[name])
    for name, fit in forward.items()
}
points, axis = toy2d.grid_points(-4, 4, cfg.grid)
fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
for i, (name, fit) in enumerate(forward.items()):
    true_grid = toy2d.density(name).log_prob(points).reshape(cfg.grid, cfg.grid)
    model_grid = toy2d.model_log_likelihood(fit.model, points).reshape(
        cfg.grid, cfg.grid
    )
    levels = np.linspace(
        -8, max(float(true_grid.max()), float(model_grid.max())) + 0.1, 15
    )
    axes[2 * i].contourf(
        axis, axis, true_grid.clamp_min(-8), levels=levels, cmap="viridis"
    )
    axes[2 * i].set(title=f"{name}: true log-density", aspect="equal")
    axes[2 * i + 1].contourf(
        axis, axis, model_grid.clamp_min(-8), levels=levels, cmap="viridis"
    )
    shown = held_out[name][: cfg.samples]
    axes[2 * i + 1].scatter(shown[:, 0], shown[:, 1], s=1, color="white", alpha=0.4)
    axes[2 * i + 1].set(title=f"{name}: learned log q, data on top", aspect="equal")
fig.tight_layout()
run.figure("b2-forward-contours", fig)
columns = {
    "loss, first 10%": "loss_start",
    "loss, last 10%": "loss_end",
    "held-out log q at init": "ll_init",
    "after training": "ll",
    "true E log p": "ll_true",
    "batch error (median)": "batch_error",
    "per-sample error (median)": "sample_error",
    "share det J < 0": "folded",
    "mass of Q on [-8, 8]^2": "mass",
}
table = pd.DataFrame(
    {k: [getattr(s, v) for s in forward_stats.values()] for k, v in columns.items()},
    index=pd.Index(list(forward_stats), name="density"),
)
display(table.style.format("{:.3f}"))
# Which models end above the true E log p (impossible for a normalized Q)?
above = [name for name, s in forward_stats.items() if s.ll > s.ll_true]
below = [name for name in forward_stats if name not in above]
run.glue(
    "b2-forward-reading",
    "Both end above it, so neither Q is normalized"
    if not below
    else f"Only the {above[0]} model ends above it, so its Q is not normalized; "
    f"the {below[0]} model's Q stays consistent with a normalized density in this run"
    if above
    else "Neither ends above it: in this run both Q are consistent with normalized "
    "densities",
)
rose = [n for n, s in forward_stats.items() if s.loss_end > s.loss_start]
run.glue(
    "b2-forward-loss",
    "Both training losses are lower over the last 10% of the steps than over the first"
    if not rose
    else "The training loss of the "
    + " and ".join(
        f"{n} model is higher over the last 10% of the steps than over the first "
        f"({forward_stats[n].loss_end:.2f} against {forward_stats[n].loss_start:.2f})"
        for n in rose
    )
    + ": its fit drifts back after an early improvement",
)
# A floor for "fitted": the held-out log-likelihood of the best single Gaussian (its
# mean and covariance fitted to fresh samples), which a linear map of z reaches.
gauss_ll = {}
for name in forward:
    fresh = toy2d.density(name).sample(20000, run.rng(300)).double()
    normal = torch.distributions.MultivariateNormal(fresh.mean(0), torch.cov(fresh.T))
    gauss_ll[name] = float(normal.log_prob(held_out[name].double()).mean())
linear = [n for n, s in forward_stats.items() if s.ll < gauss_ll[n] + 0.05]
run.glue("b2-gauss-reading", (
    "Both models end more than 0.05 nats above the best single Gaussian's held-out "
    "log-likelihood (" + ", ".join(f"{n} {gauss_ll[n]:.2f}" for n in forward) + ")"
    if not linear else
    " and ".join(
        f"the {n} model ends at {forward_stats[n].ll:.2f}, no more than 0.05 nats "
        f"above the best single Gaussian's {gauss_ll[n]:.2f}"
        for n in linear
    )
    + ": such a fit is no better than a linear map, and its small errors below say "
    "nothing about the estimator on a folded map"))
for name, s in forward_stats.items():
    run.glue(f"b2-{name}-mass", s.mass, ".2f")
    run.glue(f"b2-{name}-ll", s.ll, ".2f")
    run.glue(f"b2-{name}-true", s.ll_true, ".2f")
    run.glue(f"b2-{name}-sample", s.sample_error, ".3f")
    run.glue(f"b2-{name}-batch", s.batch_error, ".3f")
    run.glue(f"b2-{name}-init", s.ll_init, ".2f")

# %% [markdown]
# ```{glue:figure} b2-forward-contours
# :name: fig-b2-forward-contours
#
# True log-density and learned $\log q$ of the crescent and the circular mixture (paper Fig. 2b; both
# panels of a density share one colour scale), with held-out data on the learned one.
# ```
#
# Maximum likelihood moves the held-out log-likelihood from {glue:text}`b2-crescent-init` to
# {glue:text}`b2-crescent-ll` (crescent) and from {glue:text}`b2-ring-init` to {glue:text}`b2-ring-ll`
# (ring); {glue:text}`b2-gauss-reading`. {glue:text}`b2-forward-loss` ({numref}`fig-b2-forward-curves`); {numref}`fig-b2-forward-contours`
# shows the learned $\log q$ with the data on top. The median batch error over the steps is {glue:text}`b2-crescent-batch`
# (crescent) and {glue:text}`b2-ring-batch` (ring) nats; the per-sample error, with the Hutchinson noise of
# single samples, is {glue:text}`b2-crescent-sample` and {glue:text}`b2-ring-sample`. The final held-out
# log-likelihoods stand against a true $\mathbb{E}\log p$ of {glue:text}`b2-crescent-true` and {glue:text}`b2-ring-true`: no normalized
# $Q$ can exceed it (the gap would be $-d_{KL}(P, Q) \le 0$). {glue:text}`b2-forward-reading`; the
# total mass of $Q$ on $[-8, 8]^2$ is {glue:text}`b2-crescent-mass` (crescent) and
# {glue:text}`b2-ring-mass` (ring). An unnormalized $Q$ is the ill-posedness the paper points out: a
# folding $f$ makes $Q$ unnormalized, and then $Q$ can match $P$ while assigning mass outside its
# support (the paper: "we see that this expected behavior manifests in both examples"). Nothing in
# the objective pushes $Q$ there, so whether a given model ends unnormalized can change from run to
# run; the claim below tests the run on this page.

# %% [markdown]
# ## Claims
#
# {glue:text}`b2-this-run` The paper trains tens of thousands of steps at $10^{-4}$ (the `paper`
# profile: 50,000 at $10^{-4}$). Errors are judged by their median over the training steps, with a
# bootstrap interval over the steps.

# %%
scale_reverse = (
    f"{cfg.reverse_steps:,} Adam steps at lr {cfg.reverse_lr:g}, batch "
    f"{cfg.batch_size}; "
    "paper: lr 1e-4, 20,000-50,000 steps (epochs 4-10 of 5,000)"
)
scale_forward = (
    f"{cfg.forward_steps:,} Adam steps at lr {cfg.forward_lr:g}; our own crescent and "
    "8-Gaussian ring (the paper's are in a supplement we do not have)"
)

for key, label in (("signed_error", "batch"), ("rel_error", "per-sample")):
    # Fails if, for some energy, the median error over the steps (bootstrap interval)
    # lies at or above 0.3 nats, the paper's "30%".
    est = {
        u: claims.bootstrap(fit.history[key].abs(), np.median)
        for u, fit in reverse.items()
    }
    run.claim(
        "001",
        f"Fig. 1a ({label})",
        f"Minimizing d_KL(Q, P), the {label} error of the log-likelihood stays below "
        "30%.",
        paper_value="\u201cthe relative error for the approximation to the log "
                    "determinant typically "
        "stays below 30%, except toward the end of training for the last two test "
        "energies\u201d",
        ours="; ".join(f"{u} {e:.2g}" for u, e in est.items()),
        verdict=claims.all_of(
            *(claims.below(e, 0.3, what=f"{u} median") for u, e in est.items())
        ),
        scale=scale_reverse,
    )

# %%
# Fails if, for some energy, the mean loss over the last 10% of steps (bootstrap over
# those steps) is at or above 0.
final_loss = {
    u: claims.bootstrap(fit.history["loss"][-toy2d.tail_steps(fit) :])
    for u, fit in reverse.items()
}
run.claim(
    "001",
    "Sec. 3 (d_KL(Q, P))",
    "The loss d_KL(Q, P) - ln Z becomes negative for all four test energies.",
    paper_value="\u201cit can become negative when Q is unnormalized. We see that this "
                "happens for all "
    "four examples.\u201d",
    ours="; ".join(f"{u} {e:.3g}" for u, e in final_loss.items()),
    verdict=claims.all_of(
        *(claims.below(e, 0.0, what=f"{u} final loss") for u, e in final_loss.items())
    ),
    scale=scale_reverse,
)
run.claim(
    "001",
    "Fig. 1c",
    "Trained on, the models of U3 and U4 drift away from the origin (errors rise above "
    "30%).",
    paper_value="samples \u201cbegin to drift away from the origin\u201d at epoch 26",
    ours="not run",
    scale=f"paper: 26 epochs of 5,000 steps; here {cfg.reverse_steps:,} steps",
    verdict=claims.not_run(
        f"epoch 26 is 130,000 steps at lr 1e-4; this run trains {cfg.reverse_steps:,} "
        "steps (the cpu profile 2,000, the paper profile 50,000)"
    ),
)

# %%
for key, label in (("signed_error", "batch"), ("rel_error", "per-sample")):
    # Fails if, for either density, the median error over the steps (bootstrap interval)
    # lies at or above 0.05 nats ("5%").
    est = {
        name: claims.bootstrap(fit.history[key].abs(), np.median)
        for name, fit in forward.items()
    }
    run.claim(
        "001",
        f"Fig. 2a ({label})",
        f"Minimizing d_KL(P, Q), the {label} error of the log-likelihood stays below "
        "5%.",
        paper_value="\u201cThe relative error for the approximation to the log "
                    "determinant typically "
        "stays below 5%.\u201d",
        ours="; ".join(f"{n} {e:.2g}" for n, e in est.items()),
        verdict=claims.all_of(
            *(claims.below(e, 0.05, what=f"{n} median") for n, e in est.items())
        ),
        scale=scale_forward,
    )

# %%
# Fails if, for either density, the mean of log q - log p over held-out samples
# (bootstrap over samples) is at or below 0: a normalized Q has mean -d_KL(P, Q) <= 0,
# so a positive mean shows that Q is unnormalized.
gap = {name: claims.bootstrap(s.gap) for name, s in forward_stats.items()}
run.claim(
    "001",
    "Sec. 3 (d_KL(P, Q))",
    "Minimizing d_KL(P, Q), Q ends unnormalized, with mass outside the support of P_X, "
    "in both examples.",
    paper_value="\u201cQ can match P_X while also assigning mass outside the support "
                "of P_X. We see that "
    "this expected behavior manifests in both examples.\u201d",
    ours="; ".join(
        f"{n}: E[log q - log p] {gap[n]:.3g}, mass {s.mass:.2f}"
        for n, s in forward_stats.items()
    ),
    verdict=claims.all_of(
        *(claims.above(e, 0.0, what=f"{n} E[log q - log p]") for n, e in gap.items())
    ),
    scale=scale_forward + "; 20,000 held-out samples",
)

# %%
run.show_claims()

# %%
# NBVAL_CHECK_OUTPUT
print(run.verdicts())

# %%
run.finish(**{f"fit_{k}": v for k, v in {**reverse, **forward}.items()})
