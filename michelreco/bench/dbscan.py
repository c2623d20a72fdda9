"""Scikit-learn-exact DBSCAN on integer voxel coordinates: the reference our neighbour graph is measured against.

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
from typing import Any

import numpy as np
from numba import njit

from michelreco.reco.voxel_hash import (DEFAULT_EPS_VOXELS, MAX_COORD, check_coords, check_eps_min_samples,
                                        grid_edges, half_offsets, number_cores, union_low, unique_voxels)

__all__ = [
    "DEFAULT_EPS_VOXELS",
    "DEFAULT_MIN_SAMPLES",
    "MAX_COORD",
    "dbscan_voxels",
    "connected_components_voxels",
    "hdbscan_voxels",
    "DBSCANVoxels",
]

DEFAULT_MIN_SAMPLES = 1
"""Default core threshold: with 1 every voxel is core and DBSCAN is plain connected
components of the eps-graph (no noise)."""


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
            union_low(parent, a, b)
    return _number_clusters(core, parent, ea, eb), core


@njit(cache=True, nogil=True)
def _number_clusters(core, parent, ea, eb):
    """Number core components in order of their lowest member; attach border voxels."""
    nu = core.shape[0]
    labels = number_cores(core, parent)
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
    """Same labels as grid_edges + _labels_from_edges, by testing all pairs.

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
                union_low(parent, a, b)
    labels = number_cores(core, parent)
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


def _dbscan(xyz: np.ndarray, eps: float, min_samples: int,
            method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Labels and core flags per point for validated int64 coordinates.

    method: "grid" (offset lookups in the hash table), "pairs" (all pairs), or "auto",
    which takes "pairs" only when the offset sphere holds more voxels than the event.
    """
    n = xyz.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    uxyz, count, inverse, tkeys, tvals, shift = unique_voxels(xyz)
    if method == "auto":
        sphere = 4.0 / 3.0 * math.pi * eps ** 3
        method = "grid" if sphere <= max(uxyz.shape[0], 1000) else "pairs"
    if method == "grid":
        offsets, key_offsets, reach = half_offsets(eps)
        ea, eb = grid_edges(uxyz, tkeys, tvals, shift, offsets, key_offsets, reach)
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
    eps, min_samples = check_eps_min_samples(eps, min_samples)
    labels, _ = _dbscan(check_coords(coords), eps, min_samples)
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
    try:
        import hdbscan  # heavy import, only when asked for
    except ImportError:
        raise ImportError("hdbscan_voxels needs the hdbscan package: pip install 'michelreco[compare]'") from None

    if isinstance(min_cluster_size, bool) or not isinstance(min_cluster_size, numbers.Integral) \
            or min_cluster_size < 2:
        raise ValueError(f"min_cluster_size must be an integer >= 2, got {min_cluster_size!r}")
    if min_samples is not None and (isinstance(min_samples, bool)
                                    or not isinstance(min_samples, numbers.Integral)
                                    or min_samples < 1):
        raise ValueError(f"min_samples must be None or an integer >= 1, got {min_samples!r}")
    xyz = check_coords(coords)
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
        eps, min_samples = check_eps_min_samples(self.eps, self.min_samples)
        labels, core = _dbscan(check_coords(coords), eps, min_samples)
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
