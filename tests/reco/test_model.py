"""michelreco.reco.model: the tree ensemble as data, exact against scikit-learn, refusing foreign files."""

import json

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from michelreco import MichelFinder
from michelreco.errors import InputError
from michelreco.reco.model import MODEL_FEATURES, TreeModel, _add_leaves_bitmask, default_model_path, load_model
from michelreco.reco.schema import FEATURE_INDEX, FEATURES
from michelreco.run.train import early_exit_for, save_model

COLS = [FEATURE_INDEX[f] for f in MODEL_FEATURES]


@pytest.fixture(scope="module")
def fitted():
    """A classifier on a random feature table (a NaN column part of the time), and its model copy."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, len(FEATURES))) * 5
    x[::7, COLS[4]] = np.nan
    y = (x[:, COLS[0]] + 0.5 * np.nan_to_num(x[:, COLS[4]]) - x[:, COLS[9]] > 0).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=9, random_state=0).fit(x[:, COLS], y)
    return x, clf, TreeModel.from_sklearn(clf, MODEL_FEATURES, threshold=0.4, meta={"note": "test"})


def test_round_trip_gives_scikit_learns_probabilities(fitted, tmp_path):
    x, clf, model = fitted
    save_model(model, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    ref = clf.predict_proba(x[:, COLS])[:, 1]
    np.testing.assert_allclose(loaded.probabilities(x), ref, rtol=0, atol=1e-6)
    assert loaded.threshold == 0.4 and loaded.meta == {"note": "test"}
    np.testing.assert_array_equal(loaded.decide(x), ref >= 0.4)
    assert loaded.decide(x, 1.0).sum() == 0 and loaded.decide(x, 0.0).all()


def test_bit_vector_kernel_equals_the_tree_walk_exactly(fitted):
    x, _, model = fitted
    assert model._bitmask is not None                   # 9 leaves: the bit-vector kernel serves this model
    rows = x.copy()
    rng = np.random.default_rng(5)
    thresholds = np.concatenate([t["threshold"][t["left"] >= 0] for t in model.trees])
    on_threshold = rng.random(rows.shape) < 0.3         # values exactly at a split go left in both
    rows[on_threshold] = rng.choice(thresholds, on_threshold.sum())
    rows[rng.random(rows.shape) < 0.05] = np.nan
    np.testing.assert_array_equal(model.raw_scores(rows), model._walk_scores(rows))


def test_bit_vector_blocks_with_and_without_nans_equal_the_walk(fitted):
    x, _, model = fitted
    rows = x[:200].copy()                                # blocks of 64, 64, 64 and 8 candidates
    rows[:, COLS[4]] = x[1:201, COLS[4]]                 # the NaN column's NaNs, shifted off the block starts
    rng = np.random.default_rng(8)
    rows[:64][rng.random((64, rows.shape[1])) < 0.1] = np.nan     # NaNs in every column of the first block only
    assert np.isnan(rows[:64]).any(axis=0).all() and not np.isnan(rows[64:128, COLS[0]]).any()
    np.testing.assert_array_equal(model.raw_scores(rows), model._walk_scores(rows))
    some = np.arange(3, 200, 3)                          # a subset of the rows, as the early exit passes them
    acc = np.zeros(len(rows))
    _add_leaves_bitmask(rows, some, acc, *model._bitmask)
    np.testing.assert_array_equal(model.baseline + acc[some], model._walk_scores(rows[some]))
    assert not acc[np.setdiff1d(np.arange(len(rows)), some)].any()


def test_trees_of_more_than_64_leaves_are_walked(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2000, len(FEATURES)))
    y = (np.sin(3 * x[:, COLS[0]]) + x[:, COLS[1]] * x[:, COLS[2]] > 0).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=5, max_leaf_nodes=100, min_samples_leaf=2,
                                         random_state=0).fit(x[:, COLS], y)
    model = TreeModel.from_sklearn(clf, MODEL_FEATURES)
    assert model._bitmask is None and max(int((t["left"] < 0).sum()) for t in model.trees) > 64
    np.testing.assert_allclose(model.probabilities(x), clf.predict_proba(x[:, COLS])[:, 1], rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def rare():
    """A model of a rare class, as Michels are among candidates (about 3%), and its training table."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4000, len(FEATURES)))
    y = (x[:, COLS[0]] + 0.3 * x[:, COLS[1]] > 1.9).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=7, random_state=0).fit(x[:, COLS], y)
    return x, TreeModel.from_sklearn(clf, MODEL_FEATURES, threshold=0.5)


def test_early_exit_decides_as_the_whole_ensemble(rare, tmp_path):
    x, model = rare
    exit_ = early_exit_for(model, x)
    assert exit_ is not None and 0 < exit_["trees"] <= len(model.trees) // 2
    fast = TreeModel(model.features, model.baseline, model.trees, model.threshold, early_exit=exit_)
    first = TreeModel(model.features, model.baseline, model.trees[:exit_["trees"]]).raw_scores(x)
    assert 0 < (first < exit_["raw_below"]).sum() < len(x)          # some candidates stop early, not all
    for t in (0.05, 0.2, 0.4, 0.5, 0.9):
        np.testing.assert_array_equal(fast.decide(x, t), model.decide(x, t))
    save_model(fast, tmp_path / "m.json")
    assert load_model(tmp_path / "m.json").early_exit == exit_


def test_early_exit_rejects_at_its_cut_and_only_from_its_threshold(rare):
    x, model = rare
    everyone_out = {"trees": 1, "raw_below": 1e9, "from_probability": 0.3}
    fast = TreeModel(model.features, model.baseline, model.trees, early_exit=everyone_out)
    assert model.decide(x, 0.4).any() and not fast.decide(x, 0.4).any()
    np.testing.assert_array_equal(fast.decide(x, 0.2), model.decide(x, 0.2))   # below from_probability: all trees
    np.testing.assert_array_equal(fast.probabilities(x), model.probabilities(x))


def test_contributions_add_up_to_the_score(fitted):
    x, _, model = fitted
    for row in x[:20]:
        total = model.expected_score + sum(model.contributions(row).values())
        assert total == pytest.approx(model.raw_scores(row[None, :])[0], abs=1e-9)


@pytest.mark.parametrize("damage, match", [
    (lambda d: d.update(format="something-else"), "not a michelreco model"),
    (lambda d: d["trees"][0]["left"].__setitem__(0, 10**6), "damaged model file"),
    (lambda d: d["trees"][0]["left"].__setitem__(0, 0), "damaged model file"),          # a loop
    (lambda d: d["trees"][0]["feature"].__setitem__(0, 999), "damaged model file"),
    (lambda d: d["trees"][1].pop("value"), "damaged model file \\(no entry .value.\\)"),
    (lambda d: d.update(threshold=1.5), "damaged model file"),
    (lambda d: d["features"].__setitem__(0, "not_a_feature"), "another feature set"),
    (lambda d: d.update(early_exit={"trees": 0, "raw_below": -5.0, "from_probability": 0.05}), "early exit"),
    (lambda d: d.update(early_exit={"trees": 3, "raw_below": None, "from_probability": 0.05}), "damaged"),
    (lambda d: d.update(early_exit={"trees": 3, "raw_below": -5.0}), "no entry 'from_probability'"),
    (lambda d: d.update(early_exit={"trees": 2.5, "raw_below": -5.0, "from_probability": 0.05}), "whole number"),
    (lambda d: d.update(early_exit=[3, -5.0, 0.05]), "damaged"),
    (lambda d: d["trees"][0]["threshold"].__setitem__(0, "x"), "tree 0: 'threshold' is not a list of numbers"),
    (lambda d: d["trees"][0]["threshold"].__setitem__(0, float("nan")), "tree 0: a split threshold that is not a number"),
    (lambda d: d["trees"][0]["left"].__setitem__(0, 1.5), "'left' is not a list of whole numbers"),
    (lambda d: d["trees"][0].update(missing_left=[0] * len(d["trees"][0]["value"])), "'missing_left' is not a list of true/false values"),
    (lambda d: d["trees"][0].update(value=[[0.1]] * len(d["trees"][0]["left"])), "'value' is not a list"),
    (lambda d: d["trees"].__setitem__(0, [1, 2]), "tree 0 is not a mapping"),
    (lambda d: d.update(trees=7), "damaged model file"),
    (lambda d: d.update(cut_voxels={"format": "x"}), "\\(cut voxels\\): not a michelreco model"),
    (lambda d: d.update(cut_voxels=json.loads(json.dumps(d))), "\\(cut voxels\\): model made for another feature"),
])
def test_damaged_or_foreign_models_are_refused_in_one_line(fitted, tmp_path, damage, match):
    data = fitted[2].to_dict()
    damage(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=match) as err:
        load_model(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_files_that_are_not_models(tmp_path):
    (tmp_path / "t.json").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(50))
    with pytest.raises(InputError, match="not JSON"):
        load_model(tmp_path / "t.json")
    (tmp_path / "cut.json").write_text(json.dumps({"format": "x"})[:-3])
    with pytest.raises(InputError, match="not JSON"):
        load_model(tmp_path / "cut.json")
    with pytest.raises(InputError, match="no such model file"):
        MichelFinder(model=str(tmp_path / "missing.json"))


def test_the_shipped_model_loads_fast_and_is_small():
    import time

    t = time.perf_counter()
    model = load_model()
    assert time.perf_counter() - t < 0.5             # the goal is 0.1 s; generous for a busy CI
    assert default_model_path().stat().st_size < 2_000_000
    assert set(model.features) <= set(MODEL_FEATURES) and 0 < model.threshold < 1
    assert model.meta["training"]["events"] > 0 and len(model.meta["training"]["fingerprint"]) == 64
