"""Run the finder over a whole events file: event ranges, a pool of workers, ordered block-wise writing.

Workers open the input file themselves (h5py objects cannot be pickled) and return solution rows for
one range of events; only the parent writes. Any ``concurrent.futures.Executor`` can do the work; the
local pool's workers die with the run (``workers.worker_pool``).

An event is isolated whatever goes wrong with it, in a worker or in the warm-up: a malformed row (the input
checks of ``io.check_xyze_row``) or an error of the finder gives an empty row and a line in
``SOLUTION.errors.log``, and the run goes on. A file whose first events are all malformed is refused
instead (``MALFORMED_PROBE`` events), since it is not a challenge events file at all.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from michelreco.errors import EventInputError, InputError
from michelreco.run.checkpoint import Checkpoint, input_fingerprint
from michelreco.run.io import (EVENTS_DATASET, EventError, RowWriter, _resolve_range, check_xyze_row, event_count,
                               iter_rows)
from michelreco.run.outputs import atomic_open, check_outputs, os_error_message, write_bytes_atomically
from michelreco.run.workers import worker_pool

if TYPE_CHECKING:
    from tqdm import tqdm as Tqdm

__all__ = ["RangeResult", "RunSummary", "find_in_range", "run_file", "event_ranges", "ordered_results", "progress_bar",
           "warm_up", "warm_up_aside", "dask_executor", "current_rss_mb", "MALFORMED_PROBE", "COMPILE_NOTICE_S", "errors_log_path"]

MALFORMED_PROBE = 100          # a file whose first this-many events are all malformed is refused
COMPILE_NOTICE_S = 3.0         # say that numba compiles when the warm-up takes longer than this (loading: ~1 s)


@dataclass
class RangeResult:
    """Solution rows of events [start, stop) and the events whose finding raised."""

    start: int
    stop: int
    rows: list = field(default_factory=list)
    failures: list = field(default_factory=list)   # (event index, error text)
    records: list = field(default_factory=list)    # finder.explain records, with "event", when asked
    peak_rss_mb: float = 0.0                       # the worker's peak resident memory so far
    malformed: int = 0                             # events refused by the input checks (among failures)
    find_seconds: float = 0.0                      # CPU time of the task's thread inside the finder
    cpu_seconds: float = 0.0                       # CPU time of the task's thread: reading, checks, finder
    rss_mb: float = 0.0                            # the worker's resident memory at the end of the range


@dataclass
class RunSummary:
    """What a whole-file run did.

    ``failures`` are (event index, reason) of the events given an empty row; ``events`` the events of the
    run, ``michel_events`` those with at least one Michel voxel found, ``michel_voxels`` the voxels found,
    ``seconds`` the wall time, ``peak_worker_rss_mb`` the largest peak memory of a worker.

    What the time went to (``michelreco bench --runs``): ``find_seconds`` and ``task_cpu_seconds`` sum the
    CPU time of the ranges' tasks inside the finder and in all (reading, input checks, finder);
    ``parent_cpu_seconds`` is this process's CPU time after the warm-up (receiving results, checkpoints,
    writing the output); ``rss_trace`` holds (first event, resident MB, peak MB) of the worker of every range,
    in order.
    """

    failures: list
    peak_worker_rss_mb: float
    events: int = 0
    michel_events: int = 0
    michel_voxels: int = 0
    seconds: float = 0.0
    warm_up_seconds: float = 0.0
    output: Path | None = None
    find_seconds: float = 0.0
    task_cpu_seconds: float = 0.0
    parent_cpu_seconds: float = 0.0
    rss_trace: list = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        """Events per second of wall time after the warm-up (numba's compilation on a first run)."""
        seconds = self.seconds - self.warm_up_seconds
        return self.events / seconds if seconds > 0 else float("nan")


def event_ranges(start: int, stop: int, chunk: int) -> list[tuple[int, int]]:
    """Split [start, stop) into consecutive ranges of at most ``chunk`` events."""
    return [(lo, min(lo + chunk, stop)) for lo in range(start, stop, chunk)]


def errors_log_path(output_path: str | os.PathLike) -> Path:
    """Where a run writes the events that failed: ``SOLUTION.errors.log`` beside the solution.

    Parameters
    ----------
    output_path : path-like
        The solution file.

    Returns
    -------
    pathlib.Path
        ``SOLUTION.errors.log``.
    """
    output_path = Path(output_path)
    return output_path.with_name(output_path.name + ".errors.log")


def find_in_range(path: str, start: int, stop: int, params: dict, dataset: str = EVENTS_DATASET,
                  explain: bool = False) -> RangeResult:
    """Find Michels in events [start, stop) of ``path``; an event that is malformed or raises gets an empty row.

    With ``explain``, the finder's per-candidate records are kept too, and the row is read from them
    (``finder.found_in_records``: the same as ``find``).
    """
    from michelreco.reco.finder import MichelFinder, found_in_records

    cpu0 = time.thread_time()       # the thread's own CPU time: right in a threaded Dask worker too
    finder = MichelFinder(**params)
    result = RangeResult(start, stop)
    for i, raw in iter_rows(path, dataset, start, stop):
        try:
            xyze = check_xyze_row(raw, i, path, duplicates=False)     # the finder refuses duplicates itself
            t0 = time.thread_time()
            if explain:
                records = finder.explain(xyze)
                for rec in records:
                    rec["event"] = i
                result.records.extend(records)
                row = found_in_records(records)
            else:
                row = finder.find(xyze, validate=False)      # check_xyze_row above checked it already
            result.find_seconds += time.thread_time() - t0
        except (EventError, EventInputError) as err:
            row = np.empty(0, np.int32)
            result.failures.append((i, f"bad input: {err.reason}"))
            result.malformed += 1
        except Exception as err:  # noqa: BLE001 - one bad event must not stop a 1M-event run
            row = np.empty(0, np.int32)
            result.failures.append((i, f"{type(err).__name__}: {err}"))
        result.rows.append(row)
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: kB
    result.rss_mb = current_rss_mb()
    result.cpu_seconds = time.thread_time() - cpu0
    return result


def current_rss_mb() -> float:
    """This process's resident memory now, in MB (0.0 where ``/proc`` is not available).

    Returns
    -------
    float
        Resident set size in MB (``/proc/self/statm``).
    """
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError, IndexError):
        return 0.0


def _cpu_seconds() -> float:
    """User plus system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def warm_up(path: str | os.PathLike, event: int, params: dict, dataset: str = EVENTS_DATASET, probe: int = 20) -> bool:
    """Run the finder once here, so numba compiles (or loads) its kernels before the run is timed and before
    workers start (they load the on-disk cache; ``warm_up_aside`` runs this in a child process).

    The largest valid event among ``probe`` events from ``event`` on is used. Nothing here can stop a run: a
    malformed or failing event is the run's business (it is logged there).

    Parameters
    ----------
    path : path-like
        The events file.
    event : int
        The first event to look at.
    params : dict
        Finder parameters.
    dataset : str
        The events dataset.
    probe : int
        Events looked at.

    Returns
    -------
    bool
        Whether the warm-up ran without error.
    """
    from michelreco.reco.finder import MichelFinder

    try:
        stop = min(event + probe, event_count(path, dataset))
        best = None
        for i, raw in iter_rows(path, dataset, event, stop, block=probe):
            try:
                xyze = check_xyze_row(raw, i, path)
            except EventError:
                continue
            if best is None or len(xyze) > len(best):
                best = xyze
        MichelFinder(**params).warm_up(best if best is not None else np.zeros((0, 4), np.float32))
        return True
    except Exception:  # noqa: BLE001 - the warm-up is an optimization
        return False


def warm_up_aside(path: str | os.PathLike, event: int, params: dict, dataset: str = EVENTS_DATASET) -> bool:
    """``warm_up`` in a short-lived child process, for runs whose work happens in other processes.

    Compiling takes numba and LLVM about 180 MB that are never given back; workers forked from a parent that
    compiled start with them (a cold-cache run measured 345 MB per worker instead of 163). The child writes
    the on-disk cache and exits; workers then load the kernels from the cache.
    """
    from michelreco.run.workers import worker_pool

    try:
        with worker_pool(1) as pool:
            return bool(pool.submit(warm_up, str(path), event, params, dataset).result())
    except Exception:  # noqa: BLE001 - the warm-up is an optimization (a pool that cannot start fails the run)
        return False


def _warm_up_announced(path, event, params, dataset, announce: bool, aside: bool = False) -> float:
    """``warm_up`` (``warm_up_aside`` with ``aside``), saying on stderr that numba compiles when it takes more
    than ``COMPILE_NOTICE_S``; returns its duration (s)."""
    t0 = time.perf_counter()
    run = warm_up_aside if aside else warm_up
    if not announce:
        run(path, event, params, dataset)
        return time.perf_counter() - t0
    notice = threading.Timer(COMPILE_NOTICE_S, lambda: print(
        "compiling the finder's kernels (numba), once: half a minute to a minute; later runs and every worker "
        "reuse the compiled cache ...", file=sys.stderr, flush=True))
    notice.daemon = True
    notice.start()
    try:
        run(path, event, params, dataset)
    finally:
        notice.cancel()
    seconds = time.perf_counter() - t0
    if seconds > COMPILE_NOTICE_S:
        print(f"compiled in {seconds:.0f} s", file=sys.stderr, flush=True)
    return seconds


@contextlib.contextmanager
def dask_executor(address: str) -> Iterator[tuple[Executor, int]]:
    """A ``concurrent.futures`` executor on a running Dask scheduler and its number of workers, for a
    ``with`` block; the client is closed after it."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask's distributed package: pip install 'michelreco[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except OSError as err:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {err}") from None
    try:
        yield client.get_executor(), max(len(client.scheduler_info()["workers"]), 1)
    finally:
        client.close()


def run_file(input_path: str | os.PathLike, output_path: str | os.PathLike, params: dict | None = None, *,
             workers: int = 1, start: int = 0, stop: int | None = None, force: bool = False, resume: bool = False,
             chunk: int = 500, dataset: str = EVENTS_DATASET, executor: Executor | None = None,
             progress: bool = True, output_dataset: str = "solution",
             explain_path: str | os.PathLike | None = None, inputs: Iterable = ()) -> RunSummary:
    """Find Michels in events [start, stop) of ``input_path`` and write the solution to ``output_path``.

    Parameters
    ----------
    input_path, output_path : path-like
        The events file and the solution file to write.
    params : dict, optional
        Finder parameters.
    workers : int
        Local worker processes (1: in this process); with ``executor``, the tasks kept in flight per worker.
    start, stop : int
        The event range; the solution has one row per event of it, and records ``start`` in its dataset's
        ``first_event`` attribute when it is not 0 (``michelreco score`` reads it).
    force, resume : bool
        Replace an existing output (and discard an interrupted run's parts); continue an interrupted run.
    chunk : int
        Events per task and per checkpointed part.
    executor : concurrent.futures.Executor, optional
        Run the tasks there (a Dask client's executor) instead of a local pool.
    progress : bool
        Progress bar and compile notice on stderr.
    output_dataset : str
        Name of the solution dataset.
    explain_path : path-like, optional
        Write every candidate's record (``MichelFinder.explain``, plus its event index) there as JSON lines.
    inputs : iterable of path-like
        Further inputs of the command (a config file): no output may be one of them.

    Returns
    -------
    RunSummary
        Failed events (also logged in ``SOLUTION.errors.log``), counts, time, peak worker memory.
    """
    t0 = time.perf_counter()
    params = dict(params or {})
    input_path, output_path = Path(input_path), Path(output_path)
    if workers < 1:
        raise InputError("--workers must be at least 1")
    if chunk < 1:
        raise InputError("--chunk must be at least 1")
    n = event_count(input_path, dataset)
    start, stop = _resolve_range(n, start, stop, input_path)
    if start == stop and n:
        raise InputError(f"{input_path}: the event range [{start}, {stop}) is empty")
    check_outputs({"-o": output_path, "--explain": explain_path}, [input_path, *inputs], force)
    manifest = {"input": input_fingerprint(input_path), "dataset": dataset, "start": start, "stop": stop,
                "chunk": chunk, "params": params, "explain": explain_path is not None}
    with Checkpoint(output_path, manifest, resume=resume, force=force) as checkpoint:   # locked until the end
        ranges = event_ranges(start, stop, chunk)
        todo = [(lo, hi) for lo, hi in ranges if not checkpoint.done(lo, hi - lo)]
        own_pool = executor is None and workers > 1
        # where other processes do the work, the kernels are compiled aside: workers forked from a parent that
        # compiled would carry the compiler's memory
        warm_up_seconds = (_warm_up_announced(input_path, todo[0][0], params, dataset, progress,
                                              aside=own_pool or executor is not None) if todo else 0.0)
        bar = progress_bar(stop - start, progress)
        bar.update(sum(hi - lo for lo, hi in ranges) - sum(hi - lo for lo, hi in todo))
        peak_rss = 0.0
        cpu_after_warm_up = _cpu_seconds()
        find_seconds = task_seconds = 0.0
        rss_trace = []
        probe = _MalformedProbe(input_path, min(MALFORMED_PROBE, stop - start) if todo and todo[0][0] == start else 0)
        try:
            with (worker_pool(workers) if own_pool else contextlib.nullcontext(executor)) as pool:
                tasks = [(str(input_path), lo, hi, params, dataset, explain_path is not None) for lo, hi in todo]
                for result in ordered_results(pool, find_in_range, workers, tasks):
                    probe.check(result)
                    try:
                        checkpoint.save(result.start, result.rows, result.failures,
                                        result.records if explain_path is not None else None)
                    except (InputError, OSError) as err:     # a full disk: an output problem, the parts stay
                        err = os_error_message(err) if isinstance(err, OSError) else err
                        raise _PartsKept(f"{err} (the finished ranges are kept in {checkpoint.dir}: rerun with "
                                         f"--resume once that is fixed)") from None
                    peak_rss = max(peak_rss, result.peak_rss_mb)
                    find_seconds += result.find_seconds
                    task_seconds += result.cpu_seconds
                    rss_trace.append((result.start, result.rss_mb, result.peak_rss_mb))
                    bar.update(result.stop - result.start)
        except InputError as err:
            if not isinstance(err, _PartsKept):
                checkpoint.remove()      # bad input: no resume can finish this run; leave nothing behind
            raise
        finally:
            bar.close()
        try:
            summary = _merge_parts(checkpoint, ranges, output_path, stop - start, output_dataset, force, explain_path,
                                   start, [input_path, *inputs])
        except (InputError, OSError) as err:   # the output could not be written: every range is done, keep them
            err = os_error_message(err) if isinstance(err, OSError) else err
            raise InputError(f"{err} (every range is done and kept in {checkpoint.dir}: rerun with --resume once "
                             f"that is fixed)") from None
        checkpoint.remove()
        log = errors_log_path(output_path)
        if summary.failures:
            write_bytes_atomically(log, "".join(f"{i}\t{msg}\n" for i, msg in summary.failures).encode())
        else:
            log.unlink(missing_ok=True)          # a previous run's log no longer describes this output
        summary.peak_worker_rss_mb = peak_rss
        summary.find_seconds, summary.task_cpu_seconds, summary.rss_trace = find_seconds, task_seconds, rss_trace
        summary.parent_cpu_seconds = _cpu_seconds() - cpu_after_warm_up
        summary.seconds = time.perf_counter() - t0
        summary.warm_up_seconds = warm_up_seconds
        summary.output = output_path
        return summary


class _PartsKept(InputError):
    """Writing a part failed (not the input): the finished parts stay for ``--resume``."""


class _MalformedProbe:
    """Refuse a file whose first ``needed`` events (results taken in order) all fail the input checks."""

    def __init__(self, path, needed: int):
        self.path, self.needed = path, needed
        self.seen = self.malformed = 0
        self.first = None

    def check(self, result: RangeResult) -> None:
        """Count one range's events; raise InputError once the first ``needed`` are seen and all malformed."""
        if self.seen >= self.needed:
            return
        self.seen += result.stop - result.start
        self.malformed += result.malformed
        if self.first is None and result.failures:
            self.first = result.failures[0]
        if self.seen >= self.needed and self.malformed == self.seen:
            event, reason = self.first
            reason = reason.removeprefix("bad input: ")
            more = (f" (and so is every one of the first {self.seen} events: is this a challenge events file?)"
                    if self.seen > 1 else "")
            raise InputError(f"{self.path}: event {event}: {reason}{more}")


def _merge_parts(checkpoint, ranges, output_path, n_rows, output_dataset, force, explain_path, start,
                 inputs) -> RunSummary:
    """Write the finished ranges, in order, into the output (and the explain file); return what they hold."""
    summary = RunSummary(failures=[], peak_worker_rss_mb=0.0, events=n_rows)
    attrs = {"first_event": start} if start else None
    with RowWriter(output_path, n_rows, dataset=output_dataset, force=force, inputs=inputs, attrs=attrs) as writer, \
            (atomic_open(explain_path) if explain_path is not None else contextlib.nullcontext()) as explain:
        for lo, _ in ranges:
            rows, fails, lines = checkpoint.load(lo)
            for row in rows:
                writer.append(row)
                if len(row):
                    summary.michel_events += 1
                    summary.michel_voxels += len(row)
            summary.failures.extend(fails)
            if explain:
                explain.writelines(lines)
    return summary


def ordered_results(pool: Executor | None, fn: Callable[..., Any], workers: int,
                    tasks: list[tuple]) -> Iterator[Any]:
    """Yield ``fn(*task)`` for each task in order, at most 2 tasks per worker in flight; ``pool=None`` runs here."""
    if pool is None:
        for task in tasks:
            yield fn(*task)
        return
    pending: deque = deque()
    todo = iter(tasks)
    try:
        for task in todo:
            pending.append(pool.submit(fn, *task))
            if len(pending) >= 2 * max(workers, 1):
                break
        while pending:
            yield pending.popleft().result()
            task = next(todo, None)
            if task is not None:
                pending.append(pool.submit(fn, *task))
    finally:
        for future in pending:          # an error or interruption: drop what has not started
            future.cancel()


class _NoBar:
    def update(self, n: int) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


def progress_bar(total: int, enabled: bool = True, unit: str = "ev") -> Tqdm | _NoBar:
    """A tqdm bar (rate and ETA) over ``total`` items, or a silent stand-in when disabled."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=total, unit=unit, smoothing=0.05, dynamic_ncols=True)
