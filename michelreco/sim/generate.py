"""Event generation: primaries like the challenge's generator, transport, labels, and files.

An event is a few "multi-particle vertex" interactions (particles of flat kinetic energy, isotropic, from
a vertex uniform in the active volume) plus cosmic-like "rain" (muons and protons, each from its own
point of the world box, see ``EventConfig``). Particles live in a world larger than the active volume by
``WORLD_MARGIN_MM`` on every side, so tracks enter and leave, and some muons stop outside with only their
Michel entering (DESIGN.md §2).

Each event is seeded by ``(seed, event index)`` alone, so the output does not depend on how events are
shared among worker processes: the same seed gives the same bytes.
"""

from __future__ import annotations

import io as _io
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from michelreco.errors import InputError
from michelreco.run.io import RowWriter, write_bytes_atomically
from michelreco.run.parallel import ordered_results, progress_bar
from .charged import transport_charged
from .constants import (ACTIVE_MM, M_MU, M_P, M_PI, PDG_E, PDG_GAMMA, PDG_MU, PDG_P, PDG_PI,
                        VOXEL_MM, WORLD_MARGIN_MM)
from .decay import products_at_rest
from .em import simulate_em_ext, to_event_ids
from .labels import LABEL_LOW_ENERGY, MICHEL_TRUTH_DTYPE, LabelledEvent, voxelize_and_label
from .record import PARTICLE_DTYPE, Process
from .rng import seed_numba

__all__ = ["EventConfig", "SimPaths", "TRUTH_MICHEL_DTYPE", "primaries", "transport_event",
           "simulate_event", "simulate_file", "sim_paths"]

WORLD_LO = np.full(3, -WORLD_MARGIN_MM)
WORLD_HI = np.full(3, ACTIVE_MM + WORLD_MARGIN_MM)

_HEAVY_MASS_MEV = {PDG_MU: M_MU, PDG_PI: M_PI, PDG_P: M_P}

# Michel truth as stored in PREFIX_truth.npz: the labeller's row plus the event and attachment.
TRUTH_MICHEL_DTYPE = np.dtype([("event", np.int64)] + MICHEL_TRUTH_DTYPE.descr + [("attached", np.bool_)])


@dataclass(frozen=True)
class EventConfig:
    """What an event holds. Energies are kinetic, MeV (photons: energy); counts are inclusive ranges.

    The vertex species and energy ranges follow the challenge generator (DESIGN.md §2). The rain is
    cosmic-like in content: mostly muons (mu+/mu- about 1.25, the sea-level charge ratio), some
    protons, with a falling (log-uniform) kinetic-energy spectrum. Where rain starts
    (``rain_start``):

    - ``"faces"`` (default): each rain particle starts on a world face, 400 mm outside the active
      volume, aimed at a uniform point of it: cosmic-like tracks entering from the faces, crossing
      or stopping; those that stop in the margin put only their Michel into the image.
    - ``"world"``: each rain particle starts at a point uniform in the whole world box (the active
      volume grown by ``WORLD_MARGIN_MM`` on every side), in an isotropic direction, as the
      challenge generator's rain block may do; tracks then also start inside the image.
    """

    vertices: tuple[int, int] = (1, 3)
    # (pdg, weight, min KE, max KE) of vertex particles, drawn flat in KE
    particles_per_vertex: tuple[int, int] = (1, 5)
    vertex_species: tuple = ((PDG_E, 0.12, 10.0, 1000.0), (-PDG_E, 0.04, 10.0, 1000.0),
                             (PDG_GAMMA, 0.14, 10.0, 1000.0), (PDG_MU, 0.14, 20.0, 1000.0),
                             (-PDG_MU, 0.14, 20.0, 1000.0), (PDG_PI, 0.12, 20.0, 1000.0),
                             (-PDG_PI, 0.10, 20.0, 1000.0), (PDG_P, 0.20, 20.0, 600.0))
    rain: tuple[int, int] = (1, 4)
    # rain species, drawn log-uniform in KE: the falling cosmic spectrum, and many low-energy muons
    # stop in the margin around the active volume, so only their Michel enters
    rain_species: tuple = ((-PDG_MU, 0.47, 30.0, 3000.0), (PDG_MU, 0.38, 30.0, 3000.0),
                           (PDG_P, 0.15, 30.0, 600.0))
    rain_start: str = "faces"


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
    for _ in range(rng.integers(config.vertices[0], config.vertices[1] + 1)):
        vertex = rng.uniform(0.0, ACTIVE_MM, 3)
        for _ in range(rng.integers(config.particles_per_vertex[0], config.particles_per_vertex[1] + 1)):
            pdg, energy = _choose_species(rng, config.vertex_species)
            out.append((pdg, vertex.copy(), _isotropic(rng), energy))
    for _ in range(rng.integers(config.rain[0], config.rain[1] + 1)):
        pdg, energy = _choose_species(rng, config.rain_species, log=True)
        start = rng.uniform(WORLD_LO, WORLD_HI)
        if config.rain_start == "world":
            # anywhere in the world box, isotropic
            direction = _isotropic(rng)
        elif config.rain_start == "faces":
            # enter through a world face, aimed at a random point of the active volume
            axis = rng.integers(3)
            start[axis] = WORLD_LO[axis] if rng.random() < 0.5 else WORLD_HI[axis]
            target = rng.uniform(0.0, ACTIVE_MM, 3)
            direction = (target - start) / np.linalg.norm(target - start)
        else:
            raise InputError(f"rain_start must be 'world' or 'faces', not {config.rain_start!r}")
        out.append((pdg, start, direction, energy))
    return out


def transport_event(prims: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Transport primaries and all their secondaries; return (particle table, deposits (n, 5)).

    Numba's generator must have been seeded (``seed_numba``). Particle ids are table rows.
    """
    tables: list[np.ndarray] = []
    deposits: list[np.ndarray] = []
    n_rows = 0
    stack = [(pdg, pos, d, e, -1, int(Process.PRIMARY)) for pdg, pos, d, e in reversed(prims)]
    while stack:
        pdg, pos, direction, energy, parent, process = stack.pop()
        pos = np.asarray(pos, np.float64)
        direction = np.asarray(direction, np.float64)
        row = np.zeros(1, PARTICLE_DTYPE)
        row["id"], row["parent"], row["pdg"], row["process"] = n_rows, parent, pdg, process
        row["energy"], row["start"] = energy, pos
        pid = n_rows
        if abs(pdg) in _HEAVY_MASS_MEV:
            dep, end, _, _, secondaries, stopped = transport_charged(
                _HEAVY_MASS_MEV[abs(pdg)], 1.0, pos, direction, energy, WORLD_LO, WORLD_HI)
            row["end"] = end
            tables.append(row)
            n_rows += 1
            deposits.append(np.column_stack([dep, np.full(len(dep), pid, np.float64)]))
            if stopped:
                secondaries = np.vstack([secondaries, products_at_rest(pdg, end)])
            for s in secondaries[::-1]:
                stack.append((int(s[0]), s[2:5], s[5:8], float(s[8]), pid, int(s[1])))
        elif abs(pdg) in (PDG_E, PDG_GAMMA):
            dep, cascade, given = simulate_em_ext(pdg, pos, direction, energy, WORLD_LO, WORLD_HI)
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
    """One simulated event: the voxels in file order, their labels, and Michel truth rows."""

    xyze: np.ndarray
    labels: np.ndarray
    michels: np.ndarray     # TRUTH_MICHEL_DTYPE rows, event column unset


def _event_seeds(seed: int, index: int) -> tuple[np.random.Generator, int]:
    ss = np.random.SeedSequence([seed, index])
    state = ss.generate_state(2, np.uint32)
    return np.random.default_rng(state[0]), int(state[1])


def simulate_event(seed: int, index: int, grouped: bool = False,
                   config: EventConfig = EventConfig()) -> SimulatedEvent:
    """Simulate event ``index`` of a sample with ``seed``: primaries, transport, voxels, labels."""
    rng, numba_seed = _event_seeds(seed, index)
    seed_numba(numba_seed)
    particles, deposits = transport_event(primaries(rng, config))
    ev = voxelize_and_label(particles, deposits)
    order = _voxel_order(ev, rng, grouped)
    michels = np.zeros(len(ev.michels), TRUTH_MICHEL_DTYPE)
    for name in MICHEL_TRUTH_DTYPE.names:
        michels[name] = ev.michels[name]
    # a visible muon end: the parent muon stopped inside the active volume
    end_mm = ev.michels["muon_end_vox"] * VOXEL_MM
    michels["attached"] = np.all((end_mm >= 0) & (end_mm < ACTIVE_MM), axis=1)
    return SimulatedEvent(ev.xyze()[order], ev.label[order].astype(np.int32), michels)


def _voxel_order(ev: LabelledEvent, rng: np.random.Generator, grouped: bool) -> np.ndarray:
    """Random voxel order, or grouped by truth cluster with low-energy voxels first (like the real files)."""
    if not grouped:
        return rng.permutation(len(ev))
    return np.lexsort((ev.owner, ev.label != LABEL_LOW_ENERGY))


def _simulate_range(seed: int, start: int, stop: int, grouped: bool) -> list[SimulatedEvent]:
    return [simulate_event(seed, i, grouped) for i in range(start, stop)]


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
                  force: bool = False, progress: bool = True, chunk: int = 20) -> SimPaths:
    """Simulate ``n_events`` events into PREFIX_xyze.h5 (``data``), PREFIX_label.h5 (``labels``), PREFIX_truth.npz."""
    if n_events < 1:
        raise InputError("--events must be at least 1")
    paths = sim_paths(prefix)
    for p in (paths.xyze, paths.labels, paths.truth):
        if p.exists() and not force:
            raise InputError(f"{p}: exists; use --force to overwrite")
    ranges = [(lo, min(lo + chunk, n_events)) for lo in range(0, n_events, chunk)]
    michels, n_voxels = [], np.zeros(n_events, np.int64)
    bar = progress_bar(n_events, progress, unit="ev")
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        with RowWriter(paths.xyze, n_events, np.float32, "data", force) as wx, \
                RowWriter(paths.labels, n_events, np.int32, "labels", force) as wl:
            for (lo, _), events in zip(ranges, ordered_results(pool, _simulate_range, workers,
                                                               [(seed, lo, hi, grouped) for lo, hi in ranges])):
                for k, ev in enumerate(events):
                    wx.append(ev.xyze)
                    wl.append(ev.labels)
                    ev.michels["event"] = lo + k
                    michels.append(ev.michels)
                    n_voxels[lo + k] = len(ev.labels)
                bar.update(len(events))
            _save_truth(paths.truth, seed=seed, n_voxels=n_voxels,
                        michels=np.concatenate(michels) if michels else np.zeros(0, TRUTH_MICHEL_DTYPE))
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
