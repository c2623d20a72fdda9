"""Parameter sweeps: files written, best set round-trips, F1 agrees with score, resume, bad grids."""

import csv
import json

import numpy as np
import pytest

from michelreco.cli import find_michels_main, main
from michelreco.errors import InputError
from michelreco.run.checkpoint import lock_folder
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


def test_interrupted_sweep_resumes_and_refuses_another_sweep(sim_sample, tmp_path, monkeypatch, capsys):
    import michelreco.run.sweep as sweep

    paths, _, _ = sim_sample
    grid = _grid(tmp_path, "min_drop_ratio: [1.3, 1.5, 2.0]\n")
    full_out = tmp_path / "full"
    sweep.run_sweep(paths.xyze, paths.labels, grid, full_out, progress=False)
    full = (full_out / "results.csv").read_text()
    fingerprint = json.loads((full_out / "sweep.json").read_text())
    # a grid of hand-rule thresholds is judged by the hand rules (the model would ignore them)
    assert fingerprint["events"] == 60
    assert fingerprint["grid"] == {"min_drop_ratio": [1.3, 1.5, 2.0], "selection": ["rules"]}
    assert not (tmp_path / "full.parts").exists()

    out = tmp_path / "sweep"
    real = sweep._judge
    calls = []

    def killed_after_one(*args):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(sweep, "_judge", killed_after_one)
    args = ["sweep", str(paths.xyze), str(paths.labels), "--grid", str(grid), "--out", str(out), "--quiet",
            "--workers", "1"]
    assert main(args) == 130                                                 # Ctrl-C after one set
    err = capsys.readouterr().err
    assert "--resume to continue" in err and err.strip().endswith("michelreco sweep: interrupted")
    assert not out.exists() and len((tmp_path / "sweep.parts" / "results.csv").read_text().splitlines()) == 2
    held = lock_folder(tmp_path / "sweep.parts")                            # the same sweep, still running
    for flag in ("--resume", "--force"):
        assert main(args + [flag]) == 2
        assert "sweep.parts: another run is writing these parts now" in capsys.readouterr().err
    assert len((tmp_path / "sweep.parts" / "results.csv").read_text().splitlines()) == 2
    held.close()
    monkeypatch.setattr(sweep, "_judge", lambda *a: calls.append(1) or real(*a))
    assert main(args) == 2                                                   # neither --resume nor --force
    assert "use --resume to continue it or --force" in capsys.readouterr().err
    other = _grid(tmp_path, "min_drop_ratio: [1.3, 1.5]\n", "other.yaml")
    assert main(args[:3] + ["--grid", str(other)] + args[5:] + ["--resume"]) == 2
    assert "cannot resume: made with another grid" in capsys.readouterr().err
    assert main(args + ["--resume", "--events", "50"]) == 2
    assert "made with another --events" in capsys.readouterr().err
    calls.clear()
    assert main(args + ["--resume"]) == 0
    assert len(calls) == 2                                                   # only the two missing sets
    assert (out / "results.csv").read_text() == full and not (tmp_path / "sweep.parts").exists()
    assert main(args) == 2 and "exists; use --force" in capsys.readouterr().err
    assert main(args + ["--force", "--events", "50"]) == 0                   # a new sweep replaces it whole
    assert json.loads((out / "sweep.json").read_text())["events"] == 50


@pytest.mark.parametrize("extra, message", [
    (["--events", "0"], "--events: must be at least 1, got 0"),
    (["--events", "-5"], "--events: must be at least 1, got -5"),
    (["--random", "0"], "--random: must be at least 1, got 0"),
    (["--workers", "0"], "--workers: must be at least 1, got 0"),
    (["--validation-fraction", "1"], "--validation-fraction: must be in [0, 1)"),
])
def test_bad_counts_are_refused_before_anything_is_written(sim_sample, tmp_path, capsys, extra, message):
    paths, _, _ = sim_sample
    grid = _grid(tmp_path, "min_drop_ratio: [1.3]\n")
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(paths.xyze), str(paths.labels), "--grid", str(grid), "--out", str(tmp_path / "o"),
              "--quiet", *extra])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.yaml"]


def test_failed_sweep_leaves_no_folder_and_labels_are_found_from_the_events_name(sim_sample, tmp_path, capsys):
    paths, _, _ = sim_sample
    grid = _grid(tmp_path, "min_drop_ratio: [1.3]\n")
    # a file without Michel voxels among its tuning events: refused, and no empty folder is left
    import h5py

    from michelreco.run.io import iter_labels, write_labels
    no_michel = tmp_path / "none_label.h5"
    write_labels(no_michel, [np.where(lab == 2, 1, lab) for _, lab in iter_labels(paths.labels)])
    xyze = tmp_path / "none_xyze.h5"
    xyze.symlink_to(paths.xyze)
    out = tmp_path / "o"
    assert main(["sweep", str(xyze), "--grid", str(grid), "--out", str(out), "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert f"labels: {no_michel}" in err and "hold no Michel voxel" in err
    assert not out.exists() and not (tmp_path / "o.parts").exists()
    with h5py.File(no_michel, "a") as f:
        del f["labels"]
    assert main(["sweep", str(xyze), "--grid", str(grid), "--out", str(out), "--quiet"]) == 2
    assert "no dataset 'labels'" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "x.h5"), "--grid", str(grid), "--out", str(out), "--quiet"]) == 2
    assert "give the LABELS file" in capsys.readouterr().err


def test_an_out_folder_holding_an_input_is_refused(sim_sample, tmp_path, capsys):
    paths, _, _ = sim_sample
    grid = _grid(tmp_path, "min_drop_ratio: [1.3]\n")
    assert main(["sweep", str(paths.xyze), str(paths.labels), "--grid", str(grid), "--out", str(tmp_path),
                 "--force", "--quiet"]) == 2
    assert "holds the input" in capsys.readouterr().err and grid.exists()


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


def test_model_threshold_can_be_swept(sim_sample, tmp_path):
    import michelreco.run.sweep as sweep

    from michelreco import MichelFinder
    from michelreco.analysis.metrics import score_rows

    paths, events, labels = sim_sample
    grid = _grid(tmp_path, "model_threshold: [0.1, 0.5, 0.8]\n")
    assert sweep.load_grid(grid) == {"model_threshold": [0.1, 0.5, 0.8]}          # the model stays the judge
    best = sweep.run_sweep(paths.xyze, paths.labels, grid, tmp_path / "out", progress=False)
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert len(rows) == 3 and float(best["model_threshold"]) in (0.1, 0.5, 0.8)
    # each row scores the tuning events as the finder does with that threshold (reading rules included)
    tuning = np.flatnonzero(~sweep.split_events(len(events), 0.3, seed=0))
    for row in rows:
        finder = MichelFinder(model_threshold=float(row["model_threshold"]))
        c = score_rows([finder.find(events[i]) for i in tuning], [labels[i] for i in tuning]).pooled
        assert (int(row["tune_tp"]), int(row["tune_fp"]), int(row["tune_fn"])) == (c.tp, c.fp, c.fn)
    # the three thresholds choose differently
    assert len({(row["tune_tp"], row["tune_fp"], row["tune_fn"]) for row in rows}) == 3


def test_training_settings_are_swept_by_training_a_model_per_set(sim_sample, tmp_path, capsys):
    import michelreco.run.sweep as sweep
    from michelreco.run.train import holdout_mask

    paths, _, labels = sim_sample
    grid = _grid(tmp_path, "max_iter: [1, 60]\nlearning_rate: [0.2]\n")
    out = tmp_path / "out"
    best = sweep.run_sweep(paths.xyze, paths.labels, grid, out, validation_fraction=0.3, seed=4, progress=False)
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [int(r["max_iter"]) for r in rows] == [1, 60]
    # tuning scores are counted on the tuning events the fit never saw: their Michel voxels are tp + fn
    validation = sweep.split_events(len(labels), 0.3, seed=4)
    tuning = np.flatnonzero(~validation)
    held = tuning[holdout_mask(len(tuning), 0.25, seed=4)]
    michels = sum(int((labels[i] == 2).sum()) for i in held)
    assert all(int(r["tune_tp"]) + int(r["tune_fn"]) == michels for r in rows)
    assert float(rows[1]["tune_f1"]) > float(rows[0]["tune_f1"])       # 60 trees learn more than 1
    assert int(best["max_iter"]) == 60
    # best.yaml feeds train (its training settings) and the finder (which ignores them)
    model = tmp_path / "m.json"
    assert main(["train", str(paths.xyze), str(paths.labels), "--out", str(model), "--config",
                 str(out / "best.yaml"), "--workers", "1", "--quiet"]) == 0
    settings = json.loads(model.read_text())["meta"]["training"]["settings"]
    assert settings["max_iter"] == 60 and settings["learning_rate"] == 0.2
    assert find_michels_main([str(paths.xyze), "-o", str(tmp_path / "s.h5"), "--config", str(out / "best.yaml"),
                              "--model", str(model), "--workers", "1", "--quiet"]) == 0


def test_a_training_set_is_scored_as_find_would_use_its_model(sim_sample, tmp_path):
    """A training set's counts are those of find with the model the set trains, its cut model deciding the
    voxels near the taken peaks again: the sweep compares sets on the voxels the finder would give."""
    import michelreco.run.sweep as sweep
    from michelreco.analysis.metrics import event_counts
    from michelreco.reco.finder import MichelFinder
    from michelreco.run.train import save_model

    paths, events, labels = sim_sample
    validation = sweep.split_events(len(events), 0.3, seed=4)
    cached = sweep._candidates_of_range(str(paths.xyze), str(paths.labels), 0, len(events), {})
    trainer = sweep._Trainer(cached, validation, seed=4, finder=MichelFinder())
    assert trainer.cut_model is not None
    params = {"max_iter": 40}
    save_model(trainer.model(params), tmp_path / "m.json")
    finder = MichelFinder(model=str(tmp_path / "m.json"))
    expected = np.zeros((2, 3), np.int64)
    for i in np.flatnonzero(trainer.use):
        expected[int(validation[i])] += event_counts(finder.find(events[i]), labels[i])
    assert np.array_equal(trainer.counts(params), expected)
    # the cut model moves voxels here: whole candidates (cut_voxels 'nodes') count otherwise
    assert not np.array_equal(trainer.counts({**params, "cut_voxels": "nodes"}), expected)


@pytest.mark.parametrize("text, message", [
    ("max_iter: [10]\nmin_bragg_ratio: [1.5]\n", "min_bragg_ratio cannot be swept"),
    ("max_iter: [0]\n", "parameter 'max_iter' must be in 1 .. 5000"),
    ("learning_rate: {min: 0.5, max: 2}\n", "parameter 'learning_rate' must be in"),
])
def test_bad_training_grids_are_refused(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_grid(_grid(tmp_path, text))
