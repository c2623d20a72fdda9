"""Worker processes that never outlive their run, and SIGTERM handled like Ctrl-C.

``worker_pool`` is a ``ProcessPoolExecutor`` whose workers

- die with their parent: on Linux the kernel sends them SIGTERM when the parent dies, even by ``kill -9``
  (``prctl(PR_SET_PDEATHSIG)``), and a watchdog thread in each worker checks the parent every second as
  well (for other systems, and for the instant between the fork and the ``prctl``);
- ignore Ctrl-C (the parent handles it and stops them), so an interrupted run prints no worker tracebacks;
- are stopped at once (terminated, not waited for) when the ``with`` block ends on an error or an
  interruption.

``sigterm_as_interrupt`` makes SIGTERM raise ``Terminated`` (a ``KeyboardInterrupt``) in the main thread, so
a killed job cleans up exactly like Ctrl-C: finished parts kept, workers stopped, exit status 143.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

__all__ = ["Terminated", "worker_pool", "stop_pool", "sigterm_as_interrupt", "PARENT_CHECK_S"]

PARENT_CHECK_S = 1.0
_PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM; handled like Ctrl-C, exit status 143."""


def _set_parent_death_signal(sig: int) -> None:
    """Ask the Linux kernel to send ``sig`` to this process when its parent dies (a no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        pass


def _watch_parent(parent: int) -> None:
    """Exit this process as soon as its parent is gone (the parent PID changes when it dies)."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(1)


def _worker_init(parent: int) -> None:
    """Initializer of every worker: die with the parent, leave Ctrl-C and SIGTERM to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:          # the parent died before the prctl
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="watch-parent").start()


def _context():
    """fork on Linux (workers inherit the kernels compiled by the warm-up), the default elsewhere."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()  # pragma: no cover


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel what has not started and terminate the workers instead of waiting for them.

    Parameters
    ----------
    pool : ProcessPoolExecutor
        The pool; workers still alive 5 s after SIGTERM are killed.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    deadline = time.monotonic() + 5.0
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(max(deadline - time.monotonic(), 0.0))
            if proc.is_alive():
                proc.kill()


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` processes that die with this one; stopped at once on an error or interruption.

    Parameters
    ----------
    workers : int
        Number of worker processes (at least 1).
    """
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_worker_init,
                               initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _raise_terminated(signum, frame):
    """SIGTERM handler: interrupt the main thread like Ctrl-C."""
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` (a ``KeyboardInterrupt``) in the main thread.

    Elsewhere than in the main thread (where signal handlers cannot be set) the block runs unchanged; the
    previous handler is restored after it.

    Yields
    ------
    None
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
