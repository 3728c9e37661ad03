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
# # B4. Explanatory factors: eigenvectors of the metric
#
# *Paper 001 (Ramesh & LeCun), section 5* {cite}`ramesh2018`.
#
# The metric $M(z) = J^\top J$ that sets a generated image's density also says how the image changes when $z$
# moves: a unit step along the $i$-th eigenvector $v_i$ moves $G(z)$ by $\sqrt{\lambda_i}$ to first order. Paper
# 001 finds that steps along the top eigenvectors change distinct, meaningful attributes (hair length, pose,
# background colour on CelebA), far more than random steps, and counts such directions with an *effective
# dimension* $v_{\text{eff}}(\tau)$ that grows with the latent size $n_z$ and with the width $n_f$ only
# modestly (LSUN) or not noticeably (CelebA).
# This chapter repeats the analysis on MNIST DCGANs.
#
# Profiles (see {doc}`intro`): `smoke` (seconds), `cpu` (the published chapter: a family of five small DCGANs
# on MNIST-5k with $n_z \in \{50, 100, 200\}$ and $n_f \in \{8, 16, 32\}$, 10 epochs each;
# {doc}`/book/scale/b4_longer_training` trains them four times longer), `paper` (the paper's CelebA setup
# around $n_z = n_f = 64$ from a local copy of CelebA: 64x64, five layers, uniform prior, RMSProp; for a GPU).

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # directory with torchvision data sets (paper profile)
device = None  # cpu | cuda | auto; None keeps the profile's choice
seed = None  # None keeps the profile's seed
epochs = None  # epochs of every DCGAN in the family
num_trials = None  # latents per model (the paper uses 12)
step = None  # perturbation size alpha

# %% tags=["hide-cell"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from gandensity import StandardNormal, UniformBox
from gandensity.book import claims, plotting
from gandensity.book.chapter import start
from gandensity.book.specs import gan_spec
from gandensity.numerics import factors, frechet
from gandensity.workflows import features
from gandensity.workflows.training import train_gan

run = start(
    "b4_explanatory_factors",
    profile,
    data_root=data_root,
    device=device,
    seed=seed,
    epochs=epochs,
    num_trials=num_trials,
    step=step,
)
cfg, dev = run.config, run.device

# %% [markdown]
# ## A family of generators
#
# One base DCGAN ($n_z$, $n_f$) = `base`, and the four variants of the paper's table (Fig. 6e): half and
# double the latent size, half and double the width. All are trained with the same data, epochs and seed,
# and cached.

# %%
nz, nf = cfg.base
family = {
    "nz/2": (nz // 2, nf),
    "base": (nz, nf),
    "2nz": (2 * nz, nf),
    "nf/2": (nz, nf // 2),
    "2nf": (nz, 2 * nf),
}
gans = {}
for name, (latent_dim, width) in family.items():
    spec = gan_spec(cfg, latent_dim=latent_dim, width=width)
    gans[name], train = train_gan(spec, device=dev, verbose=False)
    h = gans[name].history
    print(
        f"{name:5s} nz={latent_dim:4d} nf={width:3d}: last epoch loss D "
        f"{h['loss_d'][-1]:.2f}, "
        f"loss G {h['loss_g'][-1]:.2f}"
    )

# %% [markdown]
# The mean losses of each member per epoch ({numref}`fig-b4-losses`) and in the last epoch (a
# discriminator loss far below $2\log 2 \approx 1.39$, the value at equilibrium, means the discriminator
# tells real from generated digits apart easily):

# %%
losses = pd.DataFrame(
    {
        name: {
            "nz": family[name][0],
            "nf": family[name][1],
            "loss D": g.history["loss_d"][-1],
            "loss G": g.history["loss_g"][-1],
        }
        for name, g in gans.items()
    }
).T
strong_d = [name for name, g in gans.items() if g.history["loss_d"][-1] < 0.3]
run.glue("b4-epochs", cfg.epochs)
run.glue("b4-strong-d", ", ".join(strong_d) if strong_d else "none")
last_d = [g.history["loss_d"][-1] for g in gans.values()]
run.glue("b4-loss-d-range", f"{min(last_d):.2f} to {max(last_d):.2f}")
# "far from it": below 1.0, where D(real) and 1 - D(fake) average above about 0.6
run.glue("b4-equilibrium-reading", (
    "so every generator analysed below comes from a game far from it"
    if max(last_d) < 1.0 else "so some members end near it"))
display(
    losses.style.format(
        {"nz": "{:.0f}", "nf": "{:.0f}", "loss D": "{:.2f}", "loss G": "{:.2f}"}
    )
)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for name, g in gans.items():
    epochs_axis = np.arange(1, len(g.history["loss_d"]) + 1)
    axes[0].plot(epochs_axis, g.history["loss_d"], label=name)
    axes[1].plot(epochs_axis, g.history["loss_g"], label=name)
axes[0].axhline(2 * np.log(2), color="k", lw=0.8, ls="--")
axes[0].set(xlabel="epoch", ylabel="mean loss", title="discriminator (dashed: 2 log 2)")
axes[1].set(xlabel="epoch", ylabel="mean loss", title="generator")
axes[0].legend(fontsize=8)
fig.tight_layout()
run.figure("b4-losses", fig)
# How much the discriminator's loss still moved over the last quarter of the epochs
quarter = min(max(1, cfg.epochs // 4), cfg.epochs - 1)  # 0 when there is one epoch
drift = {
    name: abs(g.history["loss_d"][-1] - g.history["loss_d"][-1 - quarter])
    for name, g in gans.items()
}
for key, text in {
    "b4-quarter": str(quarter),
    "b4-drift": ", ".join(f"{name} {d:.2f}" for name, d in drift.items()),
}.items():
    run.glue(key, text)

# %% [markdown]
# ```{glue:figure} b4-losses
# :name: fig-b4-losses
#
# Mean discriminator and generator losses per epoch of each member of the family.
# ```
#
# After {glue:text}`b4-epochs` epochs the discriminators' losses range from {glue:text}`b4-loss-d-range`,
# against $2\log 2 \approx 1.39$ at the game's equilibrium, {glue:text}`b4-equilibrium-reading`; the
# members below 0.3, the farthest from it: {glue:text}`b4-strong-d`.
# Over the last {glue:text}`b4-quarter` epochs the discriminator's loss
# moved by {glue:text}`b4-drift` (absolute change, per member). The page
# {doc}`/book/scale/b4_longer_training` repeats the chapter with every member trained four times
# longer.

# %% [markdown]
# ## Eigenvectors against random directions (Fig. 5)
#
# For each model, $M$ at `num_trials` latents (the paper uses 12), its eigenvectors, and the relative
# change $\delta(j, i)$ of the image along each eigenvector, against a random direction of the same
# length. {numref}`fig-b4-grid` shows a few trial latents of the base model: the top row of each pair steps
# along random unit directions, the bottom row along the top eigenvectors $v_1, v_2, \dots$ of $M$, both
# with the same step size $\alpha$ = `step`; the leftmost image is the unperturbed $G(z)$.

# %%
prior = UniformBox(-1.0, 1.0) if cfg.prior == "uniform" else StandardNormal()
latents = {
    name: prior.sample(cfg.num_trials, family[name][0], rng=run.rng()).to(dev)
    for name in family
}
analysis = {
    name: factors.analyse(
        gans[name].generator,
        latents[name],
        cfg.step,
        random_draws=cfg.random_draws,
        seed=cfg.seed + 2,
    )
    for name in family
}
G, z, base = gans["base"].generator, latents["base"], analysis["base"]
k, show = cfg.directions, min(cfg.num_trials, cfg.grid_trials)
random_dirs = factors.random_unit_directions((show, k), nz, cfg.seed + 1)
with torch.no_grad():
    original = G(z[:show]).cpu()
along_random = factors.perturb(G, z[:show], random_dirs, cfg.step)
along_eigen = factors.perturb(
    G, z[:show], base.eigenvectors[:show].transpose(1, 2)[:, :k], cfg.step
)
rows = []
for j in range(show):
    rows += [
        torch.cat([original[j : j + 1], along_random[j]]),
        torch.cat([original[j : j + 1], along_eigen[j]]),
    ]
fig, ax = plt.subplots(figsize=(1.1 * (k + 1), 1.1 * len(rows)))
plotting.image_grid(torch.cat(rows), ax=ax, nrow=k + 1)
run.figure("b4-grid", fig)
run.glue("b4-delta-v1", base.delta[:, 0].quantile(0.5).item(), ".2f")
run.glue("b4-delta-vk", base.delta[:, k - 1].quantile(0.5).item(), ".2f")
run.glue("b4-delta-last", base.delta[:, -1].quantile(0.5).item(), ".3f")
run.glue("b4-k", k)

# %% [markdown]
# ```{glue:figure} b4-grid
# :name: fig-b4-grid
#
# Pairs of rows for trial latents of the base model (compare paper Fig. 5 c-h): random unit directions
# (top) and eigenvectors $v_1, \dots, v_k$ of $M$ (bottom), same step size; leftmost the original.
# ```
#
# Along $v_1$ the image changes {glue:text}`b4-delta-v1` times as much as along a random direction
# (median over latents), along $v_{k}$ ($k$ = {glue:text}`b4-k`) {glue:text}`b4-delta-vk` times, and
# along the last eigenvector {glue:text}`b4-delta-last` times. To first order this ordering is built in:
# a step $\alpha v_i$ moves $G(z)$ by $\alpha\sqrt{\lambda_i}$, a random unit step by about
# $\alpha\sqrt{\bar\lambda}$ with $\bar\lambda$ the mean eigenvalue, so $\delta(j, i) \approx
# \sqrt{\lambda_i/\bar\lambda}$ (a unit test of `gandensity.numerics.factors` checks this), and $v_1$
# always beats a random direction. What the paper's Fig. 5 adds, that the top eigenvectors change
# *distinct, meaningful attributes*, the paper judges by eye; {numref}`fig-b4-grid` shows what the top
# eigenvectors change on MNIST digits, and the next section measures the "distinct" half.
#
# ## Do the top eigenvectors change distinct parts of the image? (Fig. 5, measured)
#
# For each direction $d$ the *change map* is $|G(z + \alpha d) - G(z)|$, pixel by pixel. Two
# directions that change different parts of a digit have change maps with a small cosine
# similarity; two that change the same strokes, a cosine near 1. Per latent we average the cosine over
# all pairs of the top $k$ eigenvectors, and over $k$ directions drawn from the paper's literal
# reference, $\epsilon \sim \mathcal{N}(0, I)$, with the same step $\alpha$, for every model of the
# family. Unnormalised, a step $\alpha\epsilon$ is about $\sqrt{n_z}$ times longer than $\alpha v_i$, far
# beyond first order: it can replace the digit, and every such change map then holds the original strokes.
# So we also draw $k$ random *unit* directions, the like-for-like reference, and the claim below needs the
# eigenvectors to overlap less than both.

# %%
overlap = {}
for name in family:
    zs, vecs = latents[name], analysis[name].eigenvectors
    eig_dirs = vecs.transpose(1, 2)[:, :k]
    gauss = factors.gaussian_directions((len(zs), k), family[name][0], cfg.seed + 3)
    unit = factors.random_unit_directions((len(zs), k), family[name][0], cfg.seed + 4)
    G_name = gans[name].generator
    overlap[name] = torch.stack(
        [
            factors.change_map_overlap(G_name, zs, d, cfg.step).off_diagonal
            for d in (eig_dirs, gauss, unit)
        ],
        1,
    )  # (num_trials, 3): eigenvectors, N(0, I), random unit
overlap_table = pd.DataFrame(
    [[o[:, i].mean().item() for i in range(3)] for o in overlap.values()],
    index=[f"{name} (nz={family[name][0]}, nf={family[name][1]})" for name in family],
    columns=[
        f"top {k} eigenvectors",
        f"{k} N(0, I) directions",
        f"{k} random unit directions",
    ],
)
overlap_gap = claims.bootstrap(overlap["base"][:, :2], factors.mean_difference)
overlap_gap_unit = claims.bootstrap(overlap["base"][:, ::2], factors.mean_difference)
run.glue("b4-overlap-eigen", overlap["base"][:, 0].mean().item(), ".3f")
run.glue("b4-overlap-random", overlap["base"][:, 1].mean().item(), ".3f")
run.glue("b4-overlap-unit", overlap["base"][:, 2].mean().item(), ".3f")
run.glue("b4-overlap-gap", str(overlap_gap))
run.glue("b4-overlap-gap-unit", str(overlap_gap_unit))
lower = [
    name
    for name, o in overlap.items()
    if o[:, 0].mean() < min(o[:, 1].mean(), o[:, 2].mean())
]
run.glue("b4-overlap-lower", f"{len(lower)} of {len(family)}")
display(overlap_table.style.format("{:.3f}"))

# %% [markdown]
# Mean off-diagonal cosine between change maps, averaged over the trial latents. For the base model the
# top eigenvectors' maps overlap by {glue:text}`b4-overlap-eigen` on average, the $\mathcal{N}(0, I)$
# directions' by {glue:text}`b4-overlap-random` and the random unit directions' by
# {glue:text}`b4-overlap-unit`; the differences (eigenvectors minus random, bootstrap over latents) are
# {glue:text}`b4-overlap-gap` and {glue:text}`b4-overlap-gap-unit`. The eigenvectors overlap less than
# both random references in {glue:text}`b4-overlap-lower` models (means over latents, without intervals; the claim below
# rests on the base model's interval alone, as chosen before the run). This measures *distinct*, not *meaningful*: MNIST has no
# labelled attributes, and a change map says where a digit changes, not what changes.
#
# ## Spectra and effective dimension across the family (Figs. 5a, 6)
#
# $v_{\text{eff}}(\tau)$ is the mean number of eigenvectors whose step changes the image by more than
# $\tau$ times a random step ({numref}`fig-b4-veff`).

# %%
taus = torch.linspace(0.0, 3.0, 31, dtype=torch.float64)
colours = {"nz/2": "tab:blue", "base": "tab:orange", "2nz": "tab:green"}
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for name, colour in colours.items():
    s = analysis[name].eigenvalues
    axes[0].semilogy(
        np.arange(1, s.shape[1] + 1), s.T.numpy(), alpha=0.35, color=colour
    )
    axes[0].plot([], [], label=f"nz = {family[name][0]}", color=colour)
    axes[1].plot(
        taus,
        factors.effective_dimension(analysis[name].delta, taus),
        label=f"nz = {family[name][0]}",
    )
axes[0].set(xlabel="index", ylabel="eigenvalue of M", title=f"spectra, nf = {nf}")
axes[1].set(xlabel=r"$\tau$", ylabel=r"$v_{eff}(\tau)$", title=f"nf = {nf}, nz varied")
for name in ("nf/2", "base", "2nf"):
    axes[2].plot(
        taus,
        factors.effective_dimension(analysis[name].delta, taus),
        label=f"nf = {family[name][1]}",
    )
axes[2].set(xlabel=r"$\tau$", ylabel=r"$v_{eff}(\tau)$", title=f"nz = {nz}, nf varied")
for ax in axes:
    ax.legend()
fig.tight_layout()
run.figure("b4-veff", fig)

# %% [markdown]
# ```{glue:figure} b4-veff
# :name: fig-b4-veff
#
# Left: spectra of $M$ at the trial latents for three latent sizes (paper Fig. 5a, b). Middle and right:
# $v_{\text{eff}}(\tau)$ with the latent size or the width varied (paper Fig. 6a-d).
# ```
#
# The paper's Fig. 6e and ours, $v_{\text{eff}}(1)$:

# %%
counts = {name: factors.eigen_counts(a.delta, 1.0) for name, a in analysis.items()}
columns = ["(nz/2, nf)", "(nz, nf)", "(2nz, nf)", "(nz, nf/2)", "(nz, nf)", "(nz, 2nf)"]
order = ["nz/2", "base", "2nz", "nf/2", "base", "2nf"]
table = pd.DataFrame(
    [
        [6.95, 10.49, 16.55, 16.14, 16.55, 17.29],
        [25.23, 34.93, 53.60, 28.37, 34.93, 40.04],
        [counts[name].mean().item() for name in order],
    ],
    index=[
        "paper: CelebA (nz = 64, nf = 64)",
        "paper: LSUN Bedroom (nz = 64, nf = 128)",
        f"ours: {train.name} (nz = {nz}, nf = {nf})",
    ],
    columns=columns,
)
display(table.style.format("{:.2f}"))
ratio = {
    name: counts[name].mean().item() / counts["base"].mean().item() for name in family
}
run.glue("b4-ratio-2nz", ratio["2nz"], ".2f")
run.glue("b4-ratio-half", 1 / ratio["nz/2"], ".2f")
run.glue("b4-ratio-2nf", ratio["2nf"], ".2f")
run.glue("b4-ratio-half-nf", 1 / ratio["nf/2"], ".2f")
# Saturation: the second doubling of n_z gains clearly less than the first
saturates = ratio["2nz"] < 0.9 / ratio["nz/2"]
run.glue("b4-saturation-reading", (
    "The second doubling gains less than the first. On MNIST the effective dimension "
    "can saturate: a digit has few factors of variation (identity, slant, stroke "
    "width, size) next to a face or a bedroom, so a generator with more latent "
    "dimensions than the data has factors can leave the extra ones with small "
    "eigenvalues."
    if saturates else
    "The second doubling gains no less than the first: no saturation shows at these "
    "sizes."))

# %% [markdown]
# Doubling $n_z$ from $n_z/2$ multiplies our $v_{\text{eff}}(1)$ by {glue:text}`b4-ratio-half` and
# doubling it again by {glue:text}`b4-ratio-2nz`; doubling the width from $n_f/2$ by
# {glue:text}`b4-ratio-half-nf` and again by {glue:text}`b4-ratio-2nf`. The
# paper's doubling ratios for $n_z$ are 1.51 and 1.58 (CelebA) and 1.38 and 1.53 (LSUN); for $n_f$, 1.03
# and 1.04 (CelebA) and 1.23 and 1.15 (LSUN). {glue:text}`b4-saturation-reading`
#
# The paper's table has a quirk: its "(nz, nf)" entry for CelebA is 10.49 in the left block and 16.55 in
# the right, though both should be the same model, and 16.55 is also the "(2nz, nf)" entry. We report our
# base model in both places.
#
# Random unit directions are the reference for $v_{\text{eff}}$. The paper writes the random direction as
# $\epsilon \sim \mathcal{N}(0, I)$, which is $\sqrt{n_z}$ times longer than a unit eigenvector; with that
# reading almost no eigenvector could beat a random step, while the paper reports $v_{\text{eff}}(1)$ up to
# 54, so we normalise the random direction (see `gandensity.numerics.factors`).
#
# ## Sample quality against $n_z$ (Fig. 5c-h)
#
# From its samples (Fig. 5c-h) the paper suggests that "larger values of $n_z$ may encourage the
# generator to capture more explanatory factors, possibly at the price of decreased sample quality". We
# measure sample quality as chapter D3 does: the Fréchet distance between Gaussians fitted to the
# penultimate features of a small digit classifier, trained on the training digits
# (`gandensity.workflows.features`), for each model's samples and the held-out test digits. **This is
# not FID** (the Inception weights cannot be downloaded offline): its values compare our models with
# each other, not with any published FID. As many training digits as samples give the floor, the
# distance of a perfect generator at this sample size.

# %%
digits = cfg.data in ("mnist", "mnist5k")
if digits:
    test = gan_spec(cfg).data.load("test")
    clf = features.train_classifier(
        train.images,
        train.labels,
        features.ClassifierConfig(steps=cfg.classifier_steps, seed=cfg.seed),
    )
    accuracy = features.classifier_accuracy(clf.model, test.images, test.labels)
    feat_test = features.classifier_features(clf.model, test.images)
    feat = {}
    for name in family:
        z = prior.sample(cfg.quality_samples, family[name][0], rng=run.rng()).to(dev)
        with torch.no_grad():
            images = torch.cat([gans[name].generator(c).cpu() for c in z.split(500)])
        feat[name] = features.classifier_features(clf.model, images)
    floor = torch.randperm(len(train.images), generator=run.rng())
    floor = floor[: cfg.quality_samples]
    feat["training digits (floor)"] = features.classifier_features(
        clf.model, train.images[floor]
    )
    fd = {name: frechet.frechet_distance(f, feat_test) for name, f in feat.items()}
    fd_label = "FD to test digits (not FID)"
    fd_table = pd.DataFrame(
        {
            "nz": {n: family[n][0] if n in family else "–" for n in fd},
            "nf": {n: family[n][1] if n in family else "–" for n in fd},
            fd_label: {n: v.value for n, v in fd.items()},
            "mean term": {n: v.mean_term for n, v in fd.items()},
            "covariance term": {n: v.cov_term for n, v in fd.items()},
        }
    )
    display(
        fd_table.style.format(
            "{:.2f}", subset=[fd_label, "mean term", "covariance term"]
        ).set_caption(
            f"Fréchet distance of {cfg.quality_samples:,} samples per model to "
            f"{len(test.images):,} test digits, in our MNIST classifier's features "
            "(not FID)"
        )
    )
    print(
        f"MNIST classifier: {'loaded from the cache' if clf.hit else 'trained'}, "
        f"test accuracy {accuracy:.3f}"
    )
    run.glue("b4-fd-accuracy", accuracy, ".3f")
    for key, name in (("half", "nz/2"), ("base", "base"), ("double", "2nz")):
        run.glue(f"b4-fd-{key}", fd[name].value, ".2f")
    run.glue("b4-fd-floor", fd["training digits (floor)"].value, ".2f")
else:  # a digit classifier: at the paper's CelebA setting there is none
    for key in ("accuracy", "half", "base", "double", "floor"):
        run.glue(f"b4-fd-{key}", "n/a (not digits)")

# %% [markdown]
# The classifier labels {glue:text}`b4-fd-accuracy` of the test digits correctly. In its features
# (**not FID**) the samples of $n_z/2$, $n_z$ and $2n_z$ lie at Fréchet distances
# {glue:text}`b4-fd-half`, {glue:text}`b4-fd-base` and {glue:text}`b4-fd-double` from the test
# digits, and training digits at {glue:text}`b4-fd-floor`. The claim below asks whether the largest
# latent space pays for its extra factors with worse samples than the smallest.

# %% [markdown]
# ## Claims
#
# Intervals are bootstrap intervals over the trial latents (the two models of a ratio resampled
# together); retraining the models with other seeds would add to them.

# %%
scale = (
    f"MNIST-5k DCGANs around (nz, nf) = ({nz}, {nf}), {cfg.epochs} epochs, "
    f"{cfg.num_trials} latents "
    "each; paper: 64x64 CelebA (nz = 64, nf = 64) and LSUN (nz = 64, nf = 128), 12 "
    "latents"
)


# Fails if either doubling ratio of v_eff(1) in n_z (bootstrap over latents) lies at or
# below 1.38, the smallest of the paper's four n_z-doubling ratios.
steps_nz = {"nz/2 -> nz": ("nz/2", "base"), "nz -> 2nz": ("base", "2nz")}
est = {
    label: claims.bootstrap(torch.stack([counts[a], counts[b]], 1), factors.mean_ratio)
    for label, (a, b) in steps_nz.items()
}
run.claim(
    "001",
    "Fig. 6e (n_z)",
    "Doubling n_z roughly doubles v_eff(1).",
    paper_value="6.95, 10.49, 16.55 (CelebA); 25.23, 34.93, 53.60 (LSUN)",
    ours="; ".join(f"{label}: x{e:.3g}" for label, e in est.items()),
    verdict=claims.all_of(
        *(claims.above(e, 1.38, what=f"ratio {label}") for label, e in est.items())
    ),
    scale=scale,
)

# %%
# Fails if doubling n_f changes v_eff(1) as much as doubling n_z or more: the mean over
# both n_z doublings of log ratio minus the mean over both n_f doublings of |log ratio|
# (factors.doubling_gap, bootstrap over latents) at or below 0.
five = torch.stack([counts[n] for n in ("nz/2", "base", "2nz", "nf/2", "2nf")], 1)
gap = claims.bootstrap(five, factors.doubling_gap)
run.claim(
    "001",
    "Fig. 6e (n_f)",
    "Doubling n_f changes v_eff(1) much less than doubling n_z.",
    paper_value="16.14, 16.55, 17.29 (CelebA); 28.37, 34.93, 40.04 (LSUN): \u201cdoes "
                "not result in "
    "noticeable change for CelebA, and only results in a modest increase\u201d",
    ours=gap,
    verdict=claims.above(
        gap, 0.0, what="mean log ratio of n_z doublings - mean |log ratio| of n_f's"
    ),
    scale=scale,
)
# Fails unless the top eigenvectors' change maps overlap less than those of as
# many N(0, I) directions and of as many random unit directions: each difference of
# mean off-diagonal cosines (eigen - random, bootstrap over latents of the base model)
# must lie wholly below 0.
run.claim(
    "001",
    "Sec. 5, Fig. 5",
    "Perturbations along the top eigenvectors change distinct attributes of the image "
    "(more distinct than random directions).",
    paper_value="\u201cthese changes are not only semantically meaningful, but "
                "also tend to make modifications to distinct attributes of the "
                "image\u201d (Fig. 5g, judged by eye)",
    ours=f"{overlap_gap:.3g} (N(0, I)); {overlap_gap_unit:.3g} (unit)",
    fmt="",
    verdict=claims.all_of(
        claims.below(
            overlap_gap, 0.0, what=f"overlap(top {k} eigen) - overlap({k} N(0, I))"
        ),
        claims.below(
            overlap_gap_unit, 0.0, what=f"overlap(top {k} eigen) - overlap({k} unit)"
        ),
    ),
    scale=scale + "; measured: pixel-change-map overlap, not meaning",
)

# Fails unless going from n_z/2 to 2n_z both raises v_eff(1) (ratio of means above 1)
# and moves the samples farther from the test digits (difference of Frechet distances in
# the classifier's features above 0; bootstrap over latents and over samples).
if digits:
    more_factors = claims.bootstrap(
        torch.stack([counts["nz/2"], counts["2nz"]], 1), factors.mean_ratio
    )
    paired = torch.stack([feat["2nz"], feat["nz/2"]], 1).double()
    worse_samples = claims.bootstrap(
        paired, frechet.distance_difference(feat_test), resamples=500
    )
    run.claim(
        "001",
        "Fig. 5(c)-(h)",
        "Larger latent sizes may buy more explanatory factors at the price of "
        "decreased sample quality.",
        paper_value="\u201clarger values of nz may encourage the generator to capture "
        "more explanatory factors, possibly at the price of decreased sample "
        "quality\u201d",
        ours=f"v_eff(1) x{more_factors:.3g}; FD {worse_samples:+.2f} (2nz - nz/2)",
        fmt="",
        verdict=claims.all_of(
            claims.above(more_factors, 1.0, what="v_eff(1) ratio 2nz / (nz/2)"),
            claims.above(worse_samples, 0.0, what="FD(2nz) - FD(nz/2), not FID"),
        ),
        scale=scale + f"; sample quality: Fréchet distance of {cfg.quality_samples:,} "
        "samples to test digits in the features of a CNN trained on the training "
        "digits, in place of FID (Inception weights unavailable offline)",
    )

# %%
run.show_claims()

# %%
# NBVAL_CHECK_OUTPUT
print(run.verdicts())

# %%
run.finish(
    **dict(zip(["nz_half", "base", "nz_double", "nf_half", "nf_double"], gans.values()))
)
