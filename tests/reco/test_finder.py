"""MichelFinder: results on simulated events, order invariance, thresholded input, explain, parameters."""

import numpy as np
import pytest

from michelreco.errors import InputError
from michelreco.reco.finder import MichelFinder
from michelreco.analysis.metrics import score_rows


def _muon_and_michel():
    """A hand-built stopping muon along +x with a Bragg rise, and an electron leaving at 90 degrees."""
    vox, energy, truth = [], [], []
    for k in range(120):                                   # 36 cm of minimum-ionizing muon ...
        vox.append((200 + k, 300, 300))
        energy.append(0.62 if k < 105 else 0.62 + 0.2 * (k - 104))   # ... rising to ~3.6 MeV at the stop
        truth.append(False)
    x, y = 319, 300
    rng = np.random.default_rng(0)
    for k in range(40):                                    # a 12 cm wiggly electron
        y += 1
        x += int(rng.integers(-1, 2))
        vox.append((x, y, 300 + (k // 10)))
        energy.append(0.55)
        truth.append(True)
    xyz = np.array(vox, np.float32)
    _, keep = np.unique(xyz, axis=0, return_index=True)
    keep = np.sort(keep)
    return np.column_stack([xyz[keep], np.array(energy, np.float32)[keep]]), np.array(truth)[keep]


def test_hand_built_muon_and_michel():
    xyze, truth = _muon_and_michel()
    found = MichelFinder().find(xyze)
    hit = np.zeros(len(xyze), bool)
    hit[found] = True
    assert hit[truth].mean() >= 0.9                 # the electron is found ...
    assert hit[~truth].sum() <= 2                   # ... and the muon is not (its last voxel at most)


def test_no_michel_without_a_bragg_peak():
    xyze, truth = _muon_and_michel()
    flat = xyze.copy()
    flat[~truth, 3] = 0.62                          # the same shape, no rise: a track crossing
    assert MichelFinder().find(flat).size == 0


# Pooled scores measured on the 60-event sample of conftest (default preset, seed 31337) with the shipped
# model and the hand rules; the tests allow 0.02 below them, so a finder that got worse fails. (The model with
# the entering clusters' development features takes one wrong candidate of 72 voxels here that the model
# before did not: 0.957 / 0.987 / 0.929 before; better on 12,000 development and never-used events. Its cut
# model, deciding the voxels near the taken peaks again, then gave 0.945 / 0.956 / 0.935. With the voxels at or
# below 0.13 MeV set aside and attached at the end, the model gives 0.946 / 0.956 / 0.937 (0.944 on input cut at
# 0.13 MeV) and the hand rules 0.812 / 0.832 / 0.793, down from 0.858 / 0.935 / 0.793: three shower trunks of
# 70-89 voxels pass the rules once the faint voxels around them no longer widen them -> these.)
MEASURED = {"model": {"f1": 0.946, "precision": 0.956, "recall": 0.937, "thresholded_f1": 0.944},
            "rules": {"f1": 0.812, "precision": 0.832, "recall": 0.793, "thresholded_f1": 0.809}}


@pytest.mark.parametrize("selection", ["model", "rules"])
def test_simulated_events_score(sim_sample, selection):
    _, events, labels = sim_sample
    finder = MichelFinder(selection=selection)
    c = score_rows([finder.find(x) for x in events], labels).pooled
    for name in ("f1", "precision", "recall"):
        assert getattr(c, name) >= MEASURED[selection][name] - 0.02, name


@pytest.mark.parametrize("selection", ["model", "rules"])
def test_shuffled_events_give_the_same_voxels(sim_sample, selection):
    _, events, _ = sim_sample
    finder = MichelFinder(selection=selection)
    rng = np.random.default_rng(5)
    for xyze in events:
        perm = rng.permutation(len(xyze))
        direct = finder.find(xyze)
        shuffled = perm[finder.find(xyze[perm])]
        assert np.array_equal(np.sort(shuffled), direct)


@pytest.mark.parametrize("dtype", [">f4", ">f8", "f2", ">f2", "f8", ">i4"])
def test_any_numeric_dtype_is_read_as_the_numbers_it_holds(sim_sample, dtype):
    """Other byte orders and half floats (an HDF5 file written elsewhere) are read as the numbers they hold."""
    _, events, _ = sim_sample
    finder = MichelFinder()
    for xyze in events[:8]:
        x = np.round(xyze) if dtype.endswith("i4") else xyze        # an integer event: whole energies
        held = x.astype(dtype)
        assert np.array_equal(finder.find(held), finder.find(held.astype(np.float64)))


@pytest.mark.parametrize("selection", ["model", "rules"])
def test_thresholded_input(sim_sample, selection):
    _, events, labels = sim_sample
    finder = MichelFinder(selection=selection)
    sols, labs = [], []
    for xyze, lab in zip(events, labels):
        keep = xyze[:, 3] > 0.13
        found = finder.find(xyze[keep])
        assert found.size == 0 or (found.max() < keep.sum() and found.dtype == np.int32)
        sols.append(found)
        labs.append(lab[keep])
    assert score_rows(sols, labs).pooled.f1 >= MEASURED[selection]["thresholded_f1"] - 0.02
    above = MichelFinder(selection=selection, low_voxels="drop")
    for xyze in events[:10]:              # the threshold, the faint voxels dropped, does the same on full input
        keep = np.flatnonzero(xyze[:, 3] > 0.13)
        assert np.array_equal(above.find(xyze), keep[finder.find(xyze[keep])])


@pytest.mark.parametrize("selection", ["model", "rules"])
def test_explain_agrees_with_find(sim_sample, selection):
    _, events, _ = sim_sample
    finder = MichelFinder(selection=selection)
    kinds = set()
    for xyze in events[:20]:
        records = finder.explain(xyze)
        chosen = [r["voxels"] for r in records if r["michel"]]
        union = set(np.concatenate(chosen).tolist()) if chosen else set()
        for r in records:                       # the voxels near the peaks that the cut model decided again
            assert "cut" not in r or (r["michel"] and r["kind"] == "stopping_muon" and selection == "model")
            union = union - set(r.get("cut", {}).get("removed", [])) | set(r.get("cut", {}).get("added", []))
        for r in records:                       # and the faint voxels that touch a taken candidate's voxels
            assert "low_voxels" in r if r["michel"] else "low_voxels" not in r
            assert (xyze[r.get("low_voxels", []), 3] <= 0.13).all()
            union |= set(r.get("low_voxels", []))
        assert np.array_equal(sorted(union), finder.find(xyze))
        for r in records:
            kinds.add(r["kind"])
            assert r["features"]["n_voxels"] == len(r["voxels"]) == len(set(r["voxels"]))
            assert r["rules_michel"] == (bool(r["rules"]) and all(v == "pass" for v in r["rules"].values()))
            if selection == "rules":
                assert r["michel"] == r["rules_michel"] and "score" not in r and not r["overruled"]
            else:
                assert r["michel"] + r["overruled"] == (r["score"] >= r["threshold"]) and len(r["top_features"]) == 3
                # overruled: an entering reading where its cluster's stop was taken, or a first cut where the
                # second cut of its end (the next record) was taken
                same_cluster = [q for q in records if q["features"]["cluster"] == r["features"]["cluster"]]
                assert not r["overruled"] or (
                    (r["kind"] == "entering" and any(q["michel"] and q["kind"] == "stopping_muon"
                                                     for q in same_cluster))
                    or (r["features"]["cut_rank"] == 0 and records[r["candidate"] + 1]["michel"]
                        and records[r["candidate"] + 1]["features"]["cut_rank"] == 1))
    # the hand rules do not judge entering clusters, so they are not even built; the model judges both kinds
    assert kinds == ({"stopping_muon"} if selection == "rules" else {"stopping_muon", "entering"})


def test_parameters_scikit_learn_style():
    f = MichelFinder(min_bragg_ratio=2, eps_voxels=2.0)
    p = f.get_params()
    assert p["min_bragg_ratio"] == 2.0 and isinstance(p["min_bragg_ratio"], float)
    assert f.set_params(max_michel_energy_mev=55.0) is f and f.get_params()["max_michel_energy_mev"] == 55.0
    assert MichelFinder(**p).get_params() == p
    assert "min_bragg_ratio=2.0" in repr(f)
    with pytest.raises(InputError, match="unknown parameter 'min_brag_ratio'"):
        MichelFinder(min_brag_ratio=2)
    with pytest.raises(InputError, match="'min_cluster_voxels' must be int"):
        MichelFinder(min_cluster_voxels=2.5)


def test_validate_false_skips_only_the_checks(sim_sample):
    _, events, _ = sim_sample
    finder = MichelFinder()
    for xyze in events[:10]:            # the same voxels when a caller has checked the rows already
        assert np.array_equal(finder.find(xyze, validate=False), finder.find(xyze))
    with pytest.raises(InputError):
        finder.find(np.array([[1.0, 2.0, np.nan, 0.5]], np.float32))


def test_bad_and_empty_events():
    finder = MichelFinder()
    with pytest.raises(InputError, match=r"\(N, 4\)"):
        finder.find(np.zeros((5, 3), np.float32))
    assert finder.find(np.zeros((0, 4), np.float32)).size == 0
    assert finder.find(np.array([[1, 2, 3, 0.5]], np.float32)).size == 0
    assert finder.find(np.array([[1, 2, 3, 1]], np.int64)).size == 0               # any numeric dtype
    for row, message in (([1, 2, 3.5, 1.0], r"^voxel 1 \(1, 2, 3.5\): coordinates are not whole voxel indices$"),
                         ([1, 2, 3, -1.0], r"^voxel 1 \(1, 2, 3\): negative energy \(-1 MeV\)$"),
                         ([1, 2, 768, 1.0], "outside 0..767"), ([1, np.inf, 3, 1.0], "non-finite")):
        with pytest.raises(InputError, match=message):                          # the checks of a file's rows
            finder.find(np.array([[5, 5, 5, 1.0], row]))


def test_sklearn_clustering_backend_finds_the_same_michels(sim_sample):
    _, events, _ = sim_sample
    ours, ref = MichelFinder(), MichelFinder(clustering="sklearn")
    for xyze in events[:15]:   # the same clusters and neighbour lists: the same Michels
        assert np.array_equal(ours.find(xyze), ref.find(xyze))
    with pytest.raises(InputError, match="'clustering' must be one of"):
        MichelFinder(clustering="hdbscan")
