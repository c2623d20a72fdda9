"""Track primitives: PCA, truncated mean, skeleton chains, dE/ds profiles, Bragg peaks."""

import numpy as np
import pytest

from michelreco.reco.graph import voxel_graph
from michelreco.reco.track import (chain_lengths, cluster_skeleton, end_order, end_profile, find_bragg_peak, pca_axis,
                              refine_peak,
                              truncated_mean)


def test_pca_of_a_line_and_of_a_blob():
    line = np.column_stack([np.arange(20.0), np.zeros(20), np.zeros(20)])
    _, axis, lin, extent = pca_axis(line, np.ones(20))
    assert abs(abs(axis[0]) - 1) < 1e-9 and lin == pytest.approx(1.0) and extent == pytest.approx(19.0)
    rng = np.random.default_rng(1)
    blob = rng.normal(size=(500, 3))
    _, _, lin, _ = pca_axis(blob, np.ones(500))
    assert lin < 0.3


def test_truncated_mean_is_the_mean_of_the_sorted_slice_bit_for_bit():
    rng = np.random.default_rng(8)
    for n in (1, 2, 3, 7, 40, 41, 300):
        for values in (rng.lognormal(size=n), rng.integers(0, 4, n).astype(float),        # tails, ties
                       np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))):        # NaNs sort last
            srt = np.sort(values)
            a = int(0.1 * n)
            b = max(int(np.ceil(0.6 * n)), a + 1)
            ref = 0.0
            for v in srt[a:b]:                          # in ascending order, as numba's mean adds them
                ref += v
            got = truncated_mean(values, 0.1, 0.6)
            assert got == ref / (b - a) or (np.isnan(got) and np.isnan(ref)), (n, values)


def test_truncated_mean_ignores_a_landau_tail():
    vals = np.array([2.0] * 9 + [50.0])
    assert truncated_mean(vals, 0.1, 0.6) == pytest.approx(2.0)
    assert truncated_mean(np.empty(0), 0.1, 0.6) == 0.0


def _skeleton(coords):
    xyz = np.asarray(coords, np.int64)
    order = np.lexsort(xyz.T[::-1])
    xyz = xyz[order]
    labels, indptr, nbrs = voxel_graph(xyz)
    n = len(xyz)
    work = (np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.full(n, -1, np.int64))
    members = np.flatnonzero(labels == 0)
    chains = cluster_skeleton(members, xyz.astype(float), indptr, nbrs, *work, 4, 8)
    return xyz, chains, work[2]


def test_skeleton_of_a_t_shape_has_a_main_chain_and_a_branch():
    stem = [(x, 10, 10) for x in range(30)]           # 30 voxels along x
    side = [(15, 10 + k, 10) for k in range(1, 11)]   # a 10-voxel branch from its middle
    xyz, (nodes, ptr, junction), root = _skeleton(stem + side)
    assert len(ptr) - 1 == 2
    main = nodes[ptr[0]:ptr[1]]
    ends = {tuple(xyz[main[0]]), tuple(xyz[main[-1]])}
    assert (0, 10, 10) in ends
    assert len(main) >= 30
    branch = nodes[ptr[1]:ptr[2]]
    assert abs(xyz[junction[1]][0] - 15) <= 1 and xyz[junction[1]][1] == 10 and len(branch) >= 5
    assert tuple(xyz[branch[0]]) == (15, 20, 10)          # a branch starts at its free end
    assert (root >= 0).all()                               # every voxel hangs from a skeleton node
    slot = np.zeros(len(xyz), np.int64)
    slot[nodes] = np.arange(len(nodes))
    cum = chain_lengths(nodes, ptr, xyz.astype(float))
    walk, j, other_mm, last, total_mm = end_order(nodes, ptr, junction, slot, cum, xyz.astype(float), 1, False, 1000)
    assert j == len(branch) and walk[j] == junction[1]     # the walk reaches the junction ...
    assert tuple(xyz[walk[-1]]) in {(0, 10, 10), (29, 10, 10)} and last == walk[-1]   # ... and a stem end
    steps = np.sqrt((np.diff(xyz[walk].astype(float), axis=0) ** 2).sum(axis=1)) * 3.0
    assert total_mm == pytest.approx(steps.sum())           # lengths from the chains' running sums
    assert other_mm <= total_mm - 3.0 * j + 1e-9            # it goes on along the longer side
    assert abs(xyz[junction[1]][0] - xyz[walk[-1]][0]) * 3.0 + other_mm == pytest.approx(29 * 3.0)
    short, j2, _, last2, total2 = end_order(nodes, ptr, junction, slot, cum, xyz.astype(float), 1, False, 4)
    assert len(short) == 4 and np.array_equal(short, walk[:4]) and last2 == last and total2 == total_mm


def test_profile_and_bragg_peak_of_a_stopping_track():
    n = 60
    xyz = np.column_stack([np.arange(n, dtype=float), np.full(n, 5.0), np.full(n, 5.0)])
    walk = np.arange(n)[::-1].copy()           # walk in from the end at x = 59
    energy = np.full(n, 0.6)                   # 0.6 MeV per 3 mm voxel: 2 MeV/cm
    energy[50:] = np.linspace(1.0, 3.0, 10)    # the Bragg rise toward x = 59
    energy[59] = 0.4                           # after the stop: an electron's first voxel
    s, dedx = end_profile(walk, xyz, energy, 1)
    assert s[-1] == pytest.approx(3.0 * (n - 1))
    assert dedx[30] == pytest.approx(2.0)          # 0.6 MeV per 3 mm
    _, dedx5 = end_profile(walk, xyz, energy, 5)
    assert dedx5[30] == pytest.approx(2.0)         # smoothing keeps a flat profile flat
    p, peak, base, beyond = find_bragg_peak(s, dedx, 60.0, 30.0, 90.0)
    assert 1 <= p <= 3 and peak > 2 * base
    assert beyond == pytest.approx(s[-1] - s[p])
    assert refine_peak(walk, energy, p, 2) == 1   # the voxel of most energy: x = 58


def test_closed_form_eigen_matches_lapack():
    from michelreco.reco.track import sym3_eigen

    rng = np.random.default_rng(2)
    for _ in range(300):
        m = rng.normal(size=(3, 3)) * rng.uniform(0.01, 100)
        cov = m @ m.T
        if rng.random() < 0.2:
            cov = np.diag(rng.uniform(0, 5, 3))      # diagonal, axis-aligned cases
        vals, axis = sym3_eigen(cov)
        ref_vals, ref_vecs = np.linalg.eigh(cov)
        np.testing.assert_allclose(vals, ref_vals[::-1], rtol=1e-6, atol=1e-9 * ref_vals.max())
        if ref_vals[2] - ref_vals[1] > 1e-6 * ref_vals[2]:
            assert abs(abs(axis @ ref_vecs[:, 2]) - 1) < 1e-6
