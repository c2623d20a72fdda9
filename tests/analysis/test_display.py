"""Event displays and the HTML report, including a look at the report in a headless browser."""

import re
import shutil
import subprocess

import pytest

from michelreco.cli import main
from michelreco.run.io import write_solution
from michelreco.analysis.metrics import score_files


@pytest.fixture(scope="module")
def scored(sim_sample, tmp_path_factory):
    """The simulated sample with the finder's solution."""
    from michelreco.reco.finder import MichelFinder

    paths, events, labels = sim_sample
    solution = tmp_path_factory.mktemp("sol") / "sol.h5"
    write_solution(solution, [MichelFinder().find(x) for x in events])
    event = next(i for i, lab in enumerate(labels) if (lab == 2).sum() > 20)
    return paths, solution, event


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


def _report(scored, out):
    paths, solution, _ = scored
    assert main(["report", str(paths.xyze), str(paths.labels), str(solution), "--out", str(out)]) == 0
    return out / "index.html"


def test_report_lists_the_events_and_scores(scored, tmp_path):
    page = _report(scored, tmp_path / "report")
    text = page.read_text()
    pooled = score_files(scored[1], scored[0].labels).pooled
    assert f'<td id="f1">{pooled.f1:.4f}</td>' in text
    images = re.findall(r'<img src="([^"]+)"', text)
    events = [int(m) for m in re.findall(r"event_(\d+)\.png", " ".join(images))]
    assert {"stability.png", "f1_energy.png", "f1_voxels.png"} <= set(images) and len(events) >= 3
    for name in images:
        assert (page.parent / name).stat().st_size > 5_000
    rows = (page.parent / "per_event.csv").read_text().splitlines()
    assert len(rows) == 61


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium not installed (.ci/run installs it)")
def test_report_in_a_headless_browser(scored, tmp_path):
    page = _report(scored, tmp_path / "report")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chr'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    pooled = score_files(scored[1], scored[0].labels).pooled
    assert "Michel finder report" in dom and f"{pooled.f1:.4f}" in dom
    assert len(re.findall(r'<img src="event_\d+\.png"', dom)) >= 3
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000                   # the page rendered, images and all
