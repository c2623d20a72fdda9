"""Canonical voxel order: sorted by position, thresholded, indices back into the input."""

import numpy as np
import pytest

from michelreco import MichelFinder
from michelreco.errors import DuplicateVoxelsError, EventInputError
from michelreco.reco.canonical import canonical_voxels, slab_of_x


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


def test_a_voxel_listed_twice_is_refused_even_below_the_threshold():
    xyze = np.array([[5, 5, 5, 1.0], [5, 5, 6, 1.0], [9, 9, 9, 1.0], [5, 5, 6, 0.01]], np.float32)
    canonical_voxels(xyze[:3], 0.13)
    with pytest.raises(DuplicateVoxelsError):
        canonical_voxels(xyze, 0.13)                    # the second copy lies below the threshold
    for validate in (True, False):                      # the finder names both listings
        with pytest.raises(EventInputError, match=r"^voxel 3 \(5, 5, 6\): listed twice \(also voxel 1\)$"):
            MichelFinder().find(xyze.astype(np.float64), validate=validate)


def test_the_slab_of_x_holds_every_voxel_within_reach_and_none_beyond_a_voxel_more():
    rng = np.random.default_rng(8)
    for _ in range(200):
        xyz = np.sort(rng.integers(0, 768, size=(int(rng.integers(0, 300)), 3)), axis=0).astype(np.float64)
        x0, reach = float(rng.integers(-5, 773) + rng.choice([0.0, 0.5])), float(rng.choice([0.0, 3.5, 40.0, 100.0]))
        lo, hi = slab_of_x(xyz, x0, reach)
        inside = np.zeros(len(xyz), bool)
        inside[lo:hi] = True
        assert np.all(inside[np.abs(xyz[:, 0] - x0) <= reach])            # nothing within reach is left out
        assert np.all(np.abs(xyz[inside, 0] - x0) <= reach + 1.0)         # and nothing farther than a voxel more
