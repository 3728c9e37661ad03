"""Figures shared by the chapters: image grids and ranked grids."""

from __future__ import annotations

import math
import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["image_grid", "ranked_grids", "use_book_style", "STYLE"]

# The book's one figure style (applied by gandensity.book.chapter.start).
STYLE: dict[str, object] = {
    "figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (8.8, 3.6), "font.size": 10,
    "axes.titlesize": 10, "axes.labelsize": 10, "legend.fontsize": 9, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": False, "image.cmap": "viridis", "figure.autolayout": False,
}


def use_book_style() -> None:
    """Apply :data:`STYLE` to matplotlib's rcParams."""
    plt.rcParams.update(STYLE)


def image_grid(images: torch.Tensor, *, ax: Axes | None = None, title: str | None = None,
               nrow: int | None = None) -> Axes:
    """Show (N, C, H, W) images in [-1, 1] as one tiled picture, ``nrow`` tiles per row. Returns the axes."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    pad = 2
    canvas = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    tiles = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2)
    for i, tile in enumerate(tiles):  # at most a few hundred tiles: a picture, not a hot path
        r, q = divmod(i, nrow)
        canvas[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = tile
    ax = ax if ax is not None else plt.gca()
    picture = canvas[0] if c == 1 else canvas.permute(1, 2, 0)
    ax.imshow(picture, cmap="gray" if c == 1 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def ranked_grids(images: torch.Tensor, scores: torch.Tensor, k: int, *, label: str = "log-density",
                 random_first: bool = True, seed: int = 0) -> Figure:
    """Random, highest-scoring and lowest-scoring ``k`` of (N, C, H, W) images, side by side."""
    order = scores.argsort(descending=True)
    panels = [(order[:k], f"highest {label}"), (order[-k:].flip(0), f"lowest {label}")]
    if random_first:
        pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:k]
        panels.insert(0, (pick, "random"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.3))
    for ax, (idx, title) in zip(axes, panels):
        image_grid(images[idx], ax=ax, title=title)
    fig.tight_layout()
    return fig
