"""Speed changes keep the finder's output identical: every rewritten kernel against the code it replaced.

The references below are the kernels as they were before the speed work (the hashed neighbour search, the
array-temporary PCA and eigen-solver, the skeleton with three full breadth-first sweeps), compiled here without
a cache. The new kernels must give bit-identical arrays on the inputs the finder feeds them: every cluster of
a simulated sample, and random inputs. Identical kernels make an identical finder (found voxels and candidate
feature table), which ``michelreco bench`` measured on 2,000 events when each change was made.
"""

import math

import numpy as np
import pytest
from numba import njit

from michelreco.constants import VOXEL_MM
from michelreco.reco import graph as G
from michelreco.reco.canonical import canonical_voxels
from michelreco.reco.features import _largest_square_within, _within_mm, energy_near, shape_features
from michelreco.reco.schema import FEATURES
from michelreco.reco.graph import voxel_graph, voxel_graph_sklearn
from michelreco.reco.track import (_farthest_from_centroid, cluster_skeleton, pca_axis, sym3_eigen,
                                   sym3_eigen_scalars)


# ---------------------------------------------------------------------------------------------------------
# references: the kernels before the speed work
# ---------------------------------------------------------------------------------------------------------
@njit(nogil=True)
def ref_sym3_eigen(cov: np.ndarray):
    """Eigenvalues (descending) and the principal unit eigenvector of a symmetric 3x3 matrix.

    Closed form (trigonometric solution of the characteristic cubic): a LAPACK call costs microseconds,
    which adds up over thousands of candidates per second.
    """
    a00, a11, a22 = cov[0, 0], cov[1, 1], cov[2, 2]
    a01, a02, a12 = cov[0, 1], cov[0, 2], cov[1, 2]
    q = (a00 + a11 + a22) / 3.0
    p1 = a01 * a01 + a02 * a02 + a12 * a12
    p2 = (a00 - q) ** 2 + (a11 - q) ** 2 + (a22 - q) ** 2 + 2.0 * p1
    vals = np.full(3, q)
    axis = np.array([1.0, 0.0, 0.0])
    if p2 <= 1e-300:
        return vals, axis
    p = np.sqrt(p2 / 6.0)
    b00, b11, b22 = (a00 - q) / p, (a11 - q) / p, (a22 - q) / p
    b01, b02, b12 = a01 / p, a02 / p, a12 / p
    r = 0.5 * (b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) + b02 * (b01 * b12 - b11 * b02))
    r = min(max(r, -1.0), 1.0)
    phi = np.arccos(r) / 3.0
    vals[0] = q + 2.0 * p * np.cos(phi)
    vals[2] = q + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)
    vals[1] = 3.0 * q - vals[0] - vals[2]
    # the eigenvector of vals[0] is orthogonal to the rows of cov - vals[0] I: the longest cross product
    r0 = np.array([a00 - vals[0], a01, a02])
    r1 = np.array([a01, a11 - vals[0], a12])
    r2 = np.array([a02, a12, a22 - vals[0]])
    best = 0.0
    for u, w in ((r0, r1), (r0, r2), (r1, r2)):
        c = np.array([u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]])
        norm = (c * c).sum()
        if norm > best:
            best = norm
            axis = c / np.sqrt(norm)
    return vals, axis


@njit(nogil=True)
def ref_pca_axis(points: np.ndarray, weights: np.ndarray):
    """Weighted principal axis of (n, 3) points: (centre, unit axis, linearity 1 - λ2/λ1, extent along axis).

    The extent is max - min of the projections, in the points' units. Fewer than two points give
    linearity 0 and extent 0.
    """
    n = points.shape[0]
    centre = np.zeros(3)
    axis = np.array([1.0, 0.0, 0.0])
    if n < 2:
        if n == 1:
            centre[:] = points[0]
        return centre, axis, 0.0, 0.0
    wsum = 0.0
    for i in range(n):
        wsum += weights[i]
        for a in range(3):
            centre[a] += weights[i] * points[i, a]
    if wsum <= 0:
        return centre, axis, 0.0, 0.0
    centre /= wsum
    cov = np.zeros((3, 3))
    for i in range(n):
        for a in range(3):
            da = points[i, a] - centre[a]
            for b in range(a, 3):
                cov[a, b] += weights[i] * da * (points[i, b] - centre[b])
    for a in range(3):
        for b in range(a):
            cov[a, b] = cov[b, a]
    cov /= wsum
    vals, axis = ref_sym3_eigen(cov)
    lin = 1.0 - vals[1] / vals[0] if vals[0] > 1e-12 else 0.0
    lo = 1e300
    hi = -1e300
    for i in range(n):
        p = 0.0
        for a in range(3):
            p += (points[i, a] - centre[a]) * axis[a]
        lo = min(lo, p)
        hi = max(hi, p)
    return centre, axis, lin, hi - lo


@njit(nogil=True)
def ref_bfs(indptr, nbrs, sources, dist, pred, root, queue):
    """Breadth-first search from ``sources`` over their connected component; distances in hops.

    ``dist`` must hold -1 (or a larger value, for incremental updates) on voxels to visit; a voxel is
    relaxed only when the new distance is smaller. ``root`` receives the source each voxel hangs from.
    Returns the voxel with the largest distance reached, lowest index on ties.
    """
    head = 0
    tail = 0
    for s in sources:
        dist[s] = 0
        pred[s] = -1
        root[s] = s
        queue[tail] = s
        tail += 1
    while head < tail:
        v = queue[head]
        head += 1
        dv1 = dist[v] + 1
        rv = root[v]
        for k in range(indptr[v], indptr[v + 1]):
            w = nbrs[k]
            dw = dist[w]
            if dw < 0 or dw > dv1:
                dist[w] = dv1
                pred[w] = v
                root[w] = rv
                queue[tail] = w    # FIFO with unit steps: a voxel is reached first at its final distance,
                tail += 1          # so it is queued at most once per search
    # the queue ends with the voxels of the largest distance: the lowest index among them
    far = queue[tail - 1]
    top = dist[far]
    k = tail - 1
    while k >= 0 and dist[queue[k]] == top:
        if queue[k] < far:
            far = queue[k]
        k -= 1
    return far


@njit(nogil=True)
def ref_farthest_from_centroid(members, xyz):
    """The member farthest from the members' centroid (lowest index on ties)."""
    c = np.zeros(3)
    for v in members:
        c += xyz[v]
    c /= members.shape[0]
    best = members[0]
    best_d = -1.0
    for v in members:
        d = ((xyz[v] - c) ** 2).sum()
        if d > best_d:
            best, best_d = v, d
    return best


@njit(nogil=True)
def ref_cluster_skeleton(members, xyz, indptr, nbrs, dist, pred, root, min_branch_hops, max_chains):
    """Skeleton chains of one cluster and the nearest skeleton node of every member voxel.

    Parameters
    ----------
    members : int64 array
        Voxel indices of the cluster, ascending.
    xyz : float64 array (N, 3)
        Voxel coordinates of the event.
    indptr, nbrs : CSR neighbour lists of the event (``cluster.voxel_graph``); the members must be one
        connected component of that graph.
    dist, pred, root : work arrays over the event's voxels
        ``dist`` -1 on the members on entry, and again on return.
        ``root`` receives, for each member, its nearest skeleton node.
    min_branch_hops : int
        A branch is added while some voxel is at least this many hops from the skeleton.
    max_chains : int
        At most this many chains (the first is the diameter).

    Returns
    -------
    chain_nodes : int64 array
        Voxel indices of all chains, concatenated; chain c is ``chain_nodes[chain_ptr[c]:chain_ptr[c+1]]``,
        ordered from its free end (for the first chain: from one end to the other).
    chain_ptr : int64 array
    chain_junction : int64 array
        For each chain, the skeleton node its last node touches (-1 for the first chain).
    """
    queue = np.empty(members.shape[0], np.int64)
    src = np.empty(1, np.int64)
    # an extreme voxel a (the farthest from the centroid: one breadth-first sweep cheaper than a double
    # sweep, and as good on elongated clusters), then the voxel b farthest from a; the path b -> a
    src[0] = ref_farthest_from_centroid(members, xyz)
    a = ref_bfs(indptr, nbrs, src, dist, pred, root, queue)
    for v in members:
        dist[v] = -1
    src[0] = a
    b = ref_bfs(indptr, nbrs, src, dist, pred, root, queue)
    chain_nodes = np.empty(members.shape[0], np.int64)
    n_nodes = 0
    v = b
    while v != -1:
        chain_nodes[n_nodes] = v
        n_nodes += 1
        v = pred[v]
    chain_ptr = np.zeros(max_chains + 1, np.int64)
    chain_junction = np.full(max_chains, -1, np.int64)
    chain_ptr[1] = n_nodes
    n_chains = 1
    # distances to the skeleton, updated as chains are added
    for v in members:
        dist[v] = -1
    far = ref_bfs(indptr, nbrs, chain_nodes[:n_nodes], dist, pred, root, queue)
    # members by decreasing distance from the first chain; distances only shrink as chains are added,
    # so the farthest voxel is found by scanning this order until the old distance drops below the best
    by_dist = queue[:members.shape[0]][::-1].copy()
    old_dist = np.empty(by_dist.shape[0], np.int64)
    for k in range(by_dist.shape[0]):
        old_dist[k] = dist[by_dist[k]]
    while n_chains < max_chains and dist[far] >= min_branch_hops:
        start = n_nodes
        v = far
        while dist[v] > 0:
            chain_nodes[n_nodes] = v
            n_nodes += 1
            v = pred[v]
        chain_junction[n_chains] = v
        n_chains += 1
        chain_ptr[n_chains] = n_nodes
        ref_bfs(indptr, nbrs, chain_nodes[start:n_nodes], dist, pred, root, queue)
        best = -1
        for k in range(by_dist.shape[0]):
            if old_dist[k] < best:
                break
            w = by_dist[k]
            if dist[w] > best or (dist[w] == best and w < far):
                best = dist[w]
                far = w
    for v in members:
        dist[v] = -1
    return chain_nodes[:n_nodes].copy(), chain_ptr[:n_chains + 1].copy(), chain_junction[:n_chains].copy()


@njit(nogil=True)
def ref_energy_near(xyz, energy, labels, sizes, min_size, cluster, centre, radius_voxels):
    """Energy of the other large clusters' voxels within the radius, every voxel of the event scanned."""
    r2 = radius_voxels * radius_voxels
    total = 0.0
    for v in range(xyz.shape[0]):
        if labels[v] == cluster or sizes[labels[v]] < min_size:
            continue
        if (xyz[v, 0] - centre[0]) ** 2 + (xyz[v, 1] - centre[1]) ** 2 + (xyz[v, 2] - centre[2]) ** 2 <= r2:
            total += energy[v]
    return total


def _hashed_graph(xyz, eps):
    """The hash-table search (the only one before the row merge), as the finder called it."""
    offsets, key_offsets, reach = G.half_offsets(float(eps))
    labels, indptr, nbrs, n_unique = G._graph_kernel(np.ascontiguousarray(xyz, np.int64), offsets, key_offsets,
                                                     reach)
    assert n_unique == len(xyz)
    return labels, indptr, nbrs


def _same(a, b):
    """Arrays equal bit for bit, with the same dtype and shape."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def canonical_events(sim_sample):
    """The simulated sample's events in the finder's canonical order: (xyz int64, xyz float64, energy)."""
    _, events, _ = sim_sample
    out = []
    for xyze in events:
        _, xyz, xyz_f, energy = canonical_voxels(xyze, 0.0)
        out.append((xyz, xyz_f, energy))
    return out


# ---------------------------------------------------------------------------------------------------------
# neighbour graph: row merge == hash == scikit-learn
# ---------------------------------------------------------------------------------------------------------
def test_row_merge_graph_equals_the_hashed_one_on_simulated_events(canonical_events):
    assert sum(len(x) for x, _, _ in canonical_events) > 50_000
    for xyz, _, _ in canonical_events:
        for eps in (1.8, 1.0, 2.5):
            new = voxel_graph(xyz, eps, validate=False)
            assert all(_same(a, b) for a, b in zip(new, _hashed_graph(xyz, eps)))


@pytest.mark.parametrize("eps", [1.0, 1.5, math.sqrt(2), math.sqrt(3), 1.74, 1.8, 1.99, 2.0, 2.5, 3.3])
def test_row_merge_graph_equals_hash_and_sklearn_at_the_grid_edges(eps):
    rng = np.random.default_rng(int(eps * 1000))
    for corner in (0, 760):                 # rows at y = 0 (y - 1 is off the grid) and at the far faces
        keys = rng.choice(8 ** 3, 250, replace=False)
        xyz = np.stack(np.unravel_index(keys, (8, 8, 8)), axis=1).astype(np.int64) + corner
        xyz = xyz[np.lexsort(xyz.T[::-1])]
        new = voxel_graph(xyz, eps)
        assert all(_same(a, b) for a, b in zip(new, _hashed_graph(xyz, eps)))
        ref = voxel_graph_sklearn(xyz, eps)
        assert all(np.array_equal(a, b) for a, b in zip(new, ref))
        # the same voxels in another order take the hash path, and give the graph of that order
        perm = rng.permutation(len(xyz))
        shuffled = voxel_graph(xyz[perm], eps)
        assert all(_same(a, b) for a, b in zip(shuffled, _hashed_graph(xyz[perm], eps)))


def test_touching_kernel_is_used_exactly_for_the_26_neighbourhood():
    for eps, touching in ((1.0, False), (math.sqrt(3), False), (1.74, True), (1.8, True), (1.99, True),
                          (2.0, False)):
        assert G._is_touching(G._row_offsets(eps)) is touching
    # sqrt(3) squared rounds below 3: the corners are not neighbours there, as in scikit-learn
    xyz = np.array([[5, 5, 5], [6, 6, 6]])
    assert voxel_graph(xyz, math.sqrt(3))[0].tolist() == [0, 1]
    assert voxel_graph(xyz, 1.74)[0].tolist() == [0, 0]


def test_sorted_duplicates_are_refused_like_unsorted_ones():
    with pytest.raises(ValueError, match="unique voxels"):
        voxel_graph(np.array([[1, 1, 1], [1, 1, 1], [1, 1, 2]]))
    with pytest.raises(ValueError, match="unique voxels"):
        voxel_graph(np.array([[1, 1, 2], [1, 1, 1], [1, 1, 2]]))


# ---------------------------------------------------------------------------------------------------------
# track kernels
# ---------------------------------------------------------------------------------------------------------
def test_eigen_solver_and_pca_equal_the_array_versions_bit_for_bit():
    rng = np.random.default_rng(3)
    for k in range(2000):
        m = rng.normal(size=(3, 3)) * rng.uniform(0.01, 100)
        cov = m @ m.T
        if k % 5 == 0:
            cov = np.diag(rng.uniform(0, 5, 3))
        if k % 17 == 0:
            cov = np.zeros((3, 3))                       # the degenerate branch
        vals, axis = sym3_eigen(cov)
        ref_vals, ref_axis = ref_sym3_eigen(cov)
        assert _same(vals, ref_vals) and _same(axis, ref_axis)
        scal = sym3_eigen_scalars(cov[0, 0], cov[1, 1], cov[2, 2], cov[0, 1], cov[0, 2], cov[1, 2])
        assert _same(np.array(scal), np.concatenate([ref_vals, ref_axis]))
        n = int(rng.integers(0, 40))
        pts = rng.integers(0, 768, size=(n, 3)).astype(np.float64)
        if k % 3 == 0 and n:
            pts[:] = pts[0]                              # all at one point
        w = rng.uniform(0.0, 3.0, n) if k % 2 else np.ones(n)
        if k % 11 == 0:
            w[:] = 0.0                                   # no weight
        for a, b in zip(pca_axis(pts, w), ref_pca_axis(pts, w)):
            assert _same(a, b)
        for a, b in zip(pca_axis(pts), ref_pca_axis(pts, np.ones(n))):     # unweighted: as weights of one
            assert _same(a, b)


def test_skeletons_equal_the_three_sweep_version_on_every_cluster(canonical_events):
    clusters = 0
    for xyz, xyz_f, _ in canonical_events:
        labels, indptr, nbrs = voxel_graph(xyz, 1.8, validate=False)
        n = len(xyz)
        new_work = [np.full(n, -1, np.int64) for _ in range(3)]
        ref_work = [np.full(n, -1, np.int64) for _ in range(3)]
        for c in range(labels.max() + 1 if n else 0):
            members = np.flatnonzero(labels == c)
            if len(members) < 3:
                continue
            assert _farthest_from_centroid(members, xyz_f) == ref_farthest_from_centroid(members, xyz_f)
            for hops, chains in ((6, 12), (3, 40), (6, 1)):
                new = cluster_skeleton(members, xyz_f, indptr, nbrs, *new_work, hops, chains)
                ref = ref_cluster_skeleton(members, xyz_f, indptr, nbrs, *ref_work, hops, chains)
                assert all(_same(a, b) for a, b in zip(new, ref))
                # the work arrays too: dist restored, pred and root (the nearest skeleton node) identical
                assert all(_same(a, b) for a, b in zip(new_work, ref_work))
            clusters += 1
    assert clusters > 500


# ---------------------------------------------------------------------------------------------------------
# features
# ---------------------------------------------------------------------------------------------------------
def test_energy_near_over_the_slab_of_x_equals_the_whole_scan(canonical_events):
    rng = np.random.default_rng(5)
    checked = 0
    for xyz, xyz_f, energy in canonical_events:
        labels = voxel_graph(xyz, 1.8, validate=False)[0]
        sizes = np.bincount(labels)
        for _ in range(20):
            cluster = int(rng.integers(labels.max() + 1))
            # a voxel's own position as the centre, at whole and fractional radii: voxels exactly at the radius
            centre = xyz_f[rng.integers(len(xyz_f))] + (rng.uniform(-1, 1, 3) if checked % 2 else 0.0)
            radius = float(rng.choice([1.0, 5.0, 33.0, 100.0, 100.5, 2000.0]))
            args = (xyz_f, energy, labels, sizes, 8, cluster, centre, radius)
            assert _same(energy_near(*args), ref_energy_near(*args))
            checked += 1
    assert checked > 500


def test_the_squared_reach_accepts_exactly_the_squared_distances_the_test_in_mm_accepts():
    rng = np.random.default_rng(7)
    limits = [0.0, -1.0, 3.0, 29.999999999999996, 30.0, 30.000000000000004, 3.0 * math.sqrt(101), 1e300, np.inf]
    limits += list(rng.uniform(0.0, 400.0, 300)) + [3.0 * math.sqrt(k) for k in rng.integers(0, 20_000, 100)]
    d2 = np.arange(0.0, 20_000.0)
    for limit in limits:
        reach2 = _largest_square_within(limit)
        expected = np.sqrt(d2) * VOXEL_MM <= limit                     # the test in mm, as _direction_cos wrote it
        assert np.array_equal(d2 <= reach2, expected), limit
        assert all(_within_mm(x, limit) == e for x, e in zip(d2[:: 997], expected[:: 997]))


def test_extent_and_gap_from_the_extreme_squares_equal_the_largest_and_smallest_distances():
    rng = np.random.default_rng(11)
    for _ in range(300):
        xyz = rng.integers(0, 768, size=(int(rng.integers(1, 60)), 3)).astype(np.float64)
        ref = rng.integers(0, 768, size=3).astype(np.float64)
        f = np.zeros(len(FEATURES))
        shape_features(f, xyz, np.ones(len(xyz)), np.arange(len(xyz)), ref)
        d = np.array([np.sqrt(((p - ref) ** 2).sum()) * VOXEL_MM for p in xyz])   # each distance, as before
        assert _same(f[FEATURES.index("extent_mm")], d.max())
        assert _same(f[FEATURES.index("attach_gap_mm")], d.min())
