"""The per-event input check, compiled: one pass over the voxels, about 10 ns per voxel.

It runs on every event of every file read (a million events for the challenge file), so it is one numba
loop instead of several numpy passes: finite values, coordinates that are whole voxel indices within the
grid, energies not negative, and no voxel listed twice (an open-addressing hash set of the voxel keys).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["OK", "NON_FINITE", "OUT_OF_GRID", "NOT_INTEGER", "NEGATIVE_ENERGY", "DUPLICATE", "xyze_problem",
           "describe_problem"]

OK, NON_FINITE, OUT_OF_GRID, NOT_INTEGER, NEGATIVE_ENERGY, DUPLICATE = range(6)


@numba.njit(cache=True, nogil=True)
def xyze_problem(xyze: np.ndarray, grid: int) -> tuple[int, int, int]:
    """The first problem of an (N, 4) event, in one pass over its voxels.

    Parameters
    ----------
    xyze : ndarray, shape (N, 4), float32, C-contiguous
        x, y, z (voxel indices) and energy (MeV) of each voxel.
    grid : int
        Voxels per axis (768): coordinates must be whole numbers in 0..grid-1.

    Returns
    -------
    code : int
        ``OK``, ``NON_FINITE``, ``OUT_OF_GRID``, ``NOT_INTEGER``, ``NEGATIVE_ENERGY`` or ``DUPLICATE``.
    voxel : int
        The voxel with the problem (-1 when none).
    earlier : int
        For a duplicate, the voxel listed first at the same place; else -1.
    """
    n = xyze.shape[0]
    size = 16
    bits = 4
    while size < 2 * n:
        size *= 2
        bits += 1
    keys = np.full(size, -1, np.int64)
    owner = np.empty(size, np.int64)
    top = grid - 1
    for i in range(n):
        for j in range(4):
            if not np.isfinite(xyze[i, j]):
                return NON_FINITE, i, -1
        for j in range(3):
            v = xyze[i, j]
            if v < 0 or v > top:
                return OUT_OF_GRID, i, -1
            if v != np.floor(v):
                return NOT_INTEGER, i, -1
        if xyze[i, 3] < 0:
            return NEGATIVE_ENERGY, i, -1
        key = (np.int64(xyze[i, 0]) * grid + np.int64(xyze[i, 1])) * grid + np.int64(xyze[i, 2])
        h = np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits))
        while keys[h] != -1:
            if keys[h] == key:
                return DUPLICATE, i, owner[h]
            h = (h + 1) & (size - 1)
        keys[h] = key
        owner[h] = i
    return OK, -1, -1


def describe_problem(xyze: np.ndarray, code: int, voxel: int, earlier: int, grid: int) -> str:
    """The problem found by ``xyze_problem`` in the user's terms.

    Parameters
    ----------
    xyze : ndarray, shape (N, 4)
        The event.
    code, voxel, earlier : int
        What ``xyze_problem`` returned.
    grid : int
        Voxels per axis.

    Returns
    -------
    str
        For example ``voxel 12 (3, 4, 10.5): coordinates are not whole voxel indices``.
    """
    x, y, z, e = (float(v) for v in xyze[voxel])
    at = f"voxel {voxel} ({x:g}, {y:g}, {z:g})"
    if code == NON_FINITE:
        return f"voxel {voxel}: non-finite values (NaN or inf)"
    if code == OUT_OF_GRID:
        return f"{at}: voxel coordinates outside 0..{grid - 1}"
    if code == NOT_INTEGER:
        return f"{at}: coordinates are not whole voxel indices"
    if code == NEGATIVE_ENERGY:
        return f"{at}: negative energy ({e:g} MeV)"
    if code == DUPLICATE:
        return f"{at}: listed twice (also voxel {earlier})"
    return f"voxel {voxel}: unknown problem {code}"  # pragma: no cover
