"""The report's interactive view of one event (plotly): the whole event and the cube zoomed on its Michels."""

from __future__ import annotations

import numpy as np

from michelreco.analysis.display_plotly import plotly_modules, plotly_page
from michelreco.analysis.display_style import CLASS_STYLES, CM, PEAK_COLOURS
from michelreco.analysis.event_view_focus import candidate_peaks, focus_box, voxel_classes
from michelreco.constants import LABEL_NAMES, MICHEL_LABEL
from michelreco.run.outputs import PathLike, write_bytes_atomically

__all__ = ["event_view_html"]


def event_view_html(xyze: np.ndarray, labels: np.ndarray | None, predicted: np.ndarray | None,
                    records: list[dict] | None, path: PathLike, title: str = "",
                    box: tuple[np.ndarray, float] | None = None, plotlyjs: str = "inline") -> None:
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
    go, make_subplots = plotly_modules()
    classes = voxel_classes(len(xyze), labels, predicted, records)
    peaks = candidate_peaks(records)
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
    write_bytes_atomically(path, plotly_page(fig, plotlyjs))

