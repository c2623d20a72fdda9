"""Event generation and sample files: rain geometry, determinism, the clean preset's bytes, calibration bands."""

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest

from michelreco.errors import InputError
from michelreco.run.io import event_count, iter_events, iter_labels
from michelreco.sim.constants import ACTIVE_MM, WORLD_MARGIN_MM
from michelreco.sim.generate import EventConfig, PRESETS, primaries, simulate_event, simulate_file
from michelreco.sim.stats import sim_stats, sim_stats_json


def _rain(cfg, n=300, seed=3):
    """Start points and directions of the primaries that start outside the image (rain only)."""
    rng = np.random.default_rng(seed)
    starts, dirs = [], []
    for _ in range(n):
        for pdg, pos, d, e in primaries(rng, cfg):
            assert np.isclose(np.linalg.norm(d), 1.0) and e > 0
            margin = cfg.world_margin_mm
            assert np.all(pos >= -margin) and np.all(pos <= ACTIVE_MM + margin)
            if np.any((pos < 0) | (pos > ACTIVE_MM)):      # only rain starts outside
                assert abs(pdg) in (13, 2212)
                starts.append(pos)
                dirs.append(d)
    return np.array(starts), np.array(dirs)


def test_default_rain_starts_outside_the_image_isotropic():
    cfg = EventConfig()
    assert cfg.rain_start == "outside" and cfg == PRESETS["default"]
    starts, dirs = _rain(cfg)
    assert len(starts) > 300                               # 1-4 rain particles per event, all outside
    # uniform in the shell between the image and the world box: the inner half of the margin holds
    # ((A + m)^3 - A^3) / ((A + 2m)^3 - A^3) of it (max-norm distance from the centre)
    inner = np.abs(starts - ACTIVE_MM / 2).max(axis=1)
    m = cfg.world_margin_mm
    expect = ((ACTIVE_MM + m) ** 3 - ACTIVE_MM ** 3) / ((ACTIVE_MM + 2 * m) ** 3 - ACTIVE_MM ** 3)
    assert np.mean(inner < ACTIVE_MM / 2 + m / 2) == pytest.approx(expect, abs=0.06)
    assert np.abs(dirs.mean(axis=0)).max() < 0.1 and np.mean(dirs[:, 2] ** 2) == pytest.approx(1 / 3, abs=0.05)


def test_clean_rain_enters_from_the_faces_and_world_rain_fills_the_box():
    world = ACTIVE_MM + 2 * WORLD_MARGIN_MM
    starts, dirs = _rain(PRESETS["clean"])
    assert np.allclose(np.abs(starts - ACTIVE_MM / 2).max(axis=1), world / 2)    # on a world face
    # pointing into the volume: the centre is in front of every start
    assert np.all(np.einsum("ij,ij->i", ACTIVE_MM / 2 - starts, dirs) > 0)
    cfg = replace(PRESETS["clean"], rain_start="world")
    starts, _ = _rain(cfg)
    inner = np.abs(starts - ACTIVE_MM / 2).max(axis=1)
    expect = (((ACTIVE_MM + WORLD_MARGIN_MM) ** 3 - ACTIVE_MM ** 3)
              / ((ACTIVE_MM + 2 * WORLD_MARGIN_MM) ** 3 - ACTIVE_MM ** 3))
    assert np.mean(inner < ACTIVE_MM / 2 + WORLD_MARGIN_MM / 2) == pytest.approx(expect, abs=0.06)


@pytest.mark.parametrize("changes, message", [
    ({"rain_start": "sky"}, "rain_start"), ({"rain": (3, 1)}, "rain"), ({"world_margin_mm": -1.0}, "margin"),
    ({"lateral_spread_mm": 0.3, "threshold_mode": "deposit"}, "lateral spread"),
    ({"knockon_min_mev": 1.5}, "knockon"), ({"hadronic_scale": -1.0}, "hadronic"),
    ({"rain_species": ((13, 1.0, 50.0, 10.0),)}, "rain_species"), ({"threshold_mode": "voxel"}, "threshold_mode"),
    ({"world_margin_mm": 0.0}, "outside"),
])
def test_bad_configs_are_one_line_input_errors(changes, message):
    with pytest.raises(InputError, match=message):
        replace(EventConfig(), **changes)


def test_event_is_a_function_of_seed_and_index_only():
    a = simulate_event(11, 4)
    b = simulate_event(11, 4)
    c = simulate_event(11, 5)
    assert np.array_equal(a.xyze, b.xyze) and np.array_equal(a.labels, b.labels)
    assert not (len(a.xyze) == len(c.xyze) and np.array_equal(a.xyze, c.xyze))
    assert a.xyze.dtype == np.float32 and a.labels.dtype == np.int32
    xyz = a.xyze[:, :3]
    assert xyz.min() >= 0 and xyz.max() <= 767 and np.array_equal(xyz, np.round(xyz))
    assert len(np.unique(xyz, axis=0)) == len(xyz)          # voxels are unique
    # every Michel voxel has its owner among the event's Michel truth rows
    mv = a.michel_voxels
    assert np.array_equal(np.sort(mv[:, 0]), np.flatnonzero(a.labels == 2)) and np.all(mv[:, 1] >= 0)
    assert np.array_equal(np.bincount(mv[:, 1], minlength=len(a.michels)), a.michels["n_label2"])


def test_grouped_order_holds_the_same_voxels():
    a = simulate_event(2, 1)
    g = simulate_event(2, 1, grouped=True)
    key = lambda ev: np.lexsort(ev.xyze[:, :3].T)
    assert np.array_equal(a.xyze[key(a)], g.xyze[key(g)]) and np.array_equal(a.labels[key(a)], g.labels[key(g)])
    low = g.labels == 4
    if low.any() and (~low).any():   # low-energy voxels come first, as in the real files
        assert np.flatnonzero(low).max() < np.flatnonzero(~low).min()


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    one = simulate_file(tmp_path / "one", 24, seed=9, workers=1, progress=False, chunk=5)
    two = simulate_file(tmp_path / "two", 24, seed=9, workers=2, progress=False, chunk=7)
    for a, b in ((one.xyze, two.xyze), (one.labels, two.labels), (one.truth, two.truth)):
        assert a.read_bytes() == b.read_bytes()
    assert event_count(one.xyze) == 24 and event_count(one.labels, "labels") == 24
    for (_, xyze), (_, lab) in zip(iter_events(one.xyze), iter_labels(one.labels)):
        assert len(xyze) == len(lab)
    truth = np.load(one.truth)
    assert EventConfig(**{k: tuple(tuple(r) for r in v) if k.endswith("species") else
                          tuple(v) if isinstance(v, list) else v
                          for k, v in json.loads(str(truth["config"])).items()}) == EventConfig()
    with pytest.raises(Exception, match="exists"):
        simulate_file(tmp_path / "one", 3, seed=9, progress=False)


# sha256 of the voxels and labels of events 0-4, seed 7, made by the first simulator (commit fdf277c):
# the clean preset must give the same bytes
CLEAN_SHA256 = "395209973b6952eb3f0843b80564cd381fab0519e2482901d0bcb317cde59f43"


def _digest(config) -> str:
    h = hashlib.sha256()
    for i in range(5):
        ev = simulate_event(7, i, config=config)
        h.update(ev.xyze.tobytes())
        h.update(ev.labels.tobytes())
    return h.hexdigest()


def test_clean_preset_gives_the_first_simulators_bytes():
    assert _digest(PRESETS["clean"]) == CLEAN_SHA256
    assert _digest(PRESETS["default"]) != CLEAN_SHA256


def test_calibration_bands(tmp_path):
    """A small default sample lands inside the bands, widened by three binomial/percentile standard errors.

    The 1,000-event table (every figure inside its exact band) is in docs/simulation.md.
    """
    prefix = tmp_path / "cal"
    simulate_file(prefix, 200, seed=123, workers=2, progress=False)
    out = sim_stats_json(prefix)
    for key in ("low_energy_voxel_fraction", "michels_attached_fraction", "michels_contained_fraction",
                "michel_family_voxels_median", "label2_voxels_per_michel_median", "michel_delta_voxel_fraction"):
        assert out[key] is not None
    n_michels = out["michels_per_event"] * out["events"]
    figs = {f.key: f for f in sim_stats(prefix)}
    assert len(figs) == len(out["bands"]) >= 17 and all(f.band for f in figs.values())
    slack = {"michels_attached_fraction": 3 * np.sqrt(0.15 * 0.85 / n_michels),
             "michels_contained_fraction": 3 * np.sqrt(0.17 * 0.83 / n_michels),
             "michel_family_voxels_median": 3 * 1.25 * 40 / np.sqrt(n_michels),   # 1.25 IQR/1.35 / sqrt(n)
             "label2_voxels_per_michel_median": 10.0, "michel_energy_median_mev": 2.0,
             "events_with_michel_fraction": 0.1, "michels_per_event": 0.1}
    for key, f in figs.items():
        lo, hi = f.band
        s = slack.get(key, 0.0)
        assert lo - s <= f.number <= hi + s, f"{key}: {f.text} outside {f.band} (+-{s:.3g})"
    # the clean preset is outside the low-energy band, as the first simulator was
    simulate_file(tmp_path / "clean", 60, seed=123, workers=2, progress=False, config=PRESETS["clean"])
    assert sim_stats_json(tmp_path / "clean")["low_energy_voxel_fraction"] < 0.2
