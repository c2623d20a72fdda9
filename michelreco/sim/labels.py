"""Voxelization of the simulator's truth record and Supera-style semantic labels.

``voxelize_and_label`` turns a particle table (``record.PARTICLE_DTYPE``) and its energy deposits
(an (n, 5) array: x, y, z in mm, energy in MeV, particle id) into the challenge's voxels
(3 mm cubes of the active volume [0, 2304)^3 mm, indices 0..767), their summed energies, one
semantic label per voxel (0 shower, 1 track, 2 Michel, 3 delta, 4 low energy), the truth cluster
that won each voxel, and one truth row per Michel electron.

Truth clusters ("fragments")
----------------------------
Every particle belongs to exactly one fragment, named by its root particle's row in the table:

- *track*: every particle that is neither an electron/positron nor a photon (mu, pi, p, n, ...)
  is its own fragment.
- *Michel core*: an electron with process DECAY whose parent has |pdg| 13, together with its
  electron/positron descendants that are not below a photon (its own delta rays).
- *delta core*: an electron with process IONI whose parent is a track particle, with its
  electron descendants that are not below a photon.
- *shower core*: a primary electron, positron or photon, or an electron made by a track particle
  in any other way than muon decay or ionization, with its electron descendants not below a
  photon (for a primary photon: its Compton, photo- and pair electrons).
- *photon group*: a photon whose parent is a track particle or belongs to a core (brems, capture
  and annihilation photons, brems of a Michel, of a delta, of a shower core), together with
  **all** its descendants. Photons below a photon stay in the enclosing group.

A fragment's voxels are the distinct voxels holding at least one of its kept deposits, whoever
wins them in the end.

Rules, applied in this order (each a function below)
----------------------------------------------------
1. ``rule_select_deposits``: drop deposits outside the active volume and below the deposit threshold
   (0.05 MeV), applied to each stored deposit (``threshold_mode="deposit"``, the default of this
   function) or to a particle's energy summed in a voxel (``"particle_voxel"``, Supera's rule).
2. ``rule_fragments``: build the fragments above from the particle tree.
3. ``rule_small_delta_joins_track``: a delta core with fewer than 3 voxels is relabelled track and
   handed to its parent track's fragment; with ``delta_unique=True`` (Supera's rule) also one with
   fewer than 3 voxels that its parent track does not hold.
4. ``rule_photon_pieces``: photon activity is judged piece by piece: each photon group is split into
   its connected pieces (26-neighbourhood), which play the part of the groups in rules 5 and 6
   (the Supera rules speak of "detached photon activity", docs/simulation.md §8: a Compton scatter far
   from the Michel does not become Michel because another scatter of the same photon touches it).
5. ``rule_photon_groups_touching``: a photon group hanging from a Michel, delta (one that
   survived rule 3) or shower core joins that core (label and owner) when its voxels touch the
   core's voxels, within 1 voxel (26-neighbourhood, Chebyshev distance <= 1, a shared voxel
   included). Touching is transitive: a group touching an already merged group of the same core
   also joins, i.e. the groups that join are those connected to the core in the touching graph
   of the core and its own groups. Groups of other particles play no part.
6. ``rule_detached_photon_size``: every photon group that did not join a core is low energy if it
   has fewer than 10 voxels and shower otherwise (its own fragment owns it).
7. ``rule_voxel_priority``: a voxel shared by several fragments takes the label of highest
   priority, track > shower > Michel > delta > low energy; among fragments of that label the one
   with the most energy in the voxel owns it (ties: the lower fragment id).
8. ``rule_low_energy_absorption``: each connected piece (26-neighbourhood) of low-energy voxels
   that touches voxels of another label takes the label of highest priority among the voxels it
   touches; the owner is that of the touched voxel of that label with the lowest linear key.

Energies of all kept deposits in a voxel are summed whatever their particle; they are summed as
integers of 1e-9 MeV so that the result is exactly independent of the order of the deposits.

Michel truth rows (``MICHEL_TRUTH_DTYPE``)
-----------------------------------------
One row per Michel electron of the table (process DECAY, |pdg| 11, parent |pdg| 13), in table
order: ``index`` (row in the particle table), ``energy_mev`` (true kinetic energy),
``n_label2`` (voxels labelled 2 whose owner is this Michel), ``n_core`` (voxels of the Michel
core, whatever label they ended with), ``n_subtree`` (distinct voxels holding any kept deposit of
the Michel or any of its descendants, all labels), ``label2_energy_mev`` (summed energy of its
label-2 voxels), ``contained``, ``subtree_contained``, ``muon_end_vox`` (the parent muon's end
point in voxel units, float, ``end / 3 mm``; may lie outside 0..768), ``muon_pdg``, and the visible
energy inside the volume of the Michel core (``core_energy_mev``: the electron's own ionization) and of
its whole subtree (``subtree_energy_mev``: with all photon activity, touching or not).

``contained`` is true when no deposit at or above the deposit threshold of the Michel core (the
electron and its own delta rays) lies outside the active volume: the electron's track is whole in
the image, the usual meaning of a contained particle (the real-data figure, 83%, counts this).

``subtree_contained`` is true when no energy of the Michel's subtree leaves the active volume: (a) none of
the deposits at or above the deposit threshold of the Michel or of any descendant lies outside
[0, 2304)^3 mm, and (b) every particle of the subtree (the Michel included) ends inside the
active volume, which catches photons that leave the world without depositing anything.
Deposits below the threshold are invisible wherever they are and do not count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from michelreco.sim.constants import (
    DEPOSIT_THRESHOLD_MEV, GRID_VOXELS, PDG_E, PDG_GAMMA, PDG_MU, VOXEL_MM,
)
from michelreco.constants import (LABEL_DELTA, LABEL_LOW_ENERGY, LABEL_MICHEL, LABEL_NAMES, LABEL_SHOWER,
                                  LABEL_TRACK)
from michelreco.reco.graph import voxel_graph
from michelreco.reco.voxel_hash import find_root, union_low
from michelreco.sim.record import PARTICLE_DTYPE, Process

__all__ = [
    "LABEL_SHOWER", "LABEL_TRACK", "LABEL_MICHEL", "LABEL_DELTA", "LABEL_LOW_ENERGY", "LABEL_NAMES",
    "PRIORITY", "KIND_NONE", "KIND_TRACK", "KIND_MICHEL", "KIND_DELTA", "KIND_SHOWER",
    "KIND_PHOTON",
    "DELTA_MIN_VOXELS", "PHOTON_SHOWER_MIN_VOXELS", "MICHEL_TRUTH_DTYPE",
    "LabelledEvent", "voxelize_and_label", "michel_mask",
    "THRESHOLD_MODES", "rule_select_deposits", "rule_fragments", "rule_small_delta_joins_track",
    "delta_unique_voxels",
    "rule_photon_groups_touching", "rule_detached_photon_size", "rule_voxel_priority",
    "rule_low_energy_absorption",
]

# Labels from highest to lowest priority when fragments share a voxel (docs/simulation.md §8).
PRIORITY = (LABEL_TRACK, LABEL_SHOWER, LABEL_MICHEL, LABEL_DELTA, LABEL_LOW_ENERGY)
DELTA_MIN_VOXELS = 3            # delta rays with fewer voxels join their parent track
PHOTON_SHOWER_MIN_VOXELS = 10   # detached photon activity with fewer voxels is low energy

# rank of each label in PRIORITY (0 = highest), and back
_RANK_OF_LABEL = np.empty(5, np.int8)
_RANK_OF_LABEL[list(PRIORITY)] = np.arange(5, dtype=np.int8)
_LABEL_OF_RANK = np.asarray(PRIORITY, dtype=np.int8)
_RANK_LOW_ENERGY = int(_RANK_OF_LABEL[LABEL_LOW_ENERGY])

# fragment kinds (stored at the fragment's root particle)
KIND_NONE, KIND_TRACK, KIND_MICHEL, KIND_DELTA, KIND_SHOWER, KIND_PHOTON = 0, 1, 2, 3, 4, 5
_LABEL_OF_KIND = np.array([-1, LABEL_TRACK, LABEL_MICHEL, LABEL_DELTA, LABEL_SHOWER, -1], np.int8)

_E_QUANTUM_MEV = 1e-9           # energies are summed as integers of this unit (order-independent)

MICHEL_TRUTH_DTYPE = np.dtype([
    ("index", np.int32),             # row of the Michel electron in the particle table
    ("energy_mev", np.float64),      # true kinetic energy, MeV
    ("n_label2", np.int32),          # voxels labelled Michel and owned by this Michel
    ("n_core", np.int32),            # voxels of the Michel core (electron and its own deltas)
    ("n_subtree", np.int32),         # voxels of the Michel and all its descendants, all labels
    ("label2_energy_mev", np.float64),  # summed energy of its label-2 voxels, MeV
    ("contained", np.bool_),         # no visible deposit of the Michel core outside the active volume
    ("subtree_contained", np.bool_),  # nor of any descendant, and every descendant ends inside
    ("muon_end_vox", np.float64, 3),  # parent muon's end point, voxel units (mm / 3 mm)
    ("muon_pdg", np.int32),          # the parent muon's code: -13 mu+ (free decay), 13 mu- (decay in orbit)
    ("core_energy_mev", np.float64),     # visible deposits of the electron and its own deltas in the volume
    ("subtree_energy_mev", np.float64),  # visible deposits of the electron and all descendants in the volume
])


@dataclass(frozen=True)
class LabelledEvent:
    """Voxels of one simulated event with their Supera-style labels and Michel truth.

    Attributes
    ----------
    coords : numpy.ndarray
        (N, 3) int32 voxel indices 0..767, sorted by linear key ``(x * 768 + y) * 768 + z``.
    energy : numpy.ndarray
        (N,) float32 summed deposit energy per voxel, MeV.
    label : numpy.ndarray
        (N,) int32 semantic label: 0 shower, 1 track, 2 Michel, 3 delta, 4 low energy.
    owner : numpy.ndarray
        (N,) int32 particle-table row of the root of the truth cluster that won the voxel.
    michels : numpy.ndarray
        One ``MICHEL_TRUTH_DTYPE`` row per Michel electron in the particle table.
    """

    coords: np.ndarray
    energy: np.ndarray
    label: np.ndarray
    owner: np.ndarray
    michels: np.ndarray

    def __len__(self) -> int:
        return int(self.energy.shape[0])

    def xyze(self) -> np.ndarray:
        """Return the challenge-format (N, 4) float32 array: x, y, z (voxel units), energy (MeV)."""
        out = np.empty((len(self), 4), np.float32)
        out[:, :3] = self.coords
        out[:, 3] = self.energy
        return out


def michel_mask(event: LabelledEvent) -> np.ndarray:
    """Return the boolean mask of the Michel (label 2) voxels of ``event``."""
    return event.label == LABEL_MICHEL


# --------------------------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _fragment_kernel(parent, abs_pdg, process, pdg_e, pdg_gamma, pdg_mu, proc_decay, proc_ioni):
    """Walk the particle tree (parents first) and assign fragments; see ``rule_fragments``."""
    n = parent.shape[0]
    frag = np.full(n, -1, np.int64)
    kind = np.zeros(n, np.int8)
    em_owner = np.full(n, -1, np.int64)
    michel_of = np.full(n, -1, np.int64)
    done = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int64)
    for i in range(n):
        if done[i]:
            continue
        top = 0
        j = i
        while j >= 0 and not done[j]:
            if top >= n:
                return frag, kind, em_owner, michel_of, False   # the parent links hold a cycle
            stack[top] = j
            top += 1
            j = parent[j]
        while top > 0:
            top -= 1
            j = stack[top]
            p = parent[j]
            a = abs_pdg[j]
            em = a == pdg_e or a == pdg_gamma
            if not em:
                frag[j] = j
                kind[j] = KIND_TRACK
            elif p < 0:
                frag[j] = j
                kind[j] = KIND_SHOWER
            else:
                pa = abs_pdg[p]
                if pa != pdg_e and pa != pdg_gamma:        # made by a track particle
                    frag[j] = j
                    if a == pdg_gamma:
                        kind[j] = KIND_PHOTON
                    elif process[j] == proc_decay and pa == pdg_mu:
                        kind[j] = KIND_MICHEL
                    elif process[j] == proc_ioni:
                        kind[j] = KIND_DELTA
                    else:
                        kind[j] = KIND_SHOWER
                else:
                    fp = frag[p]
                    if kind[fp] == KIND_PHOTON:            # below a photon: stays in its group
                        frag[j] = fp
                    elif a == pdg_gamma:                   # photon off a core: a new group
                        frag[j] = j
                        kind[j] = KIND_PHOTON
                        em_owner[j] = fp
                    else:                                  # electron off a core electron: same core
                        frag[j] = fp
            if kind[j] == KIND_MICHEL:
                michel_of[j] = j
            elif p >= 0:
                michel_of[j] = michel_of[p]
            done[j] = True
    return frag, kind, em_owner, michel_of, True


@njit(cache=True, nogil=True)
def _touch_kernel(vstart, pair_frag, core_of_group, indptr, nbrs):
    """Union fragments of a core with its photon groups when their voxels touch (Chebyshev <= 1).

    ``indptr``/``nbrs`` are the voxels' 26-neighbour lists. Returns a bool per fragment: the group is
    connected to its core.
    """
    n_frag = core_of_group.shape[0]
    uf = np.arange(n_frag)
    for v in range(vstart.shape[0] - 1):
        for ip in range(vstart[v], vstart[v + 1]):
            g = pair_frag[ip]
            core = core_of_group[g]
            if core < 0:
                continue
            for jp in range(vstart[v], vstart[v + 1]):            # a shared voxel touches too
                h = pair_frag[jp]
                if h == core or (h != g and core_of_group[h] == core):
                    union_low(uf, g, h)
            for k in range(indptr[v], indptr[v + 1]):
                w = nbrs[k]
                for jp in range(vstart[w], vstart[w + 1]):
                    h = pair_frag[jp]
                    if h == core or (h != g and core_of_group[h] == core):
                        union_low(uf, g, h)
    joined = np.zeros(n_frag, np.bool_)
    for g in range(n_frag):
        core = core_of_group[g]
        if core >= 0 and find_root(uf, g) == find_root(uf, core):
            joined[g] = True
    return joined


@njit(cache=True, nogil=True)
def _piece_kernel(vstart, pair_frag, is_photon, indptr, nbrs):
    """Connected pieces (26-neighbourhood) of each photon group's voxels, at the pair level.

    Returns, per pair, the lowest pair index of its piece (-1 for pairs of other fragments).
    """
    n_pairs = pair_frag.shape[0]
    uf = np.arange(n_pairs)
    for v in range(vstart.shape[0] - 1):
        for ip in range(vstart[v], vstart[v + 1]):
            g = pair_frag[ip]
            if not is_photon[g]:
                continue
            for k in range(indptr[v], indptr[v + 1]):
                w = nbrs[k]
                for jp in range(vstart[w], vstart[w + 1]):
                    if pair_frag[jp] == g:
                        union_low(uf, ip, jp)
    out = np.full(n_pairs, -1, np.int64)
    for ip in range(n_pairs):
        if is_photon[pair_frag[ip]]:
            out[ip] = find_root(uf, ip)
    return out


@njit(cache=True, nogil=True)
def _unique_kernel(vstart, pair_frag, is_delta, parent):
    """Per fragment, the voxels of a delta fragment that its parent fragment does not share."""
    count = np.zeros(is_delta.shape[0], np.int64)
    for v in range(vstart.shape[0] - 1):
        for ip in range(vstart[v], vstart[v + 1]):
            g = pair_frag[ip]
            if not is_delta[g]:
                continue
            shared = False
            for jp in range(vstart[v], vstart[v + 1]):
                if pair_frag[jp] == parent[g]:
                    shared = True
                    break
            if not shared:
                count[g] += 1
    return count


@njit(cache=True, nogil=True)
def _priority_kernel(vstart, pair_rank, pair_owner, pair_eq):
    """Per voxel: the best (lowest) rank; among its pairs the most energetic, then lower owner."""
    nv = vstart.shape[0] - 1
    rank = np.empty(nv, np.int8)
    owner = np.empty(nv, np.int64)
    for v in range(nv):
        b = vstart[v]
        br, bo, be = pair_rank[b], pair_owner[b], pair_eq[b]
        for ip in range(b + 1, vstart[v + 1]):
            r, o, e = pair_rank[ip], pair_owner[ip], pair_eq[ip]
            if r < br or (r == br and (e > be or (e == be and o < bo))):
                br, bo, be = r, o, e
        rank[v] = br
        owner[v] = bo
    return rank, owner


@njit(cache=True, nogil=True)
def _absorb_kernel(vkeys, rank, owner, indptr, nbrs, rank_le):
    """Connected low-energy pieces take the best rank they touch (owner: lowest touched key)."""
    nv = vkeys.shape[0]
    uf = np.arange(nv)
    le = np.flatnonzero(rank == rank_le)
    best_rank = np.full(nv, rank_le, np.int8)
    best_key = np.full(nv, -1, np.int64)
    best_owner = np.full(nv, -1, np.int64)
    # pass 1: connect the low-energy voxels
    for v in le:
        for k in range(indptr[v], indptr[v + 1]):
            w = nbrs[k]
            if rank[w] == rank_le:
                union_low(uf, v, w)
    # pass 2: the best touched label per piece
    for v in le:
        root = find_root(uf, v)
        for k in range(indptr[v], indptr[v + 1]):
            w = nbrs[k]
            r = rank[w]
            if r == rank_le:
                continue
            if r < best_rank[root] or (r == best_rank[root] and vkeys[w] < best_key[root]):
                best_rank[root] = r
                best_key[root] = vkeys[w]
                best_owner[root] = owner[w]
    new_rank = rank.copy()
    new_owner = owner.copy()
    for v in le:
        root = find_root(uf, v)
        if best_rank[root] != rank_le:
            new_rank[v] = best_rank[root]
            new_owner[v] = best_owner[root]
    return new_rank, new_owner


# --------------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------------

THRESHOLD_MODES = ("particle_voxel", "deposit")


def rule_select_deposits(deposits: np.ndarray, threshold_mev: float, voxel_mm: float,
                         grid_voxels: int, mode: str = "deposit") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rule 1: keep the deposits that pass the energy threshold inside the active volume.

    Parameters
    ----------
    deposits : numpy.ndarray
        (n, 5) float64: x, y, z (mm), energy (MeV), particle id.
    threshold_mev : float
        The energy threshold, MeV.
    voxel_mm : float
        Voxel pitch, mm.
    grid_voxels : int
        Voxels per side; the active volume is ``[0, voxel_mm * grid_voxels)`` mm per axis.
    mode : {"deposit", "particle_voxel"}, optional
        What the threshold applies to. ``"particle_voxel"``: the energy of one particle summed in one
        voxel, as Supera does (it voxelizes each particle's deposits, then drops the particle's voxels
        below the threshold, ``SuperaMCParticleCluster::ApplyEnergyThreshold``); the voxel grid is
        extended outside the active volume for the containment truth. ``"deposit"`` (default): each
        stored deposit on its own (the first simulator's rule, which drops the small pieces of a step
        cut at voxel planes and so depends on how finely a step is cut).

    Returns
    -------
    keep : numpy.ndarray
        (n,) bool, the kept deposits.
    above : numpy.ndarray
        (n,) bool, deposits that pass the threshold (inside the volume or not).
    key : numpy.ndarray
        (n_kept,) int64 linear voxel key ``(ix * G + iy) * G + iz`` of the kept deposits.
    """
    xyz = deposits[:, :3]
    inside = np.all((xyz >= 0.0) & (xyz < voxel_mm * grid_voxels), axis=1)
    if mode == "deposit":
        above = deposits[:, 3] >= threshold_mev
    elif mode == "particle_voxel":
        above = _particle_voxel_above(deposits, threshold_mev, voxel_mm)
    else:
        raise ValueError(f"threshold mode must be one of {THRESHOLD_MODES}, not {mode!r}")
    keep = above & inside
    ijk = np.floor(xyz[keep] / voxel_mm).astype(np.int64)
    np.clip(ijk, 0, grid_voxels - 1, out=ijk)   # x just below the edge may round up to G
    key = (ijk[:, 0] * grid_voxels + ijk[:, 1]) * grid_voxels + ijk[:, 2]
    return keep, above, key


def _particle_voxel_above(deposits: np.ndarray, threshold_mev: float, voxel_mm: float) -> np.ndarray:
    """Per deposit: does its particle's summed energy in its voxel (world grid) reach the threshold?"""
    n = deposits.shape[0]
    if n == 0:
        return np.zeros(0, np.bool_)
    ijk = np.floor(deposits[:, :3] / voxel_mm).astype(np.int64)
    ijk -= ijk.min(axis=0)
    span = int(ijk.max()) + 1
    pid = deposits[:, 4].astype(np.int64)
    if (int(pid.max()) + 1) * span ** 3 >= 2 ** 62:
        raise ValueError("deposits spread too far for the particle-voxel threshold")
    key = ((pid * span + ijk[:, 0]) * span + ijk[:, 1]) * span + ijk[:, 2]
    _, inverse = np.unique(key, return_inverse=True)
    # energies summed as integers, so the order of the deposits does not matter
    sums = np.zeros(int(inverse.max()) + 1, np.int64)
    np.add.at(sums, inverse, np.rint(deposits[:, 3] / _E_QUANTUM_MEV).astype(np.int64))
    return sums[inverse] >= int(round(threshold_mev / _E_QUANTUM_MEV))


def rule_fragments(particles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rule 2: split the particle tree into fragments (track, Michel/delta/shower core, photon).

    Parameters
    ----------
    particles : numpy.ndarray
        Particle table of ``PARTICLE_DTYPE``; ``id`` must equal the row number.

    Returns
    -------
    frag : numpy.ndarray
        (P,) int64 root row of each particle's fragment.
    kind : numpy.ndarray
        (P,) int8 fragment kind (``KIND_*``) at root rows, 0 elsewhere.
    core_of_group : numpy.ndarray
        (P,) int64, for photon-group roots hanging from a Michel, delta or shower core: that core's
        row; -1 elsewhere.
    michel_of : numpy.ndarray
        (P,) int64 row of the nearest Michel electron among the particle and its ancestors, or -1.
    """
    parent = particles["parent"].astype(np.int64)
    frag, kind, em_owner, michel_of, ok = _fragment_kernel(
        parent, np.abs(particles["pdg"]).astype(np.int64), particles["process"].astype(np.int64),
        PDG_E, PDG_GAMMA, PDG_MU, int(Process.DECAY), int(Process.IONI))
    if not ok:
        raise ValueError("the particle table's parent links contain a cycle")
    return frag, kind, em_owner, michel_of


def rule_small_delta_joins_track(kind: np.ndarray, parent: np.ndarray, frag_label: np.ndarray,
                                 frag_owner: np.ndarray, frag_nvox: np.ndarray,
                                 min_voxels: int, frag_unique_nvox: np.ndarray | None = None) -> np.ndarray:
    """Rule 3: delta cores with fewer than ``min_voxels`` voxels become track, owned by the parent.

    With ``frag_unique_nvox`` (voxels of the delta that its parent track does not also hold), a
    delta also joins its track when fewer than ``min_voxels`` of its voxels are its own, as Supera
    does (``SuperaMCParticleCluster::MergeShowerDeltas`` merges a delta whose voxel count *or* count
    of voxels not in the parent is below ``DeltaSize``). ``frag_label`` and ``frag_owner`` (indexed
    by root row) are updated in place.

    Returns
    -------
    numpy.ndarray
        (P,) bool, the demoted delta roots.
    """
    small = (kind == KIND_DELTA) & (frag_nvox < min_voxels)
    if frag_unique_nvox is not None:
        small |= (kind == KIND_DELTA) & (frag_unique_nvox < min_voxels)
    frag_label[small] = LABEL_TRACK
    frag_owner[small] = parent[small]      # the parent of a delta core is a track fragment root
    return small


def delta_unique_voxels(kind: np.ndarray, parent: np.ndarray, vstart: np.ndarray,
                        pair_frag: np.ndarray) -> np.ndarray:
    """Per fragment: for a delta core, how many of its voxels its parent track does not also hold (else 0)."""
    return _unique_kernel(vstart, pair_frag, kind == KIND_DELTA, parent)


def rule_photon_pieces(kind: np.ndarray, vstart: np.ndarray, pair_frag: np.ndarray, indptr: np.ndarray,
                       nbrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rule 4: photon activity is judged piece by piece: each photon group splits into its connected pieces.

    A photon Compton-scatters and converts at several places; each connected piece of its voxels
    (26-neighbourhood) touches the core or not, and is large or small, on its own. Pieces become new
    fragments numbered after the particle rows.

    Returns
    -------
    pair_frag : numpy.ndarray
        The pairs' fragments, with photon-group pairs moved to their piece.
    piece_root : numpy.ndarray
        (K,) photon-group root row of piece k, which is fragment ``len(kind) + k``.
    """
    piece_pair = _piece_kernel(vstart, pair_frag, kind == KIND_PHOTON, indptr, nbrs)
    is_piece = piece_pair >= 0
    firsts, piece_index = np.unique(piece_pair[is_piece], return_inverse=True)
    pair_frag = pair_frag.copy()
    roots = pair_frag[firsts]
    pair_frag[is_piece] = kind.shape[0] + piece_index
    return pair_frag, roots


def rule_photon_groups_touching(core_of_group: np.ndarray, demoted: np.ndarray, vstart: np.ndarray,
                                pair_frag: np.ndarray, frag_label: np.ndarray, frag_owner: np.ndarray,
                                indptr: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
    """Rule 5: photon groups touching their core (transitively through its groups) join the core.

    ``frag_label`` and ``frag_owner`` are updated in place; a delta core demoted by rule 3 takes
    no groups.

    Returns
    -------
    numpy.ndarray
        (P,) bool, the photon-group roots that joined their core.
    """
    core = core_of_group.copy()
    has_core = core >= 0
    core[has_core & demoted[np.maximum(core, 0)]] = -1
    joined = _touch_kernel(vstart, pair_frag, core, indptr, nbrs)
    frag_label[joined] = frag_label[core[joined]]
    frag_owner[joined] = core[joined]
    return joined


def rule_detached_photon_size(kind: np.ndarray, joined: np.ndarray, frag_label: np.ndarray,
                              frag_nvox: np.ndarray, min_voxels: int) -> None:
    """Rule 6: unjoined photon groups: low energy below ``min_voxels`` voxels, else shower.

    ``frag_label`` is updated in place (the group keeps itself as owner).
    """
    detached = (kind == KIND_PHOTON) & ~joined
    frag_label[detached] = np.where(frag_nvox[detached] < min_voxels,
                                    LABEL_LOW_ENERGY, LABEL_SHOWER)


def rule_voxel_priority(vstart: np.ndarray, pair_label: np.ndarray, pair_owner: np.ndarray,
                        pair_eq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rule 7: a shared voxel takes the highest-priority label; its most energetic cluster owns it.

    Returns
    -------
    rank : numpy.ndarray
        (N,) int8 priority rank of the voxel's label (index into ``PRIORITY``).
    owner : numpy.ndarray
        (N,) int64 owning fragment root.
    """
    return _priority_kernel(vstart, _RANK_OF_LABEL[pair_label], pair_owner, pair_eq)


def rule_low_energy_absorption(vkeys: np.ndarray, rank: np.ndarray, owner: np.ndarray, indptr: np.ndarray,
                               nbrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rule 8: a connected low-energy piece touching other labels takes the highest-priority one.

    Returns
    -------
    rank, owner : numpy.ndarray
        New per-voxel priority ranks and owners.
    """
    return _absorb_kernel(vkeys, rank, owner, indptr, nbrs, _RANK_LOW_ENERGY)


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------

def _check_inputs(particles: np.ndarray, deposits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    particles = np.asarray(particles)
    if particles.dtype != PARTICLE_DTYPE:
        particles = particles.astype(PARTICLE_DTYPE)
    deposits = np.asarray(deposits, dtype=np.float64)
    if deposits.ndim != 2 or deposits.shape[1] != 5:
        raise ValueError(f"deposits must be an (n, 5) array, got shape {deposits.shape}")
    n = particles.shape[0]
    if not np.array_equal(particles["id"], np.arange(n)):
        raise ValueError("particle ids must equal their row numbers")
    par = particles["parent"]
    if np.any((par < -1) | (par >= n)):
        raise ValueError("particle parent out of range")
    pid = deposits[:, 4]
    if pid.size and (np.any(pid != np.round(pid)) or pid.min() < 0 or pid.max() >= n):
        raise ValueError("deposit particle ids must be rows of the particle table")
    return particles, deposits


def voxelize_and_label(particles: np.ndarray, deposits: np.ndarray, *,
                       deposit_threshold_mev: float = DEPOSIT_THRESHOLD_MEV,
                       delta_min_voxels: int = DELTA_MIN_VOXELS,
                       photon_shower_min_voxels: int = PHOTON_SHOWER_MIN_VOXELS,
                       voxel_mm: float = VOXEL_MM,
                       grid_voxels: int = GRID_VOXELS,
                       threshold_mode: str = "deposit",
                       delta_unique: bool = False) -> LabelledEvent:
    """Voxelize an event's deposits and label the voxels with the Supera rules (see module doc).

    Parameters
    ----------
    particles : numpy.ndarray
        Particle table of ``record.PARTICLE_DTYPE`` (ids equal row numbers).
    deposits : numpy.ndarray
        (n, 5) float64: x, y, z (mm, world frame), energy (MeV), particle id.
    deposit_threshold_mev : float, optional
        Deposits below this energy (MeV) are dropped before voxelization (default 0.05 MeV).
    delta_min_voxels : int, optional
        Delta rays with fewer voxels join their parent track (default 3).
    photon_shower_min_voxels : int, optional
        Detached photon groups with fewer voxels are low energy, others shower (default 10).
    voxel_mm : float, optional
        Voxel pitch in mm (default 3 mm).
    grid_voxels : int, optional
        Voxels per side of the active volume (default 768).
    threshold_mode : {"deposit", "particle_voxel"}, optional
        What ``deposit_threshold_mev`` applies to (see :func:`rule_select_deposits`): each stored
        deposit (default, the first simulator's rule) or each particle's summed energy in a voxel
        (Supera's rule).
    delta_unique : bool, optional
        Rule 3 also demotes a delta with fewer than ``delta_min_voxels`` voxels that its parent
        track does not hold (Supera's rule); default False (all its voxels count).

    Returns
    -------
    LabelledEvent
        Voxels sorted by linear key, their energies, labels, owners and the Michel truth rows.

    Raises
    ------
    ValueError
        On a malformed truth record (ids not row numbers, parents or deposit ids out of range,
        cyclic parent links, deposits not (n, 5)).
    """
    particles, deposits = _check_inputs(particles, deposits)
    n_part = particles.shape[0]
    parent = particles["parent"].astype(np.int64)

    keep, above, key = rule_select_deposits(deposits, deposit_threshold_mev, voxel_mm, grid_voxels,
                                            threshold_mode)
    frag, kind, core_of_group, michel_of = rule_fragments(particles)

    # voxelize: one sort of (voxel, fragment) keys gives both voxels and per-fragment voxel sets
    pid = deposits[keep, 4].astype(np.int64)
    dfrag = frag[pid]
    eq = np.rint(deposits[keep, 3] / _E_QUANTUM_MEV).astype(np.int64)
    pk = key * max(n_part, 1) + dfrag
    order = np.argsort(pk)
    pk = pk[order]
    if pk.size:
        new_pair = np.empty(pk.size, np.bool_)
        new_pair[0] = True
        np.not_equal(pk[1:], pk[:-1], out=new_pair[1:])
        pstart = np.flatnonzero(new_pair)
        pair_eq = np.add.reduceat(eq[order], pstart)
    else:
        pstart = np.zeros(0, np.int64)
        pair_eq = np.zeros(0, np.int64)
    pair_key = pk[pstart] // max(n_part, 1)
    pair_frag = pk[pstart] - pair_key * max(n_part, 1)
    if pair_key.size:
        new_vox = np.empty(pair_key.size, np.bool_)
        new_vox[0] = True
        np.not_equal(pair_key[1:], pair_key[:-1], out=new_vox[1:])
        vfirst = np.flatnonzero(new_vox)
    else:
        vfirst = np.zeros(0, np.int64)
    vkeys = pair_key[vfirst]
    vstart = np.append(vfirst, pair_key.size).astype(np.int64)
    g2 = grid_voxels * grid_voxels
    coords = np.stack([vkeys // g2, (vkeys // grid_voxels) % grid_voxels, vkeys % grid_voxels],
                      axis=1).astype(np.int32)
    _, indptr, nbrs = voxel_graph(coords)   # the 26 touching neighbours of every voxel
    pair_frag, piece_root = rule_photon_pieces(kind, vstart, pair_frag, indptr, nbrs)
    # fragment arrays now cover particle rows and photon pieces; a piece's root particle is its photon's
    frag_root = np.concatenate([np.arange(n_part), piece_root]).astype(np.int64)
    kind = np.concatenate([kind, np.full(piece_root.size, KIND_PHOTON, kind.dtype)])
    core_of_group = np.concatenate([core_of_group, core_of_group[piece_root]])
    frag_parent = np.concatenate([parent, parent[piece_root]])
    frag_nvox = np.bincount(pair_frag, minlength=kind.size)   # pairs are distinct (voxel, fragment)

    frag_label = _LABEL_OF_KIND[kind].copy()
    frag_owner = frag_root.copy()
    unique = delta_unique_voxels(kind, frag_parent, vstart, pair_frag) if delta_unique else None
    demoted = rule_small_delta_joins_track(kind, frag_parent, frag_label, frag_owner, frag_nvox,
                                           delta_min_voxels, unique)
    joined = rule_photon_groups_touching(core_of_group, demoted, vstart, pair_frag,
                                         frag_label, frag_owner, indptr, nbrs)
    rule_detached_photon_size(kind, joined, frag_label, frag_nvox, photon_shower_min_voxels)
    rank, owner = rule_voxel_priority(vstart, frag_label[pair_frag], frag_owner[pair_frag], pair_eq)
    rank, owner = rule_low_energy_absorption(vkeys, rank, owner, indptr, nbrs)
    vox_eq = np.add.reduceat(pair_eq, vfirst) if vfirst.size else np.zeros(0, np.int64)
    energy = (vox_eq * _E_QUANTUM_MEV).astype(np.float32)
    label = _LABEL_OF_RANK[rank].astype(np.int32)
    owner = owner.astype(np.int32)

    michels = _michel_truth(particles, parent, deposits, keep, above, frag, michel_of, frag_root[pair_frag], vstart,
                            label, owner, energy, voxel_mm, grid_voxels)
    return LabelledEvent(coords=coords, energy=energy, label=label, owner=owner, michels=michels)


def _michel_truth(particles, parent, deposits, keep, above, frag, michel_of, pair_frag, vstart, label,
                  owner, energy, voxel_mm, grid_voxels) -> np.ndarray:
    """Build the ``MICHEL_TRUTH_DTYPE`` rows (see the module docstring for the definitions)."""
    n_part = particles.shape[0]
    is_michel = michel_of == np.arange(n_part)
    idx = np.flatnonzero(is_michel)
    m = idx.size
    rows = np.zeros(m, MICHEL_TRUTH_DTYPE)
    if m == 0:
        return rows
    row_of = np.full(n_part + 1, -1, np.int64)   # the extra last entry maps an index of -1 to -1
    row_of[idx] = np.arange(m)
    rows["index"] = idx
    rows["energy_mev"] = particles["energy"][idx]
    rows["muon_end_vox"] = particles["end"][parent[idx]] / voxel_mm
    rows["muon_pdg"] = particles["pdg"][parent[idx]]
    # visible energy in the volume: of the electron's own ionization, and of everything it made
    # (summed as integers of _E_QUANTUM_MEV, so the result does not depend on the order of the deposits)
    kept_pid = deposits[keep, 4].astype(np.int64)
    kept_q = np.rint(deposits[keep, 3] / _E_QUANTUM_MEV).astype(np.int64)
    for field, which in (("core_energy_mev", row_of[frag[kept_pid]]), ("subtree_energy_mev", row_of[michel_of[kept_pid]])):
        total = np.zeros(m, np.int64)
        np.add.at(total, which[which >= 0], kept_q[which >= 0])
        rows[field] = total * _E_QUANTUM_MEV

    lab2 = label == LABEL_MICHEL
    mo = row_of[owner[lab2]]
    ok = mo >= 0
    rows["n_label2"] = np.bincount(mo[ok], minlength=m)
    rows["label2_energy_mev"] = np.bincount(mo[ok], weights=energy[lab2][ok].astype(np.float64),
                                            minlength=m)
    core_rows = row_of[pair_frag]
    rows["n_core"] = np.bincount(core_rows[core_rows >= 0], minlength=m)

    # subtree: distinct (voxel, Michel) among the pairs; a fragment lies wholly in one subtree
    pair_vox = np.repeat(np.arange(vstart.size - 1), np.diff(vstart))
    sub = row_of[michel_of[pair_frag]]
    has = sub >= 0
    sub_keys = np.unique(pair_vox[has] * m + sub[has])
    rows["n_subtree"] = np.bincount(sub_keys % m, minlength=m)

    # containment of the core: no visible deposit of the Michel electron (or its own deltas) outside
    out_dep = above & ~keep
    out_pid = deposits[out_dep, 4].astype(np.int64)
    lost_core = np.zeros(m, np.bool_)
    core_m = row_of[frag[out_pid]]
    lost_core[core_m[core_m >= 0]] = True
    rows["contained"] = ~lost_core
    # containment of the subtree: (a) no visible subtree deposit outside, (b) every subtree particle ends inside
    lost = np.zeros(m, np.bool_)
    dep_m = row_of[michel_of[out_pid]]
    lost[dep_m[dep_m >= 0]] = True
    end = particles["end"]
    end_out = ~np.all((end >= 0.0) & (end < voxel_mm * grid_voxels), axis=1)
    part_m = row_of[michel_of[end_out]]
    lost[part_m[part_m >= 0]] = True
    rows["subtree_contained"] = ~lost
    return rows
