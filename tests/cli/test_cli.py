"""The command line: exit codes, one-line errors, outputs written only when complete."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from michelreco.cli import find_michels_main, main
from michelreco.run.io import event_count, write_solution


def _only_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_score_prints_and_writes(tiny_sample, tmp_path, capsys):
    _, lab, _, labels = tiny_sample
    sol = tmp_path / "sol.h5"
    write_solution(sol, [np.flatnonzero(l == 2)[:3] for l in labels])
    csv, png = tmp_path / "per_event.csv", tmp_path / "blocks.png"
    assert main(["score", str(sol), str(lab), "--per-event", str(csv), "--plot", str(png), "--block", "2"]) == 0
    out = capsys.readouterr().out
    assert "F1" in out and "events    6" in out
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("event,tp,fp,fn") and len(lines) == 7
    assert png.stat().st_size > 5000
    assert main(["score", str(sol), str(lab), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    n_true = sum(int((l == 2).sum()) for l in labels)
    n_pred = sum(min(3, int((l == 2).sum())) for l in labels)
    assert data["events"] == 6 and data["fp"] == 0 and data["tp"] == n_pred and data["fn"] == n_true - n_pred
    n_with = sum(int((l == 2).any()) for l in labels)
    assert data["with_michel"]["events"] == n_with and data["without_michel"]["events"] == 6 - n_with
    assert data["without_michel"]["fp"] == 0


@pytest.mark.parametrize("kind", ["missing", "not_hdf5", "mismatch"])
def test_score_bad_input_exits_2_with_one_line(tiny_sample, tmp_path, capsys, kind):
    _, lab, _, _ = tiny_sample
    sol = tmp_path / "sol.h5"
    if kind == "not_hdf5":
        sol.write_text("junk")
    elif kind == "mismatch":
        write_solution(sol, [[]] * 3)
    assert main(["score", str(sol), str(lab)]) == 2
    line = _only_line(capsys)
    assert {"missing": "no such file", "not_hdf5": "not an HDF5 file", "mismatch": "has 3 events"}[kind] in line


def test_score_files_swapped_are_named(tiny_sample, tmp_path, capsys):
    _, lab, _, labels = tiny_sample
    sol = tmp_path / "sol.h5"
    write_solution(sol, [[] for _ in labels])
    assert main(["score", str(lab), str(sol)]) == 2
    line = _only_line(capsys)
    assert "this is a solution file, where a label file was expected (the wrong file, or files in the wrong order?)" in line


def test_output_closed_by_its_reader_ends_quietly(tiny_sample, tmp_path):
    _, lab, _, labels = tiny_sample
    sol = tmp_path / "sol.h5"
    write_solution(sol, [[] for _ in labels])
    command = [sys.executable, "-c", "import sys; from michelreco.cli import main; sys.exit(main(sys.argv[1:]))",
               "score", str(sol), str(lab)]
    # the reader (``| head``) goes before the report is printed: the report's write fails with a broken pipe
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == ""
    # a report read to its end still exits 0
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "F1" in done.stdout


def test_find_michels_writes_one_row_per_event(tiny_sample, tmp_path):
    xyze = tiny_sample[0]
    out = tmp_path / "sol.h5"
    assert find_michels_main([str(xyze), "-o", str(out), "--workers", "1", "--quiet"]) == 0
    assert event_count(out, "solution") == 6
    out2 = tmp_path / "part.h5"
    assert find_michels_main([str(xyze), "-o", str(out2), "--start", "2", "--stop", "5", "--quiet",
                              "--workers", "2", "--dataset-name", "michels"]) == 0
    with h5py.File(out2) as f:
        assert list(f) == ["michels"] and len(f["michels"]) == 3


def test_find_michels_refuses_to_overwrite(tiny_sample, tmp_path, capsys):
    xyze = tiny_sample[0]
    out = tmp_path / "sol.h5"
    out.write_text("precious")
    assert find_michels_main([str(xyze), "-o", str(out), "--quiet"]) == 2
    assert "--force" in _only_line(capsys) and out.read_text() == "precious"
    assert find_michels_main([str(xyze), "-o", str(xyze), "--quiet", "--force"]) == 2
    assert "is the input of this command" in _only_line(capsys)
    assert event_count(xyze) == 6


@pytest.mark.parametrize("rows, message", [
    ([[1, 2, 3, 4, 5]], "not a multiple of 4"),
    ([[1, 2, 3, np.inf]], "non-finite"),
    ([[1, 2, 800, 1.0]], "outside 0..767"),
])
def test_find_michels_bad_events_leave_no_output(tmp_path, capsys, rows, message):
    path = tmp_path / "bad_xyze.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", (len(rows),), dtype=h5py.vlen_dtype(np.float32))
        for i, r in enumerate(rows):
            ds[i] = np.asarray(r, np.float32)
    out = tmp_path / "sol.h5"
    assert find_michels_main([str(path), "-o", str(out), "--quiet", "--workers", "1"]) == 2
    assert message in _only_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad_xyze.h5"]


def test_find_michels_bad_config(tiny_sample, tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("no_such_parameter: 3\n")
    assert find_michels_main([str(tiny_sample[0]), "-o", str(tmp_path / "o.h5"), "--config", str(cfg)]) == 2
    assert "unknown parameter 'no_such_parameter'" in _only_line(capsys)
    cfg.write_text("[1, 2]\n")
    assert find_michels_main([str(tiny_sample[0]), "-o", str(tmp_path / "o.h5"), "--config", str(cfg)]) == 2
    assert "expected a mapping" in _only_line(capsys)
    assert not (tmp_path / "o.h5").exists()
