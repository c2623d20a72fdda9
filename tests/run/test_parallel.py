"""Whole-file runs: checkpoints and resume after kill -9, failing events isolated, worker pools."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
par.run_file(sys.argv[1], sys.argv[2], chunk=5, workers=int(sys.argv[3]) if len(sys.argv) > 3 else 1,
             progress=False)
"""

# The first four ranges of 5 events finish; the later ones wait a minute, so the run is still going when the
# signal comes, however slow the machine (a fixed short delay raced a loaded machine).
SLOW_CLI = """
import sys, time
import michelreco.run.parallel as par
from michelreco.cli import find_michels_main
real = par.find_in_range
def slow(*args):
    time.sleep(0.2 if args[1] < 20 else 60)
    return real(*args)
par.find_in_range = slow
sys.exit(find_michels_main(sys.argv[1:]))
"""


def _children(pid):
    """PIDs of the live processes whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _alive(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def _wait_for(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _rows(path):
    return [r for _, r in iter_solution(path)]


def test_resume_after_kill_gives_the_same_file(sim_sample, tmp_path, capsys):
    paths, events, _ = sim_sample
    ref = tmp_path / "ref.h5"
    run_file(paths.xyze, ref, chunk=5, progress=False)
    out = tmp_path / "out.h5"
    parts = tmp_path / "out.h5.parts"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(paths.xyze), str(out)])
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("range_*.npz"))) < 3:
        time.sleep(0.05)
    # the same job started again while the first still runs (submitted twice): refused in one line, even with
    # --resume or --force, and the running job's parts are left alone
    for flag in ("--resume", "--force"):
        assert find_michels_main([str(paths.xyze), "-o", str(out), "--chunk", "5", flag, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.strip() == (f"find-michels: error: {parts}: another run is writing these parts now (process "
                               f"{proc.pid}); wait for it to end, or write to another output")
    assert proc.poll() is None and len(list(parts.glob("range_*.npz"))) >= 3
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = len(list(parts.glob("range_*.npz")))
    assert 3 <= n_done < len(events) // 5 and not out.exists()
    with pytest.raises(InputError, match="--resume"):
        run_file(paths.xyze, out, chunk=5, progress=False)              # no silent restart
    with pytest.raises(InputError, match="cannot resume: made by a run with different finder parameters"):
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

    def find(self, xyze, *args, **kwargs):
        if len(xyze) == len(events[poison]) and np.array_equal(xyze, events[poison]):
            raise RuntimeError("poisoned event")
        return real_find(self, xyze, *args, **kwargs)

    monkeypatch.setattr(MichelFinder, "find", find)
    out = tmp_path / "out.h5"
    assert find_michels_main([str(paths.xyze), "-o", str(out), "--workers", "1", "--quiet"]) == 3
    captured = capsys.readouterr()
    assert "1 event failed and got empty rows" in captured.err
    assert f"{len(events)} events: Michel voxels found in" in captured.out and "1 event failed" in captured.out
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


def test_a_run_with_explain_finds_the_same_voxels(sim_sample, tmp_path):
    paths, _, _ = sim_sample
    plain, explained, records = tmp_path / "plain.h5", tmp_path / "explained.h5", tmp_path / "c.jsonl"
    assert find_michels_main([str(paths.xyze), "-o", str(plain), "--workers", "1", "--quiet"]) == 0
    assert find_michels_main([str(paths.xyze), "-o", str(explained), "--explain", str(records), "--workers", "1",
                              "--quiet"]) == 0
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(iter_solution(plain), iter_solution(explained)))
    moved = [json.loads(line).get("cut") for line in records.read_text().splitlines()]
    assert any(m and (m["added"] or m["removed"]) for m in moved)     # the cut model moved voxels here


def test_checkpoint_round_trip(tmp_path):
    cp = Checkpoint(tmp_path / "x.h5", {"a": 1})
    rows = [np.array([3, 1], np.int32), np.array([], np.int32), np.array([7], np.int32)]
    cp.save(10, rows, [(11, "ValueError: x")], [{"event": 10}])
    assert cp.done(10) and not cp.done(13)
    back, fails, lines = cp.load(10)
    assert all(np.array_equal(a, b) for a, b in zip(back, rows)) and len(back) == 3
    assert fails == [(11, "ValueError: x")] and lines == ['{"event": 10}\n']
    # a second run on the same output while this one holds its parts: refused, whatever it asks, parts untouched
    for flags in ({}, {"resume": True}, {"force": True}):
        with pytest.raises(InputError, match=f"another run is writing these parts now \\(process {os.getpid()}\\)"):
            Checkpoint(tmp_path / "x.h5", {"a": 1}, **flags)
        assert cp.done(10)
    cp.release()
    with Checkpoint(tmp_path / "x.h5", {"a": 1}, resume=True) as again:
        assert again.done(10)
    fresh = Checkpoint(tmp_path / "x.h5", {"a": 1}, force=True)
    assert not fresh.done(10)
    assert not any(p.name.endswith(".partial") for p in fresh.dir.iterdir())
    fresh.remove()
    assert not fresh.dir.exists()
    Checkpoint(tmp_path / "x.h5", {"a": 1}).release()        # the lock went with the parts


def test_a_file_system_without_locks_runs_without_one(tmp_path, monkeypatch):
    import errno

    import michelreco.run.checkpoint as checkpoint

    def no_locks(*args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(checkpoint.fcntl, "flock", no_locks)
    first = Checkpoint(tmp_path / "x.h5", {"a": 1})
    first.save(0, [np.array([1], np.int32)], [])
    assert Checkpoint(tmp_path / "x.h5", {"a": 1}, resume=True).done(0)     # nothing to hold it: it goes on


def test_dask_local_cluster_gives_the_same_rows(sim_sample, tmp_path):
    distributed = pytest.importorskip("distributed")
    paths, _, _ = sim_sample
    pool = tmp_path / "pool.h5"
    run_file(paths.xyze, pool, workers=2, chunk=9, progress=False)
    import tempfile

    import dask

    default_scratch = Path(tempfile.gettempdir()) / "dask-scratch-space"
    existed = default_scratch.exists()
    scratch = tmp_path / "dask-scratch"
    with dask.config.set({"temporary-directory": str(scratch)}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                     local_directory=str(scratch)) as cluster, \
            distributed.Client(cluster) as client:
        out = tmp_path / "dask.h5"
        run_file(paths.xyze, out, executor=client.get_executor(), workers=2, chunk=9, progress=False)
        assert out.read_bytes() == pool.read_bytes()
        # the command line, through the scheduler's address
        cli_out = tmp_path / "cli.h5"
        assert find_michels_main([str(paths.xyze), "-o", str(cli_out), "--scheduler", cluster.scheduler_address,
                                  "--chunk", "9", "--quiet"]) == 0
        assert cli_out.read_bytes() == pool.read_bytes()
    assert existed or not default_scratch.exists()          # the suite leaves no /tmp/dask-scratch-space


def test_unreachable_scheduler_is_one_line(sim_sample, tmp_path, capsys):
    pytest.importorskip("distributed")
    paths, _, _ = sim_sample
    assert find_michels_main([str(paths.xyze), "-o", str(tmp_path / "o.h5"), "--scheduler",
                              "tcp://127.0.0.1:9", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Dask scheduler" in err[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_within_seconds_of_a_kill_9_of_their_parent(sim_sample, tmp_path):
    paths, _, _ = sim_sample
    out = tmp_path / "out.h5"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(paths.xyze), str(out), "2"])
    try:
        assert _wait_for(lambda: len(_children(proc.pid)) >= 2, 120), "the pool never started"
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        t0 = time.time()
        assert _wait_for(lambda: not any(_alive(w) for w in workers), 10), "orphaned workers still alive"
        assert time.time() - t0 < 10
    finally:
        proc.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig, status, word", [(signal.SIGTERM, 143, "terminated"),
                                               (signal.SIGINT, 130, "interrupted")])
def test_sigterm_is_handled_like_ctrl_c_and_resume_finishes(sim_sample, tmp_path, sig, status, word):
    paths, _, _ = sim_sample
    ref = tmp_path / "ref.h5"
    run_file(paths.xyze, ref, chunk=5, progress=False)
    out = tmp_path / "out.h5"
    parts = tmp_path / "out.h5.parts"
    cmd = [sys.executable, "-c", SLOW_CLI, str(paths.xyze), "-o", str(out), "--workers", "2", "--chunk", "5",
           "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    assert _wait_for(lambda: len(list(parts.glob("range_*.npz"))) >= 2, 120)
    workers = _children(proc.pid)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == status
    lines = err.strip().splitlines()
    assert "Traceback" not in err and lines[-1] == f"find-michels: {word}"
    assert "--resume" in err and not out.exists()
    assert _wait_for(lambda: not any(_alive(w) for w in workers), 5)
    n_done = len(list(parts.glob("range_*.npz")))
    assert 2 <= n_done <= 4
    assert not list(parts.glob(".*"))                     # no temporary left behind
    assert find_michels_main([str(paths.xyze), "-o", str(out), "--chunk", "5", "--resume", "--quiet",
                              "--workers", "1"]) == 0
    assert out.read_bytes() == ref.read_bytes() and not parts.exists()


def test_a_poisoned_event_is_isolated_with_workers_even_in_the_warm_up(sim_sample, tmp_path, monkeypatch, capsys):
    from michelreco.reco.finder import MichelFinder

    paths, events, _ = sim_sample
    ref = tmp_path / "ref.h5"
    run_file(paths.xyze, ref, progress=False, chunk=7)
    poison = max(range(20), key=lambda i: len(events[i]))         # the event the warm-up runs on
    real_find = MichelFinder.find

    def find(self, xyze, *args, **kwargs):
        if len(xyze) == len(events[poison]) and np.array_equal(xyze, events[poison]):
            raise RuntimeError("poisoned event")
        return real_find(self, xyze, *args, **kwargs)

    monkeypatch.setattr(MichelFinder, "find", find)     # forked workers inherit it
    out = tmp_path / "out.h5"
    assert find_michels_main([str(paths.xyze), "-o", str(out), "--workers", "2", "--chunk", "7", "--quiet"]) == 3
    assert "Traceback" not in capsys.readouterr().err
    got, expected = _rows(out), _rows(ref)
    assert got[poison].size == 0
    assert all(np.array_equal(a, b) for i, (a, b) in enumerate(zip(got, expected)) if i != poison)
    assert (tmp_path / "out.h5.errors.log").read_text() == f"{poison}\tRuntimeError: poisoned event\n"
    assert not (tmp_path / "out.h5.parts").exists()


def _copy_with_bad_events(src, dst, bad: dict):
    """Copy an events file, replacing the rows of ``bad`` (event -> flat row)."""
    import h5py

    from michelreco.run.io import iter_rows

    rows = [bad.get(i, row) for i, row in iter_rows(src, "data")]
    with h5py.File(dst, "w") as f:
        ds = f.create_dataset("data", (len(rows),), dtype=h5py.vlen_dtype(np.float32))
        for i, row in enumerate(rows):
            ds[i] = np.asarray(row, np.float32)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_malformed_events_are_isolated_and_logged(sim_sample, tmp_path, capsys, workers):
    paths, events, _ = sim_sample
    twice = np.concatenate([events[0], events[0][:1]])           # event 0: a voxel listed twice
    half = events[3].copy()
    half[0, 2] += 0.5                                            # event 3: a coordinate between voxels
    bad = tmp_path / "bad_xyze.h5"
    _copy_with_bad_events(paths.xyze, bad, {0: twice.ravel(), 3: half.ravel()})
    out = tmp_path / "out.h5"
    assert find_michels_main([str(bad), "-o", str(out), "--workers", workers, "--chunk", "7", "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and "2 events failed" in err
    log = (tmp_path / "out.h5.errors.log").read_text().splitlines()
    assert log[0].startswith(f"0\tbad input: voxel {len(events[0])} (") and log[0].endswith("listed twice (also voxel 0)")
    assert log[1].startswith("3\tbad input: voxel 0 (") and "not whole voxel indices" in log[1]
    rows = _rows(out)
    assert rows[0].size == 0 and rows[3].size == 0 and len(rows) == len(events)


def test_a_file_of_malformed_events_is_refused_and_leaves_nothing(tmp_path, capsys):
    import h5py

    path = tmp_path / "neg_xyze.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", (150,), dtype=h5py.vlen_dtype(np.float32))
        for i in range(150):
            ds[i] = np.array([1, 2, 3, -1.0], np.float32)          # every event has a negative energy
    out = tmp_path / "out.h5"
    assert find_michels_main([str(path), "-o", str(out), "--workers", "1", "--chunk", "30", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "event 0: voxel 0 (1, 2, 3): negative energy" in err[0]
    assert "every one of the first 120 events" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neg_xyze.h5"]


def test_resume_recomputes_a_damaged_part_and_refuses_another_version(sim_sample, tmp_path):
    from michelreco.run.checkpoint import Checkpoint

    paths, events, _ = sim_sample
    ref = tmp_path / "ref.h5"
    run_file(paths.xyze, ref, chunk=10, progress=False)
    out = tmp_path / "out.h5"
    parts = tmp_path / "out.h5.parts"
    real = Checkpoint.remove
    Checkpoint.remove = lambda self: None              # keep the parts as a killed run would
    try:
        run_file(paths.xyze, tmp_path / "tmp.h5", chunk=10, progress=False)
    finally:
        Checkpoint.remove = real
    (tmp_path / "tmp.h5.parts").rename(parts)
    first, second = sorted(parts.glob("range_*.npz"))[:2]
    first.write_bytes(first.read_bytes()[:100])                    # truncated
    second.write_bytes(b"\0" * second.stat().st_size)              # zeroed
    (parts / f".{first.name}.999.partial").write_bytes(b"junk")    # a killed write
    manifest = json.loads((parts / "manifest.json").read_text())
    good = dict(manifest)
    manifest["version"] = "0.0.1"
    (parts / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"cannot resume: made by michelreco 0.0.1 \(this is "):
        run_file(paths.xyze, out, chunk=10, progress=False, resume=True)
    good["input"]["mtime_ns"] += 1
    (parts / "manifest.json").write_text(json.dumps(good))
    with pytest.raises(InputError, match="cannot resume: the input file changed since"):
        run_file(paths.xyze, out, chunk=10, progress=False, resume=True)
    good["input"]["mtime_ns"] -= 1
    (parts / "manifest.json").write_text(json.dumps(good))
    run_file(paths.xyze, out, chunk=10, progress=False, resume=True)
    assert out.read_bytes() == ref.read_bytes() and not parts.exists()


def test_outputs_never_replace_inputs_and_stale_logs_go(sim_sample, tmp_path, capsys):
    paths, _, _ = sim_sample
    xyze = tmp_path / "v_xyze.h5"
    xyze.write_bytes(paths.xyze.read_bytes())
    before = xyze.read_bytes()
    link = tmp_path / "link.h5"
    link.symlink_to(xyze)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("min_bragg_ratio: 1.8\n")
    cases = [
        (["-o", str(tmp_path / "v.h5"), "--explain", str(xyze)], "is the input"),
        (["-o", str(link)], "is the input"),
        (["-o", str(tmp_path / "o3.h5"), "--explain", str(tmp_path / "o3.h5")], "given both as -o and as --explain"),
        (["-o", str(cfg), "--config", str(cfg)], "is the input"),
    ]
    for extra, message in cases:
        assert find_michels_main([str(xyze), *extra, "--force", "--quiet", "--workers", "1"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert xyze.read_bytes() == before and cfg.read_text() == "min_bragg_ratio: 1.8\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.yaml", "link.h5", "v_xyze.h5"]
    out = tmp_path / "sol.h5"
    (tmp_path / "sol.h5.errors.log").write_text("3\tRuntimeError: from an earlier run\n")
    assert find_michels_main([str(xyze), "-o", str(out), "--quiet", "--workers", "1"]) == 0
    assert not (tmp_path / "sol.h5.errors.log").exists()


def test_workers_do_not_inherit_the_compiler(sim_sample, tmp_path):
    # numba's compiler keeps ~180 MB; a run with workers compiles in a child process, so the parent, which the
    # workers are forked from, never runs the finder (a run with one worker runs it in the parent itself)
    paths, _, _ = sim_sample
    code = ("import sys\nfrom michelreco.run.parallel import run_file\n"
            "from michelreco.reco.candidates import event_candidates\n"
            "run_file(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), stop=12, chunk=4, progress=False)\n"
            "print(len(event_candidates.signatures))\n")
    compiled = {}
    for workers in (1, 2):
        run = subprocess.run([sys.executable, "-c", code, str(paths.xyze), str(tmp_path / f"w{workers}.h5"),
                              str(workers)], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        compiled[workers] = int(run.stdout.split()[-1])
    assert compiled == {1: 1, 2: 0}
    assert (tmp_path / "w1.h5").read_bytes() == (tmp_path / "w2.h5").read_bytes()
