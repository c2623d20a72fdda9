"""Canonical voxel order: sorted by position, thresholded, indices back into the input."""

import numpy as np

from michelreco.reco.canonical import canonical_voxels


def test_sorted_by_position_with_indices_into_the_input():
    rng = np.random.default_rng(4)
    keys = rng.choice(768 ** 3, 2000, replace=False)
    xyz = np.stack(np.unravel_index(keys, (768, 768, 768)), axis=1)
    xyze = np.column_stack([xyz, rng.uniform(0.01, 2.0, len(xyz))]).astype(np.float32)
    index, xyz_i, xyz_f, energy = canonical_voxels(xyze, 0.13)
    kept = xyze[:, 3] > 0.13
    assert len(index) == kept.sum() and np.all(kept[index])
    lin = (xyz_i[:, 0] * 768 + xyz_i[:, 1]) * 768 + xyz_i[:, 2]
    assert np.all(np.diff(lin) > 0)                                # strictly increasing keys
    assert np.array_equal(xyz_i, xyze[index, :3].astype(np.int64)) and np.array_equal(xyz_f, xyz_i)
    assert np.array_equal(energy, xyze[index, 3].astype(np.float64))
    perm = rng.permutation(len(xyze))                              # the order of the input does not matter
    index2, xyz2, _, _ = canonical_voxels(xyze[perm], 0.13)
    assert np.array_equal(xyz2, xyz_i) and np.array_equal(perm[index2], index)
