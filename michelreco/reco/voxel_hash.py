"""A hash table of integer voxel keys: unique voxels, neighbour pairs within a radius, union-find.

A neighbourhood of radius ``eps`` (voxel units) on the integer grid is a fixed set of integer offsets, so the
neighbours of every voxel are found by looking its offset keys up in a hash table instead of a KD-tree. These
kernels serve the finder's neighbour graph for unsorted input (``graph``), the general scikit-learn-exact
DBSCAN (``michelreco.bench.dbscan``) and the simulator's labeller. Distances are compared as
``d**2 <= eps**2`` in float64, as scikit-learn does.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit

from michelreco.reco.checks import native_numbers

__all__ = ["DEFAULT_EPS_VOXELS", "KEY_BITS", "MAX_COORD", "unique_voxels", "grid_edges", "find_root", "union_low",
           "number_cores", "half_offsets", "check_eps_min_samples", "check_coords"]

DEFAULT_EPS_VOXELS = 1.8
"""Default radius in voxel units: covers the 26-neighbourhood (squared distances 1, 2, 3)
and nothing beyond (the next squared distance, 4, is 2.0 voxels)."""

KEY_BITS = 21
MAX_COORD = (1 << KEY_BITS) - 1
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
def unique_voxels(xyz):
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
        key = (xyz[i, 0] << (2 * KEY_BITS)) | (xyz[i, 1] << KEY_BITS) | xyz[i, 2]
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
def grid_edges(uxyz, tkeys, tvals, shift, half_offsets, key_offsets, reach):
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
        key0 = (x << (2 * KEY_BITS)) | (y << KEY_BITS) | z
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
                key = (nx << (2 * KEY_BITS)) | (ny << KEY_BITS) | nz
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
def find_root(parent, a):
    """Root of a, with path halving."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@njit(cache=True, nogil=True)
def union_low(parent, a, b):
    """Join the sets of a and b; the smaller root wins, so a root is its set's lowest index."""
    ra = find_root(parent, a)
    rb = find_root(parent, b)
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@njit(cache=True, nogil=True)
def number_cores(core, parent):
    """Number the components of core voxels in order of their lowest member (-1 for the others)."""
    nu = core.shape[0]
    labels = np.full(nu, -1, dtype=np.int64)
    nlab = 0
    for u in range(nu):
        if core[u]:
            r = find_root(parent, u)
            if r == u:
                labels[u] = nlab
                nlab += 1
            else:
                labels[u] = labels[r]  # r < u was labelled already
    return labels


# --------------------------------------------------------------------------------------
# Python layer
# --------------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def half_offsets(eps: float) -> tuple[np.ndarray, np.ndarray, int]:
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
    packed = (out[:, 0] << (2 * KEY_BITS)) + (out[:, 1] << KEY_BITS) + out[:, 2]
    out.setflags(write=False)
    packed.setflags(write=False)
    reach = int(np.abs(out).max()) if len(out) else 0
    return out, packed, reach


def check_eps_min_samples(eps: Any, min_samples: Any) -> tuple[float, int]:
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


def check_coords(coords: Any) -> np.ndarray:
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
    xyz, code, row = _to_int_coords(np.ascontiguousarray(native_numbers(c)))
    if code:
        raise ValueError(f"coords row {row} = {c[row].tolist()} {_COORD_ERRORS[code]}")
    return xyz
