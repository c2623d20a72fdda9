"""The measured Michel spectrum: Michels are found as separate clusters; files written."""

import csv

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
    with open(tmp_path / "spec" / "spectrum.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:4] == ["bin_low_mev", "bin_high_mev", "toy MC, tree density", "toy MC, tree count"]
    assert len(rows) == 41 and {len(r) for r in rows} == {2 + 2 * 4}       # every row as long as the header
    assert rows[0][-2:] == ["flat density", "flat count"] and sum(int(r[-1]) for r in rows[1:]) == 5000
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


def test_toy_is_drawn_in_batches_with_exact_streamed_summaries(monkeypatch):
    import michelreco.analysis.spectrum as spectrum

    sizes, tree = [], []
    real = spectrum.sample_michel_energy

    def recording(n, rng, variant, **kw):
        e = real(n, rng, variant, **kw)
        sizes.append(n)
        if variant == "tree":
            tree.append(e)
        return e

    monkeypatch.setattr(spectrum, "sample_michel_energy", recording)
    monkeypatch.setattr(spectrum, "TOY_BATCH", 40_000)
    toys = spectrum.toy_spectra(100_000, seed=5)
    assert max(sizes) == 40_000 and sum(sizes) == 300_000            # memory bounded by one batch
    streamed, direct = toys["toy MC, tree"].summary(), summary(np.concatenate(tree))
    assert streamed["n"] == direct["n"] == 100_000 and streamed["peak_mev"] == direct["peak_mev"]
    assert streamed["mean_mev"] == pytest.approx(direct["mean_mev"], rel=1e-12)
    assert streamed["q90_mev"] == pytest.approx(direct["q90_mev"], abs=0.011)
    assert streamed["above_endpoint"] == direct["above_endpoint"]
    assert spectrum.DEFAULT_TOY_DRAWS <= 10 ** 6                       # about a second, not 15


def _spectrum_args(paths, tmp_path, *extra):
    return ["spectrum", str(paths.xyze), str(paths.labels), "--out", str(tmp_path / "spec"), "--quiet",
            "--toy-draws", "20000", *extra]


def _one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_spectrum_refuses_mismatched_and_foreign_inputs_in_one_line(sim_sample, tmp_path, capsys):
    import time

    from michelreco.cli import main
    from michelreco.run.io import iter_labels, write_labels, write_solution

    paths, events, labels = sim_sample
    foreign = tmp_path / "other_truth.npz"
    np.savez(foreign, michels=np.zeros(3, [("event", "i4"), ("energy", "f8")]))
    t0 = time.time()
    assert main(_spectrum_args(paths, tmp_path, "--truth", str(foreign))) == 2
    assert "not a michelreco simulation truth file (the 'michels' table has no n_label2" in _one_line(capsys)
    assert time.time() - t0 < 30 and not (tmp_path / "spec").exists()
    junk = tmp_path / "junk_truth.npz"
    junk.write_text("not a zip")
    assert main(_spectrum_args(paths, tmp_path, "--truth", str(junk))) == 2
    assert "not a readable .npz" in _one_line(capsys)
    far = [np.array([len(x)], np.int32) if len(x) else np.empty(0, np.int32) for x in events]
    bad_solution = tmp_path / "far.h5"
    write_solution(bad_solution, far)
    assert main(_spectrum_args(paths, tmp_path, "--solution", str(bad_solution))) == 2
    first = next(i for i, x in enumerate(events) if len(x))
    assert f"event {first}: solution index {len(events[first])} out of range" in _one_line(capsys)
    short = tmp_path / "short.h5"
    write_solution(short, [[]] * 5)
    assert main(_spectrum_args(paths, tmp_path, "--solution", str(short))) == 2
    assert f"has 5 events but {paths.xyze} has {len(events)}" in _one_line(capsys)
    rows = [lab for _, lab in iter_labels(paths.labels)]
    rows[4] = rows[4][:-1]
    cut = tmp_path / "cut_label.h5"
    write_labels(cut, rows)
    assert main(["spectrum", str(paths.xyze), str(cut), "--out", str(tmp_path / "spec"), "--quiet"]) == 2
    assert f"event 4: {len(rows[4])} labels for {len(rows[4]) + 1} voxels" in _one_line(capsys)
    assert main(_spectrum_args(paths, tmp_path)[:-5] + ["--out", str(paths.labels), "--force", "--quiet"]) == 2
    assert "is the input of this command" in _one_line(capsys)
    assert not (tmp_path / "spec").exists()


def test_spectrum_finds_labels_and_skips_a_foreign_truth_beside_them(sim_sample, tmp_path, capsys):
    import shutil

    from michelreco.cli import main

    paths, _, _ = sim_sample
    xyze = tmp_path / "s_xyze.h5"
    shutil.copy(paths.xyze, xyze)
    shutil.copy(paths.labels, tmp_path / "s_label.h5")
    np.savez(tmp_path / "s_truth.npz", something_else=np.arange(3))
    out = tmp_path / "spec"
    assert main(["spectrum", str(xyze), "--out", str(out), "--quiet", "--toy-draws", "20000"]) == 0
    captured = capsys.readouterr()
    assert f"labels: {tmp_path / 's_label.h5'}" in captured.err
    assert "not a michelreco simulation truth file" in captured.err and "left out" in captured.err
    assert "labelled voxels (label 2)" in captured.out and "true kinetic energy" not in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["spectrum.csv", "spectrum.png"]
    assert main(["spectrum", str(xyze), "--out", str(out), "--quiet"]) == 2
    assert "exists; use --force" in capsys.readouterr().err
