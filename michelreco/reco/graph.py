"""The voxel neighbour graph of an event: connected components and neighbour lists from one neighbour search.

The challenge events hold a few thousand voxels on an integer grid (0..767 per axis, one voxel = 3 mm). A
neighbourhood of radius ``eps`` (voxel units) is then a fixed set of integer offsets, so neighbours are found
without a KD-tree. ``voxel_graph`` gives, in one compiled call, each voxel's connected component (the labels of
scikit-learn's ``DBSCAN(eps, min_samples=1)``) and its neighbour list (those of ``radius_neighbors_graph``, each
list ascending); ``voxel_graph_sklearn`` computes the same with scikit-learn and is the reference of the tests.
Distances are compared as ``d**2 <= eps**2`` in float64, as scikit-learn does.

Two searches give the same graph:

- voxels sorted by position (the finder's canonical order, ``canonical.canonical_voxels``): the voxels of one
  row (x, y) are contiguous and ordered by z, so the neighbours of a row lie in a few rows found by forward
  pointers, and within each in a z window that only moves forward (a merge, no hashing). The 26-neighbourhood
  (``eps`` in [sqrt(3), 2), the finder's default 1.8) has its five row offsets unrolled. Pairs come out in
  order, so the neighbour lists need no sort;
- any other order: a hash table of voxel keys, looked up at every half-space offset.

The hash kernels live in ``voxel_hash``; they also serve the general scikit-learn-exact DBSCAN in
``michelreco.bench.dbscan``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from michelreco.reco.voxel_hash import (DEFAULT_EPS_VOXELS, KEY_BITS, MAX_COORD, check_coords,
                                        check_eps_min_samples, find_root, grid_edges, half_offsets, number_cores,
                                        union_low, unique_voxels)

__all__ = ["DEFAULT_EPS_VOXELS", "MAX_COORD", "voxel_graph", "voxel_graph_sklearn"]


@njit(cache=True, nogil=True)
def _csr_layout(n, ea, eb):
    """CSR offsets of the symmetric lists of pairs (ea, eb), a fill pointer per voxel and the empty list array."""
    deg = np.zeros(n + 1, dtype=np.int64)
    for k in range(ea.shape[0]):
        deg[ea[k] + 1] += 1
        deg[eb[k] + 1] += 1
    for i in range(n):
        deg[i + 1] += deg[i]
    return deg, deg[:-1].copy(), np.empty(deg[n], dtype=np.int32)


@njit(cache=True, nogil=True)
def _csr_from_edges(n, ea, eb):
    """Symmetric CSR neighbour lists (indptr, indices) from unordered pairs, each list ascending."""
    deg, fill, nbrs = _csr_layout(n, ea, eb)
    for k in range(ea.shape[0]):
        a, b = ea[k], eb[k]
        nbrs[fill[a]] = b
        fill[a] += 1
        nbrs[fill[b]] = a
        fill[b] += 1
    # each list in ascending order (insertion sort: at most 26 entries at eps 1.8), so that searches over
    # the graph break ties the same way whatever found the pairs
    for i in range(n):
        for k in range(deg[i] + 1, deg[i + 1]):
            w = nbrs[k]
            j = k - 1
            while j >= deg[i] and nbrs[j] > w:
                nbrs[j + 1] = nbrs[j]
                j -= 1
            nbrs[j + 1] = w
    return deg, nbrs


def voxel_graph(coords: np.ndarray, eps: float = DEFAULT_EPS_VOXELS, *,
                validate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Connected components and neighbour lists of unique voxels, from one neighbour search.

    Voxels sorted by (x, y, z), like the finder's canonical voxels, are searched by merging rows (about twice
    as fast); others through a hash table. Both give the same arrays.

    Parameters
    ----------
    coords : array_like, shape (N, 3)
        Unique voxel indices.
    eps : float, optional
        Neighbour radius in voxel units (default 1.8: the 26-neighbourhood).
    validate : bool, optional
        Check ``coords`` and ``eps`` (default). ``False`` is for callers whose coordinates are already
        an int64 (N, 3) array of voxel indices, like the finder's canonical voxels: it saves ~20 us.

    Returns
    -------
    labels : ndarray of int64, shape (N,)
        Connected component of each voxel, as ``dbscan_voxels(coords, eps, 1)``.
    indptr : ndarray of int64, shape (N + 1,)
        Neighbours of voxel i are ``indices[indptr[i]:indptr[i + 1]]``.
    indices : ndarray of int32
        Concatenated neighbour lists.
    """
    if validate:
        eps, _ = check_eps_min_samples(eps, 1)
        xyz = check_coords(coords)
    else:
        xyz = coords
    n = xyz.shape[0]
    if n == 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64), np.empty(0, np.int32)
    row_off = _row_offsets(float(eps))
    labels, indptr, indices, n_unique = _sorted_graph_kernel(xyz, row_off, _touching(float(eps)))
    if n_unique < 0:
        offsets, key_offsets, reach = half_offsets(float(eps))
        labels, indptr, indices, n_unique = _graph_kernel(xyz, offsets, key_offsets, reach)
    if n_unique != n:
        raise ValueError("voxel_graph needs unique voxels (the challenge files have no duplicates)")
    return labels, indptr, indices


def voxel_graph_sklearn(coords: np.ndarray, eps: float = DEFAULT_EPS_VOXELS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``voxel_graph`` computed with scikit-learn (DBSCAN and a radius-neighbours graph): the reference."""
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import radius_neighbors_graph

    xyz = np.asarray(coords, dtype=np.float64)
    if len(xyz) == 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64), np.empty(0, np.int32)
    labels = DBSCAN(eps=eps, min_samples=1).fit_predict(xyz).astype(np.int64)
    graph = radius_neighbors_graph(xyz, eps, mode="connectivity", include_self=False)
    graph.sort_indices()                      # ascending lists, as voxel_graph gives them
    return labels, graph.indptr.astype(np.int64), graph.indices.astype(np.int32)


@njit(cache=True, nogil=True)
def _graph_kernel(xyz, offsets, key_offsets, reach):
    """voxel_graph in one compiled call: hash, neighbour pairs, components, CSR lists."""
    uxyz, _, _, tkeys, tvals, shift = unique_voxels(xyz)
    nu = uxyz.shape[0]
    if nu != xyz.shape[0]:
        return np.empty(0, np.int64), np.zeros(1, np.int64), np.empty(0, np.int32), nu
    ea, eb = grid_edges(uxyz, tkeys, tvals, shift, offsets, key_offsets, reach)
    parent = np.arange(nu)
    for e in range(ea.shape[0]):
        union_low(parent, ea[e], eb[e])
    labels = number_cores(np.ones(nu, np.bool_), parent)
    indptr, indices = _csr_from_edges(nu, ea, eb)
    return labels, indptr, indices, nu


# --------------------------------------------------------------------------------------
# sorted voxels: neighbours by merging rows instead of hashing
# --------------------------------------------------------------------------------------
_ROW_BITS = KEY_BITS + 1   # a row key x * 2**_ROW_BITS + y: y + dy (>= -MAX_COORD) never aliases another row


@njit(cache=True, nogil=True)
def _sorted_rows(xyz):
    """Rows (x, y) of voxels sorted by (x, y, z): (row start indices + end, row keys, z of every voxel,
    number of rows), or a number of rows of -1 when the voxels are not strictly increasing."""
    n = xyz.shape[0]
    start = np.empty(n + 1, np.int64)
    rkey = np.empty(n, np.int64)
    z = np.empty(n, np.int64)
    nr = 0
    prev = -1
    for i in range(n):
        key = (xyz[i, 0] << _ROW_BITS) + xyz[i, 1]
        z[i] = xyz[i, 2]
        if key != prev:
            if key < prev:
                return start, rkey, z, -1
            start[nr] = i
            rkey[nr] = key
            nr += 1
            prev = key
        elif z[i] <= z[i - 1]:
            return start, rkey, z, -1
    start[nr] = n
    return start, rkey, z, nr


@njit(cache=True, nogil=True)
def _row_edges(z, start, rkey, nr, row_off):
    """Neighbour pairs (a, b), a < b, of voxels sorted by (x, y, z), by merging rows.

    ``row_off`` holds (row key offset, dz_lo, dz_hi) for the half-space row offsets, ascending: the neighbours
    of a voxel lie in the row of key + offset at z + dz_lo .. z + dz_hi. Rows are contiguous in the sorted
    order and row keys increase with the row, so every row offset and every z window is a pointer that only
    moves forward. Pairs come out by a ascending, each a's b ascending.
    """
    n = z.shape[0]
    no = row_off.shape[0]
    cap = 0
    for o in range(no):
        cap += row_off[o, 2] - row_off[o, 1] + 1
    ea = np.empty(n * cap, np.int32)
    eb = np.empty(n * cap, np.int32)
    ne = 0
    rptr = np.zeros(no, np.int64)     # first row whose key is not below the target of each offset
    tlo = np.empty(no, np.int64)      # the target row's first voxel not below the window (moves forward)
    thi = np.empty(no, np.int64)      # the target row's end; tlo == thi: no target row
    for r in range(nr):
        key = rkey[r]
        for o in range(no):
            target = key + row_off[o, 0]
            q = rptr[o]
            while q < nr and rkey[q] < target:
                q += 1
            rptr[o] = q
            if q < nr and rkey[q] == target:
                tlo[o] = start[q]
                thi[o] = start[q + 1]
            else:
                tlo[o] = 0
                thi[o] = 0
        for a in range(start[r], start[r + 1]):
            za = z[a]
            for o in range(no):
                j = tlo[o]
                end = thi[o]
                if j == end:
                    continue
                lo = za + row_off[o, 1]
                while j < end and z[j] < lo:
                    j += 1
                tlo[o] = j
                hi = za + row_off[o, 2]
                while j < end and z[j] <= hi:
                    ea[ne] = a
                    eb[ne] = j
                    ne += 1
                    j += 1
    return ea[:ne], eb[:ne]


@njit(cache=True, nogil=True, inline="always")
def _emit_window(z, j, end, lo, hi, a, ea, eb, ne):
    """Pairs (a, b) for the voxels b of one row slice [j, end) with lo <= z[b] <= hi; returns the first voxel
    of the slice not below lo (where the next, higher, voxel's window starts) and the new pair count."""
    while j < end and z[j] < lo:
        j += 1
    k = j
    while k < end and z[k] <= hi:
        ea[ne] = a
        eb[ne] = k
        ne += 1
        k += 1
    return j, ne


@njit(cache=True, nogil=True)
def _row_edges26(z, start, rkey, nr):
    """``_row_edges`` for the 26-neighbourhood (eps in [sqrt(3), 2)), its five row offsets unrolled.

    The rows (x, y + 1) and (x + 1, y - 1 .. y + 1) of a row (x, y), when present, are the next row and three
    consecutive rows further on: one forward pointer finds them all.
    """
    n = z.shape[0]
    ea = np.empty(n * 13, np.int32)
    eb = np.empty(n * 13, np.int32)
    ne = 0
    q = 0
    step = np.int64(1) << _ROW_BITS
    for r in range(nr):
        key = rkey[r]
        r0 = start[r]
        r1 = start[r + 1]
        # (x, y + 1): the next row, if it is that one
        j1, e1 = 0, 0
        if r + 1 < nr and rkey[r + 1] == key + 1:
            j1, e1 = start[r + 1], start[r + 2]
        # (x + 1, y - 1), (x + 1, y), (x + 1, y + 1)
        target = key + step - 1
        while q < nr and rkey[q] < target:
            q += 1
        j2, e2, j3, e3, j4, e4 = 0, 0, 0, 0, 0, 0
        t = q
        if t < nr and rkey[t] == target:
            j2, e2 = start[t], start[t + 1]
            t += 1
        if t < nr and rkey[t] == target + 1:
            j3, e3 = start[t], start[t + 1]
            t += 1
        if t < nr and rkey[t] == target + 2:
            j4, e4 = start[t], start[t + 1]
        for a in range(r0, r1):
            za = z[a]
            if a + 1 < r1 and z[a + 1] == za + 1:          # (x, y, z + 1)
                ea[ne] = a
                eb[ne] = a + 1
                ne += 1
            if j1 < e1:
                j1, ne = _emit_window(z, j1, e1, za - 1, za + 1, a, ea, eb, ne)
            if j2 < e2:
                j2, ne = _emit_window(z, j2, e2, za - 1, za + 1, a, ea, eb, ne)
            if j3 < e3:
                j3, ne = _emit_window(z, j3, e3, za - 1, za + 1, a, ea, eb, ne)
            if j4 < e4:
                j4, ne = _emit_window(z, j4, e4, za - 1, za + 1, a, ea, eb, ne)
    return ea[:ne], eb[:ne]


@njit(cache=True, nogil=True)
def _components_and_csr(n, ea, eb):
    """Connected components (numbered in order of their lowest voxel) and symmetric CSR lists from pairs a < b
    given by a ascending, each a's b ascending: every list comes out ascending (a voxel's lower neighbours,
    found earlier, then its higher ones) with no sort."""
    deg, fill, nbrs = _csr_layout(n, ea, eb)
    # union-find in which the lower root always wins, so a voxel's parent is below it and a root is its
    # set's lowest voxel; the pairs of one voxel a come together, so a's root is found once for all of them
    parent = np.arange(n)
    prev = -1
    ra = -1
    for k in range(ea.shape[0]):
        a, b = ea[k], eb[k]
        nbrs[fill[a]] = b
        fill[a] += 1
        nbrs[fill[b]] = a
        fill[b] += 1
        if a != prev:
            ra = find_root(parent, a)
            prev = a
        rb = find_root(parent, b)
        if rb > ra:
            parent[rb] = ra
        elif rb < ra:
            parent[ra] = rb
            ra = rb
    # components numbered in order of their lowest voxel: a voxel's parent lies below it, in its component,
    # and was labelled first
    labels = np.empty(n, dtype=np.int64)
    nlab = 0
    for u in range(n):
        if parent[u] == u:
            labels[u] = nlab
            nlab += 1
        else:
            labels[u] = labels[parent[u]]
    return labels, deg, nbrs


@njit(cache=True, nogil=True)
def _sorted_graph_kernel(xyz, row_off, touching):
    """voxel_graph of voxels sorted by (x, y, z) by merging rows (``touching``: the 26-neighbourhood's unrolled
    kernel); nu -1 when they are not strictly sorted."""
    n = xyz.shape[0]
    start, rkey, z, nr = _sorted_rows(xyz)
    if nr < 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64), np.empty(0, np.int32), -1
    if touching:
        ea, eb = _row_edges26(z, start, rkey, nr)
    else:
        ea, eb = _row_edges(z, start, rkey, nr, row_off)
    labels, indptr, indices = _components_and_csr(n, ea, eb)
    return labels, indptr, indices, n


@lru_cache(maxsize=64)
def _row_offsets(eps: float) -> np.ndarray:
    """The half-space offsets of ``half_offsets`` grouped by row: (row key offset, dz_lo, dz_hi), ascending."""
    offsets, _, _ = half_offsets(eps)
    rows = {}
    for dx, dy, dz in offsets.tolist():
        rows.setdefault((dx, dy), []).append(dz)
    out = []
    for (dx, dy), dzs in sorted(rows.items()):
        lo, hi = min(dzs), max(dzs)
        assert len(dzs) == hi - lo + 1          # a z window is an interval (d**2 grows with |dz|)
        out.append(((dx << _ROW_BITS) + dy, lo, hi))
    arr = np.array(out, dtype=np.int64).reshape(-1, 3)
    arr.setflags(write=False)
    return arr


_TOUCHING = np.array([(0, 1, 1), ((0 << _ROW_BITS) + 1, -1, 1), ((1 << _ROW_BITS) - 1, -1, 1),
                      (1 << _ROW_BITS, -1, 1), ((1 << _ROW_BITS) + 1, -1, 1)], np.int64)


def _is_touching(row_off: np.ndarray) -> bool:
    """Whether the row offsets are the 26-neighbourhood's (eps in [sqrt(3), 2))."""
    return row_off.shape == _TOUCHING.shape and bool((row_off == _TOUCHING).all())


@lru_cache(maxsize=64)
def _touching(eps: float) -> bool:
    """``_is_touching`` of the row offsets of ``eps``, once per radius (the comparison costs 1.5 us an event)."""
    return _is_touching(_row_offsets(eps))
