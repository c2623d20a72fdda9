"""Whole-file runs: checkpoints and resume after kill -9, failing events isolated, worker pools."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from michelreco.run.checkpoint import Checkpoint
from michelreco.cli import find_michels_main
from michelreco.errors import InputError
from michelreco.run.io import iter_solution
from michelreco.run.parallel import run_file

SLOW_RUN = """
import sys, time
import michelreco.run.parallel as par
real = par.find_in_range
def slow(*args):
    time.sleep(0.3)
    return real(*args)
par.find_in_range = slow
par.run_file(sys.argv[1], sys.argv[2], chunk=5, workers=1, progress=False)
"""


def _rows(path):
    return [r for _, r in iter_solution(path)]


def test_resume_after_kill_gives_the_same_file(sim_sample, tmp_path):
    paths, events, _ = sim_sample
    ref = tmp_path / "ref.h5"
    run_file(paths.xyze, ref, chunk=5, progress=False)
    out = tmp_path / "out.h5"
    parts = tmp_path / "out.h5.parts"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(paths.xyze), str(out)])
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("range_*.npz"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = len(list(parts.glob("range_*.npz")))
    assert 3 <= n_done < len(events) // 5 and not out.exists()
    with pytest.raises(InputError, match="--resume"):
        run_file(paths.xyze, out, chunk=5, progress=False)              # no silent restart
    with pytest.raises(InputError, match="another input, range or parameters"):
        run_file(paths.xyze, out, {"min_bragg_ratio": 2.0}, chunk=5, progress=False, resume=True)
    run_file(paths.xyze, out, chunk=5, progress=False, resume=True)
    assert out.read_bytes() == ref.read_bytes()
    assert not parts.exists()


def test_a_failing_event_gets_an_empty_row_and_is_logged(sim_sample, tmp_path, monkeypatch, capsys):
    from michelreco.reco.finder import MichelFinder

    paths, events, _ = sim_sample
    ref = tmp_path / "ref.h5"
    run_file(paths.xyze, ref, progress=False)
    poison = next(i for i, x in enumerate(events) if len(x) > 100 and i > 0)
    real_find = MichelFinder.find

    def find(self, xyze):
        if len(xyze) == len(events[poison]) and np.array_equal(xyze, events[poison]):
            raise RuntimeError("poisoned event")
        return real_find(self, xyze)

    monkeypatch.setattr(MichelFinder, "find", find)
    out = tmp_path / "out.h5"
    assert find_michels_main([str(paths.xyze), "-o", str(out), "--workers", "1", "--quiet"]) == 3
    assert "1 events failed" in capsys.readouterr().err
    got, expected = _rows(out), _rows(ref)
    assert got[poison].size == 0
    assert all(np.array_equal(a, b) for i, (a, b) in enumerate(zip(got, expected)) if i != poison)
    log = (tmp_path / "out.h5.errors.log").read_text()
    assert log.startswith(f"{poison}\tRuntimeError: poisoned event")


def test_process_pool_gives_the_same_rows(sim_sample, tmp_path):
    paths, _, _ = sim_sample
    one, two = tmp_path / "one.h5", tmp_path / "two.h5"
    run_file(paths.xyze, one, workers=1, chunk=7, progress=False)
    run_file(paths.xyze, two, workers=2, chunk=7, progress=False)
    assert one.read_bytes() == two.read_bytes()


def test_checkpoint_round_trip(tmp_path):
    cp = Checkpoint(tmp_path / "x.h5", {"a": 1})
    rows = [np.array([3, 1], np.int32), np.array([], np.int32), np.array([7], np.int32)]
    cp.save(10, rows, [(11, "ValueError: x")], [{"event": 10}])
    assert cp.done(10) and not cp.done(13)
    back, fails, lines = cp.load(10)
    assert all(np.array_equal(a, b) for a, b in zip(back, rows)) and len(back) == 3
    assert fails == [(11, "ValueError: x")] and lines == ['{"event": 10}\n']
    assert Checkpoint(tmp_path / "x.h5", {"a": 1}, resume=True).done(10)
    fresh = Checkpoint(tmp_path / "x.h5", {"a": 1}, force=True)
    assert not fresh.done(10)
    assert not any(p.name.endswith(".partial") for p in fresh.dir.iterdir())


def test_dask_local_cluster_gives_the_same_rows(sim_sample, tmp_path):
    distributed = pytest.importorskip("distributed")
    paths, _, _ = sim_sample
    pool = tmp_path / "pool.h5"
    run_file(paths.xyze, pool, workers=2, chunk=9, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        out = tmp_path / "dask.h5"
        run_file(paths.xyze, out, executor=client.get_executor(), workers=2, chunk=9, progress=False)
        assert out.read_bytes() == pool.read_bytes()
        # the command line, through the scheduler's address
        cli_out = tmp_path / "cli.h5"
        assert find_michels_main([str(paths.xyze), "-o", str(cli_out), "--scheduler", cluster.scheduler_address,
                                  "--chunk", "9", "--quiet"]) == 0
        assert cli_out.read_bytes() == pool.read_bytes()


def test_unreachable_scheduler_is_one_line(sim_sample, tmp_path, capsys):
    pytest.importorskip("distributed")
    paths, _, _ = sim_sample
    assert find_michels_main([str(paths.xyze), "-o", str(tmp_path / "o.h5"), "--scheduler",
                              "tcp://127.0.0.1:9", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Dask scheduler" in err[0]
