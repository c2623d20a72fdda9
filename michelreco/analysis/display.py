"""Event displays: one event in 3D, coloured by energy, by truth label and by the prediction's outcome.

Two families of pictures:

- ``display_png`` / ``display_html`` (``michelreco display``): side-by-side views of one event (energy,
  truth labels, prediction), optionally zoomed, in voxel units;
- ``event_view_png`` / ``event_view_html`` (the report's displays): the whole event beside a view zoomed on
  its Michels and the finder's candidates (``focus_box``), in centimetres, every voxel put in one outcome
  class (``voxel_classes``: found, wrong, missed in a rejected candidate or in none, ...) and each
  candidate's Bragg peak marked with its number and the decision.

PNG through matplotlib; interactive HTML through plotly when it is installed (``pip install
'michelreco[plot]'``). Only the displayed event is read from the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from michelreco.constants import LABEL_NAMES, MICHEL_LABEL, VOXEL_MM
from michelreco.errors import InputError, MichelrecoError
from michelreco.run.io import (check_label_row, check_solution_row, event_count, read_event, read_labels,
                               read_solution, solution_dataset_name)
from michelreco.run.outputs import check_extension, check_output, write_bytes_atomically

__all__ = ["LABEL_COLOURS", "OUTCOME_COLOURS", "CLASS_STYLES", "PEAK_COLOURS", "DISPLAY_FORMATS", "event_panels",
           "panels_figure", "display_png", "display_html", "display_event", "voxel_classes", "focus_box",
           "event_view_png", "event_view_html", "plotly_js"]

LABEL_COLOURS = ("#ff7f0e", "#1f77b4", "#d62728", "#2ca02c", "#bbbbbb")
OUTCOME_COLOURS = {"found (TP)": "#2ca02c", "wrong (FP)": "#d62728", "missed (FN)": "#000000", "other": "#cccccc"}
DISPLAY_FORMATS = (".png", ".svg", ".pdf", ".html", ".htm")

# The report's voxel classes: name -> (colour, matplotlib marker, marker size in points^2), drawn in this order
# (rarest and most important last, so on top). Colours from the Okabe-Ito palette (colour-blind safe).
CLASS_STYLES: dict[str, tuple[str, str, float]] = {
    "other voxels": ("#c4c4c4", "o", 1.5),
    "rejected candidate, not Michel": ("#56b4e9", "o", 5),
    "in a rejected candidate": ("#56b4e9", "o", 5),
    "found (TP)": ("#009e73", "o", 7),
    "found by the finder": ("#009e73", "o", 7),
    "missed: no candidate (FN)": ("#000000", "^", 12),
    "missed: candidate rejected (FN)": ("#cc79a7", "^", 12),
    "missed: boundary (FN)": ("#e69f00", "^", 12),
    "missed (FN)": ("#000000", "^", 12),
    "wrong (FP)": ("#d55e00", "s", 10),
}
PEAK_COLOURS = {True: "#006b4f", False: "#7b3294"}   # Bragg-peak marks: accepted, rejected candidate
CM = VOXEL_MM / 10.0                                  # centimetres per voxel
ENERGY_RANGE_MEV = (0.03, 10.0)                       # fixed colour scale of voxel energy (log), all events


# ------------------------------------------------------------------------------------------------------
# michelreco display: energy, truth labels, prediction side by side
# ------------------------------------------------------------------------------------------------------
def event_panels(xyze: np.ndarray, labels: np.ndarray | None, predicted: np.ndarray | None,
                 zoom_voxels: float | None = None) -> tuple[np.ndarray, list]:
    """The voxels to draw and the panels of ``display_png``.

    Parameters
    ----------
    xyze : ndarray (N, 4)
        The event.
    labels : ndarray (N,) or None
        Truth labels (a "truth labels" panel when given).
    predicted : ndarray or None
        Indices of the voxels a solution lists (a "prediction" panel when given).
    zoom_voxels : float, optional
        Keep only the voxels within this many voxels (each way) of the centre of the Michel voxels.

    Returns
    -------
    shown : ndarray of bool (N,)
        The voxels to draw.
    panels : list
        ``(title, None)`` for the energy panel, ``(title, [(legend name, colour, mask)])`` for the others.
    """
    n = len(xyze)
    shown = np.ones(n, bool)
    truth = labels == MICHEL_LABEL if labels is not None else np.zeros(n, bool)
    pred = np.zeros(n, bool)
    if predicted is not None:
        pred[np.asarray(predicted, int)] = True
    if zoom_voxels is not None and (truth | pred).any():
        centre = xyze[truth | pred, :3].mean(axis=0)
        shown = np.all(np.abs(xyze[:, :3] - centre) <= zoom_voxels, axis=1)
        if not (shown & (truth | pred)).any():      # Michels far apart: their centroid is empty space
            shown = np.ones(n, bool)
    panels: list = [("energy (MeV)", None)]
    if labels is not None:
        panels.append(("truth labels", [(name, LABEL_COLOURS[k], labels == k) for k, name in enumerate(LABEL_NAMES)]))
    if predicted is not None:
        if labels is None:
            panels.append(("found Michel voxels", [("found", OUTCOME_COLOURS["found (TP)"], pred),
                                                   ("other", OUTCOME_COLOURS["other"], ~pred)]))
        else:
            parts = {"found (TP)": pred & truth, "wrong (FP)": pred & ~truth, "missed (FN)": truth & ~pred,
                     "other": ~pred & ~truth}
            panels.append(("prediction", [(k, OUTCOME_COLOURS[k], m) for k, m in parts.items()]))
    return shown, panels


def _empty_panel(ax, text: str = "no voxels to show") -> None:
    """Write ``text`` in the middle of an empty 3D panel."""
    ax.text2D(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=10, color="0.4")


def display_png(xyze, labels, predicted, path, title: str = "", zoom_voxels=None, marks=None) -> None:
    """Side-by-side 3D views (matplotlib) of one event written to an image file.

    Parameters
    ----------
    xyze, labels, predicted, zoom_voxels
        As ``event_panels``.
    path : path-like
        Output file; the format follows its suffix (``DISPLAY_FORMATS`` but HTML).
    title : str
        Added to the first panel's title.
    marks : list of (x, y, z, text), optional
        Points to mark (e.g. Bragg peaks), drawn when inside the view.
    """
    from michelreco.analysis.plots import pyplot, save_figure

    fig = panels_figure(xyze, labels, predicted, title, zoom_voxels, marks)
    save_figure(fig, path)
    pyplot().close(fig)


def panels_figure(xyze, labels, predicted, title: str = "", zoom_voxels=None, marks=None):
    """The matplotlib figure of ``display_png`` (the caller closes it)."""
    from matplotlib.colors import LogNorm

    from michelreco.analysis.plots import pyplot

    plt = pyplot()
    shown, panels = event_panels(xyze, labels, predicted, zoom_voxels)
    fig = plt.figure(figsize=(6.4 * len(panels), 5.6))
    inside = xyze[shown, :3]
    lo = inside.min(axis=0) if len(inside) else np.zeros(3)
    hi = inside.max(axis=0) if len(inside) else np.zeros(3)
    for k, (name, groups) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1, projection="3d")
        if not shown.any():
            _empty_panel(ax, "no voxels in this event" if len(xyze) == 0 else "no voxels to show")
        elif groups is None:
            sc = ax.scatter(*xyze[shown, :3].T, c=np.clip(xyze[shown, 3], *ENERGY_RANGE_MEV), s=3, cmap="viridis",
                            norm=LogNorm(*ENERGY_RANGE_MEV))
            # pad: keep the colour bar clear of the z axis' label
            fig.colorbar(sc, ax=ax, shrink=0.55, pad=0.16, label="voxel energy (MeV)")
        else:
            drawn = False
            for legend, colour, mask in groups:
                m = mask & shown
                if m.any():
                    ax.scatter(*xyze[m, :3].T, c=colour, s=3 if legend != "other" else 1, label=legend)
                    drawn = True
            if drawn:
                ax.legend(fontsize=7, loc="upper left", markerscale=3)
        for x, y, z, text in marks or []:
            if np.all((lo <= (x, y, z)) & ((x, y, z) <= hi)):     # only marks inside the view
                ax.scatter([x], [y], [z], marker="x", s=60, c="m")
                ax.text(x, y, z, text, fontsize=7, color="m")
        ax.set_title(name + (f" - {title}" if title and k == 0 else ""), fontsize=10)
        ax.set_xlabel("x (voxel)")
        ax.set_ylabel("y (voxel)")
        ax.set_zlabel("z (voxel)")
    return fig


def _plotly():
    """plotly's graph_objects and make_subplots, or a clear error when plotly is missing."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise MichelrecoError("the HTML display needs plotly: pip install 'michelreco[plot]'") from None
    return go, make_subplots


def plotly_js() -> bytes:
    """plotly.js (minified) of the installed plotly, to write once beside pages that load it."""
    _plotly()
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode()


def _html_bytes(fig, plotlyjs: str) -> bytes:
    """A plotly figure as a page: plotly.js inline (``"inline"``) or from ``plotly.min.js`` beside it."""
    include = True if plotlyjs == "inline" else "directory"
    return fig.to_html(include_plotlyjs=include, full_html=True, config={"displaylogo": False}).encode()


def display_html(xyze, labels, predicted, path, title: str = "", zoom_voxels=None) -> None:
    """The views of ``display_png`` as an interactive, self-contained HTML page (needs plotly)."""
    go, make_subplots = _plotly()
    shown, panels = event_panels(xyze, labels, predicted, zoom_voxels)
    fig = make_subplots(rows=1, cols=len(panels), specs=[[{"type": "scene"}] * len(panels)],
                        subplot_titles=[name for name, _ in panels])
    for k, (name, groups) in enumerate(panels):
        if groups is None:
            x, y, z = xyze[shown, :3].T
            fig.add_trace(go.Scatter3d(x=x, y=y, z=z, mode="markers", name="energy",
                                       marker=dict(size=2, color=xyze[shown, 3], colorscale="Viridis")),
                          row=1, col=k + 1)
            continue
        for legend, colour, mask in groups:
            m = mask & shown
            if m.any():
                x, y, z = xyze[m, :3].T
                fig.add_trace(go.Scatter3d(x=x, y=y, z=z, mode="markers", name=f"{name}: {legend}",
                                           marker=dict(size=2, color=colour)), row=1, col=k + 1)
    fig.update_layout(title=title, height=600, width=600 * len(panels))
    write_bytes_atomically(path, _html_bytes(fig, "inline"))    # self-contained: opens with no server


def _event_rows(xyze_path, event: int, labels_path, solution_path, dataset: str | None):
    """One event's voxels, labels and solution row, each checked against the event's voxel count."""
    n = event_count(xyze_path)
    if not 0 <= event < n:
        held = f"events 0..{n - 1}" if n else "no events"
        raise InputError(f"{xyze_path}: no event {event} (the file has {held})")
    xyze = read_event(xyze_path, event)
    labels = predicted = None
    if labels_path:
        n_lab = event_count(labels_path, "labels")
        if n_lab != n:
            raise InputError(f"{labels_path} has {n_lab} events but {xyze_path} has {n}")
        labels = check_label_row(read_labels(labels_path, event), len(xyze), event, labels_path)
    if solution_path:
        name = solution_dataset_name(solution_path, dataset)
        n_sol = event_count(solution_path, name)
        if n_sol != n:
            raise InputError(f"{solution_path} has {n_sol} events but {xyze_path} has {n}")
        predicted = check_solution_row(read_solution(solution_path, event, name), len(xyze), event, solution_path)
    return xyze, labels, predicted


def display_event(xyze_path, event: int, out, labels_path=None, solution_path=None, zoom_voxels=None,
                  explain: bool = False, force: bool = False, dataset: str | None = None) -> None:
    """Draw one event of a file (only that event is read) to an image or, for .html, an interactive page.

    Parameters
    ----------
    xyze_path : path-like
        Events file.
    event : int
        Event index.
    out : path-like
        Output file: ``.png``, ``.svg``, ``.pdf`` (matplotlib) or ``.html`` (plotly). It may not be one
        of the inputs (even with ``force``); an existing file is replaced only with ``force``.
    labels_path, solution_path : path-like, optional
        Truth labels and a solution: their row must match the event's voxels.
    zoom_voxels : float, optional
        Show only the voxels within this many voxels of the Michel voxels' centre.
    explain : bool
        Run the finder and mark its candidates' Bragg peaks (taken or rejected).
    force : bool
        Replace an existing ``out``.
    dataset : str, optional
        The solution's dataset (default: its only variable-length integer dataset).
    """
    check_extension(out, DISPLAY_FORMATS, "--out")
    check_output(out, [xyze_path, labels_path, solution_path], force, option="--out")
    if zoom_voxels is not None and not zoom_voxels > 0:
        raise InputError(f"--zoom must be a positive number of voxels, got {zoom_voxels:g}")
    xyze, labels, predicted = _event_rows(xyze_path, event, labels_path, solution_path, dataset)
    marks = None
    if explain:
        from michelreco.reco.finder import MichelFinder

        finder = MichelFinder()
        records = finder.explain(xyze)
        if predicted is None:
            predicted = finder.find(xyze)
        marks = [(r["features"]["peak_x"], r["features"]["peak_y"], r["features"]["peak_z"],
                  "Bragg peak, Michel" if r["michel"] else "peak, rejected") for r in records]
    title = f"event {event}"
    if Path(out).suffix.lower() in (".html", ".htm"):
        display_html(xyze, labels, predicted, out, title, zoom_voxels)
    else:
        display_png(xyze, labels, predicted, out, title, zoom_voxels, marks)


# ------------------------------------------------------------------------------------------------------
# The report's displays: whole event and a zoom on its Michels and candidates, in centimetres
# ------------------------------------------------------------------------------------------------------
def voxel_classes(n: int, labels: np.ndarray | None, predicted: np.ndarray | None,
                  records: list[dict] | None = None) -> list[tuple[str, np.ndarray]]:
    """Put every voxel of an event in one outcome class (names are keys of ``CLASS_STYLES``).

    With labels and candidates, a missed Michel voxel gets the cause ``analysis.diagnose`` gives it: in no
    candidate, in a candidate that is mostly Michel but was rejected, or only in candidates that are mostly
    not Michel (the boundary of the cut at the Bragg peak).

    Parameters
    ----------
    n : int
        Voxels in the event.
    labels : ndarray (n,) or None
        Truth labels; without them voxels are only "found by the finder", "in a rejected candidate" or other.
    predicted : ndarray or None
        Indices listed by the solution.
    records : list of dict, optional
        ``MichelFinder.explain`` records (each with ``voxels`` and the decision ``michel``).

    Returns
    -------
    list of (name, mask)
        Disjoint boolean masks covering every voxel, in drawing order (classes with no voxel included).
    """
    pred = np.zeros(n, bool)
    if predicted is not None and len(predicted):
        pred[np.asarray(predicted, np.int64)] = True
    truth = np.asarray(labels) == MICHEL_LABEL if labels is not None else np.zeros(n, bool)
    in_cand, in_good, rejected = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    for r in records or []:
        v = np.asarray(r["voxels"], np.int64)
        if not len(v):
            continue
        in_cand[v] = True
        if 2 * int(truth[v].sum()) > len(v):
            in_good[v] = True
        if not r["michel"]:
            rejected[v] = True
    if labels is None:
        cand = rejected & ~pred
        return [("other voxels", ~pred & ~cand), ("in a rejected candidate", cand), ("found by the finder", pred)]
    missed = truth & ~pred
    out = [("other voxels", ~truth & ~pred & ~rejected), ("rejected candidate, not Michel", ~truth & ~pred & rejected),
           ("found (TP)", pred & truth)]
    if records is None:
        out.append(("missed (FN)", missed))
    else:
        out += [("missed: no candidate (FN)", missed & ~in_cand),
                ("missed: boundary (FN)", missed & in_cand & ~in_good),
                ("missed: candidate rejected (FN)", missed & in_good)]
    out.append(("wrong (FP)", pred & ~truth))
    return out


_WEIGHTS = {"found (TP)": 1.0, "found by the finder": 1.0, "wrong (FP)": 3.0, "missed (FN)": 3.0,
            "missed: no candidate (FN)": 3.0, "missed: candidate rejected (FN)": 3.0, "missed: boundary (FN)": 3.0,
            "rejected candidate, not Michel": 1e-3, "in a rejected candidate": 1e-3}


def focus_box(xyze: np.ndarray, classes: list[tuple[str, np.ndarray]], peaks=(), join_voxels: float = 12.0,
              margin_voxels: float = 10.0, min_half_voxels: float = 20.0, max_half_voxels: float = 120.0,
              weights: dict[str, float] | None = None) -> tuple[np.ndarray, float] | None:
    """The cube to zoom on: around the group of Michel-related voxels that matters most.

    Michel-related voxels (found, wrong, missed, in a rejected candidate) are grouped by proximity
    (``join_voxels``); each group weighs its voxels (missed and wrong 3, found 1, rejected candidates 0.001:
    they only matter in an event with nothing else)
    and the heaviest is chosen, with the Bragg peaks (x, y, z in voxels) lying near it. ``weights`` (class
    name -> weight) overrides these, e.g. to zoom on the missed voxels of an event shown for them.

    Returns
    -------
    (centre, half) or None
        Centre (voxels, shape (3,)) and half side (voxels) of the cube; None when no voxel is Michel-related.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    weight = np.zeros(len(xyze))
    table = {**_WEIGHTS, **(weights or {})}
    for name, mask in classes:
        weight[mask] = table.get(name, 0.0)
    idx = np.flatnonzero(weight > 0)
    if idx.size == 0:
        return None
    pts = xyze[idx, :3].astype(np.float64)
    pairs = cKDTree(pts).query_pairs(join_voxels, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(idx), len(idx)))
    _, group = connected_components(graph, directed=False)
    best = int(np.argmax(np.bincount(group, weights=weight[idx])))
    pts = pts[group == best]
    peaks = np.asarray(peaks, dtype=np.float64).reshape(-1, 3)
    if len(peaks):
        near = cKDTree(pts).query(peaks)[0] <= join_voxels
        pts = np.vstack([pts, peaks[near]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    half = float(np.clip((hi - lo).max() / 2 + margin_voxels, min_half_voxels, max_half_voxels))
    return (lo + hi) / 2, half


def _cube_edges(centre, half):
    """The 12 edges of a cube as pairs of corner points."""
    c = np.asarray(centre, float)
    corners = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], float) * half + c
    return [(corners[a], corners[b]) for a in range(8) for b in range(a + 1, 8)
            if np.count_nonzero(corners[a] != corners[b]) == 1]


def _peaks(records) -> list[tuple[np.ndarray, str, bool]]:
    """Each candidate's Bragg peak (voxels), its mark text and whether it was taken."""
    return [(np.array([r["features"]["peak_x"], r["features"]["peak_y"], r["features"]["peak_z"]]),
             f"#{r['candidate']}", bool(r["michel"])) for r in records or []]


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
                   records: list[dict] | None, path, title: str = "",
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
    peaks = _peaks(records)
    box = focus_box(xyze, classes, [p for p, _, _ in peaks], weights=focus)
    fig = plt.figure(figsize=(9.6, 8.4))
    xyz_cm = xyze[:, :3] * CM
    if box is not None:
        centre, half = box
        inside = np.all(np.abs(xyze[:, :3] - centre) <= half, axis=1)
    else:
        inside = np.zeros(len(xyze), bool)

    def draw_classes(ax, keep, overview: bool) -> list:
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

    def draw_peaks(ax) -> None:
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
        _empty_panel(ax, "no voxels in this event")
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
            _empty_panel(ax, "nothing Michel-like to zoom on")
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
            for r, colour in zip(records or [], _CANDIDATE_COLOURS * 8):
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


_CANDIDATE_COLOURS = ["#e69f00", "#0072b2", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#f0e442", "#000000"]


def event_view_html(xyze: np.ndarray, labels: np.ndarray | None, predicted: np.ndarray | None,
                    records: list[dict] | None, path, title: str = "", box=None, plotlyjs: str = "inline") -> None:
    """The report's interactive view of one event (needs plotly): the whole event and the zoomed cube.

    Both scenes show the outcome classes of ``voxel_classes`` (a click on a legend entry hides a class in
    both) and each candidate's Bragg peak, whose hover text gives the decision and the failed rules.
    Hovering a voxel gives its position (cm), energy (MeV) and truth label.

    Parameters
    ----------
    xyze, labels, predicted, records, title
        As ``event_view_png``.
    path : path-like
        Output page.
    box : (centre, half), optional
        The zoomed cube (voxels); default ``focus_box``.
    plotlyjs : {"inline", "directory"}
        plotly.js inside the page, or loaded from ``plotly.min.js`` beside it (``plotly_js``).
    """
    go, make_subplots = _plotly()
    classes = voxel_classes(len(xyze), labels, predicted, records)
    peaks = _peaks(records)
    if box is None:
        box = focus_box(xyze, classes, [p for p, _, _ in peaks])
    titles = ["whole event", "zoom on the Michel" if box is not None else "zoom: nothing Michel-like"]
    fig = make_subplots(rows=1, cols=2, specs=[[{"type": "scene"}, {"type": "scene"}]], subplot_titles=titles,
                        horizontal_spacing=0.02)
    xyz_cm = xyze[:, :3] * CM
    inside = (np.all(np.abs(xyze[:, :3] - box[0]) <= box[1], axis=1) if box is not None
              else np.zeros(len(xyze), bool))
    label_text = (np.array(LABEL_NAMES, dtype=object)[np.asarray(labels)] if labels is not None
                  else np.full(len(xyze), "", dtype=object))
    hover = "x %{x:.1f} cm, y %{y:.1f} cm, z %{z:.1f} cm<br>%{customdata}<extra>%{fullData.name}</extra>"
    for name, mask in classes:
        colour, marker, size = CLASS_STYLES[name]
        symbol = {"o": "circle", "^": "diamond", "s": "square"}[marker]
        for col, keep in ((1, mask), (2, mask & inside)):
            if not keep.any():
                continue
            info = [f"{e:.3g} MeV" + (f", label {lab}" if lab else "") for e, lab in
                    zip(xyze[keep, 3], label_text[keep])]
            fig.add_trace(go.Scatter3d(
                x=xyz_cm[keep, 0], y=xyz_cm[keep, 1], z=xyz_cm[keep, 2], mode="markers",
                name=f"{name}: {int(mask.sum())}", legendgroup=name, showlegend=col == 1 or not mask.any(),
                marker=dict(size=1.5 if name == "other voxels" else 3 if col == 1 else 4, color=colour,
                            symbol=symbol),
                customdata=info, hovertemplate=hover), row=1, col=col)
    truth = np.asarray(labels) == MICHEL_LABEL if labels is not None else np.zeros(len(xyze), bool)
    for (p, text, taken), r in zip(peaks, records or []):
        failed = [f"{k}: {v[6:]}" for k, v in r["rules"].items() if v.startswith("fail")]
        info = (f"candidate {text}: " + ("taken as a Michel" if taken else "rejected")
                + (f" (probability {r['score']:.2f})" if "score" in r else "") + "<br>"
                + ("hand rules failed:<br>" if failed else "") + "<br>".join(failed[:4]))
        # numbers only for the candidates that matter: taken, holding Michel voxels, or inside the zoom
        inside_box = box is not None and bool(np.all(np.abs(p - box[0]) <= box[1]))
        named = taken or inside_box or bool(truth[np.asarray(r["voxels"], np.int64)].any())
        for col in (1, 2):
            if col == 2 and not inside_box:
                continue
            fig.add_trace(go.Scatter3d(
                x=[p[0] * CM], y=[p[1] * CM], z=[p[2] * CM], mode="markers+text" if named else "markers",
                text=[text],
                name="Bragg peak, " + ("taken" if taken else "rejected"), legendgroup=f"peak{taken}",
                showlegend=False, marker=dict(size=6, color=PEAK_COLOURS[taken], symbol="diamond-open"),
                textfont=dict(color=PEAK_COLOURS[taken]), hovertext=[info], hoverinfo="text"), row=1, col=col)
    axis = dict(title="", showspikes=False)
    scene = dict(xaxis=dict(axis, title="x (cm)"), yaxis=dict(axis, title="y (cm)"), zaxis=dict(axis, title="z (cm)"),
                 aspectmode="data")
    zoom_scene = dict(scene)
    if box is not None:
        c, h = box
        zoom_scene.update(aspectmode="cube", **{f"{a}axis": dict(scene[f"{a}axis"], range=[(c[k] - h) * CM,
                                                                                           (c[k] + h) * CM])
                                                for k, a in enumerate("xyz")})
    fig.update_layout(title=dict(text=title, x=0.01), height=720, scene=scene, scene2=zoom_scene,
                      legend=dict(orientation="h", y=-0.02, font=dict(size=11)), margin=dict(l=0, r=0, t=60, b=0))
    write_bytes_atomically(path, _html_bytes(fig, plotlyjs))

