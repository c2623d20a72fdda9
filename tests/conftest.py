"""Shared fixtures: tiny challenge-format files built in a temporary directory."""

import numpy as np
import pytest

from michelreco.run.io import write_events, write_labels


def make_event(rng, n):
    """An (n, 4) float32 event of unique voxels with positive energies."""
    keys = rng.choice(50 ** 3, size=n, replace=False)
    xyz = np.stack(np.unravel_index(keys, (50, 50, 50)), axis=1) + 300
    e = rng.uniform(0.05, 3.0, n)
    return np.column_stack([xyz, e]).astype(np.float32)


@pytest.fixture
def tiny_sample(tmp_path):
    """Six events (one empty) with labels; returns (xyze path, label path, events, labels)."""
    rng = np.random.default_rng(7)
    sizes = [40, 0, 25, 60, 10, 33]
    events = [make_event(rng, n) for n in sizes]
    labels = [rng.integers(0, 5, n).astype(np.int32) for n in sizes]
    xyze, lab = tmp_path / "tiny_xyze_6.h5", tmp_path / "tiny_label_6.h5"
    write_events(xyze, events)
    write_labels(lab, labels)
    return xyze, lab, events, labels


@pytest.fixture(scope="session")
def sim_sample(tmp_path_factory):
    """A small simulated sample (60 events, seed 31337): (paths, events, labels)."""
    from michelreco.run.io import iter_events, iter_labels
    from michelreco.sim.generate import simulate_file

    paths = simulate_file(tmp_path_factory.mktemp("sim") / "s", 60, seed=31337, workers=1, progress=False)
    events = [x for _, x in iter_events(paths.xyze)]
    labels = [lab for _, lab in iter_labels(paths.labels)]
    return paths, events, labels
