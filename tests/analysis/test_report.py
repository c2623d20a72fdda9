"""The run report: its content, its refusals, a failed rerun, and the page in a headless browser."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from michelreco.analysis.metrics import ScoreTable, score_files
from michelreco.analysis.report import ENERGY_EDGES_MEV, ReportData, f1_in_bins, pick_events
from michelreco.cli import main
from michelreco.constants import MICHEL_LABEL
from michelreco.run.io import write_labels, write_solution

LABELLED_SECTIONS = ("how-to-read", "summary", "lost", "energy", "stability", "spectrum", "events", "table")
LABELLED_TABLES = ("scores", "ceiling", "lost-causes", "false-causes", "by-energy", "by-size", "spectra",
                   "per-event")
PLAIN_SECTIONS = ("how-to-read", "summary", "spectrum", "events", "table")


@pytest.fixture(scope="module")
def run(sim_sample, tmp_path_factory):
    """The simulated sample, the finder's solution, and a report of it with labels (found beside the events)."""
    from michelreco.reco.finder import MichelFinder

    paths, events, labels = sim_sample
    tmp = tmp_path_factory.mktemp("report")
    solution = tmp / "sol.h5"
    write_solution(solution, [MichelFinder().find(x) for x in events])
    out = tmp / "report"
    # labels found from the events' name (_xyze -> _label); half the events diagnosed (every 2nd)
    assert main(["report", str(paths.xyze), str(solution), "--out", str(out), "--diagnose-events", "30"]) == 0
    return paths, solution, out, events, labels


def _one_line_error(capsys) -> str:
    """The command's stderr message, checked to be one line (no traceback)."""
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.startswith(("labels:", "no label"))]
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def _table_data(text: str) -> dict:
    """The per-event table's JSON block."""
    return json.loads(re.search(r'<script type="application/json" id="table-data">(.*?)</script>', text).group(1))


def test_report_holds_every_section_score_and_event(run):
    paths, solution, out, events, labels = run
    text = (out / "index.html").read_text()
    pooled = score_files(solution, paths.labels).pooled
    assert f'<div class="v" id="f1">{pooled.f1:.4f}</div>' in text
    for ident in LABELLED_SECTIONS + LABELLED_TABLES:
        assert f'id="{ident}"' in text, ident
    images = re.findall(r'<img src="([^"]+)"', text)
    assert {"stability.png", "f1_energy.png", "f1_voxels.png", "lost.png", "spectrum.png"} <= set(images)
    shown = [int(m) for m in re.findall(r"event_(\d+)\.png", " ".join(images))]
    assert 3 <= len(shown) <= 6
    for name in images:
        assert (out / name).stat().st_size > 5_000, name
    for i in shown:                                      # each shown event: a view that loads the shared plotly.js
        view = (out / f"event_{i}.html").read_text()
        assert f'href="event_{i}.html"' in text and 'src="plotly.min.js"' in view
    assert (out / "plotly.min.js").stat().st_size > 1_000_000
    data = _table_data(text)
    assert len(data["rows"]) == len(events) and [r[0] for r in data["rows"]] == list(range(len(events)))
    assert sorted(data["shown"]) == sorted(shown)
    csv_rows = (out / "per_event.csv").read_text().splitlines()
    assert len(csv_rows) == len(events) + 1 and "lost_no_candidate" in csv_rows[0]
    assert not list(out.parent.glob(".report.*"))        # no temporary folder left beside it


def test_where_f1_is_lost_adds_up(run):
    paths, solution, out, events, labels = run
    text = (out / "index.html").read_text()
    table = score_files(solution, paths.labels)
    data = _table_data(text)
    names = [c["name"] for c in data["columns"]]
    lost = np.array([[r[names.index(f"missed: {c}")] for c in ("no candidate", "candidate rejected", "boundary")]
                     for r in data["rows"]], dtype=float)                    # null: an event not diagnosed
    diagnosed = np.arange(len(events)) % 2 == 0
    assert np.isfinite(lost[diagnosed]).all() and np.isnan(lost[~diagnosed]).all()
    assert (lost[diagnosed].sum(axis=1) == table.fn[diagnosed]).all()     # every missed voxel: exactly one cause
    rows = re.search(r'<table id="lost-causes">.*?</table>', text, re.S).group(0)
    total = sum(int(n.replace(",", "")) for n in re.findall(r"<td>([\d,]+)</td><td>[\d.]+%</td>", rows))
    assert total == table.fn[diagnosed].sum()
    assert "30 of the 60 events (every 2th" not in text and "every 2nd" in text


def test_f1_by_energy_covers_every_event_with_a_michel(run):
    paths, solution, out, events, labels = run
    text = (out / "index.html").read_text()
    has = sum(int((lab == MICHEL_LABEL).any()) for lab in labels)
    rows = re.search(r'<table id="by-energy">.*?</table>', text, re.S).group(0)
    counts = [int(n) for n in re.findall(r"<tr><td class=l>[^<]+</td><td>(\d+)</td>", rows)]
    assert sum(counts) == has
    table = ScoreTable([1] * 5, [0] * 5, [0] * 5)
    energy = np.array([3.0, 59.0, 61.0, 80.0, 100.0])        # two Michels in one event: up to ~100 MeV
    binned = f1_in_bins(table, energy, ENERGY_EDGES_MEV)
    assert sum(r["events"] for r in binned) == 5 and binned[-1]["lo"] == 60 and binned[-1]["events"] == 3
    assert binned[-1]["max"] == 100.0


def test_report_without_labels_keeps_what_the_solution_says(run, tmp_path):
    paths, solution, out, events, labels = run
    plain = tmp_path / "plain"
    assert main(["report", str(paths.xyze), str(solution), "--no-labels", "--out", str(plain)]) == 0
    text = (plain / "index.html").read_text()
    for ident in PLAIN_SECTIONS:
        assert f'id="{ident}"' in text, ident
    for ident in ("lost", "energy", "stability", "scores"):
        assert f'id="{ident}"' not in text, ident
    assert "No labels were given" in text and "found by the finder" in text
    found = sum(len(s) > 0 for s in _solution_rows(solution))
    assert f"<td>{found}</td>" in text                   # events in which the finder listed voxels
    assert re.findall(r'<img src="event_\d+\.png"', text)
    assert "lost" not in (plain / "per_event.csv").read_text().splitlines()[0]


def _solution_rows(path):
    from michelreco.run.io import iter_solution

    return [row for _, row in iter_solution(path)]


def test_report_refuses_inputs_that_do_not_match(run, tmp_path, capsys):
    paths, solution, out, events, labels = run
    short = tmp_path / "short_label.h5"
    write_labels(short, labels[:-1])
    bad_row = tmp_path / "row_label.h5"
    write_labels(bad_row, [lab if i != 7 else lab[:-1] for i, lab in enumerate(labels)])
    beyond = tmp_path / "beyond.h5"
    write_solution(beyond, [np.array([len(x)], np.int32) if i == 3 else np.zeros(0, np.int32)
                            for i, x in enumerate(events)])
    few = tmp_path / "few.h5"
    write_solution(few, [np.zeros(0, np.int32)] * 5)
    cases = [([str(paths.xyze), str(short), str(solution)], "events"),
             ([str(paths.xyze), str(bad_row), str(solution)], "event 7"),
             ([str(paths.xyze), str(paths.labels), str(beyond)], "out of range"),
             ([str(paths.xyze), str(paths.labels), str(few)], "5 events")]
    for files, words in cases:
        target = tmp_path / "r"
        assert main(["report", *files, "--out", str(target)]) == 2
        assert words in _one_line_error(capsys)
        assert not target.exists() and not list(tmp_path.glob(".r.*"))     # no folder, not even an empty one


def test_report_refuses_bad_outputs(run, tmp_path, capsys):
    paths, solution, out, events, labels = run
    before = paths.xyze.read_bytes()
    assert main(["report", str(paths.xyze), str(solution), "--out", str(paths.xyze), "--force"]) == 2
    assert "input" in _one_line_error(capsys) and paths.xyze.read_bytes() == before
    assert main(["report", str(paths.xyze), str(solution), "--out", str(paths.xyze.parent), "--force"]) == 2
    assert "holds the input" in _one_line_error(capsys)
    assert main(["report", str(paths.xyze), str(solution), "--out", str(out)]) == 2
    assert "--force" in _one_line_error(capsys)
    assert main(["report", str(paths.xyze), str(solution), "--out", str(tmp_path / "missing" / "r")]) == 2
    assert "no such folder" in _one_line_error(capsys)


def test_a_failed_rerun_leaves_the_previous_report_whole(run, tmp_path, capsys):
    paths, solution, out, events, labels = run
    previous = tmp_path / "previous"
    shutil.copytree(out, previous)
    before = {p.name: p.read_bytes() for p in previous.iterdir()}
    bad_row = tmp_path / "row_label.h5"
    write_labels(bad_row, [lab if i != 11 else lab[:-2] for i, lab in enumerate(labels)])
    assert main(["report", str(paths.xyze), str(bad_row), str(solution), "--out", str(previous), "--force"]) == 2
    assert "event 11" in _one_line_error(capsys)
    assert {p.name: p.read_bytes() for p in previous.iterdir()} == before       # not a mixed folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["previous", "row_label.h5"]


def test_a_truth_file_of_other_events_is_refused_or_left_out(run, tmp_path, capsys):
    from michelreco.analysis.report import _load_truth

    paths, solution, out, events, labels = run
    with np.load(paths.truth) as f:
        arrays = {k: f[k] for k in f.files}
    other = tmp_path / "other_truth.npz"
    np.savez(other, **{**arrays, "n_voxels": arrays["n_voxels"][:5]})       # a truth file of 5 events
    assert main(["report", str(paths.xyze), str(solution), "--truth", str(other), "--out", str(tmp_path / "r")]) == 2
    assert "describes 5 events" in _one_line_error(capsys) and not (tmp_path / "r").exists()
    beside = tmp_path / "y_xyze.h5"
    shutil.copy(paths.xyze, beside)
    (tmp_path / "y_truth.npz").write_bytes(b"not a truth file")
    notes = []
    assert _load_truth(beside, None, notes, len(events)) == (None, {})
    assert len(notes) == 1 and "not used" in notes[0]
    rows, energies = _load_truth(paths.xyze, None, [], len(events))
    assert rows is not None and "true kinetic energy" in energies
    assert 'id="categories"' in (out / "index.html").read_text()      # the module report used its truth file


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_report_of_an_empty_solution_and_of_empty_events(tiny_sample, tmp_path):
    xyze, labels_path, events, labels = tiny_sample                  # random voxels, one event empty
    empty = tmp_path / "empty.h5"
    write_solution(empty, [np.zeros(0, np.int32)] * len(events))
    assert main(["report", str(xyze), str(labels_path), str(empty), "--out", str(tmp_path / "a")]) == 0
    text = (tmp_path / "a" / "index.html").read_text()
    assert '<div class="v" id="f1">0.0000</div>' in text and 'id="lost"' in text
    assert main(["report", str(xyze), str(empty), "--no-labels", "--out", str(tmp_path / "b")]) == 0
    assert "No event to show: the solution lists no voxel." in (tmp_path / "b" / "index.html").read_text()


def test_labels_are_given_once(run, tmp_path, capsys):
    paths, solution, out, events, labels = run
    assert main(["report", str(paths.xyze), str(paths.labels), str(solution), "--labels", str(paths.labels),
                 "--out", str(tmp_path / "r")]) == 2
    assert "labels given twice" in _one_line_error(capsys)
    assert main(["report", str(paths.xyze), "--out", str(tmp_path / "r")]) == 2
    assert "XYZE [LABELS] SOLUTION" in _one_line_error(capsys)


def test_diagnosis_of_a_sample_of_the_events(run):
    from michelreco.analysis.report import DIAGNOSE_EVENTS, collect
    from michelreco.cli.display import DIAGNOSE_EVENTS as CLI_DEFAULT
    from michelreco.reco.finder import MichelFinder

    paths, solution, out, events, labels = run
    assert CLI_DEFAULT == DIAGNOSE_EVENTS
    data = collect(paths.xyze, solution, paths.labels, finder=MichelFinder(), diagnose_events=20)
    assert data.diagnose_every == 3 and data.diagnosis.as_dict()["events"] == 20
    lost = np.array(list(data.lost.values()))
    diagnosed = np.arange(len(events)) % 3 == 0
    assert np.isfinite(lost[:, diagnosed]).all() and np.isnan(lost[:, ~diagnosed]).all()
    assert (lost[:, diagnosed].sum(axis=0) == data.table.fn[diagnosed]).all()
    from michelreco.analysis.report_sections import lost_section

    ceiling = re.search(r'<table id="ceiling">.*?</table>', lost_section(data), re.S).group(0)
    d = data.diagnosis.as_dict()      # any selection's ceiling, then the finder's (its cut model mends the cut)
    assert d["perfect_finished"]["f1"] != d["perfect"]["f1"]
    assert f"{d['perfect']['f1']:.4f}" in ceiling and f"{d['perfect_finished']['f1']:.4f}" in ceiling
    assert collect(paths.xyze, solution, paths.labels, finder=MichelFinder(), diagnose_events=0).diagnosis is None


def _data(tp, fp, fn, found_energy=None) -> ReportData:
    """A ReportData with the given per-event counts."""
    tp, fp, fn = (np.asarray(a) for a in (tp, fp, fn))
    n = len(tp)
    e = np.asarray(found_energy if found_energy is not None else np.zeros(n), float)
    data = ReportData(n_voxels=np.full(n, 100), found_voxels=tp + fp, found_energy=e,
                      found_michels=(tp + fp > 0).astype(int), found_energies=e[e > 0])
    data.table = ScoreTable(tp, fp, fn)
    return data


def test_pick_events_shows_each_kind_once():
    data = _data(tp=[10, 30, 0, 5, 0, 20, 0], fp=[0, 0, 0, 0, 9, 2, 0], fn=[2, 0, 0, 40, 0, 1, 3])
    picks = pick_events(data)
    events = [e for e, _ in picks]
    assert len(events) == len(set(events)) <= 6 and 2 not in events        # the empty event is never shown
    why = dict(picks)
    assert why[3] == "most Michel voxels missed" and why[4] == "false Michel in an event without one"
    assert why[1].startswith("well found")
    plain = _data(tp=[0] * 4, fp=[5, 0, 9, 1], fn=[0] * 4, found_energy=[10.0, 0.0, 40.0, 2.0])
    plain.table = None
    picks = dict(pick_events(plain))
    assert picks == {2: "most energy found", 0: "most energy found", 3: "typical: median energy found"}


def _chromium(args: list[str], profile: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    """Headless Chromium (WebGL by SwiftShader, no network)."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
             "--hide-scrollbars", f"--user-data-dir={profile}", "--virtual-time-budget=5000"]
    return subprocess.run(["chromium", *flags, *args], capture_output=True, text=True, timeout=timeout)


def _colourful_pixels(png: Path, colours: list[str], tolerance: int = 40) -> int:
    """Pixels of a screenshot within ``tolerance`` (per channel) of any of ``colours``."""
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    total = 0
    for c in colours:
        rgb = np.array([int(c[k:k + 2], 16) for k in (1, 3, 5)])
        total += int((np.abs(img - rgb).max(axis=-1) <= tolerance).sum())
    return total


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium not installed (.ci/run installs it)")
def test_report_in_a_headless_browser(run, tmp_path):
    from michelreco.analysis.display_style import CLASS_STYLES

    paths, solution, out, events, labels = run
    dom = _chromium(["--dump-dom", (out / "index.html").as_uri()], tmp_path / "p1").stdout
    pooled = score_files(solution, paths.labels).pooled
    assert "Michel finder report" in dom and f"{pooled.f1:.4f}" in dom
    for ident in LABELLED_SECTIONS + LABELLED_TABLES:
        assert f'id="{ident}"' in dom, ident
    for src in re.findall(r'<img src="([^"]+)"', dom):
        assert (out / src).stat().st_size > 5_000
    body = re.search(r'<table id="per-event">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    assert 1 <= body.count("<tr") <= 50 and "events 1–" in dom      # the script paged the table
    assert re.search(r'<th title="click to sort[^"]*" class="asc">event</th>', dom)     # ... and sorted it
    view = re.search(r'href="(event_\d+\.html)"', dom).group(1)
    view_dom = _chromium(["--dump-dom", (out / view).as_uri()], tmp_path / "p2").stdout
    assert "js-plotly-plot" in view_dom and "gl-container" in view_dom and "WebGL is not supported" not in view_dom
    shot, view_shot = tmp_path / "page.png", tmp_path / "view.png"
    _chromium([f"--screenshot={shot}", "--window-size=1280,2400", (out / "index.html").as_uri()], tmp_path / "p3")
    _chromium([f"--screenshot={view_shot}", "--window-size=1280,800", (out / view).as_uri()], tmp_path / "p4")
    from PIL import Image

    page = np.asarray(Image.open(shot).convert("L"))
    assert page.shape == (2400, 1280) and (page < 200).mean() > 0.02 and page.std() > 20     # not blank
    michel_colours = [CLASS_STYLES[k][0] for k in CLASS_STYLES if k != "other voxels"]
    assert _colourful_pixels(view_shot, michel_colours) > 200      # the 3D scenes drew coloured voxels
