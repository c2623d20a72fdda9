"""Supera-style voxel labels on hand-built truth records (no transport)."""

import numpy as np
import pytest

from michelreco.sim.constants import DEPOSIT_THRESHOLD_MEV, VOXEL_MM
from michelreco.sim.labels import (
    LABEL_DELTA, LABEL_LOW_ENERGY, LABEL_MICHEL, LABEL_SHOWER, LABEL_TRACK, MICHEL_TRUTH_DTYPE,
    voxelize_and_label,
)
from michelreco.sim.record import PARTICLE_DTYPE, Process

MU, E, GAMMA, P, N = 13, 11, 22, 2212, 2112


class Event:
    """Builds a particle table and deposits; deposits are put at voxel centres unless told."""

    def __init__(self):
        self.parts = []
        self.deps = []

    def add(self, pdg, parent=-1, process=Process.PRIMARY, energy=10.0, end=(1000.0,) * 3):
        row = (len(self.parts), parent, pdg, int(process), energy, (0.0, 0.0, 0.0), end)
        self.parts.append(row)
        return len(self.parts) - 1

    def fill(self, pid, voxels, e=0.5):
        for v in voxels:
            self.deps.append([(v[0] + 0.5) * VOXEL_MM, (v[1] + 0.5) * VOXEL_MM,
                              (v[2] + 0.5) * VOXEL_MM, e, pid])

    def raw(self, pid, xyz_mm, e):
        self.deps.append([*xyz_mm, e, pid])

    def arrays(self):
        return np.array(self.parts, PARTICLE_DTYPE), np.array(self.deps, np.float64).reshape(-1, 5)

    def label(self, **kw):
        return voxelize_and_label(*self.arrays(), **kw)


def line(start, step, n):
    """n voxels from ``start`` in steps of ``step`` (a 3-vector of ints)."""
    return [tuple(int(s + k * d) for s, d in zip(start, step)) for k in range(n)]


def blob(origin, n):
    """n voxels in a compact, 26-connected row-major block starting at ``origin``."""
    out = []
    for k in range(n):
        out.append((origin[0] + k % 4, origin[1] + (k // 4) % 4, origin[2] + k // 16))
    return out


def lookup(res, voxels):
    """Labels and owners of the given voxels (each must exist)."""
    index = {tuple(c): i for i, c in enumerate(res.coords.tolist())}
    rows = [index[tuple(v)] for v in voxels]
    return res.label[rows], res.owner[rows]


def muon_with_michel(ev, michel_pdg=E, mu_pdg=MU, n_mu=50, n_michel=20):
    """A muon along +x ending in voxel (149, 100, 100); its Michel leaves along +y from there."""
    mu_end = ((149 + 0.5) * VOXEL_MM, 100.5 * VOXEL_MM, 100.5 * VOXEL_MM)
    mu = ev.add(mu_pdg, energy=200.0, end=mu_end)
    mu_vox = line((100, 100, 100), (1, 0, 0), n_mu)
    ev.fill(mu, mu_vox, 0.7)
    mich = ev.add(michel_pdg, parent=mu, process=Process.DECAY, energy=37.0)
    mich_vox = line((149, 100, 100), (0, 1, 0), n_michel)
    ev.fill(mich, mich_vox, 0.4)
    return mu, mich, mu_vox, mich_vox


def test_muon_track_and_michel_shared_voxel_goes_to_track():
    ev = Event()
    mu, mich, mu_vox, mich_vox = muon_with_michel(ev)
    res = ev.label()
    lab, own = lookup(res, mu_vox)
    assert np.all(lab == LABEL_TRACK) and np.all(own == mu)
    lab, own = lookup(res, mich_vox[1:])
    assert np.all(lab == LABEL_MICHEL) and np.all(own == mich)
    # the Bragg-peak voxel holds both: track wins, energies add
    (lab0,), (own0,) = lookup(res, mich_vox[:1])
    assert lab0 == LABEL_TRACK and own0 == mu
    i = [tuple(c) for c in res.coords.tolist()].index(mich_vox[0])
    assert res.energy[i] == pytest.approx(0.7 + 0.4, rel=1e-6)
    assert len(res) == len(mu_vox) + len(mich_vox) - 1
    assert res.coords.min() >= 0 and res.coords.max() <= 767
    m = res.michels
    assert m.dtype == MICHEL_TRUTH_DTYPE and m.shape == (1,)
    assert m["index"][0] == mich and m["energy_mev"][0] == 37.0
    assert m["n_label2"][0] == len(mich_vox) - 1 and m["n_core"][0] == len(mich_vox)
    assert m["n_subtree"][0] == len(mich_vox) and m["contained"][0]
    np.testing.assert_allclose(m["muon_end_vox"][0], [149.5, 100.5, 100.5])


def test_photon_pieces_are_judged_apart():
    """One brem photon scatters next to the Michel and again far away: only the touching piece is Michel."""
    ev = Event()
    mu, mich, _, mich_vox = muon_with_michel(ev)
    g = ev.add(GAMMA, parent=mich, process=Process.BREM, energy=5.0)
    near = blob((150, 110, 101), 4)          # touches the Michel line at (149, 110..111, 100)
    far_small = blob((300, 300, 300), 5)
    far_big = blob((400, 400, 400), 12)
    for piece in (near, far_small, far_big):
        ev.fill(g, piece, 0.2)
    res = ev.label()
    assert np.all(lookup(res, near)[0] == LABEL_MICHEL)
    assert np.all(lookup(res, far_small)[0] == LABEL_LOW_ENERGY)
    assert np.all(lookup(res, far_big)[0] == LABEL_SHOWER)
    m = res.michels[0]
    assert m["n_label2"] == len(mich_vox) - 1 + len(near)
    assert m["n_subtree"] == len(mich_vox) + len(near) + len(far_small) + len(far_big)
    assert m["core_energy_mev"] == pytest.approx(0.4 * len(mich_vox))            # the electron's own deposits
    assert m["subtree_energy_mev"] == pytest.approx(0.4 * len(mich_vox) + 0.2 * (4 + 5 + 12))   # and its photon's
    assert m["muon_pdg"] == ev.parts[mu][2]


@pytest.mark.parametrize("mu_pdg,e_pdg", [(-MU, -E), (MU, E)])
def test_michel_of_either_sign(mu_pdg, e_pdg):
    ev = Event()
    muon_with_michel(ev, michel_pdg=e_pdg, mu_pdg=mu_pdg)
    res = ev.label()
    assert res.michels.size == 1 and np.sum(res.label == LABEL_MICHEL) == 19


def test_electron_from_other_muon_processes_is_not_michel():
    ev = Event()
    mu = ev.add(MU, energy=300.0)
    ev.fill(mu, line((100, 100, 100), (1, 0, 0), 40))
    # a capture electron and a decay electron of a pion are not Michels
    pi = ev.add(211, energy=100.0)
    ev.fill(pi, line((100, 300, 100), (1, 0, 0), 40))
    e1 = ev.add(E, parent=mu, process=Process.CAPTURE, energy=20.0)
    ev.fill(e1, line((120, 101, 100), (0, 1, 0), 15))
    e2 = ev.add(E, parent=pi, process=Process.DECAY, energy=20.0)
    ev.fill(e2, line((120, 301, 100), (0, 1, 0), 15))
    res = ev.label()
    assert res.michels.size == 0
    assert not np.any(res.label == LABEL_MICHEL)


def test_brem_photon_touching_michel_is_michel_detached_by_size():
    ev = Event()
    mu, mich, mu_vox, mich_vox = muon_with_michel(ev)
    # touching: diagonal neighbour of the Michel's last voxel (149, 119, 100)
    g_touch = ev.add(GAMMA, parent=mich, process=Process.BREM, energy=3.0)
    c_touch = ev.add(E, parent=g_touch, process=Process.COMPT, energy=2.0)
    touch_vox = line((150, 120, 101), (1, 0, 0), 3)
    ev.fill(c_touch, touch_vox, 0.3)
    # transitively touching: touches the first group only (Chebyshev >= 4 from every Michel
    # voxel); 12 voxels, so it would be shower if it did not join
    g_chain = ev.add(GAMMA, parent=mich, process=Process.BREM, energy=1.0)
    chain_vox = blob((153, 121, 101), 12)
    ev.fill(g_chain, chain_vox, 0.3)
    # detached: a 2-voxel gap from everything
    g_small = ev.add(GAMMA, parent=mich, process=Process.BREM, energy=1.0)
    small_vox = blob((152, 104, 100), 5)
    ev.fill(g_small, small_vox, 0.2)
    g_big = ev.add(GAMMA, parent=mich, process=Process.BREM, energy=8.0)
    c_big = ev.add(E, parent=g_big, process=Process.CONV, energy=4.0)
    big_vox = blob((200, 200, 200), 12)
    ev.fill(c_big, big_vox, 0.3)
    res = ev.label()

    lab, own = lookup(res, touch_vox + chain_vox)
    assert np.all(lab == LABEL_MICHEL) and np.all(own == mich)
    lab, own = lookup(res, small_vox)
    assert np.all(lab == LABEL_LOW_ENERGY) and np.all(own == g_small)
    lab, own = lookup(res, big_vox)
    assert np.all(lab == LABEL_SHOWER) and np.all(own == g_big)

    m = res.michels[0]
    assert m["n_label2"] == len(mich_vox) - 1 + len(touch_vox) + len(chain_vox)
    assert m["n_core"] == len(mich_vox)
    parts = (mich_vox, touch_vox, chain_vox, small_vox, big_vox)
    assert m["n_subtree"] == sum(len(v) for v in parts)
    assert m["contained"]
    label2 = (res.label == LABEL_MICHEL) & (res.owner == mich)
    assert m["label2_energy_mev"] == pytest.approx(res.energy[label2].sum(), rel=1e-6)


@pytest.mark.parametrize("n,expected", [(9, LABEL_LOW_ENERGY), (10, LABEL_SHOWER)])
def test_detached_photon_size_boundary(n, expected):
    ev = Event()
    muon_with_michel(ev)
    g = ev.add(GAMMA, parent=1, process=Process.BREM, energy=5.0)
    vox = blob((300, 300, 300), n)
    ev.fill(g, vox)
    lab, _ = lookup(ev.label(), vox)
    assert np.all(lab == expected)


def test_detached_photons_of_any_parent_follow_the_size_rule():
    ev = Event()
    n = ev.add(N, energy=50.0)
    g1 = ev.add(GAMMA, parent=n, process=Process.CAPTURE, energy=6.0)     # capture photon
    ev.fill(g1, blob((300, 300, 300), 12))
    prim = ev.add(E, energy=500.0)                                         # primary shower
    core = line((400, 400, 400), (1, 0, 0), 30)
    ev.fill(prim, core)
    g2 = ev.add(GAMMA, parent=prim, process=Process.BREM, energy=1.0)     # detached brem, 4 voxels
    ev.fill(g2, blob((400, 410, 400), 4))
    g3 = ev.add(GAMMA, parent=prim, process=Process.BREM, energy=10.0)    # touching brem, 40 voxels
    ev.fill(g3, blob((429, 401, 400), 40))
    res = ev.label()
    assert np.all(lookup(res, blob((300, 300, 300), 12))[0] == LABEL_SHOWER)
    assert np.all(lookup(res, blob((400, 410, 400), 4))[0] == LABEL_LOW_ENERGY)
    lab, own = lookup(res, core + blob((429, 401, 400), 40))
    assert np.all(lab == LABEL_SHOWER) and np.all(own == prim)


@pytest.mark.parametrize("n,expected", [(2, LABEL_TRACK), (3, LABEL_DELTA), (4, LABEL_DELTA)])
def test_delta_ray_size_rule(n, expected):
    ev = Event()
    mu = ev.add(MU, energy=500.0)
    ev.fill(mu, line((100, 100, 100), (1, 0, 0), 60))
    d = ev.add(E, parent=mu, process=Process.IONI, energy=2.0)
    vox = line((130, 101, 100), (0, 1, 0), n)       # starts next to the track, none shared
    ev.fill(d, vox, 0.3)
    res = ev.label()
    lab, own = lookup(res, vox)
    assert np.all(lab == expected)
    assert np.all(own == (mu if expected == LABEL_TRACK else d))


def test_delta_of_michel_is_michel_and_delta_brem_is_photon_activity():
    ev = Event()
    mu, mich, _, _ = muon_with_michel(ev)
    dm = ev.add(E, parent=mich, process=Process.IONI, energy=1.0)   # Michel's own delta: core
    dm_vox = line((148, 110, 100), (-1, 0, 0), 4)
    ev.fill(dm, dm_vox)
    d = ev.add(E, parent=mu, process=Process.IONI, energy=5.0)      # muon delta, 5 voxels
    d_vox = line((120, 101, 100), (0, 1, 0), 5)
    ev.fill(d, d_vox)
    gd = ev.add(GAMMA, parent=d, process=Process.BREM, energy=2.0)  # detached brem of the delta
    gd_vox = blob((120, 150, 100), 6)
    ev.fill(gd, gd_vox)
    res = ev.label()
    assert np.all(lookup(res, dm_vox)[0] == LABEL_MICHEL)
    assert np.all(lookup(res, dm_vox)[1] == mich)
    assert np.all(lookup(res, d_vox)[0] == LABEL_DELTA)
    assert np.all(lookup(res, gd_vox)[0] == LABEL_LOW_ENERGY)
    assert res.michels[0]["n_core"] == 20 + 4


def test_capture_products():
    ev = Event()
    mu = ev.add(MU, energy=100.0)
    ev.fill(mu, line((100, 100, 100), (1, 0, 0), 30))
    p = ev.add(P, parent=mu, process=Process.CAPTURE, energy=30.0)
    p_vox = line((130, 100, 100), (0, 0, 1), 5)
    ev.fill(p, p_vox, 2.0)
    g = ev.add(GAMMA, parent=mu, process=Process.CAPTURE, energy=5.0)
    g_vox = blob((300, 100, 100), 15)
    ev.fill(g, g_vox)
    res = ev.label()
    assert np.all(lookup(res, p_vox)[0] == LABEL_TRACK) and np.all(lookup(res, p_vox)[1] == p)
    assert np.all(lookup(res, g_vox)[0] == LABEL_SHOWER)
    assert res.michels.size == 0


def test_priority_in_shared_voxels():
    ev = Event()
    mu, mich, _, mich_vox = muon_with_michel(ev)
    shower = ev.add(E, energy=100.0)
    ev.fill(shower, [mich_vox[5]] + line((149, 105, 101), (0, 0, 1), 20))   # shower > Michel
    d = ev.add(E, parent=mu, process=Process.IONI, energy=3.0)
    ev.fill(d, [mich_vox[10]] + line((148, 110, 99), (0, 0, -1), 5))         # Michel > delta
    n = ev.add(N, energy=10.0)
    g = ev.add(GAMMA, parent=n, process=Process.CAPTURE, energy=1.0)
    gv = line((20, 20, 20), (1, 0, 0), 3)
    ev.fill(g, gv)
    ev.fill(d, [(148, 115, 95)])                                              # delta > low energy
    ev.fill(g, [(148, 115, 95)], 2.0)
    res = ev.label()
    lab, own = lookup(res, [mich_vox[5], mich_vox[10], (148, 115, 95)])
    assert list(lab) == [LABEL_SHOWER, LABEL_MICHEL, LABEL_DELTA]
    assert list(own) == [shower, mich, d]


def test_low_energy_piece_touching_takes_the_priority_class():
    ev = Event()
    mu, mich, _, mich_vox = muon_with_michel(ev)
    n = ev.add(N, energy=20.0)
    # touches the muon track only
    g1 = ev.add(GAMMA, parent=n, process=Process.CAPTURE, energy=1.0)
    v1 = line((120, 101, 101), (0, 1, 0), 4)
    ev.fill(g1, v1, 0.1)
    # touches the Michel only
    g2 = ev.add(GAMMA, parent=n, process=Process.CAPTURE, energy=1.0)
    v2 = line((148, 112, 100), (-1, 0, 0), 4)
    ev.fill(g2, v2, 0.1)
    # bridges the muon (near x=140) and the Michel: track wins
    g3 = ev.add(GAMMA, parent=n, process=Process.CAPTURE, energy=1.0)
    v3 = line((140, 101, 100), (1, 1, 0), 1) + line((141, 102, 100), (1, 1, 0), 8)
    ev.fill(g3, v3, 0.1)
    # isolated
    g4 = ev.add(GAMMA, parent=n, process=Process.CAPTURE, energy=1.0)
    v4 = blob((500, 500, 500), 4)
    ev.fill(g4, v4, 0.1)
    res = ev.label()
    lab, own = lookup(res, v1)
    assert np.all(lab == LABEL_TRACK) and np.all(own == mu)
    lab, own = lookup(res, v2)
    assert np.all(lab == LABEL_MICHEL) and np.all(own == mich)
    assert np.all(lookup(res, v3)[0] == LABEL_TRACK)
    assert np.all(lookup(res, v4)[0] == LABEL_LOW_ENERGY)
    # absorbed pieces count as label-2 voxels of the Michel, not as its subtree
    assert res.michels[0]["n_label2"] == 19 + len(v2)
    assert res.michels[0]["n_subtree"] == 20


def test_dropped_deposits_and_energy_sums():
    ev = Event()
    p = ev.add(P, energy=50.0)
    edge = 768 * VOXEL_MM
    kept = [((1.0, 1.0, 1.0), 0.3), ((1.5, 2.0, 2.9), 0.2),                 # same voxel (0, 0, 0)
            ((edge - 1e-9, 10.0, 10.0), DEPOSIT_THRESHOLD_MEV),     # at threshold, last voxel
            ((0.0, 0.0, 30.0), 0.1)]
    dropped = [((-0.1, 5.0, 5.0), 1.0), ((edge, 5.0, 5.0), 1.0), ((5.0, edge + 3, 5.0), 1.0),
               ((5.0, 5.0, 5.0), 0.999 * DEPOSIT_THRESHOLD_MEV)]
    for xyz, e in kept + dropped:
        ev.raw(p, xyz, e)
    res = ev.label()
    assert sorted(map(tuple, res.coords.tolist())) == [(0, 0, 0), (0, 0, 10), (767, 3, 3)]
    by = {tuple(c): e for c, e in zip(res.coords.tolist(), res.energy)}
    assert by[(0, 0, 0)] == pytest.approx(0.5, rel=1e-6)
    assert by[(767, 3, 3)] == pytest.approx(DEPOSIT_THRESHOLD_MEV, rel=1e-6)
    assert res.energy.dtype == np.float32 and res.energy.sum() == pytest.approx(0.65, rel=1e-6)
    # a higher threshold drops more
    res2 = ev.label(deposit_threshold_mev=0.15)
    assert sorted(map(tuple, res2.coords.tolist())) == [(0, 0, 0)]
    assert res2.energy[0] == pytest.approx(0.5, rel=1e-6)   # the voxel sum keeps both kept parts


def test_energy_sums_over_particles_in_a_voxel():
    ev = Event()
    mu, mich, mu_vox, mich_vox = muon_with_michel(ev)
    parts, deps = ev.arrays()
    res = voxelize_and_label(parts, deps)
    assert res.energy.sum() == pytest.approx(deps[:, 3].sum(), rel=1e-6)


def _containment_event(escape=None):
    ev = Event()
    mu, mich, _, mich_vox = muon_with_michel(ev)
    g = ev.add(GAMMA, parent=mich, process=Process.BREM, energy=5.0, end=(1000.0, 1000.0, 1000.0))
    ev.fill(g, blob((300, 300, 300), 3))
    if escape == "photon_leaves_world":           # no deposit, ends outside the active volume
        ev.add(GAMMA, parent=mich, process=Process.BREM, energy=5.0, end=(-400.0, 1000.0, 1000.0))
    elif escape == "deposit_outside":
        ev.raw(g, (2400.0, 1000.0, 1000.0), 0.3)
    elif escape == "invisible_outside":           # below threshold outside: nothing visible lost
        ev.raw(g, (2400.0, 1000.0, 1000.0), 0.5 * DEPOSIT_THRESHOLD_MEV)
    elif escape == "muon_outside":                # the parent's own deposits do not matter
        ev.raw(mu, (-10.0, 300.0, 300.0), 1.0)
    elif escape == "electron_outside":            # the Michel electron itself leaves the volume
        ev.raw(mich, (2400.0, 300.0, 300.0), 0.5)
    return ev.label().michels[0]


@pytest.mark.parametrize("escape,contained,subtree_contained", [
    (None, True, True), ("photon_leaves_world", True, False), ("deposit_outside", True, False),
    ("invisible_outside", True, True), ("muon_outside", True, True), ("electron_outside", False, False)])
def test_michel_containment(escape, contained, subtree_contained):
    row = _containment_event(escape)
    assert row["contained"] == contained
    assert row["subtree_contained"] == subtree_contained
    assert row["n_subtree"] == 20 + 3


def _busy_event(seed):
    """Several muons with Michels, deltas, brems and capture photons at random places."""
    rng = np.random.default_rng(seed)
    ev = Event()
    for _ in range(6):
        start = rng.integers(50, 600, 3)
        step = rng.integers(-1, 2, 3)
        step[0] = 1
        mu = ev.add(MU, energy=300.0)
        mv = line(start, step, 80)
        for v in mv:                                    # several deposits per voxel
            ev.fill(mu, [v] * 3, rng.uniform(0.05, 0.4))
        mich = ev.add(E, parent=mu, process=Process.DECAY, energy=rng.uniform(10, 52))
        ev.fill(mich, line(mv[-1], rng.integers(-1, 2, 3), 25), 0.3)
        for _ in range(4):
            d = ev.add(E, parent=mu, process=Process.IONI, energy=1.0)
            ev.fill(d, line(mv[rng.integers(80)], rng.integers(-1, 2, 3), rng.integers(1, 6)), 0.2)
        for _ in range(5):
            g = ev.add(GAMMA, parent=mich, process=Process.BREM, energy=2.0)
            c = ev.add(E, parent=g, process=Process.COMPT, energy=1.0)
            o = np.asarray(mv[-1]) + rng.integers(-6, 7, 3)
            ev.fill(c, blob(o, rng.integers(1, 15)), rng.uniform(0.04, 0.3))
    return ev.arrays()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_result_independent_of_deposit_order(seed):
    parts, deps = _busy_event(seed)
    ref = voxelize_and_label(parts, deps)
    assert set(np.unique(ref.label)) >= {LABEL_TRACK, LABEL_MICHEL}
    rng = np.random.default_rng(100 + seed)
    for _ in range(3):
        res = voxelize_and_label(parts, deps[rng.permutation(len(deps))])
        for name in ("coords", "energy", "label", "owner"):
            np.testing.assert_array_equal(getattr(res, name), getattr(ref, name))
        np.testing.assert_array_equal(res.michels, ref.michels)


def test_busy_event_invariants():
    parts, deps = _busy_event(5)
    res = voxelize_and_label(parts, deps)
    keys = (res.coords[:, 0].astype(np.int64) * 768 + res.coords[:, 1]) * 768 + res.coords[:, 2]
    assert np.all(np.diff(keys) > 0)                                   # unique, sorted
    assert set(np.unique(res.label)) <= {0, 1, 2, 3, 4}
    # label 2 is owned by Michel electrons only, label 3 by ionization electrons of tracks
    assert np.all(np.isin(res.owner[res.label == LABEL_MICHEL], res.michels["index"]))
    d_own = res.owner[res.label == LABEL_DELTA]
    assert np.all(parts["process"][d_own] == Process.IONI)
    assert np.all(np.abs(parts["pdg"][parts["parent"][d_own]]) == MU)
    assert np.all(res.michels["n_core"] <= res.michels["n_subtree"])
    assert res.michels["n_label2"].sum() == np.sum(res.label == LABEL_MICHEL)
    # track voxels are owned by track particles
    tracks = np.abs(parts["pdg"][res.owner[res.label == LABEL_TRACK]])
    assert np.all(np.isin(tracks, [MU, P, 211, N]))


def test_bad_records_raise():
    ev = Event()
    mu, mich, _, _ = muon_with_michel(ev)
    parts, deps = ev.arrays()
    bad = deps.copy()
    bad[0, 4] = 7
    with pytest.raises(ValueError):
        voxelize_and_label(parts, bad)
    cyc = parts.copy()
    cyc["parent"][0] = 1
    with pytest.raises(ValueError, match="cycle"):
        voxelize_and_label(cyc, deps)
    with pytest.raises(ValueError):
        voxelize_and_label(parts, deps[:, :4])


def test_empty_event():
    res = voxelize_and_label(np.zeros(0, PARTICLE_DTYPE), np.zeros((0, 5)))
    assert len(res) == 0 and res.coords.shape == (0, 3) and res.michels.size == 0
