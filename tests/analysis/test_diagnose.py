"""michelreco.analysis.diagnose: lost and false voxels add up, perfect selection bounds, a truth solution."""

import json

import numpy as np

from michelreco import MichelFinder
from michelreco.analysis.diagnose import diagnose_files
from michelreco.cli import main
from michelreco.run.io import write_solution


def test_causes_add_up_and_perfect_selection_is_the_ceiling(sim_sample):
    paths, _, labels = sim_sample
    d = diagnose_files(paths.xyze, paths.labels).as_dict()
    whole = diagnose_files(paths.xyze, paths.labels, finder=MichelFinder(cut_voxels="nodes")).as_dict()
    actual, perfect = d["actual"], d["perfect"]
    assert d["michel_voxels"] == sum(int((lab == 2).sum()) for lab in labels)
    assert sum(d["lost"].values()) == actual["fn"] and sum(d["false"].values()) == actual["fp"]
    # only the cut model takes voxels outside the candidates (near the taken peaks), and it takes fewer false
    # voxels at the cut in all than whole skeleton nodes do
    assert whole["false"]["outside candidates"] == 0 < d["false"]["outside candidates"]
    assert d["false"]["boundary"] + d["false"]["outside candidates"] < whole["false"]["boundary"]
    assert whole["actual"]["f1"] < actual["f1"]
    # Michel voxels in no candidate are lost, but for those the cut model takes near a peak
    assert d["lost"]["no candidate"] <= d["michel_voxels"] - d["covered_voxels"]
    assert whole["lost"]["no candidate"] == whole["michel_voxels"] - whole["covered_voxels"]
    # taking every mostly-Michel candidate, both readings of an end included, is no ceiling: the finder takes
    # one reading per end (on this sample it beats that choice); its ceiling is the one-reading choice finished
    assert perfect["tp"] <= d["covered_voxels"]
    read = d["perfect_one_reading"]                                  # a subset of the perfect choice's candidates
    assert read["tp"] <= perfect["tp"] and read["fp"] <= perfect["fp"]
    assert read["tp"] + read["fn"] == perfect["tp"] + perfect["fn"]
    # the finder's ceiling: that selection finished as find does; the cut model mends the boundary of the
    # perfectly chosen candidates, and without a cut model the candidates are taken whole
    finished = d["perfect_finished"]
    assert finished["tp"] + finished["fn"] == d["michel_voxels"] and finished["f1"] > read["f1"]
    assert finished["f1"] >= actual["f1"] and whole["perfect_finished"]["f1"] >= whole["actual"]["f1"]
    assert whole["perfect_finished"] == whole["perfect_one_reading"]
    cats = d["by_category"]                                          # the simulator's truth is found beside
    assert sum(c["michel_voxels"] for c in cats.values()) == d["michel_voxels"]
    assert sum(c["lost"] for c in cats.values()) == actual["fn"]


def test_the_truth_as_a_solution_loses_nothing(sim_sample, tmp_path):
    paths, _, labels = sim_sample
    write_solution(tmp_path / "truth_sol.h5", [np.flatnonzero(lab == 2).astype(np.int32) for lab in labels])
    d = diagnose_files(paths.xyze, paths.labels, tmp_path / "truth_sol.h5").as_dict()
    assert d["actual"]["f1"] == 1.0 and sum(d["lost"].values()) == 0 and sum(d["false"].values()) == 0


def test_rules_and_model_are_both_diagnosed_and_the_command_prints_json(sim_sample, capsys):
    paths, _, _ = sim_sample
    rules = diagnose_files(paths.xyze, paths.labels, finder=MichelFinder(selection="rules")).as_dict()
    assert main(["diagnose", str(paths.xyze), str(paths.labels), "--rules", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["actual"] == rules["actual"] and printed["lost"] == rules["lost"]
    assert main(["diagnose", str(paths.xyze), str(paths.labels)]) == 0
    out = capsys.readouterr().out
    assert "perfect selection" in out and "no candidate" in out


def test_a_truth_file_of_other_events_is_refused(sim_sample, tmp_path):
    import pytest

    from michelreco.errors import InputError
    from michelreco.sim.generate import simulate_file

    paths, _, _ = sim_sample
    other = simulate_file(tmp_path / "other", 5, seed=3, workers=1, progress=False)
    with pytest.raises(InputError, match="describes other events"):
        diagnose_files(paths.xyze, paths.labels, truth_path=other.truth)


def test_a_solution_of_other_events_is_refused_in_one_line(sim_sample, tmp_path, capsys):
    import pytest

    from michelreco.errors import InputError

    paths, events, labels = sim_sample
    short = tmp_path / "short.h5"                 # the solution of another (smaller) file
    write_solution(short, [np.flatnonzero(lab == 2).astype(np.int32) for lab in labels[:5]])
    with pytest.raises(InputError, match="holds 5 events"):
        diagnose_files(paths.xyze, paths.labels, short)
    rows = [np.flatnonzero(lab == 2).astype(np.int32) for lab in labels]
    rows[3] = np.array([len(events[3])], np.int32)          # an index past the event's last voxel
    wrong = tmp_path / "wrong.h5"
    write_solution(wrong, rows)
    with pytest.raises(InputError, match="out of range"):
        diagnose_files(paths.xyze, paths.labels, wrong)
    assert main(["diagnose", str(paths.xyze), str(paths.labels), "--solution", str(wrong)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "event 3" in err[0] and "out of range" in err[0]
