"""Charged-particle stepping against the PDG reference numbers of docs/simulation.md §8."""

import math

import numpy as np
import pytest

from michelreco.sim.charged import deposit_along_segment, transport_charged, transport_charged_stats
from michelreco.sim.constants import M_E, M_MU, M_P
from michelreco.sim.rng import seed_numba

BIG_LO = np.full(3, -1.0e6)
BIG_HI = np.full(3, 1.0e6)
ORIGIN = np.zeros(3)
ZHAT = np.array([0.0, 0.0, 1.0])
# a slab: the world ends 100 mm downstream, so tracks of fast muons are 10 cm long
SLAB_HI = np.array([1.0e6, 1.0e6, 100.0])


def _run(mass, t, n, hi=BIG_HI, seed=1, cut=1.0):
    seed_numba(seed)
    return [transport_charged_stats(mass, 1.0, ORIGIN, ZHAT, t, BIG_LO, hi, 1.0, cut)
            for _ in range(n)]


# docs/simulation.md §8 CSDA ranges, mm
@pytest.mark.parametrize("mass,t,range_mm", [
    (M_MU, 50.0, 108.0), (M_MU, 100.0, 304.0), (M_MU, 300.0, 1240.0),
    (M_P, 100.0, 78.2), (M_P, 200.0, 260.0),
])
def test_simulated_range_matches_pdg(mass, t, range_mm):
    out = _run(mass, t, 40)
    assert all(o[5] for o in out)  # all stopped
    path = np.array([o[6] for o in out])
    assert path.mean() == pytest.approx(range_mm, rel=0.05)
    # range straggling exists but is small (a few % for muons, ~1% for protons)
    assert 0.002 < path.std() / path.mean() < 0.06


def test_energy_conservation_and_stop():
    for mass, t in ((M_MU, 200.0), (M_P, 150.0)):
        seed_numba(3)
        dep, end, d, t_end, sec, stopped = transport_charged(
            mass, 1.0, ORIGIN, ZHAT, t, BIG_LO, BIG_HI, 1.0, 1.0)
        assert stopped and t_end == 0.0
        assert dep[:, 3].sum() + sec[:, 8].sum() == pytest.approx(t, rel=1e-9)
        assert np.all(dep[:, 3] >= 0.0)
        assert abs(np.linalg.norm(d) - 1.0) < 1e-9


def test_mean_dedx_1gev_muon():
    # total loss (continuous + delta rays) per cm over 10 cm slabs
    out = _run(M_MU, 1000.0, 3000, hi=SLAB_HI)
    lost = np.array([1000.0 - o[3] for o in out])
    path = np.array([o[6] for o in out])
    assert lost.sum() / path.sum() * 10.0 == pytest.approx(2.30, rel=0.05)
    # the loss is what is deposited plus what the delta rays carry (only the last step's
    # deposit can fall outside the world and be dropped)
    stored = np.array([o[0][:, 3].sum() + o[4][:, 8].sum() for o in out])
    assert stored.sum() == pytest.approx(lost.sum(), rel=0.01)
    # delta rays above 1 MeV carry ~15% of the loss at 1 GeV, xi (ln(Wmax/Tcut) - 1) ~ 0.35 MeV/cm
    deltas = sum(o[4][:, 8].sum() for o in out) / path.sum() * 10.0
    assert 0.25 < deltas < 0.45


def test_highland_width():
    out = _run(M_MU, 1000.0, 3000, hi=SLAB_HI, seed=5)
    d = np.array([o[2] for o in out])
    proj = np.concatenate([np.arctan2(d[:, 0], d[:, 2]), np.arctan2(d[:, 1], d[:, 2])])
    path = np.mean([o[6] for o in out])
    e = 1000.0 + M_MU
    p = math.sqrt(e * e - M_MU * M_MU)
    beta = p / e
    x = path / 140.0
    theta0 = 13.6 / (beta * p) * math.sqrt(x) * (1.0 + 0.038 * math.log(x / beta ** 2))
    assert proj.std() == pytest.approx(theta0, rel=0.10)


@pytest.mark.parametrize("cut", [0.5, 1.0])
def test_delta_ray_rate(cut):
    # 0.097/Tcut is the beta -> 1, Tcut << Wmax limit (the spin factor lowers it by ~5% at 1 GeV)
    out = _run(M_MU, 1000.0, 3000, hi=SLAB_HI, seed=7, cut=cut)
    n = sum(o[4].shape[0] for o in out)
    length_cm = sum(o[6] for o in out) / 10.0
    assert n / length_cm == pytest.approx(0.097 / cut, rel=0.15)
    t = np.concatenate([o[4][:, 8] for o in out])
    assert t.min() >= cut
    # 1/T^2: about half of the rays above the cut are above twice the cut
    assert np.mean(t > 2 * cut) == pytest.approx(0.5, abs=0.06)


def test_delta_ray_kinematics():
    # a delta ray is electrons from the track, forward, with cos(theta) ~ T_e (E+me)/(p_e P)
    out = _run(M_MU, 1000.0, 500, hi=SLAB_HI, seed=9)
    sec = np.concatenate([o[4] for o in out])
    assert np.all(sec[:, 0] == 11)
    assert np.allclose(np.linalg.norm(sec[:, 5:8], axis=1), 1.0)
    t = sec[:, 8]
    pe = np.sqrt(t * (t + 2 * M_E))
    e = 1000.0 + M_MU
    expect = t * (e + M_E) / (pe * math.sqrt(e * e - M_MU * M_MU))
    # track direction changes by ~10 mrad over 10 cm: compare where the angle is large
    big = expect < 0.9
    assert big.sum() > 20
    assert np.allclose(sec[big, 7], expect[big], atol=0.05)


@pytest.mark.parametrize("mass,t", [(M_MU, 300.0), (M_P, 200.0)])
def test_bragg_peak(mass, t):
    out = _run(mass, t, 30, seed=11)
    last_cm, mean_per_cm = [], []
    for dep, end, _, _, _, _, path, _ in out:
        dist = np.linalg.norm(dep[:, :3] - end, axis=1)
        last_cm.append(dep[dist < 10.0, 3].sum())
        mean_per_cm.append(dep[:, 3].sum() / path * 10.0)
    last_cm = np.mean(last_cm)
    assert last_cm > 3.0 * np.mean(mean_per_cm)
    # energy of the last cm = T at 1 cm residual range, log-log between the PDG points
    # (10 MeV, 0.70 cm) and (20 MeV, 2.38 cm) for muons, (20, 0.454) and (50, 2.30) for protons
    if mass == M_MU:
        ref = 10.0 * (1.0 / 0.70) ** (math.log(2) / math.log(2.38 / 0.70))
    else:
        ref = 20.0 * (1.0 / 0.454) ** (math.log(2.5) / math.log(2.30 / 0.454))
    assert last_cm == pytest.approx(ref, rel=0.15)


def test_leaves_world():
    seed_numba(2)
    hi = np.array([1.0e6, 1.0e6, 50.0])
    dep, end, d, t_end, sec, stopped = transport_charged(
        M_MU, 1.0, ORIGIN, ZHAT, 500.0, BIG_LO, hi, 1.0, 1.0)
    assert not stopped
    assert t_end > 480.0
    assert 50.0 <= end[2] < 52.0
    assert np.all(dep[:, 2] < 50.0)


def test_reproducible_from_seed():
    a = _run(M_P, 120.0, 3, seed=42)
    b = _run(M_P, 120.0, 3, seed=42)
    for x, y in zip(a, b):
        assert np.array_equal(x[0], y[0]) and np.array_equal(x[4], y[4])


# --- deposits split along the path at the voxel planes ------------------------------------------
VOXEL = 3.0


def _chord_lengths_by_sampling(p0, p1, n=200_000):
    """Length of the segment inside each voxel, by dense sampling (independent of the kernel)."""
    t = (np.arange(n) + 0.5) / n
    pts = p0 + t[:, None] * (p1 - p0)
    keys, counts = np.unique(np.floor(pts / VOXEL).astype(np.int64), axis=0, return_counts=True)
    return {tuple(k): c / n * np.linalg.norm(p1 - p0) for k, c in zip(keys, counts)}


def test_segment_split_shares_energy_by_path_length():
    rng = np.random.default_rng(4)
    for _ in range(30):
        p0 = rng.uniform(-10.0, 10.0, 3)
        p1 = p0 + rng.normal(size=3) * rng.uniform(0.2, 8.0)
        dep, nd = deposit_along_segment(np.empty((2, 5)), 0, *p0, *p1, 1.7, 4.0, BIG_LO, BIG_HI)
        dep = dep[:nd]
        assert dep[:, 3].sum() == pytest.approx(1.7, rel=1e-12)
        assert np.all(dep[:, 4] == 4.0)
        keys = [tuple(k) for k in np.floor(dep[:, :3] / VOXEL).astype(np.int64)]
        assert len(set(keys)) == len(keys)              # one piece per voxel crossed
        chords = _chord_lengths_by_sampling(p0, p1)
        length = np.linalg.norm(p1 - p0)
        for k, e in zip(keys, dep[:, 3]):
            # voxels the sampling misses are clipped by less than ~1e-4 of the length
            assert e / 1.7 * length == pytest.approx(chords.get(k, 0.0), abs=2e-4 * length + 1e-9)


def test_isotropic_lines_mean_chord_is_cauchy():
    # Cauchy: the mean chord of isotropic uniform random lines through a convex body is 4V/S,
    # 2 mm for a 3 mm cube: an isotropic segment enters a new voxel every 2 mm on average
    # (pieces = 1 + plane crossings)
    rng = np.random.default_rng(8)
    n_vox, length = 0, 0.0
    for _ in range(2000):
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        p0 = rng.uniform(0.0, 300.0, 3)
        _, nd = deposit_along_segment(np.empty((64, 4)), 0, *p0, *(p0 + 60.0 * u), 1.0, -1.0,
                                      BIG_LO, BIG_HI)
        n_vox += nd - 1
        length += 60.0
    assert length / n_vox == pytest.approx(4 * 27.0 / 54.0, rel=0.03)


def test_muon_track_fills_every_voxel_it_crosses():
    # a straight 1 GeV muon crosses (|ux| + |uy| + |uz|) / 3 voxels per mm; corner-clipped voxels
    # get small energies instead of being skipped (one deposit per step would miss many of them)
    u = np.array([0.3, 0.5, 0.8])
    u /= np.linalg.norm(u)
    seed_numba(12)
    dep, end, *_ = transport_charged(M_MU, 1.0, np.array([1.0, 1.0, 1.0]), u, 1000.0,
                                     BIG_LO, np.array([1e6, 1e6, 301.0]), 1.0, 1e9)
    keys, inv = np.unique(np.floor(dep[:, :3] / VOXEL).astype(np.int64), axis=0,
                          return_inverse=True)
    path = np.linalg.norm(end - np.array([1.0, 1.0, 1.0]))
    assert len(keys) == pytest.approx(path * np.abs(u).sum() / VOXEL, rel=0.05)
    e_vox = np.bincount(inv.ravel(), weights=dep[:, 3])
    # about 2.1 MeV/cm over chords of 0..5 mm: a few % of voxels below 0.05 MeV
    assert 0.02 < np.mean(e_vox < 0.05) < 0.25
