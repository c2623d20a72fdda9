"""Track geometry and calorimetry: skeletons of voxel clusters, dE/ds profiles, Bragg peaks, PCA.

A cluster of touching voxels usually holds a stopping muon *and* its Michel electron, so the finder
splits clusters along their skeleton:

1. **Skeleton** (``cluster_skeleton``): the first chain approximates the cluster's longest path: a
   breadth-first sweep over the voxel graph from the voxel farthest from the centroid finds the voxel a
   farthest from it in hops, a second sweep the voxel b farthest from a, and the path b -> a is the chain
   (starting at a itself costs 0.007 in F1, ``docs/performance.md``). Then, repeatedly, the voxel farthest
   from the skeleton starts a new chain that runs back to it (a branch), until no voxel is more than
   ``min_branch_hops`` away. Every voxel is assigned to its nearest skeleton node. Chains are
   ordered voxel paths, so a curved track is followed where a single PCA axis is not.
2. **Profile** (``end_profile``): from a free end of a chain, inwards, the energy of the voxels
   assigned to each node and the path length s (mm) give dE/ds (MeV/cm) in a sliding window.
3. **Bragg peak** (``find_bragg_peak``): the maximum of the smoothed dE/ds within a given path
   length of the end, compared with the truncated-mean dE/ds of the track beyond it. A stopping
   muon has its peak where it stops; whatever lies between that peak and the free end (the part
   "after" the muon) is the Michel candidate.
4. **PCA** (``pca_axis``): principal axis, linearity (1 - λ2/λ1) and extent of a set of points.

All kernels are numba ``njit(cache=True, nogil=True)``, serial, and take voxels sorted by their
linear key so that ties are broken by position, never by the order of the input array.
Lengths are in voxel units inside the kernels and in mm at the interface (1 voxel = 3 mm).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from michelreco.constants import VOXEL_MM

__all__ = ["sym3_eigen", "sym3_eigen_scalars", "pca_axis", "cluster_skeleton", "chain_lengths", "end_order",
           "end_profile", "find_bragg_peak", "refine_peak", "truncated_mean", "window_mean", "voxel_distance_mm"]


@njit(cache=True, nogil=True)
def sym3_eigen_scalars(a00, a11, a22, a01, a02, a12):
    """``sym3_eigen`` on the six entries, in registers: (λ1, λ2, λ3, axis x, y, z); no array is allocated."""
    q = (a00 + a11 + a22) / 3.0
    p1 = a01 * a01 + a02 * a02 + a12 * a12
    p2 = (a00 - q) ** 2 + (a11 - q) ** 2 + (a22 - q) ** 2 + 2.0 * p1
    if p2 <= 1e-300:
        return q, q, q, 1.0, 0.0, 0.0
    p = np.sqrt(p2 / 6.0)
    b00, b11, b22 = (a00 - q) / p, (a11 - q) / p, (a22 - q) / p
    b01, b02, b12 = a01 / p, a02 / p, a12 / p
    r = 0.5 * (b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) + b02 * (b01 * b12 - b11 * b02))
    r = min(max(r, -1.0), 1.0)
    phi = np.arccos(r) / 3.0
    v0 = q + 2.0 * p * np.cos(phi)
    v2 = q + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)
    v1 = 3.0 * q - v0 - v2
    # the eigenvector of v0 is orthogonal to the rows of cov - v0 I: the longest of their cross products
    u0, u1, u2 = a00 - v0, a01, a02            # row 0
    w0, w1, w2 = a01, a11 - v0, a12            # row 1
    t0, t1, t2 = a02, a12, a22 - v0            # row 2
    x0, x1, x2 = 1.0, 0.0, 0.0
    best = 0.0
    for pair in range(3):
        if pair == 0:                          # rows 0 x 1
            c0, c1, c2 = u1 * w2 - u2 * w1, u2 * w0 - u0 * w2, u0 * w1 - u1 * w0
        elif pair == 1:                        # rows 0 x 2
            c0, c1, c2 = u1 * t2 - u2 * t1, u2 * t0 - u0 * t2, u0 * t1 - u1 * t0
        else:                                  # rows 1 x 2
            c0, c1, c2 = w1 * t2 - w2 * t1, w2 * t0 - w0 * t2, w0 * t1 - w1 * t0
        norm = c0 * c0 + c1 * c1 + c2 * c2
        if norm > best:
            best = norm
            sq = np.sqrt(norm)
            x0, x1, x2 = c0 / sq, c1 / sq, c2 / sq
    return v0, v1, v2, x0, x1, x2


@njit(cache=True, nogil=True)
def sym3_eigen(cov: np.ndarray):
    """Eigenvalues (descending) and the principal unit eigenvector of a symmetric 3x3 matrix.

    Closed form (trigonometric solution of the characteristic cubic): a LAPACK call costs microseconds,
    which adds up over thousands of candidates per second.
    """
    v0, v1, v2, x0, x1, x2 = sym3_eigen_scalars(cov[0, 0], cov[1, 1], cov[2, 2], cov[0, 1], cov[0, 2], cov[1, 2])
    vals = np.empty(3)
    axis = np.empty(3)
    vals[0], vals[1], vals[2] = v0, v1, v2
    axis[0], axis[1], axis[2] = x0, x1, x2
    return vals, axis


@njit(cache=True, nogil=True)
def pca_axis(points: np.ndarray, weights: np.ndarray | None = None):
    """Weighted principal axis of (n, 3) points: (centre, unit axis, linearity 1 - λ2/λ1, extent along axis).

    The extent is max - min of the projections, in the points' units. Fewer than two points give
    linearity 0 and extent 0. Without ``weights`` every point weighs 1: the same numbers as an array of ones
    (a product by 1.0 is exact), without the array.
    """
    n = points.shape[0]
    centre = np.zeros(3)
    axis = np.empty(3)
    axis[0], axis[1], axis[2] = 1.0, 0.0, 0.0
    if n < 2:
        if n == 1:
            centre[:] = points[0]
        return centre, axis, 0.0, 0.0
    wsum = 0.0
    m0 = 0.0
    m1 = 0.0
    m2 = 0.0
    for i in range(n):
        if weights is None:
            w = 1.0
        else:
            w = weights[i]
        wsum += w
        m0 += w * points[i, 0]
        m1 += w * points[i, 1]
        m2 += w * points[i, 2]
    if wsum <= 0:
        centre[0], centre[1], centre[2] = m0, m1, m2
        return centre, axis, 0.0, 0.0
    m0 /= wsum
    m1 /= wsum
    m2 /= wsum
    c00 = c01 = c02 = c11 = c12 = c22 = 0.0
    for i in range(n):
        if weights is None:
            w = 1.0
        else:
            w = weights[i]
        d0 = points[i, 0] - m0
        d1 = points[i, 1] - m1
        d2 = points[i, 2] - m2
        c00 += w * d0 * d0
        c01 += w * d0 * d1
        c02 += w * d0 * d2
        c11 += w * d1 * d1
        c12 += w * d1 * d2
        c22 += w * d2 * d2
    v0, v1, _, x0, x1, x2 = sym3_eigen_scalars(c00 / wsum, c11 / wsum, c22 / wsum, c01 / wsum, c02 / wsum,
                                                c12 / wsum)
    lin = 1.0 - v1 / v0 if v0 > 1e-12 else 0.0
    lo = 1e300
    hi = -1e300
    for i in range(n):
        p = 0.0
        p += (points[i, 0] - m0) * x0
        p += (points[i, 1] - m1) * x1
        p += (points[i, 2] - m2) * x2
        lo = min(lo, p)
        hi = max(hi, p)
    centre[0], centre[1], centre[2] = m0, m1, m2
    axis[0], axis[1], axis[2] = x0, x1, x2
    return centre, axis, lin, hi - lo


@njit(cache=True, nogil=True)
def truncated_mean(values: np.ndarray, lo_frac: float, hi_frac: float) -> float:
    """Mean of the values between the lo_frac and hi_frac quantiles (robust against Landau tails)."""
    n = values.shape[0]
    if n == 0:
        return 0.0
    # an insertion sort: the windows hold a few dozen values, for which it beats np.sort's quicksort; a NaN
    # (never in a dE/ds profile) is left to np.sort, which orders it last
    s = np.empty(n)
    for i in range(n):
        x = values[i]
        if x != x:
            s = np.sort(values)
            break
        j = i - 1
        while j >= 0 and s[j] > x:
            s[j + 1] = s[j]
            j -= 1
        s[j + 1] = x
    a = int(lo_frac * n)
    b = max(int(np.ceil(hi_frac * n)), a + 1)
    return s[a:b].mean()


@njit(cache=True, nogil=True)
def _farthest_in_queue(queue, tail, dist):
    """The voxel of largest distance, lowest index on ties: a breadth-first queue ends with those voxels."""
    far = queue[tail - 1]
    top = dist[far]
    k = tail - 1
    while k >= 0 and dist[queue[k]] == top:
        if queue[k] < far:
            far = queue[k]
        k -= 1
    return far


@njit(cache=True, nogil=True)
def _bfs(indptr, nbrs, sources, dist, pred, root, queue):
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
    return _farthest_in_queue(queue, tail, dist)


@njit(cache=True, nogil=True)
def _farthest_hops(indptr, nbrs, source, dist, pred, queue, with_pred):
    """``_bfs`` from one source without ``root`` (and without ``pred`` unless ``with_pred``): the farthest voxel.

    ``dist`` must hold -1 on the voxels to visit. Returns the voxel with the largest distance, lowest index on
    ties, as ``_bfs`` does; ``queue`` ends holding the voxels reached, in order of distance.
    """
    dist[source] = 0
    queue[0] = source
    if with_pred:
        pred[source] = -1
    head = 0
    tail = 1
    while head < tail:
        v = queue[head]
        head += 1
        dv1 = dist[v] + 1
        for k in range(indptr[v], indptr[v + 1]):
            w = nbrs[k]
            if dist[w] < 0:       # one source: the first visit is at the final distance
                dist[w] = dv1
                if with_pred:
                    pred[w] = v
                queue[tail] = w
                tail += 1
    return _farthest_in_queue(queue, tail, dist)


@njit(cache=True, nogil=True)
def _farthest_from_centroid(members, xyz):
    """The member farthest from the members' centroid (lowest index on ties)."""
    c0 = 0.0
    c1 = 0.0
    c2 = 0.0
    for v in members:
        c0 += xyz[v, 0]
        c1 += xyz[v, 1]
        c2 += xyz[v, 2]
    m = members.shape[0]
    c0 /= m
    c1 /= m
    c2 /= m
    best = members[0]
    best_d = -1.0
    for v in members:
        d = (xyz[v, 0] - c0) ** 2 + (xyz[v, 1] - c1) ** 2 + (xyz[v, 2] - c2) ** 2
        if d > best_d:
            best, best_d = v, d
    return best


@njit(cache=True, nogil=True)
def cluster_skeleton(members, xyz, indptr, nbrs, dist, pred, root, min_branch_hops, max_chains):
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
    # an extreme voxel a, the farthest in hops from the voxel farthest from the centroid (that voxel itself,
    # without this sweep, costs 0.007 in F1), then the voxel b farthest from a; the path b -> a. These two
    # sweeps write no ``root`` (and the first no ``pred``): the sweep from the first chain overwrites both on
    # every member
    a = _farthest_hops(indptr, nbrs, _farthest_from_centroid(members, xyz), dist, pred, queue, False)
    for v in members:
        dist[v] = -1
    b = _farthest_hops(indptr, nbrs, a, dist, pred, queue, True)
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
    far = _bfs(indptr, nbrs, chain_nodes[:n_nodes], dist, pred, root, queue)
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
        _bfs(indptr, nbrs, chain_nodes[start:n_nodes], dist, pred, root, queue)
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
    return chain_nodes[:n_nodes], chain_ptr[:n_chains + 1], chain_junction[:n_chains]


@njit(cache=True, nogil=True)
def voxel_distance_mm(xyz, u, v):
    """Distance (mm) between voxels u and v of ``xyz`` (voxel units), in scalar arithmetic (no array temporary)."""
    d = 0.0
    for a in range(3):
        d += (xyz[u, a] - xyz[v, a]) ** 2
    return np.sqrt(d) * VOXEL_MM


@njit(cache=True, nogil=True)
def chain_lengths(chain_nodes, chain_ptr, xyz):
    """Path length (mm) of every chain node from its chain's first node, along the chain."""
    cum = np.zeros(chain_nodes.shape[0])
    for c in range(chain_ptr.shape[0] - 1):
        for k in range(chain_ptr[c] + 1, chain_ptr[c + 1]):
            cum[k] = cum[k - 1] + voxel_distance_mm(xyz, chain_nodes[k], chain_nodes[k - 1])
    return cum


@njit(cache=True, nogil=True)
def end_order(chain_nodes, chain_ptr, chain_junction, node_slot, chain_cum, xyz, chain, reverse, max_nodes):
    """Skeleton nodes walked from a free end of ``chain`` inwards (at most ``max_nodes``), and its geometry.

    The first chain is walked from its first node (``reverse=False``) or its last (``True``). A branch
    is walked from its free end to its junction, then on along the chain holding the junction, in the
    direction with more nodes (the track the branch hangs from). ``node_slot[v]`` is the position of
    node v in ``chain_nodes``; ``chain_cum`` is ``chain_lengths``.

    Returns (the first nodes of the walk, the junction's index in the whole walk or -1, the path length
    (mm) of the junction's chain on the other side of the junction, the last node of the whole walk, the
    whole walk's path length in mm). Lengths come from ``chain_cum``, so a long walk costs no more
    than its first ``max_nodes`` nodes.
    """
    lo = chain_ptr[chain]
    hi = chain_ptr[chain + 1]
    own_len = chain_cum[hi - 1] - chain_cum[lo]
    last_own = chain_nodes[lo] if reverse else chain_nodes[hi - 1]
    n_own = hi - lo
    out = np.empty(min(max_nodes, chain_nodes.shape[0]), np.int64)
    n = 0
    for i in range(min(n_own, out.shape[0])):
        out[n] = chain_nodes[hi - 1 - i] if reverse else chain_nodes[lo + i]
        n += 1
    j = chain_junction[chain]
    if j < 0:
        return out[:n], -1, 0.0, last_own, own_len
    k = node_slot[j]
    c = np.searchsorted(chain_ptr, k, side="right") - 1
    p0 = chain_ptr[c]
    p1 = chain_ptr[c + 1]
    step = voxel_distance_mm(xyz, last_own, j)
    forward = (p1 - 1 - k) >= (k - p0)
    if forward:    # on along the chain: k, k+1, ..., p1-1; the other side is p0..k-1
        rest_len = chain_cum[p1 - 1] - chain_cum[k]
        other_len = chain_cum[k] - chain_cum[p0]
        last = chain_nodes[p1 - 1]
        for i in range(k, p1):
            if n == out.shape[0]:
                break
            out[n] = chain_nodes[i]
            n += 1
    else:          # back along the chain: k, k-1, ..., p0; the other side is k+1..p1-1
        rest_len = chain_cum[k] - chain_cum[p0]
        other_len = chain_cum[p1 - 1] - chain_cum[k]
        last = chain_nodes[p0]
        for i in range(k, p0 - 1, -1):
            if n == out.shape[0]:
                break
            out[n] = chain_nodes[i]
            n += 1
    return out[:n], n_own, other_len, last, own_len + step + rest_len


@njit(cache=True, nogil=True)
def end_profile(order, xyz, node_energy, window_nodes):
    """Path length s (mm) of each node from the end, and the smoothed dE/ds (MeV/cm) along ``order``.

    dE/ds at node k is the energy of the voxels assigned to nodes k-h..k+h over the path length they
    span plus one voxel (each node stands for one voxel of path), h = ``window_nodes`` // 2.
    """
    n = order.shape[0]
    s = np.zeros(n)
    for k in range(1, n):
        s[k] = s[k - 1] + voxel_distance_mm(xyz, order[k], order[k - 1])
    cum = np.zeros(n + 1)
    for k in range(n):
        cum[k + 1] = cum[k] + node_energy[order[k]]
    h = window_nodes // 2
    dedx = np.zeros(n)
    for k in range(n):
        a = max(k - h, 0)
        b = min(k + h, n - 1)
        length = s[b] - s[a] + VOXEL_MM   # each node stands for about one voxel of path
        dedx[k] = (cum[b + 1] - cum[a]) / length * 10.0
    return s, dedx


@njit(cache=True, nogil=True)
def window_mean(s, dedx, lo_mm, hi_mm):
    """Truncated mean (10-60% quantiles, against delta-ray bumps) of dE/ds over lo_mm <= s <= hi_mm; 0 if empty.

    ``s`` is non-decreasing (a path length), so the stretch is found by bisection.
    """
    a = np.searchsorted(s, lo_mm, side="left")
    b = np.searchsorted(s, hi_mm, side="right")
    if b <= a:
        return 0.0
    return truncated_mean(dedx[a:b], 0.1, 0.6)


@njit(cache=True, nogil=True)
def refine_peak(walk, node_energy, p, half_window):
    """The node of most energy within ``half_window`` nodes of a smoothed peak ``p`` (the last muon voxel).

    Smoothing over a window that straddles the stop pulls the maximum onto the muon side by up to half a
    window; the single node with most energy is where the muon stopped.
    """
    best = p
    for k in range(max(p - half_window, 0), min(p + half_window + 1, walk.shape[0])):
        if node_energy[walk[k]] > node_energy[walk[best]]:
            best = k
    return best


@njit(cache=True, nogil=True)
def find_bragg_peak(s, dedx, max_end_mm, gap_mm, baseline_mm):
    """Node of the dE/ds maximum within ``max_end_mm`` of the end, and the track's baseline beyond it.

    Returns (peak index, peak dE/ds, baseline dE/ds, track length beyond the peak in mm). The baseline is
    ``window_mean`` over [peak + gap, peak + gap + baseline] mm.
    """
    n = s.shape[0]
    best = 0
    for k in range(n):
        if s[k] > max_end_mm:
            break
        if dedx[k] > dedx[best]:
            best = k
    base = window_mean(s, dedx, s[best] + gap_mm, s[best] + gap_mm + baseline_mm)
    return best, dedx[best], base, s[n - 1] - s[best]
