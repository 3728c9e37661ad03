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
# A GAN generator maps latents to an $n$-dimensional manifold in pixel space and has no density there.
# The paper adds an observation model, $x = G(z) + \mathcal{N}(0, \sigma^2 I)$,
# $z \sim \mathcal{N}(0, I)$, under which every image has a likelihood (paper Eq. 4),
#
# $$ p_\theta(x) = \int \mathcal{N}\big(x;\, G(z),\, \sigma^2 I\big)\, p(z)\, dz , $$
#
# estimates it by annealed importance sampling (AIS) {cite}`neal2001,wu2017`, and asks what the GAN's
# density prefers: test images of its own domain, or images from elsewhere? This chapter does the same
# for two GANs side by side: the MNIST DCGAN of chapter A1, and the natural-image DCGAN of chapters
# A2-A4, trained on patches of nine photographs at `cpu` (the offline stand-in for CIFAR-10, which it
# trains on at the paper profile). Both are the same cached models. For each, the chapter fits
# $\sigma^2$, checks AIS against the bidirectional Monte Carlo sandwich on simulated data
# {cite}`grosse2015`, compares the likelihoods of test, generated and out-of-distribution images, and
# asks whether AIS has converged well enough to resolve the differences it compares.
#
# Profiles (see {doc}`intro`): `smoke` (seconds; numbers mean nothing), `cpu` (this page: MNIST-5k
# and photo patches, AIS with 100 steps and 2 chains on 8 to 32 images per group) and `paper`
# (the paper's AIS settings, 500 steps, 4 chains and 10 leapfrog steps, on hundreds of images per
# group, and CIFAR-10 for the natural-image GAN, meant for a GPU).

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
data_root = None  # directory with torchvision data sets (paper profile)
device = None  # cpu | cuda | auto; None keeps the profile's choice
seed = None  # None keeps the profile's seed
epochs = None  # DCGAN epochs; None keeps the profile's
width = None  # DCGAN width (64 in the paper profile)
ais_steps = None  # AIS intermediate distributions (500 in the paper)
ais_chains = None  # AIS chains per image (4 in the paper)

# %% tags=["hide-cell"]
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from gandensity.book import claims, plotting
from gandensity.book import jobs as book_jobs
from gandensity.book import specs
from gandensity.book.chapter import start, wrap
from gandensity.book.specs import gan_spec
from gandensity.numerics import ais
from gandensity.workflows import evaluation, likelihoods
from gandensity.workflows.jobs import DATA_SCALE, LikelihoodJob
from gandensity.workflows.training import train_gan

run = start("c2_gan_density", profile, data_root=data_root, device=device, seed=seed,
            epochs=epochs, width=width, ais_steps=ais_steps, ais_chains=ais_chains)
cfg, dev = run.config, run.device
# The chapter's two GANs: settings, a tag for glued names, the suffix of the claims'
# `where` (the MNIST rows keep the names they had before the natural GAN joined) and
# the scale named in the claims.
regimes = {"MNIST": specs.regime(cfg), "natural": specs.regime(cfg, "natural")}
tag = {"MNIST": "mnist", "natural": "nat"}
where = {"MNIST": "", "natural": ", natural"}
scale_name = {
    "MNIST": ("MNIST-5k DCGAN" if regimes["MNIST"]["data"] == "mnist5k"
              else "MNIST DCGAN"),
    "natural": ("natural-image stand-in (photo-patch DCGAN)"
                if regimes["natural"]["data"] == "photo_patches"
                else "CIFAR-10 DCGAN"),
}
in_domain = {"MNIST": "digits", "natural": "patches"}  # what its test images are
# The paper's OOD sets (single colour, SVHN) and their stand-ins: scikit-learn digits
# for the MNIST GAN; both digit sets for the natural-image GAN.
paper_sets = {"MNIST": ["single colours", "sklearn digits"],
              "natural": ["single colours", "MNIST digits", "sklearn digits"]}

# %% [markdown]
# ## The generators and their observation noise
#
# The MNIST DCGAN is chapter A1's (MNIST-5k at 32x32, one channel at `cpu`); the natural-image DCGAN
# is chapters A2-A4's (32x32 colour patches of nine photographs at `cpu`, a narrower network). The
# noise variance $\sigma^2$ is, as in the paper (section 4.1, appendix B.3), the variance of the
# reconstruction error of training images: each is projected onto the generator's manifold by GAN
# inversion, $z^* = \arg\min_z \lVert G(z) - x\rVert^2$ (Adam with a cosine schedule, started from
# the nearest of $K$ generated samples, best of $R$ restarts), and $\sigma^2$ is the mean squared
# residual per pixel, the maximum-likelihood estimate of the noise variance given the projections.
# `likelihoods.fit_noise` does this once for chapters C2 and C3 (cached). The paper reports $\sigma^2$
# with its PSNR, $10 \log_{10}(1/\sigma^2)$ (its Table 3: 0.008-0.021, 16.8-21.2 dB).

# %%
gans, train, G, noise, sigma2 = {}, {}, {}, {}, {}
for k, reg in regimes.items():
    gans[k], train[k] = train_gan(gan_spec(reg), device=dev, verbose=False)
    G[k] = gans[k].generator.eval()
    noise[k] = likelihoods.fit_noise(G[k], train[k].images, specs.noise_fit(reg))
    sigma2[k] = noise[k].sigma2
    print(f"{k}: {gans[k].summary()}")
    print(likelihoods.noise_report(noise[k], specs.noise_fit(reg)))
    run.glue(f"c2-{tag[k]}-sigma2", sigma2[k], ".4f")

# %%
psnr = {k: claims.bootstrap(noise[k].errors, likelihoods.psnr_of_errors, seed=cfg.seed)
        for k in regimes}
for k, reg in regimes.items():
    run.glue(f"c2-{tag[k]}-psnr", format(psnr[k], ".1f"))
    # Fails if the fitted noise is not much weaker than the signal: PSNR (bootstrap over
    # the fitted images) not wholly above 10 dB (noise variance a tenth of the peak
    # signal power).
    run.claim("002", "Sec. 4.1, Table 3" + where[k], "The fitted observation noise is "
              "much weaker than the signal (high PSNR).",
              paper_value="sigma^2 0.008-0.021, PSNR 16.8-21.2", ours=psnr[k],
              fmt=".1f",
              verdict=claims.above(psnr[k], 10, what="PSNR [dB]"),
              scale=f"{scale_name[k]}, {reg['noise_images']} training images, "
              f"{reg['noise_steps']} inversion steps")

# %% [markdown]
# The fitted noise variance is {glue:text}`c2-mnist-sigma2` for the MNIST DCGAN (PSNR
# {glue:text}`c2-mnist-psnr` dB, 95% bootstrap interval over the fitted images) and
# {glue:text}`c2-nat-sigma2` for the natural-image DCGAN (PSNR {glue:text}`c2-nat-psnr` dB).
#
# ## AIS, and how many steps it needs
#
# AIS anneals from the prior to the posterior through
# $\pi_t(z) \propto p(z)\,\mathcal{N}(x; G(z), \sigma^2 I)^{\beta_t}$ on a sigmoid schedule of
# $\beta_t$, one Hamiltonian Monte Carlo step (10 leapfrog steps, adapted step size) per intermediate
# distribution, as in Wu et al.'s reference code that the paper follows (appendix B.1). Its estimate
# is a stochastic *lower* bound on $\log p(x)$ that tightens with more steps. On *simulated* data,
# $x = G(z) +$ noise with known $z$, running the chain backwards from the true $z$ gives a stochastic
# *upper* bound (bidirectional Monte Carlo, BDMC); the true log-likelihood lies between the two, so
# their gap bounds the error of AIS. The paper chose 500 steps from a plot of the estimate against
# steps (its Fig. 9); {numref}`fig-c2-bdmc` is that plot with the BDMC sandwich, for each GAN, at
# the step counts of the profile and the chapter's own ({glue:text}`c2-ais-steps` steps, with which
# the likelihoods below are estimated).

# %%
bdmc_steps = sorted({*cfg.bdmc_steps, cfg.ais_steps})
run.glue("c2-ais-steps", cfg.ais_steps, "d")
curve, D, rows = {}, {}, []
for k in regimes:
    z_sim, x_sim = ais.simulate(G[k], cfg.bdmc_images, sigma2=sigma2[k],
                                seed=cfg.seed + 7)
    D[k] = x_sim[0].numel()
    run.glue(f"c2-{tag[k]}-dims", f"{D[k]:,}")
    curve[k] = likelihoods.bdmc_curve(G[k], z_sim, x_sim, sigma2=sigma2[k],
                                      steps=bdmc_steps, chains=cfg.ais_chains,
                                      leapfrog=cfg.leapfrog, seed=cfg.seed)
    rows += [{"GAN": k, "AIS steps": t,
              "lower (AIS) [nats]": float(b.lower.mean()),
              "upper (reverse AIS) [nats]": float(b.upper.mean()),
              "gap [nats]": float(b.gap.mean()),
              "gap [bits/dim]": likelihoods.nats_to_bits_per_dim(float(b.gap.mean()),
                                                                 D[k])}
             for t, b in curve[k].items()]
bdmc = pd.DataFrame(rows)
display(Markdown(bdmc.to_markdown(index=False, floatfmt=".3g")))
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, k in zip(axes, regimes):
    part = bdmc[bdmc["GAN"] == k]
    ax.plot(part["AIS steps"], part["lower (AIS) [nats]"], "o-",
            label="forward AIS (lower bound)")
    ax.plot(part["AIS steps"], part["upper (reverse AIS) [nats]"], "s-",
            label="reverse AIS from the true z (upper bound)")
    ax.set(xscale="log", xlabel="AIS steps", ylabel=r"mean $\log p(x)$ [nats]",
           title=f"{k} DCGAN")
axes[0].legend()
fig.tight_layout()
run.figure("c2-bdmc", fig)

# %% [markdown]
# ```{glue:figure} c2-bdmc
# :name: fig-c2-bdmc
#
# BDMC on simulated images of each noisy model (left: MNIST DCGAN, right: natural-image DCGAN): the
# forward AIS estimate (a stochastic lower bound) and the reverse estimate from the true latent (an
# upper bound) against the number of AIS steps (compare the paper's Fig. 9).
# ```
#
# Whether the remaining gap matters depends on what the estimates are used for: the section
# {ref}`c2-convergence` below sets it beside the differences between groups that the claims
# compare.
#
# ## Likelihoods of test, generated and out-of-distribution images
#
# The groups, for each GAN: held-out test images and training images of its domain; samples of the
# noisy model itself ($G(z)$ plus noise of variance $\sigma^2$); and out-of-distribution (OOD) groups
# converted to the GAN's format (32x32, its number of channels). The MNIST DCGAN's OOD groups are
# single-colour images (as in the paper), scikit-learn's 8x8 digits upscaled (a stand-in for the
# paper's SVHN: digits of another style) and patches of natural photographs. The natural-image
# DCGAN's are single colours, MNIST digits and scikit-learn digits (both stand in for SVHN: digits,
# unlike anything in its training photos), uniform noise, and close-up patches of textures (brick,
# grass, gravel) that no GAN trains on.
#
# **Bits per dimension.** The data map an 8-bit value $k$ to $x = k/127.5 - 1$, so neighbouring
# levels lie $\Delta = 2/255$ apart; with uniform dequantization over bins of that width the
# probability of the discrete image is $p(x)\,\Delta^D$, so
#
# $$ \text{bpd} = -\frac{\log p(x) + D \log \Delta}{D \ln 2} , \qquad \Delta = \frac{2}{255} , $$
#
# lower is better, and a uniform density over the range of the 256 bins gives 8 bits (the
# convention of the likelihood jobs and of chapter C4). The paper's Table 1 reports
# "LL (bits/dim)", the negative of this (e.g. $-6.68$ for BigGAN-DiffAug on CIFAR-10); the tables
# below print that, higher is better. Per dimension, the numbers of the one-channel MNIST GAN
# ($D$ = {glue:text}`c2-mnist-dims` pixel values) and of the three-channel natural-image GAN
# ($D$ = {glue:text}`c2-nat-dims`) are on one scale.
#
# **The likelihood jobs.** This step is the job that the command `gandensity likelihood` runs (see
# {doc}`paper_scale`), at every profile: one job per group, with the chapter's AIS settings and
# $\sigma^2$. The chapter runs each job in its own process into a result directory in the package's
# cache, in shards of 8 images (one AIS run each, seeded by the chapter's seed and the shard's index),
# and reads the tables back. A rerun, or chapter C3, which needs the same groups, reads the finished
# shards instead of computing them again. With several GPUs visible, the chapter prints the
# `torchrun` commands that run the same jobs over all of them into the same directories; rerun the
# chapter after them and it reads those tables. The BDMC curves above stay a direct computation on
# a few simulated images.

# %%
groups, ll, LL = {}, {}, {}
for k, reg in regimes.items():
    groups[k] = likelihoods.image_groups(G[k], specs.image_groups(reg),
                                         sigma2=sigma2[k])
    job = LikelihoodJob(sigma2=sigma2[k], steps=reg["ais_steps"],
                        chains=reg["ais_chains"], leapfrog=reg["leapfrog"],
                        seed=reg["seed"])
    result = book_jobs.likelihoods(run, G[k], groups[k], job,
                                   prior=gan_spec(reg).train.prior)
    ll[k] = result.log_likelihood  # {group: (B,) log p(x) in nats}
    # LL in bits/dim with the paper's sign (higher is more likely)
    LL[k] = {n: -ais.bits_per_dim(v, D[k], scale=DATA_SCALE) for n, v in ll[k].items()}
    print(wrap(f"{k} DCGAN: AIS ({reg['ais_steps']} steps, {reg['ais_chains']} chains, "
               f"{reg['leapfrog']} leapfrog) on "
               f"{sum(len(g) for g in groups[k].values())} images: {result.summary()}"))
    display(Markdown(f"**{k} DCGAN**\n\n" + pd.DataFrame({
        "group": list(groups[k]),
        "images": [len(g) for g in groups[k].values()],
        "mean log p(x) [nats]": [float(ll[k][n].mean()) for n in groups[k]],
        "LL [bits/dim]": [float(LL[k][n].mean()) for n in groups[k]],
        "std LL [bits/dim]": [float(LL[k][n].std()) for n in groups[k]],
    }).to_markdown(index=False, floatfmt=".2f")))
    for n in groups[k]:
        slug = n.replace(" ", "-").lower()
        run.glue(f"c2-{tag[k]}-ll-{slug}", float(LL[k][n].mean()), ".2f")

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
for ax, k in zip(axes, regimes):
    values = torch.cat([LL[k][n] for n in groups[k]])
    bins = torch.linspace(float(values.min()), float(values.max()), 41).numpy()
    for n in groups[k]:  # the same bins for every group, so that bar widths compare
        ax.hist(LL[k][n].numpy(), bins=bins, alpha=0.55, label=n)
    ax.set(xlabel="log-likelihood [bits/dim] (higher is more likely)", ylabel="images",
           title=f"{k} DCGAN")
    ax.legend(fontsize=8)
fig.tight_layout()
run.figure("c2-hist", fig)

# %% [markdown]
# ```{glue:figure} c2-hist
# :name: fig-c2-hist
#
# Log-likelihoods (AIS estimates, bits per dimension, higher is more likely) of each group under the
# MNIST DCGAN (left) and the natural-image DCGAN (right) with Gaussian observation noise (compare
# the paper's Fig. 8 left).
# ```

# %%
ood = {k: [n for n in reg["ood"] if n in groups[k]] for k, reg in regimes.items()}
more_likely = {k: {n: claims.Estimate(*likelihoods.bootstrap_interval(
    likelihoods.mean_difference, LL[k][n], LL[k]["test"], seed=cfg.seed))
    for n in ood[k]} for k in regimes}
scale_ll = {k: f"{scale_name[k]}, AIS {reg['ais_steps']} steps x {reg['ais_chains']} "
            f"chains, {len(groups[k]['test'])} test images, "
            f"{len(groups[k]['single colours'])} images per OOD group; "
            + " and ".join(paper_sets[k][1:]) + " stand in for SVHN"
            for k, reg in regimes.items()}
for k in regimes:
    higher = [n for n in paper_sets[k] if more_likely[k][n].value > 0]
    above = (LL[k]["single colours"] > LL[k]["test"].median()).double().mean()
    run.glue(f"c2-{tag[k]}-single-above", f"{float(above):.0%}")
    run.glue(f"c2-{tag[k]}-higher", ", ".join(higher) if higher else "none of them")
    # Fails if a paper set (or its stand-in) is not more likely than the test images
    # (difference of mean LL in bits/dim, bootstrap over the images of both groups,
    # wholly <= 0).
    run.claim("002", "Fig. 8 (left)" + where[k], "Single-colour and SVHN images get "
              "higher log-likelihoods than test images of the training domain.",
              paper_value="Images of single color and SVHN images have higher "
              "log-likelihoods",
              ours="LL(OOD) - LL(test) [bits/dim]: " + ", ".join(
                  f"{n} {more_likely[k][n]:.3g}" for n in paper_sets[k]),
              verdict=claims.all_of(*(claims.above(more_likely[k][n], 0,
                                                   what=f"{n} - test")
                                      for n in paper_sets[k])), scale=scale_ll[k])

# %% [markdown]
# Under the MNIST DCGAN the test digits have a log-likelihood of {glue:text}`c2-mnist-ll-test`
# bits/dim, the training digits {glue:text}`c2-mnist-ll-train` and the model's own samples
# {glue:text}`c2-mnist-ll-generated`. Its OOD groups get {glue:text}`c2-mnist-ll-single-colours`
# (single colours), {glue:text}`c2-mnist-ll-sklearn-digits` (scikit-learn digits) and
# {glue:text}`c2-mnist-ll-photo-patches` (photo patches); of the paper's sets, the ones more likely
# than the test digits are: {glue:text}`c2-mnist-higher`.
#
# Under the natural-image DCGAN the test patches get {glue:text}`c2-nat-ll-test`, the training
# patches {glue:text}`c2-nat-ll-train` and its samples {glue:text}`c2-nat-ll-generated`; the OOD
# groups get {glue:text}`c2-nat-ll-single-colours` (single colours),
# {glue:text}`c2-nat-ll-mnist-digits` (MNIST digits), {glue:text}`c2-nat-ll-sklearn-digits`
# (scikit-learn digits), {glue:text}`c2-nat-ll-noise` (uniform noise) and
# {glue:text}`c2-nat-ll-texture-patches` (texture patches). Of the paper's sets and their stand-ins
# (the two digit sets for SVHN), the ones more likely than the test patches are:
# {glue:text}`c2-nat-higher`. The means hide the spread of the single colours: under the
# natural-image DCGAN {glue:text}`c2-nat-single-above` of them are more likely than its median test
# patch (under the MNIST DCGAN {glue:text}`c2-mnist-single-above` than its median test digit);
# {numref}`fig-c2-ranked-nat` below shows which.
#
# Neither GAN's numbers are comparable with the paper's Table 1 values for CIFAR-10, ImageNet and
# AFHQ images: the GANs, data and image sizes differ. Table 1's comparison with a likelihood model
# trained on the same digits is chapter {doc}`c4_flow_baseline`'s.

# %% [markdown]
# ## Outlier detection by likelihood
#
# If a GAN's density were a good model of its domain, test images would be more likely than OOD
# images, and the likelihood would separate them: an AUROC near 1 for "test image vs. OOD" with the
# likelihood as score, 0.5 for chance, below 0.5 when the OOD images are *more* likely than the test
# images. The paper's Fig. 7 (right) finds the GANs' likelihoods outperformed as outlier detectors
# by simple baselines; here the baseline is the pixel distance to the nearest training image of the
# GAN (1-NN; {glue:text}`c2-mnist-ntrain` training digits, {glue:text}`c2-nat-ntrain` training
# patches; the paper's uses LPIPS, whose weights are not available offline). The paper's other
# use of the likelihood, generative classification with one GAN per class (its Fig. 7 left), is
# chapter {doc}`c5_classification`'s.

# %%
auc, auc_nn, nn_gain, rows = {}, {}, {}, []
for k in regimes:
    run.glue(f"c2-{tag[k]}-ntrain", f"{len(train[k].images):,}")
    nn_dist = {n: evaluation.nearest_distance(groups[k][n], train[k].images)
               for n in ["test", *ood[k]]}
    test_ll, test_nn = ll[k]["test"], -nn_dist["test"].double()
    auc[k] = {n: claims.Estimate(*likelihoods.bootstrap_interval(
        likelihoods.auroc, ll[k][n], test_ll, seed=cfg.seed)) for n in ood[k]}
    auc_nn[k] = {n: claims.Estimate(*likelihoods.bootstrap_interval(
        likelihoods.auroc, -nn_dist[n].double(), test_nn, seed=cfg.seed))
        for n in ood[k]}
    nn_gain[k] = {n: claims.Estimate(*likelihoods.bootstrap_interval(
        likelihoods.auroc_gain, torch.stack([ll[k][n], -nn_dist[n].double()], 1),
        torch.stack([test_ll, test_nn], 1), seed=cfg.seed)) for n in ood[k]}
    rows += [{"GAN": k, "OOD group": n,
              "AUROC by log-likelihood [95% CI]": format(auc[k][n], ".2f"),
              "AUROC by 1-NN distance [95% CI]": format(auc_nn[k][n], ".2f")}
             for n in ood[k]]
display(Markdown(pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)))
fig7 = ("The GANs are outperformed by simple baselines, as well as other generative "
        "models")
for k in regimes:
    # Fails if the 1-NN distance does not beat the likelihood as an outlier score (AUROC
    # gain of 1-NN, bootstrap over both groups, wholly <= 0) for the paper's outlier
    # sets (or their stand-ins).
    run.claim("002", "Fig. 7 (right)" + where[k], "As outlier detectors by likelihood, "
              "GANs are outperformed by a simple 1-NN baseline.", paper_value=fig7,
              ours="AUROC gain of 1-NN: "
              + ", ".join(f"{n} {nn_gain[k][n]:+.2f}" for n in paper_sets[k]),
              verdict=claims.all_of(*(claims.above(nn_gain[k][n], 0,
                                                   what=f"AUROC gain {n}")
                                      for n in paper_sets[k])),
              scale=scale_ll[k] + "; 1-NN by l2, not LPIPS")

# %% [markdown]
# ## Which images does a GAN find likely?
#
# {numref}`fig-c2-ranked-mnist` and {numref}`fig-c2-ranked-nat` rank the real images of all groups
# (test, training and OOD) by log-likelihood under each GAN. The paper measures local variation
# (section 4.2, footnote 1) by the coefficient of variation (standard deviation over mean) of each
# 8x8 patch, averaged over the image's patches (`evaluation.patch_coefficient_of_variation`; pixels
# in [0, 1], the mean offset by 0.01 so that black background patches count as flat, CV 0, instead
# of 0/0), and finds the log-likelihood anti-correlated with it on images of two ImageNet classes,
# sports cars and blue herons (its Fig. 8 right). Here the correlation is taken over all real images
# of a GAN's groups, as the paper pools its two classes, and within the GAN's own domain alone (its
# test and training images).

# %%
rho_all, rho_in, n_real = {}, {}, {}
fig_cv, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for ax, k in zip(axes, regimes):
    real = [n for n in groups[k] if n != "generated"]
    images = torch.cat([groups[k][n] for n in real])
    scores = torch.cat([ll[k][n] for n in real])
    fig = plotting.ranked_grids(images, scores, cfg.grid, label="log-likelihood",
                                seed=cfg.seed)
    run.figure(f"c2-ranked-{tag[k]}", fig)
    cv = {n: evaluation.patch_coefficient_of_variation(groups[k][n]) for n in real}
    rho_all[k] = claims.Estimate(*likelihoods.bootstrap_interval(
        likelihoods.spearman_pairs,
        torch.stack([scores, torch.cat([cv[n] for n in real])], 1), seed=cfg.seed))
    rho_in[k] = claims.Estimate(*likelihoods.bootstrap_interval(
        likelihoods.spearman_pairs,
        torch.stack([torch.cat([ll[k]["test"], ll[k]["train"]]),
                     torch.cat([cv["test"], cv["train"]])], 1), seed=cfg.seed))
    run.glue(f"c2-{tag[k]}-rho-all", format(rho_all[k], ".2f"))
    run.glue(f"c2-{tag[k]}-rho-in", format(rho_in[k], ".2f"))
    n_real[k] = len(scores)
    run.glue(f"c2-{tag[k]}-nreal", n_real[k], "d")
    for n in real:
        ax.scatter(cv[n].numpy(), LL[k][n].numpy(), s=12, label=n)
    ax.set(xlabel="mean CV of 8x8 patches", ylabel="log-likelihood [bits/dim]",
           title=f"{k} DCGAN")
    ax.legend(fontsize=8)
fig_cv.tight_layout()
run.figure("c2-cv", fig_cv)

# %% [markdown]
# ```{glue:figure} c2-ranked-mnist
# :name: fig-c2-ranked-mnist
#
# Real images of all groups: a random selection, the most likely and the least likely under the
# MNIST DCGAN (compare the paper's Fig. 8 middle).
# ```
#
# ```{glue:figure} c2-ranked-nat
# :name: fig-c2-ranked-nat
#
# Real images of all groups: a random selection, the most likely and the least likely under the
# natural-image DCGAN (compare the paper's Fig. 8 middle).
# ```
#
# ```{glue:figure} c2-cv
# :name: fig-c2-cv
#
# Log-likelihood against the mean coefficient of variation of 8x8 patches, for every real image,
# under the MNIST DCGAN (left) and the natural-image DCGAN (right) (compare the paper's Fig. 8
# right).
# ```
#
# The Spearman correlation of log-likelihood and patch CV under the MNIST DCGAN is
# {glue:text}`c2-mnist-rho-all` over all {glue:text}`c2-mnist-nreal` real images and
# {glue:text}`c2-mnist-rho-in` within the MNIST digits; under the natural-image DCGAN it is
# {glue:text}`c2-nat-rho-all` over all {glue:text}`c2-nat-nreal` real images and
# {glue:text}`c2-nat-rho-in` within its own test and training patches (95% bootstrap intervals).

# %%
for k in regimes:
    # Fails if either correlation is positive (interval wholly >= 0): over all real
    # images, as the paper pools images of two classes, and within the GAN's domain.
    run.claim("002", "Fig. 8 (right)" + where[k], "The log-likelihood is "
              "anti-correlated with the average coefficient of variation of 8x8 "
              "patches.",
              paper_value="a clear anti-correlation between the average local variance "
              "within an image and the LL",
              ours=f"Spearman: all real images {rho_all[k]:.2f}; {in_domain[k]} only "
              f"{rho_in[k]:.2f}",
              verdict=claims.all_of(
                  claims.below(rho_all[k], 0, what="Spearman, all real images"),
                  claims.below(rho_in[k], 0, what=f"Spearman, {in_domain[k]}")),
              scale=f"{scale_name[k]}, {n_real[k]} real images of {len(groups[k]) - 1} "
              "groups vs two ImageNet classes")

# %% [markdown]
# (c2-convergence)=
# ## Has AIS converged enough for the comparisons?
#
# AIS underestimates $\log p(x)$ by an amount that shrinks with the number of steps; a difference
# between two groups is resolved only if it is larger than that error. The BDMC gap on simulated
# images bounds the error there (real images, off the manifold, may be harder). The claims above
# compare the paper's OOD sets (single colours and the SVHN stand-ins) with the test images, so the
# yardstick is the smallest of those differences,
# $\min_{\text{OOD}} |\overline{LL}(\text{OOD}) - \overline{LL}(\text{test})|$ in bits/dim, set
# beside the BDMC gap at the chapter's {glue:text}`c2-ais-steps` steps (the paper uses 500). {numref}`fig-c2-gap` shows the gap against steps for both GANs, with a third of each
# GAN's smallest difference as a dashed line.

# %%
gap_pub, gap_last, shrink, smallest, rows = {}, {}, {}, {}, []
fig, ax = plt.subplots(figsize=(6.5, 4))
for k in regimes:
    first, last, pub = (curve[k][bdmc_steps[0]], curve[k][bdmc_steps[-1]],
                        curve[k][cfg.ais_steps])
    shrink[k] = claims.bootstrap(last.gap - first.gap, seed=cfg.seed)
    gap_pub[k] = claims.bootstrap(likelihoods.nats_to_bits_per_dim(pub.gap, D[k]),
                                  seed=cfg.seed)
    diffs = {n: abs(float(LL[k][n].mean() - LL[k]["test"].mean())) for n in ood[k]}
    name = min(paper_sets[k], key=diffs.get)  # the groups that the claims compare
    smallest[k] = (name, diffs[name])
    gap = gap_pub[k].value
    t = tag[k]
    run.glue(f"c2-{t}-gap-pub", gap, ".3g")
    run.glue(f"c2-{t}-gap-pub-nats", float(pub.gap.mean()), ".0f")
    run.glue(f"c2-{t}-min-diff", diffs[name], ".3g")
    run.glue(f"c2-{t}-min-diff-group", name)
    run.glue(f"c2-{t}-gap-ratio", max(diffs[name], gap) / min(diffs[name], gap), ".2g")
    run.glue(f"c2-{t}-gap-word", "smaller" if gap < diffs[name] else "larger")
    run.glue(f"c2-{t}-gap-trend", "shrinks" if shrink[k].value < 0 else "grows")
    run.glue(f"c2-{t}-gap-first", likelihoods.nats_to_bits_per_dim(
        float(first.gap.mean()), D[k]), ".3g")
    gap_last[k] = likelihoods.nats_to_bits_per_dim(float(last.gap.mean()), D[k])
    unresolved = [n for n in ood[k] if diffs[n] < gap]
    run.glue(f"c2-{t}-unresolved", ", ".join(unresolved) or "none")
    rows += [{"GAN": k, "OOD group": n, "compared by the claims":
              "yes" if n in paper_sets[k] else "no",
              "|LL(OOD) - LL(test)| [bits/dim]": f"{diffs[n]:.3g}",
              f"difference / gap at {cfg.ais_steps} steps": f"{diffs[n] / gap:.3g}"}
             for n in ood[k]]
    part = bdmc[bdmc["GAN"] == k]
    line, = ax.plot(part["AIS steps"], part["gap [bits/dim]"], "o-", label=f"{k} DCGAN")
    ax.axhline(diffs[name] / 3, ls="--", color=line.get_color(),
               label=f"{k}: a third of the smallest difference compared")
ax.axvline(cfg.ais_steps, color="gray", lw=0.8)
ax.set(xscale="log", yscale="log", xlabel="AIS steps", ylabel="BDMC gap [bits/dim]")
ax.legend(fontsize=8)
run.figure("c2-gap", fig)
run.glue("c2-bdmc-first", bdmc_steps[0], "d")
# A sentence on the curve's longest chains, where they are longer than the chapter's
run.glue("c2-gap-last-sentence", (
    f"The curve stops at the chapter's {cfg.ais_steps} steps."
    if bdmc_steps[-1] == cfg.ais_steps else
    f"With {bdmc_steps[-1]} steps, the most of the curve, the gap falls to "
    f"{gap_last['MNIST']:.3g} bits/dim under the MNIST DCGAN and "
    f"{gap_last['natural']:.3g} under the natural-image DCGAN."))
display(Markdown(pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)))

# %% [markdown]
# ```{glue:figure} c2-gap
# :name: fig-c2-gap
#
# The BDMC gap (upper minus lower bound, mean over the simulated images, bits per dimension) against
# the number of AIS steps for each GAN; dashed: a third of the GAN's smallest difference of mean
# log-likelihood between one of the paper's OOD sets (or stand-ins) and its test images; gray: the
# chapter's step count.
# ```
#
# Under the MNIST DCGAN the gap {glue:text}`c2-mnist-gap-trend` with more steps, from
# {glue:text}`c2-mnist-gap-first` bits/dim at {glue:text}`c2-bdmc-first` steps; at
# {glue:text}`c2-ais-steps` steps it is {glue:text}`c2-mnist-gap-pub` bits/dim
# ({glue:text}`c2-mnist-gap-pub-nats` nats per image), {glue:text}`c2-mnist-gap-ratio` times
# {glue:text}`c2-mnist-gap-word` than the smallest group difference compared,
# {glue:text}`c2-mnist-min-diff` bits/dim ({glue:text}`c2-mnist-min-diff-group` against the test
# digits). Under the natural-image DCGAN the gap {glue:text}`c2-nat-gap-trend`, from
# {glue:text}`c2-nat-gap-first` bits/dim; at {glue:text}`c2-ais-steps` steps it is
# {glue:text}`c2-nat-gap-pub` bits/dim ({glue:text}`c2-nat-gap-pub-nats` nats per image),
# {glue:text}`c2-nat-gap-ratio` times {glue:text}`c2-nat-gap-word` than the smallest group
# difference compared, {glue:text}`c2-nat-min-diff` bits/dim
# ({glue:text}`c2-nat-min-diff-group` against the test patches).
# {glue:text}`c2-gap-last-sentence` The table lists every OOD
# group's difference from the test images in units of the gap at {glue:text}`c2-ais-steps` steps,
# also those that no claim compares: a ratio below 1 is a difference that AIS at this budget does
# not resolve.

# %%
for k in regimes:
    name, diff = smallest[k]
    # Fails if the BDMC gap does not shrink from the fewest to the most steps (paired
    # bootstrap over the simulated images), or if at the chapter's AIS steps it is not
    # below a third of the smallest |mean LL(OOD) - mean LL(test)| that the claims
    # compare (so that AIS's error cannot reverse or erase that difference).
    run.claim("002", "Fig. 9, App. B.1" + where[k], "The AIS estimate converges with "
              "the number of steps, to well within the resolution of the "
              "log-likelihoods compared.",
              paper_value="The log-likelihood of most samples converges after 500 "
              "steps",
              ours=f"gap change {shrink[k]:.3g} nats; gap at {cfg.ais_steps} steps "
              f"{gap_pub[k]:.3g} bits/dim; smallest difference compared {diff:.3g} "
              f"bits/dim ({name} - test)",
              verdict=claims.all_of(
                  claims.below(shrink[k], 0, what="gap change [nats]"),
                  claims.below(gap_pub[k], diff / 3, what="gap [bits/dim]")),
              scale=f"{scale_name[k]}, {cfg.bdmc_images} simulated images, steps "
              f"{bdmc_steps} vs 500 steps on CIFAR-10 test images")

# %% tags=["hide-cell"]
# Numbers and words of the summary below, computed from the results above.
for k in regimes:
    d = [more_likely[k][n].value for n in paper_sets[k]]
    run.glue(f"c2-{tag[k]}-ood-dir", "more" if min(d) > 0 else "less" if max(d) < 0
             else "sometimes more, sometimes less")
    same_sign = min(d) > 0 or max(d) < 0
    a = sorted(abs(x) for x in d) if same_sign else sorted(d)
    run.glue(f"c2-{tag[k]}-ood-range", f"{a[0]:.3g} to {a[-1]:.3g}")
    run.glue(f"c2-{tag[k]}-ood-where", "below" if max(d) < 0 else
             "above" if min(d) > 0 else "away from")
    run.glue(f"c2-{tag[k]}-min-diff-nats", min(
        abs(float(ll[k][n].mean() - ll[k]["test"].mean())) for n in paper_sets[k]),
        ",.0f")
nat_far = max(abs(more_likely["natural"][n].value) for n in paper_sets["natural"])
mnist_near = min(abs(more_likely["MNIST"][n].value) for n in paper_sets["MNIST"])
run.glue("c2-nat-vs-mnist",
         "all smaller" if nat_far < mnist_near else "not all smaller")
for k in regimes:
    signs = ["falls" if r.value < 0 else "rises" for r in (rho_all[k], rho_in[k])]
    run.glue(f"c2-{tag[k]}-cv-phrase", (
        f"{signs[0]} with patch variation both over all real images and within its "
        f"own {in_domain[k]}" if signs[0] == signs[1] else
        f"{signs[0]} with patch variation over all real images but {signs[1]} with "
        f"it within its own {in_domain[k]}"))
verdict_keys = {"Sec. 4.1, Table 3": "table3", "Fig. 9, App. B.1": "fig9",
                "Fig. 8 (left)": "fig8l", "Fig. 7 (right)": "fig7r",
                "Fig. 8 (right)": "fig8r"}
for c in run.claims:
    k = "natural" if c.where.endswith(", natural") else "MNIST"
    base = c.where.removesuffix(", natural")
    run.glue(f"c2-{tag[k]}-v-{verdict_keys[base]}", c.verdict.label)

# %% [markdown]
# ## What carries over
#
# The scale differs from the paper's in every respect: small DCGANs on 32x32 digits and photo
# patches instead of large GANs on colour images of CIFAR-10, ImageNet and AFHQ, and AIS at the
# `cpu` profile with a fifth of the paper's steps and half its chains on 8 to 32 images per group. The claims table below sets each finding beside ours, one row per GAN (rows whose place
# ends in "natural" are the natural-image DCGAN's). Claim by claim, and in which regime it holds:
#
# - **Weak observation noise** (Table 3): {glue:text}`c2-mnist-v-table3` for the MNIST DCGAN,
#   {glue:text}`c2-nat-v-table3` for the natural-image DCGAN (PSNR {glue:text}`c2-mnist-psnr` and
#   {glue:text}`c2-nat-psnr` dB, against the paper's 16.8-21.2 dB; the claim's bar is 10 dB).
# - **AIS converged to within the differences compared** (Fig. 9): {glue:text}`c2-mnist-v-fig9`
#   for the MNIST DCGAN, {glue:text}`c2-nat-v-fig9` for the natural-image DCGAN. The gap at
#   {glue:text}`c2-ais-steps` steps is {glue:text}`c2-mnist-gap-ratio` times
#   {glue:text}`c2-mnist-gap-word` than the smallest compared difference under the first and
#   {glue:text}`c2-nat-gap-ratio` times {glue:text}`c2-nat-gap-word` under the second. OOD groups
#   whose difference from the test images is below the gap, so not resolved at this scale: under
#   the MNIST DCGAN {glue:text}`c2-mnist-unresolved`; under the natural-image DCGAN
#   {glue:text}`c2-nat-unresolved`. The gap is measured on simulated images; real images, off the
#   manifold, are harder for AIS, so all estimates here are loose lower bounds.
# - **Single colours and SVHN more likely than test images** (Fig. 8 left):
#   {glue:text}`c2-mnist-v-fig8l` for the MNIST DCGAN, {glue:text}`c2-nat-v-fig8l` for the
#   natural-image DCGAN. The paper's sets (and stand-ins) are {glue:text}`c2-mnist-ood-dir` likely
#   than the test digits under the first, by {glue:text}`c2-mnist-ood-range` bits/dim, and
#   {glue:text}`c2-nat-ood-dir` likely than the test patches under the second, by
#   {glue:text}`c2-nat-ood-range` bits/dim.
# - **1-NN beats the likelihood as an outlier detector** (Fig. 7 right):
#   {glue:text}`c2-mnist-v-fig7r` for the MNIST DCGAN, {glue:text}`c2-nat-v-fig7r` for the
#   natural-image DCGAN.
# - **Likelihood anti-correlated with patch variation** (Fig. 8 right):
#   {glue:text}`c2-mnist-v-fig8r` for the MNIST DCGAN, {glue:text}`c2-nat-v-fig8r` for the
#   natural-image DCGAN.
#
# Why the MNIST DCGAN differs from the paper's GANs: its outputs are white strokes on black; a
# single-colour image, gray scikit-learn digit or photo patch differs from every one of them in most
# pixels, and with $\sigma^2$ = {glue:text}`c2-mnist-sigma2` the Gaussian observation term punishes
# that: the mean log-likelihood of each of the paper's sets lies at least
# {glue:text}`c2-mnist-min-diff-nats` nats per image {glue:text}`c2-mnist-ood-where` that of the
# test digits. The paper's OOD sets were close to its GANs' manifolds (its section 3: single colours
# and SVHN are reconstructed *better* than training images); on MNIST they are not (chapter
# {doc}`c1_gan_manifold`). Under the MNIST DCGAN the likelihood {glue:text}`c2-mnist-cv-phrase`.
#
# The natural-image DCGAN, trained on photographs and with a fitted noise variance of
# {glue:text}`c2-nat-sigma2`, is nearer the paper's regime: the differences of the paper's sets
# from its test images are {glue:text}`c2-nat-vs-mnist` than any of the MNIST DCGAN's, and its
# likelihood {glue:text}`c2-nat-cv-phrase`. Whether the smaller differences still go the paper's
# way is the Fig. 8 (left) row; whether AIS resolves them, the Fig. 9 row.
#
# Chapter {doc}`c3_typicality` uses these likelihoods for the typicality test of section 4.3, and
# chapter {doc}`c5_classification` classifies images by their likelihood under one GAN per class
# (the paper's Fig. 7 left).

# %%
run.show_claims()

# %%
# NBVAL_CHECK_OUTPUT
print(run.verdicts())

# %%
run.finish(dcgan=gans["MNIST"], natural_dcgan=gans["natural"])
