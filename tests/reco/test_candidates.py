"""michelreco.reco.candidates: hand-built events whose candidate features are known."""

import numpy as np
import pytest

from michelreco import MichelFinder
from michelreco.constants import VOXEL_MM
from michelreco.reco.schema import FEATURE_INDEX, PEAK_SHELLS

MUON_END_X = 319     # the muon runs along +x from x = 200 to 319 at y = z = 300


def _muon(length=120, rise=True):
    """A minimum-ionizing muon (0.62 MeV a voxel) along +x, rising over its last 15 voxels to 3.6 MeV."""
    e = [0.62 + (0.2 * (k - (length - 16)) if rise and k > length - 16 else 0.0) for k in range(length)]
    return [(MUON_END_X - length + 1 + k, 300, 300) for k in range(length)], e


def _line(start, step, n, energy=0.55):
    """n voxels from one step past ``start`` along ``step`` (voxel units)."""
    return [tuple(int(v) for v in np.array(start) + (k + 1) * np.array(step)) for k in range(n)], [energy] * n


def _event(*parts):
    """(N, 4) event of the parts' unique voxels, and which part each voxel came from."""
    vox, e, part = [], [], []
    for k, (v, en) in enumerate(parts):
        vox += v
        e += en
        part += [k] * len(v)
    xyz = np.array(vox, np.float32)
    _, keep = np.unique(xyz, axis=0, return_index=True)
    keep = np.sort(keep)
    return np.column_stack([xyz[keep], np.array(e, np.float32)[keep]]), np.array(part)[keep]


def _records(xyze, selection="model"):
    return MichelFinder(selection=selection).explain(xyze)


def _check_voxels(record, part, expected_parts):
    """The candidate holds exactly the voxels of ``expected_parts``, each once, and n_voxels counts them."""
    voxels = record["voxels"]
    assert len(voxels) == len(set(voxels)) == record["features"]["n_voxels"]
    assert set(np.unique(part[voxels])) == set(expected_parts)
    assert len(voxels) == int(np.isin(part, expected_parts).sum())


def test_michel_at_right_angles():
    xyze, part = _event(_muon(), _line((MUON_END_X, 300, 300), (0, 1, 0), 30))
    (r,) = [r for r in _records(xyze) if r["kind"] == "stopping_muon"]
    _check_voxels(r, part, [1])
    f = r["features"]
    assert abs(f["michel_cos"]) < 0.3                                  # a kink of 90 degrees
    assert f["energy_mev"] == pytest.approx(30 * 0.55, rel=1e-5)
    assert abs(f["peak_x"] - MUON_END_X) <= 1 and f["peak_y"] == 300  # the Bragg peak at the muon's stop
    assert f["muon_length_mm"] == pytest.approx(119 * VOXEL_MM, abs=2 * VOXEL_MM)
    assert f["bragg_ratio"] > 4 and f["drop_ratio"] > 4
    assert f["crossing_mm"] == 0 and f["muon_branches"] == 0


def test_collinear_michel():
    xyze, part = _event(_muon(), _line((MUON_END_X, 300, 300), (1, 0, 0), 30, energy=0.3))
    (r,) = [r for r in _records(xyze) if r["kind"] == "stopping_muon"]
    _check_voxels(r, part, [1])
    assert r["features"]["michel_cos"] > 0.95                          # no kink: it carries on along the muon
    assert r["features"]["drop_ratio"] > 8                             # but dE/ds drops from 3.6 to 0.3 MeV/voxel


def test_branch_hanging_past_the_peak_is_counted_once():
    # the electron runs 4 voxels from the stop, then splits in two prongs: walked from the short prong's end,
    # the walk crosses the junction before the peak, and the prong must not be listed twice
    stem = _line((MUON_END_X, 300, 300), (0, 1, 0), 4)
    long_prong = _line((MUON_END_X, 304, 300), (1, 1, 0), 20)
    short_prong = _line((MUON_END_X, 304, 300), (-1, 1, 0), 12)
    xyze, part = _event(_muon(), stem, long_prong, short_prong)
    records = [r for r in _records(xyze) if r["kind"] == "stopping_muon"]
    assert len(records) == 2
    whole, short = sorted(records, key=lambda r: -len(r["voxels"]))
    _check_voxels(whole, part, [1, 2, 3])
    _check_voxels(short, part, [1, 3])
    assert short["features"]["energy_mev"] == pytest.approx(16 * 0.55, rel=1e-5)


def test_entering_cluster():
    xyze, part = _event(_line((-1, 400, 400), (1, 1, 0), 25))          # from the x = 0 face into the volume
    (r,) = _records(xyze)
    assert r["kind"] == "entering"
    _check_voxels(r, part, [0])
    assert r["features"]["face_gap"] == 0 and r["features"]["peak_x"] == 0
    assert _records(xyze, selection="rules") == []                     # the hand rules do not judge them


def test_activity_near_an_entering_cluster():
    # the entering line's centroid is (12, 413, 400); the near energy counts the voxels within 30 cm (100
    # voxels) of it of the other clusters of at least min_cluster_voxels (8), and nothing of the cluster itself
    electron = _line((-1, 400, 400), (1, 1, 0), 25)
    near = _line((13, 413, 460), (0, 0, 1), 10, energy=1.0)             # 61-70 voxels away: counted
    speck = _line((13, 413, 340), (0, 0, -1), 7, energy=0.5)           # 7 voxels 61-67 away: too small a cluster
    far = _line((13, 413, 495), (0, 0, 1), 10, energy=2.0)             # 96-105 voxels away: the 4 within 100 counted
    xyze, part = _event(electron, near, speck, far)
    (r,) = [r for r in _records(xyze) if r["kind"] == "entering" and 0 in part[r["voxels"]]]
    _check_voxels(r, part, [0])
    assert r["features"]["near_energy_mev"] == pytest.approx(10 * 1.0 + 4 * 2.0, rel=1e-5)
    bigger, _ = _event(electron, near, _line((13, 413, 340), (0, 0, -1), 8, energy=0.5), far)
    (r,) = [r for r in _records(bigger) if r["kind"] == "entering" and r["features"]["face_gap"] == 0
            and r["features"]["n_voxels"] == 25]
    assert r["features"]["near_energy_mev"] == pytest.approx(10 * 1.0 + 8 * 0.5 + 4 * 2.0, rel=1e-5)
    alone, _ = _event(electron)
    (r,) = _records(alone)
    assert r["features"]["near_energy_mev"] == 0


def test_no_entering_features_for_a_stopping_muon():
    others = _line((MUON_END_X, 335, 300), (0, 1, 0), 10)               # a cluster near the Michel
    xyze, _ = _event(_muon(), _line((MUON_END_X, 300, 300), (0, 1, 0), 30), others)
    records = [r for r in _records(xyze) if r["kind"] == "stopping_muon"]
    assert records
    for name in ("near_energy_mev", "inward_widening_mm", "face_half_energy_frac"):
        assert all(r["features"][name] == 0 for r in records)


def _widening_line(spread_from):
    """20 voxels from the x = 0 face along +x (y = z = 400), with a voxel on either side (y +- 1) at x =
    spread_from .. spread_from + 4: symmetric about the line, so the principal axis is x."""
    sides = [(x, y, 400) for x in range(spread_from, spread_from + 5) for y in (399, 401)]
    return _line((-1, 400, 400), (1, 0, 0), 20), (sides, [0.55] * len(sides))


@pytest.mark.parametrize("spread_from, widening, face_share", [
    (15, 1.0, 1 / 3),       # widens inwards (an electron entering): inner half 10 + 10 voxels, face half 10
    (0, -1.0, 2 / 3),       # widens at the face (a shower piece leaving): the mirror image
])
def test_entering_cluster_development_from_the_face(spread_from, widening, face_share):
    # centroid x = 12 (or 7): the span's middle is x = 9.5 either way, so the face half is x = 0..9; the
    # widened half's width is sqrt(10 * 1 voxel^2 / 20) voxels, the other's 0
    xyze, part = _event(*_widening_line(spread_from))
    (r,) = [r for r in _records(xyze) if r["kind"] == "entering"]
    _check_voxels(r, part, [0, 1])
    f = r["features"]
    assert f["inward_widening_mm"] == pytest.approx(widening * np.sqrt(0.5) * VOXEL_MM, rel=1e-6)
    assert f["face_half_energy_frac"] == pytest.approx(face_share, rel=1e-6)


def test_delta_ray_next_to_the_peak():
    michel = _line((MUON_END_X, 300, 300), (0, 1, 0), 30)
    delta = _line((MUON_END_X - 5, 300, 300), (0, 0, 1), 10)           # 15 mm before the stop
    xyze, part = _event(_muon(), michel, delta)
    by_part = {tuple(np.unique(part[r["voxels"]])): r for r in _records(xyze)}
    assert set(by_part) == {(1,), (2,)}
    _check_voxels(by_part[(1,)], part, [1])
    assert by_part[(1,)]["features"]["muon_branches"] == 1           # the delta joins the muon's last cm
    _check_voxels(by_part[(2,)], part, [2])
    # walked from the delta's end, the track carries on on both sides of its junction: not a stopping track
    assert by_part[(2,)]["features"]["crossing_mm"] > 50


def test_second_cut_when_a_fluctuation_of_the_muon_outshines_its_stop():
    # a burst of 6 MeV a voxel 36-39 voxels before the stop (a delta ray's start) beats the Bragg peak: the first
    # cut lands there and its candidate carries the muon's end (more than a Michel can hold); the second cut is
    # at the real stop and holds the Michel alone
    muon, energy = _muon()
    energy = [6.0 if 80 <= k < 84 else e for k, e in enumerate(energy)]
    xyze, part = _event((muon, energy), _line((MUON_END_X, 300, 300), (0, 1, 0), 30))
    records = [r for r in _records(xyze) if r["kind"] == "stopping_muon"]
    first = [r for r in records if r["features"]["cut_rank"] == 0 and 1 in part[r["voxels"]]]
    second = [r for r in records if r["features"]["cut_rank"] == 1]
    assert len(first) == 1 and len(second) == 1
    assert first[0]["features"]["energy_mev"] > 52.83 and 0 in part[first[0]["voxels"]]
    _check_voxels(second[0], part, [1])
    assert abs(second[0]["features"]["peak_x"] - MUON_END_X) <= 1
    # the second cut needs a first candidate above second_cut_above_mev; inf: never
    for above in (first[0]["features"]["energy_mev"] + 1.0, float("inf")):
        off = MichelFinder(second_cut_above_mev=above).explain(xyze)
        assert all(r["features"]["cut_rank"] == 0 for r in off)
        assert len([r for r in off if r["kind"] == "stopping_muon"]) == len(records) - 1


def test_a_cluster_is_read_one_way():
    from michelreco.reco.candidates import one_reading_per_cluster
    from michelreco.reco.schema import FEATURE_INDEX, FEATURES

    # candidates (kind, cluster): two clusters of one event with both readings, an entering cluster alone
    kinds_clusters = [(0, 3), (1, 3), (0, 5), (1, 5), (1, 7)]
    feats = np.zeros((5, len(FEATURES)))
    feats[:, FEATURE_INDEX["kind"]], feats[:, FEATURE_INDEX["cluster"]] = np.array(kinds_clusters).T
    take = np.array([True, True, False, True, True])
    # cluster 3: its stopping-muon candidate is taken, so the entering reading goes; cluster 5: the stop was not
    # taken, the entering reading stays; cluster 7 has only the entering reading
    assert one_reading_per_cluster(feats, take).tolist() == [True, False, False, True, True]
    assert one_reading_per_cluster(feats, ~take).tolist() == (~take).tolist()
    # in a table of several events, clusters of the same number in other events do not count
    event = np.array([0, 1, 0, 0, 0])
    assert one_reading_per_cluster(feats, take, event).tolist() == take.tolist()
    assert one_reading_per_cluster(feats[:0], take[:0], event[:0]).size == 0


def test_a_free_end_is_cut_once():
    from michelreco.reco.candidates import one_reading_per_cluster
    from michelreco.reco.schema import FEATURE_INDEX, FEATURES

    # (cluster, cut_rank) in event_candidates' order: an end cut twice, an end cut once, another end cut twice
    rows = [(3, 0), (3, 1), (3, 0), (4, 0), (4, 1)]
    feats = np.zeros((5, len(FEATURES)))
    feats[:, FEATURE_INDEX["cluster"]], feats[:, FEATURE_INDEX["cut_rank"]] = np.array(rows).T
    # both cuts of the first end taken: the second (closer to the end) stays; a second cut alone changes nothing
    assert one_reading_per_cluster(feats, np.ones(5, bool)).tolist() == [False, True, True, False, True]
    take = np.array([True, False, True, False, True])
    assert one_reading_per_cluster(feats, take).tolist() == take.tolist()


SHELL_NAMES = [f"shell_{what}_{name}" for what in ("mev", "voxels") for name, _, _ in PEAK_SHELLS]


def _shells(record):
    """A record's shell columns: energies (MeV), then voxel counts, inner shell first."""
    return np.array([record["features"][name] for name in SHELL_NAMES])


def test_peak_shells_count_every_cluster_with_the_outer_radius_included():
    # single voxels (clusters of one, never analysed) at known squared distances from the muon's peak, each
    # beside no other voxel: 4 and 12 inside the second shell (radius 3.5: 12.25), 13 and 49 inside the third
    # (radius 7, on it), 50 and 196 inside the fourth (radius 14, on it), 197 outside
    event = (_muon(), _line((MUON_END_X, 300, 300), (0, 1, 0), 30))
    (before,) = [r for r in _records(_event(*event)[0]) if r["kind"] == "stopping_muon"]
    peak = np.array([before["features"][f"peak_{a}"] for a in "xyz"], int)
    specks = {(0, 0, 2): (1, 0.31), (2, -2, 2): (1, 0.32), (0, -2, 3): (2, 0.33), (0, 0, 7): (2, 0.34),
              (0, -1, -7): (3, 0.35), (0, 0, 14): (3, 0.36), (0, -1, -14): (None, 0.37)}
    extra = ([tuple(int(c) for c in peak + off) for off in specks], [e for _, e in specks.values()])
    (after,) = [r for r in _records(_event(*event, extra)[0]) if r["kind"] == "stopping_muon"]
    assert after["voxels"] == before["voxels"] and after["features"]["peak_x"] == before["features"]["peak_x"]
    added = np.zeros(2 * len(PEAK_SHELLS))
    for shell, e in specks.values():
        if shell is not None:
            added[shell] += e
            added[len(PEAK_SHELLS) + shell] += 1
    np.testing.assert_allclose(_shells(after) - _shells(before), added, atol=1e-5)
    assert _shells(before)[len(PEAK_SHELLS)] >= 2          # the muon's last voxel and the Michel's first at least


def test_peak_shells_equal_a_scan_of_every_voxel(sim_sample):
    _, events, _ = sim_sample
    finder = MichelFinder()
    threshold = finder.get_params()["energy_threshold_mev"]
    r2 = np.array([hi * hi for _, _, hi in PEAK_SHELLS])
    cols = [FEATURE_INDEX[name] for name in SHELL_NAMES]
    peak = [FEATURE_INDEX[f"peak_{a}"] for a in "xyz"]
    checked = 0
    for xyze in events[:20]:
        _, feats, _, _ = finder.candidates(xyze)
        kept = xyze[xyze[:, 3] > threshold].astype(np.float64)
        for f in feats:
            d2 = ((kept[:, :3] - f[peak]) ** 2).sum(axis=1)
            shell = np.searchsorted(r2, d2)               # the first shell whose squared radius is not below
            inside = shell < len(r2)
            expected_mev = np.bincount(shell[inside], kept[inside, 3], minlength=len(r2))
            expected_n = np.bincount(shell[inside], minlength=len(r2))
            np.testing.assert_allclose(f[cols[:len(r2)]], expected_mev, rtol=1e-9, atol=1e-12)
            np.testing.assert_array_equal(f[cols[len(r2):]], expected_n)
            checked += 1
    assert checked > 100
