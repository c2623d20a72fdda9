"""A real Dask cluster: a scheduler and two workers as separate processes, as a cluster user starts them.

``find-michels --scheduler`` runs on it; one worker is killed (its whole process group, nanny included: a
lost node) after the first ranges are done. The run must complete, its solution byte-identical to a local
run's, and nothing may be left behind: no process, no ``/tmp/dask-scratch-space``.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from michelreco.cli import find_michels_main
from michelreco.run.io import write_events

pytest.importorskip("distributed")

REPEATS = 20            # the 60-event sample written 20 times: 1,200 events, long enough to kill a worker in
CHUNK = 10              # 120 ranges: the kill comes after the first finished ranges, long before the last


def _start(args, log: Path, env: dict) -> subprocess.Popen:
    """A process in its own session (so that killing its group kills a nanny and its worker together)."""
    with open(log, "wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after 10 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is in the process group ``pgid`` (from /proc)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups and /proc")
def test_scheduler_and_two_worker_processes_survive_a_lost_worker(sim_sample, tmp_path):
    paths, events, _ = sim_sample
    big = tmp_path / "big_xyze.h5"
    write_events(big, events * REPEATS)
    n_ranges = len(events) * REPEATS // CHUNK
    local = tmp_path / "local.h5"
    assert find_michels_main([str(big), "-o", str(local), "--workers", "1", "--chunk", str(CHUNK), "--quiet"]) == 0

    default_scratch = Path(tempfile.gettempdir()) / "dask-scratch-space"
    existed = default_scratch.exists()
    env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(tmp_path / "scratch")}
    scheduler_file = tmp_path / "scheduler.json"
    procs = []
    try:
        scheduler = _start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                            "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                           tmp_path / "scheduler.log", env)
        procs.append(scheduler)
        _wait_for(scheduler_file.exists, 60, "the scheduler file")
        _wait_for(lambda: "address" in scheduler_file.read_text(), 10, "the scheduler's address")
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = []
        for k in range(2):
            workers.append(_start([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                   str(scheduler_file), "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
                                   "--no-dashboard", "--name", f"w{k}", "--local-directory", str(tmp_path / f"w{k}")],
                                  tmp_path / f"worker{k}.log", env))
            procs.append(workers[-1])
        _wait_for(lambda: all("Registered to" in (tmp_path / f"worker{k}.log").read_text(errors="replace")
                              for k in range(2)), 60, "two workers registered")

        out = tmp_path / "dask.h5"
        parts = Path(str(out) + ".parts")
        run = _start([sys.executable, "-c", "import sys; from michelreco.cli import find_michels_main; "
                      "sys.exit(find_michels_main(sys.argv[1:]))", str(big), "-o", str(out),
                      "--scheduler", address, "--chunk", str(CHUNK), "--quiet"], tmp_path / "run.log", env)
        procs.append(run)
        _wait_for(lambda: len(list(parts.glob("range_*.npz"))) >= 2 or run.poll() is not None, 120,
                  "the first finished ranges")
        done_at_kill = len(list(parts.glob("range_*.npz")))
        assert run.poll() is None, (tmp_path / "run.log").read_text()    # killed mid-run, not after it
        os.killpg(workers[0].pid, signal.SIGKILL)                          # a lost node: nanny and worker
        workers[0].wait(10)
        assert run.wait(180) == 0, (tmp_path / "run.log").read_text()
        assert 2 <= done_at_kill < n_ranges
        assert out.read_bytes() == local.read_bytes()
        assert not parts.exists()
        log = (tmp_path / "run.log").read_text()
        assert f"{len(events) * REPEATS} events: Michel voxels found in" in log
    finally:
        for proc in reversed(procs):
            _stop(proc)
    for proc in procs:
        assert not _group_alive(proc.pid), f"a process of group {proc.pid} is still alive"
    assert existed or not default_scratch.exists()          # the suite leaves no /tmp/dask-scratch-space
