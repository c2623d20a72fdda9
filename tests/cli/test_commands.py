"""Every command: one-line refusals before any output is written, options spelled and checked the same way,
what a run prints, and the output rule (never an input, replaced only with --force)."""

import argparse
import json

import numpy as np
import pytest

from michelreco.cli import _build_parser, find_michels_main, main
from michelreco.cli.common import positive_int
from michelreco.run.io import write_solution


def _only_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture
def scored(tiny_sample, tmp_path):
    """A solution of the tiny sample (the first three Michel voxels of each event) and its labels."""
    _, lab, _, labels = tiny_sample
    sol = tmp_path / "tiny_sol.h5"
    write_solution(sol, [np.flatnonzero(lab_ == 2)[:3] for lab_ in labels])
    return sol, lab


@pytest.mark.parametrize("option", ["--per-event", "--plot"])
@pytest.mark.parametrize("target", ["solution", "labels"])
def test_score_never_writes_over_its_inputs(scored, capsys, option, target):
    sol, lab = scored
    victim = sol if target == "solution" else lab
    before = victim.read_bytes()
    assert main(["score", str(sol), str(lab), option, str(victim), "--force"]) == 2
    assert "is the input of this command" in _only_line(capsys)
    assert victim.read_bytes() == before


@pytest.mark.parametrize("extra, message", [
    (["--block", "0"], "--block: must be at least 1, got 0"),
    (["--plot", "x.jpg"], "'.jpg' is not a supported format; use .png, .pdf, .svg"),
    (["--plot", "x"], "no extension is not a supported format"),
    (["--start", "-1"], "--start: must be 0 or more, got -1"),
])
def test_score_refuses_bad_options_before_writing_anything(scored, tmp_path, capsys, extra, message):
    sol, lab = scored
    csv_path = tmp_path / "per_event.csv"
    assert _status(main, ["score", str(sol), str(lab), "--per-event", str(csv_path), *extra]) == 2
    assert message in _only_line(capsys)
    assert not csv_path.exists()


def _status(entry, argv) -> int:
    """The exit status of a command, whether it returns it or argparse exits."""
    try:
        return entry(argv)
    except SystemExit as exit_:
        return exit_.code


def test_score_existing_outputs_need_force(scored, tmp_path, capsys):
    sol, lab = scored
    csv_path = tmp_path / "per_event.csv"
    csv_path.write_text("old\n")
    assert main(["score", str(sol), str(lab), "--per-event", str(csv_path)]) == 2
    assert "exists; use --force" in _only_line(capsys) and csv_path.read_text() == "old\n"
    assert main(["score", str(sol), str(lab), "--per-event", str(csv_path), "--force"]) == 0
    assert csv_path.read_text().startswith("event,tp,fp,fn")
    out = capsys.readouterr().out
    assert "found wrongly (FP)" in out and "docs/scoring.md" in out


def test_an_event_range_run_is_scored_where_it_belongs(tiny_sample, tmp_path, capsys):
    xyze, lab, _, _ = tiny_sample
    part = tmp_path / "part.h5"
    assert find_michels_main([str(xyze), "-o", str(part), "--start", "2", "--stop", "5", "--workers", "1",
                              "--quiet"]) == 0
    assert "3 events: Michel voxels found in" in capsys.readouterr().out
    assert main(["score", str(part), str(lab), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["events"] == 3 and data["first_event"] == 2
    assert find_michels_main([str(xyze), "-o", str(tmp_path / "none.h5"), "--start", "3", "--stop", "3",
                              "--quiet"]) == 2
    assert "the event range [3, 3) is empty" in _only_line(capsys)
    assert find_michels_main([str(xyze), "-o", str(tmp_path / "none.h5"), "--start", "4", "--stop", "9",
                              "--quiet"]) == 2
    assert "event range [4, 9) beyond the 6 events" in _only_line(capsys)


def test_find_michels_ends_with_one_summary_line(tiny_sample, tmp_path, capsys):
    xyze = tiny_sample[0]
    out = tmp_path / "sol.h5"
    assert find_michels_main([str(xyze), "-o", str(out), "--workers", "1", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("6 events: Michel voxels found in ") and "events/s" in lines[0]
    assert lines[0].endswith(f"wrote {out}")


def test_first_run_says_that_it_compiles(tiny_sample, tmp_path, capsys, monkeypatch):
    import time

    import michelreco.run.parallel as parallel

    real = parallel.warm_up
    monkeypatch.setattr(parallel, "COMPILE_NOTICE_S", 0.05)
    monkeypatch.setattr(parallel, "warm_up", lambda *a, **k: time.sleep(0.3) or real(*a, **k))
    assert find_michels_main([str(tiny_sample[0]), "-o", str(tmp_path / "sol.h5"), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "compiling the finder's kernels (numba), once" in err and "reuse the compiled cache" in err
    assert "compiled in" in err


def test_demo_explains_its_counts(capsys):
    assert find_michels_main(["--demo", "--demo-events", "12", "--workers", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "demo: 12 simulated events" in out and "Michel voxels found (TP)" in out
    assert "missed (FN)" in out and "docs/scoring.md" in out


def test_demo_events_zero_blames_the_right_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        find_michels_main(["--demo", "--demo-events", "0"])
    assert exit_.value.code == 2
    assert "--demo-events: must be at least 1, got 0" in _only_line(capsys)


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


MINE = {"find", "score", "bench", "sweep", "spectrum"}   # every count option typed here
NOT_YET = {"sim", "sim-stats"}                           # the simulator's options: its owner's (see the report)


def test_every_command_spells_and_checks_workers_and_force_the_same_way():
    commands = dict(_subparsers(_build_parser()))
    assert MINE <= set(commands)
    for name, parser in commands.items():
        if name in NOT_YET:
            continue
        options = {opt: action for action in parser._actions for opt in action.option_strings}
        if "--workers" in options:
            assert options["--workers"].type is positive_int, name
            assert options["--workers"].metavar == "N", name
        if "--force" in options:
            assert isinstance(options["--force"], argparse._StoreTrueAction), name
        if name in MINE:
            if "--force" in options:                     # common.add_force_argument's wording
                assert "never replaced" in options["--force"].help, name
            for opt, action in options.items():
                assert action.type is not int, f"{name} {opt}: a plain int (use positive_int or nonnegative_int)"


@pytest.mark.parametrize("argv", [
    ["find", "x.h5", "-o", "y.h5", "--workers", "0"],
    ["sweep", "x.h5", "--grid", "g.yaml", "--out", "o", "--workers", "0"],
    ["bench", "x.h5", "--workers", "0"],
])
def test_workers_zero_is_refused_in_one_line_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "--workers: must be at least 1, got 0" in _only_line(capsys)


def test_bench_on_a_file_with_an_empty_event_and_one_worker(tiny_sample, capsys):
    xyze = tiny_sample[0]                                 # event 1 is empty
    assert main(["bench", str(xyze), "--events", "6", "--repeats", "1", "--dbscan-events", "6", "--runs",
                 "--run-events", "6", "--reference-events", "3", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 worker " in out and "1 workers" not in out and "scikit-learn" in out


def test_missing_parent_folder_is_refused_the_same_way_everywhere(scored, tiny_sample, tmp_path, capsys):
    sol, lab = scored
    xyze = tiny_sample[0]
    missing = tmp_path / "no" / "such"
    runs = [
        (find_michels_main, [str(xyze), "-o", str(missing / "s.h5"), "--workers", "1", "--quiet"]),
        (main, ["score", str(sol), str(lab), "--per-event", str(missing / "p.csv")]),
        (main, ["spectrum", str(xyze), str(lab), "--out", str(missing / "spec"), "--quiet"]),
    ]
    for entry, argv in runs:
        assert entry(argv) == 2
        assert f"{missing}: no such folder (create it first)" in _only_line(capsys)
    assert not (tmp_path / "no").exists()


def test_internal_errors_are_one_line(tiny_sample, tmp_path, capsys, monkeypatch):
    import michelreco.run.parallel as parallel

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(parallel, "run_file", broken)
    assert find_michels_main([str(tiny_sample[0]), "-o", str(tmp_path / "s.h5")]) == 1
    line = _only_line(capsys)
    assert "internal error: ZeroDivisionError: division by zero" in line and "MICHELRECO_DEBUG=1" in line


def test_score_without_matplotlib_writes_nothing(scored, tmp_path, capsys, monkeypatch):
    from michelreco.analysis import plots
    from michelreco.errors import MichelrecoError

    def missing():
        raise MichelrecoError("plotting needs matplotlib: pip install 'michelreco[plot]'")

    monkeypatch.setattr(plots, "pyplot", missing)
    sol, lab = scored
    csv_path = tmp_path / "per_event.csv"
    assert main(["score", str(sol), str(lab), "--per-event", str(csv_path), "--plot", str(tmp_path / "s.png")]) == 2
    assert "plotting needs matplotlib" in _only_line(capsys)
    assert not csv_path.exists()                     # the CSV is not written before the plot fails
