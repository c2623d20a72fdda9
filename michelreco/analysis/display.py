"""Event displays: one event in 3D, coloured by energy, by truth label and by the prediction's outcome.

PNG through matplotlib; an interactive HTML page through plotly when it is installed
(``pip install 'michelreco[plot]'``). Only the displayed event is read from the file.
"""

from __future__ import annotations

import os

import numpy as np

from michelreco.constants import LABEL_NAMES, MICHEL_LABEL
from michelreco.errors import MichelrecoError
from michelreco.run.io import read_event, read_labels, read_solution, write_bytes_atomically

__all__ = ["LABEL_COLOURS", "OUTCOME_COLOURS", "event_panels", "display_png", "display_html", "display_event"]

LABEL_COLOURS = ("#ff7f0e", "#1f77b4", "#d62728", "#2ca02c", "#bbbbbb")
OUTCOME_COLOURS = {"found (TP)": "#2ca02c", "wrong (FP)": "#d62728", "missed (FN)": "#000000", "other": "#cccccc"}


def event_panels(xyze: np.ndarray, labels: np.ndarray | None, predicted: np.ndarray | None,
                 zoom_voxels: float | None = None) -> tuple[np.ndarray, list]:
    """The voxels to draw (a mask) and the panels: (title, [(legend name, colour, mask)]) or energy."""
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


def display_png(xyze, labels, predicted, path, title: str = "", zoom_voxels=None, marks=None) -> None:
    """Side-by-side 3D views (matplotlib) written to a PNG; ``marks`` are (x, y, z, label) to overlay."""
    from michelreco.analysis.plots import pyplot, save_figure

    plt = pyplot()
    shown, panels = event_panels(xyze, labels, predicted, zoom_voxels)
    fig = plt.figure(figsize=(6 * len(panels), 5.6))
    for k, (name, groups) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1, projection="3d")
        if groups is None:
            sc = ax.scatter(*xyze[shown, :3].T, c=np.log10(np.maximum(xyze[shown, 3], 1e-3)), s=3, cmap="viridis")
            fig.colorbar(sc, ax=ax, shrink=0.6, label="log10 energy (MeV)")
        else:
            for legend, colour, mask in groups:
                m = mask & shown
                if m.any():
                    ax.scatter(*xyze[m, :3].T, c=colour, s=3 if legend != "other" else 1, label=legend)
            ax.legend(fontsize=7, loc="upper left", markerscale=3)
        inside = xyze[shown, :3] if shown.any() else xyze[:, :3]
        lo = inside.min(axis=0) if len(inside) else np.zeros(3)
        hi = inside.max(axis=0) if len(inside) else np.zeros(3)
        for x, y, z, text in marks or []:
            if np.all((lo <= (x, y, z)) & ((x, y, z) <= hi)):     # only marks inside the view
                ax.scatter([x], [y], [z], marker="x", s=60, c="m")
                ax.text(x, y, z, text, fontsize=7, color="m")
        ax.set_title(name + (f" - {title}" if title and k == 0 else ""), fontsize=10)
        ax.set_xlabel("x (voxel)")
        ax.set_ylabel("y (voxel)")
        ax.set_zlabel("z (voxel)")
    save_figure(fig, path)
    plt.close(fig)


def display_html(xyze, labels, predicted, path, title: str = "", zoom_voxels=None) -> None:
    """The same views as an interactive, self-contained HTML page (needs plotly)."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise MichelrecoError("the HTML display needs plotly: pip install 'michelreco[plot]'") from None
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
    html = fig.to_html(include_plotlyjs=True, full_html=True)    # self-contained: opens with no server
    write_bytes_atomically(path, html.encode())


def display_event(xyze_path, event: int, out, labels_path=None, solution_path=None, zoom_voxels=None,
                  explain: bool = False) -> None:
    """Draw one event of a file (only that event is read) to a PNG or, for .html, an interactive page."""
    xyze = read_event(xyze_path, event)
    labels = read_labels(labels_path, event) if labels_path else None
    predicted = read_solution(solution_path, event) if solution_path else None
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
    if os.path.splitext(str(out))[1].lower() in (".html", ".htm"):
        display_html(xyze, labels, predicted, out, title, zoom_voxels)
    else:
        display_png(xyze, labels, predicted, out, title, zoom_voxels, marks)
