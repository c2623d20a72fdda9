"""Event generation: primaries like the challenge's generator, transport, labels, and files.

An event is a few "multi-particle vertex" interactions (particles of flat kinetic energy, isotropic, from
a vertex uniform in the active volume) plus cosmic-like "rain" (muons and protons, each from its own
point of the world box, see ``EventConfig``). Particles live in a world larger than the active volume by
``EventConfig.world_margin_mm`` on every side, so tracks enter and leave, and some muons stop outside
with only their Michel entering. ``PRESETS`` holds the ``default`` configuration (the real data's
conditions) and ``clean`` (the first simulator); ``docs/simulation.md`` describes both.

Each event is seeded by ``(seed, event index)`` alone, so the output does not depend on how events are
shared among worker processes: the same seed gives the same bytes.
"""

from __future__ import annotations

import io as _io
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from michelreco.errors import InputError
from michelreco.run.io import RowWriter, write_bytes_atomically
from michelreco.run.parallel import ordered_results, progress_bar
from .charged import transport_charged
from .constants import (ACTIVE_MM, M_MU, M_P, M_PI, PDG_E, PDG_GAMMA, PDG_MU, PDG_P, PDG_PI,
                        VOXEL_MM, WORLD_MARGIN_MM)
from .decay import products_at_rest
from .hadronic import inelastic_products, sample_interaction_mm
from .michel_spectrum import VARIANT_RADIATIVE
from .em import simulate_em_ext, to_event_ids
from .labels import (LABEL_LOW_ENERGY, LABEL_MICHEL, MICHEL_TRUTH_DTYPE, THRESHOLD_MODES, LabelledEvent,
                     voxelize_and_label)
from .record import PARTICLE_DTYPE, Process
from .rng import seed_numba

__all__ = ["EventConfig", "PRESETS", "VERTEX_SPECIES", "RAIN_SPECIES", "RAIN_STARTS", "SimPaths",
           "TRUTH_MICHEL_DTYPE", "primaries", "transport_event", "simulate_event", "simulate_file", "sim_paths"]


_HEAVY_MASS_MEV = {PDG_MU: M_MU, PDG_PI: M_PI, PDG_P: M_P}

# Michel truth as stored in PREFIX_truth.npz: the labeller's row plus the event and attachment.
TRUTH_MICHEL_DTYPE = np.dtype([("event", np.int64)] + MICHEL_TRUTH_DTYPE.descr + [("attached", np.bool_)])


# Multi-particle vertices, like the challenge generator ("ParticleBomb" MPV, docs/simulation.md §8):
# (pdg, weight, min KE, max KE), drawn flat in kinetic energy (MeV; photons: energy). The published
# description lists the species (e+-, gamma, mu+-, pi+-, p) but not their weights: the default takes
# the five families as equally likely.
VERTEX_SPECIES = ((PDG_E, 0.15, 10.0, 1000.0), (-PDG_E, 0.05, 10.0, 1000.0),
                  (PDG_GAMMA, 0.20, 10.0, 1000.0), (PDG_MU, 0.10, 20.0, 1000.0),
                  (-PDG_MU, 0.10, 20.0, 1000.0), (PDG_PI, 0.10, 20.0, 1000.0),
                  (-PDG_PI, 0.10, 20.0, 1000.0), (PDG_P, 0.20, 20.0, 600.0))
# Cosmic-like rain, drawn log-uniform in kinetic energy: mu+/mu- about 1.25 (the sea-level charge
# ratio, PDG "Cosmic rays"), some protons. The default keeps the low-energy muons, those that stop
# in or around the image (their Michels are what the rain adds); see docs/simulation.md.
RAIN_SPECIES = ((-PDG_MU, 0.47, 10.0, 400.0), (PDG_MU, 0.38, 10.0, 400.0), (PDG_P, 0.15, 30.0, 600.0))
# The first simulator's content (the ``clean`` preset).
CLEAN_VERTEX_SPECIES = ((PDG_E, 0.12, 10.0, 1000.0), (-PDG_E, 0.04, 10.0, 1000.0),
                        (PDG_GAMMA, 0.14, 10.0, 1000.0), (PDG_MU, 0.14, 20.0, 1000.0),
                        (-PDG_MU, 0.14, 20.0, 1000.0), (PDG_PI, 0.12, 20.0, 1000.0),
                        (-PDG_PI, 0.10, 20.0, 1000.0), (PDG_P, 0.20, 20.0, 600.0))
CLEAN_RAIN_SPECIES = ((-PDG_MU, 0.47, 30.0, 3000.0), (PDG_MU, 0.38, 30.0, 3000.0), (PDG_P, 0.15, 30.0, 600.0))
RAIN_STARTS = ("outside", "faces", "world")
KNOCKON_MAX_MEV = 1.0   # the explicit delta-ray cut of the transport kernels
DEFAULT_WORLD_MARGIN_MM = 250.0


@dataclass(frozen=True)
class EventConfig:
    """What an event holds and which physics shapes it. Energies in MeV, lengths in mm.

    Counts are inclusive ranges ``(lo, hi)``. The defaults are the ``default`` preset, the real
    data's conditions (``docs/simulation.md`` gives the figures each field moves);
    ``PRESETS["clean"]`` is the first simulator, kept for comparison.

    Attributes
    ----------
    vertices : tuple of int
        Multi-particle vertices per event, uniform in the active volume.
    particles_per_vertex : tuple of int
        Particles per vertex, isotropic; species and flat kinetic-energy range from ``vertex_species``.
    vertex_species : tuple
        ``(pdg, weight, min KE MeV, max KE MeV)`` rows.
    rain : tuple of int
        Rain particles per event (independent single particles, cosmic-like).
    rain_species : tuple
        ``(pdg, weight, min KE MeV, max KE MeV)`` rows, drawn log-uniform in kinetic energy.
    rain_start : str
        Where a rain particle starts:

        - ``"outside"`` (default): uniform in the world box outside the active volume, isotropic: rain
          from the argon around the image. Low-energy muons stop there, and those that stop within a
          few cm of a face put only their Michel into the image.
        - ``"faces"``: on a world face, ``world_margin_mm`` outside, aimed at a uniform point of the
          active volume (the ``clean`` preset).
        - ``"world"``: uniform in the whole world box, isotropic.
    world_margin_mm : float
        The world (where particles are transported) is the active volume grown by this (mm) on every side.
    knockon_min_mev : float
        Knock-on electrons between this and the 1 MeV delta-ray cut (MeV) are made explicitly, from
        tracks and from electrons, and deposited along their short multiple-scattered path as part of
        the particle that made them. 0 disables (those transfers stay in the continuous loss).
    local_walk : bool
        Compton and photo-electrons below 0.3 MeV deposit along a short path rather than at one point.
    threshold_mode : str
        What the 0.05 MeV deposit threshold applies to: ``"particle_voxel"`` (default), a particle's
        energy summed in a voxel, as Supera does; ``"deposit"``, every stored piece of a step on its
        own (the ``clean`` preset).
    lateral_spread_mm : float
        Width (mm) of the Gaussian lateral profile of every deposit: the share beyond a voxel face goes
        to the neighbouring voxel (``segments.deposit_point``). 0 disables.
    walk_below_mev : float
        Electrons and positrons below this kinetic energy (MeV) finish with a short walk instead of
        condensed-history steps (``em.short_electron_walk``). 0 disables.
    delta_unique_voxels : bool
        A delta ray needs 3 voxels that its parent track does not hold to keep the delta label
        (Supera's rule); False: 3 voxels of any kind (the first simulator).
    hadronic_scale : float
        Scale of the pion and proton nuclear cross sections (``hadronic``); 0 disables.
    """

    vertices: tuple[int, int] = (1, 3)
    particles_per_vertex: tuple[int, int] = (1, 5)
    vertex_species: tuple = VERTEX_SPECIES
    rain: tuple[int, int] = (1, 4)
    rain_species: tuple = RAIN_SPECIES
    rain_start: str = "outside"
    world_margin_mm: float = DEFAULT_WORLD_MARGIN_MM
    knockon_min_mev: float = 0.3
    local_walk: bool = True
    threshold_mode: str = "particle_voxel"
    lateral_spread_mm: float = 0.35
    walk_below_mev: float = 1.0
    delta_unique_voxels: bool = True
    hadronic_scale: float = 1.0

    def __post_init__(self):
        for name in ("vertices", "particles_per_vertex", "rain"):
            lo, hi = getattr(self, name)
            if not (0 <= lo <= hi):
                raise InputError(f"{name} must be a range 0 <= LO <= HI, not {lo}-{hi}")
        if self.rain_start not in RAIN_STARTS:
            raise InputError(f"rain_start must be one of {', '.join(RAIN_STARTS)}, not {self.rain_start!r}")
        if not self.world_margin_mm >= 0:
            raise InputError(f"world_margin_mm must be >= 0, not {self.world_margin_mm}")
        if self.rain_start == "outside" and self.rain[1] > 0 and not self.world_margin_mm > 0:
            raise InputError("rain_start 'outside' needs a world margin > 0 mm")
        if self.threshold_mode not in THRESHOLD_MODES:
            raise InputError(f"threshold_mode must be one of {', '.join(THRESHOLD_MODES)}, "
                             f"not {self.threshold_mode!r}")
        if not 0 <= self.lateral_spread_mm <= 3.0:
            raise InputError(f"lateral_spread_mm must be in [0, 3] mm, not {self.lateral_spread_mm}")
        if self.lateral_spread_mm > 0 and self.threshold_mode != "particle_voxel":
            raise InputError("a lateral spread needs threshold_mode 'particle_voxel' (its spills are small pieces)")
        if not 0 <= self.knockon_min_mev < KNOCKON_MAX_MEV:
            raise InputError(f"knockon_min_mev must be in [0, {KNOCKON_MAX_MEV:g}) MeV, not {self.knockon_min_mev}")
        if not 0 <= self.walk_below_mev <= 5.0:
            raise InputError(f"walk_below_mev must be in [0, 5] MeV, not {self.walk_below_mev}")
        if not 0 <= self.hadronic_scale <= 10.0:
            raise InputError(f"hadronic_scale must be in [0, 10], not {self.hadronic_scale}")
        for name in ("vertex_species", "rain_species"):
            rows = getattr(self, name)
            if not rows or any(len(r) != 4 or r[1] < 0 or not 0 < r[2] <= r[3] for r in rows) \
                    or sum(r[1] for r in rows) <= 0:
                raise InputError(f"{name} must be rows (pdg, weight >= 0, min KE > 0, max KE >= min KE) "
                                 f"with a positive total weight")

    @property
    def world_lo(self) -> np.ndarray:
        """Lower corner of the world box, mm."""
        return np.full(3, -float(self.world_margin_mm))

    @property
    def world_hi(self) -> np.ndarray:
        """Upper corner of the world box, mm."""
        return np.full(3, ACTIVE_MM + float(self.world_margin_mm))

    def to_json(self) -> str:
        """The configuration as a JSON object (stored in the truth file)."""
        return json.dumps(asdict(self), sort_keys=True)


PRESETS = {
    "default": EventConfig(),
    # the first simulator: rain entering from the faces, no sub-MeV knock-ons, point-like local electrons
    "clean": EventConfig(vertex_species=CLEAN_VERTEX_SPECIES, rain_species=CLEAN_RAIN_SPECIES,
                         rain_start="faces", world_margin_mm=WORLD_MARGIN_MM, knockon_min_mev=0.0,
                         local_walk=False, threshold_mode="deposit", lateral_spread_mm=0.0,
                         walk_below_mev=0.0, delta_unique_voxels=False, hadronic_scale=0.0),
}


def _choose_species(rng: np.random.Generator, species, log: bool = False) -> tuple[int, float]:
    weights = np.array([s[1] for s in species])
    pdg, _, lo, hi = species[rng.choice(len(species), p=weights / weights.sum())]
    energy = np.exp(rng.uniform(np.log(lo), np.log(hi))) if log else rng.uniform(lo, hi)
    return pdg, energy


def _isotropic(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def primaries(rng: np.random.Generator, config: EventConfig = EventConfig()) -> list[tuple]:
    """Primary particles of one event: (pdg, position mm, unit direction, kinetic energy MeV)."""
    out = []
    world_lo, world_hi = config.world_lo, config.world_hi
    for _ in range(rng.integers(config.vertices[0], config.vertices[1] + 1)):
        vertex = rng.uniform(0.0, ACTIVE_MM, 3)
        for _ in range(rng.integers(config.particles_per_vertex[0], config.particles_per_vertex[1] + 1)):
            pdg, energy = _choose_species(rng, config.vertex_species)
            out.append((pdg, vertex.copy(), _isotropic(rng), energy))
    for _ in range(rng.integers(config.rain[0], config.rain[1] + 1)):
        pdg, energy = _choose_species(rng, config.rain_species, log=True)
        start = rng.uniform(world_lo, world_hi)
        if config.rain_start == "outside":
            # uniform in the world box outside the active volume (rejection), isotropic
            while config.world_margin_mm > 0 and np.all((start >= 0.0) & (start < ACTIVE_MM)):
                start = rng.uniform(world_lo, world_hi)
            direction = _isotropic(rng)
        elif config.rain_start == "world":
            # anywhere in the world box, isotropic
            direction = _isotropic(rng)
        else:
            # enter through a world face, aimed at a random point of the active volume
            axis = rng.integers(3)
            start[axis] = world_lo[axis] if rng.random() < 0.5 else world_hi[axis]
            target = rng.uniform(0.0, ACTIVE_MM, 3)
            direction = (target - start) / np.linalg.norm(target - start)
        out.append((pdg, start, direction, energy))
    return out


# Transport settings passed to the kernels explicitly (a numba call that leaves optional arguments
# to their defaults takes a slow dispatch path, ~85 us a call).
_STEP_MM, _DELTA_CUT_MEV = 1.0, 1.0
_EM_K_CUT, _EM_E_STOP, _EM_E_LOCAL, _EM_PHOTON_CUT, _EM_STEP_MAX, _EM_LOSS_FRAC = 0.2, 0.1, 0.3, 0.01, 1.0, 0.2


def transport_event(prims: list[tuple], config: EventConfig = EventConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Transport primaries and all their secondaries; return (particle table, deposits (n, 5)).

    Numba's generator must have been seeded (``seed_numba``). Particle ids are table rows.
    """
    world_lo, world_hi = config.world_lo, config.world_hi
    knock = float(config.knockon_min_mev)
    walk = bool(config.local_walk)
    spread = float(config.lateral_spread_mm)
    merge = config.threshold_mode == "particle_voxel"   # merging is exact under a per-particle-voxel threshold
    hadronic = float(config.hadronic_scale)
    tables: list[np.ndarray] = []
    deposits: list[np.ndarray] = []
    n_rows = 0
    stack = [(pdg, pos, d, e, -1, int(Process.PRIMARY)) for pdg, pos, d, e in reversed(prims)]
    while stack:
        pdg, pos, direction, energy, parent, process = stack.pop()
        pos = np.asarray(pos, np.float64)
        direction = np.asarray(direction, np.float64)
        energy = float(energy)
        row = np.zeros(1, PARTICLE_DTYPE)
        row["id"], row["parent"], row["pdg"], row["process"] = n_rows, parent, pdg, process
        row["energy"], row["start"] = energy, pos
        pid = n_rows
        if abs(pdg) in _HEAVY_MASS_MEV:
            interact = sample_interaction_mm(pdg, energy, hadronic)
            dep, end, end_dir, t_end, secondaries, stopped = transport_charged(
                _HEAVY_MASS_MEV[abs(pdg)], 1.0, pos, direction, energy, world_lo, world_hi,
                _STEP_MM, _DELTA_CUT_MEV, knock, spread, merge, interact)
            row["end"] = end
            tables.append(row)
            n_rows += 1
            deposits.append(np.column_stack([dep, np.full(len(dep), pid, np.float64)]))
            if stopped:
                secondaries = np.vstack([secondaries, products_at_rest(pdg, end, VARIANT_RADIATIVE)])
            elif interact < np.inf and t_end > 0.0 and np.all((end >= world_lo) & (end < world_hi)):
                secondaries = np.vstack([secondaries, inelastic_products(pdg, t_end, end, end_dir)])
            for s in secondaries[::-1]:
                stack.append((int(s[0]), s[2:5], s[5:8], float(s[8]), pid, int(s[1])))
        elif abs(pdg) in (PDG_E, PDG_GAMMA):
            dep, cascade, given = simulate_em_ext(
                pdg, pos, direction, energy, world_lo, world_hi, _EM_K_CUT, _DELTA_CUT_MEV, _EM_E_STOP,
                _EM_E_LOCAL, _EM_PHOTON_CUT, _EM_STEP_MAX, _EM_LOSS_FRAC, 0.0, knock, walk, spread, merge,
                float(config.walk_below_mev))
            row["end"] = given[:3]
            dep, table = to_event_ids(dep, cascade, pid + 1, pid)
            tables.extend([row, table])
            n_rows += 1 + len(table)
            deposits.append(dep)
        else:  # neutral hadrons: no deposits in this model
            row["end"] = pos
            tables.append(row)
            n_rows += 1
    particles = np.concatenate(tables) if tables else np.zeros(0, PARTICLE_DTYPE)
    deps = np.concatenate(deposits) if deposits else np.zeros((0, 5))
    return particles, deps


@dataclass
class SimulatedEvent:
    """One simulated event: the voxels in file order, their labels, Michel truth rows, Michel voxel owners."""

    xyze: np.ndarray
    labels: np.ndarray
    michels: np.ndarray         # TRUTH_MICHEL_DTYPE rows, event column unset
    michel_voxels: np.ndarray   # (k, 2): index of each label-2 voxel, event-local row in ``michels`` (-1: none)


def _event_seeds(seed: int, index: int) -> tuple[np.random.Generator, int]:
    ss = np.random.SeedSequence([seed, index])
    state = ss.generate_state(2, np.uint32)
    return np.random.default_rng(state[0]), int(state[1])


def simulate_event(seed: int, index: int, grouped: bool = False,
                   config: EventConfig = EventConfig()) -> SimulatedEvent:
    """Simulate event ``index`` of a sample with ``seed``: primaries, transport, voxels, labels."""
    rng, numba_seed = _event_seeds(seed, index)
    seed_numba(numba_seed)
    particles, deposits = transport_event(primaries(rng, config), config)
    ev = voxelize_and_label(particles, deposits, threshold_mode=config.threshold_mode,
                            delta_unique=config.delta_unique_voxels)
    order = _voxel_order(ev, rng, grouped)
    michels = np.zeros(len(ev.michels), TRUTH_MICHEL_DTYPE)
    for name in MICHEL_TRUTH_DTYPE.names:
        michels[name] = ev.michels[name]
    # a visible muon end: the parent muon stopped inside the active volume
    end_mm = ev.michels["muon_end_vox"] * VOXEL_MM
    michels["attached"] = np.all((end_mm >= 0) & (end_mm < ACTIVE_MM), axis=1)
    labels = ev.label[order].astype(np.int32)
    return SimulatedEvent(ev.xyze()[order], labels, michels,
                          _michel_voxels(labels, ev.owner[order], ev.michels["index"]))


def _michel_voxels(labels: np.ndarray, owner: np.ndarray, michel_rows: np.ndarray) -> np.ndarray:
    """(k, 2) int64: file-order index of every label-2 voxel and the event-local Michel truth row owning it."""
    idx = np.flatnonzero(labels == LABEL_MICHEL)
    row = np.full(idx.size, -1, np.int64)
    if michel_rows.size and idx.size:
        srt = np.argsort(michel_rows)
        pos = np.clip(np.searchsorted(michel_rows[srt], owner[idx]), 0, michel_rows.size - 1)
        hit = michel_rows[srt][pos] == owner[idx]
        row[hit] = srt[pos[hit]]
    return np.column_stack([idx, row]).astype(np.int64)


def _voxel_order(ev: LabelledEvent, rng: np.random.Generator, grouped: bool) -> np.ndarray:
    """Random voxel order, or grouped by truth cluster with low-energy voxels first (like the real files)."""
    if not grouped:
        return rng.permutation(len(ev))
    return np.lexsort((ev.owner, ev.label != LABEL_LOW_ENERGY))


def _simulate_range(seed: int, start: int, stop: int, grouped: bool,
                    config: EventConfig) -> list[SimulatedEvent]:
    """Events [start, stop) of a sample."""
    return [simulate_event(seed, i, grouped, config) for i in range(start, stop)]


@dataclass(frozen=True)
class SimPaths:
    """The three files of a simulated sample."""

    xyze: Path
    labels: Path
    truth: Path


def sim_paths(prefix) -> SimPaths:
    """File names for a prefix: PREFIX_xyze.h5, PREFIX_label.h5, PREFIX_truth.npz."""
    prefix = str(prefix)
    return SimPaths(Path(prefix + "_xyze.h5"), Path(prefix + "_label.h5"), Path(prefix + "_truth.npz"))


def simulate_file(prefix, n_events: int, seed: int = 0, workers: int = 1, grouped: bool = False,
                  force: bool = False, progress: bool = True, chunk: int = 20,
                  config: EventConfig = EventConfig()) -> SimPaths:
    """Simulate ``n_events`` events into PREFIX_xyze.h5 (``data``), PREFIX_label.h5 (``labels``), PREFIX_truth.npz.

    Parameters
    ----------
    prefix : str or path
        Output prefix.
    n_events : int
        Events to simulate (at least 1).
    seed : int, optional
        Sample seed; event ``i`` depends only on ``(seed, i)`` and ``config``.
    workers : int, optional
        Worker processes (the output does not depend on it).
    grouped : bool, optional
        Order voxels by truth cluster, low energy first (like the real files); default random order.
    force : bool, optional
        Overwrite existing outputs.
    progress : bool, optional
        Show a progress bar.
    chunk : int, optional
        Events per task.
    config : EventConfig, optional
        Event content and physics (default: the ``default`` preset).

    Returns
    -------
    SimPaths
        The three files. The truth file holds ``seed``, ``n_voxels`` (per event), ``config`` (JSON),
        ``michels`` (``TRUTH_MICHEL_DTYPE`` rows) and ``michel_voxels`` ((k, 3) int64: event, voxel
        index in the event's file order, row of ``michels`` owning that label-2 voxel or -1).
    """
    if n_events < 1:
        raise InputError("--events must be at least 1")
    paths = sim_paths(prefix)
    for p in (paths.xyze, paths.labels, paths.truth):
        if p.exists() and not force:
            raise InputError(f"{p}: exists; use --force to overwrite")
    ranges = [(lo, min(lo + chunk, n_events)) for lo in range(0, n_events, chunk)]
    michels, n_voxels, mvox = [], np.zeros(n_events, np.int64), []
    n_michels = 0
    bar = progress_bar(n_events, progress, unit="ev")
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        with RowWriter(paths.xyze, n_events, np.float32, "data", force) as wx, \
                RowWriter(paths.labels, n_events, np.int32, "labels", force) as wl:
            for (lo, _), events in zip(ranges, ordered_results(pool, _simulate_range, workers,
                                                               [(seed, lo, hi, grouped, config) for lo, hi in ranges])):
                for k, ev in enumerate(events):
                    wx.append(ev.xyze)
                    wl.append(ev.labels)
                    ev.michels["event"] = lo + k
                    michels.append(ev.michels)
                    n_voxels[lo + k] = len(ev.labels)
                    mv = ev.michel_voxels
                    mvox.append(np.column_stack([np.full(len(mv), lo + k), mv[:, 0],
                                                 np.where(mv[:, 1] >= 0, mv[:, 1] + n_michels, -1)]))
                    n_michels += len(ev.michels)
                bar.update(len(events))
            mvox = np.concatenate(mvox).astype(np.int64) if mvox else np.zeros((0, 3), np.int64)
            _save_truth(paths.truth, seed=seed, n_voxels=n_voxels, config=np.array(config.to_json()),
                        michels=np.concatenate(michels) if michels else np.zeros(0, TRUTH_MICHEL_DTYPE),
                        michel_voxels=mvox)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return paths


def _save_truth(path: Path, **arrays) -> None:
    """Write an .npz through a temporary name (np.savez to a buffer, then an atomic write)."""
    buf = _io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomically(path, buf.getvalue())
