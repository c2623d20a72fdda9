"""The faint voxels of a Michel: those at or below the finder's energy threshold that touch its voxels.

A charged particle's ionization is continuous along its path, so a voxel the path only clips (a corner, an
edge) gets little energy but touches the voxels the particle crossed fully. The finder clusters and cuts the
voxels above ``energy_threshold_mev`` only (a quarter of the real data's voxels are at or below 0.13 MeV,
``../shared/DESIGN.md``; skeletons and profiles are then drawn by the particles' cores, not by their halo of
faint voxels), and gives the Michels it found back the faint voxels that touch them: the labels give such a
voxel to the particle that deposited it (DESIGN.md §2, Supera's rules), almost always the one it touches.

Touching is the 26-neighbourhood: voxel index differences of at most 1 on every axis.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from michelreco.constants import GRID_VOXELS

__all__ = ["touching_low_voxels", "with_low_voxels"]


@njit(cache=True, nogil=True)
def touching_low_voxels(xyze, found, threshold_mev):
    """Indices (int32, ascending) of the voxels at or below ``threshold_mev`` that touch a voxel of ``found`` (or
    are one).

    Parameters
    ----------
    xyze : float array (N, 4)
        An event, checked (whole voxel indices 0..767, unique voxels).
    found : int array
        Indices into ``xyze`` of the voxels found (any order).
    threshold_mev : float
        The finder's energy threshold (MeV).

    Notes
    -----
    Only voxels inside the bounding box of ``found`` (one voxel of margin) are tested; each of them looks for its
    neighbours row by row ((x, y) and a z window of three) in the sorted keys of ``found``.
    """
    m = found.shape[0]
    if m == 0:
        return np.empty(0, np.int32)
    keys = np.empty(m, np.int64)
    lo = np.full(3, GRID_VOXELS, np.int64)
    hi = np.full(3, -1, np.int64)
    for k in range(m):
        key = 0
        for a in range(3):
            c = np.int64(xyze[found[k], a])
            lo[a] = min(lo[a], c)
            hi[a] = max(hi[a], c)
            key = key * GRID_VOXELS + c
        keys[k] = key
    keys.sort()
    out = np.empty(xyze.shape[0], np.int32)
    n_out = 0
    for i in range(xyze.shape[0]):
        if xyze[i, 3] > threshold_mev:
            continue
        x, y, z = np.int64(xyze[i, 0]), np.int64(xyze[i, 1]), np.int64(xyze[i, 2])
        if (x < lo[0] - 1 or x > hi[0] + 1 or y < lo[1] - 1 or y > hi[1] + 1
                or z < lo[2] - 1 or z > hi[2] + 1):
            continue
        touches = False
        z0, z1 = max(z - 1, 0), min(z + 1, GRID_VOXELS - 1)     # a window beyond a face would reach another row
        for xn in range(max(x - 1, 0), min(x + 2, GRID_VOXELS)):
            for yn in range(max(y - 1, 0), min(y + 2, GRID_VOXELS)):
                row = (xn * GRID_VOXELS + yn) * GRID_VOXELS        # the keys of row (xn, yn) are row + z
                j = np.searchsorted(keys, row + z0)
                if j < m and keys[j] <= row + z1:
                    touches = True
        if touches:
            out[n_out] = i
            n_out += 1
    return out[:n_out]


@njit(cache=True, nogil=True)
def with_low_voxels(xyze, found, threshold_mev):
    """``found`` (indices into ``xyze``) and the voxels at or below ``threshold_mev`` that touch them
    (``touching_low_voxels``): int32, ascending, each once."""
    low = touching_low_voxels(xyze, found, threshold_mev)
    both = np.concatenate((found.astype(np.int32), low))
    both.sort()
    out = np.empty(both.shape[0], np.int32)
    n = 0
    for k in range(both.shape[0]):
        if n == 0 or both[k] != out[n - 1]:
            out[n] = both[k]
            n += 1
    return out[:n]
