"""Michel candidates of an event, and the features the rules judge them by.

Two kinds of candidate (``KINDS``):

- ``stopping_muon``: every free end of every cluster's skeleton (``track.cluster_skeleton``) is walked
  inwards; the dE/ds maximum within ``max_peak_from_end_mm`` of the end, refined to the node of most
  energy, is taken as the place where a muon stopped. The candidate is everything hanging "after" the
  peak: the skeleton nodes between the end and the peak, the branches hanging from them, and the voxels
  assigned to those nodes. When that candidate holds more than ``second_cut_above_mev`` (the Michel
  endpoint), a second one is cut at the highest dE/ds closer to the end (``cut_rank`` 1).
- ``entering``: a whole cluster that touches a face of the volume: a Michel whose muon stopped outside.

The two kinds are readings of a cluster that exclude each other: a stopping muon means a muon end inside, an
entering Michel means none; so are the two cuts of one free end (where did the muon stop?).
``one_reading_per_cluster`` keeps the stopping muon, and the second cut, when a selection takes both.

Nothing here decides: the selection (``michelreco.reco.rules``) judges the features, whose names, units and
meanings are in ``michelreco.reco.schema``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from michelreco.constants import VOXEL_MM
from michelreco.reco.features import (F_BASE, F_BLOBE, F_CLCAND, F_CLE, F_CLUSTER, F_CLVOX, F_CUT, F_E, F_KIND,
                                      F_MDEDX, F_NEARE, F_PATH, F_PEAK, F_PX, F_PY, F_PZ, F_RATIO, F_SAMEPEAK,
                                      F_STOPGAP, F_TORT, development_from_face, energy_near, face_gap,
                                      peak_shells, shape_features, stopping_muon_features, voxels_of_nodes)
from michelreco.reco.schema import FEATURES, KINDS, SETTING_INDEX, SETTINGS
from michelreco.reco.track import (chain_lengths, cluster_skeleton, end_order, end_profile, find_bragg_peak,
                                   refine_peak, voxel_distance_mm, window_mean)

__all__ = ["KINDS", "FEATURES", "SETTINGS", "event_candidates", "chosen_voxels", "taken_mask", "input_indices",
           "clusters_in_order",
           "one_reading_per_cluster"]

# A free end is a track's stop (for stop_gap_mm) when its dE/ds peaks near the end, well above the track's
# baseline, after a visible stretch of track: the Bragg rise of a stopping muon (or pion, proton)
STOP_MIN_PEAK_MEV_CM = 5.0
STOP_MIN_BRAGG_RATIO = 1.5
STOP_MIN_TRACK_MM = 50.0
STOP_MAX_FROM_END_MM = 30.0
NO_STOP_MM = 10_000.0
N_FEATURES = len(FEATURES)
BLOB_RADIUS_MM = 150.0     # photon activity of a Michel: brems photons convert within a radiation length (14 cm)
# Activity around an entering cluster: an electromagnetic shower arriving from outside spreads over about two
# Molière radii (2 x 9.04 cm in liquid argon, PDG) and along its length, leaving fragments in other clusters
# within this distance
NEAR_RADIUS_MM = 300.0

# position of each setting in the settings array, looked up by name (compile-time constants for numba)
_S = SETTING_INDEX
S_MINCL, S_BRANCH, S_CHAINS, S_WINDOW = _S["min_cluster_voxels"], _S["min_branch_hops"], _S["max_chains"], \
    _S["window_nodes"]
S_MAXPEAK, S_GAP, S_BASE, S_MUPCA = _S["max_peak_from_end_mm"], _S["baseline_gap_mm"], _S["baseline_mm"], \
    _S["muon_pca_mm"]
S_RISEHI, S_MAXENTER, S_ENTERGAP, S_MINPEAK = _S["rise_hi_mm"], _S["max_entering_voxels"], \
    _S["entering_face_gap"], _S["min_candidate_peak_dedx_mev_cm"]
S_SECOND = _S["second_cut_above_mev"]


@njit(cache=True, nogil=True)
def _nodes_after_peak(chain_nodes, chain_ptr, chain_junction, seed_nodes, mark):
    """The seed nodes and every node of chains hanging (recursively) from them, each once; ``mark`` is left clear.

    When the peak lies past a branch's junction the seeds already hold the branch's own chain (its junction is a
    seed too): its nodes must not be added a second time.
    """
    out = np.empty(seed_nodes.shape[0] + chain_nodes.shape[0], np.int64)
    n = 0
    for v in seed_nodes:
        if not mark[v]:
            mark[v] = True
            out[n] = v
            n += 1
    for c in range(1, chain_ptr.shape[0] - 1):   # a chain's junction lies on an earlier chain: one pass
        j = chain_junction[c]
        if j >= 0 and mark[j]:
            for k in range(chain_ptr[c], chain_ptr[c + 1]):
                v = chain_nodes[k]
                if not mark[v]:
                    mark[v] = True
                    out[n] = v
                    n += 1
    for v in out[:n]:
        mark[v] = False
    return out[:n]


@njit(cache=True, nogil=True)
def _push(feats, cand_ptr, cand_vox, nc, voxels):
    """Append a candidate's voxel list (growing the buffers); return the buffers."""
    if nc + 1 >= feats.shape[0]:
        feats2 = np.zeros((2 * feats.shape[0], feats.shape[1]))
        feats2[:nc] = feats[:nc]
        feats = feats2
        ptr2 = np.zeros(2 * feats.shape[0] + 1, np.int64)
        ptr2[:nc + 1] = cand_ptr[:nc + 1]
        cand_ptr = ptr2
    lo = cand_ptr[nc]
    if lo + voxels.shape[0] > cand_vox.shape[0]:
        vox2 = np.empty(2 * (lo + voxels.shape[0]), np.int64)
        vox2[:lo] = cand_vox[:lo]
        cand_vox = vox2
    cand_vox[lo:lo + voxels.shape[0]] = voxels
    cand_ptr[nc + 1] = lo + voxels.shape[0]
    return feats, cand_ptr, cand_vox


@njit(cache=True, nogil=True)
def clusters_in_order(labels):
    """Voxels grouped by cluster, ascending within each: (cluster sizes, starts, order), cluster c holding
    ``order[starts[c]:starts[c + 1]]`` (a counting sort: numba's argsort is slow)."""
    n_clusters = labels.max() + 1 if labels.shape[0] else 0
    sizes = np.zeros(n_clusters, np.int64)
    for v in range(labels.shape[0]):
        sizes[labels[v]] += 1
    starts = np.zeros(n_clusters + 1, np.int64)
    for c in range(n_clusters):
        starts[c + 1] = starts[c] + sizes[c]
    fill = starts[:-1].copy()
    order = np.empty(labels.shape[0], np.int64)
    for v in range(labels.shape[0]):
        order[fill[labels[v]]] = v
        fill[labels[v]] += 1
    return sizes, starts, order


@njit(cache=True, nogil=True)
def event_candidates(xyz, energy, labels, indptr, nbrs, cfg):
    """Candidates of one event (voxels sorted by key), settings ``cfg`` in the order of ``SETTINGS``.

    Returns the features (C, len(FEATURES)) and the candidates' voxels: candidate c holds
    ``cand_vox[cand_ptr[c]:cand_ptr[c + 1]]``.
    """
    n = xyz.shape[0]
    feats = np.zeros((64, N_FEATURES))
    cand_ptr = np.zeros(129, np.int64)
    cand_vox = np.empty(max(n, 16), np.int64)
    nc = 0
    if n == 0:
        return feats[:0], cand_ptr[:1], cand_vox[:0]
    sizes, starts, order = clusters_in_order(labels)
    n_clusters = sizes.shape[0]
    # work arrays over the event's voxels, restored after each cluster
    node_energy = np.zeros(n)
    node_count = np.zeros(n, np.int64)
    node_first = np.full(n, -1, np.int64)    # voxels assigned to a node: a linked list
    node_next = np.full(n, -1, np.int64)
    dist = np.full(n, -1, np.int64)
    pred = np.full(n, -1, np.int64)
    root = np.full(n, -1, np.int64)
    mark = np.zeros(n, np.bool_)
    node_slot = np.zeros(n, np.int64)       # position of a skeleton node in chain_nodes
    on_muon = np.zeros(n, np.bool_)
    words = np.zeros((n >> 6) + 1, np.uint64)   # a bit set over the voxels (voxels_of_nodes)
    stops = np.empty((256, 3))              # ends of stopping tracks, for stop_gap_mm
    stop_cluster = np.empty(256, np.int64)
    n_stops = 0
    window = int(cfg[S_WINDOW])
    # a walk is needed only as far as the peak search and the stretches measured beyond the peak reach;
    # nodes are at least one voxel (3 mm) apart
    reach_mm = cfg[S_MAXPEAK] + max(cfg[S_GAP] + cfg[S_BASE], cfg[S_RISEHI], cfg[S_MUPCA])
    max_nodes = int(reach_mm / VOXEL_MM) + window + 2
    for c in range(n_clusters):
        if sizes[c] < cfg[S_MINCL]:
            continue
        members = order[starts[c]:starts[c + 1]]
        first_candidate = nc
        cluster_energy = 0.0
        for v in members:
            cluster_energy += energy[v]
        chain_nodes, chain_ptr, chain_junction = cluster_skeleton(
            members, xyz, indptr, nbrs, dist, pred, root, int(cfg[S_BRANCH]), int(cfg[S_CHAINS]))
        for v in members:
            node_energy[v] = 0.0
            node_count[v] = 0
            node_first[v] = -1
        for i in range(members.shape[0] - 1, -1, -1):
            v = members[i]
            r = root[v]
            node_energy[r] += energy[v]
            node_count[r] += 1
            node_next[v] = node_first[r]
            node_first[r] = v
        n_chains = chain_ptr.shape[0] - 1
        for k in range(chain_nodes.shape[0]):
            node_slot[chain_nodes[k]] = k
        chain_cum = chain_lengths(chain_nodes, chain_ptr, xyz)
        # a whole cluster entering through a face: a Michel whose muon stopped outside
        if sizes[c] <= cfg[S_MAXENTER]:
            face = 1e9
            fv = members[0]
            for v in members:
                g = face_gap(xyz, v)
                if g < face:
                    face, fv = g, v
            if face <= cfg[S_ENTERGAP]:
                feats, cand_ptr, cand_vox = _push(feats, cand_ptr, cand_vox, nc, members)
                f = feats[nc]
                pts, _, centre, axis = shape_features(f, xyz, energy, members, xyz[fv])
                development_from_face(f, pts, energy, members, centre, axis, xyz[fv])
                # only clusters large enough to analyse: the diffuse low-energy background (its level differs
                # between simulations and real data) says nothing about where the cluster came from
                f[F_NEARE] = energy_near(xyz, energy, labels, sizes, cfg[S_MINCL], c, centre,
                                         NEAR_RADIUS_MM / VOXEL_MM)
                main = chain_nodes[chain_ptr[0]:chain_ptr[1]]
                if face_gap(xyz, main[0]) < face_gap(xyz, main[main.shape[0] - 1]):
                    main = main[::-1].copy()      # walked from its inner end, towards the face
                s, dedx = end_profile(main, xyz, node_energy, window)
                # a particle that stops inside (a proton, a muon) has its Bragg peak at the inner end; an
                # electron entering from outside does not
                _, inner_peak, inner_base, _ = find_bragg_peak(s, dedx, STOP_MAX_FROM_END_MM, 0.0, cfg[S_BASE])
                f[F_BASE] = inner_base
                f[F_RATIO] = inner_peak / inner_base if inner_base > 0 else 0.0
                f[F_KIND] = 1
                f[F_CLUSTER] = c
                f[F_PEAK] = dedx.max()
                f[F_MDEDX] = f[F_E] / max(s[s.shape[0] - 1], VOXEL_MM) * 10.0
                f[F_PATH] = s[s.shape[0] - 1]
                straight = voxel_distance_mm(xyz, main[0], main[main.shape[0] - 1])
                f[F_TORT] = s[s.shape[0] - 1] / max(straight, VOXEL_MM)
                f[F_PX] = xyz[fv, 0]
                f[F_PY] = xyz[fv, 1]
                f[F_PZ] = xyz[fv, 2]
                nc += 1
        for chain in range(n_chains):
            for reverse in (False, True):
                if reverse and chain_junction[chain] >= 0:
                    continue   # a branch has one free end
                walk, junction, other_len, last, total_mm = end_order(
                    chain_nodes, chain_ptr, chain_junction, node_slot, chain_cum, xyz, chain, reverse, max_nodes)
                if walk.shape[0] < 3:
                    continue
                s, dedx = end_profile(walk, xyz, node_energy, window)
                p, peak, base, _ = find_bragg_peak(s, dedx, cfg[S_MAXPEAK], cfg[S_GAP], cfg[S_BASE])
                p = refine_peak(walk, node_energy, p, window // 2)
                beyond = total_mm - s[p]
                if (peak >= STOP_MIN_PEAK_MEV_CM and base > 0 and peak >= STOP_MIN_BRAGG_RATIO * base
                        and beyond >= STOP_MIN_TRACK_MM and s[p] <= STOP_MAX_FROM_END_MM and n_stops < 256):
                    stops[n_stops] = xyz[walk[p]]
                    stop_cluster[n_stops] = c
                    n_stops += 1
                # A second cut, at the highest dE/ds at least a window closer to the end, when the first cut's
                # candidate holds more energy than any Michel: a fluctuation of the muon further back then
                # outshone its real stop, and the first candidate carries part of the muon
                e_first = 0.0
                for rank in range(2):
                    if rank == 0:
                        cut, cut_peak, cut_base = p, peak, base
                    else:
                        if p <= window or e_first <= cfg[S_SECOND]:
                            break
                        q0 = 1
                        for k in range(2, p - window + 1):
                            if dedx[k] > dedx[q0]:
                                q0 = k
                        cut = refine_peak(walk, node_energy, q0, window // 2)
                        cut_peak = dedx[q0]
                        cut_base = window_mean(s, dedx, s[q0] + cfg[S_GAP], s[q0] + cfg[S_GAP] + cfg[S_BASE])
                    if cut == 0 or cut_peak < cfg[S_MINPEAK]:
                        continue   # the end itself is the peak, or there is no peak worth a candidate
                    marked = _nodes_after_peak(chain_nodes, chain_ptr, chain_junction, walk[:cut], mark)
                    voxels = voxels_of_nodes(marked, node_first, node_next, words)
                    if voxels.shape[0] == 0:
                        continue
                    feats, cand_ptr, cand_vox = _push(feats, cand_ptr, cand_vox, nc, voxels)
                    f = feats[nc]
                    f[F_KIND] = 0
                    f[F_CLUSTER] = c
                    f[F_CUT] = rank
                    pts, esum, _, _ = shape_features(f, xyz, energy, voxels, xyz[walk[cut]])
                    if rank == 0:
                        e_first = esum
                    stopping_muon_features(f, xyz, walk, s, dedx, cut, cut_peak, cut_base, total_mm - s[cut],
                                           junction, other_len, last, pts, esum, node_first, node_next, n_chains,
                                           chain_junction, node_count, node_energy, on_muon, words, cfg)
                    nc += 1
        for k in range(first_candidate, nc):
            same = 0
            for q in range(first_candidate, nc):
                d2 = ((feats[k, F_PX] - feats[q, F_PX]) ** 2 + (feats[k, F_PY] - feats[q, F_PY]) ** 2
                      + (feats[k, F_PZ] - feats[q, F_PZ]) ** 2)
                if d2 <= 4.0:
                    same += 1
            feats[k, F_SAMEPEAK] = same
            feats[k, F_CLVOX] = sizes[c]
            feats[k, F_CLE] = cluster_energy
            feats[k, F_CLCAND] = nc - first_candidate
    # detached photon activity near each candidate: the voxels of clusters too small to analyse (the peaks
    # copied into contiguous arrays: the inner loop reads three numbers per candidate)
    r2 = (BLOB_RADIUS_MM / VOXEL_MM) ** 2
    px, py, pz = feats[:nc, F_PX].copy(), feats[:nc, F_PY].copy(), feats[:nc, F_PZ].copy()
    blob = np.zeros(nc)
    for v in range(n):
        if sizes[labels[v]] >= cfg[S_MINCL]:
            continue
        x0, x1, x2, e = xyz[v, 0], xyz[v, 1], xyz[v, 2], energy[v]
        for k in range(nc):
            if (x0 - px[k]) ** 2 + (x1 - py[k]) ** 2 + (x2 - pz[k]) ** 2 <= r2:
                blob[k] += e
    for k in range(nc):
        feats[k, F_BLOBE] = blob[k]
        # the nearest voxel by squared distance, one square root (monotonic: the same minimum)
        best2 = np.inf
        for q in range(n_stops):
            if stop_cluster[q] == feats[k, F_CLUSTER]:
                continue
            s0, s1, s2 = stops[q, 0], stops[q, 1], stops[q, 2]
            for i in range(cand_ptr[k], cand_ptr[k + 1]):
                v = cand_vox[i]
                best2 = min(best2, (xyz[v, 0] - s0) ** 2 + (xyz[v, 1] - s1) ** 2 + (xyz[v, 2] - s2) ** 2)
        feats[k, F_STOPGAP] = min(NO_STOP_MM, np.sqrt(best2) * VOXEL_MM)
    peak_shells(feats[:nc], xyz, energy)
    return feats[:nc].copy(), cand_ptr[:nc + 1].copy(), cand_vox[:cand_ptr[nc]].copy()


@njit(cache=True, nogil=True)
def chosen_voxels(index, ptr, vox, ok):
    """Input indices (int32, ascending) of the voxels of the chosen candidates."""
    return input_indices(index, taken_mask(index.shape[0], ptr, vox, ok))


@njit(cache=True, nogil=True)
def taken_mask(n, ptr, vox, ok):
    """The kept voxels (bool, length ``n``) of the chosen candidates (``ok``)."""
    take = np.zeros(n, np.bool_)
    for c in range(ok.shape[0]):
        if ok[c]:
            for k in range(ptr[c], ptr[c + 1]):
                take[vox[k]] = True
    return take


@njit(cache=True, nogil=True)
def input_indices(index, mask):
    """Input indices (int32, ascending) of the kept voxels flagged in ``mask``."""
    out = index[mask].astype(np.int32)
    out.sort()
    return out


def one_reading_per_cluster(feats: np.ndarray, take: np.ndarray, event: np.ndarray | None = None) -> np.ndarray:
    """A selection with each cluster, and each free end, read one way.

    - An entering candidate is dropped where a stopping-muon candidate of its cluster is taken: a stopping-muon
      Michel says the cluster holds a muon end, so the entering reading (the whole cluster is an electron whose
      muon stopped outside) cannot hold, and its candidate would add the muon's voxels.
    - The first cut of a free end is dropped where its second cut is taken: the second cut was made because
      the first candidate holds more energy than a Michel can, so the first carries part of the muon.

    Parameters
    ----------
    feats : numpy.ndarray
        Candidate features (C, len(FEATURES)) in the order ``event_candidates`` gives them (a second cut right
        after the first cut of its end), of one event or of several (``event``).
    take : numpy.ndarray of bool
        The candidates a selection takes.
    event : numpy.ndarray, optional
        The event of each candidate, when the table holds several (clusters are numbered per event).

    Returns
    -------
    numpy.ndarray of bool
        ``take`` without the overruled candidates.
    """
    key = feats[:, F_CLUSTER].astype(np.int64)
    if event is not None and key.size:              # clusters are numbered per event
        key = np.asarray(event, np.int64) * (int(key.max()) + 1) + key
    return _one_reading(feats[:, F_KIND], feats[:, F_CUT], key, np.asarray(take, np.bool_))


@njit(cache=True, nogil=True)
def _one_reading(kind, rank, key, take):
    """``one_reading_per_cluster`` on the columns it reads (``key``: the cluster, made unique over events)."""
    out = take.copy()
    for i in range(1, out.shape[0]):
        if take[i] and rank[i] == 1 and rank[i - 1] == 0 and key[i - 1] == key[i]:
            out[i - 1] = False
    stopped = set()
    entering = False
    for i in range(out.shape[0]):
        if out[i]:
            if kind[i] == 0:
                stopped.add(key[i])
            else:
                entering = True
    if entering:
        for i in range(out.shape[0]):
            if out[i] and kind[i] == 1 and key[i] in stopped:
                out[i] = False
    return out
