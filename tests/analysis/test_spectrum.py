"""The measured Michel spectrum: Michels are found as separate clusters; files written."""

import numpy as np
import pytest

from michelreco.analysis.spectrum import summary, write_spectrum
from michelreco.reco.energy import michel_cluster_energies


def test_two_michels_in_one_event_are_two_energies():
    first = [(100 + k, 200, 300) for k in range(20)]            # 20 voxels of 1.0 MeV
    second = [(400, 200 + k, 300) for k in range(10)]           # 10 voxels of 0.5 MeV, far away
    gap = [(121, 200, 300), (122, 200, 300)]                    # one voxel apart from the first: same Michel
    other = [(50, 50, 50)]                                      # not a Michel voxel
    xyz = np.array(first + second + gap + other, np.float32)
    energy = np.array([1.0] * 20 + [0.5] * 10 + [0.25, 0.25] + [9.0], np.float32)
    xyze = np.column_stack([xyz, energy])
    michel = np.arange(32)
    energies = np.sort(michel_cluster_energies(xyze, michel))
    assert energies == pytest.approx([5.0, 20.5])
    assert michel_cluster_energies(xyze, np.empty(0, int)).size == 0


def test_summary_and_files(tmp_path):
    rng = np.random.default_rng(1)
    e = rng.uniform(0, 40, 5000)
    s = summary(e)
    assert s["n"] == 5000 and s["mean_mev"] == pytest.approx(20, abs=0.5) and s["above_endpoint"] == 0.0
    assert s["q90_mev"] == pytest.approx(36, abs=0.6)
    out = write_spectrum({"flat": e}, tmp_path / "spec", toy_draws=100_000)
    assert out["toy MC, tree"]["mean_mev"] == pytest.approx(36.98 - 0.511, abs=0.15)     # kinetic energy
    assert out["toy MC, radiative"]["mean_mev"] < out["toy MC, tree"]["mean_mev"]
    assert out["toy MC, bound"]["above_endpoint"] > 0.0 == out["toy MC, tree"]["above_endpoint"]
    lines = (tmp_path / "spec" / "spectrum.csv").read_text().splitlines()
    assert lines[0].startswith("bin_low_mev,bin_high_mev,toy MC, tree density") and len(lines) == 41
    assert (tmp_path / "spec" / "spectrum.png").stat().st_size > 10000


def test_photon_recovery_takes_small_nearby_blobs_only():
    from michelreco.reco.energy import recovered_energies

    michel = [(100 + k, 100, 100) for k in range(20)]                    # 20 x 1 MeV
    near_blob = [(110, 120, 100), (111, 120, 100)]                       # 20 voxels = 60 mm away: 2 x 0.5 MeV
    far_blob = [(400, 400, 400)]                                         # far: not taken
    track = [(110, 130 + k, 100) for k in range(60)]                     # near but large: not a photon blob
    xyz = np.array(michel + near_blob + far_blob + track, np.float32)
    energy = np.array([1.0] * 20 + [0.5, 0.5] + [3.0] + [0.6] * 60, np.float32)
    xyze = np.column_stack([xyz, energy])
    index = np.arange(20)
    assert recovered_energies(xyze, index, radius_mm=100.0) == pytest.approx([21.0])
    assert recovered_energies(xyze, index, radius_mm=30.0) == pytest.approx([20.0])     # blob beyond 30 mm


def test_finder_reports_recovered_energy_per_michel(sim_sample):
    from michelreco.reco.finder import MichelFinder

    _, events, _ = sim_sample
    finder = MichelFinder()
    xyze = next(x for x in events if finder.find(x).size)
    plain = finder.michel_energies(xyze)
    recovered = finder.michel_energies(xyze, recover_radius_mm=250.0)
    assert plain.size == recovered.size >= 1
    assert plain.sum() == pytest.approx(xyze[finder.find(xyze), 3].sum(), rel=1e-6)
    assert np.all(recovered >= plain - 1e-9)
