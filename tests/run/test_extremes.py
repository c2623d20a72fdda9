"""Events and environments at the edges: empty, 1-voxel and 200,000-voxel events, an unwritable folder, a full
disk, hostile configuration files. Each ends in a result or in one line, never a traceback."""

import errno

import numpy as np
import pytest

from michelreco.cli import find_michels_main
from michelreco.run.io import iter_solution, write_events


def _only_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_empty_one_voxel_and_200000_voxel_events(tmp_path, capsys):
    rng = np.random.default_rng(0)
    keys = rng.choice(120 ** 3, 200_000, replace=False)
    xyz = np.stack(np.unravel_index(keys, (120, 120, 120)), axis=1) + 300
    big = np.column_stack([xyz, rng.uniform(0.05, 3.0, len(xyz))]).astype(np.float32)
    events = [np.zeros((0, 4), np.float32), big[:1], big, big[:2]]
    path = tmp_path / "edge_xyze.h5"
    write_events(path, events)
    out = tmp_path / "sol.h5"
    assert find_michels_main([str(path), "-o", str(out), "--workers", "1", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("4 events: Michel voxels found in")
    rows = [r for _, r in iter_solution(out)]
    assert len(rows) == 4 and rows[0].size == rows[1].size == rows[3].size == 0
    assert rows[2].size == 0 or rows[2].max() < len(big)
    assert not (tmp_path / "sol.h5.errors.log").exists()


def test_unwritable_folder_is_refused_before_any_work(tiny_sample, tmp_path, capsys, monkeypatch):
    from michelreco.run import outputs

    locked = tmp_path / "locked"
    locked.mkdir()
    real = outputs.os.access
    monkeypatch.setattr(outputs.os, "access", lambda p, mode: False if str(p) == str(locked) else real(p, mode))
    assert find_michels_main([str(tiny_sample[0]), "-o", str(locked / "s.h5"), "--quiet", "--workers", "1"]) == 2
    assert _only_line(capsys).endswith(f"{locked}: cannot write in this folder (permission denied)")
    assert list(locked.iterdir()) == []


def test_a_full_disk_is_one_line_naming_the_output(tiny_sample, tmp_path, capsys, monkeypatch):
    from michelreco.run import io

    def no_space(self):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.tmp_path))

    monkeypatch.setattr(io.RowWriter, "_flush", no_space)
    out = tmp_path / "s.h5"
    assert find_michels_main([str(tiny_sample[0]), "-o", str(out), "--quiet", "--workers", "1"]) == 2
    line = _only_line(capsys)
    assert f"{out}: no space left on the disk (every range is done and kept in {out}.parts: rerun with " \
           f"--resume" in line
    assert "partial" not in line and "Errno" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5.parts", "tiny_label_6.h5", "tiny_xyze_6.h5"]
    monkeypatch.undo()
    assert find_michels_main([str(tiny_sample[0]), "-o", str(out), "--quiet", "--workers", "1", "--resume"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5", "tiny_label_6.h5", "tiny_xyze_6.h5"]


@pytest.mark.parametrize("text, message", [
    ("max_chains: 0\n", "'max_chains' must be in 1 .. "),
    ("min_bragg_ratio: .nan\n", "'min_bragg_ratio' must be in"),
    ("!!python/object/apply:os.system ['echo owned']\n", "not valid YAML"),
    ("rise_lo_mm: 40.0\nrise_hi_mm: 20.0\n", "'rise_lo_mm' (40) must be below 'rise_hi_mm' (20)"),
    ("window_nodes: 1e9\n", "'window_nodes' must be int"),
    ("- 1\n- 2\n", "expected a mapping"),
])
def test_hostile_configs_are_one_line(tiny_sample, tmp_path, capsys, text, message):
    cfg = tmp_path / "hostile.yaml"
    cfg.write_text(text)
    out = tmp_path / "s.h5"
    assert find_michels_main([str(tiny_sample[0]), "-o", str(out), "--config", str(cfg), "--quiet"]) == 2
    line = _only_line(capsys)
    assert str(cfg) in line and message in line
    assert not out.exists()


def test_a_full_disk_while_saving_parts_keeps_the_finished_ones(sim_sample, tmp_path, capsys, monkeypatch):
    from michelreco.run.checkpoint import Checkpoint

    paths, _, _ = sim_sample
    real = Checkpoint.save
    saved = []

    def fills_up(self, first, *args):
        if len(saved) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(self._path(first, ".npz")))
        saved.append(first)
        return real(self, first, *args)

    monkeypatch.setattr(Checkpoint, "save", fills_up)
    out = tmp_path / "s.h5"
    argv = [str(paths.xyze), "-o", str(out), "--quiet", "--workers", "1", "--chunk", "10"]
    assert find_michels_main(argv) == 2
    line = _only_line(capsys)
    assert "no space left on the disk (the finished ranges are kept in" in line and "--resume" in line
    assert len(list((tmp_path / "s.h5.parts").glob("range_*.npz"))) == 2
    monkeypatch.undo()
    assert find_michels_main(argv + ["--resume"]) == 0 and out.exists()
