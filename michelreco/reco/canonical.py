"""Canonical voxel order: the finder works on voxels sorted by position, never on the input order.

Real files list voxels grouped by truth cluster; a detector gives no such order. Sorting by the linear
key ``(x * 768 + y) * 768 + z`` makes every tie-break in the finder depend on positions only, so a
shuffled event gives the same Michel voxels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from michelreco.constants import GRID_VOXELS
from michelreco.errors import DuplicateVoxelsError

__all__ = ["canonical_voxels", "slab_of_x"]

_DIGIT_BITS = 10          # three passes of a least-significant-digit radix sort cover keys < 2**30 > 768**3
_INDEX_BITS = 33          # input row numbers below 2**33 beside a key below 2**30 in an int64


@njit(cache=True, nogil=True)
def canonical_voxels(xyze: np.ndarray, threshold_mev: float):
    """Voxels above ``threshold_mev``, sorted by linear key.

    Returns (original index int64, xyz int64 (M, 3), xyz float64 (M, 3), energy float64 (M,)).
    Coordinates must be integer voxel indices 0..767 (``io.check_xyze_row`` guarantees it). Every voxel is
    sorted, those at or below the threshold too, so that two voxels at one place meet as neighbours in the
    sorted keys: ``DuplicateVoxelsError`` is raised then (this is the run's duplicate check, at no cost).
    """
    n = xyze.shape[0]
    # each voxel's key and input row packed into one word, the key above the row number: the sort moves one array,
    # and the rows of equal keys (refused below) keep their order
    packed = np.empty(n, np.int64)
    keep = 0
    for i in range(n):
        key = (np.int64(xyze[i, 0]) * GRID_VOXELS + np.int64(xyze[i, 1])) * GRID_VOXELS + np.int64(xyze[i, 2])
        packed[i] = (key << _INDEX_BITS) | i
        keep += xyze[i, 3] > threshold_mev
    # LSD radix sort of the keys, stable, three digits of 10 bits (small count arrays stay in cache)
    mask = (1 << _DIGIT_BITS) - 1
    tmp = np.empty(n, np.int64)
    count = np.empty(mask + 2, np.int64)
    for shift in (_INDEX_BITS, _INDEX_BITS + _DIGIT_BITS, _INDEX_BITS + 2 * _DIGIT_BITS):
        count[:] = 0
        for j in range(n):
            count[((packed[j] >> shift) & mask) + 1] += 1
        for d in range(mask + 1):
            count[d + 1] += count[d]
        for j in range(n):
            d = (packed[j] >> shift) & mask
            tmp[count[d]] = packed[j]
            count[d] += 1
        packed, tmp = tmp, packed
    # every voxel is written at the next free row, which advances only past a kept one: no branch on the
    # energy, which a quarter of the voxels fail unpredictably (one spare row for the last write)
    xyz_i = np.empty((keep + 1, 3), np.int64)
    xyz_f = np.empty((keep + 1, 3), np.float64)
    energy = np.empty(keep + 1, np.float64)
    index = np.empty(keep + 1, np.int64)
    row_mask = (np.int64(1) << _INDEX_BITS) - 1
    k = 0
    for j in range(n):
        if j > 0 and (packed[j] >> _INDEX_BITS) == (packed[j - 1] >> _INDEX_BITS):
            raise DuplicateVoxelsError()
        i = packed[j] & row_mask
        e = xyze[i, 3]
        index[k] = i
        for a in range(3):
            xyz_i[k, a] = np.int64(xyze[i, a])
            xyz_f[k, a] = xyz_i[k, a]
        energy[k] = e
        k += e > threshold_mev
    return index[:keep], xyz_i[:keep], xyz_f[:keep], energy[:keep]


@njit(cache=True, nogil=True)
def slab_of_x(xyz, x0, reach):
    """The voxels (lo, hi: ``xyz[lo:hi]``) of canonical order, sorted by x, with x within ``reach`` of ``x0``, and
    a voxel more on each side: a search over a radius ``reach`` reads only these, and no rounding of a squared
    distance at the radius can bring in a voxel outside them."""
    x = xyz[:, 0]
    return (np.searchsorted(x, x0 - reach - 1.0, side="left"), np.searchsorted(x, x0 + reach + 1.0, side="right"))
