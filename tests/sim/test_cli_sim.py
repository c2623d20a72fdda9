"""``michelreco sim`` and ``sim-stats`` from the command line: presets, options, JSON, one-line errors."""

import json

import numpy as np
import pytest

from michelreco.cli import main
from michelreco.sim.generate import PRESETS


def test_sim_options_override_the_preset_and_are_recorded(tmp_path, capsys):
    prefix = tmp_path / "s"
    assert main(["sim", "--events", "3", "--seed", "4", "--out", str(prefix), "--workers", "1", "--quiet",
                 "--preset", "clean", "--rain", "0-2", "--world-margin-mm", "300", "--rain-max-mev", "900",
                 "--hadronic-scale", "0.5"]) == 0
    assert "wrote" in capsys.readouterr().out
    config = json.loads(str(np.load(f"{prefix}_truth.npz")["config"]))
    clean = PRESETS["clean"]
    assert config["rain"] == [0, 2] and config["world_margin_mm"] == 300.0 and config["hadronic_scale"] == 0.5
    assert config["rain_start"] == clean.rain_start and config["lateral_spread_mm"] == 0.0
    muons = [r for r in config["rain_species"] if abs(r[0]) == 13]
    assert muons and all(r[3] == 900.0 for r in muons)


def test_sim_stats_json_and_check(tmp_path, capsys):
    prefix = tmp_path / "c"
    assert main(["sim", "--events", "4", "--seed", "2", "--out", str(prefix), "--workers", "1", "--quiet",
                 "--preset", "clean"]) == 0
    capsys.readouterr()
    assert main(["sim-stats", str(prefix), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("low_energy_voxel_fraction", "michels_attached_fraction", "michels_contained_fraction",
                "michel_family_voxels_median", "label2_voxels_per_michel_median", "michel_delta_voxel_fraction"):
        assert key in out and key in out["bands"]
    assert out["events"] == 4 and out["low_energy_voxel_fraction"] < 0.21
    assert "low_energy_voxel_fraction" in out["out_of_band"] and out["config"]["rain_start"] == "faces"
    assert main(["sim-stats", str(prefix), "--check"]) == 1          # the clean preset is out of a band
    table = capsys.readouterr().out
    assert "OUT" in table and "fraction of voxels <= 0.13 MeV" in table


@pytest.mark.parametrize("argv, message", [
    (["sim", "--events", "2", "--out", "X", "--preset", "clean", "--lateral-spread-mm", "0.3"], "lateral spread"),
    (["sim", "--events", "2", "--out", "X", "--world-margin-mm", "-5"], "world_margin_mm"),
    (["sim", "--events", "0", "--out", "X"], "--events"),
    (["sim-stats", "NOWHERE/none"], "no such file"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    argv = [a.replace("X", str(tmp_path / "x")) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_bad_count_range_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sim", "--events", "2", "--out", "x", "--rain", "5-2"])
    assert exc.value.code == 2 and "LO <= HI" in capsys.readouterr().err


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    text = capsys.readouterr().out
    for option in ("--preset", "--vertices", "--rain ", "--rain-start", "--rain-max-mev", "--world-margin-mm",
                   "--lateral-spread-mm", "--knockon-min-mev", "--hadronic-scale", "--grouped"):
        assert option in text
    with pytest.raises(SystemExit):
        main(["sim-stats", "--help"])
    assert "--json" in capsys.readouterr().out
