"""Numbers that turn the chapters' pictures into checkable claims."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression

from gandensity.workflows.data import PHOTOS, ImageData

__all__ = ["PixelDigitClassifier", "top_k_share", "spearman", "ink", "auroc", "ks_statistic", "roughness",
           "background_fraction", "label_counts", "nearest_distance",
           "patch_coefficient_of_variation", "top_bottom", "describe_counts", "digit_table", "pairs",
           "spearman_pairs", "auroc_pairs", "spearman_gap", "within_class_spearman", "within_class_spearman_gap",
           "class_share", "std_ratio", "largest_class_share",
           "bootstrap_two_sample", "ks_distance", "mean_gap", "PHOTO_NAMES", "LOOPY_DIGITS", "mean_by_class"]

# Short names of the photographs behind ``photo_patches`` (a patch's label is its photo's index).
PHOTO_NAMES: tuple[str, ...] = tuple(ref.split(":")[1].split("/")[0].split(".")[0] for ref in PHOTOS)
# Paper 000's "loopy" digits (section 6.1) read as the digits whose usual shape closes a loop.
LOOPY_DIGITS: tuple[int, ...] = (0, 6, 8, 9)


class PixelDigitClassifier:
    """Multinomial logistic regression on raw pixels: a transparent labeller for generated digits.

    Fitted with L-BFGS (deterministic); about 90% held-out accuracy on MNIST-5k at 32x32, enough to
    count which digits a GAN's samples resemble, which is all the chapters ask of it.
    """

    def __init__(self, train: ImageData, *, c: float = 0.05, max_iter: int = 300) -> None:
        self.shape = tuple(train.images.shape[1:])
        self.model = LogisticRegression(C=c, max_iter=max_iter)
        self.model.fit(self._features(train.images), train.labels.numpy())

    def _features(self, images: torch.Tensor) -> np.ndarray:
        if tuple(images.shape[1:]) != self.shape:
            raise ValueError(f"the classifier was fitted on images of shape (N, {', '.join(map(str, self.shape))}), "
                             f"got {tuple(images.shape)}")
        return images.detach().float().cpu().reshape(len(images), -1).numpy()

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N,) predicted digit."""
        return torch.from_numpy(self.model.predict(self._features(images)))

    def accuracy(self, data: ImageData) -> float:
        return float((self.predict(data.images) == data.labels).float().mean())


def top_k_share(scores: torch.Tensor, labels: torch.Tensor, label: int, k: int, *, lowest: bool = False) -> float:
    """Share of ``label`` among the ``k`` highest (or lowest) scores; scores and labels are (N,)."""
    order = scores.argsort(descending=not lowest)[:k]
    return float((labels[order] == label).float().mean())


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two (N,) tensors."""
    return float(spearmanr(a.detach().cpu().numpy(), b.detach().cpu().numpy()).statistic)


def ink(images: torch.Tensor) -> torch.Tensor:
    """Mean pixel intensity in [0, 1] of (N, C, H, W) images in [-1, 1] -> (N,): how much is drawn."""
    return ((images + 1) / 2).mean(dim=(1, 2, 3))


def auroc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` (N,) for telling ``positive`` (N,) bool from the rest.

    The Mann-Whitney form: the probability that a random positive scores higher than a random negative,
    ties counting one half. 0.5 is chance; 1.0 puts every positive above every negative, 0.0 below.
    """
    from scipy.stats import rankdata
    s = scores.detach().double().cpu().numpy()
    pos = positive.detach().cpu().numpy().astype(bool)
    if s.shape != pos.shape or s.ndim != 1:
        raise ValueError(f"scores and positive must both have shape (N,), got {s.shape} and {pos.shape}")
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"need positives and negatives, got {n_pos} and {n_neg}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def ks_statistic(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test of (N,) and (M,) samples: ``(statistic, p-value)``.

    The statistic is the largest gap between the two empirical CDFs: 0 for identical samples, 1 for
    samples that do not overlap.
    """
    from scipy.stats import ks_2samp
    result = ks_2samp(a.detach().double().cpu().numpy(), b.detach().double().cpu().numpy())
    return float(result.statistic), float(result.pvalue)


def roughness(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (horizontal and vertical), in [0, 1] units, of
    (N, C, H, W) images in [-1, 1] -> (N,): 0 for a flat image, large for busy, high-frequency content."""
    x = (images.detach().float() + 1) / 2
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return (dx + dy) / 2


def background_fraction(images: torch.Tensor, *, level: float = 0.1) -> torch.Tensor:
    """Share of pixels within ``level`` (in [0, 1] units) of the image's darkest pixel, averaged over
    channels: (N, C, H, W) in [-1, 1] -> (N,). For digits, the black background left around the strokes."""
    x = (images.detach().float() + 1) / 2
    darkest = x.amin(dim=(2, 3), keepdim=True)
    return (x <= darkest + level).float().mean(dim=(1, 2, 3))


def label_counts(labels: torch.Tensor, num_classes: int = 10) -> list[int]:
    """How many of (N,) integer labels fall in each class 0..num_classes-1."""
    return torch.bincount(labels.long(), minlength=num_classes)[:num_classes].tolist()


def nearest_distance(images: torch.Tensor, reference: torch.Tensor, *, chunk_size: int = 512) -> torch.Tensor:
    """Root-mean-square pixel distance from each of (N, C, H, W) images to its nearest neighbour among
    (M, C, H, W) reference images -> (N,): how far an image lies from the data, in the pixel units of [-1, 1].
    Batched with ``torch.cdist`` in chunks of ``chunk_size`` images."""
    if images.shape[1:] != reference.shape[1:]:
        raise ValueError(f"images {tuple(images.shape)} and reference {tuple(reference.shape)} differ in shape")
    ref = reference.detach().float().reshape(len(reference), -1)
    out = [torch.cdist(x.detach().float().reshape(len(x), -1), ref).amin(dim=1) for x in images.split(chunk_size)]
    return torch.cat(out) / ref.shape[1] ** 0.5


def patch_coefficient_of_variation(images: torch.Tensor, *, patch: int = 8, offset: float = 0.01) -> torch.Tensor:
    """Mean coefficient of variation of the non-overlapping ``patch`` x ``patch`` patches of each image (paper 002,
    section 4.2, Fig. 8 right): (N, C, H, W) images in [-1, 1] -> (N,).

    Pixel values are mapped to [0, 1]; a patch's CV is the standard deviation of its pixel values (all channels)
    divided by their mean plus ``offset``. The paper divides by the mean alone; the offset keeps all-black patches
    (the background of digits), whose mean is 0, at CV 0 like every other flat patch instead of 0/0. Incomplete
    patches at the border are dropped.
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    if patch < 1 or patch > min(h, w):
        raise ValueError(f"patch must be in [1, {min(h, w)}], got {patch}")
    x = (images.detach().double()[:, :, :h // patch * patch, :w // patch * patch] + 1) / 2
    tiles = x.unfold(2, patch, patch).unfold(3, patch, patch)  # (N, C, h', w', p, p)
    tiles = tiles.permute(0, 2, 3, 1, 4, 5).reshape(n, -1, c * patch * patch)
    cv = tiles.std(-1, unbiased=False) / (tiles.mean(-1) + offset)
    return cv.mean(1)


# ------------------------------------------------------------------------------------------ rankings


class TopBottom(NamedTuple):
    """Indices of the ``k`` highest scores (highest first) and of the ``k`` lowest (lowest first)."""

    top: torch.Tensor
    bottom: torch.Tensor


def top_bottom(scores: torch.Tensor, k: int) -> TopBottom:
    """The ``k`` most and least likely items of (N,) ``scores``; ``k`` must lie in [1, N // 2]."""
    if scores.ndim != 1:
        raise ValueError(f"scores must have shape (N,), got {tuple(scores.shape)}")
    if not 1 <= k <= len(scores) // 2:
        raise ValueError(f"k must lie in [1, {len(scores) // 2}] for {len(scores)} scores, got {k}")
    order = scores.argsort(descending=True)
    return TopBottom(order[:k], order[-k:].flip(0))


def describe_counts(counts: list[int], *, n: int = 3, names: list[str] | None = None) -> str:
    """The ``n`` largest classes of a count list as text, largest first: ``"1 (40), 7 (40), 9 (8)"``.

    Ties keep the smaller class first; classes with count 0 are left out.
    """
    names = names or [str(i) for i in range(len(counts))]
    ranked = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
    return ", ".join(f"{names[i]} ({counts[i]})" for i in ranked[:n] if counts[i] > 0)


def digit_table(labels: torch.Tensor, groups: dict[str, torch.Tensor], num_classes: int = 10):
    """Counts of each class among the items of each group: a pandas DataFrame, one row per group.

    ``groups`` maps a row name to the (k,) indices of its items; a column ``k`` holds the group's size.
    """
    import pandas as pd

    rows = {name: label_counts(labels[idx], num_classes) for name, idx in groups.items()}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[str(c) for c in range(num_classes)])
    table.insert(0, "k", [len(idx) for idx in groups.values()])
    return table


# ------------------------------------------------------------------------------------------ bootstrap statistics
# Statistics of an (N, columns) array of per-item values, for a bootstrap over items
# (``gandensity.book.claims.bootstrap(values, statistic)``): resampling rows keeps pairs together.


def pairs(*columns: torch.Tensor) -> np.ndarray:
    """Stack (N,) tensors as the columns of an (N, len(columns)) float array (one row per item)."""
    arrays = [np.asarray(c.detach().double().cpu().numpy() if hasattr(c, "detach") else c, dtype=float)
              for c in columns]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise ValueError(f"columns must all have shape (N,), got {[a.shape for a in arrays]}")
    return np.stack(arrays, axis=1)


def spearman_pairs(values: np.ndarray) -> float:
    """Spearman correlation of the two columns of an (N, 2) array."""
    return float(spearmanr(values[:, 0], values[:, 1]).statistic)


def auroc_pairs(values: np.ndarray) -> float:
    """AUROC (:func:`auroc`) of column 0 (scores) for telling column 1 (1 = positive, 0 = negative).

    A bootstrap resample of a small set can lack one of the classes; it has no AUROC and counts as 0.5
    (chance), which can only pull an interval toward chance, never make a verdict more confident.
    """
    positive = values[:, 1] > 0.5
    if positive.all() or not positive.any():
        return 0.5
    return auroc(torch.from_numpy(values[:, 0]), torch.from_numpy(positive))


def spearman_gap(values: np.ndarray) -> float:
    """|Spearman(col 0, col 2)| - |Spearman(col 1, col 2)| of an (N, 3) array: how much more column 0
    depends on column 2 than column 1 does (negative: less)."""
    return abs(spearman_pairs(values[:, [0, 2]])) - abs(spearman_pairs(values[:, [1, 2]]))


def within_class_spearman(values: np.ndarray) -> float:
    """Mean over classes of Spearman(col 0, col 1) within each class of an (N, 3) array whose column 2 holds the
    class labels; classes with fewer than 3 items, or constant within the class, are skipped (NaN if none is
    left). Correlation within classes removes what differs between classes (content) from a relation with a
    per-image measure such as ink."""
    labels = values[:, 2].astype(int)
    rhos = []
    for c in np.unique(labels):
        rows = values[labels == c]
        if len(rows) >= 3 and rows[:, 0].std() > 0 and rows[:, 1].std() > 0:
            rhos.append(spearman_pairs(rows[:, :2]))
    return float(np.mean(rhos)) if rhos else float("nan")


def within_class_spearman_gap(values: np.ndarray) -> float:
    """|within-class Spearman(col 0, col 2)| - |within-class Spearman(col 1, col 2)| of an (N, 4) array whose
    column 3 holds class labels: how much more score 0 depends on the measure in column 2, within classes, than
    score 1 does (negative: less)."""
    return (abs(within_class_spearman(values[:, [0, 2, 3]]))
            - abs(within_class_spearman(values[:, [1, 2, 3]])))


def class_share(values: np.ndarray) -> float:
    """Share of the variance of column 0 of an (N, 2) array explained by the classes in column 1 (eta squared:
    between-class variance over total variance; 1 when the score is a function of the class)."""
    scores, labels = values[:, 0], values[:, 1].astype(int)
    total = scores.var()
    if total == 0:
        return 0.0
    between = sum((labels == c).mean() * (scores[labels == c].mean() - scores.mean()) ** 2
                  for c in np.unique(labels))
    return float(between / total)


def std_ratio(values: np.ndarray) -> float:
    """Standard deviation of column 0 over that of column 1 of an (N, 2) array."""
    return float(values[:, 0].std() / values[:, 1].std())


def largest_class_share(values: np.ndarray) -> float:
    """Share of the most common class among (N,) integer labels (1.0: one class only)."""
    labels = np.asarray(values).astype(int).ravel()
    return float(np.bincount(labels).max() / len(labels))


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic of two 1-D samples (:func:`ks_statistic` without the p-value)."""
    from scipy.stats import ks_2samp
    return float(ks_2samp(a, b).statistic)


def mean_gap(a: np.ndarray, b: np.ndarray) -> float:
    """mean(a) - mean(b) of two 1-D samples."""
    return float(np.mean(a) - np.mean(b))


def bootstrap_two_sample(a: torch.Tensor, b: torch.Tensor, statistic: Callable[[np.ndarray, np.ndarray], float],
                         *, level: float = 0.95, resamples: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """``statistic(a, b)`` of two independent 1-D samples with a percentile bootstrap interval.

    Each sample is resampled with replacement at its own size. Returns ``(value, low, high)``
    (``gandensity.book.claims.Estimate(*...)`` makes a claim's estimate of it).
    """
    x = np.asarray(a.detach().double().cpu().numpy() if hasattr(a, "detach") else a, dtype=float).ravel()
    y = np.asarray(b.detach().double().cpu().numpy() if hasattr(b, "detach") else b, dtype=float).ravel()
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"each sample needs at least 2 items, got {len(x)} and {len(y)}")
    if not 0 < level < 1 or resamples < 100:
        raise ValueError(f"need 0 < level < 1 and resamples >= 100, got {level} and {resamples}")
    rng = np.random.default_rng(seed)
    stats = np.array([statistic(x[rng.integers(0, len(x), len(x))], y[rng.integers(0, len(y), len(y))])
                      for _ in range(resamples)])
    alpha = (1 - level) / 2
    return float(statistic(x, y)), float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def mean_by_class(scores: torch.Tensor, labels: torch.Tensor, names: tuple[str, ...] | list[str]):
    """Mean score and count of each class that occurs: a pandas DataFrame sorted by mean, highest first.

    ``names[c]`` names class ``c`` (e.g. :data:`PHOTO_NAMES` for photo patches)."""
    import pandas as pd

    rows = {names[c]: (float(scores[labels == c].mean()), int((labels == c).sum()))
            for c in range(len(names)) if bool((labels == c).any())}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["mean", "count"])
    return table.sort_values("mean", ascending=False)
