"""michelreco.reco.graph: components and neighbour lists equal to brute force and to scikit-learn."""

import numpy as np
import pytest
from sklearn.cluster import DBSCAN

from michelreco.reco.graph import voxel_graph, voxel_graph_sklearn


def test_voxel_graph_components_and_neighbours_match_brute_force():
    rng = np.random.default_rng(11)
    for eps in (1.0, 1.8, 2.9):
        keys = rng.choice(12 ** 3, 300, replace=False)
        xyz = np.stack(np.unravel_index(keys, (12, 12, 12)), axis=1) + 50
        labels, indptr, nbrs = voxel_graph(xyz, eps)
        assert np.array_equal(labels, DBSCAN(eps=eps, min_samples=1).fit_predict(xyz))
        d2 = ((xyz[:, None, :] - xyz[None, :, :]) ** 2).sum(-1)
        for i in range(len(xyz)):
            expected = set(np.flatnonzero((d2[i] <= eps * eps) & (np.arange(len(xyz)) != i)))
            row = nbrs[indptr[i]:indptr[i + 1]]
            assert set(row.tolist()) == expected and np.all(np.diff(row) > 0)
    with pytest.raises(ValueError, match="unique voxels"):
        voxel_graph(np.array([[1, 1, 1], [1, 1, 1]]))


def test_sklearn_reference_graph_matches():
    rng = np.random.default_rng(12)
    keys = rng.choice(15 ** 3, 400, replace=False)
    xyz = np.stack(np.unravel_index(keys, (15, 15, 15)), axis=1)
    ours, ref = voxel_graph(xyz, 1.8), voxel_graph_sklearn(xyz, 1.8)
    assert np.array_equal(ours[0], ref[0]) and np.array_equal(ours[1], ref[1])
    assert np.array_equal(ours[2], ref[2])          # the same lists, in the same (ascending) order
