"""``michelreco display``: one event in 3D, coloured by energy, by truth label and by the prediction's outcome.

``display_event`` reads one event (and its rows of labels and solution) and draws side-by-side views of it
(energy, truth labels, prediction), optionally zoomed, in voxel units: ``display_png`` through matplotlib,
``display_html`` interactive through plotly. Only the displayed event is read from the file.

The report's own pictures of an event (the whole event beside a zoom on its Michels, in centimetres) are
``analysis.event_view_png`` and ``analysis.event_view_html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from michelreco.analysis.display_plotly import plotly_modules, plotly_page
from michelreco.analysis.display_style import ENERGY_RANGE_MEV, LABEL_COLOURS, OUTCOME_COLOURS, empty_panel
from michelreco.constants import LABEL_NAMES, MICHEL_LABEL
from michelreco.errors import InputError
from michelreco.run.io import (check_label_row, check_solution_row, event_count, read_event, read_labels,
                               read_solution, solution_dataset_name)
from michelreco.run.outputs import PathLike, check_extension, check_output, write_bytes_atomically

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DISPLAY_FORMATS", "event_panels", "panels_figure", "display_png", "display_html", "display_event"]

DISPLAY_FORMATS = (".png", ".svg", ".pdf", ".html", ".htm")


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


def display_png(xyze: np.ndarray, labels: np.ndarray | None, predicted: np.ndarray | None, path: PathLike,
                title: str = "", zoom_voxels: float | None = None,
                marks: list[tuple[float, float, float, str]] | None = None) -> None:
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


def panels_figure(xyze: np.ndarray, labels: np.ndarray | None, predicted: np.ndarray | None, title: str = "",
                  zoom_voxels: float | None = None,
                  marks: list[tuple[float, float, float, str]] | None = None) -> Figure:
    """The matplotlib figure of ``display_png`` (the caller closes it).

    Parameters
    ----------
    xyze, labels, predicted, title, zoom_voxels, marks
        As ``display_png``.

    Returns
    -------
    matplotlib.figure.Figure
        One 3D panel per entry of ``event_panels``.
    """
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
            empty_panel(ax, "no voxels in this event" if len(xyze) == 0 else "no voxels to show")
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



def display_html(xyze: np.ndarray, labels: np.ndarray | None, predicted: np.ndarray | None, path: PathLike,
                 title: str = "", zoom_voxels: float | None = None) -> None:
    """The views of ``display_png`` as an interactive, self-contained HTML page (needs plotly).

    Parameters
    ----------
    xyze, labels, predicted, title, zoom_voxels
        As ``display_png``.
    path : path-like
        Output page (plotly.js inside it: it opens with no server and no network).
    """
    go, make_subplots = plotly_modules()
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
    write_bytes_atomically(path, plotly_page(fig, "inline"))    # self-contained: opens with no server


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


def display_event(xyze_path: PathLike, event: int, out: PathLike, labels_path: PathLike | None = None,
                  solution_path: PathLike | None = None, zoom_voxels: float | None = None,
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
