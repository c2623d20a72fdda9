"""The faint voxels that join a found Michel: exactly those at or below the threshold that touch it."""

import numpy as np
import pytest

from michelreco.reco.finder import MichelFinder
from michelreco.reco.low_voxels import touching_low_voxels, with_low_voxels


def _reference(xyze: np.ndarray, found: np.ndarray, threshold: float) -> np.ndarray:
    """Every voxel at or below ``threshold`` within one index step of a found voxel on every axis (brute force)."""
    if len(found) == 0:
        return np.empty(0, np.int32)
    xyz = xyze[:, :3].astype(np.int64)
    step = np.abs(xyz[:, None, :] - xyz[None, found, :]).max(axis=2)      # Chebyshev distance, all pairs
    return np.flatnonzero((xyze[:, 3] <= threshold) & (step <= 1).any(axis=1)).astype(np.int32)


def _event(rows):
    return np.array(rows, np.float32)


def test_a_faint_voxel_touching_a_found_one_joins_it_and_one_two_voxels_away_does_not():
    xyze = _event([(10, 10, 10, 1.0), (11, 11, 11, 0.05), (12, 10, 10, 0.1), (10, 10, 12, 0.13),
                   (10, 10, 13, 0.13), (9, 9, 9, 0.5)])
    # (11,11,11) touches by a corner, (10,10,12) is two voxels along z, (9,9,9) is above the threshold
    assert touching_low_voxels(xyze, np.array([0]), 0.13).tolist() == [1]
    assert with_low_voxels(xyze, np.array([0], np.int32), 0.13).tolist() == [0, 1]
    # a faint voxel among those found is kept once, and brings its own neighbours: (10,10,13) touches (10,10,12)
    assert with_low_voxels(xyze, np.array([3, 0], np.int32), 0.13).tolist() == [0, 1, 3, 4]
    assert touching_low_voxels(xyze, np.array([0]), 0.0).tolist() == []                     # nothing at or below 0


def test_no_voxel_across_a_face_is_taken_for_a_neighbour():
    # keys of (x, y, 767) and (x, y + 1, 0) are consecutive: the row search must not read one as the other's
    xyze = _event([(5, 5, 767, 1.0), (5, 6, 0, 0.05), (6, 767, 3, 1.0), (7, 0, 3, 0.05), (0, 0, 0, 0.05)])
    assert touching_low_voxels(xyze, np.array([0, 2]), 0.13).tolist() == []


def test_nothing_found_nothing_added():
    xyze = _event([(1, 1, 1, 0.05)])
    assert with_low_voxels(xyze, np.empty(0, np.int32), 0.13).size == 0


def test_the_kernel_equals_the_brute_force_reference(sim_sample):
    _, events, _ = sim_sample
    rng = np.random.default_rng(3)
    compared = 0
    for xyze in events[:30]:
        above = np.flatnonzero(xyze[:, 3] > 0.13)
        for found in (MichelFinder().find(xyze), rng.choice(above, size=min(200, len(above)), replace=False)):
            found = np.sort(found)
            if len(found) == 0:
                continue
            expected = _reference(xyze, found, 0.13)
            assert np.array_equal(touching_low_voxels(xyze, found, 0.13), expected)
            compared += len(expected)
    assert compared > 500                     # the events do hold faint voxels next to the voxels tested


@pytest.mark.parametrize("selection", ["model", "rules"])
def test_find_adds_the_faint_voxels_touching_what_it_found_above_the_threshold(sim_sample, selection):
    _, events, _ = sim_sample
    attach, drop = MichelFinder(selection=selection), MichelFinder(selection=selection, low_voxels="drop")
    added = 0
    for xyze in events[:30]:
        core = drop.find(xyze)
        assert (xyze[core, 3] > 0.13).all()
        found = attach.find(xyze)
        assert np.array_equal(found, np.union1d(core, _reference(xyze, core, 0.13)))
        added += len(found) - len(core)
    assert added > 100


def test_choose_with_the_event_gives_what_find_gives_whatever_the_event_array(sim_sample):
    _, events, _ = sim_sample
    finder = MichelFinder()
    for xyze in [x for x in events if len(MichelFinder().find(x))][:3]:
        index, feats, ptr, vox, cut = finder.candidates_and_cut(xyze)
        for given in (xyze, xyze.astype(">f4"), xyze.astype(np.float64), xyze.tolist()):
            assert np.array_equal(finder.choose(index, feats, ptr, vox, cut, given), finder.find(xyze))
