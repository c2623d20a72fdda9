"""Event displays: the display command's outputs and refusals, the report's zoomed views and voxel classes."""

import warnings

import numpy as np
import pytest

from michelreco.analysis.display import panels_figure
from michelreco.analysis.display_style import CLASS_STYLES
from michelreco.analysis.event_view_focus import focus_box, voxel_classes
from michelreco.analysis.event_view_html import event_view_html
from michelreco.analysis.event_view_png import event_view_png
from michelreco.cli import main
from michelreco.constants import MICHEL_LABEL
from michelreco.run.io import write_labels, write_solution


@pytest.fixture(scope="module")
def scored(sim_sample, tmp_path_factory):
    """The simulated sample with the finder's solution, and an event with a Michel of more than 20 voxels."""
    from michelreco.reco.finder import MichelFinder

    paths, events, labels = sim_sample
    solution = tmp_path_factory.mktemp("sol") / "sol.h5"
    write_solution(solution, [MichelFinder().find(x) for x in events])
    event = next(i for i, lab in enumerate(labels) if (lab == MICHEL_LABEL).sum() > 20)
    return paths, solution, event


def _one_line_error(capsys) -> str:
    """The command's stderr, checked to be one line (no traceback)."""
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
    return err


def test_display_png_and_html(scored, tmp_path):
    paths, solution, event = scored
    png, page = tmp_path / "e.png", tmp_path / "e.html"
    common = [str(paths.xyze), "--event", str(event), "--labels", str(paths.labels), "--solution", str(solution)]
    assert main(["display", *common, "--out", str(png), "--zoom", "40", "--explain"]) == 0
    assert main(["display", *common, "--out", str(page)]) == 0
    assert png.stat().st_size > 30_000 and png.read_bytes()[:4] == b"\x89PNG"
    text = page.read_text()
    assert page.stat().st_size > 1_000_000 and "plotly" in text and f"event {event}" in text
    assert "prediction: found (TP)" in text and "truth labels: Michel" in text


def test_display_never_overwrites_an_input(scored, tmp_path, capsys):
    paths, solution, event = scored
    victim = tmp_path / "in.png"
    victim.write_bytes(b"precious")
    for extra in ([], ["--force"]):
        assert main(["display", str(victim), "--event", "0", "--out", str(victim), *extra]) == 2
        assert "input" in _one_line_error(capsys)
        assert victim.read_bytes() == b"precious"
    before = solution.read_bytes()
    assert main(["display", str(paths.xyze), "--event", "0", "--solution", str(solution), "--out", str(solution),
                 "--force"]) == 2
    assert solution.read_bytes() == before


def test_display_refuses_bad_outputs_before_any_work(scored, tmp_path, capsys):
    paths, _, event = scored
    out = tmp_path / "e.txt"
    assert main(["display", str(paths.xyze), "--event", str(event), "--out", str(out)]) == 2
    assert "not a supported format" in _one_line_error(capsys) and not out.exists()
    existing = tmp_path / "e.png"
    existing.write_bytes(b"old")
    assert main(["display", str(paths.xyze), "--event", str(event), "--out", str(existing)]) == 2
    assert "--force" in _one_line_error(capsys) and existing.read_bytes() == b"old"
    assert main(["display", str(paths.xyze), "--event", str(event), "--out", str(existing), "--force"]) == 0
    assert existing.read_bytes()[:4] == b"\x89PNG"


def test_display_refuses_rows_that_do_not_match_the_event(scored, sim_sample, tmp_path, capsys):
    paths, _, event = scored
    _, events, labels = sim_sample
    short = [lab if i != event else lab[:-3] for i, lab in enumerate(labels)]
    bad_labels = tmp_path / "short_label.h5"
    write_labels(bad_labels, short)
    out = tmp_path / "e.png"
    assert main(["display", str(paths.xyze), "--event", str(event), "--labels", str(bad_labels),
                 "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert f"event {event}" in err and "labels for" in err and not out.exists()
    beyond = [np.array([len(x) + 5], np.int32) if i == event else np.zeros(0, np.int32)
              for i, x in enumerate(events)]
    bad_solution = tmp_path / "beyond.h5"
    write_solution(bad_solution, beyond)
    assert main(["display", str(paths.xyze), "--event", str(event), "--solution", str(bad_solution),
                 "--out", str(out)]) == 2
    assert "out of range" in _one_line_error(capsys) and not out.exists()
    assert main(["display", str(paths.xyze), "--event", str(len(events)), "--out", str(out)]) == 2
    assert f"no event {len(events)}" in _one_line_error(capsys)


def test_empty_event_draws_without_warnings_or_legends(tmp_path):
    empty = np.zeros((0, 4), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # matplotlib warned about empty legends before
        fig = panels_figure(empty, np.zeros(0, np.int32), np.zeros(0, np.int32), "empty")
        fig.canvas.draw()
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert not any(ax.get_label() == "<colorbar>" for ax in fig.axes)     # no meaningless 0..1 colour scale
    assert all("no voxels" in " ".join(t.get_text() for t in ax.texts) for ax in fig.axes)


def test_energy_colour_bar_leaves_the_z_label_free():
    rng = np.random.default_rng(1)
    xyze = np.column_stack([rng.integers(100, 200, (300, 3)), rng.uniform(0.05, 3, 300)]).astype(np.float32)
    labels = rng.integers(0, 5, 300)
    fig = panels_figure(xyze, labels, np.flatnonzero(labels == MICHEL_LABEL)[:5])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    bar = next(ax for ax in fig.axes if ax.get_label() == "<colorbar>")
    z_label = fig.axes[0].zaxis.label.get_window_extent(renderer)
    assert z_label.x1 < bar.get_window_extent(renderer).x0


def _record(number, voxels, taken):
    """A minimal ``MichelFinder.explain`` record."""
    return {"candidate": number, "michel": taken, "voxels": list(voxels), "kind": "stopping_muon", "rules": {},
            "features": {"peak_x": 10.0, "peak_y": 10.0, "peak_z": 10.0, "energy_mev": 1.0, "peak_dedx": 8.0,
                         "bragg_ratio": 3.0, "baseline_dedx": 2.0, "michel_cos": 0.0}}


def test_voxel_classes_give_each_missed_voxel_the_diagnosis_cause():
    labels = np.array([2, 2, 2, 2, 2, 2, 1, 1, 1, 0])
    predicted = np.array([0, 1, 6])
    records = [_record(0, [0, 1, 6], True),         # taken, mostly Michel
               _record(1, [2, 3, 7], False),        # rejected, mostly Michel: 2, 3 lost as "candidate rejected"
               _record(2, [4, 8, 9], False)]        # rejected, mostly not Michel: 4 lost at the "boundary"
    classes = dict(voxel_classes(len(labels), labels, predicted, records))
    masks = np.array(list(classes.values()))
    assert (masks.sum(axis=0) == 1).all()            # every voxel in exactly one class
    assert set(classes) <= set(CLASS_STYLES)
    assert np.flatnonzero(classes["found (TP)"]).tolist() == [0, 1]
    assert np.flatnonzero(classes["wrong (FP)"]).tolist() == [6]
    assert np.flatnonzero(classes["missed: candidate rejected (FN)"]).tolist() == [2, 3]
    assert np.flatnonzero(classes["missed: boundary (FN)"]).tolist() == [4]
    assert np.flatnonzero(classes["missed: no candidate (FN)"]).tolist() == [5]
    assert np.flatnonzero(classes["rejected candidate, not Michel"]).tolist() == [7, 8, 9]
    plain = dict(voxel_classes(len(labels), None, predicted, records))
    assert np.flatnonzero(plain["found by the finder"]).tolist() == [0, 1, 6]
    assert np.flatnonzero(plain["in a rejected candidate"]).tolist() == [2, 3, 4, 7, 8, 9]


def test_focus_box_zooms_where_the_voxels_that_matter_are():
    xyz = np.vstack([np.column_stack([np.arange(100, 130), np.full(30, 200), np.full(30, 200)]),   # found Michel
                     np.column_stack([np.arange(500, 505), np.full(5, 600), np.full(5, 600)])])     # 5 missed
    xyze = np.column_stack([xyz, np.ones(len(xyz))]).astype(np.float32)
    labels = np.full(len(xyz), MICHEL_LABEL)
    classes = voxel_classes(len(xyz), labels, np.arange(30))
    centre, half = focus_box(xyze, classes)
    assert np.allclose(centre, [114.5, 200, 200]) and 20 <= half <= 40       # 30 found outweigh 5 missed x 3
    centre, _ = focus_box(xyze, classes, weights={"missed (FN)": 10.0})
    assert np.allclose(centre, [502, 600, 600])
    assert focus_box(xyze, voxel_classes(len(xyz), np.zeros(len(xyz), int), None)) is None


def test_report_views_of_one_event(scored, sim_sample, tmp_path):
    from michelreco.reco.finder import MichelFinder

    paths, solution, event = scored
    _, events, labels = sim_sample
    xyze = events[event]
    records = MichelFinder().explain(xyze)
    predicted = MichelFinder().find(xyze)
    box = event_view_png(xyze, labels[event], predicted, records, tmp_path / "v.png", title="t")
    michel = xyze[labels[event] == MICHEL_LABEL, :3]
    assert box is not None and np.all(np.abs(michel.mean(axis=0) - box[0]) <= box[1])   # zoomed on the Michel
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"
    event_view_html(xyze, labels[event], predicted, records, tmp_path / "v.html", box=box, plotlyjs="directory")
    text = (tmp_path / "v.html").read_text()
    assert 'src="plotly.min.js"' in text and len(text) < 1_000_000        # plotly.js is shared, not inline
    assert "found (TP)" in text and "Bragg peak" in text and "zoom on the Michel" in text
