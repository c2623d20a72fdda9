"""Plots of scores (matplotlib, an optional dependency: ``pip install michelreco[plot]``)."""

from __future__ import annotations

import io
from os import PathLike
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from michelreco.errors import MichelrecoError
from michelreco.run.io import write_bytes_atomically

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from michelreco.analysis.metrics import ScoreTable

__all__ = ["pyplot", "plot_block_f1", "save_figure"]


def pyplot() -> ModuleType:
    """matplotlib.pyplot with a file-only backend, or a clear error when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        raise MichelrecoError("plotting needs matplotlib: pip install 'michelreco[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig: Figure, path: str | PathLike) -> None:
    """Save a figure (format from the file's suffix) through a temporary name, renamed when complete."""
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=110, bbox_inches="tight")
    write_bytes_atomically(path, buf.getvalue())


def plot_block_f1(table: ScoreTable, block: int, path: str | PathLike) -> None:
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
