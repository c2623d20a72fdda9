"""The report's own figures: F1, recall and precision by bin, and where the Michel voxels go."""

from __future__ import annotations

from os import PathLike

import numpy as np

from michelreco.analysis.display_style import CLASS_STYLES

__all__ = ["plot_bins", "plot_lost"]


def plot_bins(rows: list[dict], xlabel: str, path: str | PathLike, log_x: bool = False) -> None:
    """F1, recall and precision of the events in each bin (``report.f1_in_bins``), events per bin below.

    Each point sits at the mean value of its events; its horizontal bar spans the bin (an overflow bin up
    to its largest value, its upper edge written "and above").

    Parameters
    ----------
    rows : list of dict
        ``report.f1_in_bins`` rows.
    xlabel : str
        What the bins are of, with unit.
    path : path-like
        Output image.
    log_x : bool
        Logarithmic horizontal axis.
    """
    from michelreco.analysis.plots import pyplot, save_figure

    plt = pyplot()
    fig, (ax, axn) = plt.subplots(2, 1, figsize=(6.4, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    x = np.array([r["mean"] for r in rows])
    lo = np.array([r["lo"] for r in rows])
    hi = np.array([r["hi"] if np.isfinite(r["hi"]) else r["max"] for r in rows])
    xerr = np.vstack([x - lo, hi - x])
    for key, style, colour in (("f1", "o", "#000000"), ("recall", "^", "#0072b2"), ("precision", "s", "#d55e00")):
        ax.errorbar(x, [r[key] for r in rows], xerr=xerr if key == "f1" else None, fmt=style + ("-" if key == "f1"
                    else "--"), color=colour, ms=4, lw=1 if key == "f1" else 0.8, capsize=0, label=key)
    for r, xi in zip(rows, x):
        if not np.isfinite(r["hi"]):
            ax.annotate(f"{r['lo']:g} and above", (xi, r["f1"]), textcoords="offset points", xytext=(0, -14),
                        ha="center", fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("pooled score")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    over = np.array([not np.isfinite(r["hi"]) for r in rows])
    axn.bar(lo, [r["events"] for r in rows], width=hi - lo, align="edge", color="0.75", edgecolor="white",
            hatch=[".." if o else "" for o in over])
    axn.set_ylabel("events")
    axn.set_xlabel(xlabel)
    if log_x:
        ax.set_xscale("log")
    fig.align_ylabels()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_lost(diag: dict, path: str | PathLike) -> None:
    """Where the labelled Michel voxels go (found, or lost by cause) and what the listed voxels are.

    Parameters
    ----------
    diag : dict
        ``Diagnosis.as_dict()``: ``actual`` (with ``tp``), ``lost`` and ``false`` (voxels by cause).
    path : path-like
        Output image.
    """
    from michelreco.analysis.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 2.6))
    actual = diag["actual"]
    bars = [("labelled Michel voxels", [("found (TP)", actual["tp"], CLASS_STYLES["found (TP)"][0])]
             + [(f"lost: {c}", v, CLASS_STYLES.get(f"missed: {c} (FN)", ("#444444",))[0])
                for c, v in diag["lost"].items()]),
            ("voxels the solution lists", [("found (TP)", actual["tp"], CLASS_STYLES["found (TP)"][0])]
             + [(f"wrong: {c}", v, shade) for (c, v), shade in zip(diag["false"].items(),
                                                                    ("#d55e00", "#f4a582", "#8c2d04"))])]
    for y, (name, parts) in enumerate(bars[::-1]):
        total = sum(v for _, v, _ in parts) or 1
        left = 0.0
        for label, v, colour in parts:
            frac = v / total
            ax.barh(y, frac, left=left, color=colour, edgecolor="white", label=label if v else None)
            if frac > 0.04:
                ax.text(left + frac / 2, y, f"{100 * frac:.1f}%", ha="center", va="center", fontsize=8,
                        color="white" if colour in ("#000000", "#009e73", "#d55e00", "#8c2d04") else "black")
            left += frac
    ax.set_yticks(range(len(bars)), [name for name, _ in bars[::-1]])
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of the voxels of the bar")
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    ax.legend(seen.values(), seen.keys(), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=4,
              frameon=False)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
