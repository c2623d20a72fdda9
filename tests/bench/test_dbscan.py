"""michelreco.bench.dbscan: labels identical to sklearn.cluster.DBSCAN, validation, estimator API."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from michelreco.reco.voxel_hash import check_coords
from michelreco.bench.dbscan import (
    DBSCANVoxels,
    MAX_COORD,
    _dbscan,
    connected_components_voxels,
    dbscan_voxels,
    hdbscan_voxels,
)

EPS_VALUES = [1.0, 1.5, float(np.sqrt(2)), float(np.sqrt(3)), 2.0, 2.83, 3.5]
MIN_SAMPLES = [1, 2, 3, 5, 10]
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _sklearn(xyz, eps, min_samples, algorithm="auto"):
    return DBSCAN(eps=eps, min_samples=min_samples, metric="euclidean",
                  algorithm=algorithm).fit_predict(np.asarray(xyz, dtype=np.float64))


@st.composite
def voxel_sets(draw, unique=True):
    """Random voxels in a box: small boxes give dense neighbourhoods, large ones sparse."""
    box = draw(st.sampled_from([2, 3, 4, 6, 8, 12, 40, 200]))
    n = draw(st.integers(0, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    xyz = rng.integers(0, box, size=(n, 3)) + draw(st.sampled_from([0, 0, 700]))
    if unique:
        _, first = np.unique(xyz, axis=0, return_index=True)
        xyz = xyz[np.sort(first)]  # keep the random order, drop repeats
    return xyz


@SETTINGS
@given(xyz=voxel_sets(), eps=st.sampled_from(EPS_VALUES), min_samples=st.sampled_from(MIN_SAMPLES))
def test_labels_equal_sklearn_unique_voxels(xyz, eps, min_samples):
    labels = dbscan_voxels(xyz, eps=eps, min_samples=min_samples)
    if len(xyz) == 0:
        assert labels.shape == (0,)
        return
    np.testing.assert_array_equal(labels, _sklearn(xyz, eps, min_samples))
    assert labels.dtype == np.int64


@SETTINGS
@given(xyz=voxel_sets(unique=False), eps=st.sampled_from(EPS_VALUES),
       min_samples=st.sampled_from(MIN_SAMPLES))
def test_labels_equal_sklearn_with_duplicate_voxels(xyz, eps, min_samples):
    # sklearn's kd_tree may take a whole node at distance exactly eps without the per-point
    # test when eps**2 rounds below an integer (sqrt(3)); with many duplicates that changes
    # its answer, so the reference is its exact per-point ("brute") algorithm
    if len(xyz) == 0:
        return
    labels = dbscan_voxels(xyz, eps=eps, min_samples=min_samples)
    np.testing.assert_array_equal(labels, _sklearn(xyz, eps, min_samples, "brute"))
    if eps != float(np.sqrt(3)):
        np.testing.assert_array_equal(labels, _sklearn(xyz, eps, min_samples))
    # copies of one voxel always share a label
    _, inv = np.unique(xyz, axis=0, return_inverse=True)
    for g in np.unique(inv):
        assert len(set(labels[inv.ravel() == g])) == 1


@settings(max_examples=25, deadline=None)
@given(xyz=voxel_sets(unique=False), eps=st.floats(0.5, 9.0),
       min_samples=st.integers(1, 40))
def test_all_pairs_path_equals_offset_path_and_sklearn(xyz, eps, min_samples):
    # the pairwise kernel takes over for large eps; both must give sklearn's labels
    if len(xyz) == 0:
        return
    ints = check_coords(xyz)
    grid, core_g = _dbscan(ints, eps, min_samples, method="grid")
    pairs, core_p = _dbscan(ints, eps, min_samples, method="pairs")
    np.testing.assert_array_equal(grid, pairs)
    np.testing.assert_array_equal(core_g, core_p)
    np.testing.assert_array_equal(grid, _sklearn(xyz, eps, min_samples, "brute"))


def test_large_eps_equals_sklearn():
    rng = np.random.default_rng(7)
    xyz = rng.integers(0, 60, size=(400, 3))
    xyz = xyz[np.sort(np.unique(xyz, axis=0, return_index=True)[1])]
    for eps, ms in [(7.0, 5), (20.0, 30), (100.0, 3)]:
        np.testing.assert_array_equal(dbscan_voxels(xyz, eps, ms), _sklearn(xyz, eps, ms))


def test_sqrt3_rounding_follows_sklearn():
    # np.sqrt(3)**2 < 3 in float64: the 8 corners of a cube are not all neighbours, so none
    # of them reaches 8 points; with 1.75 they are
    cube = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)])
    np.testing.assert_array_equal(dbscan_voxels(cube, np.sqrt(3), 8), _sklearn(cube, np.sqrt(3), 8))
    assert (dbscan_voxels(cube, np.sqrt(3), 8) == -1).all()
    assert (dbscan_voxels(cube, 1.75, 8) == 0).all()


def test_border_point_goes_to_first_expanded_cluster():
    # two groups of core voxels with one non-core voxel (index 0, 3 points within eps)
    # between them; the cluster of the lower-index core is expanded first and claims it,
    # whichever group is listed first
    left = [[0, 0, 0], [1, 0, 0], [2, 0, 0], [1, 1, 0]]
    right = [[6, 0, 0], [7, 0, 0], [8, 0, 0], [7, 1, 0]]
    border = [[4, 0, 0]]
    for first, xyz in ((right, border + right + left), (left, border + left + right)):
        xyz = np.array(xyz)
        labels = dbscan_voxels(xyz, eps=2.0, min_samples=4)
        np.testing.assert_array_equal(labels, _sklearn(xyz, 2.0, 4))
        assert sorted(set(labels)) == [0, 1]
        assert (labels[1:5] == 0).all() and (labels[5:] == 1).all()
        assert labels[0] == 0  # the border voxel joins the cluster expanded first


def test_edge_cases():
    assert dbscan_voxels(np.empty((0, 3))).shape == (0,)
    assert dbscan_voxels([[5, 5, 5]], min_samples=1).tolist() == [0]
    assert dbscan_voxels([[5, 5, 5]], min_samples=2).tolist() == [-1]
    far = np.arange(10)[:, None] * np.array([[10, 0, 0]])
    assert (dbscan_voxels(far, eps=3.5, min_samples=2) == -1).all()
    assert connected_components_voxels(far).tolist() == list(range(10))
    # coordinates at the ends of the key range
    corners = np.array([[0, 0, 0], [MAX_COORD, MAX_COORD, MAX_COORD], [1, 0, 0],
                        [MAX_COORD, MAX_COORD, MAX_COORD - 1], [0, MAX_COORD, 0]])
    assert dbscan_voxels(corners, eps=1.0).tolist() == [0, 1, 0, 1, 2]


def test_dtypes_give_same_labels():
    rng = np.random.default_rng(3)
    xyz = rng.integers(0, 10, size=(200, 3))
    ref = dbscan_voxels(xyz, 1.8, 3)
    for dt in (np.float32, np.float64, np.int32, np.uint16, np.uint64, np.float16, ">f2", ">f4", ">i8", ">u8"):
        np.testing.assert_array_equal(dbscan_voxels(xyz.astype(dt), 1.8, 3), ref)
    np.testing.assert_array_equal(dbscan_voxels(xyz.tolist(), 1.8, 3), ref)


@pytest.mark.parametrize("bad, match", [
    ([[0.5, 1, 2]], "not an integer"),
    ([[-1, 1, 2]], "negative"),
    ([[np.nan, 1, 2]], "not finite"),
    ([[np.inf, 1, 2]], "not finite"),
    ([[MAX_COORD + 1, 1, 2]], "above"),
    ([[1, 2]], r"shape \(N, 3\)"),
    ([1, 2, 3], r"shape \(N, 3\)"),
    ([["a", "b", "c"]], "dtype"),
])
def test_bad_coords_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        dbscan_voxels(np.array(bad))


@pytest.mark.parametrize("eps, ms", [(0, 1), (-1.0, 1), (np.inf, 1), (np.nan, 1), ("1", 1),
                                     (1.0, 0), (1.0, 1.5), (1.0, True)])
def test_bad_params_raise(eps, ms):
    with pytest.raises(ValueError):
        dbscan_voxels([[0, 0, 0]], eps=eps, min_samples=ms)


def test_estimator_api():
    est = DBSCANVoxels(eps=2.83, min_samples=5)
    assert est.get_params() == {"eps": 2.83, "min_samples": 5}
    assert est.set_params(min_samples=3) is est and est.min_samples == 3
    with pytest.raises(ValueError, match="invalid parameter"):
        est.set_params(radius=2)
    rng = np.random.default_rng(11)
    xyz = rng.integers(0, 8, size=(150, 3))
    ref = DBSCAN(eps=2.83, min_samples=3).fit(xyz.astype(float))
    np.testing.assert_array_equal(est.fit_predict(xyz), ref.labels_)
    np.testing.assert_array_equal(est.core_sample_indices_, ref.core_sample_indices_)
    # stored as given, validated at fit time
    est.set_params(eps=-1)
    assert est.eps == -1
    with pytest.raises(ValueError):
        est.fit(xyz)
    assert repr(DBSCANVoxels()) == "DBSCANVoxels(eps=1.8, min_samples=1)"


def test_hdbscan_separates_blobs_and_leaves_isolated_voxels_as_noise():
    rng = np.random.default_rng(5)
    blob_a = np.unique(rng.integers(10, 16, size=(150, 3)), axis=0)
    blob_b = np.unique(rng.integers(100, 106, size=(150, 3)), axis=0)
    lone = np.array([[300, 300, 300], [400, 10, 10], [10, 400, 10]])
    xyz = np.concatenate([blob_a, blob_b, lone])
    labels = hdbscan_voxels(xyz, min_cluster_size=10)
    la, lb = labels[:len(blob_a)], labels[len(blob_a):len(blob_a) + len(blob_b)]
    assert len(set(la)) == 1 and len(set(lb)) == 1 and la[0] != lb[0] and la[0] >= 0
    assert (labels[-3:] == -1).all()
    assert hdbscan_voxels(np.empty((0, 3))).shape == (0,)
    assert hdbscan_voxels([[1, 2, 3]]).tolist() == [-1]
    with pytest.raises(ValueError):
        hdbscan_voxels(xyz, min_cluster_size=1)
