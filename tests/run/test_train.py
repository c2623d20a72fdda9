"""michelreco train: a model learned from labelled events, written as data, used by the finder."""

import json

import numpy as np
import pytest

from michelreco import MichelFinder
from michelreco.cli import find_michels_main, main
from michelreco.reco.model import MODEL_FEATURES, load_model
from michelreco.reco.schema import FEATURE_INDEX
from michelreco.run.io import iter_solution
from michelreco.run.train import candidate_table, save_model, train_model


def test_candidate_table_counts_voxels_once(sim_sample):
    paths, events, labels = sim_sample
    table = candidate_table(paths.xyze, paths.labels, stop=20, progress=False)
    assert table.event_michel_voxels.sum() == sum(int((lab == 2).sum()) for lab in labels[:20])
    np.testing.assert_array_equal(np.diff(table.voxel_ptr), table.michel_voxels + table.other_voxels)
    np.testing.assert_array_equal(np.add.reduceat(table.voxel_michel, table.voxel_ptr[:-1])[table.michel_voxels > 0],
                                  table.michel_voxels[table.michel_voxels > 0])
    tp, fp, fn = table.counts(table.michel_voxels > table.other_voxels)     # the union, never more than exists
    assert 0 < tp <= table.event_michel_voxels.sum() and fn == table.event_michel_voxels.sum() - tp


def test_trained_model_matches_scikit_learn_and_the_finder_uses_it(sim_sample, tmp_path):
    paths, events, _ = sim_sample
    model = train_model(paths.xyze, paths.labels, settings={"max_iter": 30}, seed=2, progress=False)
    save_model(model, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    table = candidate_table(paths.xyze, paths.labels, progress=False)
    ref = model.sklearn_estimator.predict_proba(table.features[:, [FEATURE_INDEX[f] for f in MODEL_FEATURES]])
    np.testing.assert_allclose(loaded.probabilities(table.features), ref[:, 1], atol=1e-6)
    meta = loaded.meta
    assert meta["training"]["fingerprint"] == table.fingerprint() and meta["training"]["events"] == len(events)
    assert 0.05 <= loaded.threshold <= 0.95 and meta["holdout"]["threshold"] == loaded.threshold
    # the early exit chosen on the training candidates cuts none of those the whole model could take
    assert loaded.early_exit is not None
    for t in (0.05, loaded.threshold, 0.9):
        assert np.array_equal(loaded.decide(table.features, t), loaded.raw_scores(table.features) >= np.log(t / (1 - t)))
    finder = MichelFinder(model=str(tmp_path / "m.json"))
    for xyze in events[:5]:
        index, feats, ptr, vox = finder.candidates(xyze)
        assert np.array_equal(finder.decide(feats), loaded.probabilities(feats) >= loaded.threshold)
    # the cut model: learned from the voxels near the peaks of the mostly-Michel stopping-muon candidates
    cut = loaded.cut_model
    assert cut is not None and cut.meta["voxels"] == len(table.cut_michel) > 300
    assert 0 < table.cut_michel.mean() < 1
    np.testing.assert_allclose(cut.probabilities(table.cut_features),
                               model.cut_model.sklearn_estimator.predict_proba(table.cut_features)[:, 1], atol=1e-6)
    moved = 0
    for xyze in events:                     # it moves voxels near the taken peaks only
        index, feats, ptr, vox, rows = finder.candidates_and_cut(xyze)
        near = set(index[rows[1][finder.decide(feats)[rows[0]]]].tolist())
        whole = set(finder.choose(index, feats, ptr, vox).tolist())
        after = set(finder.choose(index, feats, ptr, vox, rows).tolist())
        assert after ^ whole <= near
        # and with the event, the faint voxels touching them: what find gives
        assert finder.choose(index, feats, ptr, vox, rows, xyze).tolist() == finder.find(xyze).tolist()
        moved += len(after ^ whole)
    assert moved > 0


def test_train_command_writes_a_model_find_michels_uses(sim_sample, tmp_path, capsys):
    paths, events, _ = sim_sample
    model = tmp_path / "model.json"
    assert main(["train", str(paths.xyze), str(paths.labels), "--out", str(model), "--max-iter", "20",
                 "--workers", "1", "--quiet"]) == 0
    assert "held back" in capsys.readouterr().out
    assert json.loads(model.read_text())["format"].startswith("michelreco-tree-ensemble")
    sol = tmp_path / "sol.h5"
    assert find_michels_main([str(paths.xyze), "-o", str(sol), "--model", str(model), "--workers", "1",
                              "--quiet"]) == 0
    finder = MichelFinder(model=str(model))
    for (i, row), xyze in zip(iter_solution(sol), events):
        assert np.array_equal(row, finder.find(xyze))


def test_the_shipped_model_was_trained_with_the_default_pipeline():
    # a change of a pipeline default without retraining the shipped model fails here
    assert MichelFinder().pipeline_differences() == []


def test_a_model_used_with_other_pipeline_parameters_is_named_once(sim_sample, tmp_path, capsys):
    paths, _, _ = sim_sample
    config, model = tmp_path / "c.json", tmp_path / "m.json"
    config.write_text('{"energy_threshold_mev": 0.0}')
    assert main(["train", str(paths.xyze), str(paths.labels), "--out", str(model), "--config", str(config),
                 "--max-iter", "10", "--workers", "1", "--quiet"]) == 0
    assert "note:" not in capsys.readouterr().err           # training with a config says nothing of the shipped model
    assert MichelFinder(model=str(model)).pipeline_differences() == ["energy_threshold_mev 0.0 (here 0.13)"]
    assert MichelFinder(model=str(model), energy_threshold_mev=0.0).pipeline_differences() == []
    assert MichelFinder(selection="rules", model=str(model)).pipeline_differences() == []
    run = ["find-michels", str(paths.xyze), "-o", str(tmp_path / "s.h5"), "--model", str(model), "--workers", "1"]
    assert find_michels_main(run[1:] + ["--stop", "2"]) == 0
    err = capsys.readouterr().err
    assert err.count("note: the model was trained with energy_threshold_mev 0.0 (here 0.13)") == 1
    assert find_michels_main(run[1:] + ["--stop", "2", "--force", "--config", str(config)]) == 0
    assert "note:" not in capsys.readouterr().err
    assert find_michels_main(run[1:] + ["--stop", "2", "--force", "--quiet"]) == 0
    assert "note:" not in capsys.readouterr().err


@pytest.mark.parametrize("extra, match", [
    (["--holdout", "1.5"], "--holdout"),
    (["--events", "0"], "--events"),
])
def test_train_refuses_bad_options(sim_sample, tmp_path, capsys, extra, match):
    paths, _, _ = sim_sample
    with pytest.raises(SystemExit) if extra[0] == "--events" else _no_raise():
        code = main(["train", str(paths.xyze), str(paths.labels), "--out", str(tmp_path / "m.json"), *extra])
        assert code == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_train_never_overwrites_an_input(sim_sample, capsys):
    paths, _, _ = sim_sample
    before = paths.labels.read_bytes()
    assert main(["train", str(paths.xyze), str(paths.labels), "--out", str(paths.labels), "--force"]) == 2
    assert "input" in capsys.readouterr().err
    assert paths.labels.read_bytes() == before


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_tables_of_several_files_keep_their_events_apart(sim_sample):
    from michelreco.run.train import CandidateTable

    paths, _, _ = sim_sample
    first = candidate_table(paths.xyze, paths.labels, stop=20, progress=False)
    later = candidate_table(paths.xyze, paths.labels, start=20, stop=40, progress=False)
    both = CandidateTable.concatenate([first, first, later])
    assert len(both.event_michel_voxels) == 60 and both.first_event == 0 and both.event.max() <= 59
    # the same events twice count twice: voxel ids stay unique per event
    counts = np.array(both.counts(both.target))
    np.testing.assert_array_equal(counts, 2 * np.array(first.counts(first.target))
                                  + np.array(later.counts(later.target)))
    tail = both.subset(np.arange(60) >= 40)
    np.testing.assert_array_equal(tail.features, later.features)
    # the cut rows follow their events (the sweep fits its cut model on a subset's)
    assert len(later.cut_michel) > 0 and len(both.cut_michel) == 2 * len(first.cut_michel) + len(later.cut_michel)
    np.testing.assert_array_equal(tail.cut_features, later.cut_features)
    np.testing.assert_array_equal(tail.cut_michel, later.cut_michel)
    np.testing.assert_array_equal(tail.cut_event - 40, later.cut_event - later.first_event)
    middle = both.subset((np.arange(60) >= 20) & (np.arange(60) < 40))
    np.testing.assert_array_equal(middle.cut_features, first.cut_features)
    np.testing.assert_array_equal(middle.cut_event - 20, first.cut_event)


def test_train_adds_labelled_pairs(sim_sample, tmp_path, capsys):
    paths, events, _ = sim_sample
    model = tmp_path / "model.json"
    assert main(["train", str(paths.xyze), str(paths.labels), "--events", "30", "--add", str(paths.xyze),
                 str(paths.labels), "--out", str(model), "--max-iter", "10", "--workers", "1", "--quiet"]) == 0
    training = json.loads(model.read_text())["meta"]["training"]
    assert training["events"] == 30 + len(events) and training["more"] == [[str(paths.xyze), str(paths.labels),
                                                                            len(events)]]
    # an added pair is an input too: never the output
    assert main(["train", str(paths.xyze), str(paths.labels), "--add", str(model), str(paths.labels), "--out",
                 str(model), "--force", "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err
