"""The report's picture of one event (PNG): the whole event beside three views zoomed on its Michels, in cm."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from michelreco.analysis.display_style import (CANDIDATE_COLOURS, CLASS_STYLES, CM, ENERGY_RANGE_MEV, LABEL_COLOURS,
                                               PEAK_COLOURS, empty_panel)
from michelreco.analysis.event_view_focus import candidate_peaks, focus_box, voxel_classes
from michelreco.constants import LABEL_NAMES
from michelreco.run.outputs import PathLike, write_bytes_atomically

if TYPE_CHECKING:
    from mpl_toolkits.mplot3d import Axes3D

__all__ = ["event_view_png"]


def _cube_edges(centre, half):
    """The 12 edges of a cube as pairs of corner points."""
    c = np.asarray(centre, float)
    corners = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], float) * half + c
    return [(corners[a], corners[b]) for a in range(8) for b in range(a + 1, 8)
            if np.count_nonzero(corners[a] != corners[b]) == 1]


def _set_cube(ax, centre, half) -> None:
    """Axis limits (cm) of a cube around ``centre`` (voxels) with half side ``half`` (voxels)."""
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter((c - half) * CM, (c + half) * CM)
    ax.set_box_aspect((1, 1, 1))


def _axes_cm(ax) -> None:
    """Axis labels in centimetres, small ticks."""
    ax.set_xlabel("x (cm)", fontsize=8, labelpad=-2)
    ax.set_ylabel("y (cm)", fontsize=8, labelpad=-2)
    ax.set_zlabel("z (cm)", fontsize=8, labelpad=-2)
    ax.tick_params(labelsize=6, pad=-1)


def event_view_png(xyze: np.ndarray, labels: np.ndarray | None, predicted: np.ndarray | None,
                   records: list[dict] | None, path: PathLike, title: str = "",
                   focus: dict[str, float] | None = None) -> tuple[np.ndarray, float] | None:
    """The report's picture of one event: the whole event beside three views zoomed on its Michels.

    Panels: the whole event in outcome colours with the zoomed cube drawn; the cube coloured by voxel
    energy (log scale, the same for every event) with the candidates' Bragg peaks; the cube in truth labels
    (without labels: in the finder's outcome only); the cube in outcome classes (``voxel_classes``) with
    each candidate's peak marked ``#k`` (green: taken, purple: rejected).

    Parameters
    ----------
    xyze : ndarray (N, 4)
        The event.
    labels : ndarray (N,) or None
        Truth labels.
    predicted : ndarray or None
        Indices listed by the solution.
    records : list of dict or None
        ``MichelFinder.explain`` records of the event.
    path : path-like
        Output image (PNG).
    title : str
        Figure title.
    focus : dict, optional
        Weights of the voxel classes when choosing the zoom (``focus_box``'s ``weights``).

    Returns
    -------
    (centre, half) or None
        The zoomed cube (voxels), as ``focus_box``; None when the event has nothing to zoom on.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    from michelreco.analysis.plots import pyplot

    plt = pyplot()
    classes = voxel_classes(len(xyze), labels, predicted, records)
    peaks = candidate_peaks(records)
    box = focus_box(xyze, classes, [p for p, _, _ in peaks], weights=focus)
    fig = plt.figure(figsize=(9.6, 8.4))
    xyz_cm = xyze[:, :3] * CM
    if box is not None:
        centre, half = box
        inside = np.all(np.abs(xyze[:, :3] - centre) <= half, axis=1)
    else:
        inside = np.zeros(len(xyze), bool)

    def draw_classes(ax: Axes3D, keep: np.ndarray, overview: bool) -> list:
        """Draw each outcome class (within ``keep``) on ``ax``; return the legend handles."""
        handles = []
        for name, mask in classes:
            m = mask & keep
            colour, marker, size = CLASS_STYLES[name]
            if m.any():
                # the muon and the rest stay visible beside the Michel in the zoom
                s = size * 0.5 if overview else (5.0 if name == "other voxels" else size)
                ax.scatter(*xyz_cm[m].T, c=colour, marker=marker, s=s, depthshade=False, linewidths=0)
                handles.append(Line2D([], [], ls="", marker=marker, color=colour, ms=5,
                                      label=f"{name}: {int(mask.sum())}"))
        return handles

    shown_peaks = [(p, text, taken) for p, text, taken in peaks
                   if box is not None and np.all(np.abs(p - box[0]) <= box[1])]     # those inside the zoom

    def draw_peaks(ax: Axes3D) -> None:
        """Mark the candidates' Bragg peaks shown on ``ax``."""
        for p, text, taken in shown_peaks:
            colour = PEAK_COLOURS[taken]
            ax.scatter(*(p * CM), marker="*", s=140, c=colour, edgecolors="white", linewidths=0.6, depthshade=False)
            ax.text(*(p * CM), f" {text}", fontsize=8, color=colour, fontweight="bold")

    # 1: the whole event
    ax = fig.add_subplot(2, 2, 1, projection="3d")
    if len(xyze):
        handles = draw_classes(ax, np.ones(len(xyze), bool), overview=True)
        if box is not None:
            for a, b in _cube_edges(box[0] * CM, box[1] * CM):
                ax.plot(*np.array([a, b]).T, color="#e69f00", lw=1.0)
        lo, hi = xyz_cm.min(axis=0), xyz_cm.max(axis=0)
        ax.set_box_aspect(np.maximum(hi - lo, 1.0))
    else:
        handles = []
        empty_panel(ax, "no voxels in this event")
    ax.set_title("whole event (orange cube: the zoom)", fontsize=9)
    _axes_cm(ax)
    panels = [("around the Michel: voxel energy", "energy"),
              ("around the Michel: truth labels" if labels is not None else "around the Michel: candidates",
               "labels"), ("around the Michel: the finder's outcome", "outcome")]
    for k, (name, what) in enumerate(panels):
        ax = fig.add_subplot(2, 2, k + 2, projection="3d")
        ax.set_title(name, fontsize=9)
        _axes_cm(ax)
        if box is None or not inside.any():
            empty_panel(ax, "nothing Michel-like to zoom on")
            continue
        _set_cube(ax, *box)
        if what == "energy":
            e = np.clip(xyze[inside, 3], *ENERGY_RANGE_MEV)
            sc = ax.scatter(*xyz_cm[inside].T, c=e, cmap="viridis", norm=LogNorm(*ENERGY_RANGE_MEV), s=6,
                            depthshade=False, linewidths=0)
            fig.colorbar(sc, ax=ax, shrink=0.6, pad=0.14, label="voxel energy (MeV)")
            draw_peaks(ax)
        elif what == "labels" and labels is not None:
            for k_lab, name_lab in enumerate(LABEL_NAMES):
                m = inside & (labels == k_lab)
                if m.any():
                    ax.scatter(*xyz_cm[m].T, c=LABEL_COLOURS[k_lab], s=6, depthshade=False, linewidths=0,
                               label=name_lab)
            ax.legend(fontsize=7, loc="upper left", markerscale=1.5, title="truth label", title_fontsize=7)
        elif what == "labels":
            cand_handles = []
            other = inside.copy()
            for r, colour in zip(records or [], CANDIDATE_COLOURS * 8):
                v = np.asarray(r["voxels"], np.int64)
                m = np.zeros(len(xyze), bool)
                m[v] = True
                m &= inside
                other &= ~m
                if m.any():
                    ax.scatter(*xyz_cm[m].T, c=colour, s=7, depthshade=False, linewidths=0)
                    cand_handles.append(Line2D([], [], ls="", marker="o", color=colour, ms=5,
                                               label=f"#{r['candidate']} " + ("taken" if r["michel"] else "rejected")))
            ax.scatter(*xyz_cm[other].T, c=CLASS_STYLES["other voxels"][0], s=1.5, depthshade=False, linewidths=0)
            if cand_handles:
                ax.legend(handles=cand_handles, fontsize=7, loc="upper left", title="candidate",
                          title_fontsize=7)
            draw_peaks(ax)
        else:
            draw_classes(ax, inside, overview=False)
            draw_peaks(ax)
    if handles:
        peak_handles = [Line2D([], [], ls="", marker="*", color=PEAK_COLOURS[t], ms=9,
                               label="Bragg peak of a " + ("taken" if t else "rejected") + " candidate")
                        for t in (True, False) if any(taken == t for _, _, taken in shown_peaks)]
        fig.legend(handles=handles[::-1] + peak_handles, loc="lower center", ncol=3, fontsize=8, frameon=False,
                   title="voxels (count in the whole event)", title_fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11, y=0.995)
    fig.subplots_adjust(left=0.0, right=0.95, top=0.93, bottom=0.1, wspace=0.1, hspace=0.16)
    _save_fast(fig, path)
    plt.close(fig)
    return box


def _save_fast(fig, path, dpi: int = 100) -> None:
    """Save a PNG as laid out (no tight bounding box: one draw instead of two), through a temporary name."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    write_bytes_atomically(path, buf.getvalue())
