"""Run the finder over a whole events file: event ranges, a pool of workers, ordered block-wise writing.

Workers open the input file themselves (h5py objects cannot be pickled) and return solution rows for
one range of events; only the parent writes. Any ``concurrent.futures.Executor`` can do the work.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from michelreco.run.checkpoint import Checkpoint
from michelreco.errors import InputError
from michelreco.run.io import EVENTS_DATASET, RowWriter, _resolve_range, event_count, iter_events

__all__ = ["RangeResult", "RunSummary", "find_in_range", "run_file", "event_ranges", "ordered_results", "progress_bar",
           "warm_up", "dask_executor"]


@dataclass
class RangeResult:
    """Solution rows of events [start, stop) and the events whose finding raised."""

    start: int
    stop: int
    rows: list = field(default_factory=list)
    failures: list = field(default_factory=list)   # (event index, error text)
    records: list = field(default_factory=list)    # finder.explain records, with "event", when asked
    peak_rss_mb: float = 0.0                       # the worker's peak resident memory so far


@dataclass
class RunSummary:
    """What a whole-file run did: the failed events, and the largest peak memory of a worker."""

    failures: list
    peak_worker_rss_mb: float


def event_ranges(start: int, stop: int, chunk: int) -> list[tuple[int, int]]:
    """Split [start, stop) into consecutive ranges of at most ``chunk`` events."""
    return [(lo, min(lo + chunk, stop)) for lo in range(start, stop, chunk)]


def find_in_range(path: str, start: int, stop: int, params: dict, dataset: str = EVENTS_DATASET,
                  explain: bool = False) -> RangeResult:
    """Find Michels in events [start, stop) of ``path``; an event that raises gets an empty row.

    With ``explain``, the finder's per-candidate records are kept too, and the row is the union of the
    voxels of the candidates they call Michel (the same as ``find``).
    """
    from michelreco.reco.finder import MichelFinder

    finder = MichelFinder(**params)
    result = RangeResult(start, stop)
    for i, xyze in iter_events(path, start, stop, dataset=dataset):
        try:
            if explain:
                records = finder.explain(xyze)
                for rec in records:
                    rec["event"] = i
                result.records.extend(records)
                michel = [r["voxels"] for r in records if r["michel"]]
                row = np.unique(np.concatenate(michel)).astype(np.int32) if michel else np.empty(0, np.int32)
            else:
                row = finder.find(xyze)
        except Exception as err:  # noqa: BLE001 - one bad event must not stop a 1M-event run
            row = np.empty(0, np.int32)
            result.failures.append((i, f"{type(err).__name__}: {err}"))
        result.rows.append(row)
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: kB
    return result


def warm_up(path, event: int, params: dict, dataset: str = EVENTS_DATASET) -> None:
    """Run the finder once here, so numba compiles (or loads) its kernels into the on-disk cache
    before workers start: they then load them instead of all compiling at once."""
    from michelreco.reco.finder import MichelFinder
    from michelreco.run.io import read_event

    MichelFinder(**params).find(read_event(path, event, dataset))


@contextlib.contextmanager
def dask_executor(address: str):
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


def run_file(input_path, output_path, params: dict | None = None, *, workers: int = 1,
             start: int = 0, stop: int | None = None, force: bool = False, resume: bool = False,
             chunk: int = 500, dataset: str = EVENTS_DATASET, executor: Executor | None = None,
             progress: bool = True, output_dataset: str = "solution", explain_path=None) -> RunSummary:
    """Find Michels in events [start, stop) of ``input_path`` and write the solution to ``output_path``.

    Ranges of ``chunk`` events are checkpointed as they finish (``checkpoint.Checkpoint``); with
    ``resume``, a run killed before the end continues where it stopped and writes the same file. With
    ``explain_path``, every candidate's record (``MichelFinder.explain``, plus its event index) is written
    there as JSON lines. Returns the failed events as (index, error) pairs (also logged next to the
    output) and the largest peak memory of a worker.
    """
    params = dict(params or {})
    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.exists() and input_path.exists() and os.path.samefile(input_path, output_path):
        raise InputError(f"{output_path}: is the input file; refusing to overwrite it")
    for out in (output_path, explain_path):
        if out is not None and Path(out).exists() and not force:
            raise InputError(f"{out}: exists; use --force to overwrite")
    if chunk < 1:
        raise InputError("--chunk must be at least 1")
    n = event_count(input_path, dataset)
    start, stop = _resolve_range(n, start, stop, input_path)
    stat = input_path.stat()
    checkpoint = Checkpoint(output_path, {
        "input": str(input_path.resolve()), "input_bytes": stat.st_size, "input_mtime_ns": stat.st_mtime_ns,
        "dataset": dataset, "start": start, "stop": stop, "chunk": chunk, "params": params,
        "explain": explain_path is not None}, resume=resume, force=force)
    ranges = event_ranges(start, stop, chunk)
    todo = [(lo, hi) for lo, hi in ranges if not checkpoint.done(lo)]
    if todo and (workers > 1 or executor is not None):
        warm_up(input_path, todo[0][0], params, dataset)
    bar = progress_bar(stop - start, progress)
    bar.update(sum(hi - lo for lo, hi in ranges) - sum(hi - lo for lo, hi in todo))
    own_pool = executor is None and workers > 1
    pool = ProcessPoolExecutor(max_workers=workers) if own_pool else executor
    peak_rss = 0.0
    try:
        tasks = [(str(input_path), lo, hi, params, dataset, explain_path is not None) for lo, hi in todo]
        for result in ordered_results(pool, find_in_range, workers, tasks):
            checkpoint.save(result.start, result.rows, result.failures,
                            result.records if explain_path is not None else None)
            peak_rss = max(peak_rss, result.peak_rss_mb)
            bar.update(result.stop - result.start)
    except InputError:
        checkpoint.remove()      # bad input: no resume can finish this run; leave nothing behind
        raise
    finally:
        bar.close()
        if own_pool:
            pool.shutdown(cancel_futures=True)
    failures = _merge_parts(checkpoint, ranges, output_path, stop - start, output_dataset, force, explain_path)
    checkpoint.remove()
    if failures:
        log = output_path.with_name(output_path.name + ".errors.log")
        log.write_text("".join(f"{i}\t{msg}\n" for i, msg in failures))
    return RunSummary(failures, peak_rss)


def _merge_parts(checkpoint, ranges, output_path, n_rows, output_dataset, force, explain_path):
    """Write the finished ranges, in order, into the output (and the explain file); return the failures."""
    failures: list[tuple[int, str]] = []
    explain_tmp = None
    if explain_path is not None:
        explain_path = Path(explain_path)
        explain_tmp = explain_path.with_name(f".{explain_path.name}.{os.getpid()}.partial")
    try:
        with RowWriter(output_path, n_rows, dataset=output_dataset, force=force) as writer, \
                (open(explain_tmp, "w") if explain_tmp else contextlib.nullcontext()) as explain:
            for lo, _ in ranges:
                rows, fails, lines = checkpoint.load(lo)
                for row in rows:
                    writer.append(row)
                failures.extend(fails)
                if explain:
                    explain.writelines(lines)
        if explain_tmp:
            os.replace(explain_tmp, explain_path)
    finally:
        if explain_tmp:
            explain_tmp.unlink(missing_ok=True)
    return failures


def ordered_results(pool: Executor | None, fn, workers: int, tasks: list[tuple]):
    """Yield ``fn(*task)`` for each task in order, at most 2 tasks per worker in flight; ``pool=None`` runs here."""
    if pool is None:
        for task in tasks:
            yield fn(*task)
        return
    pending: deque = deque()
    todo = iter(tasks)
    for task in todo:
        pending.append(pool.submit(fn, *task))
        if len(pending) >= 2 * max(workers, 1):
            break
    while pending:
        yield pending.popleft().result()
        task = next(todo, None)
        if task is not None:
            pending.append(pool.submit(fn, *task))


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def progress_bar(total: int, enabled: bool = True, unit: str = "ev"):
    """A tqdm bar (rate and ETA) over ``total`` items, or a silent stand-in when disabled."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=total, unit=unit, smoothing=0.05, dynamic_ncols=True)
