"""The per-event input check, compiled: finite values, coordinates that are whole voxel indices within the grid,
energies not negative (``value_problem``, one pass, about 4 ns per voxel), and no voxel listed twice
(``xyze_problem`` adds an open-addressing hash set of the voxel keys, about 9 ns per voxel more).

It runs on every event of every file read (a million events for the challenge file). A run skips the hash
set: the finder's canonical sort (``michelreco.reco.canonical``) meets every duplicate anyway, and the finder
then names it with ``xyze_problem``.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["OK", "NON_FINITE", "OUT_OF_GRID", "NOT_INTEGER", "NEGATIVE_ENERGY", "DUPLICATE", "value_problem",
           "xyze_problem", "describe_problem", "native_numbers"]

OK, NON_FINITE, OUT_OF_GRID, NOT_INTEGER, NEGATIVE_ENERGY, DUPLICATE = range(6)


def native_numbers(a: np.ndarray) -> np.ndarray:
    """A numeric array as the compiled kernels read it: in this machine's byte order (an HDF5 file or a tool may
    give another), and half floats as float32 (numba has none; float32 holds each exactly)."""
    if a.dtype.kind == "f" and a.dtype.itemsize == 2:        # half floats, in either byte order
        return a.astype(np.float32)
    return a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))


@numba.njit(cache=True, nogil=True)
def _voxel_problem(xyze: np.ndarray, i: int, top: float) -> int:
    """What is wrong with voxel i (``OK`` when nothing), the tests in the order their codes are reported."""
    for j in range(4):
        if not np.isfinite(xyze[i, j]):
            return NON_FINITE
    for j in range(3):
        v = xyze[i, j]
        if v < 0 or v > top:
            return OUT_OF_GRID
        if v != np.floor(v):
            return NOT_INTEGER
    if xyze[i, 3] < 0:
        return NEGATIVE_ENERGY
    return OK


@numba.njit(cache=True, nogil=True)
def value_problem(xyze: np.ndarray, grid: int) -> tuple[int, int, int]:
    """The first voxel with a bad value (``xyze_problem`` without the duplicate test), in one pass.

    Every test of a voxel is one expression without branches (a comparison with a NaN is false, so the range
    tests also refuse NaNs); only a voxel that fails it is examined further, for its code.
    """
    top = grid - 1
    for i in range(xyze.shape[0]):
        x, y, z, e = xyze[i, 0], xyze[i, 1], xyze[i, 2], xyze[i, 3]
        if not ((x >= 0) & (x <= top) & (y >= 0) & (y <= top) & (z >= 0) & (z <= top) & (e >= 0) & (e < np.inf)
                & (x == np.floor(x)) & (y == np.floor(y)) & (z == np.floor(z))):
            return _voxel_problem(xyze, i, top), i, -1
    return OK, -1, -1


@numba.njit(cache=True, nogil=True)
def xyze_problem(xyze: np.ndarray, grid: int) -> tuple[int, int, int]:
    """The first problem of an (N, 4) event: the first voxel with a bad value, else the first listed twice.

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
    code, voxel, earlier = value_problem(xyze, grid)
    if code != OK:
        return code, voxel, earlier
    n = xyze.shape[0]
    size = 16
    bits = 4
    while size < 2 * n:
        size *= 2
        bits += 1
    keys = np.full(size, -1, np.int64)
    owner = np.empty(size, np.int64)
    for i in range(n):
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
