"""Parameter sweeps: files written, best set round-trips, F1 agrees with score, resume, bad grids."""

import csv
import json

import pytest

from michelreco.cli import find_michels_main, main
from michelreco.errors import InputError
from michelreco.run.sweep import load_grid, parameter_sets


def _grid(tmp_path, text, name="grid.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sweep_files_best_config_and_score_agree(sim_sample, tmp_path, capsys):
    paths, _, _ = sim_sample
    grid = _grid(tmp_path, "min_bragg_ratio: [1.3, 2.5]\nmax_michel_cos: [0.8, 0.95]\n")
    out = tmp_path / "sweep"
    assert main(["sweep", str(paths.xyze), str(paths.labels), "--grid", str(grid), "--out", str(out),
                 "--validation-fraction", "0", "--workers", "2", "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 4 and {r["min_bragg_ratio"] for r in rows} == {"1.3", "2.5"}
    assert (out / "sweep.png").stat().st_size > 5000
    best = max(rows, key=lambda r: float(r["tune_f1"]))
    # best.yaml runs as a finder configuration, and scoring its solution gives the best row's F1
    solution = tmp_path / "best.h5"
    assert find_michels_main([str(paths.xyze), "-o", str(solution), "--config", str(out / "best.yaml"),
                              "--quiet", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["score", str(solution), str(paths.labels), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["tp"] == int(best["tune_tp"]) and scored["fp"] == int(best["tune_fp"])
    assert scored["f1"] == pytest.approx(float(best["tune_f1"]), abs=1e-12)


def test_rerun_skips_finished_sets(sim_sample, tmp_path, monkeypatch):
    import michelreco.run.sweep as sweep

    paths, _, _ = sim_sample
    grid = _grid(tmp_path, "min_drop_ratio: [1.3, 1.5, 2.0]\n")
    out = tmp_path / "sweep"
    sweep.run_sweep(paths.xyze, paths.labels, grid, out, progress=False)
    full = (out / "results.csv").read_text().splitlines()
    (out / "results.csv").write_text("\n".join(full[:2]) + "\n")        # as if killed after one set
    judged = []
    real = sweep._judge
    monkeypatch.setattr(sweep, "_judge", lambda *a: judged.append(1) or real(*a))
    sweep.run_sweep(paths.xyze, paths.labels, grid, out, progress=False)
    assert len(judged) == 2                                            # only the two missing sets
    again = (out / "results.csv").read_text().splitlines()
    assert again[:2] == full[:2] and sorted(again) == sorted(full)


def test_random_search_over_ranges(tmp_path):
    grid = load_grid(_grid(tmp_path, "min_bragg_ratio: {min: 1.2, max: 2.0}\nmin_cluster_voxels: {min: 12, max: 30}\n"))
    sets = parameter_sets(grid, random=7, seed=3)
    assert len(sets) == 7 and all(1.2 <= s["min_bragg_ratio"] <= 2.0 for s in sets)
    assert all(isinstance(s["min_cluster_voxels"], int) and 12 <= s["min_cluster_voxels"] <= 30 for s in sets)
    assert parameter_sets(grid, random=7, seed=3) == sets
    with pytest.raises(InputError, match="--random"):
        parameter_sets(grid)


@pytest.mark.parametrize("text, message", [
    ("min_brag_ratio: [1.5]\n", "unknown parameter 'min_brag_ratio'"),
    ("min_bragg_ratio: []\n", "parameter 'min_bragg_ratio': empty list"),
    ("min_cluster_voxels: [2.5]\n", "parameter 'min_cluster_voxels' must be int"),
    ("min_bragg_ratio: 1.5\n", "parameter 'min_bragg_ratio': give a list"),
    ("min_bragg_ratio: {min: 3, max: 1}\n", "min <= max"),
])
def test_bad_grids_name_the_parameter(sim_sample, tmp_path, capsys, text, message):
    paths, _, _ = sim_sample
    grid = _grid(tmp_path, text)
    assert main(["sweep", str(paths.xyze), str(paths.labels), "--grid", str(grid), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
