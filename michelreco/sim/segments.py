"""Voxelization of a straight step: its energy shared among the 3 mm voxels it crosses.

Used by every transport kernel (``charged``, ``em``): a step's energy is not put at one point but cut
at the voxel planes (multiples of ``VOXEL_MM`` in world coordinates; the active volume starts at 0 mm)
and each piece gets the share proportional to its length, stored at its midpoint, as Geant4 steps
voxelized along their path are. Units: mm, MeV.
"""

import math

import numpy as np
from numba import njit

from michelreco.sim.constants import ACTIVE_MM, VOXEL_MM

__all__ = ["MERGE_LOOKBACK", "SPREAD_FLOOR_MEV", "deposit_along_segment", "deposit_point", "inside_box", "near_active"]


@njit(cache=True, nogil=True)
def inside_box(x, y, z, lo, hi):
    """Is (x, y, z) inside the box [lo, hi) (mm)?"""
    return lo[0] <= x < hi[0] and lo[1] <= y < hi[1] and lo[2] <= z < hi[2]


@njit(cache=True, nogil=True)
def near_active(x, y, z, margin_mm):
    """Is (x, y, z) within ``margin_mm`` of the active volume [0, ACTIVE_MM)^3 (mm)?"""
    return (-margin_mm <= x < ACTIVE_MM + margin_mm and -margin_mm <= y < ACTIVE_MM + margin_mm
            and -margin_mm <= z < ACTIVE_MM + margin_mm)


@njit(cache=True, nogil=True)
def _plane_crossing(p0, d):
    """First voxel-plane crossing parameter and the parameter spacing along one axis.

    The segment is ``p0 + t d``, ``t`` in [0, 1]; planes are the multiples of ``VOXEL_MM``.
    Returns (inf, inf) when the segment is parallel to the planes.
    """
    if d > 0.0:
        return ((math.floor(p0 / VOXEL_MM) + 1.0) * VOXEL_MM - p0) / d, VOXEL_MM / d
    if d < 0.0:
        # a start exactly on a plane going down crosses it at t = 0 (empty first piece, skipped)
        return (math.floor(p0 / VOXEL_MM) * VOXEL_MM - p0) / d, -VOXEL_MM / d
    return math.inf, math.inf


MERGE_LOOKBACK = 8          # rows searched for a deposit of the same particle in the same voxel
SPREAD_FLOOR_MEV = 0.002    # a lateral spill smaller than this stays in the step's own voxel
_SQRT2 = math.sqrt(2.0)


@njit(cache=True, nogil=True)
def _put(dep, nd, px, py, pz, e, pid, world_lo, world_hi, merge):
    """Store one deposit (dropped outside the world box), or add it to a recent row of its particle and voxel."""
    if not inside_box(px, py, pz, world_lo, world_hi):
        return dep, nd
    if merge:
        # the voxel's bounds; a recent row inside them (same particle) takes the energy
        x0 = math.floor(px / VOXEL_MM) * VOXEL_MM
        y0 = math.floor(py / VOXEL_MM) * VOXEL_MM
        z0 = math.floor(pz / VOXEL_MM) * VOXEL_MM
        x1, y1, z1 = x0 + VOXEL_MM, y0 + VOXEL_MM, z0 + VOXEL_MM
        k = nd - 1
        stop = max(nd - MERGE_LOOKBACK, 0)
        while k >= stop:
            if (x0 <= dep[k, 0] < x1 and y0 <= dep[k, 1] < y1 and z0 <= dep[k, 2] < z1
                    and (dep.shape[1] <= 4 or dep[k, 4] == pid)):
                dep[k, 3] += e
                return dep, nd
            k -= 1
    if nd >= dep.shape[0]:
        big = np.empty((2 * dep.shape[0] + 8, dep.shape[1]))
        big[:nd] = dep[:nd]
        dep = big
    dep[nd, 0], dep[nd, 1], dep[nd, 2], dep[nd, 3] = px, py, pz, e
    if dep.shape[1] > 4:
        dep[nd, 4] = pid
    return dep, nd + 1


# share of a unit Gaussian beyond u standard deviations, 0.5 erfc(u / sqrt 2), tabulated on [0, 4]
_SPILL_N = 257
_SPILL_DU = 4.0 / (_SPILL_N - 1)
_SPILL = np.array([0.5 * math.erfc(i * _SPILL_DU / _SQRT2) for i in range(_SPILL_N)])


@njit(cache=True, nogil=True)
def _spill_fraction(d, spread_mm):
    """Share of a Gaussian profile of width ``spread_mm`` beyond a face ``d`` mm away (0 beyond 4 widths)."""
    u = d / (spread_mm * _SPILL_DU)
    if u >= _SPILL_N - 1:
        return 0.0
    i = int(u)
    f = u - i
    return (1.0 - f) * _SPILL[i] + f * _SPILL[i + 1]


@njit(cache=True, nogil=True)
def deposit_point(dep: np.ndarray, nd: int, px: float, py: float, pz: float, e: float, pid: float,
                  world_lo: np.ndarray, world_hi: np.ndarray, spread_mm: float = 0.0,
                  merge: bool = False):
    """Store an energy deposit at a point, with the share that a lateral spread puts across the voxel faces.

    With ``spread_mm`` > 0 the energy is taken as spread around the point with a Gaussian profile
    of that width on each axis: the share beyond each of the six faces of the point's 3 mm voxel
    (``0.5 erfc(d / (sqrt 2 spread))``, ``d`` the distance to the face) is stored in the
    neighbouring voxel across that face, at the point's mirror image, when it is at least
    ``SPREAD_FLOOR_MEV``; the rest stays at the point. Shares across edges and corners (products
    of two small shares) are not split off, nor are spills of points more than a voxel outside the
    active volume (they would change nothing recorded). Nothing is stored outside the world box.

    Parameters
    ----------
    dep : ndarray, shape (cap, 4) or (cap, 5)
        Deposit buffer: x, y, z (mm), energy (MeV) and, with 5 columns, a particle id.
    nd : int
        Rows of ``dep`` already filled.
    px, py, pz : float
        The point, mm.
    e : float
        Energy, MeV.
    pid : float
        Particle id written to column 4 when ``dep`` has 5 columns.
    world_lo, world_hi : ndarray, shape (3,)
        World box, mm.
    spread_mm : float, optional
        Width of the lateral profile, mm (default 0: all energy at the point).
    merge : bool, optional
        Add the energy to one of the last ``MERGE_LOOKBACK`` rows when it holds the same particle
        in the same voxel, instead of a new row (default False). Only valid when the threshold
        downstream applies to a particle's summed energy in a voxel.

    Returns
    -------
    dep : ndarray
        The buffer (a larger copy when it had to grow).
    nd : int
        Rows filled after storing.
    """
    ec = e
    # far outside the active volume a spill changes nothing that is recorded: skipped there
    if spread_mm > 0.0 and near_active(px, py, pz, VOXEL_MM):
        reach = 4.0 * spread_mm
        for axis in range(3):
            p = px if axis == 0 else (py if axis == 1 else pz)
            face = math.floor(p / VOXEL_MM) * VOXEL_MM
            for side in range(2):
                d = p - face if side == 0 else face + VOXEL_MM - p
                if d >= reach:
                    continue
                es = e * _spill_fraction(d, spread_mm)
                if es < SPREAD_FLOOR_MEV:
                    continue
                q = face - d if side == 0 else face + VOXEL_MM + d     # mirror image across the face
                qx = q if axis == 0 else px
                qy = q if axis == 1 else py
                qz = q if axis == 2 else pz
                dep, nd = _put(dep, nd, qx, qy, qz, es, pid, world_lo, world_hi, merge)
                ec -= es
    return _put(dep, nd, px, py, pz, ec, pid, world_lo, world_hi, merge)


@njit(cache=True, nogil=True)
def deposit_along_segment(dep: np.ndarray, nd: int, x0: float, y0: float, z0: float, x1: float,
                          y1: float, z1: float, energy: float, pid: float, world_lo: np.ndarray,
                          world_hi: np.ndarray, spread_mm: float = 0.0, merge: bool = False):
    """Append the energy of a straight step to ``dep``, split at the voxel planes it crosses.

    Each piece of the segment between consecutive crossings of the 3 mm voxel planes (multiples
    of ``VOXEL_MM`` on every axis, world coordinates) gets ``energy`` times its length fraction
    and is stored at its midpoint, so the piece lies inside one voxel. The pieces sum to
    ``energy`` (the last one takes the remainder). Pieces whose midpoint is outside the world
    box are not stored. A zero-length segment gives one deposit at its point. Each piece is
    stored by :func:`deposit_point` (lateral spread, merging).

    Parameters
    ----------
    dep : ndarray, shape (cap, 4) or (cap, 5)
        Deposit buffer: x, y, z (mm), energy (MeV) and, with 5 columns, a particle id.
    nd : int
        Rows of ``dep`` already filled.
    x0, y0, z0, x1, y1, z1 : float
        Start and end of the step, mm.
    energy : float
        Energy deposited along the step, MeV.
    pid : float
        Particle id written to column 4 when ``dep`` has 5 columns.
    world_lo, world_hi : ndarray, shape (3,)
        World box, mm.
    spread_mm : float, optional
        Width of the lateral profile of the deposited energy, mm (default 0).
    merge : bool, optional
        Merge with recent rows of the same particle and voxel (default False).

    Returns
    -------
    dep : ndarray
        The buffer (a larger copy when it had to grow).
    nd : int
        Rows filled after appending.
    """
    dx, dy, dz = x1 - x0, y1 - y0, z1 - z0
    tx, dtx = _plane_crossing(x0, dx)
    ty, dty = _plane_crossing(y0, dy)
    tz, dtz = _plane_crossing(z0, dz)
    t = 0.0
    given = 0.0
    while True:
        tn = min(tx, ty, tz)
        last = tn >= 1.0
        if last:
            tn = 1.0
        if tn > t:
            e = energy - given if last else energy * (tn - t)
            if e > 0.0:
                tm = 0.5 * (t + tn)
                given += e
                dep, nd = deposit_point(dep, nd, x0 + tm * dx, y0 + tm * dy, z0 + tm * dz, e, pid,
                                        world_lo, world_hi, spread_mm, merge)
            t = tn
        if last:
            break
        # advance past the plane just crossed (several axes can cross at the same point)
        if tx <= tn:
            tx += dtx
        if ty <= tn:
            ty += dty
        if tz <= tn:
            tz += dtz
    return dep, nd
