"""michelreco.reco.cut_voxels: the voxels near a candidate's peak, described and decided again."""

import numpy as np
import pytest

from michelreco import MichelFinder
from michelreco.reco.cut_voxels import CUT_FEATURES, CUT_RADIUS_VOXELS, cut_rows, voxels_after_cut
from michelreco.reco.schema import FEATURE_INDEX as FI


def _reference_rows(xyz, energy, labels, feats, ptr, vox, which):
    """``cut_rows`` in numpy, from the module docstring's definitions."""
    cand, voxel, table = [], [], []
    for c in np.flatnonzero(which & (feats[:, FI["kind"]] == 0)):
        peak = feats[c, [FI["peak_x"], FI["peak_y"], FI["peak_z"]]]
        members = np.flatnonzero(labels == feats[c, FI["cluster"]])
        mine = np.zeros(len(xyz), bool)
        mine[vox[ptr[c]:ptr[c + 1]]] = True
        d = np.sqrt(((xyz[members] - peak) ** 2).sum(1))
        muon = members[~mine[members] & (d > 3) & (d <= 12)]
        level = members[~mine[members] & (d > 10) & (d <= 40)]
        if len(muon) < 3:
            continue
        w = xyz[muon].mean(0) - peak
        w /= np.linalg.norm(w)
        u = xyz[mine].mean(0) - peak
        u = u / np.linalg.norm(u) if np.linalg.norm(u) > 0 else u
        scale = np.median(energy[level]) if len(level) >= 5 else np.median(energy[muon])
        for v in members[d <= CUT_RADIUS_VOXELS]:
            r = xyz[v] - peak
            along = r @ w
            cand.append(c)
            voxel.append(v)
            table.append([mine[v], along, np.sqrt(max(r @ r - along ** 2, 0)), np.sqrt(r @ r), r @ u,
                          feats[c, FI["energy_mev"]], feats[c, FI["michel_cos"]], energy[v] / scale])
    return np.array(cand, int), np.array(voxel, int), np.array(table, float).reshape(-1, len(CUT_FEATURES))


def test_rows_equal_the_numpy_reference_on_simulated_events(sim_sample):
    _, events, _ = sim_sample
    finder = MichelFinder()
    rows = 0
    for xyze in events:
        index, event, feats, ptr, vox = finder._event(xyze, True)
        which = np.arange(len(feats)) % 3 != 1                    # some candidates only
        got = cut_rows(*event, feats, ptr, vox, which)
        ref = _reference_rows(*event, feats, ptr, vox, which)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
        np.testing.assert_allclose(got[2], ref[2], rtol=1e-12, atol=1e-12)
        rows += len(got[0])
    assert rows > 1000


def _muon_and_michel():
    """A muon along +x, 0.5 MeV per voxel, its last three voxels 2, 2 and 3 MeV (x = 198..200), and an electron
    leaving the last voxel along +y: 20 voxels of 0.5 MeV."""
    muon = [(x, 300, 300, 0.5) for x in range(100, 198)] + [(198, 300, 300, 2.0), (199, 300, 300, 2.0),
                                                             (200, 300, 300, 3.0)]
    electron = [(200, 300 + k, 300, 0.5) for k in range(1, 21)]
    return np.array(muon + electron, np.float32)


def test_rows_of_a_hand_built_stop():
    xyze = _muon_and_michel()
    finder = MichelFinder()
    index, event, feats, ptr, vox = finder._event(xyze, True)
    # the skeleton runs diagonally from the electron's first voxel to x = 199, whose node also holds the corner
    # voxel (200, 300, 300): the node of most energy, so the peak
    assert len(feats) == 1 and (feats[0, FI["peak_x"]], feats[0, FI["peak_y"]]) == (199, 300)
    cand, voxel, table = cut_rows(*event, feats, ptr, vox, np.ones(1, bool))
    rows = {tuple(xyze[index[v], :3].astype(int)): t for v, t in zip(voxel, table)}
    assert set(rows) == {(196, 300, 300), (197, 300, 300), (198, 300, 300), (199, 300, 300), (200, 300, 300),
                         (200, 301, 300), (200, 302, 300), (200, 303, 300)}        # within 3.5 voxels
    assert set(cand) == {0} and all(t[5] == feats[0, FI["energy_mev"]] == 10.0 for t in table)
    # the muon's direction from its voxels 4-12 away (x = 187..195): -x; its typical voxel 0.5 MeV
    in_candidate, along_muon, from_axis, from_peak, _, _, _, ratio = rows[(198, 300, 300)]
    assert (in_candidate, along_muon, from_axis, from_peak, ratio) == (0, 1, 0, 1, 4.0)
    in_candidate, along_muon, from_axis, from_peak, _, _, _, ratio = rows[(200, 300, 300)]
    assert (in_candidate, along_muon, from_axis, from_peak, ratio) == (0, -1, 0, 1, 6.0)
    # the candidate's direction: from the peak to its centroid (200, 310.5, 300)
    in_candidate, along_muon, from_axis, from_peak, along_candidate, _, _, ratio = rows[(200, 302, 300)]
    assert (in_candidate, along_muon, from_axis, ratio) == (1, -1, 2, 1.0)
    assert from_peak == pytest.approx(np.sqrt(5)) and along_candidate == pytest.approx(22 / np.sqrt(111.25))


def test_candidates_without_voxels_or_not_asked_for_give_no_rows():
    xyze = _muon_and_michel()
    index, event, feats, ptr, vox = MichelFinder()._event(xyze, True)
    assert len(cut_rows(*event, feats, ptr, vox, np.zeros(1, bool))[0]) == 0
    empty = np.zeros(2, np.int64)                        # the same candidate, its voxels taken away
    assert len(cut_rows(*event, feats, empty, vox[:0], np.ones(1, bool))[0]) == 0


def test_the_nearest_taken_peak_decides_a_voxel():
    # candidates 0 and 2 taken, 1 not; voxels 0..5; candidate 0 holds 0, 1, candidate 2 holds 4
    ptr, vox = np.array([0, 2, 3, 4]), np.array([0, 1, 3, 4])
    take = np.array([True, False, True])
    candidate = np.array([0, 0, 0, 1, 2, 2])
    voxel = np.array([1, 2, 5, 5, 2, 4])
    from_peak = np.array([1.0, 3.0, 1.0, 0.5, 2.0, 0.0])
    michel = np.array([False, True, True, False, False, True])
    chosen = voxels_after_cut(6, ptr, vox, take, candidate, voxel, from_peak, michel)
    # voxel 1 removed by candidate 0; voxel 2: candidate 2 is nearer (2 < 3) and says no; voxel 5: candidate 1's
    # nearer row does not count (not taken), candidate 0 adds it; voxel 3 belongs to the untaken candidate only
    assert chosen.tolist() == [True, False, False, False, True, True]


def test_ties_go_to_the_lower_candidate():
    ptr, vox = np.array([0, 1, 2]), np.array([0, 1])
    take = np.array([True, True])
    chosen = voxels_after_cut(3, ptr, vox, take, np.array([0, 1]), np.array([2, 2]), np.array([1.5, 1.5]),
                              np.array([True, False]))
    assert chosen.tolist() == [True, True, True]
