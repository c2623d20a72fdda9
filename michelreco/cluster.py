"""Fast DBSCAN on integer voxel coordinates, with labels identical to scikit-learn's.

The challenge events hold a few thousand voxels on an integer grid (0..767 per axis, one
voxel = 3 mm). On such data a DBSCAN neighbourhood of radius ``eps`` (in voxel units) is a
fixed set of integer offsets, so neighbours are found with a hash table of voxel keys instead
of a KD-tree: for about 4,000 voxels this is one to two orders of magnitude faster than
``sklearn.cluster.DBSCAN`` and gives the same label array.

How the labels match scikit-learn
---------------------------------
``sklearn.cluster.DBSCAN(eps, min_samples, metric="euclidean")``:

- a point is *core* when at least ``min_samples`` points (itself and duplicates included)
  lie within distance ``eps`` of it; scikit-learn tests ``d**2 <= eps**2`` in float64, and
  so does this module (this matters when ``eps**2`` rounds just below an integer, e.g.
  ``eps = np.sqrt(3)``: the corner neighbours at ``d**2 = 3`` are then *not* neighbours);
- clusters are the connected components of core points; they are numbered 0, 1, ... in the
  order of each cluster's lowest-index core point, because scikit-learn starts a new
  cluster at the first unlabelled core point met while scanning the points in index order
  and expands it completely before going on;
- a non-core point within ``eps`` of core points of several clusters joins the cluster
  with the smallest number (the first one expanded); a point near no core point is
  noise, ``-1``.

The implementation reproduces these rules with a union-find over core-core edges (the
root of every component is kept at its lowest index) rather than copying scikit-learn's
depth-first search. Duplicate voxels are handled exactly like scikit-learn does: each copy
counts towards ``min_samples`` and all copies get the same label.

One caveat that is scikit-learn's, not ours: for ``eps`` whose square rounds below an
integer, scikit-learn's tree algorithms may include a whole tree node whose bounding box
lies at distance exactly ``eps`` without testing its points, so ``algorithm="kd_tree"``
and ``algorithm="brute"`` can disagree there on inputs with many duplicate voxels. This
module always follows the per-point test (``algorithm="brute"``). On unique voxels (the
challenge data) the two agree.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit

__all__ = [
    "DEFAULT_EPS_VOXELS",
    "DEFAULT_MIN_SAMPLES",
    "MAX_COORD",
    "dbscan_voxels",
    "connected_components_voxels",
    "hdbscan_voxels",
    "DBSCANVoxels",
    "voxel_graph",
    "voxel_graph_sklearn",
]

DEFAULT_EPS_VOXELS = 1.8
"""Default radius in voxel units: covers the 26-neighbourhood (squared distances 1, 2, 3)
and nothing beyond (the next squared distance, 4, is 2.0 voxels)."""

DEFAULT_MIN_SAMPLES = 1
"""Default core threshold: with 1 every voxel is core and DBSCAN is plain connected
components of the eps-graph (no noise)."""

_KEY_BITS = 21
MAX_COORD = (1 << _KEY_BITS) - 1
"""Largest coordinate accepted: three coordinates are packed into one 63-bit hash key."""

_EMPTY = -1  # marker of a free hash slot (keys are non-negative)
_FIB = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: multiplicative (Fibonacci) hashing
_FILTER_EXTRA_BITS = 4  # occupancy filter: 16 bits per hash slot, ~3% false positives


# --------------------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _to_int_coords(coords):
    """Copy (N, 3) numeric coordinates to int64, or report why they are not voxel indices.

    Returns (xyz, code, row): code 0 ok, 1 not finite, 2 not integer, 3 negative,
    4 above MAX_COORD; row is the first offending row.
    """
    n = coords.shape[0]
    out = np.empty((n, 3), dtype=np.int64)
    for i in range(n):
        for k in range(3):
            v = coords[i, k]
            f = np.float64(v)
            if not np.isfinite(f):
                return out, 1, i
            if f < 0:
                return out, 3, i
            if f > MAX_COORD:
                return out, 4, i
            iv = np.int64(f)
            if np.float64(iv) != f:
                return out, 2, i
            out[i, k] = iv
    return out, 0, -1


@njit(cache=True, nogil=True)
def _slot(key, shift):
    """Home slot of a key in a table of 2**(64 - shift) entries."""
    return np.int64((np.uint64(key) * np.uint64(_FIB)) >> np.uint64(shift))


@njit(cache=True, nogil=True)
def _unique_voxels(xyz):
    """Merge duplicate voxels and build the voxel hash table.

    Unique voxels are numbered in order of first appearance, so a unique voxel's number
    orders it like its lowest point index does.

    Returns
    -------
    uxyz : (U, 3) int64, the unique voxels.
    count : (U,) int64, copies of each.
    inverse : (N,) int64, unique number of every point.
    tkeys, tvals : the hash table (key -> unique number), linear probing.
    shift : int, hash shift for that table size.
    """
    n = xyz.shape[0]
    bits = 4
    while (1 << bits) < 2 * n:  # load factor <= 1/2; the filter spares most probes
        bits += 1
    size = 1 << bits
    mask = size - 1
    shift = 64 - bits
    tkeys = np.full(size, _EMPTY, dtype=np.int64)
    tvals = np.empty(size, dtype=np.int32)
    uxyz = np.empty((n, 3), dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    inverse = np.empty(n, dtype=np.int64)
    nu = 0
    for i in range(n):
        key = (xyz[i, 0] << (2 * _KEY_BITS)) | (xyz[i, 1] << _KEY_BITS) | xyz[i, 2]
        s = _slot(key, shift)
        while True:
            k = tkeys[s]
            if k == key:
                u = tvals[s]
                break
            if k == _EMPTY:
                u = nu
                tkeys[s] = key
                tvals[s] = u
                uxyz[u, 0] = xyz[i, 0]
                uxyz[u, 1] = xyz[i, 1]
                uxyz[u, 2] = xyz[i, 2]
                nu += 1
                break
            s = (s + 1) & mask
        count[u] += 1
        inverse[i] = u
    return uxyz[:nu], count[:nu], inverse, tkeys, tvals, shift


@njit(cache=True, nogil=True)
def _occupancy_bits(tkeys, shift):
    """Bit filter of the occupied voxels, 8 bits per hash slot (~16 kB for 4,000 voxels).

    Most neighbour look-ups miss; this small table stays in L1 cache and answers most
    misses without touching the hash table. A voxel sets the bit at the top
    (table bits + _FILTER_EXTRA_BITS) of its multiplicative hash.
    """
    nbits = 64 - shift + _FILTER_EXTRA_BITS
    words = np.zeros(max((1 << nbits) >> 6, 1), dtype=np.uint64)
    bshift = np.uint64(64 - nbits)
    for s in range(tkeys.shape[0]):
        k = tkeys[s]
        if k != _EMPTY:
            b = (np.uint64(k) * np.uint64(_FIB)) >> bshift
            words[b >> np.uint64(6)] |= np.uint64(1) << (b & np.uint64(63))
    return words


@njit(cache=True, nogil=True)
def _grid_edges(uxyz, tkeys, tvals, shift, half_offsets, key_offsets, reach):
    """Neighbour pairs (a, b), a != b, found by looking up every half-space offset.

    Each unordered pair is found once: from a voxel only the offsets that are
    lexicographically positive are looked up. ``key_offsets`` are the offsets packed like
    keys, valid for voxels at least ``reach`` from the edges of the key range.
    """
    nu = uxyz.shape[0]
    nk = half_offsets.shape[0]
    mask = tkeys.shape[0] - 1
    words = _occupancy_bits(tkeys, shift)
    bshift = np.uint64(shift - _FILTER_EXTRA_BITS)
    sshift = np.uint64(_FILTER_EXTRA_BITS)
    fib = np.uint64(_FIB)
    hi = MAX_COORD - reach
    # every voxel has at most one neighbour per half-space offset: no buffer growth in the hot loop
    ea = np.empty(nu * nk, dtype=np.int32)
    eb = np.empty(nu * nk, dtype=np.int32)
    ne = 0
    for a in range(nu):
        x = uxyz[a, 0]
        y = uxyz[a, 1]
        z = uxyz[a, 2]
        key0 = (x << (2 * _KEY_BITS)) | (y << _KEY_BITS) | z
        inside = reach <= x <= hi and reach <= y <= hi and reach <= z <= hi
        for j in range(nk):
            if inside:
                key = key0 + key_offsets[j]  # no coordinate leaves [0, MAX_COORD]
            else:
                # a neighbour outside [0, MAX_COORD] cannot exist, and would alias a key
                nx = x + half_offsets[j, 0]
                ny = y + half_offsets[j, 1]
                nz = z + half_offsets[j, 2]
                if nx < 0 or ny < 0 or nz < 0 or nx > MAX_COORD or ny > MAX_COORD \
                        or nz > MAX_COORD:
                    continue
                key = (nx << (2 * _KEY_BITS)) | (ny << _KEY_BITS) | nz
            b = (np.uint64(key) * fib) >> bshift
            if (words[b >> np.uint64(6)] >> (b & np.uint64(63))) & np.uint64(1) == 0:
                continue
            s = np.int64(b >> sshift)  # the filter bit refines the home slot
            while True:
                k = tkeys[s]
                if k == key:
                    ea[ne] = a
                    eb[ne] = tvals[s]
                    ne += 1
                    break
                if k == _EMPTY:
                    break
                s = (s + 1) & mask
    return ea[:ne], eb[:ne]


@njit(cache=True, nogil=True)
def _find(parent, a):
    """Root of a, with path halving."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@njit(cache=True, nogil=True)
def _union_low(parent, a, b):
    """Join the sets of a and b; the smaller root wins, so a root is its set's lowest index."""
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@njit(cache=True, nogil=True)
def _number_cores(core, parent):
    """Number the components of core voxels in order of their lowest member (-1 for the others)."""
    nu = core.shape[0]
    labels = np.full(nu, -1, dtype=np.int64)
    nlab = 0
    for u in range(nu):
        if core[u]:
            r = _find(parent, u)
            if r == u:
                labels[u] = nlab
                nlab += 1
            else:
                labels[u] = labels[r]  # r < u was labelled already
    return labels


@njit(cache=True, nogil=True)
def _labels_from_edges(count, ea, eb, min_samples):
    """scikit-learn's DBSCAN labels of unique voxels given their neighbour pairs.

    Returns (labels, is_core) per unique voxel.
    """
    nu = count.shape[0]
    ne = ea.shape[0]
    # neighbourhood sizes, counted in points (duplicates count), the voxel itself included
    nsize = count.copy()
    for e in range(ne):
        nsize[ea[e]] += count[eb[e]]
        nsize[eb[e]] += count[ea[e]]
    core = nsize >= min_samples
    # components of core voxels; the smaller root wins, so a root is its component's
    # lowest unique number, i.e. its lowest point index
    parent = np.arange(nu)
    for e in range(ne):
        a = ea[e]
        b = eb[e]
        if core[a] and core[b]:
            _union_low(parent, a, b)
    return _number_clusters(core, parent, ea, eb), core


@njit(cache=True, nogil=True)
def _number_clusters(core, parent, ea, eb):
    """Number core components in order of their lowest member; attach border voxels."""
    nu = core.shape[0]
    labels = _number_cores(core, parent)
    # a border voxel joins the lowest-numbered cluster touching it: sklearn expands
    # clusters one after the other, so the first one to reach it keeps it
    big = np.int64(1) << 62
    border = np.full(nu, big, dtype=np.int64)
    for e in range(ea.shape[0]):
        a = ea[e]
        b = eb[e]
        if core[a] and not core[b]:
            if labels[a] < border[b]:
                border[b] = labels[a]
        elif core[b] and not core[a]:
            if labels[b] < border[a]:
                border[a] = labels[b]
    for u in range(nu):
        if not core[u] and border[u] != big:
            labels[u] = border[u]
    return labels


@njit(cache=True, nogil=True)
def _labels_pairwise(uxyz, count, eps2, min_samples):
    """Same labels as _grid_edges + _labels_from_edges, by testing all pairs.

    Used when eps is so large that the offset list outgrows the point list; memory stays
    O(U) because pairs are recomputed instead of stored.
    """
    nu = uxyz.shape[0]
    nsize = count.copy()
    for a in range(nu):
        for b in range(a + 1, nu):
            dx = uxyz[a, 0] - uxyz[b, 0]
            dy = uxyz[a, 1] - uxyz[b, 1]
            dz = uxyz[a, 2] - uxyz[b, 2]
            if np.float64(dx * dx + dy * dy + dz * dz) <= eps2:
                nsize[a] += count[b]
                nsize[b] += count[a]
    core = nsize >= min_samples
    parent = np.arange(nu)
    big = np.int64(1) << 62
    border = np.full(nu, big, dtype=np.int64)
    for a in range(nu):
        if not core[a]:
            continue
        for b in range(a + 1, nu):
            if not core[b]:
                continue
            dx = uxyz[a, 0] - uxyz[b, 0]
            dy = uxyz[a, 1] - uxyz[b, 1]
            dz = uxyz[a, 2] - uxyz[b, 2]
            if np.float64(dx * dx + dy * dy + dz * dz) <= eps2:
                _union_low(parent, a, b)
    labels = _number_cores(core, parent)
    for a in range(nu):
        if core[a]:
            continue
        for b in range(nu):
            if not core[b] or labels[b] >= border[a]:
                continue
            dx = uxyz[a, 0] - uxyz[b, 0]
            dy = uxyz[a, 1] - uxyz[b, 1]
            dz = uxyz[a, 2] - uxyz[b, 2]
            if np.float64(dx * dx + dy * dy + dz * dz) <= eps2:
                border[a] = labels[b]
        if border[a] != big:
            labels[a] = border[a]
    return labels, core


# --------------------------------------------------------------------------------------
# Python layer
# --------------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _half_offsets(eps: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer offsets (dx, dy, dz) > (0, 0, 0) lexicographically with d**2 <= eps**2.

    The comparison is done in float64 on ``eps * eps``, as scikit-learn does. Returns the
    (K, 3) offsets, the same packed as key differences, and the largest |component|.
    """
    eps2 = eps * eps
    r = int(math.floor(eps)) + 1  # one beyond, the test below decides
    ax = np.arange(-r, r + 1, dtype=np.int64)
    dx, dy, dz = np.meshgrid(ax, ax, ax, indexing="ij")
    d2 = (dx * dx + dy * dy + dz * dz).astype(np.float64)
    positive = (dx > 0) | ((dx == 0) & (dy > 0)) | ((dx == 0) & (dy == 0) & (dz > 0))
    keep = (d2 <= eps2) & positive
    out = np.stack([dx[keep], dy[keep], dz[keep]], axis=1)
    packed = (out[:, 0] << (2 * _KEY_BITS)) + (out[:, 1] << _KEY_BITS) + out[:, 2]
    out.setflags(write=False)
    packed.setflags(write=False)
    reach = int(np.abs(out).max()) if len(out) else 0
    return out, packed, reach


def _check_params(eps: Any, min_samples: Any) -> tuple[float, int]:
    """Validate eps and min_samples as scikit-learn does (eps > 0, min_samples >= 1)."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise ValueError(f"eps must be a positive real number (voxel units), got {eps!r}")
    eps = float(eps)
    if not (math.isfinite(eps) and eps > 0.0):
        raise ValueError(f"eps must be a positive finite number (voxel units), got {eps!r}")
    if isinstance(min_samples, bool) or not isinstance(min_samples, numbers.Integral):
        raise ValueError(f"min_samples must be an integer >= 1, got {min_samples!r}")
    if min_samples < 1:
        raise ValueError(f"min_samples must be an integer >= 1, got {min_samples!r}")
    return eps, int(min_samples)


_COORD_ERRORS = {
    1: "is not finite",
    2: "is not an integer voxel index",
    3: "is negative (voxel indices start at 0)",
    4: f"is above {MAX_COORD}, the largest supported voxel index",
}


def _check_coords(coords: Any) -> np.ndarray:
    """Return coords as a C-contiguous (N, 3) int64 array, or raise ValueError."""
    c = np.asarray(coords)
    if c.ndim != 2 or c.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3) (voxel indices x, y, z), got {c.shape}")
    if c.dtype.kind not in "iuf":
        raise ValueError(f"coords must be integer or float voxel indices, got dtype {c.dtype}")
    if c.shape[0] == 0:
        return np.empty((0, 3), dtype=np.int64)
    if c.dtype.kind == "u" and c.dtype.itemsize == 8:
        # uint64 does not convert losslessly through the float check; bound it first
        if int(c.max()) > MAX_COORD:
            raise ValueError(f"coords contain a value above {MAX_COORD}")
        c = c.astype(np.int64)
    if c.dtype.kind == "f" and c.dtype.itemsize < 4:
        c = c.astype(np.float32)  # float16 is not supported by numba
    xyz, code, row = _to_int_coords(np.ascontiguousarray(c))
    if code:
        raise ValueError(f"coords row {row} = {c[row].tolist()} {_COORD_ERRORS[code]}")
    return xyz


def _dbscan(xyz: np.ndarray, eps: float, min_samples: int,
            method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Labels and core flags per point for validated int64 coordinates.

    method: "grid" (offset lookups in the hash table), "pairs" (all pairs), or "auto",
    which takes "pairs" only when the offset sphere holds more voxels than the event.
    """
    n = xyz.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    uxyz, count, inverse, tkeys, tvals, shift = _unique_voxels(xyz)
    if method == "auto":
        sphere = 4.0 / 3.0 * math.pi * eps ** 3
        method = "grid" if sphere <= max(uxyz.shape[0], 1000) else "pairs"
    if method == "grid":
        offsets, key_offsets, reach = _half_offsets(eps)
        ea, eb = _grid_edges(uxyz, tkeys, tvals, shift, offsets, key_offsets, reach)
        ulab, ucore = _labels_from_edges(count, ea, eb, min_samples)
    elif method == "pairs":
        ulab, ucore = _labels_pairwise(uxyz, count, eps * eps, min_samples)
    else:
        raise ValueError(f"unknown method {method!r}")
    return ulab[inverse], ucore[inverse]


def dbscan_voxels(coords: np.ndarray, eps: float = DEFAULT_EPS_VOXELS,
                  min_samples: int = DEFAULT_MIN_SAMPLES) -> np.ndarray:
    """DBSCAN of voxels, with exactly the labels of ``sklearn.cluster.DBSCAN``.

    Parameters
    ----------
    coords : array_like, shape (N, 3)
        Voxel indices x, y, z: non-negative integers up to ``MAX_COORD``, in an integer or
        float array (the challenge files store them as float32). Duplicate voxels are
        allowed and treated as scikit-learn treats them (each copy counts towards
        ``min_samples``; copies share a label).
    eps : float, optional
        Neighbourhood radius in voxel units; two voxels are neighbours when their squared
        distance is ``<= eps**2`` (float64). Default 1.8 voxels: the 26-neighbourhood.
        Useful values: 1 (faces, 6-neighbourhood), ``sqrt(2)`` rounded up, e.g. 1.5
        (faces and edges, 18), 1.8 (26), 2.83 (squared distance up to 8).
    min_samples : int, optional
        Points within ``eps`` (the point itself included) for a point to be core.
        Default 1: every voxel is core and the result is the connected components of the
        eps-graph, with no noise.

    Returns
    -------
    labels : ndarray of int64, shape (N,)
        Cluster of each voxel, numbered 0, 1, ... in the order of each cluster's first
        core voxel; -1 for noise. Identical to
        ``DBSCAN(eps=eps, min_samples=min_samples).fit_predict(coords)``.

    Raises
    ------
    ValueError
        If coords is not (N, 3), holds a non-finite, non-integer, negative or too large
        value, or if eps or min_samples is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> xyz = np.array([[0, 0, 0], [1, 1, 1], [5, 5, 5], [5, 5, 6], [9, 9, 9]])
    >>> dbscan_voxels(xyz, eps=1.8, min_samples=2)
    array([ 0,  0,  1,  1, -1])
    """
    eps, min_samples = _check_params(eps, min_samples)
    labels, _ = _dbscan(_check_coords(coords), eps, min_samples)
    return labels


def connected_components_voxels(coords: np.ndarray,
                                eps: float = DEFAULT_EPS_VOXELS) -> np.ndarray:
    """Connected components of voxels closer than ``eps`` (DBSCAN with min_samples=1).

    Parameters
    ----------
    coords : array_like, shape (N, 3)
        Voxel indices, as for :func:`dbscan_voxels`.
    eps : float, optional
        Linking radius in voxel units (squared distance ``<= eps**2``). Default 1.8
        voxels: voxels touching by a face, an edge or a corner are linked.

    Returns
    -------
    labels : ndarray of int64, shape (N,)
        Component of each voxel, numbered in order of each component's first voxel;
        never -1.
    """
    return dbscan_voxels(coords, eps=eps, min_samples=1)


def hdbscan_voxels(coords: np.ndarray, min_cluster_size: int = 5,
                   min_samples: int | None = None, **kwargs: Any) -> np.ndarray:
    """HDBSCAN clustering of voxels through the ``hdbscan`` package, for comparison.

    Parameters
    ----------
    coords : array_like, shape (N, 3)
        Voxel indices, validated as for :func:`dbscan_voxels`.
    min_cluster_size : int, optional
        Smallest cluster, in voxels. Default 5.
    min_samples : int or None, optional
        Neighbours (the point itself included) defining the core distance; None (the
        default) means ``min_cluster_size``, as in ``hdbscan``.
    **kwargs
        Passed to ``hdbscan.HDBSCAN`` (e.g. ``cluster_selection_epsilon`` in voxel units,
        ``cluster_selection_method``).

    Returns
    -------
    labels : ndarray of int64, shape (N,)
        ``hdbscan``'s labels (its own numbering), -1 for noise. Fewer than two voxels
        are all noise.
    """
    import hdbscan  # heavy import, only when asked for

    if isinstance(min_cluster_size, bool) or not isinstance(min_cluster_size, numbers.Integral) \
            or min_cluster_size < 2:
        raise ValueError(f"min_cluster_size must be an integer >= 2, got {min_cluster_size!r}")
    if min_samples is not None and (isinstance(min_samples, bool)
                                    or not isinstance(min_samples, numbers.Integral)
                                    or min_samples < 1):
        raise ValueError(f"min_samples must be None or an integer >= 1, got {min_samples!r}")
    xyz = _check_coords(coords)
    n = xyz.shape[0]
    if n < 2:
        # hdbscan's neighbour query fails on a single point; one voxel is never a cluster
        return np.full(n, -1, dtype=np.int64)
    model = hdbscan.HDBSCAN(min_cluster_size=int(min_cluster_size),
                            min_samples=None if min_samples is None else int(min_samples),
                            metric="euclidean", **kwargs)
    return np.asarray(model.fit_predict(xyz.astype(np.float64)), dtype=np.int64)


class DBSCANVoxels:
    """Scikit-learn style estimator around :func:`dbscan_voxels`.

    Parameters
    ----------
    eps : float, optional
        Neighbourhood radius in voxel units. Default 1.8 (the 26-neighbourhood).
    min_samples : int, optional
        Core threshold, the point itself included. Default 1.

    Attributes
    ----------
    labels_ : ndarray of int64, shape (N,)
        Labels of the last :meth:`fit`, as ``sklearn.cluster.DBSCAN.labels_``.
    core_sample_indices_ : ndarray of int64
        Indices of the core points of the last :meth:`fit`, increasing.

    Notes
    -----
    Parameters are stored as given and validated at fit time, as scikit-learn does.
    """

    _param_names = ("eps", "min_samples")

    def __init__(self, eps: float = DEFAULT_EPS_VOXELS,
                 min_samples: int = DEFAULT_MIN_SAMPLES) -> None:
        self.eps = eps
        self.min_samples = min_samples

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator.

        Parameters
        ----------
        deep : bool, optional
            Accepted for scikit-learn compatibility; there are no sub-estimators.

        Returns
        -------
        dict
            ``{"eps": ..., "min_samples": ...}``.
        """
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params: Any) -> "DBSCANVoxels":
        """Set parameters by name.

        Parameters
        ----------
        **params
            ``eps`` and/or ``min_samples``.

        Returns
        -------
        DBSCANVoxels
            self.

        Raises
        ------
        ValueError
            For an unknown parameter name.
        """
        for name, value in params.items():
            if name not in self._param_names:
                raise ValueError(f"invalid parameter {name!r} for DBSCANVoxels; "
                                 f"valid parameters: {', '.join(self._param_names)}")
            setattr(self, name, value)
        return self

    def fit(self, coords: np.ndarray, y: Any = None) -> "DBSCANVoxels":
        """Cluster the voxels.

        Parameters
        ----------
        coords : array_like, shape (N, 3)
            Voxel indices, as for :func:`dbscan_voxels`.
        y : ignored
            For scikit-learn API compatibility.

        Returns
        -------
        DBSCANVoxels
            self, with ``labels_`` and ``core_sample_indices_`` set.
        """
        eps, min_samples = _check_params(self.eps, self.min_samples)
        labels, core = _dbscan(_check_coords(coords), eps, min_samples)
        self.labels_ = labels
        self.core_sample_indices_ = np.flatnonzero(core).astype(np.int64)
        return self

    def fit_predict(self, coords: np.ndarray, y: Any = None) -> np.ndarray:
        """Cluster the voxels and return the labels.

        Parameters
        ----------
        coords : array_like, shape (N, 3)
            Voxel indices, as for :func:`dbscan_voxels`.
        y : ignored
            For scikit-learn API compatibility.

        Returns
        -------
        labels : ndarray of int64, shape (N,)
            As :func:`dbscan_voxels`.
        """
        return self.fit(coords).labels_

    def __repr__(self) -> str:
        return f"DBSCANVoxels(eps={self.eps!r}, min_samples={self.min_samples!r})"


@njit(cache=True, nogil=True)
def _csr_from_edges(n, ea, eb):
    """Symmetric CSR neighbour lists (indptr, indices) from unordered pairs, each list ascending."""
    deg = np.zeros(n + 1, dtype=np.int64)
    for k in range(ea.shape[0]):
        deg[ea[k] + 1] += 1
        deg[eb[k] + 1] += 1
    for i in range(n):
        deg[i + 1] += deg[i]
    fill = deg[:-1].copy()
    nbrs = np.empty(deg[n], dtype=np.int32)
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
        eps, _ = _check_params(eps, 1)
        xyz = _check_coords(coords)
    else:
        xyz = coords
    n = xyz.shape[0]
    if n == 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64), np.empty(0, np.int32)
    offsets, key_offsets, reach = _half_offsets(float(eps))
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
    uxyz, _, _, tkeys, tvals, shift = _unique_voxels(xyz)
    nu = uxyz.shape[0]
    if nu != xyz.shape[0]:
        return np.empty(0, np.int64), np.zeros(1, np.int64), np.empty(0, np.int32), nu
    ea, eb = _grid_edges(uxyz, tkeys, tvals, shift, offsets, key_offsets, reach)
    parent = np.arange(nu)
    for e in range(ea.shape[0]):
        _union_low(parent, ea[e], eb[e])
    labels = _number_cores(np.ones(nu, np.bool_), parent)
    indptr, indices = _csr_from_edges(nu, ea, eb)
    return labels, indptr, indices, nu
