"""The mechanisms behind the default preset: lateral spread, merging, Supera's threshold and delta rule,
sub-MeV knock-ons and short walks, nuclear interactions, and what each does to the calibration figures."""

import math
from dataclasses import replace

import numpy as np
import pytest

from michelreco.sim.charged import transport_charged
from michelreco.sim.constants import M_MU, M_PI, PDG_GAMMA, PDG_PI, VOXEL_MM
from michelreco.sim.em import (electron_csda_range_mm, short_electron_walk, simulate_em_ext, trace_lepton,
                               WALK_SHORT_MM)
from michelreco.sim.generate import EventConfig, PRESETS, simulate_event, transport_event
from michelreco.sim.hadronic import (INTERACTION_LENGTH_MM, M_PI0, _pi0_photons, inelastic_products,
                                     sample_interaction_mm)
from michelreco.sim.labels import (KIND_DELTA, LABEL_DELTA, LABEL_TRACK, delta_unique_voxels,
                                   rule_select_deposits, voxelize_and_label)
from michelreco.sim.record import PARTICLE_DTYPE, Process
from michelreco.sim.rng import seed_numba
from michelreco.sim.segments import SPREAD_FLOOR_MEV, deposit_along_segment, deposit_point

BIG_LO, BIG_HI = np.full(3, -1e5), np.full(3, 1e5)


# --- lateral spread and merging ---------------------------------------------------------------------
def test_spread_puts_the_gaussian_share_across_each_near_face():
    dep, nd = deposit_point(np.empty((4, 5)), 0, 3.7, 1.5, 1.5, 1.0, 7.0, BIG_LO, BIG_HI, 0.3, False)
    # x = 3.7 mm: 0.7 mm above the face at 3 mm, 2.3 mm below the one at 6 mm; y, z at the voxel centre
    share = 0.5 * math.erfc(0.7 / (0.3 * math.sqrt(2)))
    spill = dep[:nd][dep[:nd, 0] < 3.0]
    assert nd == 2 and len(spill) == 1
    assert spill[0, 3] == pytest.approx(share, rel=2e-3) and spill[0, 0] == pytest.approx(2.3)  # mirror image
    assert dep[:nd, 3].sum() == pytest.approx(1.0, abs=1e-12) and np.all(dep[:nd, 4] == 7.0)
    # a point at a voxel centre, or one far outside the image, keeps everything
    assert deposit_point(np.empty((4, 5)), 0, 1.5, 1.5, 1.5, 1.0, 0.0, BIG_LO, BIG_HI, 0.3, False)[1] == 1
    assert deposit_point(np.empty((4, 5)), 0, -50.1, 1.5, 1.5, 1.0, 0.0, BIG_LO, BIG_HI, 0.3, False)[1] == 1
    # a spill below the floor stays in the point's voxel
    dep, nd = deposit_point(np.empty((4, 5)), 0, 3.1, 1.5, 1.5, 0.9 * SPREAD_FLOOR_MEV, 0.0, BIG_LO, BIG_HI, 0.3,
                            False)
    assert nd == 1


def test_merging_keeps_the_sums_per_particle_and_voxel():
    rng = np.random.default_rng(4)
    plain, merged = np.empty((8, 5)), np.empty((8, 5))
    n_plain = n_merged = 0
    p = np.array([1.0, 1.0, 1.0])
    for k in range(300):
        q = p + rng.normal(0, 1.0, 3)
        pid = float(k // 100)
        plain, n_plain = deposit_along_segment(plain, n_plain, *p, *q, 0.3, pid, BIG_LO, BIG_HI, 0.35, False)
        merged, n_merged = deposit_along_segment(merged, n_merged, *p, *q, 0.3, pid, BIG_LO, BIG_HI, 0.35, True)
        p = q

    def sums(dep, n):
        key = np.floor(dep[:n, :3] / VOXEL_MM).astype(int)
        out = {}
        for k, e, pid in zip(map(tuple, key), dep[:n, 3], dep[:n, 4]):
            out[(k, pid)] = out.get((k, pid), 0.0) + e
        return out

    a, b = sums(plain, n_plain), sums(merged, n_merged)
    assert n_merged < 0.6 * n_plain and a.keys() == b.keys()
    assert all(a[k] == pytest.approx(b[k], rel=1e-9) for k in a)
    assert sum(a.values()) == pytest.approx(300 * 0.3)


# --- Supera's threshold and delta rule ----------------------------------------------------------------
def test_particle_voxel_threshold_sums_a_particles_pieces():
    # two 0.03 MeV pieces of particle 0 in one voxel pass together; particle 1's single 0.03 piece does not
    dep = np.array([[1.0, 1.0, 1.0, 0.03, 0], [2.0, 1.0, 1.0, 0.03, 0], [1.5, 1.5, 1.0, 0.03, 1],
                    [-5.0, 1.0, 1.0, 0.04, 1], [-4.0, 1.0, 1.0, 0.04, 1]])
    keep, above, _ = rule_select_deposits(dep, 0.05, VOXEL_MM, 768, "particle_voxel")
    assert keep.tolist() == [True, True, False, False, False]
    assert above.tolist() == [True, True, False, True, True]          # outside, summed too (containment)
    keep, _, _ = rule_select_deposits(dep, 0.05, VOXEL_MM, 768, "deposit")
    assert not keep.any()


def _delta_event(shared: int):
    """A muon along x and a delta of 4 voxels, ``shared`` of which the muon also crosses."""
    p = np.zeros(2, PARTICLE_DTYPE)
    p["id"] = [0, 1]
    p["parent"] = [-1, 0]
    p["pdg"] = [13, 11]
    p["process"] = [Process.PRIMARY, Process.IONI]
    deps = [[1.5 + 3 * i, 301.5, 301.5, 0.6, 0] for i in range(20)]
    deps += [[1.5 + 3 * i, 301.5 + (0 if i < shared else 3.0), 301.5, 0.3, 1] for i in range(4)]
    return p, np.array(deps)


def test_a_delta_needs_three_voxels_its_track_does_not_hold():
    for shared, expect in ((1, LABEL_DELTA), (2, LABEL_TRACK)):
        p, deps = _delta_event(shared)
        old = voxelize_and_label(p, deps)
        new = voxelize_and_label(p, deps, delta_unique=True)
        assert (old.label == LABEL_DELTA).sum() == 4 - shared            # first simulator: 4 voxels >= 3
        assert (new.label == LABEL_DELTA).sum() == (4 - shared if expect == LABEL_DELTA else 0)
    kind = np.array([0, KIND_DELTA])
    vstart = np.array([0, 2, 3])          # voxel 0 holds both fragments, voxel 1 the delta only
    assert delta_unique_voxels(kind, np.array([-1, 0]), vstart, np.array([0, 1, 1])).tolist() == [0, 1]


# --- sub-MeV electrons --------------------------------------------------------------------------------
def test_electron_range_table_against_the_reference_and_the_stepping():
    # reference CSDA ranges in LAr: 2.2 cm at 5 MeV, 4.1 cm at 10 MeV
    assert electron_csda_range_mm(5.0) == pytest.approx(22.0, rel=0.05)
    assert electron_csda_range_mm(10.0) == pytest.approx(41.0, rel=0.05)
    # the same stopping power as the stepping: mean path of 1 MeV electrons without radiation, to 10 keV
    seed_numba(3)
    paths = [trace_lepton(11, np.zeros(3), np.array([0.0, 0, 1]), 1.0, BIG_LO, BIG_HI, 1e9, 1e9, 0.01)[-1, 0]
             for _ in range(200)]
    assert np.mean(paths) == pytest.approx(electron_csda_range_mm(1.0) - electron_csda_range_mm(0.01), rel=0.05)


def test_short_walk_deposits_all_energy_within_its_range():
    seed_numba(5)
    for t in (0.1, 0.4, 0.9):
        for _ in range(50):
            dep, nd = short_electron_walk(np.empty((4, 5)), 0, 10.5, 10.5, 10.5, 1.0, 0.0, 0.0, t, 2.0,
                                          BIG_LO, BIG_HI)
            assert dep[:nd, 3].sum() == pytest.approx(t, abs=1e-12) and np.all(dep[:nd, 4] == 2.0)
            reach = np.linalg.norm(dep[:nd, :3] - 10.5, axis=1).max()
            assert reach <= electron_csda_range_mm(t) + 1e-9
    assert electron_csda_range_mm(0.1) < WALK_SHORT_MM < electron_csda_range_mm(0.3)


def test_knockons_and_walks_conserve_energy_and_widen_tracks():
    seed_numba(8)
    lo, hi = BIG_LO, BIG_HI
    widths = {}
    for knock in (0.0, 0.3):
        dep, end, _, t_end, sec, stopped = transport_charged(M_MU, 1.0, np.array([1.5, 1.5, 1.5]),
                                                             np.array([1.0, 0, 0]), 1000.0, lo, hi, 1.0, 1.0,
                                                             knock)
        assert stopped and dep[:, 3].sum() + sec[:, 8].sum() == pytest.approx(1000.0, abs=1e-6)
        inside = dep[(dep[:, 0] > 0) & (dep[:, 0] < 1500)]
        widths[knock] = np.mean(np.abs(inside[:, 1] - 1.5) + np.abs(inside[:, 2] - 1.5) > 1.5)
    assert widths[0.3] > widths[0.0]             # some energy now lies outside the track's voxel column
    # electrons: knock-ons and the final walk keep the cascade's energy bookkeeping
    for args in ((0.3, True, 0.0, False, 1.0), (0.3, True, 0.35, True, 1.0)):
        dep, par, given = simulate_em_ext(11, np.zeros(3), np.array([0.0, 0, 1]), 30.0, lo, hi, 0.2, 1.0, 0.1,
                                          0.3, 0.01, 1.0, 0.2, 0.0, *args)
        assert dep[:, 3].sum() + par[:, 11].sum() + given[3] == pytest.approx(30.0, abs=1e-6)


# --- nuclear interactions --------------------------------------------------------------------------------
def test_interaction_lengths_and_products():
    seed_numba(11)
    s = np.array([sample_interaction_mm(211, 300.0, 1.0) for _ in range(4000)])
    assert s.mean() == pytest.approx(INTERACTION_LENGTH_MM[PDG_PI], rel=0.05)
    assert np.isinf(sample_interaction_mm(2212, 10.0, 1.0)) and np.isinf(sample_interaction_mm(13, 300.0, 1.0))
    assert np.isinf(sample_interaction_mm(211, 300.0, 0.0))
    n_pi0 = 0
    for _ in range(2000):
        out = inelastic_products(211, 300.0, np.zeros(3), np.array([0.0, 0, 1]))
        assert np.all(out[:, 1] == Process.INELASTIC) and np.all(out[:, 8] > 0)
        assert np.allclose(np.linalg.norm(out[:, 5:8], axis=1), 1.0)
        hadrons = out[np.abs(out[:, 0]) != PDG_GAMMA]
        assert hadrons[:, 8].sum() <= 300.0 + M_PI
        n_pi0 += int(np.any((out[:, 0] == PDG_GAMMA) & (out[:, 8] > 8.0)))   # above de-excitation energies
    assert 0.03 < n_pi0 / 2000 < 0.2          # charge exchange, 15% of the 70% that keep a pion


def test_pi0_decay_conserves_energy_and_momentum():
    seed_numba(4)
    d = np.array([0.6, 0.0, 0.8])
    for t in (5.0, 80.0, 400.0):
        out = np.empty((2, 9))
        n = _pi0_photons(out, 0, np.zeros(3), d, t)
        assert n == 2
        assert out[:, 8].sum() == pytest.approx(t + M_PI0, rel=1e-12)
        p = (out[:, 8, None] * out[:, 5:8]).sum(axis=0)
        assert np.allclose(p, math.sqrt((t + M_PI0) ** 2 - M_PI0 ** 2) * d, rtol=1e-9, atol=1e-9)


def test_pions_interact_before_stopping_in_the_default_only():
    hits = {}
    for name in ("default", "clean"):
        cfg = PRESETS[name]
        seed_numba(2)
        n_int = 0
        for _ in range(200):
            p, _ = transport_event([(PDG_PI, np.full(3, 1152.0), np.array([1.0, 0, 0]), 400.0)], cfg)
            n_int += int(np.any(p["process"] == Process.INELASTIC))
        hits[name] = n_int / 200
    # a 400 MeV pi+ travels about 1.3 m before stopping: P(interaction) = 1 - exp(-1.3 / 0.6) ~ 0.8
    assert hits["clean"] == 0.0 and 0.6 < hits["default"] < 0.95


# --- what the mechanisms do to the figures -----------------------------------------------------------
def _figures(cfg, n=40, seed=21):
    low = tot = 0
    mich = []
    for i in range(n):
        ev = simulate_event(seed, i, config=cfg)
        low += int((ev.xyze[:, 3] <= 0.13).sum())
        tot += len(ev.xyze)
        mich.append(ev.michels[ev.michels["n_label2"] > 0])
    m = np.concatenate(mich)
    return low / tot, m


def test_lateral_spread_raises_the_low_energy_share_and_soft_outside_rain_detaches_michels():
    d = EventConfig()
    low_spread, _ = _figures(d)
    low_none, _ = _figures(replace(d, lateral_spread_mm=0.0))
    assert low_spread > low_none + 0.04
    _, m_default = _figures(d, n=150)
    assert 0.05 < np.mean(~m_default["attached"]) < 0.3      # Michels whose muon stopped outside the image
    out = m_default[~m_default["attached"]]
    assert np.all(np.any((out["muon_end_vox"] < 0) | (out["muon_end_vox"] >= 768), axis=1))
    assert not np.any(out["contained"])                       # they all enter from outside
