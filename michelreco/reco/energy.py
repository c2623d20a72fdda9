"""The energy of each Michel in an event: its voxels grouped by proximity, optionally with nearby photon blobs.

A Michel is a cluster of Michel voxels (labelled 2, or listed by a solution) grouped by proximity
(``join_voxels``, 2.9 voxels: pieces a voxel or two apart stay together), so an event with two Michels gives two
energies; its measured energy is the sum of its voxels' energies (MeV).
"""

from __future__ import annotations

import numpy as np

from michelreco.constants import VOXEL_MM
from michelreco.reco.graph import voxel_graph

__all__ = ["JOIN_VOXELS", "michel_cluster_energies", "recovered_energies"]

JOIN_VOXELS = 2.9          # voxels: Michel voxels this close belong to the same Michel


def michel_cluster_energies(xyze: np.ndarray, michel_index: np.ndarray, join_voxels: float = JOIN_VOXELS) -> np.ndarray:
    """Summed energy (MeV) of each Michel in an event: the given voxels grouped by proximity.

    Parameters
    ----------
    xyze : numpy.ndarray
        The event, (N, 4): voxel x, y, z and energy (MeV).
    michel_index : numpy.ndarray
        Indices of its Michel voxels.
    join_voxels : float
        Michel voxels this close (in voxels) belong to the same Michel.

    Returns
    -------
    numpy.ndarray
        One energy (MeV) per Michel (empty without Michel voxels).
    """
    return _michels(xyze, np.asarray(michel_index, dtype=np.int64), join_voxels)[1]


def _michels(xyze: np.ndarray, michel_index: np.ndarray, join_voxels: float) -> tuple[np.ndarray, np.ndarray]:
    """Which Michel each given voxel belongs to, and each Michel's energy (MeV)."""
    if michel_index.size == 0:
        return np.empty(0, np.int64), np.empty(0)
    groups = voxel_graph(xyze[michel_index, :3], eps=join_voxels)[0]
    return groups, np.bincount(groups, weights=xyze[michel_index, 3].astype(np.float64))


def recovered_energies(xyze: np.ndarray, michel_index: np.ndarray, radius_mm: float, max_blob_voxels: int = 30,
                       join_voxels: float = JOIN_VOXELS) -> np.ndarray:
    """Michel energies with nearby photon activity added back (MicroBooNE-like radius recovery).

    To each Michel (as ``michel_cluster_energies``) is added the energy of every small detached blob of
    voxels (a connected piece of at most ``max_blob_voxels`` voxels, not touching any Michel voxel: Compton
    electrons and conversions of its photons) whose nearest voxel lies within ``radius_mm`` of that Michel.
    Larger pieces (tracks, showers) are never taken. A blob near two Michels goes to the nearer one.

    Parameters
    ----------
    xyze : numpy.ndarray
        The event, (N, 4): voxel x, y, z and energy (MeV).
    michel_index : numpy.ndarray
        Indices of its Michel voxels.
    radius_mm : float
        A blob is added when its nearest voxel lies within this distance of a Michel.
    max_blob_voxels : int
        The largest piece counted as a blob.
    join_voxels : float
        Michel voxels this close (in voxels) belong to the same Michel.

    Returns
    -------
    numpy.ndarray
        One energy (MeV) per Michel, blobs included (empty without Michel voxels).
    """
    from scipy.spatial import cKDTree

    michel_index = np.asarray(michel_index, dtype=np.int64)
    if michel_index.size == 0:
        return np.empty(0)
    groups, energies = _michels(xyze, michel_index, join_voxels)
    pieces = voxel_graph(xyze[:, :3])[0]
    sizes = np.bincount(pieces)
    michel_piece = np.zeros(sizes.size, bool)
    michel_piece[pieces[michel_index]] = True
    blob = (sizes[pieces] <= max_blob_voxels) & ~michel_piece[pieces]
    if not blob.any():
        return energies
    dist, nearest = cKDTree(xyze[michel_index, :3]).query(xyze[blob, :3])
    blob_idx = np.flatnonzero(blob)
    piece_of = pieces[blob_idx]
    # each blob is judged by its voxel nearest to a Michel
    order = np.lexsort((dist, piece_of))
    first = np.ones(order.size, bool)
    first[1:] = piece_of[order][1:] != piece_of[order][:-1]
    for k in order[first]:
        if dist[k] * VOXEL_MM <= radius_mm:
            owner = groups[nearest[k]]
            energies[owner] += xyze[blob_idx[piece_of == piece_of[k]], 3].sum()
    return energies
