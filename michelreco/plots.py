"""Plots of scores (matplotlib, an optional dependency: ``pip install michelreco[plot]``)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import MichelrecoError

__all__ = ["pyplot", "plot_block_f1", "plot_truth_and_prediction", "save_figure"]


def pyplot():
    """matplotlib.pyplot with a file-only backend, or a clear error when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        raise MichelrecoError("plotting needs matplotlib: pip install 'michelreco[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path) -> None:
    """Save a figure through a temporary name, renamed when complete."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)


def plot_block_f1(table, block: int, path) -> None:
    """F1, precision and recall per block of ``block`` consecutive events (the stability plot)."""
    plt = pyplot()
    blocks = table.per_block(block)
    centers = [(lo + hi) / 2 for lo, hi, _ in blocks]
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, style in (("f1", "o-"), ("precision", "s--"), ("recall", "^--")):
        ax.plot(centers, [getattr(c, name) for _, _, c in blocks], style, ms=3, label=name)
    pooled = table.pooled.f1
    ax.axhline(pooled, color="k", lw=0.8, label=f"pooled F1 = {pooled:.3f}")
    ax.set_xlabel(f"event index (blocks of {block})")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Michel voxel scores per block of events")
    save_figure(fig, path)
    plt.close(fig)


def plot_truth_and_prediction(xyze, labels, predicted, path, title: str = "", zoom_voxels: int | None = 60) -> None:
    """Two rows of x-y, x-z, y-z projections: voxels by truth label, then the prediction's TP/FP/FN.

    With ``zoom_voxels``, the view is centred on the true and predicted Michel voxels, that many voxels
    each way; otherwise the whole event is drawn.
    """
    import numpy as np

    plt = pyplot()
    xyze = np.asarray(xyze)
    labels = np.asarray(labels)
    pred = np.zeros(len(xyze), bool)
    pred[np.asarray(predicted, int)] = True
    truth = labels == 2
    shown = np.ones(len(xyze), bool)
    if zoom_voxels is not None and (truth | pred).any():
        centre = xyze[truth | pred, :3].mean(axis=0)
        shown = np.all(np.abs(xyze[:, :3] - centre) <= zoom_voxels, axis=1)
    label_colours = np.array(["tab:orange", "tab:blue", "tab:red", "tab:green", "0.75"])
    label_names = ("shower", "track", "Michel", "delta", "low energy")
    outcome = np.full(len(xyze), "0.8", dtype=object)
    outcome[truth & pred] = "tab:green"
    outcome[pred & ~truth] = "tab:red"
    outcome[truth & ~pred] = "black"
    fig, axes = plt.subplots(2, 3, figsize=(14, 9))
    for k, (a, b) in enumerate(((0, 1), (0, 2), (1, 2))):
        for row, colours in ((0, label_colours[labels]), (1, outcome)):
            ax = axes[row, k]
            ax.scatter(xyze[shown, a], xyze[shown, b], c=list(colours[shown]), s=4, linewidths=0)
            ax.set_xlabel("xyz"[a] + " (voxel)")
            ax.set_ylabel("xyz"[b] + " (voxel)")
            ax.set_aspect("equal", adjustable="datalim")
    for i, name in enumerate(label_names):
        axes[0, 0].scatter([], [], c=label_colours[i], s=12, label=name)
    for colour, name in (("tab:green", "found (TP)"), ("tab:red", "wrong (FP)"), ("black", "missed (FN)")):
        axes[1, 0].scatter([], [], c=colour, s=12, label=name)
    axes[0, 0].legend(fontsize=8, loc="best")
    axes[1, 0].legend(fontsize=8, loc="best")
    axes[0, 1].set_title("truth labels" + (f" - {title}" if title else ""))
    axes[1, 1].set_title("finder: Michel voxels found, wrong, missed")
    save_figure(fig, path)
    plt.close(fig)
